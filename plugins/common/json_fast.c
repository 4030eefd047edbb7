/* Strict JSON reader for the fast event path; see json_fast.h. */
#include "json_fast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

struct cur {
    const char *p, *end;
};

static void
skip_ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' ||
                             *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* \uXXXX at p (after the backslash and 'u'); -1 when not 4 hex digits. */
static long
u4(const char *p)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int h = sn_json_hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string at c->p (the opening quote). Surrogates and \u0000 are left
 * to json-c (pairs, lone halves and NUL in keys are its business). */
/* True when one of the 8 bytes at p is '\\' or below 0x20 (SWAR). */
static bool
special8(const char *p)
{
    uint64_t w, bs;

    memcpy(&w, p, 8);
    bs = w ^ 0x5c5c5c5c5c5c5c5cULL; /* '\\' -> 0 */
    return (((bs - 0x0101010101010101ULL) & ~bs) |
            ((w - 0x2020202020202020ULL) & ~w)) &
           0x8080808080808080ULL;
}

static bool
string(struct cur *c, struct jf_val *v)
{
    const char *p = c->p + 1, *q;

    v->type = JF_STR;
    v->esc = false;
    v->p = p;
    /* The common case: the closing quote found at once, nothing to
     * decode before it. */
    q = memchr(p, '"', (size_t)(c->end - p));
    if (q == NULL)
        return false;
    while (q - p >= 8 && !special8(p))
        p += 8;
    while (p < q && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    if (p == q) {
        v->n = (size_t)(q - v->p);
        c->p = q + 1;
        return true;
    }
    for (;;) {
        while (p < c->end && *p != '"' && *p != '\\' &&
               (unsigned char)*p >= 0x20)
            p++;
        if (p >= c->end || (unsigned char)*p < 0x20)
            return false;
        if (*p == '"')
            break;
        if (c->end - p < 2)
            return false;
        v->esc = true;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            long u;
            if (c->end - p < 6 || (u = u4(p + 2)) <= 0 ||
                (u >= 0xd800 && u <= 0xdfff))
                return false;
            p += 6;
            break;
        }
        default:
            return false;
        }
    }
    v->n = (size_t)(p - v->p);
    c->p = p + 1;
    return true;
}

/* Integers that fit int64 (at most 19 digits: no uint64 overflow while
 * reading); longer ones, and doubles strtod does not read whole, go to
 * json-c. */
static bool
number(struct cur *c, struct jf_val *v)
{
    const char *s = c->p, *p = s;
    bool neg = false, frac = false;
    uint64_t u = 0;
    int digits = 0;

    if (p < c->end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= c->end || *p < '0' || *p > '9')
        return false;
    if (*p == '0') {
        p++;
        digits = 1;
    } else {
        while (p < c->end && *p >= '0' && *p <= '9') {
            u = u * 10 + (uint64_t)(*p++ - '0');
            if (++digits > 19)
                return false;
        }
    }
    if (p < c->end && *p == '.') {
        frac = true;
        p++;
        if (p >= c->end || *p < '0' || *p > '9')
            return false;
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        frac = true;
        p++;
        if (p < c->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= c->end || *p < '0' || *p > '9')
            return false;
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (!frac) {
        if (u > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
            return false;
        v->type = JF_INT;
        v->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
    } else {
        char buf[64];
        char *e;
        size_t n = (size_t)(p - s);

        if (n >= sizeof(buf))
            return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        v->u.d = strtod(buf, &e);
        if (errno != 0 || e != buf + n)
            return false;
        v->type = JF_DOUBLE;
    }
    v->p = s;
    v->n = (size_t)(p - s);
    c->p = p;
    return true;
}

static bool
literal(struct cur *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A cheap filter for the duplicate check: most keys differ in length or
 * at either end. */
static uint64_t
key_bit(const char *k, size_t n)
{
    unsigned h = (unsigned)n * 31u;

    if (n > 0)
        h += (unsigned char)k[0] * 7u + (unsigned char)k[n - 1];
    return (uint64_t)1 << (h & 63);
}

static bool object(struct cur *c, int level, int max_depth,
                   struct jf_obj *out);

/* After a member or an element: the closing bracket (*done) or a comma
 * before the next one; false for anything else. */
static bool
next_or_close(struct cur *c, char close, bool *done)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != close && *c->p != ','))
        return false;
    *done = *c->p == close;
    c->p++;
    if (!*done)
        skip_ws(c);
    return true;
}

static bool
value(struct cur *c, int level, int max_depth, struct jf_val *v)
{
    if (c->p >= c->end)
        return false;
    switch (*c->p) {
    case '"':
        return string(c, v);
    case '{': {
        /* Nested: checked here (keys, depth); its members are read
         * again by jf_members when the mapping gets to it. */
        struct jf_obj sub;
        const char *start = c->p;

        if (level + 1 >= max_depth || !object(c, level + 1, max_depth, &sub))
            return false;
        v->type = JF_OBJ;
        v->p = start;
        v->n = (size_t)(c->p - start);
        return true;
    }
    case 't':
        v->type = JF_BOOL;
        v->u.b = true;
        return literal(c, "true", 4);
    case 'f':
        v->type = JF_BOOL;
        v->u.b = false;
        return literal(c, "false", 5);
    case 'n':
        v->type = JF_NULL;
        return literal(c, "null", 4);
    default:
        return number(c, v); /* arrays ('[') fail here too */
    }
}

static bool
object(struct cur *c, int level, int max_depth, struct jf_obj *out)
{
    uint64_t seen = 0;
    bool done;

    out->n = 0;
    c->p++; /* '{' */
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        struct jf_member *m;
        struct jf_val k;
        uint64_t bit;

        if (out->n == JF_MAX_MEMBERS || c->p >= c->end || *c->p != '"' ||
            !string(c, &k) || k.esc)
            return false;
        m = &out->m[out->n];
        m->key = k.p;
        m->key_len = k.n;
        bit = key_bit(k.p, k.n);
        if (seen & bit)
            for (size_t i = 0; i < out->n; i++)
                if (out->m[i].key_len == k.n &&
                    memcmp(out->m[i].key, k.p, k.n) == 0)
                    return false; /* json-c keeps the first place */
        seen |= bit;
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':')
            return false;
        c->p++;
        skip_ws(c);
        if (!value(c, level, max_depth, &m->v))
            return false;
        out->n++;
        if (!next_or_close(c, '}', &done))
            return false;
        if (done)
            return true;
    }
}

bool
jf_check(const char *p, size_t n, int max_depth, struct jf_obj *root)
{
    struct cur c = { p, p + n };

    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{' || !object(&c, 0, max_depth, root))
        return false;
    skip_ws(&c);
    return c.p == c.end;
}

/* Any value at c->p, checked and passed over; level counts the open
 * objects and arrays around it. */
static bool
skip_value(struct cur *c, int level)
{
    struct jf_val v;
    char close;
    bool done;

    if (c->p >= c->end)
        return false;
    if (*c->p != '{' && *c->p != '[') {
        if (*c->p == '"')
            return string(c, &v);
        if (*c->p == 't')
            return literal(c, "true", 4);
        if (*c->p == 'f')
            return literal(c, "false", 5);
        if (*c->p == 'n')
            return literal(c, "null", 4);
        return number(c, &v);
    }
    if (level + 1 >= JF_SKIP_DEPTH)
        return false;
    close = *c->p == '{' ? '}' : ']';
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (c->p >= c->end || *c->p != '"' || !string(c, &v))
                return false;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':')
                return false;
            c->p++;
            skip_ws(c);
        }
        if (!skip_value(c, level + 1) || !next_or_close(c, close, &done))
            return false;
        if (done)
            return true;
    }
}

bool
jf_top_members(const char *p, size_t n, const char *const *keys, size_t n_keys,
               struct jf_val *vals)
{
    struct cur c = { p, p + n };
    uint32_t seen = 0;
    bool done;

    if (n_keys > 32)
        return false;
    for (size_t i = 0; i < n_keys; i++)
        memset(&vals[i], 0, sizeof(vals[i])); /* JF_NULL: absent */
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return false;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
        skip_ws(&c);
        return c.p == c.end;
    }
    for (;;) {
        struct jf_val k;
        size_t i = 0;

        if (c.p >= c.end || *c.p != '"' || !string(&c, &k) || k.esc)
            return false;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ':')
            return false;
        c.p++;
        skip_ws(&c);
        while (i < n_keys &&
               !(strlen(keys[i]) == k.n && memcmp(keys[i], k.p, k.n) == 0))
            i++;
        if (i < n_keys) {
            if (seen & (1u << i))
                return false; /* twice */
            seen |= 1u << i;
            if (c.p < c.end && *c.p == '"') {
                if (!string(&c, &vals[i]))
                    return false;
            } else {
                const char *start = c.p;

                if (!skip_value(&c, 0))
                    return false;
                if (*start == '{' || *start == '[') {
                    vals[i].type = *start == '{' ? JF_OBJ : JF_ARR;
                    vals[i].p = start;
                    vals[i].n = (size_t)(c.p - start);
                }
            }
        } else if (!skip_value(&c, 0)) {
            return false;
        }
        if (!next_or_close(&c, '}', &done))
            return false;
        if (done) {
            skip_ws(&c);
            return c.p == c.end;
        }
    }
}

bool
jf_array_strings(const struct jf_val *arr, struct jf_val *out, size_t max,
                 size_t *n_out)
{
    struct cur c = { arr->p, arr->p + arr->n };
    bool done;

    *n_out = 0;
    c.p++; /* '[' */
    skip_ws(&c);
    if (c.p < c.end && *c.p == ']')
        return true;
    for (;;) {
        if (*n_out == max || c.p >= c.end || *c.p != '"' ||
            !string(&c, &out[*n_out]))
            return false;
        (*n_out)++;
        if (!next_or_close(&c, ']', &done))
            return false;
        if (done)
            return true;
    }
}

void
jf_members(const struct jf_val *obj, struct jf_obj *out)
{
    struct cur c = { obj->p, obj->p + obj->n };

    /* Checked before: the depth bound was applied then. */
    (void)object(&c, 0, 1 << 30, out);
}

size_t
jf_unescape(const struct jf_val *v, char *out)
{
    const char *p = v->p, *end = v->p + v->n;
    char *o = out;

    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            long u = u4(p + 2);
            if (u < 0x80) {
                *o++ = (char)u;
            } else if (u < 0x800) {
                *o++ = (char)(0xc0 | (u >> 6));
                *o++ = (char)(0x80 | (u & 0x3f));
            } else {
                *o++ = (char)(0xe0 | (u >> 12));
                *o++ = (char)(0x80 | ((u >> 6) & 0x3f));
                *o++ = (char)(0x80 | (u & 0x3f));
            }
            p += 6;
            continue;
        }
        default: *o++ = p[1]; break; /* " \ / */
        }
        p += 2;
    }
    return (size_t)(o - out);
}
