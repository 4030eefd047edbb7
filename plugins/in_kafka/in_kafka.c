/*
 * in_kafka: a Kafka consumer group member (librdkafka high-level consumer)
 * feeding the pipeline. This file: options, life cycle and the poll
 * thread (run()), which takes messages in chunks, serves rebalances,
 * commits processed offsets and pauses the assigned partitions while the
 * emit thread (in_kafka_emit.c) is behind. At-least-once: an offset is
 * committed only after the batches holding every record before it were
 * released by all detectors and outputs (in_kafka_track.c).
 * docs/kafka.md.
 */
#include "in_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct sn_option ik_options[] = {
    { "brokers", SN_OPT_STRING, NULL, offsetof(struct ik_conf, brokers),
      "bootstrap servers, host:port[,host:port...]", 0, 0, NULL, true },
    { "topics", SN_OPT_LIST, NULL, offsetof(struct ik_conf, topics),
      "topics to consume; an entry starting with ^ is a regular expression",
      0, 0, NULL, true },
    { "group", SN_OPT_STRING, "sentineld", offsetof(struct ik_conf, group),
      "consumer group id; instances in one group share the partitions", 0, 0,
      NULL, false },
    { "start_at", SN_OPT_ENUM, "earliest", offsetof(struct ik_conf, start_at),
      "where a partition without a committed offset starts", 0, 0,
      "earliest|latest", false },
    { "commit_interval", SN_OPT_DURATION, "1s",
      offsetof(struct ik_conf, commit_interval_ms),
      "how often processed offsets are committed", 10, 60000, NULL, false },
    { "rebalance_timeout", SN_OPT_DURATION, "30s",
      offsetof(struct ik_conf, rebalance_timeout_ms),
      "on revocation, how long to wait for the partitions' events to be "
      "processed before committing and giving them up",
      0, 600000, NULL, false },
    { "pause_when_full", SN_OPT_BOOL, "false",
      offsetof(struct ik_conf, pause_when_full),
      "pause the partitions while the pipeline is behind, so the consumer "
      "keeps serving rebalances; off: the consumer waits for the pipeline "
      "(librdkafka 2.0 was seen to leave a resumed partition stalled)",
      0, 0, NULL, false },
    { "dead_letter_topic", SN_OPT_STRING, NULL,
      offsetof(struct ik_conf, dlq_topic),
      "messages the parsers reject go to this topic (headers: reason, "
      "source_topic, source_partition, source_offset)",
      0, 0, NULL, false },
    { "dead_letter_file", SN_OPT_STRING, NULL,
      offsetof(struct ik_conf, dlq_file),
      "messages the parsers reject are appended here as JSON lines", 0, 0,
      NULL, false },
    { "kafka.", SN_OPT_MAP, NULL, offsetof(struct ik_conf, kafka),
      "librdkafka consumer settings, passed as-is (kafka.security.protocol: "
      "ssl, kafka.sasl.mechanism: ...)",
      0, 0, NULL, false },
    { "checkpoints", SN_OPT_STRING, NULL, offsetof(struct ik_conf, checkpoints),
      "PostgreSQL DSN (libpq string or postgresql:// URL) of the partition "
      "checkpoints: detector and incident state saved with the offsets, so "
      "another instance takes a partition over without losing or "
      "double-counting a window (docs/scaling.md)",
      0, 0, NULL, false },
    { "instance_id", SN_OPT_STRING, NULL, offsetof(struct ik_conf, instance_id),
      "static group membership (KIP-345): this member's stable id, sent as "
      "group.instance.id; \"auto\" derives one from the host name and "
      "daemon.state_dir. A member restarted within kafka.session.timeout.ms "
      "gets its partitions back without a rebalance; a member that stops "
      "for good keeps them unread until that timeout (docs/kafka.md)",
      0, 0, NULL, false },
    { "checkpoint_interval", SN_OPT_DURATION, "0",
      offsetof(struct ik_conf, checkpoint_interval_ms),
      "with checkpoints: how often the partitions' state and offsets are "
      "saved (each one briefly stops emitting); 0: commit_interval",
      0, 3600000, NULL, false },
    { 0 },
};

int64_t
ik_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum sn_status
ik_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ik_state *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->c = config;
    s->dlq_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->track_lock, NULL);
    pthread_mutex_init(&s->dlq_lock, NULL);
    if (s->c->brokers[0] == '\0') {
        snprintf(err, err_len, "brokers is empty");
        return SN_ECONFIG;
    }
    if (s->c->topics.n == 0) {
        snprintf(err, err_len, "topics is empty");
        return SN_ECONFIG;
    }
    for (size_t i = 0; i < s->c->topics.n; i++)
        if (s->c->topics.items[i][0] == '\0') {
            snprintf(err, err_len, "topics[%zu] is empty", i);
            return SN_ECONFIG;
        }
    if (s->c->group[0] == '\0') {
        snprintf(err, err_len, "group is empty");
        return SN_ECONFIG;
    }
    if (s->c->instance_id != NULL &&
        !ik_member_id_valid(s->c->instance_id, err, err_len))
        return SN_ECONFIG;
    s->c_consumed = host->counter(inst, "kafka_consumed_total",
                                  "messages taken from Kafka");
    s->c_dead = host->counter(inst, "kafka_dead_letters_total",
                              "messages rejected by the parsers (sent to the "
                              "dead-letter destination when configured)");
    s->c_dead_failed = host->counter(inst, "kafka_dead_letter_errors_total",
                                     "dead letters that could not be written");
    s->c_commits = host->counter(inst, "kafka_commits_total",
                                 "offset commits sent");
    s->c_commit_errors = host->counter(inst, "kafka_commit_errors_total",
                                       "offset commits that failed");
    s->c_commit_deferred =
        host->counter(inst, "kafka_commits_deferred_total",
                      "offset commits put off because incidents the "
                      "records caused were not yet in the incident store");
    s->c_paused = host->counter(inst, "kafka_pauses_total",
                                "times the partitions were paused because "
                                "the pipeline was full (back-pressure)");
    s->c_rebalances = host->counter(inst, "kafka_rebalances_total",
                                    "partition assignments and revocations");
    s->c_refetched = host->counter(inst, "kafka_refetched_skipped_total",
                                   "messages fetched again (after a broker "
                                   "outage) and skipped: already handed to "
                                   "the pipeline; or of a partition another "
                                   "instance took over (fenced)");
    if (s->c->checkpoints != NULL)
        return ik_ckpt_init(s, err, err_len);
    return SN_OK;
}

/* An asynchronous commit that failed: forget that it was sent, so the
 * next commit (periodic, revoke or stop) sends those offsets again. */
static void
on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
          rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct ik_state *s = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR ||
        err == RD_KAFKA_RESP_ERR__NO_OFFSET || offsets == NULL)
        return;
    s->ctx.host->counter_add(s->c_commit_errors, 1);
    s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                     "offset commit failed (sent again): %s",
                     rd_kafka_err2str(err));
    pthread_mutex_lock(&s->track_lock);
    for (int i = 0; i < offsets->cnt; i++)
        for (size_t j = 0; j < s->n_parts; j++)
            if (s->parts[j]->partition == offsets->elems[i].partition &&
                strcmp(s->parts[j]->topic, offsets->elems[i].topic) == 0 &&
                s->parts[j]->committed <= offsets->elems[i].offset)
                s->parts[j]->committed = -1;
    pthread_mutex_unlock(&s->track_lock);
}

static size_t n_assigned(struct ik_state *s);

static void
set_assigned(struct ik_state *s, const rd_kafka_topic_partition_list_t *l,
             bool assigned)
{
    for (int i = 0; i < l->cnt; i++) {
        struct ik_part *p =
            ik_part_get(s, l->elems[i].topic, l->elems[i].partition);
        if (p != NULL) {
            p->assigned = assigned;
            /* A new assignment starts from the committed offset: what we
             * handed over before is not ours to skip any more. */
            atomic_store(&p->position, -1);
        }
    }
}

bool
ik_drain(struct ik_state *s, int64_t *emitted_ms)
{
    int64_t deadline = ik_mono_ms() + s->c->rebalance_timeout_ms;

    pthread_mutex_lock(&s->lock);
    while ((s->count > 0 || s->emit_busy) && s->emitter_started &&
           ik_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    if (emitted_ms != NULL)
        *emitted_ms = ik_mono_ms();
    while (!ik_track_idle(s) && ik_mono_ms() < deadline) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (ik_track_idle(s))
        return true;
    s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                     "events still in flight after %lld ms; committing "
                     "what was processed (the rest is read again)",
                     (long long)s->c->rebalance_timeout_ms);
    return false;
}

/* A checkpoint of parts (NULL: every assigned partition), tried again
 * every 500 ms through a PostgreSQL outage until rebalance_timeout has
 * passed, or (leave_on_stop) the daemon is stopping; true once saved. */
static bool
checkpoint_retrying(struct ik_state *s,
                    const rd_kafka_topic_partition_list_t *parts,
                    bool leave_on_stop)
{
    int64_t deadline = ik_mono_ms() + s->c->rebalance_timeout_ms;

    while (!ik_ckpt_cycle(s, parts, true)) {
        struct timespec ts = { 0, 500 * 1000000L };

        if (ik_mono_ms() >= deadline ||
            (leave_on_stop && s->ctx.host->stopping(s->ctx.inst)))
            return false;
        nanosleep(&ts, NULL);
    }
    return true;
}

/* Revocation with checkpoints: save the partitions' state and offsets
 * before giving them up, retrying a PostgreSQL outage up to the
 * rebalance timeout; failing that, the next owner resumes from the last
 * row and reads the rest again (the same state gives the same
 * incidents). */
static void
revoke_checkpoint(struct ik_state *s,
                  const rd_kafka_topic_partition_list_t *parts, bool keep)
{
    int64_t t0 = ik_mono_ms();
    bool ok;

    ik_drain(s, NULL);
    if (!keep) {
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "checkpoints: %d partitions lost (session timed "
                         "out): released without a checkpoint; their next "
                         "owner reads again from their last one",
                         parts->cnt);
        return;
    }
    ok = checkpoint_retrying(s, parts, true);
    s->ctx.host->log(s->ctx.inst, ok ? SN_LOG_INFO : SN_LOG_WARN,
                     ok ? "checkpoints: %d revoked partitions saved (%lld ms)"
                        : "checkpoints: %d revoked partitions could not be "
                          "saved in %lld ms; their next owner reads again "
                          "from their last checkpoint",
                     parts->cnt, (long long)(ik_mono_ms() - t0));
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
             rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct ik_state *s = opaque;
    /* NULL while the consumer closes (librdkafka 2.0): a SIGTERM of two
     * instances at once crashed here (bench_kafka.sh catch-up). */
    const char *proto = rd_kafka_rebalance_protocol(rk);
    bool cooperative = proto != NULL && strcmp(proto, "COOPERATIVE") == 0;

    s->ctx.host->counter_add(s->c_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        s->got_assignment = true;
        set_assigned(s, parts, true);
        /* Cooperative assignment hands over increments: say the total. */
        s->ctx.host->log(s->ctx.inst, SN_LOG_INFO,
                         "assigned %d partitions (%zu in all, %s)", parts->cnt,
                         n_assigned(s), cooperative ? "cooperative" : "eager");
        /* With checkpoints the partitions' state comes back first and
         * each starts at its row's offset (in_kafka_ckpt.c). Not at stop
         * (close_consumer waits for a first assignment): the detectors
         * may be gone, nothing of these partitions is emitted any more,
         * and their rows stay as they are for the next owner. */
        if (s->ckpt != NULL && !s->closing && !ik_ckpt_assign(s, parts))
            return; /* stopping while PostgreSQL was down */
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        return;
    }
    /* Revoked (or lost): flush what we hold, commit what was processed,
     * then let go. */
    s->ctx.host->log(s->ctx.inst, SN_LOG_INFO,
                     "revoking %d partitions: flushing and committing",
                     parts->cnt);
    if (s->ckpt != NULL) {
        /* At stop, ik_run() checkpointed already and the detectors may
         * be gone: only let go. A lost assignment is not ours to
         * checkpoint: the new owner resumes from the last row. */
        if (!s->closing) {
            revoke_checkpoint(s, parts,
                              err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
                                  !rd_kafka_assignment_lost(rk));
            ik_ckpt_release(s, parts);
        }
    } else {
        if (!s->closing)
            ik_drain(s, NULL);
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
            !rd_kafka_assignment_lost(rk))
            ik_commit(s, true, parts);
    }
    set_assigned(s, parts, false);
    s->ctx.host->log(s->ctx.inst, SN_LOG_INFO,
                     "revoked %d partitions (%zu left)", parts->cnt,
                     n_assigned(s));
    if (s->paused_list != NULL && cooperative) {
        /* Only these partitions go: the rest stay paused, and the
         * resume must still find them (an emptied list left them paused
         * for good after a cooperative hand-over under back-pressure). */
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_del(s->paused_list,
                                              parts->elems[i].topic,
                                              parts->elems[i].partition);
    } else if (s->paused_list != NULL) {
        rd_kafka_topic_partition_list_destroy(s->paused_list);
        s->paused_list = NULL;
        s->paused = false;
    }
    if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

/*
 * Pause (or resume) the assigned partitions we already consumed from.
 * Partitions without a message yet are left fetching: librdkafka 2.0 can
 * leave a partition paused before its first fetch stalled after resume
 * (seen in bench/bench_kafka.sh); their first messages are few. Resumed
 * partitions are also sought to the next offset we need, so a fetch that
 * did stop restarts; messages still buffered here are skipped when
 * fetched again (in_kafka_emit.c).
 */
static void
set_paused(struct ik_state *s, bool pause)
{
    rd_kafka_topic_partition_list_t *l = NULL, *sel;

    if (pause) {
        if (rd_kafka_assignment(s->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        sel = rd_kafka_topic_partition_list_new(l->cnt);
        for (int i = 0; i < l->cnt; i++) {
            struct ik_part *p =
                ik_part_get(s, l->elems[i].topic, l->elems[i].partition);
            /* A fenced partition stays paused (in_kafka_ckpt.c): not
             * in the list, so the resume leaves it alone. */
            if (p != NULL && atomic_load(&p->position) >= 0 &&
                !atomic_load(&p->ckpt_fenced))
                rd_kafka_topic_partition_list_add(sel, p->topic, p->partition);
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_pause_partitions(s->rk, sel);
        s->ctx.host->counter_add(s->c_paused, 1);
        if (s->paused_list != NULL)
            rd_kafka_topic_partition_list_destroy(s->paused_list);
        s->paused_list = sel;
        s->paused = true;
        return;
    }
    s->paused = false;
    if ((sel = s->paused_list) == NULL)
        return;
    s->paused_list = NULL;
    rd_kafka_resume_partitions(s->rk, sel);
    for (int i = 0; i < sel->cnt; i++) {
        struct ik_part *p =
            ik_part_get(s, sel->elems[i].topic, sel->elems[i].partition);
        sel->elems[i].offset = p != NULL ? atomic_load(&p->position) : -1;
    }
    {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, sel, 0);
        if (e != NULL)
            rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(sel);
}

static enum sn_status
ik_start(void *state, char *err, size_t err_len)
{
    struct ik_state *s = state;
    const char *fixed[] = {
        "group.id", s->c->group,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", s->c->start_at == 0 ? "earliest" : "latest",
        NULL, NULL, /* group.instance.id, with instance_id */
        NULL,
    };
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_conf_t *conf;
    rd_kafka_resp_err_t e;
    char why[512];
    enum sn_status rc;

    if ((rc = ik_dlq_open(s, err, err_len)) != SN_OK)
        return rc;
    if (s->c->instance_id != NULL) {
        ik_member_id(s, s->member_id, sizeof(s->member_id));
        fixed[8] = "group.instance.id";
        fixed[9] = s->member_id;
        s->ctx.host->log(s->ctx.inst, SN_LOG_INFO,
                         "static group membership: group.instance.id %s",
                         s->member_id);
    }
    conf = kafka_conf_build(&s->ctx, s->c->brokers, fixed, &s->c->kafka, err,
                            err_len);
    if (conf == NULL)
        return SN_ECONFIG;
    ik_fetch_defaults(conf, &s->c->kafka);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (s->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, err_len, "cannot create the consumer: %s", why);
        return SN_EPLUGIN;
    }
    rd_kafka_poll_set_consumer(s->rk);
    s->cq = rd_kafka_queue_get_consumer(s->rk);
    topics = rd_kafka_topic_partition_list_new((int)s->c->topics.n);
    for (size_t i = 0; i < s->c->topics.n; i++)
        rd_kafka_topic_partition_list_add(topics, s->c->topics.items[i],
                                          RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(s->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "subscribe: %s", rd_kafka_err2str(e));
        return SN_EPLUGIN;
    }
    if (!ik_emitters_new(s))
        return SN_ENOMEM;
    if (s->ckpt != NULL)
        ik_ckpt_start(s);
    return SN_OK;
}

/* Hand a chunk to the emit thread; waits only if the ring is full, which
 * pausing at half of it should prevent. */
static void
push_chunk(struct ik_state *s, rd_kafka_message_t **msgs, size_t n)
{
    pthread_mutex_lock(&s->lock);
    while (s->count == IK_RING)
        pthread_cond_wait(&s->cond, &s->lock);
    memcpy(s->ring[(s->head + s->count) % IK_RING].msgs, msgs,
           n * sizeof(*msgs));
    s->ring[(s->head + s->count) % IK_RING].n = n;
    s->count++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void
handle_error(struct ik_state *s, rd_kafka_message_t *m)
{
    /* Partition EOF is not an error; the rest are logged and librdkafka
     * recovers (broker down, coordinator moves). */
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN, "consumer: %s%s%s",
                         rd_kafka_err2str(m->err), m->rkt ? " on " : "",
                         m->rkt ? rd_kafka_topic_name(m->rkt) : "");
    rd_kafka_message_destroy(m);
}

/* At stop the pipeline still runs until this thread returns: the last
 * checkpoint of every assigned partition, so the next owner (or this
 * instance restarted) continues exactly there. Retries a PostgreSQL
 * outage up to the rebalance timeout. */
static void
stop_checkpoint(struct ik_state *s)
{
    int64_t t0 = ik_mono_ms();
    bool ok = checkpoint_retrying(s, NULL, false);

    s->ctx.host->log(s->ctx.inst, ok ? SN_LOG_INFO : SN_LOG_WARN,
                     ok ? "checkpoints: partitions saved at stop (%lld ms)"
                        : "checkpoints: could not save the partitions at "
                          "stop in %lld ms; their next owner reads again "
                          "from their last checkpoint",
                     (long long)(ik_mono_ms() - t0));
}

static void
ik_run(void *state)
{
    struct ik_state *s = state;
    const struct sn_host *h = s->ctx.host;
    rd_kafka_message_t *msgs[IK_CHUNK_MAX];
    int64_t commit_every = s->ckpt != NULL && s->c->checkpoint_interval_ms > 0
                               ? s->c->checkpoint_interval_ms
                               : s->c->commit_interval_ms;

    if (pthread_create(&s->emitter, NULL, ik_emit_main, s) != 0) {
        h->log(s->ctx.inst, SN_LOG_ERROR, "cannot create the emit thread");
        return;
    }
    s->emitter_started = true;
    s->last_commit_ms = ik_mono_ms();
    while (!h->stopping(s->ctx.inst)) {
        ssize_t n = rd_kafka_consume_batch_queue(s->cq, 100, msgs,
                                                 IK_CHUNK_MAX);
        size_t kept = 0;
        size_t count;

        for (ssize_t i = 0; i < n; i++) {
            if (msgs[i]->err != RD_KAFKA_RESP_ERR_NO_ERROR)
                handle_error(s, msgs[i]);
            else
                msgs[kept++] = msgs[i];
        }
        if (kept > 0) {
            h->counter_add(s->c_consumed, kept);
            push_chunk(s, msgs, kept);
        }
        pthread_mutex_lock(&s->lock);
        count = s->count;
        pthread_mutex_unlock(&s->lock);
        if (!s->c->pause_when_full)
            ; /* push_chunk() waits while the ring is full */
        else if (!s->paused && count >= IK_PAUSE_AT)
            set_paused(s, true);
        else if (s->paused && count <= IK_RESUME_AT)
            set_paused(s, false);
        if (ik_mono_ms() - s->last_commit_ms >= commit_every) {
            if (s->ckpt != NULL)
                ik_ckpt_cycle(s, NULL, false);
            else
                ik_commit(s, false, NULL);
            ik_update_lag(s);
            s->last_commit_ms = ik_mono_ms();
        }
    }
    pthread_mutex_lock(&s->lock);
    s->emit_stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->emitter, NULL);
    s->emitter_started = false;
    if (s->ckpt != NULL)
        stop_checkpoint(s);
}

static size_t
n_assigned(struct ik_state *s)
{
    size_t n = 0;

    pthread_mutex_lock(&s->track_lock);
    for (size_t i = 0; i < s->n_parts; i++)
        n += s->parts[i]->assigned;
    pthread_mutex_unlock(&s->track_lock);
    return n;
}

/* Serve the consumer (rebalance callbacks) until `until`, or sooner once
 * nothing is assigned when that is asked. Messages polled meanwhile are
 * dropped: they were never handed over, so they are not committed. */
static void
serve_until(struct ik_state *s, int64_t until, bool until_unassigned)
{
    while (ik_mono_ms() < until && !(until_unassigned && n_assigned(s) == 0)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 50);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
}

/*
 * Leave the group ourselves: unsubscribe and serve the revocation from
 * our own poll, until nothing is assigned or the deadline passes.
 * librdkafka 2.0 hung for ever in rd_kafka_assign() when
 * rd_kafka_consumer_close() ran the revocation while the group was
 * rebalancing (librdkafka issue 4884): two instances stopped at once hung
 * 4 times in 16 here. True when nothing is assigned any more.
 */
static bool
leave_group(struct ik_state *s, int64_t deadline)
{
    if (rd_kafka_unsubscribe(s->rk) == RD_KAFKA_RESP_ERR_NO_ERROR)
        serve_until(s, deadline, true);
    return n_assigned(s) == 0;
}

/*
 * librdkafka before 2.3.0 aborts (assertion `assignor_state` in
 * rd_kafka_sticky_assignor_state_destroy, librdkafka issue 4312) when a
 * cooperative-sticky consumer is destroyed after joining the group but
 * before its first assignment: the shipped detector example stopped
 * while the group was still assigning (a rolling restart,
 * scale_three.sh) died with SIGABRT. True when destroying s->rk is
 * unsafe: such a library, that assignor, and no assignment yet.
 */
static bool
sticky_destroy_unsafe(struct ik_state *s)
{
    char v[128];
    size_t len = sizeof(v);

    if (s->got_assignment || rd_kafka_version() >= 0x02030000)
        return false;
    if (rd_kafka_conf_get(rd_kafka_conf(s->rk), "partition.assignment.strategy",
                          v, &len) != RD_KAFKA_CONF_OK)
        return false;
    return strstr(v, "cooperative-sticky") != NULL;
}

/* The consumer's share of a stop: commit, leave the group, destroy. A
 * group that cannot settle (coordinator gone, a rebalance that never
 * ends) must not hold the daemon: after IK_STOP_MS the consumer is
 * destroyed without leaving; the group then notices at
 * session.timeout.ms, and what was not committed is read again. False when
 * the handle had to be left to the exit (sticky_destroy_unsafe). */
#define IK_STOP_MS 10000

static bool
close_consumer(struct ik_state *s)
{
    int64_t deadline = ik_mono_ms() + IK_STOP_MS;
    bool left;

    /* The core stopped the pipeline first: every batch is back, so this
     * commits everything that was processed. A coordinator still
     * recovering (after an outage) fails a commit now and then: a few
     * tries before the restart would read these events again. With
     * checkpoints, ik_run() committed what the last checkpoint covers,
     * and nothing may run ahead of it. */
    s->closing = true;
    /* First the assignment the group is computing, if any (bounded):
     * destroying before it is safe only with a fixed librdkafka. */
    while (sticky_destroy_unsafe(s) && ik_mono_ms() < deadline - 2000) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 50);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    for (int i = 0; s->ckpt == NULL && i < 10 && ik_mono_ms() < deadline &&
                    !ik_commit(s, true, NULL);
         i++) {
        struct timespec ts = { 0, 500 * 1000000L };
        nanosleep(&ts, NULL);
    }
    left = leave_group(s, deadline > ik_mono_ms() + 2000
                              ? deadline
                              : ik_mono_ms() + 2000);
    if (left) {
        /* The LeaveGroup goes out once the revocation is done: a moment
         * for it, so the group rebalances now rather than at
         * session.timeout.ms. */
        serve_until(s, ik_mono_ms() + 300, false);
    } else {
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "the group did not take the partitions back within "
                         "%d s; closing without leaving it (the group "
                         "reassigns them after session.timeout.ms)",
                         IK_STOP_MS / 1000);
    }
    /* Not rd_kafka_consumer_close(): the group is left already, and
     * close still hung now and then in librdkafka 2.0 when a rebalance
     * had started meanwhile (waiting for the group handler to end). */
    rd_kafka_queue_destroy(s->cq);
    if (sticky_destroy_unsafe(s)) {
        /* No assignment came in time: leave the handle (and s, its
         * callbacks' opaque) to the process's exit rather than abort (a
         * reload keeps them until then). */
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "no assignment came before the stop: the consumer "
                         "is left to the process's exit (librdkafka %s aborts "
                         "destroying a cooperative-sticky consumer before "
                         "its first assignment; fixed in 2.3.0)",
                         rd_kafka_version_str());
        return false;
    }
    rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    /* librdkafka's threads may still be ending: a process that exits
     * meanwhile crashed LeakSanitizer's exit check under the ASan build
     * (1 stop in 2 of kafka_stop_together.sh). It waits for every
     * librdkafka handle of the process: the full 2 s while an out_kafka
     * producer is still alive. */
    (void)rd_kafka_wait_destroyed(2000);
    return true;
}

static void
ik_destroy(void *state)
{
    struct ik_state *s = state;

    if (s == NULL)
        return;
    ik_emitters_free(s);
    if (s->rk != NULL && !close_consumer(s))
        return; /* left to the process's exit, see sticky_destroy_unsafe */
    if (s->paused_list != NULL)
        rd_kafka_topic_partition_list_destroy(s->paused_list);
    ik_dlq_close(s);
    ik_ckpt_free(s);
    ik_track_free(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->track_lock);
    pthread_mutex_destroy(&s->dlq_lock);
    free(s);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_in_kafka = {
        SN_PLUGIN_HEADER,
        .name = "in_kafka",
        .kind = SN_KIND_INPUT,
        .description = "Kafka consumer group member; offsets committed "
                       "after the events are processed (at-least-once)",
        .version = "1",
        .options = ik_options,
        .config_size = sizeof(struct ik_conf),
        .init = ik_init,
        .start = ik_start,
        .destroy = ik_destroy,
        .run = ik_run,
        .batch_done = ik_batch_done,
        .rejected = ik_rejected,
        .default_parser = "auto",
    };
