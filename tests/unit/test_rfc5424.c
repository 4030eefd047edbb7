/*
 * Tests for src/syslog/rfc5424.c: the RFC 5424 examples (6.3.5, 6.5),
 * every rejection reason with its byte offset, SD escapes and repeats,
 * NILVALUEs, BOM handling, timestamps converted to UTC and the length
 * boundaries of every field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/limits.h"
#include "sn_test.h"
#include "syslog/rfc5424.h"

/* The five header fields as NILVALUEs, ready for STRUCTURED-DATA at 15. */
#define NILHDR "<1>1 - - - - - "

/* Zero chunks until first use; reset before every parse. */
static struct sn_arena arena = { NULL, 4096, 0, 0, NULL };

static enum sn_status
parse_n(const char *s, size_t len, struct sn_syslog_msg *m,
        struct sn_parse_error *e)
{
    memset(e, 0, sizeof(*e));
    sn_arena_reset(&arena);
    return sn_rfc5424_parse(s, len, &arena, m, e);
}

static enum sn_status
parse(const char *s, struct sn_syslog_msg *m, struct sn_parse_error *e)
{
    return parse_n(s, strlen(s), m, e);
}

static bool
inside(const char *p, const char *base, size_t len)
{
    return p >= base && p <= base + len;
}

/* Reject s at offset off with exactly this reason. */
#define BAD_N(s, n, off, why)                                                  \
    do {                                                                       \
        struct sn_syslog_msg m_;                                               \
        struct sn_parse_error e_;                                              \
        CHECK_EQ(parse_n((s), (n), &m_, &e_), SN_EINVAL);                      \
        CHECK_EQ(e_.offset, (off));                                            \
        CHECK_STR(e_.reason, (why));                                           \
    } while (0)
#define BAD(s, off, why) BAD_N((s), strlen(s), (off), (why))

#define GOOD(s, m)                                                             \
    do {                                                                       \
        struct sn_parse_error e_;                                              \
        enum sn_status rc_ = parse((s), (m), &e_);                             \
        CHECK_EQ(rc_, SN_OK);                                                  \
        if (rc_ != SN_OK) {                                                    \
            printf("#   reason: %s at %zu\n", e_.reason, e_.offset);           \
            return;                                                            \
        }                                                                      \
    } while (0)

/* RFC 5424 6.5, example 1: no STRUCTURED-DATA, MSG with BOM. */
SN_TEST(rfc_example_1)
{
    static const char s[] = "<34>1 2003-10-11T22:14:15.003Z "
                            "mymachine.example.com su - ID47 - "
                            "\xEF\xBB\xBF'su root' failed for lonvick on "
                            "/dev/pts/8";
    struct sn_syslog_msg m;

    GOOD(s, &m);
    CHECK_EQ(m.pri, 34);
    CHECK_EQ(m.version, 1);
    CHECK_SLICE(m.timestamp.ptr, m.timestamp.len, "2003-10-11T22:14:15.003Z");
    CHECK(m.has_time);
    CHECK_EQ(m.time_ns, INT64_C(1065910455003000000));
    CHECK_SLICE(m.hostname.ptr, m.hostname.len, "mymachine.example.com");
    CHECK_SLICE(m.appname.ptr, m.appname.len, "su");
    CHECK(m.procid.ptr == NULL);
    CHECK_SLICE(m.msgid.ptr, m.msgid.len, "ID47");
    CHECK(!m.has_sd);
    CHECK_EQ(m.n_sd, 0);
    CHECK(m.msg_has_bom);
    CHECK_SLICE(m.msg.ptr, m.msg.len,
                "'su root' failed for lonvick on /dev/pts/8");
    CHECK_EQ(m.n_notes, 0);
}

/* Example 2: numeric offset, microseconds, MSG without BOM. */
SN_TEST(rfc_example_2)
{
    struct sn_syslog_msg m;

    GOOD("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
         "%% It's time to make the do-nuts.",
         &m);
    CHECK_EQ(m.pri, 165);
    CHECK_EQ(m.time_ns, INT64_C(1061727255000003000));
    CHECK_SLICE(m.hostname.ptr, m.hostname.len, "192.0.2.1");
    CHECK_SLICE(m.appname.ptr, m.appname.len, "myproc");
    CHECK_SLICE(m.procid.ptr, m.procid.len, "8710");
    CHECK(m.msgid.ptr == NULL);
    CHECK(!m.msg_has_bom);
    CHECK_SLICE(m.msg.ptr, m.msg.len, "%% It's time to make the do-nuts.");
}

/* Example 3: STRUCTURED-DATA and a BOM MSG. */
SN_TEST(rfc_example_3)
{
    struct sn_syslog_msg m;

    GOOD("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
         "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
         "eventID=\"1011\"] \xEF\xBB\xBF"
         "An application event log entry...",
         &m);
    CHECK(m.has_sd);
    CHECK_EQ(m.n_sd, 3);
    if (m.n_sd != 3)
        return;
    CHECK_SLICE(m.sd[0].id.ptr, m.sd[0].id.len, "exampleSDID@32473");
    CHECK_SLICE(m.sd[0].name.ptr, m.sd[0].name.len, "iut");
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "3");
    CHECK_SLICE(m.sd[1].name.ptr, m.sd[1].name.len, "eventSource");
    CHECK_SLICE(m.sd[1].value.ptr, m.sd[1].value.len, "Application");
    CHECK_SLICE(m.sd[2].id.ptr, m.sd[2].id.len, "exampleSDID@32473");
    CHECK_SLICE(m.sd[2].name.ptr, m.sd[2].name.len, "eventID");
    CHECK_SLICE(m.sd[2].value.ptr, m.sd[2].value.len, "1011");
    CHECK(m.msg_has_bom);
    CHECK_SLICE(m.msg.ptr, m.msg.len, "An application event log entry...");
}

/* Example 4: two SD-ELEMENTs and no MSG at all; checked as JSON. */
SN_TEST(rfc_example_4_json)
{
    static const char s[] =
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
        "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
        "eventID=\"1011\"][examplePriority@32473 class=\"high\"]";
    struct sn_syslog_msg m;
    struct sn_buf b;

    GOOD(s, &m);
    CHECK_EQ(m.n_sd, 4);
    CHECK(m.msg.ptr == NULL);
    sn_buf_init(&b, 1 << 16);
    CHECK_EQ(sn_syslog_msg_json(&m, &b), SN_OK);
    CHECK_STR(sn_buf_cstr(&b),
              "\"pri\":165,\"facility\":20,\"severity\":5,\"version\":1,"
              "\"timestamp\":\"2003-10-11T22:14:15.003Z\","
              "\"timestamp_utc_ns\":1065910455003000000,"
              "\"hostname\":\"mymachine.example.com\",\"appname\":"
              "\"evntslog\",\"procid\":null,\"msgid\":\"ID47\",\"sd\":{"
              "\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":"
              "\"Application\",\"eventID\":\"1011\"},"
              "\"examplePriority@32473\":{\"class\":\"high\"}},\"msg\":null");
    sn_buf_fini(&b);
}

/* RFC 5424 6.3.5: with SP between elements the second one is MSG text. */
SN_TEST(rfc_sd_examples)
{
    struct sn_syslog_msg m;

    GOOD(NILHDR "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                "eventID=\"1011\"] [examplePriority@32473 class=\"high\"]",
         &m);
    CHECK_EQ(m.n_sd, 3);
    CHECK_SLICE(m.msg.ptr, m.msg.len, "[examplePriority@32473 class=\"high\"]");
    /* The invalid example of 6.3.5: a space before the SD-ID. */
    BAD(NILHDR "[ exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
               "eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
        16, "SD-ID is empty");
}

SN_TEST(minimal_and_nil)
{
    struct sn_syslog_msg m;

    GOOD("<1>1 - - - - - -", &m);
    CHECK_EQ(m.pri, 1);
    CHECK(m.timestamp.ptr == NULL);
    CHECK(!m.has_time);
    CHECK(m.hostname.ptr == NULL && m.appname.ptr == NULL);
    CHECK(m.procid.ptr == NULL && m.msgid.ptr == NULL);
    CHECK(!m.has_sd);
    CHECK(m.sd == NULL);
    CHECK(m.msg.ptr == NULL);
    /* Only "-" alone is the NILVALUE. */
    GOOD("<1>1 - -- -x x- -- - msg", &m);
    CHECK_SLICE(m.hostname.ptr, m.hostname.len, "--");
    CHECK_SLICE(m.appname.ptr, m.appname.len, "-x");
    CHECK_SLICE(m.procid.ptr, m.procid.len, "x-");
    CHECK_SLICE(m.msgid.ptr, m.msgid.len, "--");
    CHECK_SLICE(m.msg.ptr, m.msg.len, "msg");
    /* err may be NULL. */
    CHECK_EQ(sn_rfc5424_parse("<1>1 - - - - - -", 16, &arena, &m, NULL), SN_OK);
    CHECK_EQ(sn_rfc5424_parse("<1>1 - - - - -", 14, &arena, &m, NULL),
             SN_EINVAL);
}

SN_TEST(pri_and_version)
{
    struct sn_syslog_msg m;

    GOOD("<0>1 - - - - - -", &m);
    CHECK_EQ(m.pri, 0);
    GOOD("<191>1 - - - - - -", &m);
    CHECK_EQ(m.pri, 191);
    /* Leading zeros: RFC 5424 6.2.1 says they MUST NOT be used. */
    BAD("<00>1 - - - - - -", 1, "PRI has a leading zero (RFC 5424 6.2.1)");
    BAD("<01>1 - - - - - -", 1, "PRI has a leading zero (RFC 5424 6.2.1)");
    BAD("<013>1 - - - - - -", 1, "PRI has a leading zero (RFC 5424 6.2.1)");
    GOOD("<10>1 - - - - - -", &m);
    CHECK_EQ(m.pri, 10);
    GOOD("<1>2 - - - - - -", &m);
    CHECK_EQ(m.version, 2);
    GOOD("<1>999 - - - - - -", &m);
    CHECK_EQ(m.version, 999);
    BAD("", 0, "empty message");
    BAD("1>1 - - - - - -", 0, "message does not start with '<' (PRI)");
    BAD("<>1 - - - - - -", 1, "PRI has no digits");
    BAD("<192>1 - - - - - -", 1, "PRI value 192 out of range 0..191");
    BAD("<999>1 - - - - - -", 1, "PRI value 999 out of range 0..191");
    BAD("<0191>1 - - - - - -", 4, "PRI longer than 3 digits");
    BAD("<1", 2, "message ends inside PRI");
    BAD("<", 1, "message ends inside PRI");
    BAD("<1a>1 - - - - - -", 2, "expected '>' after PRI digits");
    BAD("<-1>1 - - - - - -", 1, "PRI has no digits");
    BAD("<1>", 3, "message ends before VERSION");
    BAD("<1>0 - - - - - -", 3, "VERSION must start with a nonzero digit");
    BAD("<1>01 - - - - - -", 3, "VERSION must start with a nonzero digit");
    BAD("<1> 1 - - - - - -", 3, "VERSION must start with a nonzero digit");
    BAD("<1>1000 - - - - - -", 6, "VERSION longer than 3 digits");
    BAD("<1>1", 4, "message ends after VERSION");
    BAD("<1>1x - - - - - -", 4, "expected SP after VERSION");
    BAD("<1>1- - - - - -", 4, "expected SP after VERSION");
    /* An RFC 3164 message is not RFC 5424. */
    BAD("<34>Oct 11 22:14:15 mymachine su: 'su root' failed", 4,
        "VERSION must start with a nonzero digit");
}

SN_TEST(timestamp_field)
{
    struct sn_syslog_msg m;

    GOOD("<1>1 1985-04-12T19:20:50.52-04:00 - - - - -", &m);
    CHECK(m.has_time);
    CHECK_EQ(m.time_ns, INT64_C(482196050520000000));
    GOOD("<1>1 1969-12-31T23:59:59.5Z - - - - -", &m);
    CHECK_EQ(m.time_ns, -500000000);
    GOOD("<1>1 2024-02-29T00:00:00+14:00 - - - - -", &m);
    CHECK_EQ(m.time_ns, INT64_C(1709114400000000000));
    /* More than 6 fraction digits (.NET writes 7): read, with a note;
     * past the 9th they are dropped. */
    GOOD("<1>1 2003-10-11T22:14:15.1234567Z - - - - -", &m);
    CHECK(m.has_time);
    CHECK_EQ(m.time_ns, INT64_C(1065910455123456700));
    CHECK_EQ(m.n_notes, 1);
    CHECK_STR(m.notes[0], "fraction longer than 6 digits");
    CHECK_EQ(m.timestamp.len, strlen("2003-10-11T22:14:15.1234567Z"));
    GOOD("<1>1 2003-10-11T22:14:15.0000000019-01:00 - - - - -", &m);
    CHECK_EQ(m.time_ns, INT64_C(1065914055000000001));
    /* ...but nothing else beyond RFC 5424 comes with them. */
    BAD("<1>1 2003-10-11t22:14:15.1234567Z - - - - -", 15,
        "TIMESTAMP 't' must be upper case 'T' (RFC 5424 6.2.3)");
    BAD("<1>1 2003-10-11T22:14:15.1234567 - - - - -", 31,
        "TIMESTAMP fraction longer than 6 digits");
    /* Valid but outside int64 nanoseconds: kept as text, with a note. */
    GOOD("<1>1 0001-01-01T00:00:00Z - - - - -", &m);
    CHECK(!m.has_time);
    CHECK_SLICE(m.timestamp.ptr, m.timestamp.len, "0001-01-01T00:00:00Z");
    CHECK_EQ(m.n_notes, 1);
    GOOD("<1>1 9999-12-31T23:59:59.999999Z - - - - -", &m);
    CHECK(!m.has_time);
    BAD("<1>1 2003-10-11t22:14:15Z - - - - -", 15,
        "TIMESTAMP 't' must be upper case 'T' (RFC 5424 6.2.3)");
    BAD("<1>1 2003-10-11T22:14:15z - - - - -", 24,
        "TIMESTAMP 'z' must be upper case 'Z' (RFC 5424 6.2.3)");
    BAD("<1>1 2016-12-31T23:59:60Z - - - - -", 22,
        "TIMESTAMP second 60 not allowed (RFC 5424 6.2.3: leap seconds MUST "
        "NOT be used)");
    BAD("<1>1 2003-02-29T22:14:15Z - - - - -", 13,
        "TIMESTAMP day 29 out of range 01..28 for 2003-02");
    BAD("<1>1 2003-10-11 22:14:15Z - - - - -", 15,
        "TIMESTAMP expected 'T' after date");
    BAD("<1>1 2003-10-11T22:14:15 - - - - -", 24,
        "TIMESTAMP expected 'Z', '+' or '-' for TIME-OFFSET");
    BAD("<1>1 2003-10-11T22:14:15.003Zx - - - - -", 29,
        "expected SP after TIMESTAMP");
    BAD("<1>1 2003-10-11T22:14:15.003Z", 29, "message ends after TIMESTAMP");
    BAD("<1>1 -x - - - - -", 6, "expected SP after TIMESTAMP");
    BAD("<1>1 -", 6, "message ends after TIMESTAMP");
    BAD("<1>1 ", 5, "message ends before TIMESTAMP");
    BAD("<1>1  - - - - - -", 5, "TIMESTAMP year is not 4 digits");
    BAD("<1>1 Oct 11 22:14:15 - - - - -", 5, "TIMESTAMP year is not 4 digits");
}

/* A message with one header field set to n copies of 'a'. */
static char *
with_field(int field, size_t n)
{
    char *s = malloc(n + 32);
    size_t k = 0;

    memcpy(s, "<1>1 -", 6);
    k = 6;
    for (int f = 0; f < 4; f++) {
        s[k++] = ' ';
        if (f == field) {
            memset(s + k, 'a', n);
            k += n;
        } else {
            s[k++] = '-';
        }
    }
    memcpy(s + k, " -", 3);
    return s;
}

SN_TEST(header_lengths)
{
    static const size_t max[4] = { 255, 48, 128, 32 };
    static const char *const note[4] = {
        "hostname longer than 255",
        "app-name longer than 48",
        "procid longer than 128",
        "msgid longer than 32",
    };
    struct sn_syslog_msg m;
    struct sn_parse_error e;

    for (int f = 0; f < 4; f++) {
        char *s = with_field(f, max[f]);
        /* The field starts at 7 + 2 per preceding NILVALUE field. */
        size_t start = 7 + 2 * (size_t)f;
        const struct sn_str *got[4] = { &m.hostname, &m.appname, &m.procid,
                                        &m.msgid };

        CHECK_EQ(parse(s, &m, &e), SN_OK);
        CHECK_EQ(got[f]->len, max[f]);
        CHECK(got[f]->ptr == s + start);
        CHECK_EQ(m.n_notes, 0);
        free(s);
        /* Longer than the RFC allows: kept whole, noted (the header is
         * still unambiguous; rsyslog keeps such fields too). */
        s = with_field(f, max[f] + 1);
        CHECK_EQ(parse(s, &m, &e), SN_OK);
        CHECK_EQ(got[f]->len, max[f] + 1);
        CHECK(got[f]->ptr == s + start);
        CHECK_EQ(m.n_notes, 1);
        CHECK_STR(m.notes[0], note[f]);
        free(s);
    }
}

SN_TEST(header_rejections)
{
    BAD("<1>1 - ", 7, "message ends before HOSTNAME");
    BAD("<1>1 - host", 11, "message ends after HOSTNAME (APP-NAME missing)");
    BAD("<1>1 - - app", 12, "message ends after APP-NAME (PROCID missing)");
    BAD("<1>1 - - - 1", 12, "message ends after PROCID (MSGID missing)");
    BAD("<1>1 - - - - ID", 15,
        "message ends after MSGID (STRUCTURED-DATA missing)");
    BAD("<1>1 - - - - -", 14,
        "message ends after MSGID (STRUCTURED-DATA missing)");
    BAD("<1>1 -  - - - -", 7, "HOSTNAME is empty");
    BAD("<1>1 - - - -  -", 13, "MSGID is empty");
    BAD("<1>1 - ho\tst - - - -", 9,
        "HOSTNAME contains byte 0x09 (not PRINTUSASCII)");
    BAD("<1>1 - h\xC3\xA9 - - - -", 8,
        "HOSTNAME contains byte 0xc3 (not PRINTUSASCII)");
    BAD("<1>1 - - a\x7F - - -", 10,
        "APP-NAME contains byte 0x7f (not PRINTUSASCII)");
    BAD_N("<1>1 - - - 1\0 - -", 17, 12,
          "PROCID contains byte 0x00 (not PRINTUSASCII)");
    BAD("<1>1 - - - - ID\n - -", 15,
        "MSGID contains byte 0x0a (not PRINTUSASCII)");
}

SN_TEST(sd_basics)
{
    struct sn_syslog_msg m;
    static const char s[] = NILHDR "[a[b x=\"\"][id]";

    GOOD(s, &m);
    CHECK(m.has_sd);
    CHECK_EQ(m.n_sd, 2);
    /* '[' is PRINTUSASCII and not excluded from SD-NAME. */
    CHECK_SLICE(m.sd[0].id.ptr, m.sd[0].id.len, "a[b");
    CHECK_SLICE(m.sd[0].name.ptr, m.sd[0].name.len, "x");
    CHECK(m.sd[0].value.ptr != NULL);
    CHECK_EQ(m.sd[0].value.len, 0);
    /* An element without params is one entry with a NULL name. */
    CHECK_SLICE(m.sd[1].id.ptr, m.sd[1].id.len, "id");
    CHECK(m.sd[1].name.ptr == NULL);
    CHECK(m.msg.ptr == NULL);
    /* Case-sensitive SD-IDs (6.3.2): these differ. */
    GOOD(NILHDR "[id][ID][iD@1]", &m);
    CHECK_EQ(m.n_sd, 3);
    /* Repeated PARAM-NAMEs are allowed and kept in order (6.3.3). */
    GOOD(NILHDR "[id a=\"1\" a=\"2\" b=\"3\" a=\"4\"]", &m);
    CHECK_EQ(m.n_sd, 4);
    CHECK_SLICE(m.sd[3].name.ptr, m.sd[3].name.len, "a");
    CHECK_SLICE(m.sd[3].value.ptr, m.sd[3].value.len, "4");
    /* 32-character names are fine. */
    GOOD(NILHDR "[abcdefghijklmnopqrstuvwxyz012345 "
                "abcdefghijklmnopqrstuvwxyz012345=\"v\"]",
         &m);
    CHECK_EQ(m.sd[0].id.len, 32);
    CHECK_EQ(m.sd[0].name.len, 32);
    /* Values hold any UTF-8, spaces, '=', '[' and controls. */
    GOOD(NILHDR "[id a=\"caf\xC3\xA9 = [x\\] \xF0\x9F\x98\x80\tz\"]", &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len,
                "caf\xC3\xA9 = [x] \xF0\x9F\x98\x80\tz");
}

SN_TEST(sd_escapes)
{
    struct sn_syslog_msg m;
    static const char plain[] = NILHDR "[id a=\"C:\\temp\\n\"]";
    static const char esc[] = NILHDR "[id a=\"x\\\"y\\\\z\\]w\" b=\"\\\\n\"]";

    /* 6.3.3: backslash before other characters stays, no copy. */
    GOOD(plain, &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "C:\\temp\\n");
    CHECK(inside(m.sd[0].value.ptr, plain, sizeof(plain)));
    /* \" \\ \] are unescaped into the arena. */
    GOOD(esc, &m);
    CHECK_EQ(m.n_sd, 2);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "x\"y\\z]w");
    CHECK(!inside(m.sd[0].value.ptr, esc, sizeof(esc)));
    CHECK_SLICE(m.sd[1].value.ptr, m.sd[1].value.len, "\\n");
    /* An unescaped ']' inside the quotes is a character of the value
     * (the sender broke 6.3.3; rsyslog and syslog-ng read it so), noted;
     * so is one after an escaped quote. */
    GOOD(NILHDR "[id a=\"1]2\" b=\"[x]\"] text", &m);
    CHECK_EQ(m.n_sd, 2);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "1]2");
    CHECK_SLICE(m.sd[1].value.ptr, m.sd[1].value.len, "[x]");
    CHECK_SLICE(m.msg.ptr, m.msg.len, "text");
    CHECK_EQ(m.n_notes, 1);
    CHECK_STR(m.notes[0], "unescaped ']' in PARAM-VALUE");
    GOOD(NILHDR "[id a=\"\\\"]\"]", &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "\"]");
    /* An escaped quote at the end, then the real closing quote. */
    GOOD(NILHDR "[id a=\"\\\"\"]", &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "\"");
    GOOD(NILHDR "[id a=\"\\\\\"]", &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "\\");
    GOOD(NILHDR "[id a=\"\\\xC3\xA9\"]", &m);
    CHECK_SLICE(m.sd[0].value.ptr, m.sd[0].value.len, "\\\xC3\xA9");
}

SN_TEST(sd_many_params)
{
    struct sn_syslog_msg m;
    struct sn_parse_error e;
    size_t cap = 16 + (SN_EVENT_MAX_SD_PARAMS + 1) * 8, k;
    char *s = malloc(cap);
    char *t;

    k = (size_t)snprintf(s, cap, "%s[id", NILHDR);
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(s + k, cap - k, " p=\"%d\"", i);
    memcpy(s + k, "]", 2);
    CHECK_EQ(parse(s, &m, &e), SN_OK);
    CHECK_EQ(m.n_sd, 40);
    CHECK_SLICE(m.sd[39].value.ptr, m.sd[39].value.len, "39");
    CHECK_SLICE(m.sd[16].value.ptr, m.sd[16].value.len, "16");

    /* Exactly the maximum, then one more. */
    k = (size_t)snprintf(s, cap, "%s[id", NILHDR);
    for (int i = 0; i < SN_EVENT_MAX_SD_PARAMS; i++)
        k += (size_t)snprintf(s + k, cap - k, " p=\"\"");
    memcpy(s + k, "]", 2);
    CHECK_EQ(parse(s, &m, &e), SN_OK);
    CHECK_EQ(m.n_sd, SN_EVENT_MAX_SD_PARAMS);
    t = s + k;
    memcpy(t, " q=\"\"]", 7);
    CHECK_EQ(parse(s, &m, &e), SN_ELIMIT);
    CHECK_EQ(e.offset, (size_t)(t - s) + 1);
    free(s);
}

/* Many elements: duplicates are found past the linear-scan range too. */
SN_TEST(sd_many_elements)
{
    struct sn_syslog_msg m;
    struct sn_parse_error e;
    char s[8192];
    size_t k, at;

    k = (size_t)snprintf(s, sizeof(s), "%s", NILHDR);
    for (int i = 0; i < 300; i++)
        k += (size_t)snprintf(s + k, sizeof(s) - k, "[e%d x=\"%d\"]", i, i);
    CHECK_EQ(parse_n(s, k, &m, &e), SN_OK);
    CHECK_EQ(m.n_sd, 300);
    CHECK_SLICE(m.sd[299].id.ptr, m.sd[299].id.len, "e299");
    /* Repeat the third element's SD-ID at the end. */
    at = k + 1;
    k += (size_t)snprintf(s + k, sizeof(s) - k, "[e2]");
    CHECK_EQ(parse_n(s, k, &m, &e), SN_EINVAL);
    CHECK_EQ(e.offset, at);
    CHECK_STR(e.reason, "duplicate SD-ID \"e2\"");
    /* And a repeat right after the switch to the hash table. */
    k = (size_t)snprintf(s, sizeof(s), "%s[a][b][c][d][e][f][g][h][i][h]",
                         NILHDR);
    CHECK_EQ(parse_n(s, k, &m, &e), SN_EINVAL);
    CHECK_EQ(e.offset, k - 2);
    k = (size_t)snprintf(s, sizeof(s), "%s[a][b][c][d][e][f][g][h][a]", NILHDR);
    CHECK_EQ(parse_n(s, k, &m, &e), SN_EINVAL);
    CHECK_EQ(e.offset, k - 2);
}

SN_TEST(sd_rejections)
{
    BAD(NILHDR "", 15, "message ends before STRUCTURED-DATA");
    BAD(NILHDR "x", 15, "STRUCTURED-DATA must be '-' or start with '['");
    BAD(NILHDR "]", 15, "STRUCTURED-DATA must be '-' or start with '['");
    BAD(NILHDR "-x", 16,
        "expected SP or end of message after "
        "STRUCTURED-DATA");
    BAD(NILHDR "-\n", 16,
        "expected SP or end of message after "
        "STRUCTURED-DATA");
    BAD(NILHDR "[id]\n", 19,
        "expected SP or end of message after "
        "STRUCTURED-DATA");
    BAD(NILHDR "[id]x", 19,
        "expected SP or end of message after "
        "STRUCTURED-DATA");
    BAD(NILHDR "[", 16, "message ends inside SD-ELEMENT");
    BAD(NILHDR "[id", 18, "message ends inside SD-ELEMENT");
    BAD(NILHDR "[]", 16, "SD-ID is empty");
    BAD(NILHDR "[ id]", 16, "SD-ID is empty");
    BAD(NILHDR "[a=b]", 17, "SD-NAME contains '='");
    BAD(NILHDR "[a\"b]", 17, "SD-NAME contains '\"'");
    BAD(NILHDR "[a\x01]", 17, "SD-ID contains byte 0x01 (not PRINTUSASCII)");
    BAD(NILHDR "[a\xC3\xA9]", 17,
        "SD-ID contains byte 0xc3 (not PRINTUSASCII)");
    BAD(NILHDR "[abcdefghijklmnopqrstuvwxyz0123456]", 48,
        "SD-ID longer than 32 characters");
    BAD(NILHDR "[id][id]", 20, "duplicate SD-ID \"id\"");
    BAD(NILHDR "[id a=\"1\"][x][id b=\"2\"]", 29, "duplicate SD-ID \"id\"");
    BAD(NILHDR "[id ]", 19, "PARAM-NAME is empty");
    BAD(NILHDR "[id  a=\"1\"]", 19, "PARAM-NAME is empty");
    BAD(NILHDR "[id =\"1\"]", 19, "PARAM-NAME is empty");
    BAD(NILHDR "[id a]", 20, "expected '=' after PARAM-NAME");
    BAD(NILHDR "[id a b=\"1\"]", 20, "expected '=' after PARAM-NAME");
    BAD(NILHDR "[id a\"=\"1\"]", 20, "SD-NAME contains '\"'");
    BAD(NILHDR "[id a\x80=\"1\"]", 20,
        "PARAM-NAME contains byte 0x80 (not PRINTUSASCII)");
    BAD(NILHDR "[id abcdefghijklmnopqrstuvwxyz0123456=\"1\"]", 51,
        "PARAM-NAME longer than 32 characters");
    BAD(NILHDR "[id a", 20, "message ends inside SD-PARAM");
    BAD(NILHDR "[id a=", 21, "message ends inside SD-PARAM");
    BAD(NILHDR "[id a=1]", 21, "expected '\"' after PARAM-NAME=");
    BAD(NILHDR "[id a='1']", 21, "expected '\"' after PARAM-NAME=");
    BAD(NILHDR "[id a=\"1\" ]", 25, "PARAM-NAME is empty");
    BAD(NILHDR "[id a=\"1\"b=\"2\"]", 24, "expected SP or ']' after SD-PARAM");
    BAD(NILHDR "[id a=\"1", 23, "message ends inside PARAM-VALUE");
    BAD(NILHDR "[id a=\"1\\", 24, "message ends inside PARAM-VALUE");
    BAD(NILHDR "[id a=\"1\\\"]", 26, "message ends inside PARAM-VALUE");
    BAD(NILHDR "[id a=\"1\\\"", 25, "message ends inside PARAM-VALUE");
    BAD(NILHDR "[id a=\"1\"", 24, "message ends inside SD-ELEMENT");
    BAD(NILHDR "[id a=\"\xFF\"]", 22, "PARAM-VALUE is not valid UTF-8");
    BAD(NILHDR "[id a=\"x\xC0\xAF\"]", 23, "PARAM-VALUE is not valid UTF-8");
    BAD(NILHDR "[id a=\"\xED\xA0\x80\"]", 22, "PARAM-VALUE is not valid UTF-8");
    BAD(NILHDR "[id a=\"\xF4\x90\x80\x80\"]", 22,
        "PARAM-VALUE is not valid UTF-8");
    BAD(NILHDR "[id a=\"ab\xC3\"]", 24, "PARAM-VALUE is not valid UTF-8");
    BAD(NILHDR "[id a=\"\xE0\x80\xAF\"]", 22, "PARAM-VALUE is not valid UTF-8");
}

SN_TEST(msg_part)
{
    struct sn_syslog_msg m;
    static const char empty[] = NILHDR "- ";

    /* SP then nothing: an empty MSG, not an absent one. */
    GOOD(empty, &m);
    CHECK(m.msg.ptr == empty + sizeof(empty) - 1);
    CHECK_EQ(m.msg.len, 0);
    CHECK(!m.msg_has_bom);
    GOOD(NILHDR "- \xEF\xBB\xBF", &m);
    CHECK(m.msg_has_bom);
    CHECK(m.msg.ptr != NULL);
    CHECK_EQ(m.msg.len, 0);
    /* Exact bytes: leading spaces and a trailing LF belong to MSG. */
    GOOD(NILHDR "-  two spaces\n", &m);
    CHECK_SLICE(m.msg.ptr, m.msg.len, " two spaces\n");
    GOOD(NILHDR "[id] x\r\n", &m);
    CHECK_SLICE(m.msg.ptr, m.msg.len, "x\r\n");
    /* Without BOM any octets are MSG-ANY. */
    GOOD(NILHDR "- \xFF\xFE bytes \xC0", &m);
    CHECK(!m.msg_has_bom);
    CHECK_EQ(m.msg.len, 10);
    /* A partial BOM is just octets. */
    GOOD(NILHDR "- \xEF\xBB", &m);
    CHECK(!m.msg_has_bom);
    CHECK_EQ(m.msg.len, 2);
    /* A second BOM after the first is U+FEFF, valid UTF-8 text. */
    GOOD(NILHDR "- \xEF\xBB\xBF\xEF\xBB\xBFx", &m);
    CHECK(m.msg_has_bom);
    CHECK_SLICE(m.msg.ptr, m.msg.len, "\xEF\xBB\xBFx");
    /* NUL bytes inside MSG are kept. */
    {
        static const char nul[] = NILHDR "- a\0b";
        struct sn_parse_error e;

        CHECK_EQ(parse_n(nul, sizeof(nul) - 1, &m, &e), SN_OK);
        CHECK_EQ(m.msg.len, 3);
    }
    BAD(NILHDR "- \xEF\xBB\xBFok\xFF", 22, "MSG after BOM is not valid UTF-8");
    BAD(NILHDR "- \xEF\xBB\xBF"
               "0123456789abcdef\xED\xBF\xBF",
        36, "MSG after BOM is not valid UTF-8");
    BAD(NILHDR "- \xEF\xBB\xBF\xC3", 20, "MSG after BOM is not valid UTF-8");
}

SN_TEST(json_escapes_and_empty_msg)
{
    struct sn_syslog_msg m;
    struct sn_buf b;

    GOOD("<13>1 2024-01-01T00:00:00Z h a 1 m [x@1 k=\"a\\\"b\"][y] ", &m);
    sn_buf_init(&b, 1 << 16);
    CHECK_EQ(sn_syslog_msg_json(&m, &b), SN_OK);
    CHECK_STR(sn_buf_cstr(&b),
              "\"pri\":13,\"facility\":1,\"severity\":5,\"version\":1,"
              "\"timestamp\":\"2024-01-01T00:00:00Z\","
              "\"timestamp_utc_ns\":1704067200000000000,"
              "\"hostname\":\"h\",\"appname\":\"a\",\"procid\":\"1\","
              "\"msgid\":\"m\",\"sd\":{\"x@1\":{\"k\":\"a\\\"b\"},"
              "\"y\":{}},\"msg\":\"\"");
    sn_buf_fini(&b);
}

/* A realistic line with everything in it. */
SN_TEST(realistic)
{
    struct sn_syslog_msg m;

    GOOD("<86>1 2024-05-06T07:08:09.123456+02:00 web-01.example.org sshd "
         "40213 AUTH [origin ip=\"192.0.2.7\" software=\"OpenSSH\"]"
         "[meta sequenceId=\"42\"] Accepted publickey for alice from "
         "198.51.100.9 port 50122 ssh2: ED25519 SHA256:abc",
         &m);
    CHECK_EQ(m.pri, 86);
    CHECK_EQ(m.time_ns, INT64_C(1714972089123456000));
    CHECK_EQ(m.n_sd, 3);
    CHECK_SLICE(m.sd[2].id.ptr, m.sd[2].id.len, "meta");
    CHECK_SLICE(m.msg.ptr, m.msg.len,
                "Accepted publickey for alice from 198.51.100.9 port 50122 "
                "ssh2: ED25519 SHA256:abc");
}

SN_TEST_MAIN(SN_T(rfc_example_1), SN_T(rfc_example_2), SN_T(rfc_example_3),
             SN_T(rfc_example_4_json), SN_T(rfc_sd_examples),
             SN_T(minimal_and_nil), SN_T(pri_and_version),
             SN_T(timestamp_field), SN_T(header_lengths),
             SN_T(header_rejections), SN_T(sd_basics), SN_T(sd_escapes),
             SN_T(sd_many_params), SN_T(sd_many_elements), SN_T(sd_rejections),
             SN_T(msg_part), SN_T(json_escapes_and_empty_msg), SN_T(realistic))
