/*
 * Times as API clients write them (query filters of the incident and
 * event routes): RFC 3339 UTC or integer nanoseconds; see time_parse.h.
 */
/* _DEFAULT_SOURCE: timegm(3). */
#define _DEFAULT_SOURCE
#include "core/time_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exactly n decimal digits at *p, advancing it; -1 otherwise (sscanf's
 * %d would take signs, blanks and fewer digits). */
static int
digits(const char **p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool
sn_time_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (*s < '0' || *s > '9' || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* RFC 3339 UTC ("2026-01-02T03:04:05Z", fraction allowed) or integer
 * nanoseconds since the epoch, from 1970 up to (not including) 2200:
 * an impossible date (month 13, 31 April, hour 99) is refused rather than
 * normalised by timegm, and a bound far from int64's ends keeps every
 * difference of two times (ranges, bucket counts) from overflowing. */
bool
sn_time_parse(const char *s, int64_t *out)
{
    static const int mdays[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    const int64_t max_ns = SN_TIME_PARSE_MAX_NS;
    struct tm tm;
    const char *p = s;
    int y, mo, d, hh, mi, ss;
    int64_t ns = 0, t;

    if (*s != '\0' && strspn(s, "0123456789") == strlen(s))
        return sn_time_parse_int(s, 0, max_ns, out);
    if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 ||
        *p++ != '-' || (d = digits(&p, 2)) < 0 || *p++ != 'T' ||
        (hh = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
        *p++ != ':' || (ss = digits(&p, 2)) < 0)
        return false;
    if (y < 1970 || y >= 2200 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap(y)) || hh > 23 || mi > 59 ||
        ss > 60) /* RFC 3339 5.6: 60 is a leap second */
        return false;
    if (*p == '.') {
        int64_t scale = 100000000;
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ns += (*p - '0') * scale; /* digits past ns add 0 */
    }
    if (strcmp(p, "Z") != 0)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mi;
    tm.tm_sec = ss;
    t = (int64_t)timegm(&tm) * 1000000000 + ns;
    if (t < 0 || t > max_ns)
        return false;
    *out = t;
    return true;
}
