/*
 * in_kafka emit thread: takes chunks of messages from the poll thread and
 * emits them into the pipeline. emit() may block while the pipeline is
 * full; that is why it runs here and not on the poll thread, which must
 * keep serving rebalances (librdkafka runs them from poll) and pauses the
 * partitions instead. Flushes the partial batch whenever it runs dry.
 */
#include "in_kafka.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * librdkafka fetch settings in_kafka starts from; a kafka.* key the user
 * sets wins. librdkafka 2.0 compares queued.min.messages and
 * queued.max.messages.kbytes with the whole consumer queue (every
 * partition's queue forwards into it), stops fetching when either is
 * reached, and looks again only at its broker threads' next wakeup, up to
 * a second later. With the defaults (100,000 messages, 64 MiB) a consumer
 * catching up drained the queue in a fraction of that second and then sat
 * idle (debug=fetch: "queued.min.messages exceeded", fetches 1 s apart).
 * The queue must hold about a second of work: 1,000,000 messages or
 * 256 MiB, the memory a backlog may take while it is read.
 */
static const char *const fetch_defaults[] = {
    "queued.min.messages", "1000000",
    "queued.max.messages.kbytes", "262144",
    NULL,
};

void
ik_fetch_defaults(rd_kafka_conf_t *conf, const struct sn_kvlist *user)
{
    char why[128];

    for (size_t i = 0; fetch_defaults[i] != NULL; i += 2) {
        bool set = false;

        for (size_t j = 0; user != NULL && j < user->n && !set; j++)
            set = strcmp(user->items[j].key, fetch_defaults[i]) == 0;
        if (!set)
            (void)rd_kafka_conf_set(conf, fetch_defaults[i],
                                    fetch_defaults[i + 1], why, sizeof(why));
    }
}

bool
ik_emitters_new(struct ik_state *s)
{
    const struct sn_host *h = s->ctx.host;
    unsigned n = h->n_workers ? h->n_workers(s->ctx.inst) : 1;

    s->ems = calloc(n ? n : 1, sizeof(*s->ems));
    if (s->ems == NULL)
        return false;
    for (s->n_ems = 0; s->n_ems < (n ? n : 1); s->n_ems++) {
        s->ems[s->n_ems] = h->emitter_new(s->ctx.inst, false);
        if (s->ems[s->n_ems] == NULL)
            return false;
    }
    return true;
}

void
ik_emitters_free(struct ik_state *s)
{
    for (unsigned i = 0; i < s->n_ems; i++)
        if (s->ems[i] != NULL)
            s->ctx.host->emitter_free(s->ems[i]);
    free(s->ems);
    s->ems = NULL;
    s->n_ems = 0;
}

/* Hand every partial batch over. */
static void
flush_all(struct ik_state *s)
{
    for (unsigned i = 0; i < s->n_ems; i++)
        s->ctx.host->flush(s->ems[i]);
}

static int64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Returns false when the pipeline is stopping (the rest is not emitted;
 * it was not committed either, so a restart reads it again). */
static bool
emit_chunk(struct ik_state *s, struct ik_chunk *ch)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_part *part = NULL;
    struct sn_emitter *em = NULL;
    const char *part_topic = NULL;
    int64_t now = wall_ns();
    bool ok = true;

    for (size_t i = 0; i < ch->n; i++) {
        rd_kafka_message_t *m = ch->msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        struct sn_record rec;
        enum sn_status rc;
        uint64_t seq;

        if (!ok)
            goto next;
        if (part == NULL || part->partition != m->partition ||
            part_topic != topic) {
            part = ik_part_get(s, topic, m->partition);
            part_topic = topic;
            if (part == NULL) {
                ok = false; /* out of memory: stop here, commit nothing */
                goto next;
            }
            em = s->ems[part->route % s->n_ems];
        }
        if (atomic_load(&part->ckpt_fenced)) {
            /* Another instance owns it now (in_kafka_ckpt.c): its state
             * here was released, and the owner reads these records. */
            h->counter_add(s->c_refetched, 1);
            goto next;
        }
        if (m->offset < atomic_load(&part->position)) {
            /* Handed over already while we held the partition: after a
             * broker outage librdkafka may fetch again from the committed
             * offset. Emitting it again would count it twice. */
            h->counter_add(s->c_refetched, 1);
            goto next;
        }
        memset(&rec, 0, sizeof(rec));
        rec.data.ptr = m->payload ? m->payload : "";
        rec.data.len = m->len;
        rec.recv_ns = now;
        rec.peer = topic;
        rec.transport = "kafka";
        rec.source_offset = m->offset;
        rec.source_part = m->partition;
        rc = h->emit(em, &rec);
        if (rc == SN_OK) {
            seq = h->emit_seq(em);
        } else if (rc == SN_ELIMIT || rc == SN_ENOMEM) {
            /* Too large for the pipeline: it never will fit, so it is
             * dead-lettered here and counts as processed. */
            ik_rejected(s, &rec, "record larger than the daemon's limit");
            seq = 0;
        } else {
            ok = false; /* stopping */
            goto next;
        }
        ik_track(s, part, seq, m->offset + 1);
    next:
        rd_kafka_message_destroy(m);
    }
    ch->n = 0;
    return ok;
}

void *
ik_emit_main(void *arg)
{
    struct ik_state *s = arg;
    bool ok = true;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct ik_chunk *ch;

        while (s->count == 0 && !s->emit_stop) {
            /* Idle: hand the partial batch over and say so (a revoke
             * waits for that). */
            pthread_mutex_unlock(&s->lock);
            flush_all(s);
            ik_track_publish(s);
            pthread_mutex_lock(&s->lock);
            if (s->count > 0 || s->emit_stop)
                break;
            s->emit_busy = false;
            pthread_cond_broadcast(&s->cond);
            pthread_cond_wait(&s->cond, &s->lock);
        }
        if (s->count == 0 && s->emit_stop)
            break;
        if (s->emit_stop)
            ok = false; /* stopping: not emitted, not committed */
        s->emit_busy = true;
        ch = &s->ring[s->head];
        pthread_mutex_unlock(&s->lock);
        if (ok)
            ok = emit_chunk(s, ch);
        else
            for (size_t i = 0; i < ch->n; i++)
                rd_kafka_message_destroy(ch->msgs[i]);
        ch->n = 0;
        pthread_mutex_lock(&s->lock);
        s->head = (s->head + 1) % IK_RING;
        s->count--;
        pthread_cond_broadcast(&s->cond);
    }
    s->emit_busy = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    flush_all(s);
    ik_track_publish(s);
    return NULL;
}
