/*
 * Fan-out of the partition state calls to the detectors and the incident
 * manager, and the blob that holds their sections (partition.h).
 */
#include "pipeline/partition.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "pipeline/pipeline.h"

#define MAGIC     "SNPART01"
#define MAGIC_LEN 8
#define INCIDENTS "incidents"

static enum sn_status
put_section(struct sn_buf *out, const char *name, const struct sn_buf *data)
{
    uint32_t nl = (uint32_t)strlen(name);
    uint64_t dl = data->len;
    enum sn_status rc = sn_buf_append(out, &nl, sizeof(nl));

    if (rc == SN_OK)
        rc = sn_buf_append(out, name, nl);
    if (rc == SN_OK)
        rc = sn_buf_append(out, &dl, sizeof(dl));
    if (rc == SN_OK && dl > 0)
        rc = sn_buf_append(out, data->data, data->len);
    return rc;
}

static bool
has_partition_state(const struct sn_instance *d)
{
    return d->kind == SN_KIND_DETECTOR && d->p->partition_checkpoint != NULL &&
           d->p->partition_restore != NULL;
}

static void
section_name(const struct sn_instance *d, char *out, size_t len)
{
    snprintf(out, len, "detector:%s", d->name);
}

enum sn_status
sn_partition_checkpoint(struct sn_instance *in, const char *topic,
                        int32_t partition, struct sn_buf *out)
{
    struct sn_pipeline *pl = in->pl;
    struct sn_partition p = { in->name, topic, partition };
    struct sn_buf part;
    char name[256];
    enum sn_status rc = sn_buf_append(out, MAGIC, MAGIC_LEN);

    sn_buf_init(&part, out->max);
    for (size_t i = 0; rc == SN_OK && i < pl->n_insts; i++) {
        struct sn_instance *d = &pl->insts[i];

        if (!has_partition_state(d))
            continue;
        sn_buf_reset(&part);
        rc = d->p->partition_checkpoint(d->state, &p, &part);
        section_name(d, name, sizeof(name));
        if (rc == SN_OK)
            rc = put_section(out, name, &part);
    }
    if (rc == SN_OK && pl->incidents_partition_export != NULL) {
        sn_buf_reset(&part);
        rc = pl->incidents_partition_export(pl->signal_sink_arg, &p, &part);
        if (rc == SN_OK)
            rc = put_section(out, INCIDENTS, &part);
    }
    sn_buf_fini(&part);
    return rc;
}

/* Find section `name` in blob; false when absent. */
static bool
find_section(const unsigned char *blob, size_t len, const char *name,
             const void **data, size_t *dlen)
{
    size_t at = MAGIC_LEN, want = strlen(name);

    while (at + sizeof(uint32_t) <= len) {
        uint32_t nl;
        uint64_t dl;

        memcpy(&nl, blob + at, sizeof(nl));
        at += sizeof(nl);
        if (nl > len - at || len - at - nl < sizeof(dl))
            return false;
        const unsigned char *nm = blob + at;
        at += nl;
        memcpy(&dl, blob + at, sizeof(dl));
        at += sizeof(dl);
        if (dl > len - at)
            return false;
        if (nl == want && memcmp(nm, name, nl) == 0) {
            *data = dl > 0 ? blob + at : NULL;
            *dlen = (size_t)dl;
            return true;
        }
        at += (size_t)dl;
    }
    return false;
}

enum sn_status
sn_partition_restore(struct sn_instance *in, const char *topic,
                     int32_t partition, const void *data, size_t len,
                     char *err, size_t err_len)
{
    struct sn_pipeline *pl = in->pl;
    struct sn_partition p = { in->name, topic, partition };
    enum sn_status rc = SN_OK;
    char name[256];

    if (data != NULL && (len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN))) {
        snprintf(err, err_len,
                 "partition %s[%d] checkpoint: not a sentineld partition "
                 "checkpoint (%zu bytes, no " MAGIC " header)",
                 topic, (int)partition, len);
        return SN_EINVAL;
    }
    /* The incidents first: a detector's restored state raises signals
     * (a merge crossing a threshold, a fired window's update due at the
     * next tick) that must fold into the imported incidents; imported
     * after them, the import would replace what they added. */
    if (pl->incidents_partition_import != NULL) {
        const void *sd = NULL;
        size_t sl = 0;

        if (data != NULL)
            find_section(data, len, INCIDENTS, &sd, &sl);
        rc = pl->incidents_partition_import(pl->signal_sink_arg, &p, sd, sl,
                                            err, err_len);
    }
    for (size_t i = 0; rc == SN_OK && i < pl->n_insts; i++) {
        struct sn_instance *d = &pl->insts[i];
        const void *sd = NULL;
        size_t sl = 0;

        if (!has_partition_state(d))
            continue;
        section_name(d, name, sizeof(name));
        if (data != NULL)
            find_section(data, len, name, &sd, &sl);
        rc = d->p->partition_restore(d->state, &p, sd, sl, err, err_len);
    }
    return rc;
}

void
sn_partition_release(struct sn_instance *in, const char *topic,
                     int32_t partition)
{
    struct sn_pipeline *pl = in->pl;
    struct sn_partition p = { in->name, topic, partition };

    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *d = &pl->insts[i];

        if (has_partition_state(d) && d->p->partition_release != NULL)
            d->p->partition_release(d->state, &p);
    }
    if (pl->incidents_partition_release != NULL)
        pl->incidents_partition_release(pl->signal_sink_arg, &p);
}
