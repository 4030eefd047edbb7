/*
 * out_kafka: events (JSON per event, keyed by a configured field) or
 * incidents (`take: incidents`: keyed by incident id, headers rule_id,
 * severity, version) to a Kafka topic through librdkafka's idempotent
 * producer (acks=all). Delivery is asynchronous: write()/deliver() answer
 * PENDING and the delivery reports, served by a poll thread, acknowledge
 * the batch (out_kafka_produce.c). This file: options, life cycle, the poll
 * thread. docs/kafka.md.
 */
#include "out_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EVENTS_TOPIC "sentineld.events"
#define DEFAULT_INCIDENTS_TOPIC "sentineld.alerts"

static const char *const compressions[] = { "none", "lz4", "zstd", "snappy",
                                            "gzip" };

static const struct sn_option ok_options[] = {
    { "brokers", SN_OPT_STRING, NULL, offsetof(struct ok_conf, brokers),
      "bootstrap servers, host:port[,host:port...]", 0, 0, NULL, true },
    { "topic", SN_OPT_STRING, NULL, offsetof(struct ok_conf, topic),
      "topic to produce to; default sentineld.events for events, "
      "sentineld.alerts for incidents",
      0, 0, NULL, false },
    { "key_field", SN_OPT_STRING, NULL, offsetof(struct ok_conf, key_field),
      "events: message key from this field (hostname or host.name, appname, "
      "procid, msgid, peer, or an extracted field such as source.ip); "
      "unset: no key",
      0, 0, NULL, false },
    { "compression", SN_OPT_ENUM, "none", offsetof(struct ok_conf, compression),
      "compression codec of message batches", 0, 0,
      "none|lz4|zstd|snappy|gzip", false },
    { "message_timeout", SN_OPT_DURATION, "60s",
      offsetof(struct ok_conf, message_timeout_ms),
      "how long librdkafka keeps retrying a message before the batch is "
      "handed back to the core as a retry",
      1000, 3600000, NULL, false },
    { "linger", SN_OPT_DURATION, "5ms", offsetof(struct ok_conf, linger_ms),
      "how long the producer waits to fill a message batch", 0, 5000, NULL,
      false },
    { "flush_timeout", SN_OPT_DURATION, "10s",
      offsetof(struct ok_conf, flush_timeout_ms),
      "at stop, how long to wait for outstanding delivery reports", 0,
      600000, NULL, false },
    { "kafka.", SN_OPT_MAP, NULL, offsetof(struct ok_conf, kafka),
      "librdkafka producer settings, passed as-is (kafka.security.protocol: "
      "ssl, kafka.sasl.mechanism: ...)",
      0, 0, NULL, false },
    { 0 },
};

static enum sn_status
parse_key_field(struct ok_state *s, char *err, size_t err_len)
{
    static const struct {
        const char *name;
        enum sn_field f;
    } headers[] = {
        { "hostname", SN_F_HOSTNAME }, { "host.name", SN_F_HOSTNAME },
        { "appname", SN_F_APPNAME },   { "app.name", SN_F_APPNAME },
        { "procid", SN_F_PROCID },     { "msgid", SN_F_MSGID },
    };
    const char *k = s->c->key_field;

    if (k == NULL) {
        s->key_kind = OK_KEY_NONE;
        return SN_OK;
    }
    if (k[0] == '\0') {
        snprintf(err, err_len, "key_field is empty");
        return SN_ECONFIG;
    }
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        if (strcmp(k, headers[i].name) == 0) {
            s->key_kind = OK_KEY_HEADER;
            s->key_header = headers[i].f;
            return SN_OK;
        }
    }
    /* Anything else names an extracted field ("peer" is handled as one
     * too: the record's sender). */
    s->key_kind = OK_KEY_FIELD;
    s->key_name.ptr = k;
    s->key_name.len = strlen(k);
    return SN_OK;
}

static enum sn_status
ok_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ok_state *s = calloc(1, sizeof(*s));
    enum sn_status rc;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->ctx.host = host;
    s->ctx.inst = inst;
    s->c = config;
    if (s->c->brokers[0] == '\0') {
        snprintf(err, err_len, "brokers is empty");
        return SN_ECONFIG;
    }
    if (s->c->topic != NULL && s->c->topic[0] == '\0') {
        snprintf(err, err_len, "topic is empty");
        return SN_ECONFIG;
    }
    if ((rc = parse_key_field(s, err, err_len)) != SN_OK)
        return rc;
    s->scratch = host->buf_new(16u * 1024 * 1024);
    if (s->scratch == NULL)
        return SN_ENOMEM;
    s->c_produced = host->counter(inst, "kafka_produced_total",
                                  "messages acknowledged by the brokers");
    s->c_errors = host->counter(inst, "kafka_delivery_errors_total",
                                "messages whose delivery failed (retried or "
                                "dead-lettered by the core)");
    s->c_queue_full = host->counter(inst, "kafka_queue_full_total",
                                    "times the producer queue was full and "
                                    "the output waited (back-pressure)");
    s->c_nokey = host->counter(inst, "kafka_events_without_key_total",
                               "events produced without a key because "
                               "key_field was absent");
    s->c_queue_depth = host->gauge(inst, "kafka_queue_depth", NULL,
                                   "messages waiting in the producer queue "
                                   "or for a delivery report");
    return SN_OK;
}

static void *
poll_main(void *arg)
{
    struct ok_state *s = arg;

    /* Delivery reports and errors are served here, never on the output
     * thread, so a full queue there cannot delay acknowledgements. */
    while (!atomic_load(&s->poller_stop)) {
        rd_kafka_poll(s->rk, 100);
        s->ctx.host->gauge_set(s->c_queue_depth,
                               (uint64_t)rd_kafka_outq_len(s->rk));
    }
    return NULL;
}

static enum sn_status
ok_start(void *state, char *err, size_t err_len)
{
    struct ok_state *s = state;
    char timeout[32], linger[32], why[512];
    const char *fixed[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "compression.codec", compressions[s->c->compression],
        "message.timeout.ms", timeout,
        "linger.ms", linger,
        NULL,
    };
    rd_kafka_conf_t *conf;

    snprintf(timeout, sizeof(timeout), "%lld",
             (long long)s->c->message_timeout_ms);
    snprintf(linger, sizeof(linger), "%lld", (long long)s->c->linger_ms);
    conf = kafka_conf_build(&s->ctx, s->c->brokers, fixed, &s->c->kafka, err,
                            err_len);
    if (conf == NULL)
        return SN_ECONFIG;
    rd_kafka_conf_set_dr_msg_cb(conf, ok_on_delivery);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (s->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, err_len, "cannot create the producer: %s", why);
        return SN_EPLUGIN;
    }
    s->t_events = rd_kafka_topic_new(
        s->rk, s->c->topic ? s->c->topic : DEFAULT_EVENTS_TOPIC, NULL);
    s->t_incidents = rd_kafka_topic_new(
        s->rk, s->c->topic ? s->c->topic : DEFAULT_INCIDENTS_TOPIC, NULL);
    if (s->t_events == NULL || s->t_incidents == NULL) {
        snprintf(err, err_len, "cannot create the topic handle: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        return SN_EPLUGIN;
    }
    atomic_store(&s->poller_stop, false);
    if (pthread_create(&s->poller, NULL, poll_main, s) != 0) {
        snprintf(err, err_len, "cannot create the poll thread");
        return SN_EPLUGIN;
    }
    s->poller_started = true;
    return SN_OK;
}

static void
shutdown_producer(struct ok_state *s)
{
    if (s->rk == NULL)
        return;
    /* The core waited for our acknowledgements before stopping us; this
     * only matters when its stop timed out. */
    if (rd_kafka_flush(s->rk, (int)s->c->flush_timeout_ms) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "%d messages still undelivered at stop",
                         rd_kafka_outq_len(s->rk));
    if (s->poller_started) {
        atomic_store(&s->poller_stop, true);
        pthread_join(s->poller, NULL);
        s->poller_started = false;
    }
    if (s->t_events != NULL)
        rd_kafka_topic_destroy(s->t_events);
    if (s->t_incidents != NULL)
        rd_kafka_topic_destroy(s->t_incidents);
    s->t_events = s->t_incidents = NULL;
    rd_kafka_destroy(s->rk);
    s->rk = NULL;
}

static void
ok_stop(void *state)
{
    shutdown_producer(state);
}

static void
ok_destroy(void *state)
{
    struct ok_state *s = state;

    if (s == NULL)
        return;
    shutdown_producer(s);
    if (s->scratch != NULL)
        s->ctx.host->buf_free(s->scratch);
    free(s);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_out_kafka = {
        SN_PLUGIN_HEADER,
        .name = "out_kafka",
        .kind = SN_KIND_OUTPUT,
        .description = "events or incidents to a Kafka topic (idempotent "
                       "producer, acknowledged by delivery reports)",
        .version = "1",
        .options = ok_options,
        .config_size = sizeof(struct ok_conf),
        .init = ok_init,
        .start = ok_start,
        .stop = ok_stop,
        .destroy = ok_destroy,
        .write = ok_write,
        .deliver = ok_deliver,
        .flags = SN_PLUGIN_WANTS_JSON,
    };
