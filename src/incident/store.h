/*
 * The embedded incident store: one SQLite database (WAL) holding
 * incidents, their versions, evidence, the append-only audit trail, the
 * outbox with one delivery cursor per incident output, detector
 * checkpoints and dead letters. Schema changes are numbered migrations
 * recorded inside the database (schema_version). Design:
 * docs/internals/incidents.md.
 *
 * A struct sn_store is one connection, used by one thread at a time;
 * every thread or process opens its own (WAL: many readers, one writer,
 * busy writers wait up to SN_STORE_BUSY_MS).
 */
#ifndef SN_INCIDENT_STORE_H
#define SN_INCIDENT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"
#include "incident/incident.h"

/* How long a writer waits for another (the CLI, a relay) to commit. */
#define SN_STORE_BUSY_MS 10000

struct sn_store;
struct sqlite3;

/* Open (creating and migrating unless read_only). A writable store is
 * probed with a write, so a read-only file or directory fails here with a
 * message naming the path, not at the first incident. */
enum sn_status sn_store_open(const char *path, bool read_only,
                             struct sn_store **out, struct sn_error *err);
/* Tests: open for writing with the migrations up to `schema` only, as a
 * sentineld that knew no more left the store (a later sn_store_open
 * migrates it); writes leave out what later migrations added. */
enum sn_status sn_store_open_at(const char *path, int schema,
                                struct sn_store **out, struct sn_error *err);
void sn_store_close(struct sn_store *s);
struct sqlite3 *sn_store_db(struct sn_store *s);
/* The current schema version (number of migrations applied). */
int sn_store_schema_version(struct sn_store *s);
/* Checkpoint this connection's WAL on a thread of its own (with its own
 * connection) instead of inside the commit that crossed the threshold:
 * the manager's commits then only append to the WAL. Stopped by
 * sn_store_close. */
enum sn_status sn_store_checkpointer_start(struct sn_store *s,
                                           struct sn_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Errors name the path. */
enum sn_status sn_store_begin(struct sn_store *s, struct sn_error *err);
enum sn_status sn_store_commit(struct sn_store *s, struct sn_error *err);
void sn_store_rollback(struct sn_store *s);

/* Incidents. find_open: the open (not resolved) incident for the key;
 * SN_DECLINED when none. get: by id; SN_DECLINED when none. */
enum sn_status sn_store_find_open(struct sn_store *s, const char *rule_id,
                                  const char *group_key,
                                  struct sn_incident *out);
enum sn_status sn_store_get(struct sn_store *s, const char *id,
                            struct sn_incident *out);
/* The newest resolved incident for the key (previous_id of a new one). */
bool sn_store_last_resolved(struct sn_store *s, const char *rule_id,
                            const char *group_key, char out[SN_UUID_LEN + 1]);
/* Insert or replace the row and its evidence. */
enum sn_status sn_store_put(struct sn_store *s, const struct sn_incident *inc);

/* Only inc's counters (version, last_seen, hit_count, signal_count,
 * updated_at, touched_at): for a version that added hits and nothing
 * else to a row this connection wrote last. held_since > 0 also holds
 * the version, as sn_store_hold would, in the same statement; 0 leaves
 * the hold as it is. SN_EIO also when no row has inc's id. */
enum sn_status sn_store_put_hits(struct sn_store *s,
                                 const struct sn_incident *inc,
                                 int64_t held_since);
/* SQLite's PRAGMA data_version: moves when another connection (the API,
 * the CLI, a relay) committed since this one last looked; -1 on error. */
int64_t sn_store_data_version(struct sn_store *s);

/*
 * Record one change of inc (already at its new version): the version
 * row (what changed), an audit entry (who, why) and the outbox row with
 * the document. Call inside a transaction. scratch holds the rendered
 * document afterwards. inc->fresh still set means sn_store_put has just
 * inserted its row (the callers put, then record), which holds nothing
 * to release (sn_store_hold).
 */
enum sn_status sn_store_record(struct sn_store *s,
                               const struct sn_incident *inc, const char *actor,
                               const char *action, const char *reason,
                               const char *correlation_id,
                               struct sn_buf *scratch);

/* Append one entry to the audit trail (incident/audit.h), in its own
 * transaction unless one is open. Errors name the path. */
struct sn_audit_entry;
enum sn_status sn_store_audit(struct sn_store *s,
                              const struct sn_audit_entry *e,
                              struct sn_error *err);
/* Time of the incident's newest recorded (delivered) version; 0 when it
 * has none. */
int64_t sn_store_delivered_at(struct sn_store *s, const char *id);
/* The incident's stored row holds a version not recorded (incidents.
 * update_interval); delivered_at: when its last recorded version was.
 * sn_store_record of the incident ends the hold. */
enum sn_status sn_store_hold(struct sn_store *s, const char *id,
                             int64_t delivered_at);
/* Open incidents holding an undelivered version (incidents.update_interval)
 * whose last delivered version is at or before `before` (ids, at most max,
 * into ids[]). */
size_t sn_store_held(struct sn_store *s, int64_t before,
                     char (*ids)[SN_UUID_LEN + 1], size_t max);

/* Incidents open past their quiet period at wall time now (ids, at most
 * max, into ids[]). */
size_t sn_store_quiet(struct sn_store *s, int64_t now,
                      char (*ids)[SN_UUID_LEN + 1], size_t max);

/* The outbox. */
int64_t sn_store_last_seq(struct sn_store *s);
/* Rows after `after`, oldest first, at most max; fn's doc is valid during
 * the call; at is when the row was committed (wall clock, ns). Returns
 * the count, -1 on error. */
typedef void (*sn_store_doc_fn)(void *arg, const struct sn_doc *doc,
                                int64_t at);
long sn_store_outbox_read(struct sn_store *s, int64_t after, unsigned max,
                          sn_store_doc_fn fn, void *arg);
/* The relay's read: like sn_store_outbox_read, but fn gets only the
 * rows for `output` (rows for every output, and the notifications
 * addressed to it; with notified_only, an incident's rows only from its
 * first notification to this output on). *last is the last row looked
 * at, for it or not (the cursor may pass rows that are not). When a row
 * was looked at, *end is sn_store_last_seq as of the same read (no read
 * of its own), else it is left alone. The plain read (the live feed)
 * leaves notifications out. */
long sn_store_outbox_read_for(struct sn_store *s, const char *output,
                              bool notified_only, int64_t after, unsigned max,
                              sn_store_doc_fn fn, void *arg, int64_t *last,
                              int64_t *end);
/* An escalation step's notification: an outbox row for `output` alone
 * with inc's document plus `member` (a JSON member, "\"k\":v"), committed
 * at `at`; from here on the output gets the incident's later versions
 * too. Inside a transaction. */
enum sn_status sn_store_notify(struct sn_store *s,
                               const struct sn_incident *inc,
                               const char *output, const char *member,
                               int64_t at, struct sn_buf *scratch);
/* A delivery cursor; created at the outbox's end when missing (an output
 * added later starts there). */
enum sn_status sn_store_cursor(struct sn_store *s, const char *output,
                               int64_t *seq);
enum sn_status sn_store_cursor_set(struct sn_store *s, const char *output,
                                   int64_t seq);
enum sn_status sn_store_dead_letter(struct sn_store *s, const char *output,
                                    const struct sn_doc *doc,
                                    const char *reason);
/*
 * Retention at wall time now: outbox rows every cursor passed and older
 * than keep_ms; resolved and released incidents (with versions, evidence
 * and audit) last updated more than retention_ms ago; dead letters older than
 * retention_ms; cursors not moved for retention_ms. Returns rows removed.
 */
long sn_store_prune(struct sn_store *s, int64_t now, int64_t keep_ms,
                    int64_t retention_ms);

/* Detector checkpoints (key -> blob). get: SN_DECLINED when absent; the
 * blob is appended to out. */
enum sn_status sn_store_checkpoint_put(struct sn_store *s, const char *key,
                                       const void *blob, size_t len);
enum sn_status sn_store_checkpoint_get(struct sn_store *s, const char *key,
                                       struct sn_buf *out);

/* For listing queries elsewhere in src/incident/: the column list a
 * statement must select (in this order) for sn_store_load_row. */
#define SN_STORE_INCIDENT_COLS                                                 \
    "id, rule_id, group_key, version, title, description, tags, severity,"     \
    " base_severity, status, pending, owner, previous_id, first_seen,"         \
    " last_seen, hit_count, signal_count, created_at, updated_at,"             \
    " touched_at, quiet_ms, esc_rejected, degraded"
struct sqlite3_stmt;
/* Fill inc from the current row of q; with_evidence also reads the
 * explanation and evidence. */
enum sn_status sn_store_load_row(struct sn_store *s, struct sqlite3_stmt *q,
                                 struct sn_incident *inc, bool with_evidence);

/* The last SQLite error text of this connection. */
const char *sn_store_errmsg(struct sn_store *s);
const char *sn_store_path(struct sn_store *s);

#endif
