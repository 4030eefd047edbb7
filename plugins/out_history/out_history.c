/*
 * out_history: recent events kept in <state_dir>/events.db (SQLite, WAL)
 * for GET /api/v1/events and the console's charts (src/http/api_history.c
 * reads the file). One transaction per batch, on this output's own
 * thread, so the workers only pay the batch handoff. Retention by age and
 * row count, pruned in bounded steps after each batch. It is a history,
 * not a ledger: synchronous=NORMAL (a power cut may lose the last
 * batches). Schema and queries: docs/internals/history.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <sentineld/plugin.h>

/* Rows deleted per prune step: bounds the time one batch's transaction
 * holds the write lock; several steps run until retention holds. */
#define PRUNE_STEP 4096
/* Longest field value indexed; longer ones are cut (the JSON keeps all). */
#define FIELD_VALUE_MAX 1024

struct oh_conf {
    int64_t max_age_ms;
    int64_t max_rows;
};

struct oh_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct oh_conf *c;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *ins_ev, *ins_field, *prune_age_f, *prune_age_e, *prune_rows_f,
        *prune_rows_e, *nth_id;
    int64_t n_rows; /* rows in events, tracked to avoid count(*) */
    dev_t dev;      /* the file the connection has open, to notice */
    ino_t ino;      /* it deleted or replaced under us */
    struct sn_buf *json;
    struct sn_counter *c_written, *c_pruned, *c_errors, *c_reopened;
};

static const struct sn_option oh_options[] = {
    { "max_age", SN_OPT_DURATION, "7d", offsetof(struct oh_conf, max_age_ms),
      "events older than this (event time) are deleted", 60000,
      (int64_t)3650 * 86400000, NULL, false },
    { "max_rows", SN_OPT_INT, "1000000", offsetof(struct oh_conf, max_rows),
      "at most this many events are kept; the oldest go first", 1000,
      (int64_t)1 << 40, NULL, false },
    { 0 },
};

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS events("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL," /* event time, else receive time, UTC ns */
    " host TEXT, app TEXT,"
    " severity INTEGER," /* syslog severity 0-7, NULL when no PRI */
    " rule TEXT,"        /* fields.rule.id, for the per-rule charts */
    " msg TEXT,"
    " doc TEXT NOT NULL);" /* the event JSON (docs/events.md) */
    "CREATE INDEX IF NOT EXISTS events_ts ON events(ts);"
    "CREATE INDEX IF NOT EXISTS events_host ON events(host, ts);"
    "CREATE INDEX IF NOT EXISTS events_app ON events(app, ts);"
    "CREATE INDEX IF NOT EXISTS events_rule ON events(rule, ts);"
    "CREATE TABLE IF NOT EXISTS event_fields("
    " event_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY(event_id, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS event_fields_kv ON event_fields(key, value);";

static enum sn_status
oh_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct oh_state *s = calloc(1, sizeof(*s));
    const char *sd = host->state_dir(inst);
    const char *slash;
    size_t dlen;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = config;
    /* state_dir() names <state_dir>/<instance>; the history file sits
     * beside it under a fixed name, where the HTTP API looks for it. */
    if (sd == NULL || (slash = strrchr(sd, '/')) == NULL) {
        snprintf(err, err_len,
                 "daemon.state_dir is not set: out_history "
                 "keeps <state_dir>/events.db");
        return SN_ECONFIG;
    }
    dlen = (size_t)(slash - sd);
    s->path = malloc(dlen + sizeof("/events.db"));
    s->json = host->buf_new(16u * 1024 * 1024);
    if (s->path == NULL || s->json == NULL)
        return SN_ENOMEM;
    memcpy(s->path, sd, dlen);
    memcpy(s->path + dlen, "/events.db", sizeof("/events.db"));
    s->c_written = host->counter(inst, "history_events_total",
                                 "events written to the history store");
    s->c_pruned = host->counter(inst, "history_pruned_total",
                                "events deleted by retention");
    s->c_errors = host->counter(inst, "history_errors_total",
                                "failed history transactions (retried)");
    s->c_reopened =
        host->counter(inst, "history_reopened_total",
                      "events.db found deleted or replaced, and opened afresh");
    return SN_OK;
}

static void
close_db(struct oh_state *s)
{
    sqlite3_finalize(s->ins_ev);
    sqlite3_finalize(s->ins_field);
    sqlite3_finalize(s->prune_age_f);
    sqlite3_finalize(s->prune_age_e);
    sqlite3_finalize(s->prune_rows_f);
    sqlite3_finalize(s->prune_rows_e);
    sqlite3_finalize(s->nth_id);
    s->ins_ev = s->ins_field = s->prune_age_f = s->prune_age_e = NULL;
    s->prune_rows_f = s->prune_rows_e = s->nth_id = NULL;
    sqlite3_close(s->db);
    s->db = NULL;
}

static int
prep(struct oh_state *s, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
                              NULL);
}

static enum sn_status
open_db(struct oh_state *s, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    char *slash = strrchr(s->path, '/');
    int rc;

    /* The daemon creates state_dir only when it runs the incident
     * manager; a history-only pipeline (or --oneshot) must do it here. */
    *slash = '\0';
    rc = mkdir(s->path, 0750);
    *slash = '/';
    if (rc != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create state_dir for %s: %s", s->path,
                 strerror(errno));
        return SN_EIO;
    }
    rc = sqlite3_open_v2(
        s->path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(s->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, SCHEMA, NULL, NULL, NULL);
    /* The same subquery twice in one transaction selects the same rows:
     * fields first, then their events. */
    if (rc == SQLITE_OK)
        rc = prep(s,
                  "INSERT INTO events(ts,host,app,severity,rule,msg,doc) "
                  "VALUES(?,?,?,?,?,?,?)",
                  &s->ins_ev);
    if (rc == SQLITE_OK)
        rc = prep(s,
                  "INSERT OR REPLACE INTO event_fields(event_id,key,value) "
                  "VALUES(?,?,?)",
                  &s->ins_field);
    if (rc == SQLITE_OK)
        rc = prep(s,
                  "DELETE FROM event_fields WHERE event_id IN (SELECT id "
                  "FROM events WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
                  &s->prune_age_f);
    if (rc == SQLITE_OK)
        rc = prep(s,
                  "DELETE FROM events WHERE id IN (SELECT id FROM events "
                  "WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
                  &s->prune_age_e);
    if (rc == SQLITE_OK)
        rc = prep(s, "DELETE FROM event_fields WHERE event_id <= ?1",
                  &s->prune_rows_f);
    if (rc == SQLITE_OK)
        rc = prep(s, "DELETE FROM events WHERE id <= ?1", &s->prune_rows_e);
    if (rc == SQLITE_OK)
        rc = prep(s, "SELECT id FROM events ORDER BY id LIMIT 1 OFFSET ?1",
                  &s->nth_id);
    if (rc == SQLITE_OK)
        rc = prep(s, "SELECT count(*) FROM events", &st);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        s->n_rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", s->path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        close_db(s);
        return SN_EIO;
    }
    {
        struct stat sb;
        if (stat(s->path, &sb) == 0) {
            s->dev = sb.st_dev;
            s->ino = sb.st_ino;
        }
    }
    return SN_OK;
}

/* Is the connection's file still the one at s->path? A deleted events.db
 * would otherwise take every write, invisible to the API, until a
 * restart. One stat(2) per batch. When it is gone or replaced the
 * connection is closed and the file opened (created) afresh; when it was
 * deleted, its -wal and -shm are removed first: they belong to the
 * deleted file and SQLite would replay that WAL into the new one. */
static void
check_file(struct oh_state *s)
{
    struct stat st;
    bool gone;
    char aux[4096];

    if (s->db == NULL)
        return;
    if (stat(s->path, &st) == 0) {
        if (st.st_dev == s->dev && st.st_ino == s->ino)
            return;
        gone = false;
    } else if (errno == ENOENT)
        gone = true;
    else
        return; /* cannot tell; the transaction will say */
    s->host->log(s->inst, SN_LOG_WARN,
                 "%s was %s while open: opening it afresh (the events it "
                 "held are no longer searchable)",
                 s->path, gone ? "deleted" : "replaced");
    s->host->counter_add(s->c_reopened, 1);
    close_db(s);
    if (gone) {
        snprintf(aux, sizeof(aux), "%s-wal", s->path);
        unlink(aux);
        snprintf(aux, sizeof(aux), "%s-shm", s->path);
        unlink(aux);
    }
}

static enum sn_status
oh_start(void *state, char *err, size_t err_len)
{
    return open_db(state, err, err_len);
}

static void
oh_stop(void *state)
{
    close_db(state);
}

static void
oh_destroy(void *state)
{
    struct oh_state *s = state;

    if (s == NULL)
        return;
    close_db(s);
    if (s->json != NULL)
        s->host->buf_free(s->json);
    free(s->path);
    free(s);
}

static void
bind_str(sqlite3_stmt *st, int i, struct sn_str v)
{
    if (v.ptr == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v.ptr, (int)v.len, SQLITE_STATIC);
}

/* A typed field value as the text the API filters on (IPs as written by
 * inet_ntop, times and numbers in decimal). */
static struct sn_str
value_text(const struct sn_value *v, char *tmp, size_t tmp_len)
{
    struct sn_str r = { tmp, 0 };
    int n = 0;

    switch (v->type) {
    case SN_VAL_STR:
        r = v->u.s;
        if (r.len > FIELD_VALUE_MAX)
            r.len = FIELD_VALUE_MAX;
        return r;
    case SN_VAL_INT:
        n = snprintf(tmp, tmp_len, "%" PRId64, v->u.i);
        break;
    case SN_VAL_TIME:
        n = snprintf(tmp, tmp_len, "%" PRId64, v->u.time_ns);
        break;
    case SN_VAL_DOUBLE:
        n = snprintf(tmp, tmp_len, "%.17g", v->u.d);
        break;
    case SN_VAL_BOOL:
        n = snprintf(tmp, tmp_len, "%s", v->u.b ? "true" : "false");
        break;
    case SN_VAL_IP:
        if (inet_ntop(v->u.ip.family == 6 ? AF_INET6 : AF_INET, v->u.ip.addr,
                      tmp, (socklen_t)tmp_len) != NULL)
            n = (int)strlen(tmp);
        break;
    case SN_VAL_NULL:
        break;
    }
    r.len = n > 0 ? (size_t)n : 0;
    return r;
}

static int
step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
insert_event(struct oh_state *s, struct sn_event *ev)
{
    const struct sn_host *h = s->host;
    const struct sn_record *rec = h->event_record(ev);
    static const struct sn_str rule_key = { "rule.id", 7 };
    struct sn_value rule;
    struct sn_str json;
    int64_t ts;
    int pri = h->event_pri(ev), rc;
    sqlite3_int64 id;
    char tmp[64];

    if (!h->event_time(ev, &ts))
        ts = rec->recv_ns;
    h->buf_reset(s->json);
    if (h->event_to_json(ev, s->json) != SN_OK)
        return SQLITE_TOOBIG;
    json = h->buf_str(s->json);
    sqlite3_bind_int64(s->ins_ev, 1, ts);
    bind_str(s->ins_ev, 2, h->event_get(ev, SN_F_HOSTNAME));
    bind_str(s->ins_ev, 3, h->event_get(ev, SN_F_APPNAME));
    if (pri >= 0)
        sqlite3_bind_int(s->ins_ev, 4, pri % 8);
    if (h->event_field(ev, rule_key, &rule) && rule.type == SN_VAL_STR)
        bind_str(s->ins_ev, 5, rule.u.s);
    bind_str(s->ins_ev, 6, h->event_get(ev, SN_F_MSG));
    sqlite3_bind_text(s->ins_ev, 7, json.ptr, (int)json.len, SQLITE_STATIC);
    if ((rc = step_reset(s->ins_ev)) != SQLITE_OK)
        return rc;
    id = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0, n = h->event_n_fields(ev); i < n; i++) {
        struct sn_str key, val;
        struct sn_value v;

        h->event_field_at(ev, i, &key, &v);
        val = value_text(&v, tmp, sizeof(tmp));
        if (v.type == SN_VAL_NULL)
            continue;
        sqlite3_bind_int64(s->ins_field, 1, id);
        bind_str(s->ins_field, 2, key);
        sqlite3_bind_text(s->ins_field, 3, val.ptr ? val.ptr : "", (int)val.len,
                          SQLITE_STATIC);
        if ((rc = step_reset(s->ins_field)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Delete up to `budget` events older than cut (ns), fields first; the
 * number deleted, or -1 on error. */
static int64_t
prune_age(struct oh_state *s, int64_t cut, int64_t budget)
{
    sqlite3_bind_int64(s->prune_age_f, 1, cut);
    sqlite3_bind_int64(s->prune_age_e, 1, cut);
    sqlite3_bind_int64(s->prune_age_f, 2, budget);
    sqlite3_bind_int64(s->prune_age_e, 2, budget);
    if (step_reset(s->prune_age_f) != SQLITE_OK ||
        step_reset(s->prune_age_e) != SQLITE_OK)
        return -1;
    return sqlite3_changes64(s->db);
}

/* Retention, in the batch's transaction: age first, then row count. The
 * budget per batch exceeds what a batch adds, so the store converges. */
static int
prune(struct oh_state *s, size_t n_new, int64_t *pruned)
{
    int64_t budget = PRUNE_STEP + (int64_t)n_new, got;
    struct timespec now;
    int64_t cut;

    clock_gettime(CLOCK_REALTIME, &now);
    cut = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
          s->c->max_age_ms * 1000000;
    *pruned = 0;
    got = prune_age(s, cut, budget);
    if (got < 0)
        return SQLITE_ERROR;
    *pruned += got;
    budget -= got;
    if (s->n_rows - *pruned > s->c->max_rows && budget > 0) {
        int64_t excess = s->n_rows - *pruned - s->c->max_rows, cut_id;

        /* Ids grow with insertion: the oldest rows are an id prefix, so
         * both deletes are range scans on primary keys. */
        if (excess > budget)
            excess = budget;
        sqlite3_bind_int64(s->nth_id, 1, excess - 1);
        if (sqlite3_step(s->nth_id) != SQLITE_ROW) {
            sqlite3_reset(s->nth_id);
            return SQLITE_ERROR;
        }
        cut_id = sqlite3_column_int64(s->nth_id, 0);
        sqlite3_reset(s->nth_id);
        sqlite3_bind_int64(s->prune_rows_f, 1, cut_id);
        sqlite3_bind_int64(s->prune_rows_e, 1, cut_id);
        if (step_reset(s->prune_rows_f) != SQLITE_OK ||
            step_reset(s->prune_rows_e) != SQLITE_OK)
            return SQLITE_ERROR;
        *pruned += sqlite3_changes64(s->db);
    }
    return SQLITE_OK;
}

static enum sn_out_result
oh_write(void *state, struct sn_batch *b, uint64_t token, char *why,
         size_t why_len)
{
    struct oh_state *s = state;
    size_t n = s->host->batch_len(b);
    int64_t pruned = 0;
    int rc;

    (void)token;
    check_file(s);
    if (s->db == NULL && open_db(s, why, why_len) != SN_OK) {
        s->host->counter_add(s->c_errors, 1);
        return SN_OUT_RETRY;
    }
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
        rc = insert_event(s, s->host->batch_event(b, i));
    s->n_rows += (int64_t)n;
    if (rc == SQLITE_OK)
        rc = prune(s, n, &pruned);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s: %s", s->path, sqlite3_errmsg(s->db));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->n_rows -= (int64_t)n;
        s->host->counter_add(s->c_errors, 1);
        /* Reopen on the retry: the file may have been replaced. */
        close_db(s);
        return SN_OUT_RETRY;
    }
    s->n_rows -= pruned;
    s->host->counter_add(s->c_written, n);
    s->host->counter_add(s->c_pruned, (uint64_t)pruned);
    return SN_OUT_OK;
}

SN_PLUGIN_EXPORT
const struct sn_plugin sn_plugin_out_history = {
    SN_PLUGIN_HEADER,
    .name = "out_history",
    .kind = SN_KIND_OUTPUT,
    .description = "recent events in <state_dir>/events.db (SQLite) "
                   "for GET /api/v1/events and the console charts",
    .version = "1",
    .options = oh_options,
    .config_size = sizeof(struct oh_conf),
    .init = oh_init,
    .start = oh_start,
    .stop = oh_stop,
    .destroy = oh_destroy,
    .write = oh_write,
    .flags = SN_PLUGIN_WANTS_JSON | SN_PLUGIN_ONE_PER_STATE_DIR,
};
