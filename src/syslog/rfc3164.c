/*
 * RFC 3164 parser; see rfc3164.h for the contract. Which token is a
 * hostname and which a TAG is decided the way rsyslog (pmrfc3164) and
 * syslog-ng (syslog-format.c) decide it, so the same line yields the same
 * fields here as there; each heuristic is explained where it is applied.
 * It owns no memory and never rejects a non-empty message.
 */
#include "syslog/rfc3164.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "syslog/timestamp.h"

/*
 * rsyslog takes a number in the year position only when it lies strictly
 * between 1970 and 2100; anything else there is not a year.
 */
#define YEAR_MIN 1971
#define YEAR_MAX 2099

#define SECS_PER_DAY 86400LL

/* Year inference window (see infer_year): a date up to this far in the
 * future is this year's, one further ahead is last year's... */
#define FUTURE_SLACK_SECS (31 * SECS_PER_DAY)
/* ...and one further back than this is next year's. Together they cover
 * exactly one year, so one candidate year fits. */
#define PAST_SLACK_SECS (334 * SECS_PER_DAY)

/* The part of the message the header is searched in: trailing CR and LF
 * are not part of any header field (rsyslog drops a trailing LF before
 * parsing), but they stay in MSG, which always runs to len. */
struct cur {
    const char *p;
    size_t end; /* header view: trailing CR/LF excluded */
    size_t len; /* whole message */
    struct sn_rfc3164_memo *memo; /* NULL: none */
};

/* A BSD timestamp as written (RFC 3164 4.1.2 plus the variants seen). */
struct bsd_ts {
    int year; /* 0: none written */
    unsigned mon, day, hour, min, sec;
    uint32_t nsec;
    bool has_zone;     /* a zone name with a known offset was written */
    bool unknown_zone; /* a zone name was written, offset unknown */
    int32_t zone_off;  /* seconds east, when has_zone */
};

_Static_assert(sizeof(struct bsd_ts) <= SN_RFC3164_MEMO_FIELDS,
               "the memo holds a struct bsd_ts");

/* A timestamp found at some position. */
struct stamp {
    size_t start, end; /* its text [start, end), markers excluded */
    bool unsynced;     /* Cisco '*' before it: clock not synchronised */
    bool is_3339;
    bool in_range;  /* RFC 3339: the instant fits int64_t nanoseconds */
    bool no_offset; /* RFC 3339 without offset: ns is the wall clock */
    int64_t ns;
    struct bsd_ts bsd;
};

/*
 * Character classes, one table lookup each: the header's tokens are
 * scanned byte by byte, and the comparisons chained per byte were a
 * tenth of a parse. The table is built from the definitions at compile
 * time. HOST and TAG are host_char and tag_char (below).
 */
#define CL_DIGIT  0x01
#define CL_ALPHA  0x02
#define CL_XDIGIT 0x04
#define CL_HOST   0x08
#define CL_TAG    0x10

#define C_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define C_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define C_ALNUM(c) (C_DIGIT(c) || C_ALPHA(c))
#define C_XDIGIT(c) \
    (C_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define C_HOST(c)                                                          \
    (C_ALNUM(c) || (c) == '.' || (c) == '-' || (c) == '_' || (c) == ':' || \
     (c) == '/' || (c) == '@')
#define C_TAGPUNCT(c)                                                      \
    ((c) == '-' || (c) == '_' || (c) == '.' || (c) == '/' || (c) == '%' || \
     (c) == '@' || (c) == '(' || (c) == ')' || (c) == '+' || (c) == '#' || \
     (c) == '~' || (c) == '!' || (c) == '$' || (c) == '&' || (c) == '*' || \
     (c) == '?' || (c) == '^' || (c) == '|' || (c) == ',')
#define C_TAG(c) ((c) >= 0x80 || C_ALNUM(c) || C_TAGPUNCT(c))
#define CL(c)                                                              \
    ((C_DIGIT(c) ? CL_DIGIT : 0) | (C_ALPHA(c) ? CL_ALPHA : 0) |           \
     (C_XDIGIT(c) ? CL_XDIGIT : 0) | (C_HOST(c) ? CL_HOST : 0) |           \
     (C_TAG(c) ? CL_TAG : 0))
#define CL4(c)  CL(c), CL((c) + 1), CL((c) + 2), CL((c) + 3)
#define CL16(c) CL4(c), CL4((c) + 4), CL4((c) + 8), CL4((c) + 12)
#define CL64(c) CL16(c), CL16((c) + 16), CL16((c) + 32), CL16((c) + 48)

static const unsigned char char_class[256] = {
    CL64(0), CL64(64), CL64(128), CL64(192),
};

static bool
has_class(char c, unsigned cl)
{
    return (char_class[(unsigned char)c] & cl) != 0;
}

static bool
is_digit(char c)
{
    return has_class(c, CL_DIGIT);
}

static bool
is_alpha(char c)
{
    return has_class(c, CL_ALPHA);
}

static bool
is_alnum(char c)
{
    return has_class(c, CL_DIGIT | CL_ALPHA);
}

static bool
is_xdigit(char c)
{
    return has_class(c, CL_XDIGIT);
}

static char
lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static struct sn_str
slice(const char *p, size_t from, size_t to)
{
    struct sn_str s = { p + from, to - from };

    return s;
}

static bool
has_prefix(const struct cur *c, size_t at, const char *prefix)
{
    size_t n = strlen(prefix);

    return c->end - at >= n && memcmp(c->p + at, prefix, n) == 0;
}

static size_t
skip_spaces(const struct cur *c, size_t i)
{
    while (i < c->end && c->p[i] == ' ')
        i++;
    return i;
}

/* Read min..max decimal digits at *i into *v. */
static bool
digits(const struct cur *c, size_t *i, unsigned min, unsigned max, unsigned *v)
{
    unsigned n = 0, acc = 0;

    while (*i < c->end && n < max && is_digit(c->p[*i])) {
        acc = acc * 10 + (unsigned)(c->p[*i] - '0');
        (*i)++;
        n++;
    }
    *v = acc;
    return n >= min;
}

/* RFC 3164 4.1.2: "Mmm" is the English month abbreviation; case is not
 * checked because rsyslog does not check it either. */
static unsigned
month_at(const struct cur *c, size_t i)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";

    if (c->end - i < 3)
        return 0;
    for (unsigned m = 0; m < 12; m++)
        if (lower(c->p[i]) == names[3 * m] &&
            lower(c->p[i + 1]) == names[3 * m + 1] &&
            lower(c->p[i + 2]) == names[3 * m + 2])
            return m + 1;
    return 0;
}

/* Zone names after a BSD time: the RFC 5322 4.3 obs-zone names (whose
 * offsets that RFC fixes) plus UTC, which Cisco IOS writes. Other names
 * are ambiguous (CST is also China) and are not converted. */
static const struct {
    const char *name;
    int32_t off;
} zones[] = {
    { "UTC", 0 },         { "UT", 0 },          { "GMT", 0 },
    { "EST", -5 * 3600 }, { "EDT", -4 * 3600 }, { "CST", -6 * 3600 },
    { "CDT", -5 * 3600 }, { "MST", -7 * 3600 }, { "MDT", -6 * 3600 },
    { "PST", -8 * 3600 }, { "PDT", -7 * 3600 },
};

/* True when a timestamp field may end at i: at a space, at the end, or
 * at a ':' that is followed by a space or the end (Cisco writes
 * "*Mar  1 00:00:00.000 UTC: %SYS-..."). */
static bool
field_end(const struct cur *c, size_t i)
{
    return i >= c->end || c->p[i] == ' ' ||
           (c->p[i] == ':' && (i + 1 >= c->end || c->p[i + 1] == ' '));
}

/*
 * The part of a BSD timestamp from the month to the end of the seconds
 * ("Mmm dd [yyyy ]hh:mm:ss") at *i; on success *i is past the seconds.
 * Every byte it reads lies in what it accepts (each digit run stops at a
 * count or at a byte of the text), so its result is a function of those
 * bytes alone: what makes bsd_prefix_memo exact.
 */
static bool
bsd_prefix_at(const struct cur *c, size_t *at, struct bsd_ts *ts)
{
    const char *p = c->p;
    size_t i = *at, k;
    unsigned v;

    if ((ts->mon = month_at(c, i)) == 0)
        return false;
    i += 3;
    if (i >= c->end || p[i] != ' ')
        return false;
    i++;
    if (i < c->end && p[i] == ' ')
        i++;
    if (!digits(c, &i, 1, 2, &ts->day) || ts->day < 1)
        return false;
    if (i >= c->end || p[i] != ' ')
        return false;
    i++;
    k = i;
    if (digits(c, &k, 4, 4, &v) && k < c->end && p[k] == ' ') {
        if (v < YEAR_MIN || v > YEAR_MAX)
            return false;
        ts->year = (int)v;
        i = k + 1;
    }
    if (!digits(c, &i, 1, 2, &ts->hour) || ts->hour > 23)
        return false;
    if (i >= c->end || p[i++] != ':')
        return false;
    if (!digits(c, &i, 2, 2, &ts->min) || ts->min > 59)
        return false;
    if (i >= c->end || p[i++] != ':')
        return false;
    /* 60: a leap second; it simply counts into the next minute. */
    if (!digits(c, &i, 2, 2, &ts->sec) || ts->sec > 60)
        return false;
    *at = i;
    return true;
}

/* bsd_prefix_at through the memo: the same bytes as last time give the
 * same fields without reading them again. */
static bool
bsd_prefix_memo(const struct cur *c, size_t *at, struct bsd_ts *ts)
{
    struct sn_rfc3164_memo *m = c->memo;
    size_t i = *at;

    if (m == NULL)
        return bsd_prefix_at(c, at, ts);
    if (m->text_len > 0 && c->end - i >= m->text_len &&
        memcmp(c->p + i, m->text, m->text_len) == 0) {
        memcpy(ts, m->fields, sizeof(*ts));
        *at = i + m->text_len;
        return true;
    }
    if (!bsd_prefix_at(c, at, ts))
        return false;
    if (*at - i <= sizeof(m->text)) {
        memcpy(m->text, c->p + i, *at - i);
        m->text_len = *at - i;
        /* ts was zeroed, then the prefix's fields set: all of it is what
         * the prefix gave. */
        memcpy(m->fields, ts, sizeof(*ts));
    }
    return true;
}

/*
 * A BSD timestamp at i: RFC 3164 4.1.2 "Mmm dd hh:mm:ss", with the day
 * padded by a space, a zero or not at all, and the variants devices emit:
 * fractional seconds (Cisco "service timestamps ... msec"), a year before
 * the time (Cisco ASA/PIX "Mmm dd yyyy hh:mm:ss") or after it (Cisco IOS
 * "... year"), and a zone name (Cisco "show-timezone"). Unknown zone
 * names are only taken in a Cisco context (cisco), where a ':' follows
 * them; elsewhere an upper-case word after the time may well be a TAG.
 * On success *end is the end of the timestamp text.
 */
static bool
bsd_ts_at(const struct cur *c, size_t i, bool cisco, struct bsd_ts *ts,
          size_t *end)
{
    const char *p = c->p;
    size_t k;
    unsigned v;
    int year_first;

    memset(ts, 0, sizeof(*ts));
    /* The year first, "yyyy Mmm dd hh:mm:ss": Cisco NX-OS writes it, so
     * does the fourth example of RFC 3164 5.4, and rsyslog reads it. */
    k = i;
    year_first = 0;
    if (digits(c, &k, 4, 4, &v) && k + 1 < c->end && p[k] == ' ' &&
        v >= YEAR_MIN && v <= YEAR_MAX && month_at(c, k + 1) != 0) {
        year_first = (int)v;
        i = k + 1;
    }
    if (!bsd_prefix_memo(c, &i, ts))
        return false;
    if (year_first != 0) {
        if (ts->year != 0)
            return false; /* two years: not a timestamp */
        ts->year = year_first;
    }
    if (i + 1 < c->end && p[i] == '.' && is_digit(p[i + 1])) {
        uint32_t scale = 100000000;

        for (i++; i < c->end && is_digit(p[i]); i++) {
            ts->nsec += (uint32_t)(p[i] - '0') * scale;
            scale /= 10;
        }
    }
    k = i;
    if (ts->year == 0 && k < c->end && p[k] == ' ') {
        k++;
        if (digits(c, &k, 4, 4, &v) && field_end(c, k) && v >= YEAR_MIN &&
            v <= YEAR_MAX) {
            ts->year = (int)v;
            i = k;
        }
    }
    k = i;
    if (k < c->end && p[k] == ' ') {
        size_t z = ++k;

        while (k < c->end && k - z < 5 && p[k] >= 'A' && p[k] <= 'Z')
            k++;
        if (k > z && field_end(c, k)) {
            for (size_t n = 0; n < sizeof(zones) / sizeof(zones[0]); n++) {
                if (strlen(zones[n].name) == k - z &&
                    memcmp(zones[n].name, p + z, k - z) == 0) {
                    ts->has_zone = true;
                    ts->zone_off = zones[n].off;
                }
            }
            if (!ts->has_zone && cisco && k - z >= 2 && k < c->end &&
                p[k] == ':')
                ts->unknown_zone = true;
            if (ts->has_zone || ts->unknown_zone)
                i = k;
        }
    }
    /* A year after the zone name: "Aug 24 05:34:00 CST 1987", the third
     * example of RFC 3164 5.4. */
    k = i;
    if (ts->has_zone && ts->year == 0 && k < c->end && p[k] == ' ') {
        k++;
        if (digits(c, &k, 4, 4, &v) && field_end(c, k) && v >= YEAR_MIN &&
            v <= YEAR_MAX) {
            ts->year = (int)v;
            i = k;
        }
    }
    /* 2000: a leap year, so Feb 29 passes until the year is known. */
    if (ts->day > sn_days_in_month(ts->year ? ts->year : 2000, ts->mon) ||
        !field_end(c, i))
        return false;
    *end = i;
    return true;
}

/* An RFC 3339 timestamp at i (rsyslog's forwarding templates write one
 * in place of the BSD timestamp), through the lenient parser. */
static bool
rfc3339_at(const struct cur *c, size_t i, struct stamp *st)
{
    enum sn_status rc;
    unsigned flags = 0;
    size_t used = 0;
    int64_t ns = 0;

    if (i >= c->end || !is_digit(c->p[i]))
        return false;
    rc = sn_rfc3339_parse_lenient(c->p + i, c->end - i, &ns, &used, &flags,
                                  NULL);
    if ((rc != SN_OK && rc != SN_ELIMIT) || !field_end(c, i + used))
        return false;
    st->is_3339 = true;
    st->start = i;
    st->end = i + used;
    st->in_range = rc == SN_OK;
    st->no_offset = (flags & SN_TS_NO_OFFSET) != 0;
    st->ns = ns;
    return true;
}

/* A timestamp of either kind at i, after an optional Cisco clock marker
 * ('*': not synchronised, '.': synchronised). */
static bool
stamp_at(const struct cur *c, size_t i, bool cisco, struct stamp *st)
{
    memset(st, 0, sizeof(*st));
    if (i < c->end && (c->p[i] == '*' || c->p[i] == '.')) {
        st->unsynced = c->p[i] == '*';
        cisco = true;
        i++;
    }
    if (rfc3339_at(c, i, st))
        return true;
    st->start = i;
    return bsd_ts_at(c, i, cisco, &st->bsd, &st->end);
}

/* Cisco IOS sequence number: "123: " before the timestamp, or a bare
 * ": " when sequence numbers are off. At most 20 digits: a 64-bit
 * counter. On success *next is past the space. */
static bool
cisco_seq(const struct cur *c, size_t i, size_t *next, bool *has_digits)
{
    size_t start = i;

    while (i < c->end && i - start < 20 && is_digit(c->p[i]))
        i++;
    if (i + 1 < c->end && c->p[i] == ':' && c->p[i + 1] == ' ') {
        *next = i + 2;
        *has_digits = i > start;
        return true;
    }
    return false;
}

/*
 * Hostname characters: RFC 1123 letters, digits, '-' and '.', plus what
 * rsyslog and syslog-ng accept in practice: '_' , ':' for IPv6 (checked
 * below), and '/' and '@' that syslog-ng relay chains write.
 */
static bool
host_char(char c)
{
    return has_class(c, CL_HOST); /* C_HOST */
}

/*
 * A hostname token [from, to): made of host_char, starting with a letter,
 * digit or ':' and ending with a letter or digit (rsyslog's test: "sshd:"
 * and "sshd[1]:" are TAGs). ':' is only valid in an IPv6 address, i.e. a
 * token of hex digits, ':' and '.' (IPv4 suffix) with at least two ':'.
 */
static bool
host_token(const struct cur *c, size_t from, size_t to)
{
    size_t n_colon = 0;
    bool ipv6_chars = true;

    if (to == from || !(is_alnum(c->p[from]) || c->p[from] == ':') ||
        !is_alnum(c->p[to - 1]))
        return false;
    for (size_t i = from; i < to; i++) {
        char ch = c->p[i];

        if (!host_char(ch))
            return false;
        n_colon += ch == ':';
        if (!(is_xdigit(ch) || ch == ':' || ch == '.'))
            ipv6_chars = false;
    }
    return n_colon == 0 || (ipv6_chars && n_colon >= 2);
}

/*
 * The HOSTNAME of RFC 3164 4.1.2 at i, if the token there is one: a
 * host_token followed by a space or the end of the message (rsyslog
 * keeps a lone last word as hostname too). "[addr]" is taken without the
 * brackets (rsyslog's permit.squareBracketsInHostname). On success
 * *next is past the spaces that follow.
 */
static bool
hostname_at(const struct cur *c, size_t i, struct sn_str *host, size_t *next)
{
    size_t from = i, to;

    if (i < c->end && c->p[i] == '[') {
        from = ++i;
        while (i < c->end &&
               (is_xdigit(c->p[i]) || c->p[i] == ':' || c->p[i] == '.'))
            i++;
        if (i == from || i >= c->end || c->p[i] != ']')
            return false;
        to = i++;
    } else {
        while (i < c->end && host_char(c->p[i]))
            i++;
        to = i;
        if (!host_token(c, from, to))
            return false;
    }
    if (i < c->end && c->p[i] != ' ')
        return false;
    *host = slice(c->p, from, to);
    /* syslog-ng skips any run of spaces before the TAG; so do we. */
    *next = skip_spaces(c, i);
    return true;
}

/*
 * TAG characters. RFC 3164 4.1.3 says alphanumeric, at most 32; real
 * programs use '-', '.', '/', '_', '%' (Cisco mnemonics), '(' ')'
 * (run-parts(/etc/cron.daily)), '@' (systemd instances) and more, and
 * rsyslog has no length limit, so neither do we. What is excluded are
 * the delimiters ':' '[' ']' and bytes that mark data rather than a
 * program name (quotes, braces, '<', '=', ';', '\').
 */
static bool
tag_char(char c)
{
    return has_class(c, CL_TAG); /* C_TAG */
}

/*
 * A TAG in brackets, "[sshd]: " or "[sshd] " (fail2ban's sample logs
 * hold such lines from syslog daemons that bracket the program name, and
 * from rsyslog with a "[%programname%]" template): the name is the
 * program. It must start with a letter, so a kernel time "[1234.5] " or
 * text in brackets stays text. Returns where CONTENT starts, or i.
 */
static size_t
bracket_tag_at(const struct cur *c, size_t i, struct sn_syslog_msg *out)
{
    const char *p = c->p;
    size_t j = i + 1;

    if (i + 1 >= c->end || p[i] != '[' || !is_alpha(p[i + 1]))
        return i;
    while (j < c->end && tag_char(p[j]))
        j++;
    if (j >= c->end || p[j] != ']')
        return i;
    if (j + 1 < c->end && p[j + 1] != ':' && p[j + 1] != ' ')
        return i;
    out->appname = slice(p, i + 1, j);
    sn_syslog_msg_note(out, "tag in brackets");
    j++;
    if (j < c->end && p[j] == ':')
        j++;
    if (j < c->end && p[j] == ' ')
        j++;
    return j;
}

/*
 * Solaris and illumos syslogd put a message ID after the TAG: "sshd[12]:
 * [ID 800047 auth.info] Failed ..." (the number is a hash of the
 * message's format string, the rest its facility.level). The number is
 * the message's MSGID; CONTENT starts after the bracket. Returns where
 * CONTENT starts, or i when there is no such ID.
 */
static size_t
solaris_id_at(const struct cur *c, size_t i, struct sn_syslog_msg *out)
{
    const char *p = c->p;
    size_t d, j;

    if (!has_prefix(c, i, "[ID "))
        return i;
    d = j = i + 4;
    while (j < c->end && is_digit(p[j]))
        j++;
    if (j == d || j >= c->end || p[j] != ' ')
        return i;
    out->msgid = slice(p, d, j);
    j++;
    while (j < c->end && p[j] != ']' && p[j] != ' ')
        j++;
    if (j >= c->end || p[j] != ']') {
        out->msgid.ptr = NULL;
        out->msgid.len = 0;
        return i;
    }
    sn_syslog_msg_note(out, "solaris message id");
    j++;
    if (j < c->end && p[j] == ' ')
        j++;
    return j;
}

/*
 * TAG, PID and the start of CONTENT (RFC 3164 4.1.3) at i: "name: ",
 * "name[pid]: ", "name[pid] ", "name " (the last one only when strict is
 * false: without a timestamp, a bare first word is just text). One space
 * after the ':' separates TAG from CONTENT and is dropped. Cisco ASA puts
 * " : " between hostname and TAG; an empty TAG before ": " is skipped
 * once for it. Returns where MSG starts (i when there is no TAG).
 */
static size_t
tag_at(const struct cur *c, size_t i, bool strict, struct sn_syslog_msg *out)
{
    const char *p = c->p;
    size_t at = i, name_end, pid_from = 0, pid_to = 0, b;

    if (!strict && i + 1 < c->end && p[i] == ':' && p[i + 1] == ' ')
        at = i = i + 2;
    if ((b = bracket_tag_at(c, i, out)) != i)
        return solaris_id_at(c, b, out);
    while (i < c->end && tag_char(p[i]))
        i++;
    name_end = i;
    if (name_end == at)
        return at;
    if (i < c->end && p[i] == '[') {
        size_t j = i + 1;

        while (j < c->end && p[j] != ']' && p[j] != ' ')
            j++;
        if (j >= c->end || p[j] != ']')
            return at;
        pid_from = i + 1;
        pid_to = j;
        i = j + 1;
    }
    if (i < c->end && p[i] == ':') {
        i++;
        if (i < c->end && p[i] == ' ')
            i++;
    } else if (i >= c->end || p[i] == ' ') {
        if (strict && pid_to == pid_from)
            return at;
        sn_syslog_msg_note(out, "tag without colon");
        if (i < c->end)
            i++;
    } else {
        return at;
    }
    out->appname = slice(p, at, name_end);
    if (pid_to > pid_from)
        out->procid = slice(p, pid_from, pid_to);
    return solaris_id_at(c, i, out);
}

/* floor(a / b) for b > 0. */
static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Seconds since the epoch to nanoseconds, false on int64 overflow. */
static bool
secs_to_ns(int64_t secs, uint32_t nsec, int64_t *ns)
{
    if (secs > INT64_MAX / SN_NS_PER_SEC - 1 ||
        secs < INT64_MIN / SN_NS_PER_SEC + 1)
        return false;
    *ns = secs * SN_NS_PER_SEC + nsec;
    return true;
}

/* A wall clock read as UTC (ns) to UTC at offset off; false on overflow. */
static bool
shift_ns(int64_t ns, int32_t off, int64_t *out)
{
    int64_t d = (int64_t)off * SN_NS_PER_SEC;

    if ((d > 0 && ns < INT64_MIN + d) || (d < 0 && ns > INT64_MAX + d))
        return false;
    *out = ns - d;
    return true;
}

/* UTC nanoseconds of the BSD time ts in year y at offset off. */
static bool
bsd_ns(const struct bsd_ts *ts, int64_t y, int32_t off, int64_t *ns)
{
    int64_t secs;

    if (ts->day > sn_days_in_month(y, ts->mon))
        return false;
    secs = sn_days_from_civil(y, ts->mon, ts->day) * SECS_PER_DAY +
           ts->hour * 3600 + ts->min * 60 + ts->sec - off;
    return secs_to_ns(secs, ts->nsec, ns);
}

/* The civil year containing day number days (0 = 1970-01-01). */
static int64_t
year_of_days(int64_t days)
{
    /* 146097 days are 400 Gregorian years; refine the estimate. */
    int64_t y = 1970 + floor_div(days * 400, 146097);

    while (sn_days_from_civil(y, 1, 1) > days)
        y--;
    while (sn_days_from_civil(y + 1, 1, 1) <= days)
        y++;
    return y;
}

/*
 * RFC 3164 timestamps carry no year. Like rsyslog and syslog-ng we take
 * the year of the reference time (in the sender's zone) unless that puts
 * the message more than about a month in the future, which means it was
 * written last year (Dec 31 seen on Jan 1), or more than eleven months in
 * the past, which means next year (a clock slightly ahead at New Year).
 * Feb 29 skips years without one; false when no candidate year is valid.
 */
static bool
infer_year(const struct bsd_ts *ts, int64_t now_ns, int32_t off, int64_t *ns)
{
    int64_t now_secs = floor_div(now_ns, SN_NS_PER_SEC);
    int64_t y = year_of_days(floor_div(now_secs + off, SECS_PER_DAY));
    int64_t best = 0, best_dist = INT64_MAX;

    /* The reference year first: it is the answer for nearly every line,
     * and the order cannot change it (the accepted span is 365 days,
     * half-open, so at most one candidate year falls in it). */
    static const int order[] = { 0, -1, 1 };

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        int64_t cand = y + order[i];
        int64_t t, dist;

        if (!bsd_ns(ts, cand, off, &t))
            continue;
        dist = floor_div(t, SN_NS_PER_SEC) - now_secs;
        if (dist > -PAST_SLACK_SECS && dist <= FUTURE_SLACK_SECS) {
            *ns = t;
            return true;
        }
        if (dist < 0)
            dist = -dist;
        if (dist < best_dist) {
            best_dist = dist;
            best = t;
        }
    }
    if (best_dist == INT64_MAX)
        return false;
    *ns = best;
    return true;
}

/* infer_year through the memo: the same inputs as last time give the
 * same answer (a file's lines share a handful of stamps per second).
 * infer_year reads the reference time only as whole seconds (now_secs),
 * so records received within one second share the answer: the daemon's
 * records each carry their own receive time. */
static bool
infer_year_memo(struct sn_rfc3164_memo *m, const struct bsd_ts *ts,
                int64_t now_ns, int32_t off, int64_t *ns)
{
    int64_t now_secs;

    if (m == NULL)
        return infer_year(ts, now_ns, off, ns);
    now_secs = floor_div(now_ns, SN_NS_PER_SEC);
    if (!m->infer_valid || m->i_mon != ts->mon || m->i_day != ts->day ||
        m->i_hour != ts->hour || m->i_min != ts->min ||
        m->i_sec != ts->sec || m->i_nsec != ts->nsec || m->i_off != off ||
        m->i_now_secs != now_secs) {
        m->infer_ok = infer_year(ts, now_ns, off, &m->i_ns);
        m->infer_valid = true;
        m->i_mon = ts->mon;
        m->i_day = ts->day;
        m->i_hour = ts->hour;
        m->i_min = ts->min;
        m->i_sec = ts->sec;
        m->i_nsec = ts->nsec;
        m->i_off = off;
        m->i_now_secs = now_secs;
    }
    if (m->infer_ok)
        *ns = m->i_ns;
    return m->infer_ok;
}

/* Fill out's timestamp fields from st. */
static void
set_stamp(const struct cur *c, const struct stamp *st, int64_t now_ns,
          int32_t tz, struct sn_syslog_msg *out)
{
    const struct bsd_ts *ts = &st->bsd;
    int32_t off = tz;
    int64_t ns;

    out->timestamp = slice(c->p, st->start, st->end);
    if (st->unsynced)
        sn_syslog_msg_note(out, "clock unsynchronised");
    if (st->is_3339) {
        ns = st->ns;
        if (st->no_offset)
            sn_syslog_msg_note(out, "timezone assumed");
        if (!st->in_range || (st->no_offset && !shift_ns(ns, tz, &ns))) {
            sn_syslog_msg_note(out, "timestamp out of range");
            return;
        }
        out->has_time = true;
        out->time_ns = ns;
        return;
    }
    if (ts->has_zone) {
        off = ts->zone_off;
    } else {
        if (ts->unknown_zone)
            sn_syslog_msg_note(out, "timezone name unknown");
        sn_syslog_msg_note(out, "timezone assumed");
    }
    if (ts->year != 0) {
        if (bsd_ns(ts, ts->year, off, &ns)) {
            out->has_time = true;
            out->time_ns = ns;
        }
    } else if (infer_year_memo(c->memo, ts, now_ns, off, &ns)) {
        sn_syslog_msg_note(out, "year inferred");
        out->has_time = true;
        out->time_ns = ns;
    } else {
        sn_syslog_msg_note(out, "no valid year for date");
    }
}

/*
 * A Cisco IOS header before the timestamp: "123: " sequence number (or
 * a bare ": "), optionally "router1: " (logging origin-id), then the
 * timestamp. Only taken when the timestamp is really there, so "<13>42:
 * text" stays text.
 */
static bool
cisco_header(const struct cur *c, size_t i, struct stamp *st,
             struct sn_str *host, struct sn_syslog_msg *out)
{
    size_t j, k;
    bool has_digits;

    if (!cisco_seq(c, i, &j, &has_digits))
        return false;
    j = skip_spaces(c, j);
    if (!stamp_at(c, j, true, st)) {
        k = j;
        while (k < c->end && host_char(c->p[k]) && c->p[k] != ':')
            k++;
        if (!host_token(c, j, k) || k + 1 >= c->end || c->p[k] != ':' ||
            c->p[k + 1] != ' ' || !stamp_at(c, skip_spaces(c, k + 2), true, st))
            return false;
        *host = slice(c->p, j, k);
    }
    if (has_digits)
        sn_syslog_msg_note(out, "cisco sequence number");
    return true;
}

/* After the timestamp: a Cisco ':' terminator and the spaces after it. */
static size_t
after_stamp(const struct cur *c, size_t i)
{
    if (i < c->end && c->p[i] == ':')
        i++;
    return skip_spaces(c, i);
}

/*
 * HEADER (RFC 3164 4.1.2) and the TAG of MSG (4.1.3) from i on; returns
 * where CONTENT starts.
 */
static size_t
parse_header(const struct cur *c, size_t i, int64_t now_ns, int32_t tz,
             struct sn_syslog_msg *out)
{
    static const char aix_fwd[] = "Message forwarded from ";
    static const char repeated[] = "last message repeated";
    struct sn_str host = { NULL, 0 };
    struct stamp st, inner;
    size_t j;
    bool has_digits;

    if (!cisco_header(c, i, &st, &host, out) &&
        !stamp_at(c, skip_spaces(c, i), false, &st)) {
        /* No timestamp: syslog-ng then expects "program[pid]: text" and
         * no hostname, which is what local senders write. rsyslog would
         * take a first word as hostname, but for header-less lines that
         * is almost always wrong. */
        sn_syslog_msg_note(out, "no timestamp");
        sn_syslog_msg_note(out, "no hostname");
        return tag_at(c, i, true, out);
    }
    set_stamp(c, &st, now_ns, tz, out);
    i = after_stamp(c, st.end);

    if (host.ptr == NULL && has_prefix(c, i, aix_fwd)) {
        /* AIX syslogd relays as "Message forwarded from host: ...". */
        size_t from = i + sizeof(aix_fwd) - 1, to = from;

        while (to < c->end && host_char(c->p[to]) && c->p[to] != ':')
            to++;
        if (to > from && to < c->end && c->p[to] == ':') {
            host = slice(c->p, from, to);
            i = skip_spaces(c, to + 1);
        }
    }
    /* sysklogd's own "last message repeated N times" has neither
     * hostname nor TAG (syslog-ng checks it the same way). */
    if (host.ptr == NULL && has_prefix(c, i, repeated)) {
        sn_syslog_msg_note(out, "no hostname");
        return i;
    }
    if (host.ptr == NULL && hostname_at(c, i, &host, &j))
        i = j;
    if (host.ptr == NULL)
        sn_syslog_msg_note(out, "no hostname");
    out->hostname = host;
    if (has_prefix(c, i, repeated))
        return i;
    /* A relay in front of a Cisco device: "<189>Nov 23 12:00:01 10.0.0.1
     * 123: *Nov 23 12:00:01.123 UTC: %LINK-3-UPDOWN: ...". The relay's
     * timestamp is kept; the device's one is skipped. */
    if (cisco_seq(c, i, &j, &has_digits) && has_digits &&
        stamp_at(c, skip_spaces(c, j), true, &inner)) {
        sn_syslog_msg_note(out, "cisco sequence number");
        i = after_stamp(c, inner.end);
    }
    return tag_at(c, i, false, out);
}

static enum sn_status
fail(struct sn_parse_error *err, const char *reason, size_t offset)
{
    if (err != NULL) {
        snprintf(err->reason, sizeof(err->reason), "%s", reason);
        err->offset = offset;
    }
    return SN_EINVAL;
}

void
sn_rfc3164_memo_init(struct sn_rfc3164_memo *memo)
{
    memset(memo, 0, sizeof(*memo));
}

enum sn_status
sn_rfc3164_parse(const char *p, size_t len, const struct sn_rfc3164_opts *opts,
                 struct sn_arena *arena, struct sn_syslog_msg *out,
                 struct sn_parse_error *err)
{
    return sn_rfc3164_parse_memo(p, len, opts, NULL, arena, out, err);
}

enum sn_status
sn_rfc3164_parse_memo(const char *p, size_t len,
                      const struct sn_rfc3164_opts *opts,
                      struct sn_rfc3164_memo *memo, struct sn_arena *arena,
                      struct sn_syslog_msg *out, struct sn_parse_error *err)
{
    struct cur c = { p, len, len, memo };
    int64_t now_ns = opts != NULL ? opts->now_ns : sn_clock_wall_ns();
    int32_t tz = opts != NULL ? opts->tz_offset_sec : 0;
    size_t i = 0;

    (void)arena;
    sn_syslog_msg_init(out);
    /* rsyslog discards empty messages before any parser runs. */
    if (len == 0)
        return fail(err, "empty message", 0);
    while (c.end > 0 && (p[c.end - 1] == '\n' || p[c.end - 1] == '\r'))
        c.end--;

    if (p[0] == '<') {
        unsigned pri = 0;

        /* RFC 3164 4.1.1: "<" 1-3 digits ">", at most 191. RFC 3164
         * 4.3.3: with an unidentifiable PRI the whole packet is CONTENT,
         * which is also what rsyslog does. */
        i = 1;
        if (!digits(&c, &i, 1, 3, &pri) || i >= c.end || p[i] != '>' ||
            pri > 191) {
            sn_syslog_msg_note(out, "invalid pri");
            out->msg = slice(p, 0, len);
            return SN_OK;
        }
        out->pri = (int)pri;
        i++;
    } else {
        /* rsyslog and syslog-ng substitute 13 (user.notice, RFC 3164
         * 4.3.3); we report what was sent: nothing. */
        sn_syslog_msg_note(out, "pri absent");
    }
    i = parse_header(&c, i, now_ns, tz, out);
    out->msg = slice(p, i, len);
    return SN_OK;
}
