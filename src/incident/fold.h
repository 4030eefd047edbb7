/*
 * Folding one detector signal into the incident it belongs to, inside
 * the caller's store transaction: open (UUID; name-based when the signal
 * names its source record), update (hits, last seen, evidence window,
 * severity; the version grows by the number of signals folded), resolve, a
 * detection-degraded incident, and escalations to CRITICAL parked as
 * pending approval. Every change is a version, an audit entry and an
 * outbox row (store.c). The rules are in docs/incidents.md.
 *
 * Used by the manager's thread only (one struct sn_fold per store
 * connection).
 */
#ifndef SN_INCIDENT_FOLD_H
#define SN_INCIDENT_FOLD_H

#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"
#include "incident/scrub.h"
#include "incident/store.h"

struct json_tokener;
struct sn_fold_scan;

struct sn_fold_stats {
    uint64_t opened, updated, resolved, degraded, invalid, ignored;
    uint64_t escalations; /* escalations to CRITICAL parked for approval */
    uint64_t held;        /* versions stored without delivery (batched) */
    uint64_t released;    /* batched versions delivered by the interval */
    uint64_t kept_hits;   /* open incidents a batch found kept */
    uint64_t kept_misses; /* open incidents a batch read from the store */
};

/* An open incident the manager holds: changed by the current batch, or
 * kept from an earlier one (incidents.cache). */
struct sn_fold_entry;

/* One evidence item as JSON text (not NUL-terminated): a span of a
 * signal's item buffer or of an incident's stored evidence array. */
struct sn_fold_item {
    const char *p;
    size_t len;
};

struct sn_fold {
    struct sn_store *store;         /* borrowed */
    struct sn_scrub *scrub;         /* borrowed */
    int64_t auto_resolve_ms;        /* default quiet period; 0 never */
    /* incidents.update_interval: a version that only adds hits (counters,
     * last_seen, evidence) is stored but recorded and delivered at most
     * this often per incident (sn_fold_release); 0: every version. */
    int64_t update_ms;
    size_t evidence_max;
    struct sn_buf scratch;          /* the rendered document */
    struct sn_buf tmp;
    struct sn_fold_stats st;
    /* Open incidents kept between batches, so a signal for one seen
     * recently neither reads it back nor rewrites its evidence when it
     * only adds hits. The store stays the truth: every batch still
     * writes what it changed before it commits, and the entries are
     * dropped when anyone else may have written the store (another
     * connection committed: sn_fold_begin; the manager's own
     * housekeeping and calls: sn_fold_discard). */
    struct sn_fold_entry *cache;
    size_t n_cache, cap_cache;
    size_t cache_max;     /* incidents.cache: kept between batches */
    uint32_t *bucket;     /* hash index over cache[], power-of-two size */
    size_t n_bucket;
    uint64_t tick;        /* batches begun: an entry's last use (LRU) */
    int64_t data_version; /* the store's, when the batch began */
    struct sn_fold_scan *scan; /* renders deferred explanations */
};

enum sn_status sn_fold_init(struct sn_fold *f, struct sn_store *store,
                            struct sn_scrub *scrub, int64_t auto_resolve_ms,
                            size_t evidence_max);
void sn_fold_fini(struct sn_fold *f);

/* A signal parsed, checked, scrubbed and rendered back to JSON text (by
 * the thread that emitted it), ready for sn_fold_apply on the manager's
 * thread, which then builds no json-c tree at all: everything the fold
 * reads from the signal is extracted here. */
/* SN_SIG_UPDATE: more matches in a window that already fired (refire
 * per_window): adds to the open incident's hit count, nothing else. */
enum { SN_SIG_FIRING = 0, SN_SIG_RESOLVED, SN_SIG_DEGRADED, SN_SIG_UPDATE };
/* The rule id of the incidents that report a rule's lost correlation
 * state (a "degraded" signal), keyed {"rule": the rule's id}. */
#define SN_DEGRADED_RULE "detection-degraded"

struct sn_fold_sig {
    char *rule, *gk;       /* rule id, canonical group key JSON */
    uint64_t hash;         /* of both */
    int state, sev, base;  /* SN_SIG_*, enum sn_severity (base -1: none) */
    int64_t when, first, last, count;
    /* Per-event "match" signals this one stands for ("coalesced", at
     * least 1): folded as that many signals, its evidence items one by
     * one as theirs would have been (docs/correlation.md "Signals"). */
    int64_t coalesced;
    int64_t quiet_ms;      /* -1: the configured default */
    char *title, *description; /* NULL: absent */
    char *tags;            /* JSON array text; NULL: absent */
    char *expl;            /* the explanation: scrubbed, no key/evidence */
    size_t expl_len;
    /* NULL expl: the signal's JSON, whose explanation is rendered when
     * the fold writes it (sn_fold_scan_expl); else NULL. */
    char *raw;
    size_t raw_len;
    struct sn_fold_item *items; /* evidence items, scrubbed, rendered; */
    size_t n_items;             /* one allocation with their text */
    /* The record that triggered it ("source", partition.h); src_input
     * NULL: none (a clock signal); src_offset -1: no offset. */
    char *src_input, *src_topic;
    int32_t src_part;
    int64_t src_offset;
};

/* Any thread (with its own tokener and scrubber). SN_EINVAL with err
 * saying why when json is not a signal. */
enum sn_status sn_fold_prepare(struct json_tokener *tok,
                               struct sn_scrub *scrub, const char *json,
                               size_t len, struct sn_fold_sig *sig,
                               struct sn_error *err);
void sn_fold_sig_fini(struct sn_fold_sig *sig);
/* The hash of a (rule id, canonical group key) pair: sig->hash. */
uint64_t sn_fold_key_hash(const char *rule, const char *key);
/*
 * The manager's thread: fold one prepared signal (docs/correlation.md
 * "Signal JSON", plus the optional title, description, tags and
 * quiet_ms) at wall time now. The signals of one batch that hit the same
 * incident become one version (batching: the row, evidence and document
 * are written once per batch, by sn_fold_flush); a resolve is written at
 * once, so a key that fires again in the same batch opens a new
 * incident. The batch borrows the signal's text: sig must stay alive
 * until sn_fold_flush or sn_fold_discard. SN_EIO: the store failed (the
 * caller calls sn_fold_discard and rolls the transaction back).
 */
enum sn_status sn_fold_apply(struct sn_fold *f, struct sn_fold_sig *sig,
                             int64_t now, struct sn_error *err);
/* A batch's start, inside its transaction (before sn_fold_apply): the
 * kept incidents are dropped when another connection committed since
 * the last batch (an operator's ack, resolve or assign through the API
 * or the CLI), so a kept copy never overwrites their change. */
void sn_fold_begin(struct sn_fold *f);
/* Write every incident the batch changed: version + the number of
 * signals folded into it, row, evidence (only when a firing signal
 * changed it), audit entry, outbox row. Inside the caller's
 * transaction. Then keeps up to cache_max incidents, the most recently
 * used, for the next batches. */
enum sn_status sn_fold_flush(struct sn_fold *f, int64_t now,
                             struct sn_error *err);
/* Forget the batch's changes and every kept incident (after a
 * rollback, or after this connection wrote incidents outside a batch). */
void sn_fold_discard(struct sn_fold *f);

/* Resolve incidents quiet past their period; *n gets how many. */
enum sn_status sn_fold_quiet(struct sn_fold *f, int64_t now, size_t *n);
/* Deliver the held versions (see update_ms) of incidents whose last
 * delivered version is update_ms old at wall time now: one version row,
 * audit row and outbox row each, carrying the counters. Within the
 * caller's transaction; *n: how many. */
enum sn_status sn_fold_release(struct sn_fold *f, int64_t now, size_t *n);

#endif
