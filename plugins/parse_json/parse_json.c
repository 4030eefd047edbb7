/* parse_json: one JSON object per record; see plugins/common/json_event.h. */
#include <stdlib.h>

#include <sentineld/plugin.h>

#include "../common/json_event.h"

struct pj_conf {
    int64_t max_depth;
};

struct pj_state {
    const struct sn_host *host;
    int max_depth;
};

static const struct sn_option pj_options[] = {
    { "max_depth", SN_OPT_INT, "8", offsetof(struct pj_conf, max_depth),
      "nested objects deeper than this are kept as JSON text", 1, 32, NULL,
      false },
    { 0 },
};

static enum sn_status
pj_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    const struct pj_conf *c = config;
    struct pj_state *s = malloc(sizeof(*s));

    (void)inst;
    (void)err;
    (void)err_len;
    if (s == NULL)
        return SN_ENOMEM;
    s->host = host;
    s->max_depth = (int)c->max_depth;
    *state = s;
    return SN_OK;
}

static void
pj_destroy(void *state)
{
    free(state);
}

static enum sn_status
pj_parse(void *state, const struct sn_record *rec, struct sn_event *ev,
         char *why, size_t why_len, size_t *offset)
{
    struct pj_state *s = state;

    return json_event_parse(s->host, s->max_depth, rec, ev, why, why_len,
                            offset);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_parse_json = {
        SN_PLUGIN_HEADER,
        .name = "parse_json",
        .kind = SN_KIND_PARSER,
        .description = "one JSON object per record; schema keys fill the "
                       "header, other keys become fields",
        .version = "1",
        .options = pj_options,
        .config_size = sizeof(struct pj_conf),
        .init = pj_init,
        .destroy = pj_destroy,
        .parse = pj_parse,
    };
