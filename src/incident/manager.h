/*
 * The incident manager: one thread that owns the store's write
 * connection, fed by detectors through a bounded queue (the pipeline's
 * signal_sink). It folds signals in batches, one transaction per batch
 * (fold.c), resolves quiet incidents and applies retention. When the
 * store cannot be written it keeps the batch and retries: the queue
 * fills, detectors block, and back-pressure reaches the inputs; nothing
 * is dropped and nothing pretends to be stored.
 *
 * The manager outlives reloads (the daemon owns it, like metrics).
 * Design: docs/internals/incidents.md.
 */
#ifndef SN_INCIDENT_MANAGER_H
#define SN_INCIDENT_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/config.h"
#include "core/error.h"
#include "metrics/metrics.h"

struct sn_manager;
struct sn_instance;

/* Open the store at path (created, migrated and probed for writing) and
 * build the scrubber; no thread yet. err names the path on failure. */
enum sn_status sn_manager_new(const char *path,
                              const struct sn_incidents_conf *conf,
                              struct sn_metrics *metrics,
                              struct sn_manager **out, struct sn_error *err);
enum sn_status sn_manager_start(struct sn_manager *m, struct sn_error *err);
/* Drain the queue into the store (waits, however long the store takes),
 * then stop the thread. */
void sn_manager_stop(struct sn_manager *m);
void sn_manager_free(struct sn_manager *m);

/* The pipeline's signal_sink: copy one signal into the queue, blocking
 * while it is full. SN_EINVAL when json is not a JSON object. */
enum sn_status sn_manager_sink(void *arg, struct sn_instance *from,
                               const char *json, size_t len);

/* Wait until every signal submitted so far is committed (or the manager
 * stopped). */
void sn_manager_flush(struct sn_manager *m);
/* Commit every version held back by incidents.update_interval to the
 * outbox now (a clean stop, before the relays' last delivery), so the
 * outputs end with the stored version. Any thread but the manager's. */
void sn_manager_release_held(struct sn_manager *m);
/* host->signals_stored(): true once every signal submitted before the
 * call is committed, waiting up to timeout_ms; false on timeout or when
 * signals were lost at shutdown. arg is the manager. */
bool sn_manager_stored(void *arg, int timeout_ms);

/*
 * The incident side of a partition's state (pipeline/partition.h,
 * docs/scaling.md "Partition state"); arg is the manager, any thread.
 * export: append the open incidents whose signals came from partition p
 *   (as of every signal submitted before the call) to out.
 * import: replace this store's open incidents of p with the exported
 *   ones (data NULL: none), before p's first record is emitted here.
 * release: stop folding into or auto-resolving p's open incidents here
 *   (p went to another owner, which imports them); partition -1: those
 *   of every partition of p->topic (at start: their owners import them).
 */
enum sn_status sn_manager_partition_export(void *arg,
                                           const struct sn_partition *p,
                                           struct sn_buf *out);
enum sn_status sn_manager_partition_import(void *arg,
                                           const struct sn_partition *p,
                                           const void *data, size_t len,
                                           char *err, size_t err_len);
void sn_manager_partition_release(void *arg, const struct sn_partition *p);

/*
 * Run fn with the store's write connection and the fold state on the
 * manager's thread (which owns them), once every signal submitted before
 * the call is committed, and wait for it; relays are woken afterwards (fn
 * may write the outbox). Without a running thread fn runs on the
 * caller's. SN_EIO when the thread exited first. Any thread but the
 * manager's; fn must not call back into the manager.
 */
struct sn_store;
struct sn_fold;
typedef enum sn_status (*sn_manager_fn)(void *arg, struct sn_store *store,
                                        struct sn_fold *fold);
enum sn_status sn_manager_call(struct sn_manager *m, sn_manager_fn fn,
                               void *arg);

/*
 * Commit notifications for relays: returns the current commit
 * generation, waiting up to timeout_ms for it to move past *seen (then
 * updates *seen). Any thread.
 */
uint64_t sn_manager_wait_commit(struct sn_manager *m, uint64_t *seen,
                                int timeout_ms);

/*
 * A relay's delivery cursor, written by the manager in its next
 * transaction (a batch's, or housekeeping's within a second) instead of
 * by a write transaction of the relay's own, which waited for the
 * manager's batch and fsynced once more. Any thread. SN_ELIMIT: too
 * many outputs; the caller saves it itself.
 */
enum sn_status sn_manager_cursor(struct sn_manager *m, const char *output,
                                 int64_t seq);

/* incidents.escalation (copied; conf may be freed afterwards): the
 * policy housekeeping runs from now on. A reload calls it again. Any
 * thread. */
void sn_manager_set_escalation(struct sn_manager *m,
                               const struct sn_esc_conf *conf);
/* Whether an escalation step notifies `output` (its relay then delivers
 * only what steps send it, and the incident's later versions). */
bool sn_manager_notifies(struct sn_manager *m, const char *output);

/* Latency histograms' bounds (ms) along an incident's path: the manager's
 * (sentineld_incident_signal_latency_milliseconds) and the relays'
 * (sentineld_outbox_ack_latency_milliseconds): the 20 ms target in the
 * middle, outages (seconds to minutes) at the top. */
#define SN_LATENCY_LE_MS                                                       \
    { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 30000, 300000 }

/* The store's path (relays open their own connections to it). */
const char *sn_manager_store_path(const struct sn_manager *m);

#endif
