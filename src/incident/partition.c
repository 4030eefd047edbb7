/*
 * The incident side of partition state (manager.h). Placeholder that
 * keeps incidents per instance, as before partition state existed: export
 * writes nothing, import and release change nothing.
 */
#include "incident/manager.h"

enum sn_status
sn_manager_partition_export(void *arg, const struct sn_partition *p,
                            struct sn_buf *out)
{
    (void)arg;
    (void)p;
    (void)out;
    return SN_OK;
}

enum sn_status
sn_manager_partition_import(void *arg, const struct sn_partition *p,
                            const void *data, size_t len, char *err,
                            size_t err_len)
{
    (void)arg;
    (void)p;
    (void)data;
    (void)len;
    (void)err;
    (void)err_len;
    return SN_OK;
}

void
sn_manager_partition_release(void *arg, const struct sn_partition *p)
{
    (void)arg;
    (void)p;
}
