/*
 * SQLite behind the incident store; see store.h. Owns the schema (the
 * migrations below, applied in order and never edited once released),
 * the prepared statements and the row <-> struct sn_incident mapping.
 * It does not decide anything about incidents: manager.c and
 * incidents.c do. Design: docs/internals/incidents.md.
 */
#include "incident/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/statefile.h"
#include "core/thread_name.h"
#include "incident/audit.h"

/* The overview's counters (migrations 6 and 7): what an incident row
 * adds to them, and what it takes away (OLD, in a delete or update
 * trigger). Counters that reach 0 stay (severity, status, hour, rule: a
 * few rows) except a group key's, which go (one per source address). */
#define SUMMARY_HOUR_NS "3600000000000"
#define SUMMARY_ACTIVE(p) p "status IN ('open', 'acknowledged')"
#define SUMMARY_ADD \
    " INSERT INTO summary_sev VALUES (NEW.severity, NEW.status, 1)" \
    " ON CONFLICT (severity, status) DO UPDATE SET n = n + 1;" \
    " INSERT INTO summary_hour VALUES (NEW.created_at / " SUMMARY_HOUR_NS \
    ", 1) ON CONFLICT (hour) DO UPDATE SET n = n + 1;" \
    " INSERT INTO summary_rule SELECT NEW.rule_id, 1 WHERE " \
    SUMMARY_ACTIVE("NEW.") " ON CONFLICT (rule_id) DO UPDATE SET n = n + 1;" \
    " INSERT INTO summary_key SELECT NEW.group_key, 1 WHERE " \
    SUMMARY_ACTIVE("NEW.") " AND NEW.group_key <> '{}'" \
    " ON CONFLICT (group_key) DO UPDATE SET n = n + 1;"
#define SUMMARY_REMOVE \
    " UPDATE summary_sev SET n = n - 1 WHERE severity = OLD.severity" \
    " AND status = OLD.status;" \
    " UPDATE summary_hour SET n = n - 1" \
    " WHERE hour = OLD.created_at / " SUMMARY_HOUR_NS ";" \
    " UPDATE summary_rule SET n = n - 1 WHERE rule_id = OLD.rule_id" \
    " AND " SUMMARY_ACTIVE("OLD.") ";" \
    " UPDATE summary_key SET n = n - 1 WHERE group_key = OLD.group_key" \
    " AND " SUMMARY_ACTIVE("OLD.") ";" \
    " DELETE FROM summary_key WHERE group_key = OLD.group_key AND n <= 0;"

/* When an incident's quiet period ends; NULL when it has none (or was
 * released to another instance): incidents_quiet's second column
 * (migration 9), which Q_QUIET repeats word for word so that SQLite
 * can use the index. */
#define QUIET_DUE \
    "CASE WHEN quiet_ms > 0 AND released = 0 THEN" \
    " touched_at + quiet_ms * 1000000 END"

/* Numbered migrations: append only. Migration N brings the schema from
 * version N-1 to N. */
static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE incidents ("
    " id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, group_key TEXT NOT NULL,"
    " version INTEGER NOT NULL, title TEXT, description TEXT, tags TEXT,"
    " severity INTEGER NOT NULL, base_severity INTEGER NOT NULL,"
    " status TEXT NOT NULL, pending TEXT, owner TEXT, previous_id TEXT,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " hit_count INTEGER NOT NULL, signal_count INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " touched_at INTEGER NOT NULL, quiet_ms INTEGER NOT NULL,"
    " esc_rejected INTEGER NOT NULL, degraded INTEGER NOT NULL);"
    "CREATE INDEX incidents_key ON incidents(rule_id, group_key);"
    "CREATE INDEX incidents_last_seen ON incidents(last_seen);"
    "CREATE INDEX incidents_status ON incidents(status, touched_at);"
    /* Kept apart from the row so listings never read the big texts. */
    "CREATE TABLE evidence (incident_id TEXT PRIMARY KEY,"
    " explanation TEXT, items TEXT);"
    "CREATE TABLE incident_versions (incident_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL,"
    " change TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,"
    " PRIMARY KEY (incident_id, version)) WITHOUT ROWID;"
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " incident_id TEXT NOT NULL, version INTEGER NOT NULL,"
    " at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " reason TEXT NOT NULL, correlation_id TEXT);"
    "CREATE INDEX audit_incident ON audit(incident_id);"
    "CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    /* AUTOINCREMENT: a pruned seq is never handed out again, so cursors
     * stay meaningful. */
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " incident_id TEXT NOT NULL, version INTEGER NOT NULL,"
    " rule_id TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,"
    " at INTEGER NOT NULL, doc TEXT NOT NULL);"
    "CREATE TABLE cursors (output TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE checkpoints (key TEXT PRIMARY KEY, blob BLOB NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " output TEXT NOT NULL, seq INTEGER NOT NULL, incident_id TEXT,"
    " version INTEGER, at INTEGER NOT NULL, reason TEXT NOT NULL,"
    " doc TEXT);",
    /* 2: the source partition of an incident's signals, and whether it
     * was released to the partition's new owner (docs/scaling.md,
     * "Partition state"). */
    "ALTER TABLE incidents ADD COLUMN part_input TEXT;"
    "ALTER TABLE incidents ADD COLUMN part_topic TEXT;"
    "ALTER TABLE incidents ADD COLUMN part_partition INTEGER;"
    "ALTER TABLE incidents ADD COLUMN released INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX incidents_partition ON incidents(part_topic,"
    " part_partition, part_input) WHERE status <> 'resolved';",
    /* 3: the audit trail covers more than incidents (tokens, reloads,
     * event posts, refusals) and is a hash chain (incident/audit.h). A
     * row may be sealed (hash set) once; rows written before this
     * migration are sealed by it (sn_audit_backfill). audit_anchor: the
     * hash of the last row pruned, where the chain now starts. */
    "DROP TRIGGER audit_append_only;"
    "ALTER TABLE audit ADD COLUMN target TEXT;"
    "ALTER TABLE audit ADD COLUMN result TEXT NOT NULL DEFAULT 'ok';"
    "ALTER TABLE audit ADD COLUMN details TEXT;"
    "ALTER TABLE audit ADD COLUMN prev_hash TEXT;"
    "ALTER TABLE audit ADD COLUMN hash TEXT;"
    "UPDATE audit SET target = incident_id;"
    "CREATE INDEX audit_at ON audit(at);"
    "CREATE INDEX audit_actor ON audit(actor, seq);"
    "CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit"
    " WHEN OLD.hash IS NOT NULL BEGIN"
    " SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL, hash TEXT NOT NULL);",
    /* 4: covering indexes for the console overview's aggregates
     * (sn_incidents_summary_json), so they read index pages instead of
     * every incident row with its texts: 10,000 incidents in ms. */
    "CREATE INDEX incidents_sev_status ON incidents(severity, status);"
    "CREATE INDEX incidents_created ON incidents(created_at);"
    "CREATE INDEX incidents_rule_status ON incidents(rule_id, status);"
    "CREATE INDEX incidents_key_status ON incidents(group_key, status);",
    /* 5: escalation (incident/escalate.h, docs/notifications.md). An
     * outbox row with a target goes to that output alone (a step's
     * notification); notified: from which outbox row on an output named
     * by steps gets an incident's versions; escalations: each live
     * incident's next step and when it is due (NULL: chain over). */
    "ALTER TABLE outbox ADD COLUMN target TEXT;"
    "CREATE TABLE notified (incident_id TEXT NOT NULL, output TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY (incident_id, output)) WITHOUT ROWID;"
    "CREATE TABLE escalations (incident_id TEXT PRIMARY KEY,"
    " next_step INTEGER NOT NULL, due INTEGER) WITHOUT ROWID;"
    "CREATE INDEX escalations_due ON escalations(due) WHERE due IS NOT NULL;",
    /* 6: the overview's counters, kept by triggers (7) in the transaction
     * that changes an incident, so the summary reads a few rows instead
     * of counting 10,000 (and every writer keeps them: the manager, the
     * API's actions, retention, `sentineld incidents`). Active: open or
     * acknowledged; summary_hour is by the hour of created_at. A fresh
     * incident that reuses a stored id deletes the row first (Q_UNPUT):
     * REPLACE would delete it without the delete trigger. Then every
     * counter is filled from the rows there are. */
    "CREATE TABLE summary_sev (severity INTEGER NOT NULL,"
    " status TEXT NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (severity, status)) WITHOUT ROWID;"
    "CREATE TABLE summary_hour (hour INTEGER PRIMARY KEY,"
    " n INTEGER NOT NULL);"
    "CREATE TABLE summary_rule (rule_id TEXT PRIMARY KEY,"
    " n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX summary_rule_n ON summary_rule(n DESC, rule_id);"
    "CREATE TABLE summary_key (group_key TEXT PRIMARY KEY,"
    " n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX summary_key_n ON summary_key(n DESC, group_key);"
    /* Migration 4's covering indexes served only the summary; each
     * incident update rewrote their entries (severity and status are
     * SET every time), more than the triggers now cost. incidents_created
     * stays: reports read it, and nothing updates created_at. */
    "DROP INDEX incidents_sev_status;"
    "DROP INDEX incidents_rule_status;"
    "DROP INDEX incidents_key_status;"
    "INSERT INTO summary_sev SELECT severity, status, count(*)"
    " FROM incidents GROUP BY 1, 2;"
    "INSERT INTO summary_hour SELECT created_at / " SUMMARY_HOUR_NS ","
    " count(*) FROM incidents GROUP BY 1;"
    "INSERT INTO summary_rule SELECT rule_id, count(*) FROM incidents"
    " WHERE " SUMMARY_ACTIVE("") " GROUP BY 1;"
    "INSERT INTO summary_key SELECT group_key, count(*) FROM incidents"
    " WHERE " SUMMARY_ACTIVE("") " AND group_key <> '{}' GROUP BY 1;",
    /* 7: the triggers that keep migration 6's counters (one migration
     * would be a string longer than C11 promises to compile; both run in
     * the transaction that opens the store, so no change falls between
     * the fill and the triggers). */
    "CREATE TRIGGER summary_insert AFTER INSERT ON incidents BEGIN"
    SUMMARY_ADD " END;"
    "CREATE TRIGGER summary_delete AFTER DELETE ON incidents BEGIN"
    SUMMARY_REMOVE " END;"
    "CREATE TRIGGER summary_update AFTER UPDATE OF severity, status,"
    " rule_id, group_key, created_at ON incidents WHEN"
    " OLD.severity IS NOT NEW.severity OR OLD.status IS NOT NEW.status"
    " OR OLD.rule_id IS NOT NEW.rule_id OR OLD.group_key IS NOT"
    " NEW.group_key OR OLD.created_at IS NOT NEW.created_at BEGIN"
    SUMMARY_REMOVE SUMMARY_ADD " END;",
    /* 8: two index entries fewer per new incident (docs/internals/
     * incidents.md, "What a new incident writes"). With a commit per
     * incident or two, as at 1,000 incidents/s, each b-tree a commit
     * touches is a 4 KiB WAL frame (two write calls and a share of the
     * fsync), whatever the bytes changed. incidents_partition serves only
     * the partition queries (partition.c), which all name part_topic:
     * incidents of inputs without partitions (part_topic NULL) leave it
     * alone. summary_rule_n ordered a few hundred counters at most; the
     * overview's top rules scan them instead. */
    "DROP INDEX incidents_partition;"
    "CREATE INDEX incidents_partition ON incidents(part_topic,"
    " part_partition, part_input) WHERE status <> 'resolved'"
    " AND part_topic IS NOT NULL;"
    "DROP INDEX summary_rule_n;",
    /* 9: housekeeping's two lookups, once a second on the manager's
     * thread, read the due incidents alone instead of every open one
     * (40,000 open: 135-153 ms and 18 ms a call, bench/README.md).
     * held_since: the time of the last recorded version of an incident
     * whose newer version incidents.update_interval holds (fold.c sets
     * it, sn_store_record clears it); filled here by the query Q_HELD
     * ran until now. incidents_quiet replaces incidents_status (status,
     * touched_at): the same entries, rewritten by the same updates, and
     * status = ? (the listings) still uses it; ordered by when the quiet
     * period ends, Q_QUIET reads the due incidents only. */
    "ALTER TABLE incidents ADD COLUMN held_since INTEGER;"
    "UPDATE incidents SET held_since = (SELECT max(v.at) FROM"
    " incident_versions v WHERE v.incident_id = incidents.id)"
    " WHERE status IN ('open', 'acknowledged') AND version > (SELECT"
    " max(v.version) FROM incident_versions v"
    " WHERE v.incident_id = incidents.id);"
    "CREATE INDEX incidents_held ON incidents(held_since)"
    " WHERE held_since IS NOT NULL;"
    "DROP INDEX incidents_status;"
    "CREATE INDEX incidents_quiet ON incidents(status, " QUIET_DUE ");",
    /* 10: a key's newest incident (Q_FIND_OPEN, Q_LAST_RESOLVED: every
     * new incident asks both) read from the index in its order: sorting
     * by created_at built a temporary b-tree per call, and
     * Q_LAST_RESOLVED, which the planner ran on incidents_quiet
     * (status = 'resolved'), read every resolved incident. created_at
     * never changes, so no update rewrites the longer entry; the rest of
     * incidents_key's users (rule_id = ?, partition.c's release_key)
     * read its prefix as before. */
    "DROP INDEX incidents_key;"
    "CREATE INDEX incidents_key ON incidents(rule_id, group_key,"
    " created_at);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
/* The migration that added held_since: a store opened below it
 * (sn_store_open_at, the tests' older store) is written as before. */
#define SCHEMA_HELD 9

#define INC_COLS SN_STORE_INCIDENT_COLS

enum stmt_id {
    Q_FIND_OPEN,
    Q_GET,
    Q_GET_EVIDENCE,
    Q_LAST_RESOLVED,
    Q_UNPUT,
    Q_PUT,
    Q_UPDATE,
    Q_PUT_EVIDENCE,
    Q_VERSION,
    Q_OUTBOX,
    Q_QUIET,
    Q_LAST_SEQ,
    Q_READ,
    Q_READ_FOR,
    Q_NOTIFY,
    Q_NOTIFIED,
    Q_CURSOR_GET,
    Q_CURSOR_NEW,
    Q_CURSOR_SET,
    Q_DEAD,
    Q_CKPT_PUT,
    Q_CKPT_GET,
    Q_DELIVERED_AT,
    Q_HELD,
    Q_HOLD,
    Q_UNHOLD,
    Q_PUT_HITS,
    Q_PUT_HITS_HOLD,
    Q_DATA_VERSION,
    Q_COUNT_
};

static const char *const sql[Q_COUNT_] = {
    [Q_FIND_OPEN] = "SELECT " INC_COLS " FROM incidents WHERE rule_id = ?1"
                    " AND group_key = ?2 AND status <> 'resolved'"
                    " AND released = 0 ORDER BY created_at DESC LIMIT 1",
    [Q_GET] = "SELECT " INC_COLS " FROM incidents WHERE id = ?1",
    [Q_GET_EVIDENCE] = "SELECT explanation, items FROM evidence"
                       " WHERE incident_id = ?1",
    /* INDEXED BY: without it the planner took incidents_quiet for
     * status = 'resolved' (migration 10). */
    [Q_LAST_RESOLVED] = "SELECT id FROM incidents INDEXED BY incidents_key"
                        " WHERE rule_id = ?1 AND"
                        " group_key = ?2 AND status = 'resolved'"
                        " ORDER BY created_at DESC LIMIT 1",
    /* A fresh incident may reuse the id of a released row (a
     * deterministic id, the same records read again); it starts live:
     * when Q_PUT meets that id, Q_UNPUT deletes the row, through the
     * summary's delete trigger (REPLACE would skip it; a BEFORE INSERT
     * trigger doing the same made every insert six times dearer), and
     * Q_PUT runs again. */
    [Q_UNPUT] = "DELETE FROM incidents WHERE id = ?1",
    [Q_PUT] = "INSERT INTO incidents (" INC_COLS ", part_input,"
              " part_topic, part_partition) VALUES (?1,"
              " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
              " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
    /* An update rewrites the row in place; REPLACE would delete and
     * reinsert it and touch every index. rule_id, group_key and
     * created_at never change for an id and are left out: SQLite
     * rewrites the entry of every index on a column that is SET, even
     * to the same value (incidents_key, a random page per update). */
    [Q_UPDATE] = "UPDATE incidents SET"
                 " version = ?4, title = ?5, description = ?6, tags = ?7,"
                 " severity = ?8, base_severity = ?9, status = ?10,"
                 " pending = ?11, owner = ?12, previous_id = ?13,"
                 " first_seen = ?14, last_seen = ?15, hit_count = ?16,"
                 " signal_count = ?17, updated_at = ?19,"
                 " touched_at = ?20, quiet_ms = ?21, esc_rejected = ?22,"
                 " degraded = ?23, part_input = coalesce(?24, part_input),"
                 " part_topic = coalesce(?25, part_topic), part_partition ="
                 " coalesce(?26, part_partition) WHERE id = ?1",
    /* A version that only added hits (the manager's kept incidents,
     * fold.c): the counters alone; the evidence and explanation did not
     * change, and rewriting them was most of the write. */
    [Q_PUT_HITS] = "UPDATE incidents SET version = ?2, last_seen = ?3,"
                   " hit_count = ?4, signal_count = ?5, updated_at = ?6,"
                   " touched_at = ?7 WHERE id = ?1",
    /* The same with the hold (Q_HOLD) of a version not held yet: one
     * statement and one row lookup instead of two. */
    [Q_PUT_HITS_HOLD] = "UPDATE incidents SET version = ?2, last_seen = ?3,"
                        " hit_count = ?4, signal_count = ?5, updated_at ="
                        " ?6, touched_at = ?7, held_since = ?8 WHERE id = ?1",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_PUT_EVIDENCE] = "INSERT INTO evidence VALUES (?1, ?2, ?3) ON CONFLICT"
                       " (incident_id) DO UPDATE SET explanation ="
                       " excluded.explanation, items = excluded.items",
    [Q_VERSION] = "INSERT OR REPLACE INTO incident_versions VALUES (?1, ?2,"
                  " ?3, ?4, ?5, ?6, ?7)",
    [Q_OUTBOX] = "INSERT INTO outbox (incident_id, version, rule_id,"
                 " severity, status, at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                 " ?7)",
    /* Open incidents past their quiet period (a NULL end, no quiet
     * period, is never < ?1). */
    [Q_QUIET] = "SELECT id FROM incidents INDEXED BY incidents_quiet WHERE"
                " status IN ('open', 'acknowledged') AND " QUIET_DUE
                " < ?1 LIMIT ?2",
    [Q_LAST_SEQ] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE"
                   " name = 'outbox'), 0)",
    [Q_READ] = "SELECT seq, incident_id, version, rule_id, severity, status,"
               " doc, at FROM outbox WHERE seq > ?1 AND target IS NULL"
               " ORDER BY seq LIMIT ?2",
    /* Every row, and whether it is for output ?3: its own notifications;
     * rows for all, unless ?4 (an output steps notify), which gets an
     * incident's rows only after its first notification of it. */
    [Q_READ_FOR] = "SELECT seq, incident_id, version, rule_id, severity,"
                   " status, doc, at, CASE WHEN target IS NOT NULL THEN"
                   " target = ?3 WHEN ?4 = 0 THEN 1 ELSE EXISTS (SELECT 1"
                   " FROM notified n WHERE n.incident_id = outbox.incident_id"
                   " AND n.output = ?3 AND n.seq < outbox.seq) END,"
                   /* Q_LAST_SEQ's figure in the same snapshot (computed
                    * once per run: it does not depend on the row). */
                   " (SELECT seq FROM sqlite_sequence WHERE name = 'outbox')"
                   " FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [Q_NOTIFY] = "INSERT INTO outbox (incident_id, version, rule_id,"
                 " severity, status, at, doc, target) VALUES (?1, ?2, ?3,"
                 " ?4, ?5, ?6, ?7, ?8)",
    [Q_NOTIFIED] = "INSERT OR IGNORE INTO notified VALUES (?1, ?2, ?3)",
    [Q_CURSOR_GET] = "SELECT seq FROM cursors WHERE output = ?1",
    [Q_CURSOR_NEW] = "INSERT OR IGNORE INTO cursors VALUES (?1, ?2, ?3)",
    /* Forward only: the manager writes relays' cursors in its own
     * transactions, so a stopping relay's last save may come first. */
    [Q_CURSOR_SET] = "UPDATE cursors SET seq = max(seq, ?2), updated = ?3"
                     " WHERE output = ?1",
    [Q_DEAD] = "INSERT INTO dead_letters (output, seq, incident_id, version,"
               " at, reason, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_CKPT_PUT] = "INSERT OR REPLACE INTO checkpoints VALUES (?1, ?2, ?3)",
    [Q_CKPT_GET] = "SELECT blob FROM checkpoints WHERE key = ?1",
    [Q_DELIVERED_AT] = "SELECT max(at) FROM incident_versions"
                       " WHERE incident_id = ?1",
    /* Open incidents whose newest version has no version row (held by
     * incidents.update_interval) and whose last recorded one is at or
     * before ?1 (migration 9). */
    [Q_HELD] = "SELECT id FROM incidents INDEXED BY incidents_held"
               " WHERE held_since <= ?1 AND status IN ('open',"
               " 'acknowledged') LIMIT ?2",
    /* A row already held since ?2 is left as it is: a SET rewrites the
     * index entry even with the same value. */
    [Q_HOLD] = "UPDATE incidents SET held_since = ?2 WHERE id = ?1"
               " AND held_since IS NOT ?2",
    [Q_UNHOLD] = "UPDATE incidents SET held_since = NULL WHERE id = ?1"
                 " AND held_since IS NOT NULL",
};

/* WAL frames (4 KiB pages) that start a checkpoint: 16 MiB instead of
 * SQLite's 4 amortise the checkpoint's fsync over more commits. */
#define CHECKPOINT_PAGES 4096
/* The WAL starts again from its beginning only when a write begins
 * after a checkpoint copied every frame; under a steady load the writer
 * begins its next batch while the checkpointer still runs, so the WAL
 * would grow without end. Past this many frames the checkpointer asks
 * for a RESTART: it waits for the batch in progress to commit, copies
 * what the previous passes left (about one batch) while the writer
 * waits, and the WAL starts over. */
#define CHECKPOINT_LIMIT (4 * CHECKPOINT_PAGES)

struct checkpointer {
    sqlite3 *db; /* its own connection */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool wanted, stopping;
    int frames; /* in the WAL at the last commit */
};

struct sn_store {
    sqlite3 *db;
    char *path;
    bool read_only;
    int schema;
    sqlite3_stmt *st[Q_COUNT_];
    struct sn_audit_stmts audit; /* sn_audit_append_with's */
    struct checkpointer *ckpt;
    char msg[384]; /* sn_store_errmsg's text */
};

static sqlite3_stmt *
stmt(struct sn_store *s, enum stmt_id q)
{
    if (s->st[q] == NULL &&
        sqlite3_prepare_v3(s->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->st[q], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->st[q]);
    sqlite3_clear_bindings(s->st[q]);
    return s->st[q];
}

static void
bind_str(sqlite3_stmt *q, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static int
exec(struct sn_store *s, const char *text)
{
    return sqlite3_exec(s->db, text, NULL, NULL, NULL);
}

/* What failed, for SQLite's one generic "disk I/O error". */
static const char *
ioerr_what(int code)
{
    switch (code) {
    case SQLITE_IOERR_WRITE:
        return "a write failed";
    case SQLITE_IOERR_FSYNC:
    case SQLITE_IOERR_DIR_FSYNC:
        return "fsync failed";
    case SQLITE_IOERR_READ:
    case SQLITE_IOERR_SHORT_READ:
        return "a read failed";
    case SQLITE_IOERR_TRUNCATE:
        return "truncating a file failed";
    case SQLITE_IOERR_SHMOPEN:
    case SQLITE_IOERR_SHMSIZE:
    case SQLITE_IOERR_SHMMAP:
        return "the WAL index (-shm file) failed";
    default:
        return "an I/O call failed";
    }
}

const char *
sn_store_errmsg(struct sn_store *s)
{
    int code, e;

    if (s == NULL || s->db == NULL)
        return "no store";
    code = sqlite3_extended_errcode(s->db);
    if ((code & 0xff) != SQLITE_IOERR)
        return sqlite3_errmsg(s->db);
    /* "disk I/O error" alone does not tell an operator what to fix. The
     * system's errno is SQLite's best effort (it may be gone). */
    e = sqlite3_system_errno(s->db);
    if (e != 0)
        snprintf(s->msg, sizeof(s->msg), "%s (%s: %s)", sqlite3_errmsg(s->db),
                 ioerr_what(code), strerror(e));
    else
        snprintf(s->msg, sizeof(s->msg),
                 "%s (%s; is the disk full or the file not writable?)",
                 sqlite3_errmsg(s->db), ioerr_what(code));
    return s->msg;
}

const char *
sn_store_path(struct sn_store *s)
{
    return s->path;
}

struct sqlite3 *
sn_store_db(struct sn_store *s)
{
    return s->db;
}

int
sn_store_schema_version(struct sn_store *s)
{
    return s->schema;
}

static int
read_schema(struct sn_store *s)
{
    sqlite3_stmt *q;
    int v = -1;

    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1,
                           &q, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

static enum sn_status
migrate(struct sn_store *s, int upto, struct sn_error *err)
{
    char num[64];

    if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK)
        goto fail;
    /* Also the write probe: fails on a read-only file or directory. */
    if (exec(s, "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER NOT NULL, applied INTEGER NOT NULL);"
                "DELETE FROM schema_version WHERE version < 0") != SQLITE_OK)
        goto fail;
    s->schema = read_schema(s);
    if (s->schema < 0)
        s->schema = 0;
    if (s->schema > N_MIGRATIONS) {
        exec(s, "ROLLBACK");
        sn_error_set(err,
                     "incident store %s has schema version %d; this "
                     "sentineld knows up to %d (downgrade not supported)",
                     s->path, s->schema, N_MIGRATIONS);
        return SN_EIO;
    }
    for (int v = s->schema + 1; v <= upto; v++) {
        if (exec(s, migrations[v - 1]) != SQLITE_OK)
            goto fail;
        if (v == 3 && sn_audit_backfill(s->db) != SN_OK)
            goto fail;
        snprintf(num, sizeof(num),
                 "INSERT INTO schema_version VALUES (%d, %lld)", v,
                 (long long)sn_clock_wall_ns());
        if (exec(s, num) != SQLITE_OK)
            goto fail;
        s->schema = v;
    }
    if (exec(s, "COMMIT") != SQLITE_OK)
        goto fail;
    return SN_OK;
fail:
    sn_error_set(err, "incident store %s is not writable: %s", s->path,
                 sqlite3_errmsg(s->db));
    exec(s, "ROLLBACK");
    return SN_EIO;
}

/* SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between tries; the
 * writers here (manager, relays, CLI) hold the lock for a commit of a
 * millisecond or two, so short naps keep them from idling for 100 ms. */
static int
busy(void *arg, int tries)
{
    struct timespec ts = { 0, 200 * 1000L };

    (void)arg;
    if ((int64_t)tries * 200 / 1000 > SN_STORE_BUSY_MS)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

/* A statement that may fail halfway (an insert whose triggers update the
 * overview's counters, an upsert) keeps the pages it changes in a
 * statement journal, which SQLite writes to a temporary file past 64 KiB:
 * a fold batch's inserts wrote 4 KiB pages there by the thousand (a
 * pwrite() each, a quarter of the manager's CPU per new incident).
 * bench/bench_incidents 40000 40000, the manager's thread per incident:
 * 186 us at 64 KiB, 194 at 96, 142 at 120, 133 at 256 KiB. SQLite
 * allocates the in-memory journal in chunks of this size, one per
 * statement that opens one: 16 MiB made ASan's allocator map and unmap
 * each (incident_store_full.sh took minutes); 256 KiB leaves room for
 * longer rows. A larger journal (a prune's deletes) still spills.
 * Process-wide, so set before SQLite's first use; when something used
 * it first, SQLite refuses and its default stays. */
#define STMT_SPILL (256 * 1024)
static pthread_once_t stmt_spill_once = PTHREAD_ONCE_INIT;

static void
stmt_spill_set(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STMT_SPILL);
}

static enum sn_status
open_upto(const char *path, bool read_only, int upto, struct sn_store **out,
          struct sn_error *err)
{
    struct sn_store *s = calloc(1, sizeof(*s));
    int flags = read_only ? SQLITE_OPEN_READONLY
                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

    *out = NULL;
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    s->read_only = read_only;
    /* Incidents and the audit trail are not for every local user: 0600
     * (SQLite gives -wal and -shm the database's mode and owner). */
    if (!read_only) {
        char note[512];
        if (sn_statefile_prepare_db(path, note, sizeof(note)) != 0) {
            sn_error_set(err, "cannot create incident store %s: %s", path,
                         strerror(errno));
            goto fail;
        }
        if (note[0])
            sn_log_warn("incident store readable by other users (%s): now "
                        "0600",
                        note);
    }
    pthread_once(&stmt_spill_once, stmt_spill_set);
    /* NOMUTEX: a connection belongs to one thread (store.h). */
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sn_error_set(err, "cannot open incident store %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_handler(s->db, busy, NULL);
    if (read_only) {
        s->schema = read_schema(s);
        if (s->schema < 1) {
            sn_error_set(err, "%s is not a sentineld incident store (%s)", path,
                         sqlite3_errmsg(s->db));
            goto fail;
        }
        *out = s;
        return SN_OK;
    }
    /* WAL: readers (CLI, API, relays) never block the writer. FULL: a
     * committed incident survives power loss, which the outbox promises. */
    /* 64 MiB of page cache keeps the open incidents' pages in memory;
     * checkpoints every 16 MiB of WAL instead of 4 amortise their fsync. */
    if (exec(s, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        exec(s, "PRAGMA synchronous=FULL") != SQLITE_OK ||
        exec(s, "PRAGMA cache_size=-65536") != SQLITE_OK ||
        sqlite3_wal_autocheckpoint(s->db, CHECKPOINT_PAGES) != SQLITE_OK) {
        sn_error_set(err, "incident store %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (migrate(s, upto, err) != SN_OK)
        goto fail;
    *out = s;
    return SN_OK;
fail:
    sn_store_close(s);
    return SN_EIO;
}

enum sn_status
sn_store_open(const char *path, bool read_only, struct sn_store **out,
              struct sn_error *err)
{
    return open_upto(path, read_only, N_MIGRATIONS, out, err);
}

enum sn_status
sn_store_open_at(const char *path, int schema, struct sn_store **out,
                 struct sn_error *err)
{
    if (schema < 1 || schema > N_MIGRATIONS) {
        *out = NULL;
        sn_error_set(err, "schema version %d: this sentineld knows 1 to %d",
                     schema, N_MIGRATIONS);
        return SN_EINVAL;
    }
    return open_upto(path, false, schema, out, err);
}

static void *
checkpointer_main(void *arg)
{
    struct checkpointer *c = arg;
    int mode;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->stopping)
            break;
        c->wanted = false;
        mode = c->frames >= CHECKPOINT_LIMIT ? SQLITE_CHECKPOINT_RESTART
                                             : SQLITE_CHECKPOINT_PASSIVE;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE never waits for, nor blocks, the writer or readers;
         * what it cannot copy now goes at the next trigger. A failure
         * (disk full) shows at the writer's next commit, which fails. */
        sqlite3_wal_checkpoint_v2(c->db, NULL, mode, NULL, NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* After each commit of the owning connection (its thread). */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct checkpointer *c = arg;

    (void)db;
    (void)name;
    if (frames >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->lock);
        c->frames = frames;
        if (!c->wanted) {
            c->wanted = true;
            pthread_cond_signal(&c->cond);
        }
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

enum sn_status
sn_store_checkpointer_start(struct sn_store *s, struct sn_error *err)
{
    struct checkpointer *c;

    if (s->ckpt != NULL || s->read_only)
        return SN_OK;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    if (sqlite3_open_v2(s->path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store %s: checkpointer: %s", s->path,
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return SN_EIO;
    }
    /* The checkpoint's fsyncs (WAL before copying, database before the
     * WAL is reused) follow this connection's setting: FULL, as the
     * writer's. */
    if (sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
        SQLITE_OK) {
        sn_error_set(err, "incident store %s: checkpointer: %s", s->path,
                     sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return SN_EIO;
    }
    sqlite3_busy_handler(c->db, busy, NULL);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        sn_error_set(err,
                     "incident store %s: cannot create the "
                     "checkpoint thread",
                     s->path);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        sqlite3_close(c->db);
        free(c);
        return SN_ENOMEM;
    }
    sn_thread_name(c->thread, "checkpoint", "");
    s->ckpt = c;
    /* Replaces SQLite's own hook, which checkpoints inside the commit. */
    sqlite3_wal_hook(s->db, wal_hook, c);
    return SN_OK;
}

static void
checkpointer_stop(struct sn_store *s)
{
    struct checkpointer *c = s->ckpt;

    if (c == NULL)
        return;
    sqlite3_wal_autocheckpoint(s->db, CHECKPOINT_PAGES);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
    s->ckpt = NULL;
}

void
sn_store_close(struct sn_store *s)
{
    if (s == NULL)
        return;
    checkpointer_stop(s);
    for (int i = 0; i < Q_COUNT_; i++)
        sqlite3_finalize(s->st[i]);
    sn_audit_stmts_fini(&s->audit);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

enum sn_status
sn_store_audit(struct sn_store *s, const struct sn_audit_entry *e,
               struct sn_error *err)
{
    bool own = sqlite3_get_autocommit(s->db) != 0;

    if (own && sn_store_begin(s, err) != SN_OK)
        return SN_EIO;
    if (sn_audit_append_with(s->db, &s->audit, e) != SN_OK) {
        sn_error_set(err,
                     "incident store %s: cannot append to the audit "
                     "trail: %s",
                     s->path, sn_store_errmsg(s));
        if (own)
            sn_store_rollback(s);
        return SN_EIO;
    }
    return own ? sn_store_commit(s, err) : SN_OK;
}

enum sn_status
sn_store_begin(struct sn_store *s, struct sn_error *err)
{
    if (exec(s, "BEGIN IMMEDIATE") == SQLITE_OK)
        return SN_OK;
    sn_error_set(err, "incident store %s: cannot begin a write: %s", s->path,
                 sn_store_errmsg(s));
    return SN_EIO;
}

enum sn_status
sn_store_commit(struct sn_store *s, struct sn_error *err)
{
    if (exec(s, "COMMIT") == SQLITE_OK)
        return SN_OK;
    sn_error_set(err, "incident store %s: commit failed: %s", s->path,
                 sn_store_errmsg(s));
    exec(s, "ROLLBACK");
    return SN_EIO;
}

void
sn_store_rollback(struct sn_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        exec(s, "ROLLBACK");
}

static enum sn_status
col_str(sqlite3_stmt *q, int i, char **field)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    return sn_incident_set(field, (const char *)t,
                           t ? (size_t)sqlite3_column_bytes(q, i) : 0);
}

static void
col_fixed(sqlite3_stmt *q, int i, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    snprintf(out, size, "%s", t ? (const char *)t : "");
}

enum sn_status
sn_store_load_row(struct sn_store *s, sqlite3_stmt *q, struct sn_incident *inc,
                  bool with_evidence)
{
    sqlite3_stmt *e;
    enum sn_status rc = SN_OK;

    sn_incident_fini(inc);
    sn_incident_init(inc);
    col_fixed(q, 0, inc->id, sizeof(inc->id));
    if (col_str(q, 1, &inc->rule_id) || col_str(q, 2, &inc->group_key) ||
        col_str(q, 4, &inc->title) || col_str(q, 5, &inc->description) ||
        col_str(q, 6, &inc->tags) || col_str(q, 10, &inc->pending) ||
        col_str(q, 11, &inc->owner))
        return SN_ENOMEM;
    inc->version = sqlite3_column_int64(q, 3);
    inc->severity = (enum sn_severity)sqlite3_column_int(q, 7);
    inc->base_severity = (enum sn_severity)sqlite3_column_int(q, 8);
    col_fixed(q, 9, inc->status, sizeof(inc->status));
    col_fixed(q, 12, inc->previous_id, sizeof(inc->previous_id));
    inc->first_seen = sqlite3_column_int64(q, 13);
    inc->last_seen = sqlite3_column_int64(q, 14);
    inc->hit_count = sqlite3_column_int64(q, 15);
    inc->signal_count = sqlite3_column_int64(q, 16);
    inc->created_at = sqlite3_column_int64(q, 17);
    inc->updated_at = sqlite3_column_int64(q, 18);
    inc->touched_at = sqlite3_column_int64(q, 19);
    inc->quiet_ms = sqlite3_column_int64(q, 20);
    inc->esc_rejected = sqlite3_column_int(q, 21) != 0;
    inc->degraded = sqlite3_column_int(q, 22) != 0;
    if (!with_evidence)
        return SN_OK;
    e = stmt(s, Q_GET_EVIDENCE);
    if (e == NULL)
        return SN_EIO;
    sqlite3_bind_text(e, 1, inc->id, -1, SQLITE_STATIC);
    if (sqlite3_step(e) == SQLITE_ROW &&
        (col_str(e, 0, &inc->explanation) || col_str(e, 1, &inc->evidence)))
        rc = SN_ENOMEM;
    sqlite3_reset(e);
    return rc;
}

static enum sn_status
fetch_one(struct sn_store *s, sqlite3_stmt *q, struct sn_incident *out)
{
    enum sn_status rc;
    int r = sqlite3_step(q);

    if (r == SQLITE_DONE) {
        sqlite3_reset(q);
        return SN_DECLINED;
    }
    if (r != SQLITE_ROW) {
        sqlite3_reset(q);
        return SN_EIO;
    }
    rc = sn_store_load_row(s, q, out, true);
    sqlite3_reset(q);
    return rc;
}

enum sn_status
sn_store_find_open(struct sn_store *s, const char *rule_id,
                   const char *group_key, struct sn_incident *out)
{
    sqlite3_stmt *q = stmt(s, Q_FIND_OPEN);

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, rule_id);
    bind_str(q, 2, group_key);
    return fetch_one(s, q, out);
}

enum sn_status
sn_store_get(struct sn_store *s, const char *id, struct sn_incident *out)
{
    sqlite3_stmt *q = stmt(s, Q_GET);

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, id);
    return fetch_one(s, q, out);
}

bool
sn_store_last_resolved(struct sn_store *s, const char *rule_id,
                       const char *group_key, char out[SN_UUID_LEN + 1])
{
    sqlite3_stmt *q = stmt(s, Q_LAST_RESOLVED);
    bool found = false;

    if (q == NULL)
        return false;
    bind_str(q, 1, rule_id);
    bind_str(q, 2, group_key);
    if (sqlite3_step(q) == SQLITE_ROW) {
        col_fixed(q, 0, out, SN_UUID_LEN + 1);
        found = true;
    }
    sqlite3_reset(q);
    return found;
}

static enum sn_status
step_done(sqlite3_stmt *q)
{
    int r = sqlite3_step(q);

    sqlite3_reset(q);
    return r == SQLITE_DONE ? SN_OK : SN_EIO;
}

enum sn_status
sn_store_put(struct sn_store *s, const struct sn_incident *inc)
{
    bool insert = inc->fresh || inc->version <= 1;
    sqlite3_stmt *q = stmt(s, insert ? Q_PUT : Q_UPDATE);
    int r;

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    bind_str(q, 2, inc->rule_id ? inc->rule_id : "");
    bind_str(q, 3, inc->group_key ? inc->group_key : "{}");
    sqlite3_bind_int64(q, 4, inc->version);
    bind_str(q, 5, inc->title);
    bind_str(q, 6, inc->description);
    bind_str(q, 7, inc->tags);
    sqlite3_bind_int(q, 8, (int)inc->severity);
    sqlite3_bind_int(q, 9, (int)inc->base_severity);
    bind_str(q, 10, inc->status);
    bind_str(q, 11, inc->pending);
    bind_str(q, 12, inc->owner);
    bind_str(q, 13, inc->previous_id[0] ? inc->previous_id : NULL);
    sqlite3_bind_int64(q, 14, inc->first_seen);
    sqlite3_bind_int64(q, 15, inc->last_seen);
    sqlite3_bind_int64(q, 16, inc->hit_count);
    sqlite3_bind_int64(q, 17, inc->signal_count);
    sqlite3_bind_int64(q, 18, inc->created_at);
    sqlite3_bind_int64(q, 19, inc->updated_at);
    sqlite3_bind_int64(q, 20, inc->touched_at);
    sqlite3_bind_int64(q, 21, inc->quiet_ms);
    sqlite3_bind_int(q, 22, inc->esc_rejected);
    sqlite3_bind_int(q, 23, inc->degraded);
    bind_str(q, 24, inc->part_input);
    bind_str(q, 25, inc->part_input ? inc->part_topic : NULL);
    if (inc->part_input != NULL)
        sqlite3_bind_int(q, 26, inc->part_partition);
    r = sqlite3_step(q);
    sqlite3_reset(q);
    if (r == SQLITE_CONSTRAINT && insert) {
        /* The id of a stored row, reused: it goes first (Q_UNPUT), and
         * the insert, its bindings kept, runs again. */
        sqlite3_stmt *d = stmt(s, Q_UNPUT);
        if (d == NULL)
            return SN_EIO;
        bind_str(d, 1, inc->id);
        if (step_done(d) != SN_OK)
            return SN_EIO;
        r = sqlite3_step(q);
        sqlite3_reset(q);
    }
    if (r != SQLITE_DONE)
        return SN_EIO;
    q = stmt(s, Q_PUT_EVIDENCE);
    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    bind_str(q, 2, inc->explanation);
    bind_str(q, 3, inc->evidence);
    return step_done(q);
}

enum sn_status
sn_store_put_hits(struct sn_store *s, const struct sn_incident *inc,
                  int64_t held_since)
{
    bool hold = held_since > 0 && s->schema >= SCHEMA_HELD;
    sqlite3_stmt *q = stmt(s, hold ? Q_PUT_HITS_HOLD : Q_PUT_HITS);

    if (q == NULL)
        return SN_EIO;
    if (hold)
        sqlite3_bind_int64(q, 8, held_since);
    bind_str(q, 1, inc->id);
    sqlite3_bind_int64(q, 2, inc->version);
    sqlite3_bind_int64(q, 3, inc->last_seen);
    sqlite3_bind_int64(q, 4, inc->hit_count);
    sqlite3_bind_int64(q, 5, inc->signal_count);
    sqlite3_bind_int64(q, 6, inc->updated_at);
    sqlite3_bind_int64(q, 7, inc->touched_at);
    if (step_done(q) != SN_OK)
        return SN_EIO;
    /* No row (deleted by retention or by hand meanwhile): the caller's
     * copy is stale, which is an error, not a silent no-op. */
    return sqlite3_changes(s->db) == 1 ? SN_OK : SN_EIO;
}

/* The one integer a parameterless statement returns; -1 on error. */
static int64_t
query_int(struct sn_store *s, enum stmt_id id)
{
    sqlite3_stmt *q = stmt(s, id);
    int64_t v = -1;

    if (q == NULL)
        return -1;
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return v;
}

int64_t
sn_store_data_version(struct sn_store *s)
{
    return query_int(s, Q_DATA_VERSION);
}

/* The outbox's document: the incident and the change that made this
 * version ("change": who, what, why, when; docs/incidents.md), so an
 * output can keep the trail (out_postgres's incident_audit). */
static enum sn_status
append_change(const struct sn_incident *inc, const char *actor,
              const char *action, const char *reason, struct sn_buf *b)
{
    char at[40];
    enum sn_status rc;

    SN_JSON_TRY(sn_incident_json(inc, true, b));
    if (b->len < 2)
        return SN_ELIMIT;
    b->len--; /* the closing brace */
    sn_time_rfc3339(inc->updated_at, at);
    SN_JSON_TRY(SN_BUF_LIT(b, ",\"change\":{\"action\":"));
    SN_JSON_TRY(sn_json_str(b, action, strlen(action)));
    SN_JSON_TRY(sn_json_member_str(b, "by", actor));
    SN_JSON_TRY(sn_json_member_str(b, "reason", reason));
    SN_JSON_TRY(sn_json_member_str(b, "at", at));
    return SN_BUF_LIT(b, "}}");
}

enum sn_status
sn_store_record(struct sn_store *s, const struct sn_incident *inc,
                const char *actor, const char *action, const char *reason,
                const char *correlation_id, struct sn_buf *scratch)
{
    sqlite3_stmt *q;
    const char *sev = sn_severity_name(inc->severity);

    q = stmt(s, Q_VERSION);
    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    sqlite3_bind_int64(q, 2, inc->version);
    sqlite3_bind_int64(q, 3, inc->updated_at);
    bind_str(q, 4, actor);
    bind_str(q, 5, action);
    bind_str(q, 6, inc->status);
    bind_str(q, 7, sev);
    if (step_done(q) != SN_OK)
        return SN_EIO;
    /* Recorded: nothing of it is held any more (sn_store_hold). A
     * first version, or a fresh incident's (several signals folded
     * into its opening), is a row just inserted, which holds nothing. */
    if (s->schema >= SCHEMA_HELD && inc->version > 1 && !inc->fresh) {
        q = stmt(s, Q_UNHOLD);
        if (q == NULL)
            return SN_EIO;
        bind_str(q, 1, inc->id);
        if (step_done(q) != SN_OK)
            return SN_EIO;
    }
    if (sn_audit_append_with(s->db, &s->audit, &(struct sn_audit_entry){
                                   .at = inc->updated_at,
                                   .actor = actor,
                                   .action = action,
                                   .incident_id = inc->id,
                                   .version = inc->version,
                                   .reason = reason,
                                   .correlation_id = correlation_id,
                               }) != SN_OK)
        return SN_EIO;
    sn_buf_reset(scratch);
    if (append_change(inc, actor, action, reason, scratch) != SN_OK)
        return SN_ELIMIT;
    q = stmt(s, Q_OUTBOX);
    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    sqlite3_bind_int64(q, 2, inc->version);
    bind_str(q, 3, inc->rule_id ? inc->rule_id : "");
    bind_str(q, 4, sev);
    bind_str(q, 5, inc->status);
    sqlite3_bind_int64(q, 6, inc->updated_at);
    sqlite3_bind_text(q, 7, scratch->data, (int)scratch->len, SQLITE_STATIC);
    return step_done(q);
}

size_t
sn_store_quiet(struct sn_store *s, int64_t now, char (*ids)[SN_UUID_LEN + 1],
               size_t max)
{
    sqlite3_stmt *q = stmt(s, Q_QUIET);
    size_t n = 0;

    if (q == NULL)
        return 0;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
    while (n < max && sqlite3_step(q) == SQLITE_ROW)
        col_fixed(q, 0, ids[n++], SN_UUID_LEN + 1);
    sqlite3_reset(q);
    return n;
}

int64_t
sn_store_last_seq(struct sn_store *s)
{
    return query_int(s, Q_LAST_SEQ);
}

static struct sn_str
col_slice(sqlite3_stmt *q, int i)
{
    struct sn_str r;

    r.ptr = (const char *)sqlite3_column_text(q, i);
    r.len = r.ptr ? (size_t)sqlite3_column_bytes(q, i) : 0;
    if (r.ptr == NULL)
        r.ptr = "";
    return r;
}

/* An outbox row (Q_READ's first columns) as a document, valid until the
 * statement steps again. */
static void
row_doc(sqlite3_stmt *q, struct sn_doc *d)
{
    d->seq = sqlite3_column_int64(q, 0);
    d->id = col_slice(q, 1);
    d->version = sqlite3_column_int64(q, 2);
    d->rule_id = col_slice(q, 3);
    d->severity = col_slice(q, 4);
    d->status = col_slice(q, 5);
    d->json = col_slice(q, 6);
}

/* Step q (bound) over outbox rows: fn gets each one, or with `filtered`
 * only those whose column 8 is true (and column 9 is the outbox's last
 * seq, into *end); *last is the last row's seq. */
static long
read_rows(sqlite3_stmt *q, bool filtered, sn_store_doc_fn fn, void *arg,
          int64_t *last, int64_t *end)
{
    long n = 0;
    int r;

    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        struct sn_doc d;
        *last = sqlite3_column_int64(q, 0);
        if (filtered) {
            *end = sqlite3_column_int64(q, 9);
            if (!sqlite3_column_int(q, 8))
                continue;
        }
        row_doc(q, &d);
        fn(arg, &d, sqlite3_column_int64(q, 7));
        n++;
    }
    sqlite3_reset(q);
    return r == SQLITE_DONE ? n : -1;
}

long
sn_store_outbox_read(struct sn_store *s, int64_t after, unsigned max,
                     sn_store_doc_fn fn, void *arg)
{
    sqlite3_stmt *q = stmt(s, Q_READ);
    int64_t last;

    if (q == NULL)
        return -1;
    sqlite3_bind_int64(q, 1, after);
    sqlite3_bind_int64(q, 2, max);
    return read_rows(q, false, fn, arg, &last, NULL);
}

long
sn_store_outbox_read_for(struct sn_store *s, const char *output,
                         bool notified_only, int64_t after, unsigned max,
                         sn_store_doc_fn fn, void *arg, int64_t *last,
                         int64_t *end)
{
    sqlite3_stmt *q = stmt(s, Q_READ_FOR);

    *last = after;
    if (q == NULL)
        return -1;
    sqlite3_bind_int64(q, 1, after);
    sqlite3_bind_int64(q, 2, max);
    bind_str(q, 3, output);
    sqlite3_bind_int(q, 4, notified_only);
    return read_rows(q, true, fn, arg, last, end);
}

enum sn_status
sn_store_notify(struct sn_store *s, const struct sn_incident *inc,
                const char *output, const char *member, int64_t at,
                struct sn_buf *scratch)
{
    sqlite3_stmt *q;
    int64_t seq;

    /* The document with one member more: why this output gets it. */
    sn_buf_reset(scratch);
    if (sn_incident_json(inc, true, scratch) != SN_OK || scratch->len < 2)
        return SN_ELIMIT;
    scratch->len--; /* the closing brace */
    if (sn_buf_putc(scratch, ',') != SN_OK ||
        sn_buf_puts(scratch, member) != SN_OK ||
        sn_buf_putc(scratch, '}') != SN_OK)
        return SN_ELIMIT;
    q = stmt(s, Q_NOTIFY);
    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    sqlite3_bind_int64(q, 2, inc->version);
    bind_str(q, 3, inc->rule_id ? inc->rule_id : "");
    bind_str(q, 4, sn_severity_name(inc->severity));
    bind_str(q, 5, inc->status);
    sqlite3_bind_int64(q, 6, at);
    sqlite3_bind_text(q, 7, scratch->data, (int)scratch->len, SQLITE_STATIC);
    bind_str(q, 8, output);
    if (step_done(q) != SN_OK)
        return SN_EIO;
    seq = sqlite3_last_insert_rowid(s->db);
    if ((q = stmt(s, Q_NOTIFIED)) == NULL)
        return SN_EIO;
    bind_str(q, 1, inc->id);
    bind_str(q, 2, output);
    sqlite3_bind_int64(q, 3, seq);
    return step_done(q);
}

enum sn_status
sn_store_cursor(struct sn_store *s, const char *output, int64_t *seq)
{
    sqlite3_stmt *q = stmt(s, Q_CURSOR_GET);
    int64_t end;

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, output);
    if (sqlite3_step(q) == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
        return SN_OK;
    }
    sqlite3_reset(q);
    end = sn_store_last_seq(s);
    if (end < 0 || (q = stmt(s, Q_CURSOR_NEW)) == NULL)
        return SN_EIO;
    bind_str(q, 1, output);
    sqlite3_bind_int64(q, 2, end);
    sqlite3_bind_int64(q, 3, sn_clock_wall_ns());
    if (step_done(q) != SN_OK)
        return SN_EIO;
    *seq = end;
    return SN_OK;
}

enum sn_status
sn_store_cursor_set(struct sn_store *s, const char *output, int64_t seq)
{
    sqlite3_stmt *q = stmt(s, Q_CURSOR_SET);

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, output);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_int64(q, 3, sn_clock_wall_ns());
    return step_done(q);
}

enum sn_status
sn_store_dead_letter(struct sn_store *s, const char *output,
                     const struct sn_doc *doc, const char *reason)
{
    sqlite3_stmt *q = stmt(s, Q_DEAD);

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, output);
    sqlite3_bind_int64(q, 2, doc->seq);
    sqlite3_bind_text(q, 3, doc->id.ptr, (int)doc->id.len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, doc->version);
    sqlite3_bind_int64(q, 5, sn_clock_wall_ns());
    bind_str(q, 6, reason);
    sqlite3_bind_text(q, 7, doc->json.ptr, (int)doc->json.len, SQLITE_STATIC);
    return step_done(q);
}

long
sn_store_prune(struct sn_store *s, int64_t now, int64_t keep_ms,
               int64_t retention_ms)
{
    char text[1024];
    long n = 0;
    long long keep_before = (long long)(now - keep_ms * SN_NS_PER_MS);
    long long ret_before = (long long)(now - retention_ms * SN_NS_PER_MS);

    if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK)
        return -1;
    snprintf(text, sizeof(text),
             "DELETE FROM cursors WHERE updated < %lld;"
             "DELETE FROM outbox WHERE at < %lld AND seq <= coalesce("
             "(SELECT min(seq) FROM cursors), (SELECT max(seq) FROM outbox));"
             "DELETE FROM dead_letters WHERE at < %lld;",
             ret_before, keep_before, ret_before);
    if (exec(s, text) != SQLITE_OK)
        goto fail;
    n += sqlite3_total_changes(s->db);
    snprintf(text, sizeof(text),
             "CREATE TEMP TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY);"
             "DELETE FROM gone;"
             "INSERT INTO gone SELECT id FROM incidents WHERE (status ="
             " 'resolved' OR released = 1) AND updated_at < %lld;"
             "DELETE FROM incident_versions WHERE incident_id IN gone;"
             "DELETE FROM evidence WHERE incident_id IN gone;"
             "DELETE FROM escalations WHERE incident_id IN gone;"
             "DELETE FROM notified WHERE incident_id IN gone;"
             "DELETE FROM incidents WHERE id IN gone;",
             ret_before);
    if (exec(s, text) != SQLITE_OK)
        goto fail;
    /* The audit trail goes by age alone, from its start, so the chain
     * that remains still verifies; an incident's rows may outlive it. */
    if (sn_audit_prune(s->db, ret_before) < 0)
        goto fail;
    if (exec(s, "COMMIT") != SQLITE_OK)
        goto fail;
    return n;
fail:
    exec(s, "ROLLBACK");
    return -1;
}

enum sn_status
sn_store_checkpoint_put(struct sn_store *s, const char *key, const void *blob,
                        size_t len)
{
    sqlite3_stmt *q = stmt(s, Q_CKPT_PUT);

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, key);
    sqlite3_bind_blob(q, 2, blob, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, sn_clock_wall_ns());
    return step_done(q);
}

enum sn_status
sn_store_checkpoint_get(struct sn_store *s, const char *key, struct sn_buf *out)
{
    sqlite3_stmt *q = stmt(s, Q_CKPT_GET);
    enum sn_status rc = SN_DECLINED;

    if (q == NULL)
        return SN_EIO;
    bind_str(q, 1, key);
    if (sqlite3_step(q) == SQLITE_ROW)
        rc = sn_buf_append(out, sqlite3_column_blob(q, 0),
                           (size_t)sqlite3_column_bytes(q, 0));
    sqlite3_reset(q);
    return rc;
}

int64_t
sn_store_delivered_at(struct sn_store *s, const char *id)
{
    sqlite3_stmt *q = stmt(s, Q_DELIVERED_AT);
    int64_t at = 0;

    if (q == NULL)
        return 0;
    bind_str(q, 1, id);
    if (sqlite3_step(q) == SQLITE_ROW)
        at = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return at;
}

enum sn_status
sn_store_hold(struct sn_store *s, const char *id, int64_t delivered_at)
{
    sqlite3_stmt *q;

    if (s->schema < SCHEMA_HELD)
        return SN_OK;
    if ((q = stmt(s, Q_HOLD)) == NULL)
        return SN_EIO;
    bind_str(q, 1, id);
    sqlite3_bind_int64(q, 2, delivered_at);
    return step_done(q);
}

size_t
sn_store_held(struct sn_store *s, int64_t before, char (*ids)[SN_UUID_LEN + 1],
              size_t max)
{
    sqlite3_stmt *q = stmt(s, Q_HELD);
    size_t n = 0;

    if (q == NULL)
        return 0;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
    while (n < max && sqlite3_step(q) == SQLITE_ROW)
        col_fixed(q, 0, ids[n++], SN_UUID_LEN + 1);
    sqlite3_reset(q);
    return n;
}
