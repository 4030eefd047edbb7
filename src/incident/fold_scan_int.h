/*
 * Internals of the one-pass signal reader (fold_scan.h), shared by its
 * files: fold_scan_json.c (the JSON text layer: validation with the
 * ends of objects and arrays recorded, skipping, members of an object,
 * decoding and json-c's escaping) and fold_scan.c (the signal reader
 * on top: fields, group key, scrubbed explanation and evidence). What
 * runs for every byte or string of a signal is here, static inline, so
 * that the reader's loops inline it as when it was one file. Not for
 * other modules: use fold_scan.h.
 */
#ifndef SN_INCIDENT_FOLD_SCAN_INT_H
#define SN_INCIDENT_FOLD_SCAN_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/buf.h"
#include "core/json.h"
#include "incident/fold_scan.h"

/* Nesting the reader takes (json-c in the manager takes 32; signals
 * nest 5 deep). */
#define SCAN_DEPTH 16
/* Members of one object the reader indexes, and the longest name
 * (more: declined). */
#define SCAN_MEMBERS 48
#define SCAN_NAME    256

struct span {
    const char *p;
    size_t len;
};

struct member {
    struct span name; /* the raw name, without quotes (no escapes) */
    struct span val;  /* the raw value text */
};

/* fold_scan_json.c */

/* The value at p validated (nesting counted from depth); returns its
 * end, or NULL to decline. Each object and array is recorded in fs (when
 * not NULL): sn_fj_skip_known finds its end afterwards. */
const char *sn_fj_skip_value(struct sn_fold_scan *fs, const char *p,
                             const char *end, int depth);
/* The end of the value at p in a text sn_fj_skip_value validated: an
 * object or an array it recorded is skipped at once. */
const char *sn_fj_skip_known(const struct sn_fold_scan *fs, const char *p,
                             const char *end);
/* The members of the object at p, validated as sn_fj_skip_value does
 * (its nesting counted from depth, its objects and arrays recorded in
 * fs); trusted: the text was validated, only read (fs finds the ends).
 * Returns its end, NULL for what is declined: too many members, a name
 * with an escape, or a name twice (json-c keeps the last value at the
 * first place: not reproduced). */
const char *sn_fj_members_at(struct sn_fold_scan *fs, bool trusted,
                             const char *p, const char *end, int depth,
                             struct member *m, size_t *n);
/* The members of the object v, a part of the signal sn_fold_scan
 * validated (white space may follow). */
bool sn_fj_members(struct sn_fold_scan *fs, struct span v, struct member *m,
                   size_t *n);
/* The string token v decoded into out (reset first); false on what is
 * declined (surrogates, NUL, bad escapes). */
bool sn_fj_decode(struct span v, struct sn_buf *out);
/* json-c's escaping with JSON_C_TO_STRING_NOSLASHESCAPE, appended. */
bool sn_fj_encode(const char *s, size_t len, struct sn_buf *out);

/* Inline: called for every string, name and value. */

static inline const char *
sn_fj_ws(const char *p, const char *end)
{
    if (p < end && (unsigned char)*p > ' ')
        return p; /* a signal as detectors write it has no white space */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The \uXXXX escape at p ('u') into *u; false for bad hex digits and
 * for what the reader declines: NUL and surrogates. */
static inline bool
sn_fj_u_escape(const char *p, const char *end, unsigned *u)
{
    *u = 0;
    if (end - p < 5)
        return false;
    for (int i = 1; i <= 4; i++) {
        int h = sn_json_hexval(p[i]);
        if (h < 0)
            return false;
        *u = *u << 4 | (unsigned)h;
    }
    return *u != 0 && (*u < 0xd800 || *u > 0xdfff);
}

/* The bytes of w (eight of a string, in memory order) that are '"',
 * '\\' or below 0x20, each as its high bit; the lowest set bit is
 * exact (a borrow only marks bytes above a marked one). */
static inline uint64_t
sn_fj_special8(uint64_t w)
{
    static const uint64_t ones = 0x0101010101010101ULL;
    static const uint64_t highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) &
           highs;
}

/* The first '"', '\\' or byte below 0x20 in [p, end), or end: sixteen
 * or eight bytes at a time, as most of a signal's text is inside
 * strings. */
static inline const char *
sn_fj_plain_run(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1f);

    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const void *)p);
        /* v <= 0x1f (unsigned): max(v, 0x1f) is 0x1f */
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs)),
            _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
        int bits = _mm_movemask_epi8(m);
        if (bits != 0)
            return p + __builtin_ctz((unsigned)bits);
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - p >= 8; p += 8) {
        uint64_t w, m;
        memcpy(&w, p, 8);
        if ((m = sn_fj_special8(w)) != 0)
            return p + (__builtin_ctzll(m) >> 3);
    }
#endif
    while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* The end of the string token starting at p ('"'), or NULL for what
 * sn_fj_decode() declines too (so that a text this accepts always renders):
 * raw control bytes (json-c's strict and loose modes differ on them),
 * unknown escapes, \u0000 and surrogates. *esc: it holds an escape
 * (without one, the token is its text in quotes). */
static inline const char *
sn_fj_scan_string(const char *p, const char *end, bool *esc)
{
    *esc = false;
    for (p++;; p++) {
        if ((p = sn_fj_plain_run(p, end)) >= end || *p != '\\')
            return p < end && *p == '"' ? p + 1 : NULL;
        *esc = true;
        if (++p >= end)
            return NULL;
        if (*p == 'u') {
            unsigned u;
            if (!sn_fj_u_escape(p, end, &u))
                return NULL;
            p += 4;
        } else if (strchr("bfnrt\"\\/", *p) == NULL || *p == '\0')
            return NULL;
    }
}

static inline const char *
sn_fj_skip_string(const char *p, const char *end)
{
    bool esc;

    return sn_fj_scan_string(p, end, &esc);
}

/* JSON number grammar (RFC 8259 6); *is_int: no fraction or exponent. */
static inline const char *
sn_fj_skip_number(const char *p, const char *end, bool *is_int)
{
    const char *d;

    *is_int = true;
    if (p < end && *p == '-')
        p++;
    d = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == d || (*d == '0' && p - d > 1))
        return NULL;
    if (p < end && *p == '.') {
        *is_int = false;
        d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_int = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return NULL;
    }
    return p;
}

/* An int (the digits sn_fj_skip_number took) as json-c prints what it parsed
 * (int64: "-0" is "0"); false when it does not fit (json-c would read
 * it another way). */
static inline bool
sn_fj_parse_int(struct span v, int64_t *out)
{
    char num[32];
    char *e;
    long long x;
    size_t neg = v.len > 0 && v.p[0] == '-';

    if (v.len - neg <= 19) { /* no strtoll: 19 digits fit in 64 bits */
        uint64_t a = 0;
        for (size_t i = neg; i < v.len; i++)
            a = a * 10 + (uint64_t)(v.p[i] - '0');
        if (a > (uint64_t)INT64_MAX + neg)
            return false;
        *out = neg ? (int64_t)(0 - a) : (int64_t)a;
        return true;
    }
    if (v.len >= sizeof(num))
        return false;
    memcpy(num, v.p, v.len);
    num[v.len] = '\0';
    errno = 0;
    x = strtoll(num, &e, 10);
    if (errno != 0 || *e != '\0')
        return false;
    *out = x;
    return true;
}

/* The member name at p (a string token) added to the object's names;
 * returns its end, or NULL for what the reader declines (not a string,
 * an escape in it, too long, a second time: json-c keeps the last value
 * at the first place; too many members). trusted: the text was
 * validated (only the length is checked). *seen: a bit per name of the
 * object so far, from its length and ends: the names are compared only
 * when the bit was set (few are: the top has 25, a trace step 8). */
static inline const char *
sn_fj_new_name(struct span *names, size_t *n, uint64_t *seen, const char *p,
               const char *end, bool trusted)
{
    uint64_t bit;
    const char *q;
    size_t len;

    /* Up to the first '"', '\\' or control byte: a name's end, or what
     * is declined in a name (an escape) or anywhere (a raw control). */
    if (p >= end || *p != '"' || (q = sn_fj_plain_run(p + 1, end)) >= end ||
        *q++ != '"' || *n == SCAN_MEMBERS ||
        (len = (size_t)(q - p - 2)) >= SCAN_NAME)
        return NULL;
    bit = 1ULL << ((len * 7 + (unsigned char)p[1] + (unsigned char)q[-2] * 3) &
                   63);
    if (!trusted && (*seen & bit) != 0)
        for (size_t i = 0; i < *n; i++)
            if (names[i].len == len && names[i].p[0] == p[1] &&
                memcmp(names[i].p, p + 1, len) == 0)
                return NULL;
    *seen |= bit;
    names[*n].p = p + 1;
    names[(*n)++].len = len;
    return q;
}

static inline const struct span *
sn_fj_find(const struct member *m, size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++)
        if (m[i].name.len == len && memcmp(m[i].name.p, name, len) == 0)
            return &m[i].val;
    return NULL;
}

#endif
