/*
 * The JSON text layer of the one-pass signal reader (fold_scan.c):
 * validation of a signal's text as json-c would read it, with the ends
 * of its objects and arrays recorded so that what is read again is
 * skipped at once; the members of an object; a string token decoded;
 * a text escaped as json-c writes it. The helpers run for every byte
 * and string are inline in fold_scan_int.h.
 */
#include "incident/fold_scan_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The number at p validated as json-c reads it: an int must fit in 64
 * bits (json-c would read a larger one another way). */
static const char *
skip_num(const char *p, const char *end)
{
    bool is_int;
    const char *q = sn_fj_skip_number(p, end, &is_int);
    struct span v = { p, q ? (size_t)(q - p) : 0 };
    int64_t x;

    if (q == NULL || !is_int || v.len - (*p == '-') <= 18)
        return q; /* eighteen digits always fit */
    return sn_fj_parse_int(v, &x) ? q : NULL;
}

const char *
sn_fj_skip_value(struct sn_fold_scan *fs, const char *p, const char *end,
                 int depth)
{
    p = sn_fj_ws(p, end);
    if (p >= end || depth > SCAN_DEPTH)
        return NULL;
    switch (*p) {
    case '"':
        return sn_fj_skip_string(p, end);
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        struct span names[SCAN_MEMBERS];
        size_t n = 0, box = SN_FOLD_BOXES;
        uint64_t seen = 0;
        if (fs != NULL && fs->n_box < SN_FOLD_BOXES) {
            box = fs->n_box++;
            fs->box_open[box] = p;
            fs->box_close[box] = NULL;
        }
        p = sn_fj_ws(p + 1, end);
        if (p < end && *p == close)
            goto closed;
        for (;;) {
            if (obj) {
                if ((p = sn_fj_new_name(names, &n, &seen, p, end, false)) ==
                    NULL)
                    return NULL;
                p = sn_fj_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = sn_fj_ws(p + 1, end);
            }
            /* A string here at once: most values are strings. */
            p = p < end && *p == '"' && depth < SCAN_DEPTH
                    ? sn_fj_skip_string(p, end)
                    : sn_fj_skip_value(fs, p, end, depth + 1);
            if (p == NULL)
                return NULL;
            p = sn_fj_ws(p, end);
            if (p < end && *p == ',') {
                p = sn_fj_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == close)
                goto closed;
            return NULL;
        }
    closed:
        if (box < SN_FOLD_BOXES)
            fs->box_close[box] = p + 1;
        return p + 1;
    }
    case 't':
        return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return skip_num(p, end);
    }
}

/* The end of the object or array opening at p, as sn_fj_skip_value recorded
 * it in this signal's validation; NULL when it was not recorded. */
static const char *
box_end(const struct sn_fold_scan *fs, const char *p)
{
    size_t lo = 0, hi = fs->n_box;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fs->box_open[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < fs->n_box && fs->box_open[lo] == p ? fs->box_close[lo] : NULL;
}

const char *
sn_fj_skip_known(const struct sn_fold_scan *fs, const char *p, const char *end)
{
    const char *q;

    if (p < end && (*p == '{' || *p == '[') && (q = box_end(fs, p)) != NULL)
        return q;
    return sn_fj_skip_value(NULL, p, end, 0);
}

const char *
sn_fj_members_at(struct sn_fold_scan *fs, bool trusted, const char *p,
                 const char *end, int depth, struct member *m, size_t *n)
{
    struct span names[SCAN_MEMBERS];
    uint64_t seen = 0;

    *n = 0;
    p = sn_fj_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p = sn_fj_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if ((p = sn_fj_new_name(names, n, &seen, p, end, trusted)) == NULL)
            return NULL;
        m[*n - 1].name = names[*n - 1];
        p = sn_fj_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = sn_fj_ws(p + 1, end);
        m[*n - 1].val.p = p;
        if (p < end && *p == '"') /* most values are strings */
            p = sn_fj_skip_string(p, end);
        else
            p = trusted ? sn_fj_skip_known(fs, p, end)
                        : sn_fj_skip_value(fs, p, end, depth + 1);
        if (p == NULL)
            return NULL;
        m[*n - 1].val.len = (size_t)(p - m[*n - 1].val.p);
        p = sn_fj_ws(p, end);
        if (p < end && *p == '}')
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = sn_fj_ws(p + 1, end);
    }
}

bool
sn_fj_members(struct sn_fold_scan *fs, struct span v, struct member *m,
              size_t *n)
{
    const char *p = sn_fj_members_at(fs, true, v.p, v.p + v.len, 0, m, n);

    return p != NULL && sn_fj_ws(p, v.p + v.len) == v.p + v.len;
}

bool
sn_fj_decode(struct span v, struct sn_buf *out)
{
    const char *p = v.p + 1, *end = v.p + v.len - 1;

    sn_buf_reset(out);
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        const char *stop = bs ? bs : end;
        char c;

        if (stop > p && sn_buf_append(out, p, (size_t)(stop - p)) != SN_OK)
            return false;
        if (bs == NULL)
            break;
        p = bs + 1;
        switch (*p) {
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case '"':
            c = '"';
            break;
        case '\\':
            c = '\\';
            break;
        case '/':
            c = '/';
            break;
        case 'u': {
            unsigned u;
            char utf[3];
            size_t n;
            if (!sn_fj_u_escape(p, end, &u))
                return false;
            if (u < 0x80) {
                utf[0] = (char)u;
                n = 1;
            } else if (u < 0x800) {
                utf[0] = (char)(0xc0 | u >> 6);
                utf[1] = (char)(0x80 | (u & 0x3f));
                n = 2;
            } else {
                utf[0] = (char)(0xe0 | u >> 12);
                utf[1] = (char)(0x80 | ((u >> 6) & 0x3f));
                utf[2] = (char)(0x80 | (u & 0x3f));
                n = 3;
            }
            if (sn_buf_append(out, utf, n) != SN_OK)
                return false;
            p += 5;
            continue;
        }
        default:
            return false;
        }
        if (sn_buf_putc(out, c) != SN_OK)
            return false;
        p++;
    }
    /* Callers read it as a C string too (json-c cuts at a NUL). */
    return sn_buf_cstr(out) != NULL;
}

bool
sn_fj_encode(const char *s, size_t len, struct sn_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    static const char sym[] = "\b\n\r\t\f\"\\";
    const char *q;
    size_t done = 0;

    if (sn_buf_putc(out, '"') != SN_OK)
        return false;
    for (size_t i = 0;; i++) {
        unsigned char c;
        char e[6];
        size_t n = 2;

        if ((i = (size_t)(sn_fj_plain_run(s + i, s + len) - s)) >= len)
            break;
        c = (unsigned char)s[i];
        if (i > done && sn_buf_append(out, s + done, i - done) != SN_OK)
            return false;
        e[0] = '\\';
        if (c != 0 && (q = strchr(sym, c)) != NULL)
            e[1] = "bnrtf\"\\"[q - sym];
        else {
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 0xf];
            n = 6;
        }
        if (sn_buf_append(out, e, n) != SN_OK)
            return false;
        done = i + 1;
    }
    return (len <= done || sn_buf_append(out, s + done, len - done) == SN_OK) &&
           sn_buf_putc(out, '"') == SN_OK;
}
