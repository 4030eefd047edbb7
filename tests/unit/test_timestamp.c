/*
 * Tests for src/syslog/timestamp.c: RFC 5424 6.2.3 strict timestamps, the
 * lenient variant, UTC conversion (exact nanoseconds, checked against an
 * independent calendar implementation) and sn_days_from_civil().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sn_test.h"
#include "syslog/timestamp.h"

/* Strict parse of a NUL-terminated string; returns the status. */
static enum sn_status
strict(const char *s, int64_t *ns, size_t *used, struct sn_parse_error *err)
{
    memset(err, 0, sizeof(*err));
    return sn_rfc3339_parse(s, strlen(s), ns, used, err);
}

static enum sn_status
lenient(const char *s, int64_t *ns, size_t *used, unsigned *flags,
        struct sn_parse_error *err)
{
    memset(err, 0, sizeof(*err));
    return sn_rfc3339_parse_lenient(s, strlen(s), ns, used, flags, err);
}

/* A strict parse that must succeed with this value, consuming all. */
#define OK_NS(s, want)                                                         \
    do {                                                                       \
        int64_t ns_ = 0;                                                       \
        size_t used_ = 0;                                                      \
        struct sn_parse_error e_;                                              \
        CHECK_EQ(strict((s), &ns_, &used_, &e_), SN_OK);                       \
        CHECK_EQ(ns_, (want));                                                 \
        CHECK_EQ(used_, strlen(s));                                            \
    } while (0)

/* A strict parse that must fail at this offset with this reason. */
#define BAD(s, off, why)                                                       \
    do {                                                                       \
        int64_t ns_ = 0;                                                       \
        size_t used_ = 0;                                                      \
        struct sn_parse_error e_;                                              \
        CHECK_EQ(strict((s), &ns_, &used_, &e_), SN_EINVAL);                   \
        CHECK_EQ(e_.offset, (off));                                            \
        CHECK_STR(e_.reason, (why));                                           \
    } while (0)

SN_TEST(days_from_civil)
{
    CHECK_EQ(sn_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(sn_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ(sn_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ(sn_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ(sn_days_from_civil(0, 3, 1), -719468);
    CHECK_EQ(sn_days_from_civil(0, 1, 1), -719528); /* year 0 is leap */
    CHECK_EQ(sn_days_from_civil(9999, 12, 31), 2932896);
    CHECK_EQ(sn_days_from_civil(-1, 12, 31), -719529);
    /* Consecutive days across a leap day and a century non-leap year. */
    CHECK_EQ(sn_days_from_civil(2024, 3, 1) - sn_days_from_civil(2024, 2, 28),
             2);
    CHECK_EQ(sn_days_from_civil(1900, 3, 1) - sn_days_from_civil(1900, 2, 28),
             1);
}

SN_TEST(days_in_month)
{
    CHECK_EQ(sn_days_in_month(2023, 2), 28);
    CHECK_EQ(sn_days_in_month(2024, 2), 29);
    CHECK_EQ(sn_days_in_month(1900, 2), 28);
    CHECK_EQ(sn_days_in_month(2000, 2), 29);
    CHECK_EQ(sn_days_in_month(0, 2), 29);
    CHECK_EQ(sn_days_in_month(2023, 4), 30);
    CHECK_EQ(sn_days_in_month(2023, 12), 31);
    CHECK_EQ(sn_days_in_month(2023, 0), 0);
    CHECK_EQ(sn_days_in_month(2023, 13), 0);
}

/* The valid examples of RFC 5424 6.2.3.1. */
SN_TEST(rfc5424_examples)
{
    OK_NS("1985-04-12T23:20:50.52Z", INT64_C(482196050520000000));
    OK_NS("1985-04-12T19:20:50.52-04:00", INT64_C(482196050520000000));
    OK_NS("2003-10-11T22:14:15.003Z", INT64_C(1065910455003000000));
    OK_NS("2003-08-24T05:14:15.000003-07:00", INT64_C(1061727255000003000));
}

SN_TEST(conversions)
{
    OK_NS("1970-01-01T00:00:00Z", 0);
    OK_NS("1970-01-01T00:00:00+00:00", 0);
    OK_NS("1970-01-01T00:00:00-00:00", 0);
    OK_NS("1970-01-01T00:00:00.000001Z", 1000);
    OK_NS("1970-01-01T00:00:00.1Z", 100000000);
    OK_NS("1969-12-31T23:59:59.5Z", -500000000);
    OK_NS("1969-12-31T23:59:59.999999Z", -1000);
    OK_NS("1970-01-01T00:00:00-23:59", INT64_C(86340000000000));
    OK_NS("2024-02-29T12:00:00+23:59", INT64_C(1709121660000000000));
    OK_NS("2000-02-29T00:00:00Z", INT64_C(951782400000000000));
    OK_NS("1900-03-01T00:00:00Z", INT64_C(-2203891200000000000));
    /* Offsets move across day, month and year boundaries. */
    OK_NS("2023-12-31T23:30:00-01:00", INT64_C(1704069000000000000));
    OK_NS("2024-01-01T00:30:00+01:00", INT64_C(1704065400000000000));
}

SN_TEST(ns_range)
{
    int64_t ns = 0;
    size_t used = 0;
    unsigned fl = 0;
    struct sn_parse_error e;

    OK_NS("2262-04-11T23:47:16.854775Z", INT64_C(9223372036854775000));
    OK_NS("1677-09-21T00:12:43.145225Z", INT64_C(-9223372036854775000));
    CHECK_EQ(strict("2262-04-11T23:47:16.854776Z", &ns, &used, &e), SN_ELIMIT);
    CHECK_EQ(used, 27);
    CHECK_EQ(strict("1677-09-21T00:12:43.145224Z", &ns, &used, &e), SN_ELIMIT);
    CHECK_EQ(lenient("2262-04-11T23:47:16.854775807Z", &ns, &used, &fl, &e),
             SN_OK);
    CHECK_EQ(ns, INT64_MAX);
    CHECK_EQ(lenient("2262-04-11T23:47:16.854775808Z", &ns, &used, &fl, &e),
             SN_ELIMIT);
    CHECK_EQ(lenient("1677-09-21T00:12:43.145224192Z", &ns, &used, &fl, &e),
             SN_OK);
    CHECK_EQ(ns, INT64_MIN);
    CHECK_EQ(lenient("1677-09-21T00:12:43.145224191Z", &ns, &used, &fl, &e),
             SN_ELIMIT);
    /* Years 0000 and 9999 are valid syntax but beyond int64 ns. */
    CHECK_EQ(strict("0000-01-01T00:00:00Z", &ns, &used, &e), SN_ELIMIT);
    CHECK_EQ(strict("9999-12-31T23:59:59.999999Z", &ns, &used, &e), SN_ELIMIT);
    CHECK_EQ(used, 27);
}

SN_TEST(stops_at_end_of_timestamp)
{
    int64_t ns = 0;
    size_t used = 0;
    struct sn_parse_error e;

    CHECK_EQ(strict("2003-10-11T22:14:15.003Z host", &ns, &used, &e), SN_OK);
    CHECK_EQ(used, 24);
    CHECK_EQ(strict("2003-10-11T22:14:15+01:00x", &ns, &used, &e), SN_OK);
    CHECK_EQ(used, 25);
    /* A bare timestamp need not be NUL-terminated: length is honoured. */
    CHECK_EQ(sn_rfc3339_parse("1970-01-01T00:00:00Z9", 20, &ns, &used, &e),
             SN_OK);
    CHECK_EQ(used, 20);
    CHECK_EQ(sn_rfc3339_parse("1970-01-01T00:00:00Z", 19, &ns, &used, &e),
             SN_EINVAL);
    CHECK_EQ(e.offset, 19);
}

SN_TEST(calendar_rejections)
{
    BAD("2023-00-10T00:00:00Z", 5, "TIMESTAMP month 00 out of range 01..12");
    BAD("2023-13-10T00:00:00Z", 5, "TIMESTAMP month 13 out of range 01..12");
    BAD("2023-02-29T00:00:00Z", 8,
        "TIMESTAMP day 29 out of range 01..28 for 2023-02");
    BAD("1900-02-29T00:00:00Z", 8,
        "TIMESTAMP day 29 out of range 01..28 for 1900-02");
    OK_NS("2024-02-29T00:00:00Z", INT64_C(1709164800000000000));
    BAD("2023-04-31T00:00:00Z", 8,
        "TIMESTAMP day 31 out of range 01..30 for 2023-04");
    BAD("2023-01-00T00:00:00Z", 8,
        "TIMESTAMP day 00 out of range 01..31 for 2023-01");
    BAD("2023-01-01T24:00:00Z", 11, "TIMESTAMP hour 24 out of range 00..23");
    BAD("2023-01-01T23:60:00Z", 14, "TIMESTAMP minute 60 out of range 00..59");
    BAD("2023-01-01T23:59:60Z", 17,
        "TIMESTAMP second 60 not allowed (RFC 5424 6.2.3: leap seconds MUST "
        "NOT be used)");
    BAD("2023-01-01T23:59:61Z", 17, "TIMESTAMP second 61 out of range 00..59");
    BAD("2023-01-01T00:00:00+24:00", 20,
        "TIMESTAMP offset hour 24 out of range 00..23");
    BAD("2023-01-01T00:00:00+01:60", 23,
        "TIMESTAMP offset minute 60 out of range 00..59");
}

SN_TEST(syntax_rejections)
{
    BAD("2023-01-01t00:00:00Z", 10,
        "TIMESTAMP 't' must be upper case 'T' (RFC 5424 6.2.3)");
    BAD("2023-01-01T00:00:00z", 19,
        "TIMESTAMP 'z' must be upper case 'Z' (RFC 5424 6.2.3)");
    BAD("2023-01-01 00:00:00Z", 10, "TIMESTAMP expected 'T' after date");
    BAD("2023-01-01T00:00:00", 19, "TIMESTAMP truncated: TIME-OFFSET missing");
    BAD("2023-01-01T00:00:00 ", 19,
        "TIMESTAMP expected 'Z', '+' or '-' for TIME-OFFSET");
    BAD("2023-01-01T00:00:00.1234567Z", 26,
        "TIMESTAMP fraction longer than 6 digits");
    BAD("2023-01-01T00:00:00.Z", 20, "TIMESTAMP fraction has no digits");
    BAD("2023-01-01T00:00:00,5Z", 19,
        "TIMESTAMP expected 'Z', '+' or '-' for TIME-OFFSET");
    BAD("23-01-01T00:00:00Z", 2, "TIMESTAMP year is not 4 digits");
    BAD("2023-1-01T00:00:00Z", 6, "TIMESTAMP month is not 2 digits");
    BAD("2023/01/01T00:00:00Z", 4, "TIMESTAMP expected '-' after year");
    BAD("2023-01-01T0:00:00Z", 12, "TIMESTAMP hour is not 2 digits");
    BAD("2023-01-01T00-00:00Z", 13, "TIMESTAMP expected ':' after hour");
    BAD("2023-01-01T00:00:00+0100", 22,
        "TIMESTAMP expected ':' after offset hour");
    BAD("2023-01-01T00:00:00+1:00", 21,
        "TIMESTAMP offset hour is not 2 "
        "digits");
    BAD("2023-01-01T00:00:00+01:0", 24,
        "TIMESTAMP truncated in offset "
        "minute");
    BAD("2023", 4, "TIMESTAMP truncated: expected '-' after year");
    BAD("", 0, "TIMESTAMP truncated in year");
    BAD("2023-01-01", 10, "TIMESTAMP truncated: expected 'T' after date");
    BAD("-", 0, "TIMESTAMP year is not 4 digits");
}

SN_TEST(lenient_variant)
{
    int64_t ns = 0;
    size_t used = 0;
    unsigned fl = 0;
    struct sn_parse_error e;

    CHECK_EQ(lenient("2003-10-11T22:14:15.003Z", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, 0);
    CHECK_EQ(ns, INT64_C(1065910455003000000));
    CHECK_EQ(lenient("2003-10-11t22:14:15.003z", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_LOWERCASE);
    CHECK_EQ(ns, INT64_C(1065910455003000000));
    CHECK_EQ(lenient("2003-10-11 22:14:15.003Z", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_SPACE_SEP);
    CHECK_EQ(lenient("2003-10-11T22:14:15 host", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_NO_OFFSET);
    CHECK_EQ(used, 19);
    CHECK_EQ(ns, INT64_C(1065910455000000000));
    CHECK_EQ(lenient("2003-10-11T22:14:15", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_NO_OFFSET);
    CHECK_EQ(lenient("2003-10-11T22:14:15.123456789123Z", &ns, &used, &fl, &e),
             SN_OK);
    CHECK_EQ(fl, SN_TS_LONG_FRAC);
    CHECK_EQ(ns, INT64_C(1065910455123456789));
    CHECK_EQ(used, 33);
    CHECK_EQ(lenient("2016-12-31T23:59:60Z", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_LEAP_SECOND);
    CHECK_EQ(ns, INT64_C(1483228800000000000)); /* 2017-01-01T00:00:00Z */
    CHECK_EQ(lenient("2003-10-11T22:14:15+0200", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_OFFSET_NOCOLON);
    CHECK_EQ(ns, INT64_C(1065903255000000000));
    CHECK_EQ(used, 24);
    CHECK_EQ(lenient("2003-10-11T22:14:15.5", &ns, &used, &fl, &e), SN_OK);
    CHECK_EQ(fl, SN_TS_NO_OFFSET);
    CHECK_EQ(ns, INT64_C(1065910455500000000));
    /* Still rejected: calendar errors and broken offsets. */
    CHECK_EQ(lenient("2003-02-29T22:14:15Z", &ns, &used, &fl, &e), SN_EINVAL);
    CHECK_EQ(e.offset, 8);
    CHECK_EQ(lenient("2003-10-11T22:14:61Z", &ns, &used, &fl, &e), SN_EINVAL);
    CHECK_EQ(lenient("2003-10-11T22:14:15+2", &ns, &used, &fl, &e), SN_EINVAL);
    CHECK_EQ(lenient("2003-10-11T22:14:15.", &ns, &used, &fl, &e), SN_EINVAL);
    /* flags may be NULL; err may be NULL. */
    CHECK_EQ(sn_rfc3339_parse_lenient("2003-10-11T22:14:15", 19, &ns, &used,
                                      NULL, NULL),
             SN_OK);
    CHECK_EQ(sn_rfc3339_parse("x", 1, &ns, &used, NULL), SN_EINVAL);
}

/* Every day 1600..2400 against a naive day counter. */
SN_TEST(days_exhaustive)
{
    int64_t n = sn_days_from_civil(1600, 1, 1);

    for (int64_t y = 1600; y <= 2400; y++)
        for (unsigned m = 1; m <= 12; m++)
            for (unsigned d = 1; d <= sn_days_in_month(y, m); d++) {
                if (sn_days_from_civil(y, m, d) != n) {
                    CHECK_EQ(sn_days_from_civil(y, m, d), n);
                    return;
                }
                n++;
            }
    CHECK_EQ(n, sn_days_from_civil(2401, 1, 1));
}

/* Every day 0000..9999 back from its number, and formatted times against
 * gmtime_r + strftime (glibc's calendar, independent of ours) over the
 * whole int64 range of nanoseconds, near the epoch and at day edges. */
SN_TEST(civil_and_format)
{
    int64_t n = sn_days_from_civil(0, 1, 1);
    char got[SN_RFC3339_NS_LEN + 1], want[64];
    uint64_t x = 88172645463325252ull;

    for (int64_t y = 0; y <= 9999; y++)
        for (unsigned m = 1; m <= 12; m++)
            for (unsigned d = 1; d <= sn_days_in_month(y, m); d++) {
                int64_t yy;
                unsigned mm, dd;
                sn_civil_from_days(n++, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d) {
                    CHECK_EQ(yy, y);
                    CHECK_EQ(mm, m);
                    CHECK_EQ(dd, d);
                    return;
                }
            }
    for (int i = 0; i < 200000; i++) {
        int64_t ns, sec;
        long frac;
        time_t t;
        struct tm tm;
        size_t k;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ns = (int64_t)x;
        if (i % 4 == 1) /* within ~2 days of the epoch */
            ns %= 200000LL * 1000000000LL;
        else if (i % 4 == 2 && ns > -9000000000000000000LL &&
                 ns < 9000000000000000000LL) /* a day's first or last ns */
            ns = ns / 86400000000000LL * 86400000000000LL +
                 (i & 8 ? 86399999999999LL : 0);
        if (i == 0)
            ns = INT64_MIN;
        else if (i == 4)
            ns = INT64_MAX;
        sec = ns / 1000000000LL;
        frac = (long)(ns % 1000000000LL);
        if (frac < 0) {
            frac += 1000000000L;
            sec--;
        }
        t = (time_t)sec;
        gmtime_r(&t, &tm);
        k = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + k, sizeof(want) - k, ".%09ldZ", frac);
        sn_rfc3339_format(ns, got);
        if (strcmp(got, want) != 0) {
            CHECK_STR(got, want);
            return;
        }
    }
    sn_rfc3339_format(-1, got);
    CHECK_STR(got, "1969-12-31T23:59:59.999999999Z");
    sn_rfc3339_format(951782400LL * 1000000000LL, got);
    CHECK_STR(got, "2000-02-29T00:00:00.000000000Z");
}

SN_TEST_MAIN(SN_T(days_from_civil), SN_T(days_in_month), SN_T(rfc5424_examples),
             SN_T(conversions), SN_T(ns_range), SN_T(stops_at_end_of_timestamp),
             SN_T(calendar_rejections), SN_T(syntax_rejections),
             SN_T(lenient_variant), SN_T(days_exhaustive),
             SN_T(civil_and_format))
