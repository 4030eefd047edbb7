/*
 * parse_raw: the whole record is the message. For plain text logs that
 * have no syslog header; detection rules then extract what they need.
 */
#include <stdlib.h>

#include <sentineld/plugin.h>

struct raw_state {
    const struct sn_host *host;
};

static enum sn_status
raw_init(const struct sn_host *host, struct sn_instance *inst,
         const void *config, void **state, char *err, size_t err_len)
{
    struct raw_state *s = malloc(sizeof(*s));

    (void)inst;
    (void)config;
    (void)err;
    (void)err_len;
    if (s == NULL)
        return SN_ENOMEM;
    s->host = host;
    *state = s;
    return SN_OK;
}

static void
raw_destroy(void *state)
{
    free(state);
}

static enum sn_status
raw_parse(void *state, const struct sn_record *rec, struct sn_event *ev,
          char *why, size_t why_len, size_t *offset)
{
    struct raw_state *s = state;

    (void)why;
    (void)why_len;
    (void)offset;
    s->host->event_set(ev, SN_F_MSG, rec->data.ptr, rec->data.len);
    return SN_OK;
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_parse_raw = {
        SN_PLUGIN_HEADER,
        .name = "parse_raw",
        .kind = SN_KIND_PARSER,
        .description = "the whole record is the message",
        .version = "1",
        .init = raw_init,
        .destroy = raw_destroy,
        .parse = raw_parse,
    };
