/* Hand-written JSON output; see json.h for why not json-c here. */
#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* True when any of the 8 bytes needs escaping or UTF-8 checking: below
 * 0x20, '"', '\\' or 0x80 and above (SWAR: the classic "has zero byte"
 * test applied to v, v ^ '"' and v ^ '\\'). */
static inline bool
any_special8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t v, q, b;

    memcpy(&v, p, 8);
    q = v ^ (ones * '"');
    b = v ^ (ones * '\\');
    return ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
             ((b - ones) & ~b)) &
            high) != 0;
}

/* any_special8 for 4 bytes. */
static inline bool
any_special4(const unsigned char *p)
{
    const uint32_t ones = 0x01010101u, high = 0x80808080u;
    uint32_t v, q, b;

    memcpy(&v, p, 4);
    q = v ^ (ones * '"');
    b = v ^ (ones * '\\');
    return ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
             ((b - ones) & ~b)) &
            high) != 0;
}

bool
sn_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

#if defined(__SSE2__)
/* Bit k set: byte k of the 16 at p is below 0x20, '"', '\\' or from 0x80. */
static inline unsigned
special16(const unsigned char *p)
{
    const __m128i sp = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
    const __m128i bs = _mm_set1_epi8('\\');
    __m128i v = _mm_loadu_si128((const void *)p);
    /* Signed: bytes from 0x80 are negative, so below 0x20 too. */
    __m128i m = _mm_or_si128(
        _mm_cmplt_epi8(v, sp),
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs)));

    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The first byte from i that is more than copied: below 0x20, '"', '\\'
 * or from 0x80 (UTF-8 to check), or len. Sixteen bytes at a time, the
 * last sixteen read again from len - 16 (the bytes before i masked), so
 * that no string of 16 bytes or more is read a byte at a time: most
 * strings of an event or a signal have nothing to escape, and this
 * loop was most of their cost. */
static inline size_t
plain_until(const unsigned char *p, size_t i, size_t len)
{
#if defined(__SSE2__)
    if (len >= 16) {
        unsigned bits;

        for (; len - i >= 16; i += 16)
            if ((bits = special16(p + i)) != 0)
                return i + (size_t)__builtin_ctz(bits);
        if (i == len)
            return len;
        bits = special16(p + len - 16) & (~0u << (16 - (len - i)));
        return bits != 0 ? len - 16 + (size_t)__builtin_ctz(bits) : len;
    }
#endif
    while (len - i > 16 && !any_special8(p + i))
        i += 8;
    if (len - i >= 8 && !any_special8(p + i) && !any_special8(p + len - 8))
        return len; /* 8 to 16 bytes: two reads that overlap */
    if (len - i >= 4 && len - i < 8 && !any_special4(p + i) &&
        !any_special4(p + len - 4))
        return len; /* 4 to 7 bytes (hosts, apps, pids): the same */
    while (i < len && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' &&
           p[i] < 0x80)
        i++;
    return i;
}

enum sn_status
sn_json_str(struct sn_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, from = 0;
    enum sn_status rc;

    /* Worst case 6 bytes out per byte in; reserve once for the common
     * case (nothing to escape), which then needs no more room. */
    if ((b->cap < b->len + 3 || len > b->cap - b->len - 3) &&
        (rc = sn_buf_reserve(b, len + 2)) != SN_OK)
        return rc;
    b->data[b->len++] = '"';
    for (;;) {
        unsigned char c;
        size_t n;

        if ((i = plain_until(p, i, len)) >= len)
            break;
        c = p[i];
        if (c >= 0x80 && (n = utf8_seq_len(p + i, len - i)) > 0) {
            i += n; /* valid UTF-8 is copied with the run */
            continue;
        }
        if (i > from && (rc = sn_buf_append(b, p + from, i - from)) != SN_OK)
            return rc;
        if (c >= 0x80) {
            rc = sn_buf_append(b, "\xEF\xBF\xBD", 3);
        } else {
            char esc[8];
            const char *e = esc;
            size_t elen = 2;

            switch (c) {
            case '"': e = "\\\""; break;
            case '\\': e = "\\\\"; break;
            case '\n': e = "\\n"; break;
            case '\r': e = "\\r"; break;
            case '\t': e = "\\t"; break;
            case '\b': e = "\\b"; break;
            case '\f': e = "\\f"; break;
            default:
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                elen = 6;
            }
            rc = sn_buf_append(b, e, elen);
        }
        if (rc != SN_OK)
            return rc;
        from = ++i;
    }
    if (len > from && (rc = sn_buf_append(b, p + from, len - from)) != SN_OK)
        return rc;
    return sn_buf_putc(b, '"');
}

enum sn_status
sn_json_str_or_null(struct sn_buf *b, const char *s, size_t len)
{
    if (s == NULL)
        return sn_buf_append(b, "null", 4);
    return sn_json_str(b, s, len);
}

enum sn_status
sn_json_key(struct sn_buf *b, const char *key)
{
    enum sn_status rc = sn_buf_putc(b, '"');

    if (rc == SN_OK)
        rc = sn_buf_puts(b, key);
    if (rc == SN_OK)
        rc = sn_buf_append(b, "\":", 2);
    return rc;
}

size_t
sn_int_text(int64_t v, char out[SN_INT_TEXT_MAX])
{
    /* "00" "01" ... "99": two digits per division. */
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char tmp[SN_INT_TEXT_MAX];
    char *end = tmp + sizeof(tmp), *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    /* By hand: snprintf was a tenth of the time of writing an event, and
     * signals are mostly 19-digit nanosecond times. */
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;

        u /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (u >= 10) {
        *--p = pairs[u * 2 + 1];
        *--p = pairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    memcpy(out, p, (size_t)(end - p));
    return (size_t)(end - p);
}

enum sn_status
sn_json_int(struct sn_buf *b, int64_t v)
{
    char t[SN_INT_TEXT_MAX];

    return sn_buf_append(b, t, sn_int_text(v, t));
}

enum sn_status
sn_json_member_str(struct sn_buf *b, const char *key, const char *s)
{
    enum sn_status rc = sn_buf_putc(b, ',');

    if (rc == SN_OK)
        rc = sn_json_key(b, key);
    if (rc == SN_OK)
        rc = sn_json_str_or_null(b, s, s ? strlen(s) : 0);
    return rc;
}
