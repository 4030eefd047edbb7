/*
 * out_kafka internals shared by its files: out_kafka.c (options, life
 * cycle, the poll thread), out_kafka_produce.c (events and incidents to
 * messages, delivery reports to acknowledgements).
 */
#ifndef SN_PLUGINS_OUT_KAFKA_H
#define SN_PLUGINS_OUT_KAFKA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include <sentineld/plugin.h>

#include "../common/kafka_conf.h"

struct ok_conf {
    const char *brokers;
    const char *topic;
    const char *key_field;
    int compression;
    int64_t message_timeout_ms;
    int64_t linger_ms;
    int64_t flush_timeout_ms;
    struct sn_kvlist kafka;
};

/* What the key is taken from (events). */
enum ok_key_kind { OK_KEY_NONE, OK_KEY_HEADER, OK_KEY_FIELD };

struct ok_state {
    struct kafka_ctx ctx; /* first: rd_kafka's opaque */
    const struct ok_conf *c;
    rd_kafka_t *rk;
    rd_kafka_topic_t *t_events, *t_incidents;
    enum ok_key_kind key_kind;
    enum sn_field key_header;
    struct sn_str key_name;
    pthread_t poller;
    bool poller_started;
    atomic_bool poller_stop;
    struct sn_buf *scratch; /* event JSON when the core did not render it */
    struct sn_counter *c_produced, *c_errors, *c_queue_full, *c_queue_depth,
        *c_nokey;
};

/* One write()/deliver() call in flight: acknowledged when its last
 * message has a delivery report. */
struct ok_pending {
    struct ok_state *s;
    uint64_t token;
    atomic_size_t outstanding; /* messages without a report, +1 guard */
    atomic_int result;         /* worst so far: OK < RETRY < FAIL */
    atomic_bool has_reason;
    char reason[200];
};

/* Delivery report callback (runs on the poll thread). */
void ok_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

enum sn_out_result ok_write(void *state, struct sn_batch *b, uint64_t token,
                            char *why, size_t why_len);
enum sn_out_result ok_deliver(void *state, const struct sn_doc *docs, size_t n,
                              uint64_t token, char *why, size_t why_len);

#endif
