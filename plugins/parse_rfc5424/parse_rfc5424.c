/* parse_rfc5424: RFC 5424 syslog, exact to the ABNF (falls back to RFC 3164 when enabled). The work is in plugins/common/syslog_event.c. */
#include "../common/syslog_event.h"

static enum sn_status
p_init(const struct sn_host *host, struct sn_instance *inst,
       const void *config, void **state, char *err, size_t err_len)
{
    (void)inst;
    return syslog_parser_init(host, MODE_RFC5424, config, state, err, err_len);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_parse_rfc5424 = {
        SN_PLUGIN_HEADER,
        .name = "parse_rfc5424",
        .kind = SN_KIND_PARSER,
        .description = "RFC 5424 syslog, exact to the ABNF (falls back to RFC 3164 when enabled)",
        .version = "1",
        .options = syslog_parser_options,
        .config_size = sizeof(struct syslog_conf),
        .init = p_init,
        .destroy = syslog_parser_destroy,
        .parse = syslog_parser_parse,
    };
