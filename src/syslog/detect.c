/*
 * Syslog format detection from the first bytes of a record; see detect.h.
 * It decides only which parser to try first, never whether a record is
 * valid: the parsers do that.
 */
#include "syslog/detect.h"

#include <stdbool.h>

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 5424 6: HEADER = PRI VERSION SP ...; PRI = "<" PRIVAL ">" with
 * PRIVAL 1-3 digits; VERSION = NONZERO-DIGIT 0*2DIGIT (6.2.2). */
static bool
looks_5424(const char *p, size_t len)
{
    size_t i = 1, n;

    if (len < 1 || p[0] != '<')
        return false;
    for (n = 0; i < len && n < 3 && is_digit(p[i]); n++)
        i++;
    if (n == 0 || i >= len || p[i] != '>')
        return false;
    i++;
    if (i >= len || p[i] < '1' || p[i] > '9')
        return false;
    for (n = 1, i++; i < len && n < 3 && is_digit(p[i]); n++)
        i++;
    return i < len && p[i] == ' ';
}

enum sn_syslog_format
sn_syslog_detect(const char *p, size_t len)
{
    size_t i = 0;

    if (looks_5424(p, len))
        return SN_FMT_RFC5424;
    while (i < len &&
           (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < len && p[i] == '{')
        return SN_FMT_JSON;
    return SN_FMT_RFC3164;
}

const char *
sn_syslog_format_name(enum sn_syslog_format f)
{
    switch (f) {
    case SN_FMT_RFC5424:
        return "rfc5424";
    case SN_FMT_JSON:
        return "json";
    case SN_FMT_RFC3164:
        break;
    }
    return "rfc3164";
}
