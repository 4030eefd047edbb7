/*
 * Batches and the pool they come from. A batch carries up to
 * SN_BATCH_MAX_RECORDS records from one input, the events parsed from them
 * and one arena holding both; it is reference counted and goes back to the
 * pool when the last worker/output releases it. The pool size bounds memory
 * and is the back-pressure: an input that finds the pool empty waits (or,
 * for UDP, drops and counts). docs/internals/pipeline.md.
 */
#ifndef SN_PIPELINE_BATCH_H
#define SN_PIPELINE_BATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/arena.h"
#include "event/event.h"
#include "metrics/metrics.h"

struct sn_instance;
struct sn_batch_pool;

/* Who took a batch: an emitter's share of the pool. Fairness rule: a
 * blocking taker that already holds a batch may not take one of the last
 * `reserve` (half the pool) free batches; those stay for drop-when-full
 * takers (UDP) and for takers holding none (another connection loop), so
 * one flooding connection fills at most half the pool and cannot starve
 * the rest. Half, not less: when the pipeline is the bottleneck every
 * batch waits behind the flood's, and a UDP input flushing every few
 * milliseconds needs as many batches as fit in that wait; the flood's half
 * (32 batches of 1024 records by default) still keeps the workers busy. Reference counted: each batch it holds keeps it alive, so an
 * emitter may be freed while its batches are still in the pipeline. */
struct sn_batch_owner {
    size_t held; /* batches taken and not yet released; under pool lock */
    _Atomic int refs;
};

struct sn_batch {
    struct sn_batch *next; /* pool free list or queue link */
    struct sn_arena arena;
    struct sn_event *events; /* SN_BATCH_MAX_RECORDS slots */
    size_t n;
    size_t bytes; /* record bytes copied in */
    _Atomic int refs;
    struct sn_instance *input;
    uint64_t seq; /* host->emit_seq(); batch_done() gets it on release */
    uint64_t jseq;    /* ingest journal batch number, 0: not journaled */
    bool detect_only; /* replayed records outputs already had */
    struct sn_batch_pool *pool;
    struct sn_batch_owner *owner; /* NULL when taken without one */
    /* Emit-side cache: consecutive records from one peer share a copy. */
    const char *peer_src;
    const char *peer_copy;
    const char *transport_src;
    const char *transport_copy;
};

struct sn_batch_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sn_batch *free;
    size_t n_free, n_total;
    size_t reserve; /* see struct sn_batch_owner */
    _Atomic bool aborting; /* shutdown timed out: waiters give up */
    struct sn_counter *in_use; /* gauge: batches taken (may be NULL) */
};

/* Allocate n batches. NULL on ENOMEM. */
struct sn_batch_pool *sn_batch_pool_new(size_t n);
void sn_batch_pool_free(struct sn_batch_pool *p);
/* Take a free batch; waits when none is free unless nowait. NULL when
 * nowait and empty, or when the pool is aborting. refs is 1. */
struct sn_batch *sn_batch_get(struct sn_batch_pool *p, bool nowait);
/* The same, charged to owner (may be NULL): a blocking taker holding a
 * batch also waits while only the reserve is free. */
struct sn_batch *sn_batch_get_for(struct sn_batch_pool *p,
                                  struct sn_batch_owner *owner, bool nowait);
/* NULL on ENOMEM; refs is 1 (the caller's). */
struct sn_batch_owner *sn_batch_owner_new(void);
/* Drop one reference (NULL accepted); the last frees. */
void sn_batch_owner_unref(struct sn_batch_owner *o);
/* Drop one reference; the last one resets the arena and frees the batch. */
void sn_batch_unref(struct sn_batch *b);
/* Wait until every batch is back or deadline (monotonic ns) passes. */
bool sn_batch_pool_wait_idle(struct sn_batch_pool *p, int64_t deadline_ns);
size_t sn_batch_pool_in_use(struct sn_batch_pool *p);

#endif
