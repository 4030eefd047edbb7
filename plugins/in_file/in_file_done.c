/*
 * in_file's processed position (in_file_done.h): a ring of (batch, end
 * offset) steps in emit order; a step counts once its batch and every
 * earlier one are done, since batches are released in no order.
 */
#include "in_file_done.h"

#include <stdlib.h>

int
if_done_init(struct if_done *d)
{
    *d = (struct if_done){ 0 };
    return pthread_mutex_init(&d->lock, NULL) == 0 ? 0 : -1;
}

void
if_done_fini(struct if_done *d)
{
    free(d->steps);
    pthread_mutex_destroy(&d->lock);
}

void
if_done_restart(struct if_done *d, int64_t start)
{
    pthread_mutex_lock(&d->lock);
    d->head = d->n = 0;
    d->safe = start;
    d->has_local = false;
    d->stuck = false;
    pthread_mutex_unlock(&d->lock);
}

/* Under lock. Out of memory: the position stops where it is until the
 * next restart (read again after a crash, never skipped). */
static bool
push_locked(struct if_done *d, struct if_step st)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct if_step *grown = malloc(cap * sizeof(*grown));
        if (grown == NULL) {
            d->stuck = true;
            return false;
        }
        for (size_t i = 0; i < d->n; i++)
            grown[i] = d->steps[(d->head + i) % d->cap];
        free(d->steps);
        d->steps = grown;
        d->head = 0;
        d->cap = cap;
    }
    d->steps[(d->head + d->n) % d->cap] = st;
    d->n++;
    return true;
}

/* Under lock: drop the done steps at the head, moving safe past them. */
static void
settle_locked(struct if_done *d)
{
    while (!d->stuck && d->n > 0 && d->steps[d->head].done) {
        d->safe = d->steps[d->head].next;
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
}

void
if_done_emitted(struct if_done *d, uint64_t seq, int64_t next)
{
    if (d->has_local && d->local.seq == seq) {
        d->local.next = next;
        return;
    }
    /* A new batch: the previous one's step goes where batch_done can
     * find it. This batch is not handed over before the next emit() or
     * flush(), so its done cannot come before it is pushed. */
    pthread_mutex_lock(&d->lock);
    if (d->has_local)
        push_locked(d, d->local); /* or stuck */
    d->local = (struct if_step){ .seq = seq, .next = next };
    d->has_local = true;
    pthread_mutex_unlock(&d->lock);
}

void
if_done_batch(struct if_done *d, uint64_t seq)
{
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++) {
        struct if_step *st = &d->steps[(d->head + i) % d->cap];
        if (st->seq == seq) {
            st->done = true;
            break;
        }
    }
    if (d->has_local && d->local.seq == seq)
        d->local.done = true;
    settle_locked(d);
    pthread_mutex_unlock(&d->lock);
}

/* Under lock: the batch being filled joins the ring (it may be done:
 * handed over by a flush), and the done head is dropped. */
static void
catch_up_locked(struct if_done *d)
{
    if (d->has_local && push_locked(d, d->local))
        d->has_local = false;
    settle_locked(d);
}

int64_t
if_done_safe(struct if_done *d)
{
    int64_t safe;

    pthread_mutex_lock(&d->lock);
    catch_up_locked(d);
    safe = d->safe;
    pthread_mutex_unlock(&d->lock);
    return safe;
}

bool
if_done_idle(struct if_done *d)
{
    bool idle;

    pthread_mutex_lock(&d->lock);
    catch_up_locked(d);
    /* Stuck: a step was not kept, so wait for the whole pool. */
    idle = d->n == 0 && !d->has_local && !d->stuck;
    pthread_mutex_unlock(&d->lock);
    return idle;
}
