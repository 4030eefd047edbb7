/*
 * Parsing one message for the command-line tools (`sentineld parse`,
 * `sentineld test`): RFC 5424, RFC 3164, or per message (auto: RFC 5424
 * when it looks like it, falling back to RFC 3164 when rejected, as
 * rsyslog's parser chain does; a JSON object in the event schema).
 */
#ifndef SN_CLI_PARSE_INPUT_H
#define SN_CLI_PARSE_INPUT_H

#include <stdbool.h>

#include "core/arena.h"
#include "syslog/detect.h"
#include "syslog/msg.h"
#include "syslog/rfc3164.h"

enum sn_cli_format {
    SN_CLI_FMT_AUTO = 0,
    SN_CLI_FMT_RFC5424,
    SN_CLI_FMT_RFC3164,
};

/* What a parse produced besides the message. */
struct sn_cli_parsed {
    enum sn_syslog_format format;
    bool fell_back;                      /* RFC 5424 rejected, then 3164 */
    struct sn_parse_error rejected_5424; /* why, when fell_back */
};

/* Parse p[0..len) into m (slices of p and arena memory). SN_EINVAL with
 * err filled when rejected. memo (may be NULL) is the RFC 3164 parser's
 * (sn_rfc3164_parse_memo), kept by the caller across the lines of a run. */
enum sn_status sn_cli_parse_message(enum sn_cli_format mode,
                                    const struct sn_rfc3164_opts *opts,
                                    struct sn_rfc3164_memo *memo,
                                    const char *p, size_t len,
                                    struct sn_arena *arena,
                                    struct sn_syslog_msg *m,
                                    struct sn_cli_parsed *res,
                                    struct sn_parse_error *err);

#endif
