/* Batch FIFO; see queue.h. */
#include "pipeline/queue.h"

void
sn_queue_init(struct sn_queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->head = q->tail = NULL;
    q->len = 0;
    q->closed = false;
}

void
sn_queue_fini(struct sn_queue *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

void
sn_queue_push(struct sn_queue *q, struct sn_batch *b)
{
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
