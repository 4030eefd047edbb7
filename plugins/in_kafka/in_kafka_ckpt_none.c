/*
 * in_kafka without PostgreSQL (configure --without-postgres): the
 * `checkpoints` option is refused at init with the reason, so `sentineld
 * check` names it; the other entry points are never reached (s->ckpt
 * stays NULL) but must link. The real ones are in in_kafka_ckpt.c.
 */
#include "in_kafka.h"

#include <stdio.h>

enum sn_status
ik_ckpt_init(struct ik_state *s, char *err, size_t err_len)
{
    (void)s;
    snprintf(err, err_len,
             "checkpoints: this sentineld was built without PostgreSQL "
             "support (configure --without-postgres, no libpq)");
    return SN_ECONFIG;
}

void
ik_ckpt_start(struct ik_state *s)
{
    (void)s;
}

void
ik_ckpt_free(struct ik_state *s)
{
    (void)s;
}

bool
ik_ckpt_assign(struct ik_state *s, rd_kafka_topic_partition_list_t *parts)
{
    (void)s;
    (void)parts;
    return true;
}

bool
ik_ckpt_cycle(struct ik_state *s, const rd_kafka_topic_partition_list_t *only,
              bool sync)
{
    (void)s;
    (void)only;
    (void)sync;
    return true;
}

void
ik_ckpt_release(struct ik_state *s,
                const rd_kafka_topic_partition_list_t *parts)
{
    (void)s;
    (void)parts;
}
