/*
 * RFC 5424 parser; see rfc5424.h for the contract. One left-to-right pass
 * over the message, every byte looked at once; the MSG is only scanned
 * when it starts with a BOM (it must then be UTF-8). Decisions where the
 * RFC leaves room are marked "Decision:" below; the RFC text is the design
 * document.
 */
#include "syslog/rfc5424.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "syslog/timestamp.h"

/* SD entries kept on the stack before the first arena allocation: more
 * than almost any real message has, so the arena sees one copy. */
#define SD_INLINE 16

/* Duplicate SD-ID checks compare linearly up to this many elements, then
 * switch to a hash table so a hostile message of hundreds of tiny
 * elements costs linear, not quadratic, time. */
#define ID_LINEAR_MAX 8
#define ID_SLOTS      1024 /* power of two, at least twice the elements */

_Static_assert(SN_EVENT_MAX_SD_PARAMS >= SD_INLINE,
               "SD param limit below the inline count");
_Static_assert(ID_SLOTS >= 2 * SN_EVENT_MAX_SD_PARAMS &&
                   (ID_SLOTS & (ID_SLOTS - 1)) == 0,
               "SD-ID hash table too small or not a power of two");
_Static_assert(SN_EVENT_MAX_SD_PARAMS < UINT16_MAX,
               "SD entry index must fit the hash slots");

struct ctx {
    const char *p;
    size_t len;
    struct sn_arena *arena;
    struct sn_syslog_msg *m;
    struct sn_parse_error *err;
    struct sn_sd_param *sd; /* inline or arena */
    size_t n_sd, cap_sd;
    struct sn_sd_param inline_sd[SD_INLINE];
    bool bare_bracket;           /* an unescaped ']' noted already */
    size_t n_ids;                /* SD-ELEMENTs seen so far */
    uint16_t id_slots[ID_SLOTS]; /* entry index + 1; used past the linear
                                    maximum, untouched before */
};

static enum sn_status fail(struct ctx *c, enum sn_status rc, size_t offset,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum sn_status
fail(struct ctx *c, enum sn_status rc, size_t offset, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err->reason, sizeof(c->err->reason), fmt, ap);
    va_end(ap);
    c->err->offset = offset;
    return rc;
}

/* RFC 5424 6: PRINTUSASCII = %d33-126 */
static bool
is_print(unsigned char b)
{
    return (unsigned char)(b - 33) <= 126 - 33;
}

/* RFC 5424 6: SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', %d34 */
static bool
is_sdname(unsigned char b)
{
    /* Bit b of this 128-bit map is set for the allowed bytes: 33..126
     * without 34 ('"'), 61 ('=') and 93 (']'). */
    static const uint64_t map[2] = {
        UINT64_C(0xDFFFFFFA00000000), /* 33..63 except 34, 61 */
        UINT64_C(0x7FFFFFFFDFFFFFFF), /* 64..126 except 93 */
    };

    return b < 128 && ((map[b >> 6] >> (b & 63)) & 1) != 0;
}

static bool
is_digit(unsigned char b)
{
    return b >= '0' && b <= '9';
}

/*
 * Word-at-a-time scanning (8 bytes per step): ONES * n repeats byte n.
 * has_zero() flags every zero byte of w (and possibly bytes above the
 * first flagged one, which the byte loops after each scan re-check).
 */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static uint64_t
has_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

static uint64_t
load8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* First offset in p[i..end) whose byte is not PRINTUSASCII, or end. */
static size_t
skip_print(const unsigned char *p, size_t i, size_t end)
{
    while (end - i >= 8) {
        uint64_t w = load8(p + i);

        /* Bytes below 0x21, equal to 0x7F, or with the high bit set. */
        if (((w - ONES * 0x21) & ~w & HIGHS) | has_zero(w ^ (ONES * 0x7F)) |
            (w & HIGHS))
            break;
        i += 8;
    }
    while (i < end && is_print(p[i]))
        i++;
    return i;
}

/*
 * Offset of the first byte of p[0..len) that is not part of valid UTF-8
 * (RFC 3629: shortest form, no surrogates, nothing above U+10FFFF), or len
 * when all is valid. ASCII runs go eight bytes at a time.
 */
static size_t
utf8_bad(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char b = p[i];
        size_t n;

        if (b < 0x80) {
            uint64_t w;

            while (i + 8 <= len) {
                memcpy(&w, p + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            while (i < len && p[i] < 0x80)
                i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            n = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 4;
        } else {
            return i;
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
        if ((b == 0xE0 && p[i + 1] < 0xA0) ||  /* overlong */
            (b == 0xED && p[i + 1] >= 0xA0) || /* UTF-16 surrogate */
            (b == 0xF0 && p[i + 1] < 0x90) ||  /* overlong */
            (b == 0xF4 && p[i + 1] >= 0x90))   /* above U+10FFFF */
            return i;
        i += n;
    }
    return len;
}

/*
 * PRI = "<" PRIVAL ">", PRIVAL = 1*3DIGIT ; range 0 .. 191 (RFC 5424 6,
 * 6.2.1). RFC 5424 6.2.1: "The only time a value of "0" follows the "<" is
 * for the Priority value of "0". Otherwise, leading "0"s MUST NOT be
 * used": "<00>", "<01>" and "<013>" are rejected (the RFC 3164 parser
 * still takes them, as rsyslog does).
 */
static enum sn_status
parse_pri(struct ctx *c, size_t *pos)
{
    const char *p = c->p;
    size_t i = 1;
    unsigned v = 0;

    if (c->len == 0)
        return fail(c, SN_EINVAL, 0, "empty message");
    if (p[0] != '<')
        return fail(c, SN_EINVAL, 0, "message does not start with '<' (PRI)");
    while (i < c->len && is_digit((unsigned char)p[i])) {
        if (i == 4)
            return fail(c, SN_EINVAL, i, "PRI longer than 3 digits");
        v = v * 10 + (unsigned)(p[i] - '0');
        i++;
    }
    if (i >= c->len)
        return fail(c, SN_EINVAL, c->len, "message ends inside PRI");
    if (i == 1)
        return fail(c, SN_EINVAL, i, "PRI has no digits");
    if (p[i] != '>')
        return fail(c, SN_EINVAL, i, "expected '>' after PRI digits");
    if (p[1] == '0' && i > 2)
        return fail(c, SN_EINVAL, 1,
                    "PRI has a leading zero (RFC 5424 6.2.1)");
    if (v > 191)
        return fail(c, SN_EINVAL, 1, "PRI value %u out of range 0..191", v);
    c->m->pri = (int)v;
    *pos = i + 1;
    return SN_OK;
}

/*
 * VERSION = NONZERO-DIGIT 0*2DIGIT (RFC 5424 6). Decision: any value
 * 1..999 is accepted and reported, as the ABNF says; RFC 5424 itself
 * only defines 1 (6.2.2), and routing other versions elsewhere is a
 * pipeline decision made on m->version, not a syntax error.
 */
static enum sn_status
parse_version(struct ctx *c, size_t *pos)
{
    const char *p = c->p;
    size_t i = *pos, start = i;
    int v = 0;

    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends before VERSION");
    if (p[i] < '1' || p[i] > '9')
        return fail(c, SN_EINVAL, i,
                    "VERSION must start with a nonzero "
                    "digit");
    while (i < c->len && is_digit((unsigned char)p[i])) {
        if (i - start == 3)
            return fail(c, SN_EINVAL, i, "VERSION longer than 3 digits");
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends after VERSION");
    if (p[i] != ' ')
        return fail(c, SN_EINVAL, i, "expected SP after VERSION");
    c->m->version = v;
    *pos = i + 1;
    return SN_OK;
}

/*
 * TIME-SECFRAC = "." 1*6DIGIT (RFC 5424 6). Decision: a timestamp that
 * breaks only that rule, with 7 to 9 digits or more, is read (digits
 * below a nanosecond dropped) and noted. .NET's round-trip format writes
 * 7 digits, and rsyslog and syslog-ng read such stamps; rejecting it
 * would lose the whole header. Anything else the lenient parser
 * tolerates is still an error: the strict one's error stands.
 */
static enum sn_status
long_fraction(struct ctx *c, const char *p, size_t len, size_t *used)
{
    unsigned flags = 0;
    size_t n = 0;
    int64_t ns = 0;
    enum sn_status rc;

    rc = sn_rfc3339_parse_lenient(p, len, &ns, &n, &flags, NULL);
    if ((rc != SN_OK && rc != SN_ELIMIT) || flags != SN_TS_LONG_FRAC)
        return SN_EINVAL;
    if (rc == SN_OK)
        c->m->time_ns = ns;
    *used = n;
    sn_syslog_msg_note(c->m, "fraction longer than 6 digits");
    return rc;
}

/* TIMESTAMP = NILVALUE / FULL-DATE "T" FULL-TIME (RFC 5424 6, 6.2.3). */
static enum sn_status
parse_timestamp(struct ctx *c, size_t *pos)
{
    const char *p = c->p;
    size_t i = *pos, used = 0;
    enum sn_status rc;

    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends before TIMESTAMP");
    if (p[i] == '-') {
        used = 1;
    } else {
        rc = sn_rfc3339_parse(p + i, c->len - i, &c->m->time_ns, &used, c->err);
        if (rc == SN_EINVAL)
            rc = long_fraction(c, p + i, c->len - i, &used);
        if (rc == SN_EINVAL) {
            c->err->offset += i;
            return rc;
        }
        /* Decision: a well-formed TIMESTAMP whose instant int64
         * nanoseconds cannot hold (years 0000..1677, 2262..9999) is still
         * a valid message: keep the text, drop the number, say so. */
        if (rc == SN_ELIMIT)
            sn_syslog_msg_note(c->m, "timestamp outside the nanosecond "
                                     "range 1677..2262");
        else
            c->m->has_time = true;
        c->m->timestamp.ptr = p + i;
        c->m->timestamp.len = used;
    }
    i += used;
    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends after TIMESTAMP");
    if (p[i] != ' ')
        return fail(c, SN_EINVAL, i, "expected SP after TIMESTAMP");
    *pos = i + 1;
    return SN_OK;
}

/*
 * One of HOSTNAME, APP-NAME, PROCID, MSGID = NILVALUE / 1*max PRINTUSASCII
 * (RFC 5424 6), followed by SP. "-" alone is the NILVALUE; "--" or "-x"
 * are ordinary values. Decision: a value longer than max is kept whole,
 * with the note too_long. The limits bind senders; the field still ends
 * unambiguously at SP, rsyslog keeps such values and syslog-ng cuts
 * them, and rejecting the message would lose its whole header.
 */
static enum sn_status
parse_field(struct ctx *c, size_t *pos, size_t max, const char *name,
            const char *next, const char *too_long, struct sn_str *out)
{
    const char *p = c->p;
    size_t i = *pos, start = i;
    unsigned char b;

    i = skip_print((const unsigned char *)p, i, c->len);
    if (i >= c->len) {
        if (i == start)
            return fail(c, SN_EINVAL, i, "message ends before %s", name);
        return fail(c, SN_EINVAL, i, "message ends after %s (%s missing)", name,
                    next);
    }
    b = (unsigned char)p[i];
    if (b != ' ')
        return fail(c, SN_EINVAL, i,
                    "%s contains byte 0x%02x (not "
                    "PRINTUSASCII)",
                    name, b);
    if (i == start)
        return fail(c, SN_EINVAL, i, "%s is empty", name);
    if (i - start > max)
        sn_syslog_msg_note(c->m, too_long);
    if (!(i - start == 1 && p[start] == '-')) {
        out->ptr = p + start;
        out->len = i - start;
    }
    *pos = i + 1;
    return SN_OK;
}

static bool
str_eq(struct sn_str a, struct sn_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Make room for more SD entries: inline array to arena, then doubling. */
static enum sn_status
sd_grow(struct ctx *c, size_t at)
{
    size_t cap = c->cap_sd * 2;
    struct sn_sd_param *grown;

    if (c->cap_sd >= SN_EVENT_MAX_SD_PARAMS)
        return fail(c, SN_ELIMIT, at, "more than %d SD-PARAMs in one message",
                    SN_EVENT_MAX_SD_PARAMS);
    if (cap > SN_EVENT_MAX_SD_PARAMS)
        cap = SN_EVENT_MAX_SD_PARAMS;
    grown = sn_arena_alloc(c->arena, cap * sizeof(*grown));
    if (grown == NULL)
        return fail(c, SN_ENOMEM, at, "out of arena memory for SD-PARAMs");
    memcpy(grown, c->sd, c->n_sd * sizeof(*grown));
    c->sd = grown;
    c->cap_sd = cap;
    return SN_OK;
}

static enum sn_status
sd_push(struct ctx *c, struct sn_str id, struct sn_str name,
        struct sn_str value, size_t at)
{
    struct sn_sd_param *e;
    enum sn_status rc;

    if (c->n_sd == c->cap_sd && (rc = sd_grow(c, at)) != SN_OK)
        return rc;
    e = &c->sd[c->n_sd++];
    e->id = id;
    e->name = name;
    e->value = value;
    return SN_OK;
}

/*
 * PARAM-VALUE = UTF-8-STRING with '"', '\' and ']' escaped (RFC 5424 6,
 * 6.3.3), starting after the opening quote at *pos; on success *pos is
 * the closing quote.
 */
static enum sn_status
parse_value(struct ctx *c, size_t *pos, struct sn_str *out)
{
    /* Bytes that end the fast scan: the quote, backslash, ']' (6.3.3) and
     * the first byte of every non-ASCII sequence (validated as UTF-8). */
    static const unsigned char stop[256] = {
        ['"'] = 1,
        ['\\'] = 1,
        [']'] = 1,
    };
    const unsigned char *p = (const unsigned char *)c->p;
    size_t len = c->len, i = *pos, start = i, bad;
    bool has_escape = false, has_high = false, bare_bracket = false;
    char *dst;
    size_t j, k;

    for (;;) {
        unsigned char b;

        while (len - i >= 8) {
            uint64_t w = load8(p + i);

            if (has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
                has_zero(w ^ (ONES * ']')) | (w & HIGHS))
                break;
            i += 8;
        }
        while (i < len && !(stop[p[i]] | (p[i] & 0x80)))
            i++;
        if (i >= len)
            return fail(c, SN_EINVAL, len, "message ends inside PARAM-VALUE");
        b = p[i];
        if (b == '"')
            break;
        if (b & 0x80) {
            has_high = true;
            i++;
        } else if (b == ']') {
            /* 6.3.3: the sender MUST escape ']', "to avoid syslog
             * application implementation errors". Decision: a receiver
             * need not reject it: inside the quotes it is unambiguous,
             * rsyslog and syslog-ng take it as a character of the value,
             * and rejecting it would lose the whole header. */
            bare_bracket = true;
            i++;
        } else {
            /* 6.3.3: only \" \\ \] are escapes; a backslash before any
             * other character is a literal backslash and that character
             * is read normally. */
            if (i + 1 >= len)
                return fail(c, SN_EINVAL, len,
                            "message ends inside PARAM-VALUE");
            b = p[i + 1];
            if (b == '"' || b == '\\' || b == ']') {
                has_escape = true;
                i += 2;
            } else {
                i++;
            }
        }
    }
    *pos = i;
    if (bare_bracket && !c->bare_bracket) {
        c->bare_bracket = true; /* one note for the message */
        sn_syslog_msg_note(c->m, "unescaped ']' in PARAM-VALUE");
    }
    /* RFC 5424 6: PARAM-VALUE = UTF-8-STRING. The escapes are ASCII, so
     * checking the raw bytes checks the value. */
    if (has_high && (bad = utf8_bad(p + start, i - start)) != i - start)
        return fail(c, SN_EINVAL, start + bad,
                    "PARAM-VALUE is not valid UTF-8");
    if (!has_escape) {
        out->ptr = c->p + start;
        out->len = i - start;
        return SN_OK;
    }
    dst = sn_arena_alloc(c->arena, i - start);
    if (dst == NULL)
        return fail(c, SN_ENOMEM, start, "out of arena memory for PARAM-VALUE");
    for (j = start, k = 0; j < i; j++) {
        if (p[j] == '\\' &&
            (p[j + 1] == '"' || p[j + 1] == '\\' || p[j + 1] == ']'))
            j++;
        dst[k++] = (char)p[j];
    }
    out->ptr = dst;
    out->len = k;
    return SN_OK;
}

static uint32_t
id_hash(struct sn_str id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (unsigned char)id.ptr[i]) * 16777619u;
    return h;
}

/* Insert the element whose first SD entry is index e (its id known). */
static void
id_insert(struct ctx *c, struct sn_str id, size_t e)
{
    uint32_t h = id_hash(id) & (ID_SLOTS - 1);

    while (c->id_slots[h] != 0)
        h = (h + 1) & (ID_SLOTS - 1);
    c->id_slots[h] = (uint16_t)(e + 1);
}

/*
 * True when an earlier SD-ELEMENT had this SD-ID; otherwise records it.
 * The new element's first entry will be c->sd[c->n_sd] (every element
 * adds at least one entry), which is what the table stores.
 */
static bool
id_seen(struct ctx *c, struct sn_str id)
{
    uint32_t h;

    if (c->n_ids < ID_LINEAR_MAX) {
        /* Entries of one element share id.ptr: compare once each. */
        for (size_t k = 0; k < c->n_sd; k++) {
            if (k > 0 && c->sd[k].id.ptr == c->sd[k - 1].id.ptr)
                continue;
            if (str_eq(c->sd[k].id, id))
                return true;
        }
        c->n_ids++;
        return false;
    }
    if (c->n_ids == ID_LINEAR_MAX) {
        memset(c->id_slots, 0, sizeof(c->id_slots));
        for (size_t k = 0; k < c->n_sd; k++)
            if (k == 0 || c->sd[k].id.ptr != c->sd[k - 1].id.ptr)
                id_insert(c, c->sd[k].id, k);
    }
    for (h = id_hash(id) & (ID_SLOTS - 1); c->id_slots[h] != 0;
         h = (h + 1) & (ID_SLOTS - 1))
        if (str_eq(c->sd[c->id_slots[h] - 1].id, id))
            return true;
    if (c->n_sd >= SN_EVENT_MAX_SD_PARAMS)
        return false; /* sd_push() is about to fail with SN_ELIMIT */
    c->id_slots[h] = (uint16_t)(c->n_sd + 1);
    c->n_ids++;
    return false;
}

/*
 * SD-ID (6.3.2) at *pos, ending at SP or ']'; *pos is left on that byte.
 * Decision: the SD-ID is checked as the ABNF's SD-NAME only. The 6.3.2
 * prose about names ("name@<private enterprise number>" for private
 * IDs, names without '@' reserved for IANA) governs how IDs are
 * assigned, not the syntax, so "[a@b]" or an unregistered "[foo]" is
 * accepted as written.
 */
static enum sn_status
parse_sd_id(struct ctx *c, size_t *pos, struct sn_str *id)
{
    const unsigned char *p = (const unsigned char *)c->p;
    size_t i = *pos, start = i;

    while (i < c->len && is_sdname(p[i])) {
        if (i - start == SN_RFC5424_SDNAME_MAX)
            return fail(c, SN_EINVAL, i, "SD-ID longer than %d characters",
                        SN_RFC5424_SDNAME_MAX);
        i++;
    }
    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends inside SD-ELEMENT");
    if (p[i] == ' ' || p[i] == ']') {
        if (i == start)
            return fail(c, SN_EINVAL, i, "SD-ID is empty");
    } else if (p[i] == '=' || p[i] == '"') {
        return fail(c, SN_EINVAL, i, "SD-NAME contains '%c'", p[i]);
    } else {
        return fail(c, SN_EINVAL, i,
                    "SD-ID contains byte 0x%02x (not PRINTUSASCII)", p[i]);
    }
    id->ptr = c->p + start;
    id->len = i - start;
    /* 6.3.2: "The same SD-ID MUST NOT exist more than once in a message";
     * SD-IDs are case-sensitive. */
    if (id_seen(c, *id))
        return fail(c, SN_EINVAL, start, "duplicate SD-ID \"%.*s\"",
                    (int)id->len, id->ptr);
    *pos = i;
    return SN_OK;
}

/* PARAM-NAME "=" (6.3.3) at *pos; *pos is left after the '='. */
static enum sn_status
parse_param_name(struct ctx *c, size_t *pos, struct sn_str *name)
{
    const unsigned char *p = (const unsigned char *)c->p;
    size_t i = *pos, start = i;

    while (i < c->len && is_sdname(p[i])) {
        if (i - start == SN_RFC5424_SDNAME_MAX)
            return fail(c, SN_EINVAL, i, "PARAM-NAME longer than %d characters",
                        SN_RFC5424_SDNAME_MAX);
        i++;
    }
    if (i >= c->len)
        return fail(c, SN_EINVAL, i, "message ends inside SD-PARAM");
    if (p[i] == '=' || p[i] == ' ' || p[i] == ']') {
        if (i == start)
            return fail(c, SN_EINVAL, i, "PARAM-NAME is empty");
        if (p[i] != '=')
            return fail(c, SN_EINVAL, i, "expected '=' after PARAM-NAME");
    } else if (p[i] == '"') {
        return fail(c, SN_EINVAL, i, "SD-NAME contains '\"'");
    } else {
        return fail(c, SN_EINVAL, i,
                    "PARAM-NAME contains byte 0x%02x (not PRINTUSASCII)", p[i]);
    }
    name->ptr = c->p + start;
    name->len = i - start;
    *pos = i + 1;
    return SN_OK;
}

/*
 * STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT, SD-ELEMENT = "[" SD-ID
 * *(SP SD-PARAM) "]", SD-PARAM = PARAM-NAME "=" %d34 PARAM-VALUE %d34
 * (RFC 5424 6). Elements follow each other with nothing in between; one
 * SP separates params, with none before ']'.
 */
static enum sn_status
parse_sd(struct ctx *c, size_t *pos)
{
    const char *p = c->p;
    size_t len = c->len, i = *pos;
    enum sn_status rc;

    if (i >= len)
        return fail(c, SN_EINVAL, i, "message ends before STRUCTURED-DATA");
    if (p[i] == '-') {
        *pos = i + 1;
        return SN_OK;
    }
    if (p[i] != '[')
        return fail(c, SN_EINVAL, i,
                    "STRUCTURED-DATA must be '-' or start with '['");
    c->m->has_sd = true;
    while (i < len && p[i] == '[') {
        struct sn_str id = { NULL, 0 }, name = id, value = id;
        size_t first = c->n_sd;

        i++;
        if ((rc = parse_sd_id(c, &i, &id)) != SN_OK)
            return rc;
        while (p[i] == ' ') {
            size_t at = ++i;

            if ((rc = parse_param_name(c, &i, &name)) != SN_OK)
                return rc;
            if (i >= len)
                return fail(c, SN_EINVAL, i, "message ends inside SD-PARAM");
            if (p[i] != '"')
                return fail(c, SN_EINVAL, i, "expected '\"' after PARAM-NAME=");
            i++;
            if ((rc = parse_value(c, &i, &value)) != SN_OK ||
                (rc = sd_push(c, id, name, value, at)) != SN_OK)
                return rc;
            /* i is on the closing quote. */
            if (++i >= len)
                return fail(c, SN_EINVAL, i, "message ends inside SD-ELEMENT");
        }
        if (p[i] != ']')
            return fail(c, SN_EINVAL, i, "expected SP or ']' after SD-PARAM");
        if (c->n_sd == first) {
            struct sn_str none = { NULL, 0 };

            if ((rc = sd_push(c, id, none, none, i)) != SN_OK)
                return rc;
        }
        i++;
    }
    *pos = i;
    return SN_OK;
}

/*
 * MSG = MSG-ANY / MSG-UTF8, MSG-UTF8 = BOM UTF-8-STRING (RFC 5424 6, 6.4).
 * Decision: after a BOM the rest MUST be UTF-8 and invalid UTF-8 rejects
 * the message (it then matches neither MSG-UTF8 nor MSG-ANY, which "MUST
 * NOT start with BOM"). Without a BOM any octets are MSG-ANY, unchecked.
 */
static enum sn_status
parse_msg(struct ctx *c, size_t i)
{
    const unsigned char *p = (const unsigned char *)c->p;
    size_t bad;

    /* BOM = %xEF.BB.BF */
    if (c->len - i >= 3 && p[i] == 0xEF && p[i + 1] == 0xBB &&
        p[i + 2] == 0xBF) {
        i += 3;
        c->m->msg_has_bom = true;
        bad = utf8_bad((const unsigned char *)c->p + i, c->len - i);
        if (bad != c->len - i)
            return fail(c, SN_EINVAL, i + bad,
                        "MSG after BOM is not valid UTF-8");
    }
    c->m->msg.ptr = c->p + i;
    c->m->msg.len = c->len - i;
    return SN_OK;
}

enum sn_status
sn_rfc5424_parse(const char *p, size_t len, struct sn_arena *arena,
                 struct sn_syslog_msg *out, struct sn_parse_error *err)
{
    struct sn_parse_error scratch;
    struct ctx c;
    size_t i = 0;
    enum sn_status rc;
    struct sn_syslog_msg *m = out;

    c.p = p;
    c.len = len;
    c.arena = arena;
    c.m = out;
    c.err = err != NULL ? err : &scratch;
    c.sd = c.inline_sd;
    c.n_sd = 0;
    c.cap_sd = SD_INLINE;
    c.n_ids = 0;
    c.bare_bracket = false;
    sn_syslog_msg_init(out);

    /* HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID
     * SP MSGID (RFC 5424 6) */
    if ((rc = parse_pri(&c, &i)) != SN_OK ||
        (rc = parse_version(&c, &i)) != SN_OK ||
        (rc = parse_timestamp(&c, &i)) != SN_OK ||
        (rc = parse_field(&c, &i, SN_RFC5424_HOSTNAME_MAX, "HOSTNAME",
                          "APP-NAME", "hostname longer than 255",
                          &m->hostname)) != SN_OK ||
        (rc = parse_field(&c, &i, SN_RFC5424_APPNAME_MAX, "APP-NAME",
                          "PROCID", "app-name longer than 48",
                          &m->appname)) != SN_OK ||
        (rc = parse_field(&c, &i, SN_RFC5424_PROCID_MAX, "PROCID", "MSGID",
                          "procid longer than 128", &m->procid)) != SN_OK ||
        (rc = parse_field(&c, &i, SN_RFC5424_MSGID_MAX, "MSGID",
                          "STRUCTURED-DATA", "msgid longer than 32",
                          &m->msgid)) != SN_OK ||
        (rc = parse_sd(&c, &i)) != SN_OK)
        return rc;

    if (c.n_sd > 0) {
        if (c.sd == c.inline_sd) {
            c.sd = sn_arena_memdup(arena, c.inline_sd, c.n_sd * sizeof(*c.sd));
            if (c.sd == NULL)
                return fail(&c, SN_ENOMEM, i,
                            "out of arena memory for SD-PARAMs");
        }
        m->sd = c.sd;
        m->n_sd = c.n_sd;
    }

    /* SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]. Decision: nothing
     * after STRUCTURED-DATA is "no MSG" (null); an SP and then nothing is
     * an empty MSG (""), as MSG-ANY = *OCTET may be empty. A trailing LF
     * or NUL straight after STRUCTURED-DATA is not SP and is rejected:
     * removing transport trailers (RFC 6587 3.4.2) is the input's job. */
    if (i == len)
        return SN_OK;
    if (p[i] != ' ')
        return fail(&c, SN_EINVAL, i,
                    "expected SP or end of message after STRUCTURED-DATA");
    return parse_msg(&c, i + 1);
}
