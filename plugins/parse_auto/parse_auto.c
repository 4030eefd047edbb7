/* parse_auto: per message: RFC 5424 when it looks like it, JSON for an object, else RFC 3164. The work is in plugins/common/syslog_event.c. */
#include "../common/json_event.h"
#include "../common/syslog_event.h"

static enum sn_status
p_init(const struct sn_host *host, struct sn_instance *inst,
       const void *config, void **state, char *err, size_t err_len)
{
    enum sn_status rc;

    (void)inst;
    rc = syslog_parser_init(host, MODE_AUTO, config, state, err, err_len);
    if (*state != NULL)
        ((struct syslog_parser *)*state)->json_parse = json_event_parse;
    return rc;
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_parse_auto = {
        SN_PLUGIN_HEADER,
        .name = "parse_auto",
        .kind = SN_KIND_PARSER,
        .description = "per message: RFC 5424 when it looks like it, else RFC 3164",
        .version = "1",
        .options = syslog_parser_options,
        .config_size = sizeof(struct syslog_conf),
        .init = p_init,
        .destroy = syslog_parser_destroy,
        .parse = syslog_parser_parse,
    };
