/*
 * in_kafka offset tracking: an offset is committed only once every record
 * before it was processed, i.e. the batches holding them were released by
 * every detector and output (the core's batch_done hook). Batches are
 * numbered by the core in emit order; each partition keeps a FIFO of
 * (batch, next offset) steps, and a step is committable once its batch
 * and every earlier one are done. Records the pipeline never holds
 * (dead-lettered at once) ride on the batch before them, so order is kept.
 * Locking: one mutex, taken per batch, never per record, and never held
 * across emit() (a full pipeline would deadlock with batch_done).
 */
#include "in_kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ik_part *
ik_part_get(struct ik_state *s, const char *topic, int32_t partition)
{
    struct ik_part *p, **grown;
    char labels[300];

    pthread_mutex_lock(&s->track_lock);
    for (size_t i = 0; i < s->n_parts; i++) {
        p = s->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            pthread_mutex_unlock(&s->track_lock);
            return p;
        }
    }
    p = calloc(1, sizeof(*p));
    grown = realloc(s->parts, (s->n_parts + 1) * sizeof(*grown));
    if (p == NULL || grown == NULL || (p->topic = strdup(topic)) == NULL) {
        if (grown != NULL)
            s->parts = grown;
        free(p);
        pthread_mutex_unlock(&s->track_lock);
        return NULL;
    }
    s->parts = grown;
    p->partition = partition;
    p->route = (uint32_t)partition;
    for (const char *c = topic; *c; c++)
        p->route = p->route * 31 + (unsigned char)*c;
    p->committable = -1;
    p->committed = -1;
    p->position = -1;
    p->ckpt_next = -1;
    s->parts[s->n_parts++] = p;
    pthread_mutex_unlock(&s->track_lock);
    snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", topic,
             (int)partition);
    p->lag = s->ctx.host->gauge(s->ctx.inst, "kafka_consumer_lag", labels,
                                "messages in the partition not yet handed "
                                "to the pipeline");
    return p;
}

static bool
push_step(struct ik_part *p, struct ik_step st)
{
    if (p->n_steps > 0 && p->steps[p->n_steps - 1].seq == st.seq) {
        p->steps[p->n_steps - 1].next = st.next;
        return true;
    }
    if (p->n_steps == p->cap_steps) {
        size_t cap = p->cap_steps ? p->cap_steps * 2 : 16;
        struct ik_step *n = realloc(p->steps, cap * sizeof(*n));
        if (n == NULL)
            return false; /* the offset is committed later, not lost */
        p->steps = n;
        p->cap_steps = cap;
    }
    p->steps[p->n_steps++] = st;
    return true;
}

/* Under track_lock. */
static void
publish_locked(struct ik_state *s)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        struct ik_part *p = s->parts[i];
        if (p->has_local && push_step(p, p->local))
            p->has_local = false;
    }
}

static void
register_seq_locked(struct ik_state *s, uint64_t seq)
{
    if (s->seq_n == s->seq_cap) {
        size_t cap = s->seq_cap ? s->seq_cap * 2 : 256;
        uint64_t *seqs = malloc(cap * sizeof(*seqs));
        bool *done = malloc(cap * sizeof(*done));
        if (seqs == NULL || done == NULL) {
            free(seqs);
            free(done);
            return; /* unregistered: treated as done by the watermark */
        }
        for (size_t i = 0; i < s->seq_n; i++) {
            seqs[i] = s->seqs[(s->seq_head + i) % s->seq_cap];
            done[i] = s->done[(s->seq_head + i) % s->seq_cap];
        }
        free(s->seqs);
        free(s->done);
        s->seqs = seqs;
        s->done = done;
        s->seq_head = 0;
        s->seq_cap = cap;
    }
    s->seqs[(s->seq_head + s->seq_n) % s->seq_cap] = seq;
    s->done[(s->seq_head + s->seq_n) % s->seq_cap] = false;
    s->seq_n++;
}

void
ik_track(struct ik_state *s, struct ik_part *p, uint64_t seq, int64_t next)
{
    if (seq > s->last_seq) {
        /* A new batch: register it before it can be handed over, and
         * publish the steps of the batches before it. */
        pthread_mutex_lock(&s->track_lock);
        publish_locked(s);
        register_seq_locked(s, seq);
        pthread_mutex_unlock(&s->track_lock);
        s->last_seq = seq;
    }
    if (p->has_local && p->local.seq > seq)
        seq = p->local.seq; /* never before an earlier record's batch */
    p->local.seq = seq;
    p->local.next = next;
    p->has_local = true;
    p->position = next;
}

void
ik_track_publish(struct ik_state *s)
{
    pthread_mutex_lock(&s->track_lock);
    publish_locked(s);
    pthread_mutex_unlock(&s->track_lock);
}

void
ik_batch_done(void *state, uint64_t seq)
{
    struct ik_state *s = state;

    pthread_mutex_lock(&s->track_lock);
    for (size_t i = 0; i < s->seq_n; i++) {
        size_t k = (s->seq_head + i) % s->seq_cap;
        if (s->seqs[k] == seq) {
            s->done[k] = true;
            break;
        }
    }
    while (s->seq_n > 0 && s->done[s->seq_head]) {
        s->seq_head = (s->seq_head + 1) % s->seq_cap;
        s->seq_n--;
    }
    pthread_mutex_unlock(&s->track_lock);
}

bool
ik_track_idle(struct ik_state *s)
{
    bool idle;

    pthread_mutex_lock(&s->track_lock);
    idle = s->seq_n == 0;
    pthread_mutex_unlock(&s->track_lock);
    return idle;
}

static bool
in_list(const rd_kafka_topic_partition_list_t *l, const struct ik_part *p)
{
    for (int i = 0; l != NULL && i < l->cnt; i++)
        if (l->elems[i].partition == p->partition &&
            strcmp(l->elems[i].topic, p->topic) == 0)
            return true;
    return false;
}

bool
ik_signals_stored(struct ik_state *s, bool sync)
{
    const struct sn_host *h = s->ctx.host;

    if (!SN_HOST_HAS(h, signals_stored))
        return true;
    /* The target is the signals queued at the call, so a short wait ends
     * with the manager's next commit, even while signals keep coming (a
     * plain look would then almost never see the queue empty). */
    return h->signals_stored(s->ctx.inst, sync ? 2000 : 250);
}

/* rd_kafka_commit() without its wait for ever: a synchronous commit
 * with the coordinator unreachable blocked a stopping daemon for more
 * than 9 minutes (its brokers gone). The result is waited for up to
 * IK_COMMIT_WAIT_MS; after that the commit counts as failed (it may
 * still land: committing an offset again is harmless). */
#define IK_COMMIT_WAIT_MS 5000

rd_kafka_resp_err_t
ik_commit_offsets(struct ik_state *s, const rd_kafka_topic_partition_list_t *l,
                  bool sync)
{
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    rd_kafka_resp_err_t e;

    if (!sync)
        return rd_kafka_commit(s->rk, l, 1);
    q = rd_kafka_queue_new(s->rk);
    if (q == NULL)
        return RD_KAFKA_RESP_ERR__FAIL;
    e = rd_kafka_commit_queue(s->rk, l, q, NULL, NULL);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ev = rd_kafka_queue_poll(q, IK_COMMIT_WAIT_MS);
        e = ev != NULL ? rd_kafka_event_error(ev)
                       : RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (ev != NULL)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return e;
}

bool
ik_commit(struct ik_state *s, bool sync,
          const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    uint64_t low;

    /* Dead letters of the records being committed past must be durable
     * first. */
    ik_dlq_flush(s);
    l = rd_kafka_topic_partition_list_new((int)s->n_parts + 1);
    pthread_mutex_lock(&s->track_lock);
    low = s->seq_n > 0 ? s->seqs[s->seq_head] : UINT64_MAX;
    for (size_t i = 0; i < s->n_parts; i++) {
        struct ik_part *p = s->parts[i];
        size_t k = 0;

        while (k < p->n_steps && p->steps[k].seq < low)
            p->committable = p->steps[k++].next;
        if (k > 0) {
            memmove(p->steps, p->steps + k,
                    (p->n_steps - k) * sizeof(*p->steps));
            p->n_steps -= k;
        }
        /* Closing: an asynchronous commit may still be in flight or have
         * failed without its callback being served (the poll loop has
         * ended), so `committed` cannot be trusted; send every processed
         * offset once more, synchronously. */
        if ((p->committable > p->committed ||
             (s->closing && p->committable >= 0)) &&
            (only == NULL || in_list(only, p)))
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                ->offset = p->committable;
    }
    pthread_mutex_unlock(&s->track_lock);
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return true;
    }
    /* Exactly-once effect: the incidents these records caused must be in
     * the store before Kafka forgets the records. Their batches are done,
     * so their signals are queued; ask now, after taking the offsets. An
     * interval commit whose incidents are still not stored after a short
     * wait is left to the next interval. */
    if (!ik_signals_stored(s, sync)) {
        s->ctx.host->counter_add(s->c_commit_deferred, 1);
        rd_kafka_topic_partition_list_destroy(l);
        return false;
    }
    e = ik_commit_offsets(s, l, sync);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        s->ctx.host->counter_add(s->c_commit_errors, 1);
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "offset commit failed (retried at the next "
                         "interval): %s",
                         rd_kafka_err2str(e));
    } else {
        s->ctx.host->counter_add(s->c_commits, 1);
        pthread_mutex_lock(&s->track_lock);
        for (int i = 0; i < l->cnt; i++)
            for (size_t j = 0; j < s->n_parts; j++)
                if (s->parts[j]->partition == l->elems[i].partition &&
                    strcmp(s->parts[j]->topic, l->elems[i].topic) == 0 &&
                    s->parts[j]->committed < l->elems[i].offset)
                    s->parts[j]->committed = l->elems[i].offset;
        pthread_mutex_unlock(&s->track_lock);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void
ik_update_lag(struct ik_state *s)
{
    pthread_mutex_lock(&s->track_lock);
    for (size_t i = 0; i < s->n_parts; i++) {
        struct ik_part *p = s->parts[i];
        int64_t lo, hi;
        if (!p->assigned || p->position < 0 ||
            rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        s->ctx.host->gauge_set(p->lag, hi > p->position
                                           ? (uint64_t)(hi - p->position)
                                           : 0);
    }
    pthread_mutex_unlock(&s->track_lock);
}

void
ik_track_free(struct ik_state *s)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        free(s->parts[i]->topic);
        free(s->parts[i]->steps);
        free(s->parts[i]);
    }
    free(s->parts);
    free(s->seqs);
    free(s->done);
}
