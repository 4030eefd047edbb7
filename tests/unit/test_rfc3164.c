/*
 * sn_rfc3164_parse on real-world lines: Debian daemons as rsyslog forwards
 * them, logger --rfc3164, Cisco IOS/ASA, Juniper, lines without hostname,
 * PRI or timestamp, RFC 3339 stamps, year inference and time zones.
 */
#include "syslog/rfc3164.h"

#include <stdbool.h>
#include <string.h>

#include "syslog/timestamp.h"

#include "sn_test.h"

/* Reference time of most tests: the "now" of tests/data/parse/. */
#define NOW "2026-11-23T12:00:00Z"

static int64_t
ns_of(const char *rfc3339)
{
    int64_t ns = 0;
    size_t used = 0;

    if (sn_rfc3339_parse(rfc3339, strlen(rfc3339), &ns, &used, NULL) != SN_OK)
        return -1;
    return ns;
}

static enum sn_status
parse_len(const char *line, size_t len, const char *now, int32_t tz,
          struct sn_syslog_msg *m, struct sn_parse_error *err)
{
    struct sn_rfc3164_opts opts;
    struct sn_arena arena;
    enum sn_status rc;

    opts.now_ns = ns_of(now);
    opts.tz_offset_sec = tz;
    sn_arena_init(&arena, 4096, 0);
    rc = sn_rfc3164_parse(line, len, &opts, &arena, m, err);
    sn_arena_fini(&arena);
    return rc;
}

static enum sn_status
parse(const char *line, struct sn_syslog_msg *m)
{
    struct sn_parse_error err;

    return parse_len(line, strlen(line), NOW, 0, m, &err);
}

static bool
has_note(const struct sn_syslog_msg *m, const char *note)
{
    for (size_t i = 0; i < m->n_notes; i++)
        if (strcmp(m->notes[i], note) == 0)
            return true;
    return false;
}

#define CHECK_FIELD(s, want) CHECK_SLICE((s).ptr, (s).len, want)
#define CHECK_NULL(s)        CHECK((s).ptr == NULL)

SN_TEST(debian_sshd)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<38>Nov 23 12:00:01 host sshd[123]: Failed password for "
                   "root from 203.0.113.7 port 22 ssh2",
                   &m),
             SN_OK);
    CHECK_EQ(m.pri, 38);
    CHECK_EQ(m.version, -1);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01");
    CHECK(m.has_time);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T12:00:01Z"));
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.appname, "sshd");
    CHECK_FIELD(m.procid, "123");
    CHECK_NULL(m.msgid);
    CHECK(!m.has_sd);
    CHECK_FIELD(m.msg,
                "Failed password for root from 203.0.113.7 port 22 ssh2");
    CHECK(has_note(&m, "year inferred"));
    CHECK(has_note(&m, "timezone assumed"));
    CHECK(!has_note(&m, "no hostname"));
}

SN_TEST(debian_sudo_keeps_content_spaces)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<85>Nov 23 12:00:01 web01 sudo:    alice : TTY=pts/0 ; "
                   "PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
                   &m),
             SN_OK);
    CHECK_FIELD(m.hostname, "web01");
    CHECK_FIELD(m.appname, "sudo");
    CHECK_NULL(m.procid);
    /* RFC 3164 4.1.3: one space after the ':' ends the TAG; the rest is
     * CONTENT, exactly. */
    CHECK_FIELD(m.msg, "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
                       "COMMAND=/usr/bin/apt update");
}

SN_TEST(debian_cron)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<78>Nov 23 12:17:01 web01 CRON[4321]: (root) CMD (cd / "
                   "&& run-parts --report /etc/cron.hourly)",
                   &m),
             SN_OK);
    CHECK_EQ(m.pri, 78);
    CHECK_FIELD(m.appname, "CRON");
    CHECK_FIELD(m.procid, "4321");
    CHECK_FIELD(m.msg,
                "(root) CMD (cd / && run-parts --report /etc/cron.hourly)");
}

SN_TEST(debian_kernel_space_padded_day)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<4>Nov  3 09:05:07 web01 kernel: [123456.789012] [UFW "
                   "BLOCK] IN=eth0 OUT= SRC=198.51.100.4 DST=192.0.2.10",
                   &m),
             SN_OK);
    CHECK_EQ(m.pri, 4);
    CHECK_FIELD(m.timestamp, "Nov  3 09:05:07");
    CHECK_EQ(m.time_ns, ns_of("2026-11-03T09:05:07Z"));
    CHECK_FIELD(m.hostname, "web01");
    CHECK_FIELD(m.appname, "kernel");
    CHECK_FIELD(m.msg, "[123456.789012] [UFW BLOCK] IN=eth0 OUT= "
                       "SRC=198.51.100.4 DST=192.0.2.10");
}

SN_TEST(day_zero_padded_and_unpadded)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 03 12:00:01 host app: x", &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 03 12:00:01");
    CHECK_EQ(m.time_ns, ns_of("2026-11-03T12:00:01Z"));
    CHECK_EQ(parse("<13>Nov 3 12:00:01 host app: x", &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 3 12:00:01");
    CHECK_EQ(m.time_ns, ns_of("2026-11-03T12:00:01Z"));
    CHECK_FIELD(m.hostname, "host");
    /* Month names are matched without regard to case, like rsyslog. */
    CHECK_EQ(parse("<13>nov 23 12:00:01 host app: x", &m), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T12:00:01Z"));
}

SN_TEST(debian_systemd)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<30>Nov 23 12:00:01 web01 systemd[1]: Started Session 42 "
                   "of User alice.",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "systemd");
    CHECK_FIELD(m.procid, "1");
    CHECK_FIELD(m.msg, "Started Session 42 of User alice.");
}

SN_TEST(logger_rfc3164)
{
    struct sn_syslog_msg m;

    /* util-linux logger --rfc3164 -n host -t alice "hello world" */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 web01 alice: hello world", &m), SN_OK);
    CHECK_FIELD(m.hostname, "web01");
    CHECK_FIELD(m.appname, "alice");
    CHECK_FIELD(m.msg, "hello world");
}

SN_TEST(no_hostname_tag_with_pid_or_colon)
{
    struct sn_syslog_msg m;

    /* What /dev/log receives, or a BSD syslogd relaying without host. */
    CHECK_EQ(parse("<38>Nov 23 12:00:01 sshd[123]: Accepted publickey", &m),
             SN_OK);
    CHECK_NULL(m.hostname);
    CHECK_FIELD(m.appname, "sshd");
    CHECK_FIELD(m.procid, "123");
    CHECK_FIELD(m.msg, "Accepted publickey");
    CHECK(has_note(&m, "no hostname"));
    CHECK_EQ(parse("<6>Nov 23 12:00:01 kernel: eth0: link up", &m), SN_OK);
    CHECK_NULL(m.hostname);
    CHECK_FIELD(m.appname, "kernel");
    CHECK_FIELD(m.msg, "eth0: link up");
}

SN_TEST(tag_variants)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<22>Nov 23 12:00:01 mx1 postfix/smtpd[2345]: connect "
                   "from unknown[198.51.100.7]",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "postfix/smtpd");
    CHECK_FIELD(m.procid, "2345");
    CHECK_FIELD(m.msg, "connect from unknown[198.51.100.7]");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 ws1 org.gnome.Shell.desktop[2345]: "
                   "JS ERROR",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "org.gnome.Shell.desktop");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 ws1 run-parts(/etc/cron.daily)[77]: "
                   "starting",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "run-parts(/etc/cron.daily)");
    CHECK_FIELD(m.procid, "77");
    /* Longer than RFC 3164's 32 characters: rsyslog accepts it. */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 h "
                   "a-very-long-program-name-beyond-thirty-two-chars[9]: x",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "a-very-long-program-name-beyond-thirty-two-chars");
    /* TAG[PID] without colon, and a ':' with no space after it. */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 h app[9] text", &m), SN_OK);
    CHECK_FIELD(m.appname, "app");
    CHECK_FIELD(m.procid, "9");
    CHECK_FIELD(m.msg, "text");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 h app:text", &m), SN_OK);
    CHECK_FIELD(m.appname, "app");
    CHECK_FIELD(m.msg, "text");
}

SN_TEST(tag_without_colon)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 host myapp hello world", &m), SN_OK);
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.appname, "myapp");
    CHECK_FIELD(m.msg, "hello world");
    CHECK(has_note(&m, "tag without colon"));
}

SN_TEST(not_a_tag)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 host {\"k\":1}", &m), SN_OK);
    CHECK_FIELD(m.hostname, "host");
    CHECK_NULL(m.appname);
    CHECK_FIELD(m.msg, "{\"k\":1}");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 host app[12: x", &m), SN_OK);
    CHECK_NULL(m.appname);
    CHECK_FIELD(m.msg, "app[12: x");
}

SN_TEST(hostname_forms)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 192.0.2.1 app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "192.0.2.1");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 2001:db8::1 app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "2001:db8::1");
    CHECK_FIELD(m.appname, "app");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 [2001:db8::1] app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "2001:db8::1");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 web-01.example.com app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "web-01.example.com");
    /* syslog-ng relay chains */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 relay1/web01 app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "relay1/web01");
    /* Extra spaces before the TAG are skipped (syslog-ng). */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 host   app: x", &m), SN_OK);
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.appname, "app");
    /* A lone word after the timestamp is a hostname (rsyslog). */
    CHECK_EQ(parse("<13>Nov 23 12:00:01 host", &m), SN_OK);
    CHECK_FIELD(m.hostname, "host");
    CHECK_NULL(m.appname);
    CHECK_FIELD(m.msg, "");
}

SN_TEST(cisco_ios_sequence_number)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: "
                   "Configured from console by vty0 (10.0.0.1)",
                   &m),
             SN_OK);
    CHECK_EQ(m.pri, 189);
    CHECK_FIELD(m.timestamp, "Mar  1 00:00:00.000");
    CHECK_EQ(m.time_ns, ns_of("2026-03-01T00:00:00Z"));
    CHECK_NULL(m.hostname);
    CHECK_FIELD(m.appname, "%SYS-5-CONFIG_I");
    CHECK_FIELD(m.msg, "Configured from console by vty0 (10.0.0.1)");
    CHECK(has_note(&m, "cisco sequence number"));
    CHECK(has_note(&m, "clock unsynchronised"));
}

SN_TEST(cisco_ios_no_sequence_utc)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<189>: Mar 1 00:00:12.345 UTC: %LINK-3-UPDOWN: Interface "
                   "GigabitEthernet0/1, changed state to up",
                   &m),
             SN_OK);
    CHECK_FIELD(m.timestamp, "Mar 1 00:00:12.345 UTC");
    CHECK_EQ(m.time_ns, ns_of("2026-03-01T00:00:12.345Z"));
    CHECK(!has_note(&m, "timezone assumed"));
    CHECK_FIELD(m.appname, "%LINK-3-UPDOWN");
    CHECK_FIELD(m.msg, "Interface GigabitEthernet0/1, changed state to up");
}

SN_TEST(cisco_ios_origin_id)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<189>45: router1: *Mar  1 00:00:00.000 CET: "
                   "%SYS-5-CONFIG_I: Configured",
                   &m),
             SN_OK);
    CHECK_FIELD(m.hostname, "router1");
    CHECK_FIELD(m.timestamp, "Mar  1 00:00:00.000 CET");
    CHECK(has_note(&m, "timezone name unknown"));
    CHECK_FIELD(m.appname, "%SYS-5-CONFIG_I");
}

SN_TEST(cisco_relayed)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<189>Nov 23 12:00:01 10.0.0.1 123: *Nov 23 "
                   "12:00:00.987 UTC: %LINK-3-UPDOWN: Interface up",
                   &m),
             SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01");
    CHECK_FIELD(m.hostname, "10.0.0.1");
    CHECK_FIELD(m.appname, "%LINK-3-UPDOWN");
    CHECK_FIELD(m.msg, "Interface up");
}

SN_TEST(cisco_sequence_without_timestamp_is_text)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>42: the answer", &m), SN_OK);
    CHECK_NULL(m.timestamp);
    CHECK_FIELD(m.appname, "42");
    CHECK_FIELD(m.msg, "the answer");
    CHECK(!has_note(&m, "cisco sequence number"));
}

SN_TEST(cisco_asa)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<166>Nov 23 2026 12:00:01: %ASA-6-302013: Built outbound "
                   "TCP connection 1 for outside:203.0.113.7/443",
                   &m),
             SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 2026 12:00:01");
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T12:00:01Z"));
    CHECK(!has_note(&m, "year inferred"));
    CHECK_NULL(m.hostname);
    CHECK_FIELD(m.appname, "%ASA-6-302013");
    CHECK_FIELD(m.msg, "Built outbound TCP connection 1 for "
                       "outside:203.0.113.7/443");
    CHECK_EQ(parse("<166>Nov 23 2025 12:00:01 asa01 : %ASA-4-106023: Deny "
                   "tcp",
                   &m),
             SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2025-11-23T12:00:01Z"));
    CHECK_FIELD(m.hostname, "asa01");
    CHECK_FIELD(m.appname, "%ASA-4-106023");
    CHECK_FIELD(m.msg, "Deny tcp");
}

SN_TEST(year_after_time)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 2025 host app: x", &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01 2025");
    CHECK_EQ(m.time_ns, ns_of("2025-11-23T12:00:01Z"));
    CHECK_FIELD(m.hostname, "host");
    CHECK(!has_note(&m, "year inferred"));
}

/* "yyyy Mmm dd hh:mm:ss": Cisco NX-OS, RFC 3164 5.4 example 4; rsyslog
 * reads the year there. */
SN_TEST(year_first)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<189>2025 Nov 23 12:00:01 nx01 %ETHPORT-5-IF_UP: "
                   "Interface Ethernet1/1 is up",
                   &m),
             SN_OK);
    CHECK_FIELD(m.timestamp, "2025 Nov 23 12:00:01");
    CHECK_EQ(m.time_ns, ns_of("2025-11-23T12:00:01Z"));
    CHECK_FIELD(m.hostname, "nx01");
    CHECK_FIELD(m.appname, "%ETHPORT-5-IF_UP");
    CHECK_FIELD(m.msg, "Interface Ethernet1/1 is up");
    CHECK(!has_note(&m, "year inferred"));
    /* Two years are no timestamp; nor is a year out of range. */
    CHECK_EQ(parse("<13>2025 Nov 23 2024 12:00:01 host app: x", &m), SN_OK);
    CHECK_EQ(m.timestamp.ptr, NULL);
    CHECK_EQ(parse("<13>1969 Nov 23 12:00:01 host app: x", &m), SN_OK);
    CHECK_EQ(m.timestamp.ptr, NULL);
}

/* "Aug 24 05:34:00 CST 1987": RFC 3164 5.4 example 3, a year after the
 * zone name. */
SN_TEST(year_after_zone)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: "
                   "%% It's time to make the do-nuts.",
                   &m),
             SN_OK);
    CHECK_FIELD(m.timestamp, "Aug 24 05:34:00 CST 1987");
    CHECK_EQ(m.time_ns, ns_of("1987-08-24T11:34:00Z"));
    CHECK_FIELD(m.hostname, "mymachine");
    CHECK_FIELD(m.appname, "myproc");
    CHECK_FIELD(m.procid, "10");
}

SN_TEST(juniper)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<28>Nov 23 12:00:01 fw01 mgd[1234]: UI_COMMIT: User "
                   "'admin' requested 'commit' operation",
                   &m),
             SN_OK);
    CHECK_FIELD(m.hostname, "fw01");
    CHECK_FIELD(m.appname, "mgd");
    CHECK_FIELD(m.procid, "1234");
    CHECK_FIELD(m.msg, "UI_COMMIT: User 'admin' requested 'commit' "
                       "operation");
    CHECK_EQ(parse("<14>Nov 23 12:00:01 srx01 RT_FLOW: "
                   "RT_FLOW_SESSION_CREATE: session created",
                   &m),
             SN_OK);
    CHECK_FIELD(m.appname, "RT_FLOW");
    CHECK_FIELD(m.msg, "RT_FLOW_SESSION_CREATE: session created");
}

SN_TEST(no_pri)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("Nov 23 12:00:01 host app[1]: x", &m), SN_OK);
    CHECK_EQ(m.pri, -1);
    CHECK(has_note(&m, "pri absent"));
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.appname, "app");
    CHECK_FIELD(m.msg, "x");
}

SN_TEST(invalid_pri_is_content)
{
    struct sn_syslog_msg m;
    static const char *const bad[] = { "<192>Nov 23 12:00:01 host a: b",
                                       "<1234>x", "<>x", "<13", "<1a>x" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(parse(bad[i], &m), SN_OK);
        CHECK_EQ(m.pri, -1);
        CHECK_NULL(m.timestamp);
        CHECK_FIELD(m.msg, bad[i]);
        CHECK(has_note(&m, "invalid pri"));
    }
    CHECK_EQ(parse("<191>x", &m), SN_OK);
    CHECK_EQ(m.pri, 191);
    CHECK_EQ(parse("<0>x", &m), SN_OK);
    CHECK_EQ(m.pri, 0);
}

SN_TEST(rfc3339_timestamp)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    const char *line = "<13>2026-11-23T12:00:01.123456+01:00 host app[1]: msg";

    CHECK_EQ(parse(line, &m), SN_OK);
    CHECK_FIELD(m.timestamp, "2026-11-23T12:00:01.123456+01:00");
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T11:00:01.123456Z"));
    CHECK(!has_note(&m, "timezone assumed"));
    CHECK(!has_note(&m, "year inferred"));
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.appname, "app");
    CHECK_FIELD(m.procid, "1");
    /* Without an offset the configured zone applies. */
    line = "<13>2026-11-23T12:00:01 host app: x";
    CHECK_EQ(parse_len(line, strlen(line), NOW, 3600, &m, &err), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T11:00:01Z"));
    CHECK(has_note(&m, "timezone assumed"));
}

SN_TEST(year_inference_previous_year_at_new_year)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    const char *line = "<13>Dec 31 23:59:59 host app: x";

    CHECK_EQ(parse_len(line, strlen(line), "2027-01-01T00:00:10Z", 0, &m, &err),
             SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-12-31T23:59:59Z"));
    CHECK(has_note(&m, "year inferred"));
}

SN_TEST(year_inference_next_year_at_new_year)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    const char *line = "<13>Jan  1 00:00:05 host app: x";

    /* The sender's clock is a little ahead of ours. */
    CHECK_EQ(parse_len(line, strlen(line), "2026-12-31T23:59:50Z", 0, &m, &err),
             SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2027-01-01T00:00:05Z"));
}

SN_TEST(year_inference_more_than_a_month_ahead)
{
    struct sn_syslog_msg m;

    /* Dec 31 seen on Nov 23 is 38 days ahead: last year's. */
    CHECK_EQ(parse("<13>Dec 31 10:00:00 host app: x", &m), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2025-12-31T10:00:00Z"));
    /* Dec 20 is 27 days ahead: this year's (a sender's clock drift). */
    CHECK_EQ(parse("<13>Dec 20 10:00:00 host app: x", &m), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-12-20T10:00:00Z"));
}

SN_TEST(year_inference_feb_29)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    const char *line = "<13>Feb 29 12:00:00 host app: x";

    CHECK_EQ(parse_len(line, strlen(line), "2028-03-01T00:00:00Z", 0, &m, &err),
             SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2028-02-29T12:00:00Z"));
    /* 2025..2027 have none: the text is kept, without a time. */
    CHECK_EQ(parse(line, &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Feb 29 12:00:00");
    CHECK(!m.has_time);
    CHECK(has_note(&m, "no valid year for date"));
    /* Feb 30 is no date at all. */
    CHECK_EQ(parse("<13>Feb 30 12:00:00 host app: x", &m), SN_OK);
    CHECK_NULL(m.timestamp);
}

SN_TEST(timezone_offset)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    const char *line = "<13>Nov 23 12:00:01 host app: x";

    CHECK_EQ(parse_len(line, strlen(line), NOW, -5 * 3600, &m, &err), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T17:00:01Z"));
    CHECK(has_note(&m, "timezone assumed"));
    CHECK_EQ(parse_len(line, strlen(line), NOW, 5 * 3600 + 1800, &m, &err),
             SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T06:30:01Z"));
    /* An RFC 5322 zone name overrides the configured zone. */
    line = "<13>Nov 23 12:00:01 EST host app: x";
    CHECK_EQ(parse_len(line, strlen(line), NOW, 3600, &m, &err), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01 EST");
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T17:00:01Z"));
    CHECK(!has_note(&m, "timezone assumed"));
    CHECK_FIELD(m.hostname, "host");
}

SN_TEST(fractional_seconds)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01.5 host app: x", &m), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T12:00:01.5Z"));
    /* Past nanoseconds, digits are truncated. */
    CHECK_EQ(parse("<13>Nov 23 12:00:01.1234567891 host app: x", &m), SN_OK);
    CHECK_EQ(m.time_ns, ns_of("2026-11-23T12:00:01Z") + 123456789);
}

SN_TEST(no_timestamp)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>sshd[12]: session opened", &m), SN_OK);
    CHECK_NULL(m.timestamp);
    CHECK(!m.has_time);
    CHECK(has_note(&m, "no timestamp"));
    CHECK_NULL(m.hostname);
    CHECK_FIELD(m.appname, "sshd");
    CHECK_FIELD(m.procid, "12");
    CHECK_FIELD(m.msg, "session opened");
    /* Without a timestamp a first word is not taken as TAG unless it
     * ends in ':' or carries a PID. */
    CHECK_EQ(parse("<14>Some free text", &m), SN_OK);
    CHECK_NULL(m.appname);
    CHECK_FIELD(m.msg, "Some free text");
    CHECK_EQ(parse("plain text without anything", &m), SN_OK);
    CHECK_EQ(m.pri, -1);
    CHECK_FIELD(m.msg, "plain text without anything");
}

SN_TEST(leading_space_before_timestamp)
{
    struct sn_syslog_msg m;

    /* HP ProCurve; rsyslog retries after one space. */
    CHECK_EQ(parse("<13> Nov 23 12:00:01 sw1 app: x", &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01");
    CHECK_FIELD(m.hostname, "sw1");
}

SN_TEST(aix_and_repeated)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 Message forwarded from aix1: sshd[1]: "
                   "hi",
                   &m),
             SN_OK);
    CHECK_FIELD(m.hostname, "aix1");
    CHECK_FIELD(m.appname, "sshd");
    CHECK_FIELD(m.msg, "hi");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 last message repeated 3 times", &m),
             SN_OK);
    CHECK_NULL(m.hostname);
    CHECK_NULL(m.appname);
    CHECK_FIELD(m.msg, "last message repeated 3 times");
}

SN_TEST(empty_and_minimal)
{
    struct sn_syslog_msg m;
    struct sn_parse_error err;

    CHECK_EQ(parse_len("", 0, NOW, 0, &m, &err), SN_EINVAL);
    CHECK_STR(err.reason, "empty message");
    CHECK_EQ(err.offset, 0);
    CHECK_EQ(parse("<13>", &m), SN_OK);
    CHECK_EQ(m.pri, 13);
    CHECK_FIELD(m.msg, "");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 host app: ", &m), SN_OK);
    CHECK_FIELD(m.appname, "app");
    CHECK_FIELD(m.msg, "");
}

SN_TEST(trailing_newline_kept)
{
    struct sn_syslog_msg m;

    CHECK_EQ(parse("<13>Nov 23 12:00:01 host app: hi\n", &m), SN_OK);
    CHECK_FIELD(m.msg, "hi\n");
    CHECK_EQ(parse("<13>Nov 23 12:00:01 host\r\n", &m), SN_OK);
    CHECK_FIELD(m.hostname, "host");
    CHECK_FIELD(m.msg, "\r\n");
    CHECK_EQ(parse("<13>Nov 23 12:00:01\n", &m), SN_OK);
    CHECK_FIELD(m.timestamp, "Nov 23 12:00:01");
    CHECK_FIELD(m.msg, "\n");
}

SN_TEST(nul_bytes)
{
    static const char line[] = "<13>Nov 23 12:00:01 host app: a\0b";
    struct sn_syslog_msg m;
    struct sn_parse_error err;

    CHECK_EQ(parse_len(line, sizeof(line) - 1, NOW, 0, &m, &err), SN_OK);
    CHECK_EQ(m.msg.len, 3);
    CHECK(memcmp(m.msg.ptr, "a\0b", 3) == 0);
}

SN_TEST(null_opts_uses_clock)
{
    struct sn_syslog_msg m;
    struct sn_arena arena;
    const char *line = "<13>Nov 23 12:00:01 host app: x";

    sn_arena_init(&arena, 4096, 0);
    CHECK_EQ(sn_rfc3164_parse(line, strlen(line), NULL, &arena, &m, NULL),
             SN_OK);
    CHECK(m.has_time);
    CHECK_EQ(sn_rfc3164_parse("", 0, NULL, &arena, &m, NULL), SN_EINVAL);
    sn_arena_fini(&arena);
}

/* The slice s of line as an offset and a length (-1: absent), so two
 * parses of copies of one line compare. */
static bool
same_slice(const char *la, struct sn_str a, const char *lb, struct sn_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.ptr - la == b.ptr - lb && a.len == b.len;
}

static bool
same_msg(const char *la, const struct sn_syslog_msg *a, const char *lb,
         const struct sn_syslog_msg *b)
{
    if (a->pri != b->pri || a->has_time != b->has_time ||
        (a->has_time && a->time_ns != b->time_ns) || a->n_notes != b->n_notes)
        return false;
    for (size_t i = 0; i < a->n_notes; i++)
        if (strcmp(a->notes[i], b->notes[i]) != 0)
            return false;
    return same_slice(la, a->timestamp, lb, b->timestamp) &&
           same_slice(la, a->hostname, lb, b->hostname) &&
           same_slice(la, a->appname, lb, b->appname) &&
           same_slice(la, a->procid, lb, b->procid) &&
           same_slice(la, a->msgid, lb, b->msgid) &&
           same_slice(la, a->msg, lb, b->msg);
}

/*
 * A memo gives the results of a parse without one, whatever came
 * before: lines that share a stamp's text but not what follows it (a
 * year, a zone, a fraction, the end of the line), stamps the memo holds
 * at another position, and reference times and zones that change
 * between lines (the year inference's inputs). Each line is parsed from
 * its own copy, so a hit cannot lean on the previous line's bytes.
 */
SN_TEST(memo_gives_the_same_results)
{
    static const char *const lines[] = {
        "<38>Nov 23 12:00:01 host sshd[1]: Failed password",
        "<38>Nov 23 12:00:01 host sshd[1]: Failed password",
        "<38>Nov 23 12:00:01 2025 host sshd[1]: after-time year",
        "<38>Nov 23 12:00:01.250 host app: fraction",
        "<38>Nov 23 12:00:01 UTC: %SYS-5-CONFIG_I: zone",
        "<38>Nov 23 12:00:01 EST host app: named zone",
        "<38>Nov 23 12:00:01",
        "<38>Nov 23 12:00:0",
        "<38>Nov 23 12:00:01\r\n",
        "Nov 23 12:00:01 host app: no pri",
        "<38>Nov 23 12:00:01x host app: not a stamp end",
        "<38>Nov 23 2024 12:00:01 host app: year before the time",
        "<38>Nov 23 2024 12:00:01 host app: again",
        "<38>Nov  3 12:00:01 host app: padded day",
        "<38>Nov 3 12:00:01 host app: unpadded day",
        "<189>123: *Nov 23 12:00:01.123 UTC: %LINK-3-UPDOWN: cisco",
        ("<189>Nov 23 12:00:01 10.0.0.1 123: *Nov 23 12:00:01.123 UTC: "
         "%LINK-3-UPDOWN: relayed"),
        "<38>Dec 31 23:59:59 host app: New Year",
        "<38>Feb 29 12:00:00 host app: leap day",
        "<38>Feb 29 12:00:00 host app: leap day again",
        "<38>2026-11-23T12:00:01Z host app: rfc 3339",
        "<38>2024 Nov 23 12:00:01 host app: year first",
        "<38>Nov 23 12:00:01 host app: after a year-first line",
        "<38>Nov 23 12:00:01 EST 2024 host app: year after the zone",
        "<38>Nov 23 12:00:01 host app: last",
    };
    /* The memo keeps the inference for a reference time's whole second:
     * the same second with other nanoseconds hits; "Dec 31 23:59:59" is
     * 2026 from 2026-11-30T23:59:59 (31 days ahead) but 2025 a
     * nanosecond earlier, which is another second. */
    static const struct {
        const char *now;
        int64_t plus_ns;
        int32_t tz;
    } refs[] = {
        { NOW, 0, 0 },
        { NOW, 0, 3600 },
        { "2027-01-01T00:00:30Z", 0, 0 },
        { "2027-01-01T00:00:30Z", 999999999, 0 },
        { "2026-11-30T23:59:58Z", 999999999, 0 },
        { "2026-11-30T23:59:59Z", 0, 0 },
        { "2026-11-30T23:59:59Z", 500000000, 0 },
        { "2028-03-01T00:00:00Z", 0, -7200 },
    };
    const size_t n_lines = sizeof(lines) / sizeof(lines[0]);
    const size_t n_rounds = 2 * (sizeof(refs) / sizeof(refs[0]));
    struct sn_rfc3164_memo memo;
    struct sn_arena arena;

    sn_rfc3164_memo_init(&memo);
    sn_arena_init(&arena, 4096, 0);
    /* Pass 0: all lines under each reference time (twice in a row, then
     * the next: hits on the second round, misses when it changes). Pass
     * 1: each line under the reference times in turn, so its inference is
     * looked up with the previous reference time's. */
    for (size_t x = 0; x < 2 * n_rounds * n_lines; x++) {
        bool by_line = x >= n_rounds * n_lines;
        size_t y = x % (n_rounds * n_lines);
        size_t round = by_line ? y % n_rounds : y / n_lines;
        size_t i = by_line ? y / n_rounds : y % n_lines;
        struct sn_rfc3164_opts opts;
        size_t len = strlen(lines[i]);
        char a[256], b[256];
        struct sn_syslog_msg ma, mb;
        struct sn_parse_error ea, eb;

        opts.now_ns = ns_of(refs[round / 2].now) + refs[round / 2].plus_ns;
        opts.tz_offset_sec = refs[round / 2].tz;
        memcpy(a, lines[i], len);
        memcpy(b, lines[i], len);
        CHECK_EQ(sn_rfc3164_parse(a, len, &opts, &arena, &ma, &ea),
                 sn_rfc3164_parse_memo(b, len, &opts, &memo, &arena, &mb, &eb));
        if (!same_msg(a, &ma, b, &mb))
            fprintf(stderr, "differs with a memo: %s (reference %s)\n",
                    lines[i], refs[round / 2].now);
        CHECK(same_msg(a, &ma, b, &mb));
    }
    CHECK(memo.text_len > 0); /* it was used */
    sn_arena_fini(&arena);
}

SN_TEST_MAIN(SN_T(debian_sshd), SN_T(debian_sudo_keeps_content_spaces),
             SN_T(debian_cron), SN_T(debian_kernel_space_padded_day),
             SN_T(day_zero_padded_and_unpadded), SN_T(debian_systemd),
             SN_T(logger_rfc3164), SN_T(no_hostname_tag_with_pid_or_colon),
             SN_T(tag_variants), SN_T(tag_without_colon), SN_T(not_a_tag),
             SN_T(hostname_forms), SN_T(cisco_ios_sequence_number),
             SN_T(cisco_ios_no_sequence_utc), SN_T(cisco_ios_origin_id),
             SN_T(cisco_relayed),
             SN_T(cisco_sequence_without_timestamp_is_text), SN_T(cisco_asa),
             SN_T(year_after_time), SN_T(year_first),
             SN_T(year_after_zone), SN_T(juniper), SN_T(no_pri),
             SN_T(invalid_pri_is_content), SN_T(rfc3339_timestamp),
             SN_T(year_inference_previous_year_at_new_year),
             SN_T(year_inference_next_year_at_new_year),
             SN_T(year_inference_more_than_a_month_ahead),
             SN_T(year_inference_feb_29), SN_T(timezone_offset),
             SN_T(fractional_seconds), SN_T(no_timestamp),
             SN_T(leading_space_before_timestamp), SN_T(aix_and_repeated),
             SN_T(empty_and_minimal), SN_T(trailing_newline_kept),
             SN_T(nul_bytes), SN_T(null_opts_uses_clock),
             SN_T(memo_gives_the_same_results))
