/* Batch FIFO; see queue.h. */
#include "pipeline/queue.h"

#include <assert.h>
#include <stdlib.h>

void
sn_queue_init(struct sn_queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->head = q->tail = NULL;
    q->len = 0;
    q->closed = false;
    q->ring = NULL;
    q->cap = q->first = 0;
}

bool
sn_queue_init_ring(struct sn_queue *q, size_t cap)
{
    sn_queue_init(q);
    q->ring = calloc(cap, sizeof(*q->ring));
    q->cap = cap;
    return q->ring != NULL;
}

void
sn_queue_fini(struct sn_queue *q)
{
    free(q->ring);
    q->ring = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

void
sn_queue_push(struct sn_queue *q, struct sn_batch *b)
{
    if (q->ring != NULL) {
        pthread_mutex_lock(&q->lock);
        assert(q->len < q->cap); /* a batch is in a queue at most once */
        q->ring[(q->first + q->len++) % q->cap] = b;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        return;
    }
    b->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->len++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void
sn_queue_push_front(struct sn_queue *q, struct sn_batch *b)
{
    pthread_mutex_lock(&q->lock);
    if (q->ring != NULL) {
        assert(q->len < q->cap);
        q->first = (q->first + q->cap - 1) % q->cap;
        q->ring[q->first] = b;
        q->len++;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        return;
    }
    b->next = q->head;
    q->head = b;
    if (q->tail == NULL)
        q->tail = b;
    q->len++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

struct sn_batch *
sn_queue_pop(struct sn_queue *q)
{
    struct sn_batch *b;

    pthread_mutex_lock(&q->lock);
    if (q->ring != NULL) {
        while (q->len == 0 && !q->closed)
            pthread_cond_wait(&q->cond, &q->lock);
        b = NULL;
        if (q->len > 0) {
            b = q->ring[q->first];
            q->first = (q->first + 1) % q->cap;
            q->len--;
        }
        pthread_mutex_unlock(&q->lock);
        return b;
    }
    while (q->head == NULL && !q->closed)
        pthread_cond_wait(&q->cond, &q->lock);
    b = q->head;
    if (b != NULL) {
        q->head = b->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->len--;
        b->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

void
sn_queue_close(struct sn_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t
sn_queue_len(struct sn_queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
