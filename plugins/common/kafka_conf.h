/*
 * Shared by out_kafka and in_kafka: building a librdkafka configuration
 * from the plugin's options (brokers plus every `kafka.*` key passed
 * through as-is, so TLS and SASL settings work the way users already write
 * them) and routing librdkafka's own log lines to the daemon's log.
 * librdkafka types stay inside the Kafka plugins.
 */
#ifndef SN_PLUGINS_KAFKA_CONF_H
#define SN_PLUGINS_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include <sentineld/plugin.h>

/* First member of each Kafka plugin's state: rd_kafka's opaque points at
 * the state, and the log callback reads the host and instance from it. */
struct kafka_ctx {
    const struct sn_host *host;
    struct sn_instance *inst;
};

/*
 * A new configuration: bootstrap.servers = brokers, then `fixed` pairs
 * (NULL-terminated name/value array) the plugin depends on, then the
 * user's `kafka.*` map. A user key that contradicts a fixed one is an
 * error (e.g. enable.idempotence=false on out_kafka). NULL on error with
 * the key and librdkafka's reason in err.
 */
rd_kafka_conf_t *kafka_conf_build(struct kafka_ctx *ctx, const char *brokers,
                                  const char *const *fixed,
                                  const struct sn_kvlist *user, char *err,
                                  size_t err_len);

#endif
