/*
 * The outbox relay: one thread per output configured with `take:
 * incidents`, delivering the store's outbox after that output's cursor
 * through plugin->deliver, in order, in batches. OK advances the cursor;
 * RETRY backs off exponentially with jitter and delivers the same batch
 * again; FAIL dead-letters (a failing batch is retried one document at a
 * time so only the bad one is dead-lettered); PENDING waits for
 * host->output_ack. At-least-once: a crash before the cursor moved
 * delivers the batch again, and outputs are idempotent by (id, version).
 * Design: docs/internals/incidents.md.
 */
#ifndef SN_INCIDENT_RELAY_H
#define SN_INCIDENT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/error.h"
#include "metrics/metrics.h"
#include "pipeline/outport.h"

struct sn_relay;
struct sn_manager;

/* Start a relay feeding the output port `out` (its output started),
 * reading the store of the manager m (woken by its commits; it also polls
 * for rows other processes append). Plugs in: sets out->feeder (the
 * relay), out->ack and out->release (sn_relay_free). */
enum sn_status sn_relay_start(struct sn_outport *out, struct sn_manager *m,
                              struct sn_metrics *metrics, struct sn_error *err);

/* Deliver what is committed now (up to drain_ms), then stop the relay's
 * thread and close its store. Call before the output's stop(). The
 * relay itself stays (out->feeder too) and ignores acknowledgements
 * still arriving: the output's threads may hold it until the output
 * stopped. Calling it again does nothing. */
void sn_relay_stop(struct sn_outport *out, int64_t drain_ms);
/* Free the relay (stopping it first if needed); out->feeder becomes NULL.
 * Only once the output can no longer acknowledge: after its stop(). */
void sn_relay_free(struct sn_outport *out);

/* Benchmarks: fn(arg, docs, n) runs on the relay's thread right after
 * docs were acknowledged OK (before the cursor is saved). Set it before
 * anything is committed for this output; NULL removes it. */
typedef void (*sn_relay_observer)(void *arg, const struct sn_doc *docs,
                                  size_t n);
void sn_relay_observe(struct sn_relay *r, sn_relay_observer fn, void *arg);

#endif
