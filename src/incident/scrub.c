/*
 * PII scrubbing; see scrub.h. The built-in detectors are hand-written
 * scanners (one pass, no backtracking, no allocation beyond the output
 * buffer) because they run on every evidence string of every signal;
 * user patterns go through PCRE2 (JIT when available) after them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "incident/scrub.h"

#include <json-c/json.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"

const char *const sn_scrub_default_keep[] = {
    "source.ip", "destination.ip", "client.ip", "server.ip", "host.name",
    "host.ip",   "user.name",      "rule.id",   "event.action", NULL,
};

/* Keys whose values are secrets, compared case-insensitively on the last
 * dotted component; plus any key ending in one of the suffixes. */
static const char *const secret_keys[] = {
    "password",      "passwd",      "pwd",          "pass",
    "secret",        "token",       "api_key",      "apikey",
    "api-key",       "access_key",  "access_token", "refresh_token",
    "auth_token",    "client_secret", "secret_key", "private_key",
    "authorization", "credentials", "session_id",   "sessionid",
    "x-api-key",     NULL,
};
static const char *const secret_suffixes[] = { "_password", "_secret",
                                               "_token",    "-token",
                                               "-secret",   "_apikey",
                                               NULL };

struct sn_scrub {
    pcre2_code *re[SN_SCRUB_MAX_PATTERNS];
    size_t n_re;
    pcre2_match_data *md;
    char *keep[SN_SCRUB_MAX_KEEP];
    size_t n_keep;
    struct sn_buf tmp, tmp2; /* between user patterns */
    struct sn_buf again;     /* the previous pass, scanned again */
    struct sn_buf val;       /* one scrubbed JSON string */
};

enum sn_status
sn_scrub_new(const struct sn_strlist *patterns, const struct sn_strlist *keep,
             struct sn_scrub **out, struct sn_error *err)
{
    struct sn_scrub *s = calloc(1, sizeof(*s));
    const char *const *kl;
    size_t nk;

    *out = NULL;
    if (s == NULL)
        return SN_ENOMEM;
    sn_buf_init(&s->tmp, 16u * 1024 * 1024);
    sn_buf_init(&s->tmp2, 16u * 1024 * 1024);
    sn_buf_init(&s->again, 16u * 1024 * 1024);
    sn_buf_init(&s->val, 16u * 1024 * 1024);
    for (size_t i = 0; patterns != NULL && i < patterns->n; i++) {
        int ec;
        PCRE2_SIZE off;
        if (s->n_re == SN_SCRUB_MAX_PATTERNS) {
            sn_error_set(err, "at most %d scrub patterns", SN_SCRUB_MAX_PATTERNS);
            goto fail;
        }
        s->re[s->n_re] = pcre2_compile((PCRE2_SPTR)patterns->items[i],
                                       PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec,
                                       &off, NULL);
        if (s->re[s->n_re] == NULL) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(ec, msg, sizeof(msg));
            sn_error_set(err, "scrub pattern '%s': %s at offset %zu",
                         patterns->items[i], (const char *)msg, (size_t)off);
            goto fail;
        }
        pcre2_jit_compile(s->re[s->n_re], PCRE2_JIT_COMPLETE);
        s->n_re++;
    }
    s->md = pcre2_match_data_create(16, NULL);
    if (s->md == NULL)
        goto fail;
    if (keep != NULL) {
        kl = keep->items;
        nk = keep->n;
    } else {
        kl = sn_scrub_default_keep;
        for (nk = 0; kl[nk] != NULL; nk++)
            ;
    }
    for (size_t i = 0; i < nk && i < SN_SCRUB_MAX_KEEP; i++)
        if ((s->keep[s->n_keep++] = strdup(kl[i])) == NULL)
            goto fail;
    *out = s;
    return SN_OK;
fail:
    sn_scrub_free(s);
    return err != NULL && err->msg[0] ? SN_ECONFIG : SN_ENOMEM;
}

void
sn_scrub_free(struct sn_scrub *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_re; i++)
        pcre2_code_free(s->re[i]);
    pcre2_match_data_free(s->md);
    for (size_t i = 0; i < s->n_keep; i++)
        free(s->keep[i]);
    sn_buf_fini(&s->tmp);
    sn_buf_fini(&s->tmp2);
    sn_buf_fini(&s->again);
    sn_buf_fini(&s->val);
    free(s);
}

bool
sn_scrub_keeps(const struct sn_scrub *s, const char *key)
{
    for (size_t i = 0; i < s->n_keep; i++)
        if (s->keep[i][0] == key[0] && strcmp(s->keep[i], key) == 0)
            return true;
    return false;
}

/* --- character classes ------------------------------------------------- */

/* The daemon never sets a locale, so these are <ctype.h>'s classes in
 * the "C" locale (ASCII), read from a table here: glibc's isalnum()
 * finds its table through a call, and the scanners test every byte of
 * every evidence string. Bytes from 0x80 are in no class. */
enum { C_DIGIT = 1, C_ALPHA = 2, C_SPACE = 4 };
static const unsigned char ascii_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0,
};

static inline bool
a_digit(unsigned char c)
{
    return ascii_class[c] & C_DIGIT;
}

static inline bool
a_alpha(unsigned char c)
{
    return ascii_class[c] & C_ALPHA;
}

static inline bool
a_alnum(unsigned char c)
{
    return ascii_class[c] & (C_DIGIT | C_ALPHA);
}

static inline bool
a_space(unsigned char c)
{
    return ascii_class[c] & C_SPACE;
}

static inline int
a_lower(unsigned char c)
{
    return ascii_class[c] & C_ALPHA ? c | 0x20 : c;
}

/* --- scanners: each returns the length matched at p (0: none) ------------ */

static bool
b64url(unsigned char c)
{
    return a_alnum(c) || c == '-' || c == '_';
}

static bool
word(unsigned char c)
{
    return a_alnum(c) || c == '_';
}

/* header.payload.signature, base64url; the header of every JWT starts
 * with '{"' which encodes as "eyJ". */
static size_t
jwt(const char *p, size_t n)
{
    size_t i = 0, seg = 0, seglen = 0, first = 0;

    if (n < 10 || memcmp(p, "eyJ", 3) != 0)
        return 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (b64url(c)) {
            seglen++;
        } else if (c == '.' && seglen > 0 && seg < 2) {
            if (seg == 0)
                first = seglen;
            seg++;
            seglen = 0;
        } else {
            break;
        }
        i++;
    }
    /* An empty signature is allowed (alg "none"); a trailing dot is not
     * part of the token otherwise. */
    if (seg == 2 && first >= 10)
        return i;
    return 0;
}

static bool
token_char(unsigned char c)
{
    return a_alnum(c) || strchr("-._~+/=", c) != NULL;
}

/* "Bearer <token>": returns the length of the whole; *keep the prefix. */
static size_t
bearer(const char *p, size_t n, size_t *keep)
{
    size_t i = 7, t;

    if (n < 15 || strncasecmp(p, "bearer ", 7) != 0)
        return 0;
    while (i < n && p[i] == ' ')
        i++;
    for (t = i; t < n && token_char((unsigned char)p[t]); t++)
        ;
    if (t - i < 8)
        return 0;
    *keep = i;
    return t;
}

static bool
key_char(unsigned char c)
{
    return a_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Cheap filter: does the key contain "pa", "pw", "se", "to", "ke",
 * "au" or "cr" (case-insensitive), as every secret key name does? */
static bool
maybe_secret(const char *k, size_t n)
{
    /* pa pw se to ke au cr ap, one switch per pair: it runs on every
     * key of every scrubbed object. */
    for (size_t i = 0; i + 1 < n; i++) {
        char b = (char)a_lower((unsigned char)k[i + 1]);
        switch (a_lower((unsigned char)k[i])) {
        case 'p':
            if (b == 'a' || b == 'w')
                return true;
            break;
        case 's':
        case 'k':
            if (b == 'e')
                return true;
            break;
        case 't':
            if (b == 'o')
                return true;
            break;
        case 'a':
            if (b == 'u' || b == 'p')
                return true;
            break;
        case 'c':
            if (b == 'r')
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

bool
sn_scrub_secret_key(const char *k, size_t n)
{
    const char *dot = NULL;
    char low[64];

    for (size_t i = 0; i < n; i++)
        if (k[i] == '.')
            dot = k + i;
    if (dot != NULL) {
        n -= (size_t)(dot + 1 - k);
        k = dot + 1;
    }
    /* Every name and suffix holds one of these letters pairs; most keys
     * (time_ns, summary, count...) are rejected before any copy. */
    if (n < 3 || n >= sizeof(low) || !maybe_secret(k, n))
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)a_lower((unsigned char)k[i]);
    low[n] = '\0';
    for (size_t i = 0; secret_keys[i] != NULL; i++)
        if (low[0] == secret_keys[i][0] && strcmp(low, secret_keys[i]) == 0)
            return true;
    for (size_t i = 0; secret_suffixes[i] != NULL; i++) {
        size_t sl = strlen(secret_suffixes[i]);
        if (n > sl && strcmp(low + n - sl, secret_suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* key=value, key: value, "key":"value", key="value": returns the length
 * of everything up to the value's end; *vstart and *vend bound the value
 * (which is replaced). */
static size_t
keyvalue(const char *p, size_t n, size_t *vstart, size_t *vend)
{
    size_t i = 0, k;
    char q = 0;

    while (i < n && key_char((unsigned char)p[i]))
        i++;
    k = i;
    if (k == 0)
        return 0;
    if (i < n && (p[i] == '"' || p[i] == '\''))
        i++; /* the closing quote of a quoted key */
    while (i < n && p[i] == ' ')
        i++;
    /* The separator first: most words are not followed by one, and the
     * key's name check costs more. */
    if (i >= n || (p[i] != '=' && p[i] != ':') || !sn_scrub_secret_key(p, k))
        return 0;
    i++;
    while (i < n && p[i] == ' ')
        i++;
    if (i < n && (p[i] == '"' || p[i] == '\'')) {
        q = p[i];
        i++;
    }
    *vstart = i;
    if (q) {
        while (i < n && p[i] != q)
            i++;
    } else {
        while (i < n && !a_space((unsigned char)p[i]) &&
               strchr("&,;\"'", p[i]) == NULL)
            i++;
    }
    /* "Authorization: Bearer x": the scheme and its credentials. */
    if (!q && i < n && p[i] == ' ' && i - *vstart <= 6) {
        size_t t = i;
        while (t < n && p[t] == ' ')
            t++;
        while (t < n && token_char((unsigned char)p[t]))
            t++;
        if (t > i + 1)
            i = t;
    }
    *vend = i;
    return *vend > *vstart ? i : 0;
}

static bool
local_char(unsigned char c)
{
    return a_alnum(c) || strchr("._%+-", c) != NULL;
}

/* local@domain.tld with a TLD of two or more letters. When the domain
 * goes on with labels that cannot end it ("a@b.co.0123"), the address is
 * the longest prefix that can: otherwise scrubbing what follows (a phone
 * number) would leave an address a second pass finds, and scrubbing would
 * not be idempotent (found by fuzz_scrub). */
static size_t
email(const char *p, size_t n)
{
    size_t i = 0, dots = 0, tld = 0, last, best = 0;

    while (i < n && local_char((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != '@')
        return 0;
    i++;
    last = i;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (a_alnum(c) || c == '-') {
            tld = a_alpha(c) ? tld + 1 : 0;
            if (!a_alpha(c))
                tld = 0;
        } else if (c == '.' && i > last && i + 1 < n &&
                   a_alnum((unsigned char)p[i + 1])) {
            if (dots > 0 && tld >= 2)
                best = i;
            dots++;
            tld = 0;
            last = i + 1;
        } else {
            break;
        }
        i++;
    }
    return dots > 0 && tld >= 2 ? i : best;
}

static bool
luhn(const char *d, size_t n)
{
    int sum = 0;
    bool dbl = false;

    for (size_t i = n; i-- > 0;) {
        int v = d[i] - '0';
        if (dbl && (v *= 2) > 9)
            v -= 9;
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

enum num_kind { NUM_NONE, NUM_CARD, NUM_PHONE };

/*
 * A run of digits and separators at p (p[0] is a digit, '+' or '('):
 * card-like (13-19 digits, single spaces or dashes, Luhn-valid; without
 * separators at most 16 digits, so 19-digit counters and nanosecond
 * timestamps are left alone) or phone-like (a leading '+' and 8-15
 * digits, or 10-15 digits in at least 3 groups). Dotted quads, dates
 * and times are not numbers here.
 */
static size_t
number(const char *p, size_t n, enum num_kind *kind)
{
    char digits[32];
    size_t i = 0, nd = 0, seps = 0, dots = 0, end = 0, groups = 0;
    size_t first_group = 0;
    bool plus = p[0] == '+', paren = false, bad_sep = false, in_group = false;

    *kind = NUM_NONE;
    if (plus)
        i++;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (a_digit(c)) {
            if (nd < sizeof(digits))
                digits[nd] = (char)c;
            nd++;
            if (!in_group)
                groups++;
            if (groups == 1)
                first_group++;
            in_group = true;
            end = i + 1;
            continue;
        }
        if (c == '(' && !paren && nd == 0) {
            paren = true;
            continue;
        }
        if (c == ')' || c == ' ' || c == '-' || c == '.') {
            /* Two separators in a row end the run (") " is one). */
            if (!in_group && !(c == ' ' && i > 0 && p[i - 1] == ')'))
                break;
            if (c == '.')
                dots++;
            if (c != '-' && c != ' ')
                bad_sep = true;
            seps++;
            in_group = false;
            continue;
        }
        break;
    }
    if (end < n && (p[end] == ':' || a_alpha((unsigned char)p[end]) ||
                    p[end] == '_'))
        return end; /* a time, a version or an identifier: not a number */
    if (nd > 19 || (dots == 3 && nd <= 12))
        return end;
    /* 2026-11-23 ...: a date. */
    if (first_group == 4 && (p[0] == '1' || p[0] == '2') && end > 4 &&
        p[4] == '-')
        return end;
    if (!plus && !bad_sep && nd >= 13 &&
        ((seps == 0 && nd <= 16) || (seps > 0 && nd <= 19)) &&
        luhn(digits, nd)) {
        *kind = NUM_CARD;
        return end;
    }
    if ((plus && nd >= 8 && nd <= 15) ||
        (nd >= 10 && nd <= 15 && groups >= 3 && dots != 3)) {
        *kind = NUM_PHONE;
        return end;
    }
    return end;
}

static long
scrub_once(struct sn_scrub *s, const char *in, size_t len, struct sn_buf *out)
{
    long hits = 0;
    size_t i = 0, copied = 0;
    struct sn_buf *dst = s->n_re > 0 ? &s->tmp : out;
    /* What most texts lack, looked up once: an address needs its '@',
     * a key=value its '=' or ':' (the scanners would find neither). */
    bool may_email = len > 0 && memchr(in, '@', len) != NULL;
    bool may_kv = len > 0 && (memchr(in, '=', len) != NULL ||
                              memchr(in, ':', len) != NULL);

#define FLUSH_TO(pos)                                                          \
    do {                                                                       \
        if ((pos) > copied &&                                                  \
            sn_buf_append(dst, in + copied, (pos) - copied) != SN_OK)         \
            return -1;                                                         \
    } while (0)
#define EMIT(lit)                                                              \
    do {                                                                       \
        if (SN_BUF_LIT(dst, lit) != SN_OK)                                     \
            return -1;                                                         \
        hits++;                                                                \
    } while (0)

    if (dst == &s->tmp)
        sn_buf_reset(&s->tmp);
    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        bool start = i == 0 || !word((unsigned char)in[i - 1]);
        size_t m, keep = 0, vs, ve;
        enum num_kind kind;

        if (!start || !(a_alnum(c) || c == '+' || c == '(')) {
            i++;
            continue;
        }
        if (c == 'e' && (m = jwt(in + i, len - i)) > 0) {
            FLUSH_TO(i);
            EMIT("[jwt]");
            i += m;
            copied = i;
            continue;
        }
        if ((c == 'b' || c == 'B') && (m = bearer(in + i, len - i, &keep))) {
            FLUSH_TO(i + keep);
            EMIT("[token]");
            i += m;
            copied = i;
            continue;
        }
        if (may_kv && a_alpha(c) &&
            (m = keyvalue(in + i, len - i, &vs, &ve)) > 0) {
            FLUSH_TO(i + vs);
            EMIT("[redacted]");
            i += ve;
            copied = i;
            continue;
        }
        if (may_email && a_alnum(c) && (m = email(in + i, len - i)) > 0) {
            FLUSH_TO(i);
            EMIT("[email]");
            i += m;
            copied = i;
            continue;
        }
        if ((a_digit(c) || ((c == '+' || c == '(') && i + 1 < len &&
                            a_digit((unsigned char)in[i + 1]))) &&
            (i == 0 || !a_alnum((unsigned char)in[i - 1]))) {
            m = number(in + i, len - i, &kind);
            if (kind != NUM_NONE) {
                FLUSH_TO(i);
                if (kind == NUM_CARD)
                    EMIT("[card]");
                else
                    EMIT("[phone]");
                copied = i + m;
            }
            i += m > 0 ? m : 1;
            continue;
        }
        /* Skip the rest of this word: matches start at word starts. */
        m = i;
        while (i < len && word((unsigned char)in[i]))
            i++;
        if (i == m)
            i++;
    }
    FLUSH_TO(len);
#undef FLUSH_TO
#undef EMIT
    if (s->n_re == 0)
        return hits;
    /* User patterns, each over the previous result. */
    for (size_t r = 0; r < s->n_re; r++) {
        struct sn_buf *src = r % 2 == 0 ? &s->tmp : &s->tmp2;
        struct sn_buf *to = r + 1 == s->n_re ? out
                            : r % 2 == 0     ? &s->tmp2
                                             : &s->tmp;
        PCRE2_SIZE start = 0;
        size_t done = 0;
        int rc = PCRE2_ERROR_NOMATCH;
        if (to != out)
            sn_buf_reset(to);
        while (start <= src->len &&
               (rc = pcre2_match(s->re[r], (PCRE2_SPTR)src->data, src->len,
                                 start, 0, s->md, NULL)) >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            if (sn_buf_append(to, src->data + done, ov[0] - done) != SN_OK ||
                SN_BUF_LIT(to, "[redacted]") != SN_OK)
                return -1;
            hits++;
            done = ov[1];
            start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        }
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && done < src->len) {
            /* A match error (match or depth limit, bad UTF) says nothing
             * about what the rest holds: fail closed and redact it all
             * rather than let it out unscrubbed. */
            if (SN_BUF_LIT(to, "[redacted]") != SN_OK)
                return -1;
            hits++;
            continue;
        }
        if (sn_buf_append(to, src->data + done, src->len - done) != SN_OK)
            return -1;
    }
    return hits;
}

/* Passes over the text at most: a replacement can join what surrounds it
 * into a new match (a phone number cut out of "a@b.co.0123-45" leaves an
 * address), so the result is scanned again until it no longer changes.
 * fuzz_scrub checks that a scrubbed text scrubs to itself. */
#define SCRUB_PASSES 4

long
sn_scrub_text(struct sn_scrub *s, const char *in, size_t len,
              struct sn_buf *out)
{
    size_t base = out->len;
    long hits = scrub_once(s, in, len, out);

    for (int pass = 1; hits > 0 && pass < SCRUB_PASSES; pass++) {
        long more;

        sn_buf_reset(&s->again);
        if (sn_buf_append(&s->again, out->data + base, out->len - base) !=
            SN_OK)
            return -1;
        out->len = base;
        more = scrub_once(s, s->again.data, s->again.len, out);
        if (more < 0)
            return -1;
        if (out->len - base == s->again.len &&
            memcmp(out->data + base, s->again.data, s->again.len) == 0)
            break; /* stable: only placeholders matched again */
        hits += more;
    }
    return hits;
}

static long
scrub_value(struct sn_scrub *s, struct json_object *v, const char *key)
{
    long hits = 0;

    switch (json_object_get_type(v)) {
    case json_type_object: {
        json_object_object_foreach(v, k, child)
        {
            if (sn_scrub_keeps(s, k))
                continue;
            if (json_object_is_type(child, json_type_string) &&
                sn_scrub_secret_key(k, strlen(k))) {
                json_object_set_string(child, "[redacted]");
                hits++;
                continue;
            }
            hits += scrub_value(s, child, k);
        }
        return hits;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            hits += scrub_value(s, json_object_array_get_idx(v, i), key);
        return hits;
    case json_type_string: {
        long h;
        if (key != NULL && sn_scrub_keeps(s, key))
            return 0;
        sn_buf_reset(&s->val);
        h = sn_scrub_text(s, json_object_get_string(v),
                          (size_t)json_object_get_string_len(v), &s->val);
        if (h > 0)
            json_object_set_string_len(v, s->val.data, (int)s->val.len);
        else if (h < 0)
            json_object_set_string(v, "[too long to scrub]");
        return h < 0 ? 1 : h;
    }
    default:
        return 0;
    }
}

long
sn_scrub_json(struct sn_scrub *s, struct json_object *o)
{
    return scrub_value(s, o, NULL);
}
