/*
 * Which syslog format a record is in, decided from its first bytes only
 * (no full parse): RFC 5424, RFC 3164 or a JSON object. Used by
 * `sentineld parse --format auto` and the auto parser, which try RFC 5424
 * on what looks like it and fall back to RFC 3164 when it is rejected, as
 * rsyslog's default parser chain (pmrfc5424, then pmrfc3164) does.
 */
#ifndef SN_SYSLOG_DETECT_H
#define SN_SYSLOG_DETECT_H

#include <stddef.h>

enum sn_syslog_format {
    SN_FMT_RFC3164 = 0, /* the catch-all: everything else */
    SN_FMT_RFC5424,
    SN_FMT_JSON,
};

/*
 * SN_FMT_RFC5424 when p starts with a PRI ("<" 1-3 digits ">") followed by
 * a VERSION (RFC 5424 6.2.2: a non-zero digit and up to two more) and a
 * space; SN_FMT_JSON when the first byte that is not a space, tab, CR or
 * LF is '{'; SN_FMT_RFC3164 otherwise (including len 0). Looks at no more
 * than the first few bytes, except for the whitespace before a '{'.
 */
enum sn_syslog_format sn_syslog_detect(const char *p, size_t len);

/* "rfc5424", "rfc3164" or "json" (the "format" key of `sentineld parse`). */
const char *sn_syslog_format_name(enum sn_syslog_format f);

#endif
