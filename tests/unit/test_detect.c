/* sn_syslog_detect: which parser a record goes to first. */
#include "syslog/detect.h"

#include <string.h>

#include "sn_test.h"

static enum sn_syslog_format
detect(const char *s)
{
    return sn_syslog_detect(s, strlen(s));
}

SN_TEST(rfc5424)
{
    CHECK_EQ(detect("<165>1 2003-10-11T22:14:15.003Z host app - ID47 - x"),
             SN_FMT_RFC5424);
    CHECK_EQ(detect("<0>1 - - - - - -"), SN_FMT_RFC5424);
    /* RFC 5424 6.2.2: VERSION is a non-zero digit and up to two more. */
    CHECK_EQ(detect("<13>12 x"), SN_FMT_RFC5424);
    CHECK_EQ(detect("<13>999 x"), SN_FMT_RFC5424);
    /* Out-of-range PRI still looks like 5424; the parser rejects it and
     * the caller falls back. */
    CHECK_EQ(detect("<999>1 x"), SN_FMT_RFC5424);
}

SN_TEST(rfc3164)
{
    CHECK_EQ(detect("<38>Nov 23 12:00:01 host sshd[1]: x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<13>0 x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<13>1000 x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<13>1x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<13>1"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<1234>1 x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<>1 x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("1 2026-11-23T12:00:00Z h a - - - x"), SN_FMT_RFC3164);
    CHECK_EQ(detect("<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: x"),
             SN_FMT_RFC3164);
    CHECK_EQ(detect("<13>{\"a\":1}"), SN_FMT_RFC3164);
    CHECK_EQ(detect("plain text"), SN_FMT_RFC3164);
    CHECK_EQ(sn_syslog_detect("", 0), SN_FMT_RFC3164);
    CHECK_EQ(sn_syslog_detect("<13>1 ", 5), SN_FMT_RFC3164);
}

SN_TEST(json)
{
    CHECK_EQ(detect("{\"msg\":\"x\"}"), SN_FMT_JSON);
    CHECK_EQ(detect(" \t\r\n{}"), SN_FMT_JSON);
    CHECK_EQ(detect("  ["), SN_FMT_RFC3164);
    CHECK_EQ(detect("   "), SN_FMT_RFC3164);
}

SN_TEST(names)
{
    CHECK_STR(sn_syslog_format_name(SN_FMT_RFC5424), "rfc5424");
    CHECK_STR(sn_syslog_format_name(SN_FMT_RFC3164), "rfc3164");
    CHECK_STR(sn_syslog_format_name(SN_FMT_JSON), "json");
}

SN_TEST_MAIN(SN_T(rfc5424), SN_T(rfc3164), SN_T(json), SN_T(names))
