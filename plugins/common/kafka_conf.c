/* librdkafka configuration from plugin options; see kafka_conf.h. */
#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kafka_ctx *ctx = rd_kafka_opaque(rk);
    enum sn_log_level l = level <= 3   ? SN_LOG_ERROR
                          : level <= 4 ? SN_LOG_WARN
                          : level <= 6 ? SN_LOG_INFO
                                       : SN_LOG_DEBUG;

    if (ctx != NULL)
        ctx->host->log(ctx->inst, l, "librdkafka %s: %s", fac, buf);
}

static int
set(rd_kafka_conf_t *conf, const char *k, const char *v, const char *origin,
    char *err, size_t err_len)
{
    char why[256];

    if (rd_kafka_conf_set(conf, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(err, err_len, "%s%s: %s", origin, k, why);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *
kafka_conf_build(struct kafka_ctx *ctx, const char *brokers,
                 const char *const *fixed, const struct sn_kvlist *user,
                 char *err, size_t err_len)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, ctx);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (set(conf, "bootstrap.servers", brokers, "", err, err_len) != 0)
        goto fail;
    for (size_t i = 0; fixed != NULL && fixed[i] != NULL; i += 2)
        if (set(conf, fixed[i], fixed[i + 1], "", err, err_len) != 0)
            goto fail;
    for (size_t i = 0; user != NULL && i < user->n; i++) {
        const char *k = user->items[i].key, *v = user->items[i].value;
        for (size_t j = 0; fixed != NULL && fixed[j] != NULL; j += 2) {
            if (strcmp(k, fixed[j]) == 0 && strcmp(v, fixed[j + 1]) != 0) {
                snprintf(err, err_len,
                         "kafka.%s: must be %s here (the plugin's delivery "
                         "guarantee depends on it)",
                         k, fixed[j + 1]);
                goto fail;
            }
        }
        if (set(conf, k, v, "kafka.", err, err_len) != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
