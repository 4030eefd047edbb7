/* parse_rfc3164: RFC 3164 (BSD) syslog as rsyslog and syslog-ng accept it. The work is in plugins/common/syslog_event.c. */
#include "../common/syslog_event.h"

static enum sn_status
p_init(const struct sn_host *host, struct sn_instance *inst,
       const void *config, void **state, char *err, size_t err_len)
{
    (void)inst;
    return syslog_parser_init(host, MODE_RFC3164, config, state, err, err_len);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_parse_rfc3164 = {
        SN_PLUGIN_HEADER,
        .name = "parse_rfc3164",
        .kind = SN_KIND_PARSER,
        .description = "RFC 3164 (BSD) syslog as rsyslog and syslog-ng accept it",
        .version = "1",
        .options = syslog_parser_options,
        .config_size = sizeof(struct syslog_conf),
        .init = p_init,
        .destroy = syslog_parser_destroy,
        .parse = syslog_parser_parse,
    };
