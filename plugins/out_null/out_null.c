/*
 * out_null: accept and discard every event (fluent-bit has the same): for
 * benchmarks that measure the pipeline without an output's own cost, and
 * for dry runs of a configuration. Delivered events are still counted.
 */
#include <sentineld/plugin.h>

static enum sn_out_result
null_write(void *state, struct sn_batch *b, uint64_t token, char *why,
           size_t why_len)
{
    (void)state;
    (void)b;
    (void)token;
    (void)why;
    (void)why_len;
    return SN_OUT_OK;
}

static enum sn_status
null_init(const struct sn_host *host, struct sn_instance *inst,
          const void *config, void **state, char *err, size_t err_len)
{
    (void)host;
    (void)inst;
    (void)config;
    (void)err;
    (void)err_len;
    *state = NULL;
    return SN_OK;
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_out_null = {
        SN_PLUGIN_HEADER,
        .name = "out_null",
        .kind = SN_KIND_OUTPUT,
        .description = "discard every event (benchmarks, dry runs)",
        .version = "1",
        .init = null_init,
        .write = null_write,
    };
