/*
 * det_rules repartition hop: the producer of the repartition topic
 * (librdkafka). Idempotent (acks=all, ordered per partition, so one
 * source partition's matches reach each repartition partition in source
 * order: stage 2's replay marks rely on it). A worker produces its
 * batch's matches and waits for their delivery reports, served by a poll
 * thread, before the batch is released. At start it creates the
 * repartition topic if missing, partitioned like the events topic.
 * det_rules_hop.c owns the rest.
 */
#include "det_rules.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/kafka_conf.h"

/* repartition_ack batch: how long librdkafka retries one message before
 * reporting it failed, which bounds a worker's wait while the cluster is
 * unreachable. checkpoint: forever (0); the checkpoint waits instead. */
#define HOP_MSG_TIMEOUT_MS "30000"

struct dr_hop_producer {
    struct kafka_ctx ctx; /* first: rd_kafka's opaque */
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    pthread_t poller;
    bool poller_started;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t failed; /* messages sent without waiting that failed */
    _Atomic int32_t n_parts;     /* of the topic, once read (0: not yet) */
};

/* One worker's wait: messages without a report, and whether one failed.
 * Under the producer's mu. */
struct pending {
    size_t outstanding;
    bool failed;
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dr_hop_producer *p = opaque;
    struct pending *w = m->_private;

    (void)rk;
    if (w == NULL) {
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            atomic_fetch_add(&p->failed, 1);
    } else {
        pthread_mutex_lock(&p->mu);
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            w->failed = true;
        w->outstanding--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        p->ctx.host->log(p->ctx.inst, SN_LOG_ERROR,
                         "repartition topic: a match was not delivered: %s",
                         rd_kafka_err2str(m->err));
}

/* How long start waits for the cluster's answers about the topics. */
#define HOP_ADMIN_TIMEOUT_MS 10000

/* What start needs to know of the cluster: both topics' partitions (0:
 * not there) and whether its controller, which creates topics, is one of
 * its brokers. */
struct cluster_view {
    int like, have;
    bool controller;
};

static int
topic_partitions(const rd_kafka_metadata_t *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0)
            return md->topics[i].partition_cnt;
    }
    return 0;
}

/* Reads the metadata of all topics (asking for one named topic lets a
 * producer's request auto-create it). False when the cluster cannot be
 * asked (logged). */
static bool
cluster_view(struct dr_hop_producer *p, const struct dr_conf *c,
             struct cluster_view *v)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(p->rk, 1, NULL, &md, HOP_ADMIN_TIMEOUT_MS);
    int32_t ctl;

    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->ctx.host->log(p->ctx.inst, SN_LOG_ERROR,
                         "repartition topic %s: cannot read the cluster's "
                         "topics: %s; not created by sentineld",
                         c->hop_topic, rd_kafka_err2str(e));
        return false;
    }
    v->like = topic_partitions(md, c->hop_like);
    v->have = topic_partitions(md, c->hop_topic);
    /* Known from this answer or the first one (-1 until then). */
    ctl = rd_kafka_controllerid(p->rk, 2000);
    v->controller = false;
    for (int i = 0; i < md->broker_cnt && !v->controller; i++)
        v->controller = md->brokers[i].id == ctl;
    rd_kafka_metadata_destroy(md);
    return true;
}

/* Asks the cluster to create the repartition topic with N partitions.
 * SN_OK when it did or another instance just did; SN_EPLUGIN with the
 * broker's reason when it refused. The request failing as a whole (the
 * cluster unreachable, timed out) is logged, not fatal: the topic may be created later by
 * another instance or by hand, and nothing else here waits for Kafka. */
static enum sn_status
create_topic(struct dr_hop_producer *p, const struct dr_conf *c, int n,
             char *err, size_t err_len)
{
    char why[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(
        c->hop_topic, n, (int)c->hop_replication, why, sizeof(why));
    rd_kafka_queue_t *q = rd_kafka_queue_new(p->rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    enum sn_status rc = SN_OK;

    if (nt == NULL) {
        snprintf(err, err_len, "repartition topic %s: %s", c->hop_topic, why);
        rc = SN_ECONFIG;
        goto out;
    }
    rd_kafka_AdminOptions_set_operation_timeout(o, HOP_ADMIN_TIMEOUT_MS, why,
                                                sizeof(why));
    rd_kafka_AdminOptions_set_request_timeout(o, HOP_ADMIN_TIMEOUT_MS, why,
                                              sizeof(why));
    rd_kafka_CreateTopics(p->rk, &nt, 1, o, q);
    ev = rd_kafka_queue_poll(q, HOP_ADMIN_TIMEOUT_MS + 2000);
    if (ev == NULL || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->ctx.host->log(p->ctx.inst, SN_LOG_ERROR,
                         "repartition topic %s: the request to create it "
                         "failed: %s; not created by sentineld",
                         c->hop_topic,
                         ev == NULL ? "timed out"
                                    : rd_kafka_event_error_string(ev));
    } else {
        size_t nr;
        const rd_kafka_topic_result_t **r = rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(ev), &nr);
        rd_kafka_resp_err_t e = nr == 1 ? rd_kafka_topic_result_error(r[0])
                                        : RD_KAFKA_RESP_ERR__BAD_MSG;

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->ctx.host->log(p->ctx.inst, SN_LOG_INFO,
                             "repartition topic %s created with %d "
                             "partitions, like %s",
                             c->hop_topic, n, c->hop_like);
        } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            /* Another instance starting at the same time made it. */
        } else {
            const char *msg = nr == 1 ? rd_kafka_topic_result_error_string(r[0])
                                      : NULL;
            snprintf(err, err_len,
                     "repartition topic %s: the broker refused to create it "
                     "(%d partitions, replication factor %lld): %s%s%s",
                     c->hop_topic, n, (long long)c->hop_replication,
                     rd_kafka_err2str(e), msg != NULL && msg[0] ? ": " : "",
                     msg != NULL ? msg : "");
            rc = SN_EPLUGIN;
        }
    }
out:
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (nt != NULL)
        rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* The repartition topic, partitioned like the events topic: created if
 * missing (a broker's auto-creation would give it its default count, often
 * 1: correct, but every hopped correlation on one instance). One with
 * fewer partitions is left as it is: adding partitions moves keys to
 * other partitions, away from their checkpointed windows. Runs before
 * the producer names the topic (its metadata request could auto-create
 * it) and before the inputs start (the consumer then finds it). */
static enum sn_status
ensure_topic(struct dr_hop_producer *p, const struct dr_conf *c, char *err,
             size_t err_len)
{
    const struct sn_host *host = p->ctx.host;
    struct cluster_view v;
    enum sn_status rc;
    struct timespec t0, now;

    if (c->hop_like == NULL || c->hop_like[0] == '\0')
        return SN_OK;
    if (!cluster_view(p, c, &v))
        return SN_OK;
    if (v.like == 0) {
        host->log(p->ctx.inst, SN_LOG_ERROR,
                  "repartition topic %s: the events topic %s does not exist, "
                  "nothing to size it by; not created by sentineld",
                  c->hop_topic, c->hop_like);
        return SN_OK;
    }
    if (v.have > 0) {
        if (v.have < v.like)
            host->log(p->ctx.inst, SN_LOG_WARN,
                      "repartition topic %s has %d partitions, fewer than "
                      "the %d of events topic %s: hopped correlations run on "
                      "at most %d instances (left as it is)",
                      c->hop_topic, v.have, v.like, c->hop_like, v.have);
        return SN_OK;
    }
    /* The Admin API waits for the controller: a cluster naming none of
     * its brokers (librdkafka's mock cluster) would hold the start for
     * the whole timeout, and cannot create topics anyway. */
    if (!v.controller) {
        host->log(p->ctx.inst, SN_LOG_ERROR,
                  "repartition topic %s: the cluster names no controller to "
                  "create it with %d partitions, like %s; not created by "
                  "sentineld (create it by hand)",
                  c->hop_topic, v.like, c->hop_like);
        return SN_OK;
    }
    rc = create_topic(p, c, v.like, err, err_len);
    if (rc != SN_OK)
        return rc;
    /* A new topic reaches every broker's metadata a little later; the
     * consumer of repartition_input, subscribing next, must see it. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct timespec ts = { 0, 100 * 1000000L };

        if (!cluster_view(p, c, &v) || v.have > 0)
            break;
        nanosleep(&ts, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000 < HOP_ADMIN_TIMEOUT_MS);
    return SN_OK;
}

static void *
poll_main(void *arg)
{
    struct dr_hop_producer *p = arg;

    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

enum sn_status
dr_hop_producer_new(struct dr_state *s, struct dr_hop_producer **out, char *err,
                    size_t err_len)
{
    struct dr_hop_producer *p = calloc(1, sizeof(*p));
    char linger[32], why[512];
    const char *fixed[] = {
        "enable.idempotence",
        "true",
        "acks",
        "all",
        "linger.ms",
        linger,
        "message.timeout.ms",
        s->c->hop_ack == 0 ? HOP_MSG_TIMEOUT_MS : "0",
        /* The default, pinned: the owner of a key's partition creates
         * the expected keys it maps (dr_hop_producer_partition). */
        "partitioner",
        "consistent_random",
        NULL,
    };
    rd_kafka_conf_t *conf;
    enum sn_status rc;

    if (p == NULL)
        return SN_ENOMEM;
    *out = p;
    p->ctx.host = s->host;
    p->ctx.inst = s->inst;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    snprintf(linger, sizeof(linger), "%lld", (long long)s->c->hop_linger_ms);
    conf =
        kafka_conf_build(&p->ctx, s->c->hop_brokers, fixed, NULL, err, err_len);
    if (conf == NULL)
        return SN_ECONFIG;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, err_len, "repartition producer: %s", why);
        return SN_EPLUGIN;
    }
    rc = ensure_topic(p, s->c, err, err_len);
    if (rc != SN_OK)
        return rc;
    p->topic = rd_kafka_topic_new(p->rk, s->c->hop_topic, NULL);
    if (p->topic == NULL) {
        snprintf(err, err_len, "repartition topic %s: %s", s->c->hop_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return SN_EPLUGIN;
    }
    if (pthread_create(&p->poller, NULL, poll_main, p) != 0) {
        snprintf(err, err_len, "cannot create the repartition poll thread");
        return SN_EPLUGIN;
    }
    p->poller_started = true;
    return SN_OK;
}

bool
dr_hop_producer_send(struct dr_hop_producer *p, const struct dr_hop_rec *recs,
                     size_t n, const char *base, bool wait)
{
    struct pending w = { 0, false };
    bool ok = true;

    for (size_t i = 0; i < n; i++) {
        char key[17];

        /* Keyed by the correlation key's hash: the default partitioner
         * (a hash of the key) sends one key to one partition. */
        snprintf(key, sizeof(key), "%016llx", (unsigned long long)recs[i].hash);
        if (wait) {
            pthread_mutex_lock(&p->mu);
            w.outstanding++;
            pthread_mutex_unlock(&p->mu);
        }
        for (;;) {
            rd_kafka_resp_err_t e;

            if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA,
                                 RD_KAFKA_MSG_F_COPY,
                                 (void *)(base + recs[i].off), recs[i].len, key,
                                 16, wait ? &w : NULL) == 0)
                break;
            e = rd_kafka_last_error();
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !atomic_load(&p->stop)) {
                struct timespec ts = { 0, 5 * 1000000L };
                nanosleep(&ts, NULL);
                continue;
            }
            p->ctx.host->log(p->ctx.inst, SN_LOG_ERROR,
                             "repartition topic: cannot produce: %s",
                             rd_kafka_err2str(e));
            if (wait) {
                pthread_mutex_lock(&p->mu);
                w.outstanding--;
                pthread_mutex_unlock(&p->mu);
            }
            ok = false;
            break;
        }
        if (!ok)
            break;
    }
    pthread_mutex_lock(&p->mu);
    while (w.outstanding > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    ok = ok && !w.failed;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

bool
dr_hop_producer_flush(struct dr_hop_producer *p, int timeout_ms)
{
    /* rd_kafka_flush serves the delivery reports itself (as the poll
     * thread does): both may run. */
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    if (atomic_exchange(&p->failed, 0) > 0)
        return false; /* reported, but lost: the checkpoint must not cover them
                       */
    return true;
}

int32_t
dr_hop_producer_partition(struct dr_hop_producer *p, uint64_t hash, char *err,
                          size_t err_len)
{
    int32_t n = atomic_load(&p->n_parts);
    char key[17];

    if (n <= 0) {
        const rd_kafka_metadata_t *md;
        rd_kafka_resp_err_t e =
            rd_kafka_metadata(p->rk, 0, p->topic, &md, HOP_ADMIN_TIMEOUT_MS);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, err_len, "cannot read its partitions: %s",
                     rd_kafka_err2str(e));
            return -1;
        }
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (n <= 0) {
            snprintf(err, err_len, "the cluster lists no partition of it");
            return -1;
        }
        atomic_store(&p->n_parts, n);
    }
    /* As dr_hop_producer_send keys it; consistent_random hashes a
     * non-empty key like consistent. */
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)hash);
    return rd_kafka_msg_partitioner_consistent(p->topic, key, 16, n, NULL,
                                               NULL);
}

bool
dr_hop_producer_beat(struct dr_hop_producer *p, const void *rec, size_t len)
{
    int32_t n = atomic_load(&p->n_parts);
    char err[256];

    /* The partition count, once: read here (a metadata request) unless
     * expected keys read it first. */
    if (n <= 0 && dr_hop_producer_partition(p, 0, err, sizeof(err)) < 0)
        return false;
    n = atomic_load(&p->n_parts);
    for (int32_t i = 0; i < n; i++)
        if (rd_kafka_produce(p->topic, i, RD_KAFKA_MSG_F_COPY, (void *)rec,
                             len, NULL, 0, NULL) != 0)
            return false; /* a full queue: the next tick beats again */
    return n > 0;
}

void
dr_hop_producer_stop(struct dr_hop_producer *p)
{
    if (p == NULL || p->rk == NULL)
        return;
    rd_kafka_flush(p->rk, 2000);
    atomic_store(&p->stop, true);
    if (p->poller_started) {
        pthread_join(p->poller, NULL);
        p->poller_started = false;
    }
}

void
dr_hop_producer_free(struct dr_hop_producer *p)
{
    if (p == NULL)
        return;
    dr_hop_producer_stop(p);
    if (p->topic != NULL)
        rd_kafka_topic_destroy(p->topic);
    if (p->rk != NULL)
        rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
