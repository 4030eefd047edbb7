/* Batch pool; see batch.h. */
#include "pipeline/batch.h"

#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/limits.h"
#include "journal/journal.h"
#include "pipeline/pipeline.h"

struct sn_batch_pool *
sn_batch_pool_new(size_t n)
{
    struct sn_batch_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (size_t i = 0; i < n; i++) {
        struct sn_batch *b = calloc(1, sizeof(*b));
        if (b == NULL)
            goto fail;
        b->events = calloc(SN_BATCH_MAX_RECORDS, sizeof(*b->events));
        if (b->events == NULL) {
            free(b);
            goto fail;
        }
        sn_arena_init(&b->arena, SN_BATCH_ARENA_CHUNK, 0);
        b->pool = p;
        b->next = p->free;
        p->free = b;
        p->n_free++;
        p->n_total++;
    }
    /* The share no single blocking emitter can take (batch.h). */
    p->reserve = n / 2;
    return p;
fail:
    sn_batch_pool_free(p);
    return NULL;
}

void
sn_batch_pool_free(struct sn_batch_pool *p)
{
    struct sn_batch *b, *next;

    if (p == NULL)
        return;
    for (b = p->free; b != NULL; b = next) {
        next = b->next;
        sn_arena_fini(&b->arena);
        free(b->events);
        free(b);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

struct sn_batch_owner *
sn_batch_owner_new(void)
{
    struct sn_batch_owner *o = calloc(1, sizeof(*o));

    if (o != NULL)
        atomic_init(&o->refs, 1);
    return o;
}

void
sn_batch_owner_unref(struct sn_batch_owner *o)
{
    if (o != NULL && atomic_fetch_sub(&o->refs, 1) == 1)
        free(o);
}

/* Under p->lock: may this taker have a batch now? */
static bool
may_take(const struct sn_batch_pool *p, const struct sn_batch_owner *o,
         bool nowait)
{
    if (p->free == NULL)
        return false;
    if (nowait || o == NULL || o->held == 0)
        return true;
    return p->n_free > p->reserve;
}

struct sn_batch *
sn_batch_get(struct sn_batch_pool *p, bool nowait)
{
    return sn_batch_get_for(p, NULL, nowait);
}

struct sn_batch *
sn_batch_get_for(struct sn_batch_pool *p, struct sn_batch_owner *owner,
                 bool nowait)
{
    struct sn_batch *b;

    pthread_mutex_lock(&p->lock);
    while (!may_take(p, owner, nowait)) {
        struct timespec ts;

        if (nowait || atomic_load(&p->aborting)) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        /* Timed so an abort is noticed even without a release. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * SN_NS_PER_MS;
        if (ts.tv_nsec >= SN_NS_PER_SEC) {
            ts.tv_sec++;
            ts.tv_nsec -= SN_NS_PER_SEC;
        }
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    b = p->free;
    p->free = b->next;
    p->n_free--;
    if (owner != NULL) {
        owner->held++;
        atomic_fetch_add(&owner->refs, 1);
    }
    sn_gauge_set(p->in_use, p->n_total - p->n_free);
    pthread_mutex_unlock(&p->lock);
    b->owner = owner;
    b->next = NULL;
    b->n = 0;
    b->bytes = 0;
    b->input = NULL;
    b->seq = 0;
    b->jseq = 0;
    b->detect_only = false;
    b->peer_src = NULL;
    b->peer_copy = NULL;
    b->transport_src = NULL;
    b->transport_copy = NULL;
    atomic_store(&b->refs, 1);
    return b;
}

void
sn_batch_unref(struct sn_batch *b)
{
    struct sn_batch_pool *p = b->pool;
    struct sn_batch_owner *owner = b->owner;

    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    /* Every consumer is done with it: an input that acknowledges its
     * source (Kafka offsets) learns so before the batch is reused. */
    if (b->input != NULL && b->seq != 0 && b->input->p->batch_done != NULL)
        b->input->p->batch_done(b->input->state, b->seq);
    if (b->jseq != 0 && b->input != NULL && b->input->pl->journal != NULL)
        sn_journal_done(b->input->pl->journal, b->jseq);
    sn_arena_reset(&b->arena);
    b->owner = NULL;
    pthread_mutex_lock(&p->lock);
    if (owner != NULL)
        owner->held--;
    b->next = p->free;
    p->free = b;
    p->n_free++;
    sn_gauge_set(p->in_use, p->n_total - p->n_free);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    sn_batch_owner_unref(owner);
}

bool
sn_batch_pool_wait_idle(struct sn_batch_pool *p, int64_t deadline_ns)
{
    bool idle;

    pthread_mutex_lock(&p->lock);
    while (p->n_free != p->n_total && sn_clock_mono_ns() < deadline_ns) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * SN_NS_PER_MS;
        if (ts.tv_nsec >= SN_NS_PER_SEC) {
            ts.tv_sec++;
            ts.tv_nsec -= SN_NS_PER_SEC;
        }
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    idle = p->n_free == p->n_total;
    pthread_mutex_unlock(&p->lock);
    return idle;
}

size_t
sn_batch_pool_in_use(struct sn_batch_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->lock);
    n = p->n_total - p->n_free;
    pthread_mutex_unlock(&p->lock);
    return n;
}
