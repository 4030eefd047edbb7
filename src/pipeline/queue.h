/*
 * A blocking FIFO of batches between pipeline stages (inputs -> a worker,
 * worker -> an output). One lock per batch hand-off, so per record the cost
 * is 1/SN_BATCH_MAX_RECORDS of a lock. Unbounded by itself: the batch pool
 * bounds how many batches exist.
 */
#ifndef SN_PIPELINE_QUEUE_H
#define SN_PIPELINE_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

#include "pipeline/batch.h"

struct sn_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sn_batch *head, *tail;
    size_t len;
    bool closed;
    /* Output queues: one batch sits in every output's queue at once, so
     * they cannot link through batch->next; a ring of cap pointers
     * (cap = the pool's batch count, the most one queue can hold). */
    struct sn_batch **ring;
    size_t cap, first;
};

void sn_queue_init(struct sn_queue *q);
/* A queue that does not use batch->next (see ring above); false on
 * ENOMEM. sn_queue_fini frees the ring. */
bool sn_queue_init_ring(struct sn_queue *q, size_t cap);
void sn_queue_fini(struct sn_queue *q);
void sn_queue_push(struct sn_queue *q, struct sn_batch *b);
/* Put back at the head (a redelivery keeps its place). */
void sn_queue_push_front(struct sn_queue *q, struct sn_batch *b);
/* Wait for a batch; NULL once the queue is closed and empty. */
struct sn_batch *sn_queue_pop(struct sn_queue *q);
/* Wake every waiter; pop returns NULL after the remaining batches. */
void sn_queue_close(struct sn_queue *q);
size_t sn_queue_len(struct sn_queue *q);

#endif
