/*
 * RFC 3339 / RFC 5424 6.2.3 timestamps to UTC nanoseconds; see
 * timestamp.h. Fixed-position parsing: no locale, no libc time functions,
 * no time zone database (the lenient variant leaves zones to its caller).
 */
#include "syslog/timestamp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#define NS_PER_S 1000000000

/* Byte positions in "YYYY-MM-DDThh:mm:ss" (RFC 3339 5.6). */
#define POS_MONTH  5
#define POS_DAY    8
#define POS_SEP    10
#define POS_HOUR   11
#define POS_MINUTE 14
#define POS_SECOND 17
#define POS_END    19

static enum sn_status fail(struct sn_parse_error *err, size_t offset,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum sn_status
fail(struct sn_parse_error *err, size_t offset, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
        va_end(ap);
        err->offset = offset;
    }
    return SN_EINVAL;
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Read n decimal digits at p[at..]; on failure *bad is the offset of the
 * first byte that is not a digit (len when the text ends first).
 */
static bool
get_digits(const char *p, size_t len, size_t at, unsigned n, unsigned *val,
           size_t *bad)
{
    unsigned v = 0;

    for (unsigned k = 0; k < n; k++) {
        if (at + k >= len || !is_digit(p[at + k])) {
            *bad = at + k < len ? at + k : len;
            return false;
        }
        v = v * 10 + (unsigned)(p[at + k] - '0');
    }
    *val = v;
    return true;
}

static enum sn_status
need_digits(const char *p, size_t len, size_t at, unsigned n, unsigned *val,
            const char *what, struct sn_parse_error *err)
{
    size_t bad;

    if (get_digits(p, len, at, n, val, &bad))
        return SN_OK;
    if (bad == len)
        return fail(err, bad, "TIMESTAMP truncated in %s", what);
    return fail(err, bad, "TIMESTAMP %s is not %u digits", what, n);
}

static enum sn_status
need_char(const char *p, size_t len, size_t at, char c, const char *where,
          struct sn_parse_error *err)
{
    if (at >= len)
        return fail(err, len, "TIMESTAMP truncated: expected '%c' %s", c,
                    where);
    if (p[at] != c)
        return fail(err, at, "TIMESTAMP expected '%c' %s", c, where);
    return SN_OK;
}

static bool
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned
sn_days_in_month(int64_t y, unsigned m)
{
    static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30,
                                            31, 31, 30, 31, 30, 31 };

    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && is_leap(y))
        return 29;
    return days[m - 1];
}

/*
 * Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms": count
 * from a year starting on March 1st so the leap day is the last day of
 * the year, split years into 400-year eras of 146097 days, and shift the
 * result so that 1970-01-01 is day 0 (0000-03-01 is day -719468).
 */
int64_t
sn_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    if (m <= 2)
        y -= 1;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;                                   /* 0..399 */
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 /* 0..365 */
          + (int64_t)d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void
sn_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468; /* days from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                               /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);         /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                              /* 0..11 */

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void
put_digits(char *p, uint64_t v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* By hand: every incident document and evidence item carries several of
 * these, and gmtime_r + snprintf cost ~3,000 instructions each. */
void
sn_rfc3339_format(int64_t ns, char out[SN_RFC3339_NS_LEN + 1])
{
    int64_t sec = ns / 1000000000LL, frac = ns % 1000000000LL;
    int64_t days, sod, y;
    unsigned m, d;

    if (frac < 0) {
        frac += 1000000000LL;
        sec--;
    }
    days = sec / 86400;
    sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    sn_civil_from_days(days, &y, &m, &d);
    put_digits(out, (uint64_t)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (uint64_t)(sod / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (uint64_t)(sod / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (uint64_t)(sod % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (uint64_t)frac, 9);
    out[29] = 'Z';
    out[30] = '\0';
}

/* secs + frac/1e9 as int64 nanoseconds, when it fits. */
static bool
to_ns(int64_t secs, int64_t frac, int64_t *ns)
{
    const int64_t hi = INT64_MAX / NS_PER_S, lo = INT64_MIN / NS_PER_S;

    if (secs > hi || (secs == hi && frac > INT64_MAX % NS_PER_S))
        return false;
    if (secs < lo) {
        /* lo truncates towards zero, so lo - 1 seconds plus a large
         * enough fraction still fits; compute it without overflowing. */
        if (secs != lo - 1 || frac < NS_PER_S + INT64_MIN % NS_PER_S)
            return false;
        *ns = (secs + 1) * NS_PER_S - (NS_PER_S - frac);
        return true;
    }
    *ns = secs * NS_PER_S + frac;
    return true;
}

/* Two ASCII digits at p, or false. */
static bool
two(const char *p, unsigned *v)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0';
    unsigned b = (unsigned)(unsigned char)p[1] - '0';

    if (a > 9 || b > 9)
        return false;
    *v = a * 10 + b;
    return true;
}

struct civil {
    unsigned year, month, day, hour, minute, second;
};

/*
 * The common case in one go: "YYYY-MM-DDThh:mm:ss" well formed and every
 * field in range. Anything else (including every error) goes through
 * date_time_slow(), which alone words the errors.
 */
static bool
date_time_fast(const char *p, size_t len, struct civil *t)
{
    unsigned yh, yl;

    if (len < POS_END || !two(p, &yh) || !two(p + 2, &yl) || p[4] != '-' ||
        !two(p + POS_MONTH, &t->month) || p[7] != '-' ||
        !two(p + POS_DAY, &t->day) || p[POS_SEP] != 'T' ||
        !two(p + POS_HOUR, &t->hour) || p[13] != ':' ||
        !two(p + POS_MINUTE, &t->minute) || p[16] != ':' ||
        !two(p + POS_SECOND, &t->second))
        return false;
    t->year = yh * 100 + yl;
    return t->month >= 1 && t->month <= 12 && t->day >= 1 &&
           t->day <= sn_days_in_month(t->year, t->month) && t->hour <= 23 &&
           t->minute <= 59 && t->second <= 59;
}

/* FULL-DATE "T" PARTIAL-TIME up to the seconds, byte by byte, reporting
 * the first offending byte. */
static enum sn_status
date_time_slow(const char *p, size_t len, bool lenient, struct civil *t,
               unsigned *flags, struct sn_parse_error *err)
{
    unsigned mdays;
    enum sn_status rc;

    /* RFC 5424 6: FULL-DATE = DATE-FULLYEAR "-" DATE-MONTH "-" DATE-MDAY */
    if ((rc = need_digits(p, len, 0, 4, &t->year, "year", err)) != SN_OK ||
        (rc = need_char(p, len, 4, '-', "after year", err)) != SN_OK ||
        (rc = need_digits(p, len, POS_MONTH, 2, &t->month, "month", err)) !=
            SN_OK)
        return rc;
    if (t->month < 1 || t->month > 12)
        return fail(err, POS_MONTH, "TIMESTAMP month %02u out of range 01..12",
                    t->month);
    if ((rc = need_char(p, len, 7, '-', "after month", err)) != SN_OK ||
        (rc = need_digits(p, len, POS_DAY, 2, &t->day, "day", err)) != SN_OK)
        return rc;
    mdays = sn_days_in_month(t->year, t->month);
    if (t->day < 1 || t->day > mdays)
        return fail(err, POS_DAY,
                    "TIMESTAMP day %02u out of range 01..%02u for %04u-%02u",
                    t->day, mdays, t->year, t->month);

    /* RFC 5424 6.2.3: "Usage of the "T" character is REQUIRED" and it
     * "MUST be upper case"; RFC 3339 5.6 allows 't' and, by its note, a
     * space, which only the lenient variant takes. */
    if (POS_SEP >= len)
        return fail(err, len, "TIMESTAMP truncated: expected 'T' after date");
    if (p[POS_SEP] != 'T') {
        if (lenient && p[POS_SEP] == 't')
            *flags |= SN_TS_LOWERCASE;
        else if (lenient && p[POS_SEP] == ' ')
            *flags |= SN_TS_SPACE_SEP;
        else if (p[POS_SEP] == 't')
            return fail(err, POS_SEP,
                        "TIMESTAMP 't' must be upper case 'T' "
                        "(RFC 5424 6.2.3)");
        else
            return fail(err, POS_SEP, "TIMESTAMP expected 'T' after date");
    }

    /* PARTIAL-TIME = TIME-HOUR ":" TIME-MINUTE ":" TIME-SECOND */
    if ((rc = need_digits(p, len, POS_HOUR, 2, &t->hour, "hour", err)) != SN_OK)
        return rc;
    if (t->hour > 23)
        return fail(err, POS_HOUR, "TIMESTAMP hour %02u out of range 00..23",
                    t->hour);
    if ((rc = need_char(p, len, 13, ':', "after hour", err)) != SN_OK ||
        (rc = need_digits(p, len, POS_MINUTE, 2, &t->minute, "minute", err)) !=
            SN_OK)
        return rc;
    if (t->minute > 59)
        return fail(err, POS_MINUTE,
                    "TIMESTAMP minute %02u out of range 00..59", t->minute);
    if ((rc = need_char(p, len, 16, ':', "after minute", err)) != SN_OK ||
        (rc = need_digits(p, len, POS_SECOND, 2, &t->second, "second", err)) !=
            SN_OK)
        return rc;
    if (t->second == 60 && lenient) {
        *flags |= SN_TS_LEAP_SECOND;
    } else if (t->second == 60) {
        return fail(err, POS_SECOND,
                    "TIMESTAMP second 60 not allowed (RFC 5424 6.2.3: "
                    "leap seconds MUST NOT be used)");
    } else if (t->second > 59) {
        return fail(err, POS_SECOND,
                    "TIMESTAMP second %02u out of range 00..59", t->second);
    }
    return SN_OK;
}

static enum sn_status
parse(const char *p, size_t len, bool lenient, int64_t *ns_utc,
      size_t *consumed, unsigned *flags_out, struct sn_parse_error *err)
{
    struct civil t;
    unsigned flags = 0, off_h = 0, off_m = 0;
    int64_t frac = 0, secs, offset_s = 0;
    size_t i = POS_END;
    enum sn_status rc;

    if (!date_time_fast(p, len, &t) &&
        (rc = date_time_slow(p, len, lenient, &t, &flags, err)) != SN_OK)
        return rc;

    /* TIME-SECFRAC = "." 1*6DIGIT */
    if (i < len && p[i] == '.') {
        /* unit[n] = 10^(9-n) scales an n-digit fraction to nanoseconds. */
        static const int32_t unit[10] = { 1000000000, 100000000, 10000000,
                                          1000000,    100000,    10000,
                                          1000,       100,       10,
                                          1 };
        size_t start = ++i, n;

        while (i < len && is_digit(p[i])) {
            if (i - start == 6 && !lenient)
                return fail(err, i, "TIMESTAMP fraction longer than 6 digits");
            /* Digits past the ninth are below a nanosecond: dropped. */
            if (i - start < 9)
                frac = frac * 10 + (p[i] - '0');
            i++;
        }
        n = i - start < 9 ? i - start : 9;
        frac *= unit[n];
        if (i == start)
            return fail(err, i < len ? i : len,
                        "TIMESTAMP fraction has no digits");
        if (i - start > 6)
            flags |= SN_TS_LONG_FRAC;
    }

    /* TIME-OFFSET = "Z" / TIME-NUMOFFSET */
    if (i >= len) {
        if (!lenient)
            return fail(err, len, "TIMESTAMP truncated: TIME-OFFSET missing");
        flags |= SN_TS_NO_OFFSET;
    } else if (p[i] == 'Z' || (lenient && p[i] == 'z')) {
        if (p[i] == 'z')
            flags |= SN_TS_LOWERCASE;
        i++;
    } else if (p[i] == '+' || p[i] == '-') {
        /* TIME-NUMOFFSET = ("+" / "-") TIME-HOUR ":" TIME-MINUTE */
        bool neg = p[i] == '-';
        size_t at_h = i + 1, at_m;

        if (len - i >= 6 && two(p + at_h, &off_h) && p[at_h + 2] == ':' &&
            two(p + at_h + 3, &off_m) && off_h <= 23 && off_m <= 59) {
            at_m = at_h + 3;
        } else {
            if ((rc = need_digits(p, len, at_h, 2, &off_h, "offset hour",
                                  err)) != SN_OK)
                return rc;
            if (off_h > 23)
                return fail(err, at_h,
                            "TIMESTAMP offset hour %02u out of range 00..23",
                            off_h);
            at_m = at_h + 3;
            if (lenient && at_h + 2 < len && is_digit(p[at_h + 2])) {
                flags |= SN_TS_OFFSET_NOCOLON;
                at_m = at_h + 2;
            } else if ((rc = need_char(p, len, at_h + 2, ':',
                                       "after offset hour", err)) != SN_OK) {
                return rc;
            }
            if ((rc = need_digits(p, len, at_m, 2, &off_m, "offset minute",
                                  err)) != SN_OK)
                return rc;
            if (off_m > 59)
                return fail(err, at_m,
                            "TIMESTAMP offset minute %02u out of range 00..59",
                            off_m);
        }
        offset_s = (int64_t)off_h * 3600 + (int64_t)off_m * 60;
        if (neg)
            offset_s = -offset_s;
        i = at_m + 2;
    } else if (lenient) {
        flags |= SN_TS_NO_OFFSET;
    } else if (p[i] == 'z') {
        return fail(err, i,
                    "TIMESTAMP 'z' must be upper case 'Z' "
                    "(RFC 5424 6.2.3)");
    } else {
        return fail(err, i,
                    "TIMESTAMP expected 'Z', '+' or '-' for "
                    "TIME-OFFSET");
    }

    *consumed = i;
    if (flags_out != NULL)
        *flags_out = flags;
    /* Local time = UTC + offset (RFC 3339 4.2), so UTC = local - offset. */
    secs = sn_days_from_civil(t.year, t.month, t.day) * 86400 +
           (int64_t)t.hour * 3600 + (int64_t)t.minute * 60 + t.second -
           offset_s;
    if (!to_ns(secs, frac, ns_utc)) {
        if (err != NULL) {
            snprintf(err->reason, sizeof(err->reason),
                     "TIMESTAMP %04u-%02u-%02u outside the representable "
                     "range 1677-09-21..2262-04-11",
                     t.year, t.month, t.day);
            err->offset = 0;
        }
        return SN_ELIMIT;
    }
    return SN_OK;
}

enum sn_status
sn_rfc3339_parse(const char *p, size_t len, int64_t *ns_utc, size_t *consumed,
                 struct sn_parse_error *err)
{
    return parse(p, len, false, ns_utc, consumed, NULL, err);
}

enum sn_status
sn_rfc3339_parse_lenient(const char *p, size_t len, int64_t *ns_utc,
                         size_t *consumed, unsigned *flags,
                         struct sn_parse_error *err)
{
    return parse(p, len, true, ns_utc, consumed, flags, err);
}
