/*
 * det_rules repartition hop: the producer of the repartition topic
 * (librdkafka). Idempotent (acks=all, ordered per partition, so one
 * source partition's matches reach each repartition partition in source
 * order: stage 2's replay marks rely on it). A worker produces its
 * batch's matches and waits for their delivery reports, served by a poll
 * thread, before the batch is released. det_rules_hop.c owns the rest.
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
        NULL,
    };
    rd_kafka_conf_t *conf;

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
