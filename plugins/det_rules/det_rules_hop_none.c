/*
 * det_rules repartition hop without librdkafka (configure --without-kafka):
 * the option is refused at start, naming the reason.
 */
#include "det_rules.h"

#include <stdio.h>

enum sn_status
dr_hop_producer_new(struct dr_state *s, struct dr_hop_producer **out, char *err,
                    size_t err_len)
{
    (void)s;
    *out = NULL;
    snprintf(err, err_len,
             "repartition_topic: this sentineld was built "
             "without Kafka support");
    return SN_ECONFIG;
}

bool
dr_hop_producer_send(struct dr_hop_producer *p, const struct dr_hop_rec *recs,
                     size_t n, const char *base, bool wait)
{
    (void)p;
    (void)recs;
    (void)base;
    (void)wait;
    return n == 0;
}

bool
dr_hop_producer_flush(struct dr_hop_producer *p, int timeout_ms)
{
    (void)p;
    (void)timeout_ms;
    return true;
}

int32_t
dr_hop_producer_partition(struct dr_hop_producer *p, uint64_t hash, char *err,
                          size_t err_len)
{
    (void)p;
    (void)hash;
    snprintf(err, err_len, "built without Kafka support");
    return -1;
}

bool
dr_hop_producer_beat(struct dr_hop_producer *p, const void *rec, size_t len)
{
    (void)p;
    (void)rec;
    (void)len;
    return false;
}

void
dr_hop_producer_stop(struct dr_hop_producer *p)
{
    (void)p;
}

void
dr_hop_producer_free(struct dr_hop_producer *p)
{
    (void)p;
}
