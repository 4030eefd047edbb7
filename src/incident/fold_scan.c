/*
 * A signal's JSON read in one pass over its text: the fixed fields, the
 * group key, the scrubbed explanation and evidence items, produced
 * byte for byte as sn_fold_prepare's json-c path produces them (json-c's
 * plain rendering and escaping), without building a tree. What this
 * reader does not take on (a sequence, a degraded signal, \u escapes of
 * surrogates or NUL, duplicate keys, nesting past json-c's depth, any
 * text json-c would read differently) it declines, and the json-c path
 * decides. See fold.h; tests/unit/test_fold_scan.c compares both paths.
 * The JSON text layer it reads with is fold_scan_json.c.
 */
#include "incident/fold_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "incident/fold_scan_int.h"
#include "incident/incident.h"

struct scan {
    struct sn_scrub *scrub;
    struct sn_buf str, val; /* one decoded string; its scrubbed text */
    struct sn_fold_scan *fs;
    bool trusted; /* the text was validated: names are not checked again */
};

/* Texts the scrubber left unchanged, remembered per thread: a rule's
 * signals repeat their title, description, tags and trace, and one
 * signal repeats its message in the trace and the evidence; a copy is
 * compared, so a hash collision only costs a scrub. */
struct sn_fold_memo {
    uint64_t h;
    size_t len, cap;
    char *text;
};

/* A rule's title, description and tags as explain() wrote and took
 * them, remembered per thread by their raw text: every signal of a rule
 * repeats them, and a repeated one is copied, not scanned, scrubbed,
 * escaped and decoded again. The raw text is compared: a hash collision
 * only costs the work. */
struct sn_fold_fixed {
    uint64_t h;
    int what; /* 1 title, 2 description, 3 tags; 0 empty */
    size_t raw_len, out_len, val_len, cap;
    char *text; /* the raw value, what was written, what was taken */
};

/* What the scrubber says of a member name (kept unscrubbed, a secret
 * key), remembered per thread by the name: every evidence item repeats
 * its event's names, and both answers compare the name with lists
 * (sn_scrub_secret_key was 51 M instructions of the oneshot benchmark,
 * sn_scrub_keeps 28 M). Names longer than the slot are asked each time. */
struct sn_fold_name {
    uint64_t h;
    size_t len; /* 0: empty (an empty name is asked each time) */
    bool keeps, secret;
    char name[SN_FOLD_NAME_TEXT];
};

static uint64_t
memo_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* The memos answer for one scrubber (or none): forgotten when fs is
 * used with another. */
static void
memo_for(struct sn_fold_scan *fs, const struct sn_scrub *scrub)
{
    if (fs->memo_for == scrub)
        return;
    for (size_t i = 0; fs->memo != NULL && i < SN_FOLD_MEMO; i++)
        fs->memo[i].len = 0, fs->memo[i].h = 0;
    for (size_t i = 0; fs->fixed != NULL && i < SN_FOLD_FIXED; i++)
        fs->fixed[i].what = 0;
    for (size_t i = 0; fs->names != NULL && i < SN_FOLD_NAMES; i++)
        fs->names[i].len = 0;
    fs->memo_for = scrub;
}

/* sn_scrub_text of t[0..n) into s->val, or 0 at once for a text the
 * same scrubber left unchanged before. */
static long
scrub_memo(struct scan *s, const char *t, size_t n)
{
    struct sn_fold_scan *fs = s->fs;
    struct sn_fold_memo *m;
    uint64_t h;
    long hits;

    if (fs->memo == NULL &&
        (fs->memo = calloc(SN_FOLD_MEMO, sizeof(*fs->memo))) == NULL)
        return sn_scrub_text(s->scrub, t, n, &s->val);
    h = memo_hash(t, n);
    m = &fs->memo[h % SN_FOLD_MEMO];
    if (m->h == h && m->len == n && m->text != NULL &&
        memcmp(m->text, t, n) == 0)
        return 0;
    hits = sn_scrub_text(s->scrub, t, n, &s->val);
    if (hits == 0 && n <= SN_FOLD_MEMO_TEXT) {
        if (m->cap < n) {
            char *c = realloc(m->text, n);
            if (c == NULL)
                return 0;
            m->text = c;
            m->cap = n;
        }
        if (n > 0) /* m->text may be NULL for the empty text */
            memcpy(m->text, t, n);
        m->len = n;
        m->h = h;
    }
    return hits;
}

/* The slot for the raw value text of field what (*h its hash); NULL
 * without memory for the table. */
static struct sn_fold_fixed *
fixed_slot(struct sn_fold_scan *fs, int what, struct span raw, uint64_t *h)
{
    if (fs->fixed == NULL &&
        (fs->fixed = calloc(SN_FOLD_FIXED, sizeof(*fs->fixed))) == NULL)
        return NULL;
    *h = memo_hash(raw.p, raw.len) + (uint64_t)what;
    return &fs->fixed[*h % SN_FOLD_FIXED];
}

static bool
fixed_is(const struct sn_fold_fixed *f, uint64_t h, int what, struct span raw)
{
    return f != NULL && f->what == what && f->h == h && f->raw_len == raw.len &&
           memcmp(f->text, raw.p, raw.len) == 0;
}

/* Remembers in f that the raw text gave out (written) and val (taken);
 * nothing when it is too long or without memory. */
static void
fixed_keep(struct sn_fold_fixed *f, uint64_t h, int what, struct span raw,
           struct span out, struct span val)
{
    size_t need = raw.len + out.len + val.len;

    if (f == NULL || raw.len > SN_FOLD_MEMO_TEXT)
        return;
    f->what = 0;
    if (f->cap < need) {
        char *c = realloc(f->text, need);
        if (c == NULL)
            return;
        f->text = c;
        f->cap = need;
    }
    memcpy(f->text, raw.p, raw.len);
    memcpy(f->text + raw.len, out.p, out.len);
    memcpy(f->text + raw.len + out.len, val.p, val.len);
    f->h = h;
    f->what = what;
    f->raw_len = raw.len;
    f->out_len = out.len;
    f->val_len = val.len;
}

/* sn_scrub_keeps and sn_scrub_secret_key of the name at p (len bytes,
 * no escapes), for s->scrub (not NULL). */
static void
name_says(struct scan *s, const char *p, size_t len, bool *keeps, bool *secret)
{
    struct sn_fold_scan *fs = s->fs;
    struct sn_fold_name *e = NULL;
    char name[SCAN_NAME];
    uint64_t h = 0;

    if (len > 0 && len <= SN_FOLD_NAME_TEXT &&
        (fs->names != NULL ||
         (fs->names = calloc(SN_FOLD_NAMES, sizeof(*fs->names))) != NULL)) {
        h = memo_hash(p, len);
        e = &fs->names[h % SN_FOLD_NAMES];
        if (e->h == h && e->len == len && memcmp(e->name, p, len) == 0) {
            *keeps = e->keeps;
            *secret = e->secret;
            return;
        }
    }
    memcpy(name, p, len); /* len < SCAN_NAME: sn_fj_new_name checked */
    name[len] = '\0';
    *keeps = sn_scrub_keeps(s->scrub, name);
    *secret = sn_scrub_secret_key(name, len);
    if (e != NULL) {
        memcpy(e->name, p, len);
        e->h = h;
        e->len = len;
        e->keeps = *keeps;
        e->secret = *secret;
    }
}

/* The value at p as json-c renders it after sn_scrub_json's treatment
 * (scrubbed when s->scrub and scrub), parsed and written in one pass;
 * returns where it ends, NULL to decline. */
static const char *
write_value(struct scan *s, const char *p, const char *end, bool scrub,
            int depth, struct sn_buf *out)
{
    const char *q;
    bool is_int;

    p = sn_fj_ws(p, end);
    if (p >= end || depth > SCAN_DEPTH)
        return NULL;
    switch (*p) {
    case '"': {
        struct span v = { p, 0 };
        const char *t = p + 1;
        size_t tn;
        long h = 0;
        bool esc;
        if ((q = sn_fj_scan_string(p, end, &esc)) == NULL)
            return NULL;
        v.len = (size_t)(q - p);
        tn = v.len - 2;
        if (esc) {
            if (!sn_fj_decode(v, &s->str))
                return NULL;
            t = s->str.data;
            tn = s->str.len;
        }
        if (scrub && s->scrub != NULL) {
            sn_buf_reset(&s->val);
            h = scrub_memo(s, t, tn);
        }
        if (h < 0)
            return SN_BUF_LIT(out, "\"[too long to scrub]\"") == SN_OK ? q
                                                                       : NULL;
        if (h > 0)
            return sn_fj_encode(s->val.data, s->val.len, out) ? q : NULL;
        /* Without escapes, sn_fj_encode would write the token as it is. */
        if (!esc)
            return sn_buf_append(out, p, v.len) == SN_OK ? q : NULL;
        return sn_fj_encode(t, tn, out) ? q : NULL;
    }
    case '[':
        if (sn_buf_putc(out, '[') != SN_OK)
            return NULL;
        p = sn_fj_ws(p + 1, end);
        if (p < end && *p == ']')
            return sn_buf_putc(out, ']') == SN_OK ? p + 1 : NULL;
        for (;;) {
            if ((p = write_value(s, p, end, scrub, depth + 1, out)) == NULL)
                return NULL;
            p = sn_fj_ws(p, end);
            if (p < end && *p == ']')
                return sn_buf_putc(out, ']') == SN_OK ? p + 1 : NULL;
            if (p >= end || *p != ',' || sn_buf_putc(out, ',') != SN_OK)
                return NULL;
            p++;
        }
    case '{': {
        struct span names[SCAN_MEMBERS];
        size_t n = 0;
        uint64_t seen = 0;
        if (sn_buf_putc(out, '{') != SN_OK)
            return NULL;
        p = sn_fj_ws(p + 1, end);
        if (p < end && *p == '}')
            return sn_buf_putc(out, '}') == SN_OK ? p + 1 : NULL;
        for (;;) {
            bool sub = scrub && s->scrub != NULL, keeps, secret = false;
            const char *name = p + 1;
            size_t len;
            if ((q = sn_fj_new_name(names, &n, &seen, p, end, s->trusted)) ==
                NULL)
                return NULL;
            len = (size_t)(q - p - 2);
            if (sn_buf_append(out, p, len + 2) != SN_OK ||
                sn_buf_putc(out, ':') != SN_OK)
                return NULL;
            p = sn_fj_ws(q, end);
            if (p >= end || *p != ':')
                return NULL;
            p = sn_fj_ws(p + 1, end);
            if (sub) {
                name_says(s, name, len, &keeps, &secret);
                sub = !keeps;
            }
            if (sub && p < end && *p == '"' && secret) {
                if ((p = sn_fj_skip_string(p, end)) == NULL ||
                    SN_BUF_LIT(out, "\"[redacted]\"") != SN_OK)
                    return NULL;
            } else if ((p = write_value(s, p, end, sub, depth + 1, out)) ==
                       NULL)
                return NULL;
            p = sn_fj_ws(p, end);
            if (p < end && *p == '}')
                return sn_buf_putc(out, '}') == SN_OK ? p + 1 : NULL;
            if (p >= end || *p != ',' || sn_buf_putc(out, ',') != SN_OK)
                return NULL;
            p = sn_fj_ws(p + 1, end);
        }
    }
    case 't':
    case 'f':
    case 'n':
        if ((q = sn_fj_skip_value(NULL, p, end, depth)) == NULL ||
            sn_buf_append(out, p, (size_t)(q - p)) != SN_OK)
            return NULL;
        return q;
    default: {
        struct span v = { p, 0 };
        int64_t x;
        if ((q = sn_fj_skip_number(p, end, &is_int)) == NULL)
            return NULL;
        v.len = (size_t)(q - p);
        if (!is_int) /* json-c keeps a double's text */
            return sn_buf_append(out, p, v.len) == SN_OK ? q : NULL;
        if (!sn_fj_parse_int(v, &x))
            return NULL;
        /* The grammar has no leading zeros: json-c prints the text as
         * it is, but for "-0" (an int64 0). */
        if (x != 0 || *p != '-')
            return sn_buf_append(out, p, v.len) == SN_OK ? q : NULL;
        return sn_buf_putc(out, '0') == SN_OK ? q : NULL;
    }
    }
}

/* write_value over exactly the span v. */
static bool
write_span(struct scan *s, struct span v, bool scrub, struct sn_buf *out)
{
    return write_value(s, v.p, v.p + v.len, scrub, 1, out) == v.p + v.len;
}

/* get_str: the member's decoded string, or false (absent, not a string). */
static bool
get_str(const struct member *m, size_t n, const char *name, struct sn_buf *out)
{
    const struct span *v = sn_fj_find(m, n, name);

    return v != NULL && *v->p == '"' && sn_fj_decode(*v, out);
}

/* get_INT: an int (a double is declined); *has false when absent or of
 * another type. False: declined. */
static bool
get_int(const struct member *m, size_t n, const char *name, int64_t *out,
        bool *has)
{
    const struct span *v = sn_fj_find(m, n, name);
    bool is_int;

    *has = false;
    if (v == NULL || !(*v->p == '-' || (*v->p >= '0' && *v->p <= '9')))
        return true;
    if (sn_fj_skip_number(v->p, v->p + v->len, &is_int) == NULL || !is_int ||
        !sn_fj_parse_int(*v, out))
        return false;
    *has = true;
    return true;
}

static char *
dup_mem(const char *p, size_t len)
{
    char *c = malloc(len + 1);

    if (c != NULL) {
        memcpy(c, p, len);
        c[len] = '\0';
    }
    return c;
}

static char *
dup_buf(const struct sn_buf *b, size_t len)
{
    return dup_mem(b->data, len);
}

/* An evidence array's items, each written scrubbed into text with
 * "time" added (collect_items in fold.c); ends[] records where each
 * ends in text. */
static bool
scan_items(struct scan *s, struct span a, bool scrub, struct sn_buf *text,
           size_t **ends, size_t *n, size_t *cap)
{
    const char *p = sn_fj_ws(a.p + 1, a.p + a.len), *end = a.p + a.len;

    if (*a.p != '[')
        return true;
    while (*p != ']') {
        struct span e = { p, 0 };
        struct member m[SCAN_MEMBERS];
        size_t nm = 0;
        bool obj = *p == '{';

        /* An object's members are found in the pass that skips it. */
        p = obj ? sn_fj_members_at(s->fs, true, p, end, 0, m, &nm)
                : sn_fj_skip_known(s->fs, p, end);
        if (p == NULL)
            return false;
        e.len = (size_t)(p - e.p);
        p = sn_fj_ws(p, end);
        if (*p == ',')
            p = sn_fj_ws(p + 1, end);
        if (!obj)
            continue;
        {
            int64_t ns = 0;
            bool has_ns;
            const struct span *t;
            if (!get_int(m, nm, "time_ns", &ns, &has_ns))
                return false;
            t = sn_fj_find(m, nm, "time");
            if (t != NULL && *t->p != '"' && has_ns && ns != 0)
                return false; /* json-c would replace it in place */
            if (!write_span(s, e, scrub, text))
                return false;
            if (has_ns && ns != 0 && t == NULL) {
                char ts[40];
                text->len--; /* the closing brace */
                sn_time_rfc3339(ns, ts);
                if ((nm > 0 && sn_buf_putc(text, ',') != SN_OK) ||
                    SN_BUF_LIT(text, "\"time\":") != SN_OK ||
                    !sn_fj_encode(ts, strlen(ts), text) ||
                    sn_buf_putc(text, '}') != SN_OK)
                    return false;
            }
        }
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 8;
            void *q = realloc(*ends, c * sizeof(**ends));
            if (q == NULL)
                return false;
            *ends = q;
            *cap = c;
        }
        (*ends)[(*n)++] = text->len;
    }
    return true;
}

/* The explanation: the signal without key and evidence, scrubbed, into
 * expl and sig->expl (write); title, description and tags as scrubbed
 * into sig (take). */
static enum sn_status
explain(struct scan *s, const struct member *m, size_t n,
        const struct span *key, const struct span *ev, struct sn_fold_sig *sig,
        struct sn_buf *expl, struct sn_buf *tmp, bool write, bool take)
{
    sn_buf_reset(expl);
    if (write && sn_buf_putc(expl, '{') != SN_OK)
        return SN_ENOMEM;
    for (size_t i = 0, k = 0; i < n; i++) {
        char name[SCAN_NAME];
        bool sub = s->scrub != NULL;
        size_t at;
        int what = 0; /* 1 title, 2 description, 3 tags */
        char **field;
        struct sn_fold_fixed *f = NULL;
        uint64_t fh = 0;

        if (&m[i].val == key || &m[i].val == ev)
            continue;
        if (m[i].name.len >= sizeof(name))
            return SN_DECLINED;
        memcpy(name, m[i].name.p, m[i].name.len);
        name[m[i].name.len] = '\0';
        if (take && *m[i].val.p == '"' && strcmp(name, "title") == 0)
            what = 1;
        else if (take && *m[i].val.p == '"' && strcmp(name, "description") == 0)
            what = 2;
        else if (take && *m[i].val.p == '[' && strcmp(name, "tags") == 0)
            what = 3;
        if (!write && what == 0)
            continue;
        if (!write)
            sn_buf_reset(expl);
        else if ((k++ > 0 && sn_buf_putc(expl, ',') != SN_OK) ||
                 !sn_fj_encode(name, m[i].name.len, expl) ||
                 sn_buf_putc(expl, ':') != SN_OK)
            return SN_DECLINED;
        at = expl->len;
        field = what == 1   ? &sig->title
                : what == 2 ? &sig->description
                            : &sig->tags;
        if (what != 0)
            f = fixed_slot(s->fs, what, m[i].val, &fh);
        if (fixed_is(f, fh, what, m[i].val)) {
            /* Seen before: what was written and taken, copied. */
            const char *out = f->text + f->raw_len;
            if (write && sn_buf_append(expl, out, f->out_len) != SN_OK)
                return SN_DECLINED;
            if ((*field = dup_mem(out + f->out_len, f->val_len)) == NULL)
                return SN_ENOMEM;
            continue;
        }
        if (sub && sn_scrub_keeps(s->scrub, name))
            sub = false;
        if (sub && *m[i].val.p == '"' &&
            sn_scrub_secret_key(name, m[i].name.len)) {
            if (SN_BUF_LIT(expl, "\"[redacted]\"") != SN_OK)
                return SN_DECLINED;
        } else if (!write_span(s, m[i].val, sub, expl))
            return SN_DECLINED;
        if (what != 0) {
            struct span w = { expl->data + at, expl->len - at }, v = w;
            if (what != 3) {
                /* The scrubbed text, read back from what was written. */
                if (!sn_fj_decode(w, tmp))
                    return SN_DECLINED;
                v.p = tmp->data;
                v.len = strlen(tmp->data);
            }
            if ((*field = dup_mem(v.p, v.len)) == NULL)
                return SN_ENOMEM;
            fixed_keep(f, fh, what, m[i].val, w, v);
        }
    }
    if (!write)
        return SN_OK;
    if (sn_buf_putc(expl, '}') != SN_OK ||
        (sig->expl = dup_buf(expl, expl->len)) == NULL)
        return SN_ENOMEM;
    sig->expl_len = expl->len;
    return SN_OK;
}

static enum sn_status
scan(struct scan *s, const char *json, size_t len, struct sn_fold_sig *sig,
     struct sn_buf *expl, struct sn_buf *text, size_t **ends, size_t *n_items,
     size_t *cap_items, bool defer)
{
    const char *end = json + len, *p;
    struct member m[SCAN_MEMBERS];
    size_t n;
    const struct span *key, *ev, *src, *win;
    struct sn_buf tmp;
    int64_t time_ns = 0, first_ns = 0, last_ns = 0, count = 0, quiet = 0;
    int64_t coalesced = 1;
    bool has_t, has_f = false, has_l = false, has_c = false, has_q, has_co;
    bool ok;
    enum sn_status rc;

    if ((p = sn_fj_members_at(s->fs, false, json, end, 0, m, &n)) == NULL ||
        sn_fj_ws(p, end) != end || sn_fj_find(m, n, "sequence") != NULL)
        return SN_DECLINED;
    s->trusted = true; /* valid, and its objects and arrays recorded */

    tmp = s->fs->tmp; /* kept across signals: no malloc per signal */
    ok = get_str(m, n, "type", &tmp);
    if (ok && strcmp(tmp.data, "signal") != 0)
        goto decline;
    if (!get_str(m, n, "rule", &tmp) || tmp.data[0] == '\0')
        goto decline; /* no rule, "rule_id" only, or not a string */
    if ((sig->rule = strdup(tmp.data)) == NULL)
        goto oom;
    if (!get_str(m, n, "state", &tmp) || strcmp(tmp.data, "firing") == 0)
        sig->state = SN_SIG_FIRING;
    else if (strcmp(tmp.data, "resolved") == 0)
        sig->state = SN_SIG_RESOLVED;
    else if (strcmp(tmp.data, "update") == 0)
        sig->state = SN_SIG_UPDATE;
    else
        goto decline; /* degraded, or an unknown state */
    sig->sev = get_str(m, n, "severity", &tmp) ? sn_severity_parse(tmp.data)
                                               : SN_SEV_MEDIUM;
    sig->base = get_str(m, n, "base_severity", &tmp)
                    ? sn_severity_parse(tmp.data)
                    : sig->sev;
    if (sig->sev < 0)
        sig->sev = SN_SEV_MEDIUM;
    if (!get_int(m, n, "time_ns", &time_ns, &has_t) ||
        !get_int(m, n, "quiet_ms", &quiet, &has_q) ||
        !get_int(m, n, "coalesced", &coalesced, &has_co))
        goto decline;
    if ((win = sn_fj_find(m, n, "window")) != NULL && *win->p == '{') {
        struct member wm[SCAN_MEMBERS];
        size_t wn;
        if (!sn_fj_members(s->fs, *win, wm, &wn) ||
            !get_int(wm, wn, "first_ns", &first_ns, &has_f) ||
            !get_int(wm, wn, "last_ns", &last_ns, &has_l) ||
            !get_int(wm, wn, "count", &count, &has_c))
            goto decline;
    }
    sig->when = has_t ? time_ns : 0;
    sig->first = has_f ? first_ns : sig->when;
    sig->last = has_l ? last_ns : sig->when;
    sig->count = has_c && count >= 1 ? count : 1;
    sig->coalesced = has_co && coalesced >= 1 ? coalesced : 1;
    sig->quiet_ms = has_q ? quiet : -1;
    sig->src_part = -1;
    sig->src_offset = -1;
    if ((src = sn_fj_find(m, n, "source")) != NULL && *src->p == '{') {
        struct member sm[SCAN_MEMBERS];
        size_t sn_;
        int64_t part, off;
        bool has_p, has_o;
        if (!sn_fj_members(s->fs, *src, sm, &sn_) ||
            !get_int(sm, sn_, "partition", &part, &has_p) ||
            !get_int(sm, sn_, "offset", &off, &has_o))
            goto decline;
        if (has_p && part >= 0 && part <= INT32_MAX &&
            get_str(sm, sn_, "input", &tmp) &&
            (sig->src_input = strdup(tmp.data)) != NULL &&
            get_str(sm, sn_, "topic", &tmp)) {
            if ((sig->src_topic = strdup(tmp.data)) == NULL)
                goto oom;
            sig->src_part = (int32_t)part;
            if (has_o && off >= 0)
                sig->src_offset = off;
        } else {
            free(sig->src_input);
            sig->src_input = NULL;
        }
    }

    /* The group key: never scrubbed (fold.c). */
    key = sn_fj_find(m, n, "key");
    sn_buf_reset(&tmp);
    if (key != NULL && *key->p == '{') {
        if (!write_span(s, *key, false, &tmp))
            goto decline;
    } else if (SN_BUF_LIT(&tmp, "{}") != SN_OK)
        goto oom;
    if ((sig->gk = dup_buf(&tmp, tmp.len)) == NULL)
        goto oom;
    sig->hash = sn_fold_key_hash(sig->rule, sig->gk);
    if (sig->state != SN_SIG_FIRING) {
        s->fs->tmp = tmp;
        return SN_OK;
    }

    ev = sn_fj_find(m, n, "evidence");
    rc = explain(s, m, n, key, ev, sig, expl, &tmp, !defer, true);
    if (rc == SN_DECLINED)
        goto decline;
    if (rc != SN_OK)
        goto oom;
    if (defer && (sig->raw = malloc(len)) != NULL) {
        memcpy(sig->raw, json, len);
        sig->raw_len = len;
    } else if (defer)
        goto oom;

    /* The evidence items: {"first":[..],"last":[..]} or an array. */
    sn_buf_reset(text);
    *n_items = 0;
    if (ev != NULL) {
        bool sub = s->scrub != NULL && !sn_scrub_keeps(s->scrub, "evidence");
        if (*ev->p == '{') {
            struct member em[SCAN_MEMBERS];
            size_t en;
            static const char *const parts[] = { "first", "last" };
            if (!sn_fj_members(s->fs, *ev, em, &en))
                goto decline;
            for (int pi = 0; pi < 2; pi++) {
                const struct span *a = sn_fj_find(em, en, parts[pi]);
                if (a != NULL &&
                    !scan_items(s, *a,
                                sub && !sn_scrub_keeps(s->scrub, parts[pi]),
                                text, ends, n_items, cap_items))
                    goto decline;
            }
        } else if (!scan_items(s, *ev, sub, text, ends, n_items, cap_items))
            goto decline;
    }
    sig->items = malloc(*n_items * sizeof(*sig->items) + text->len + 1);
    if (sig->items == NULL)
        goto oom;
    {
        char *at = (char *)(sig->items + *n_items);
        size_t from = 0;
        if (text->len > 0)
            memcpy(at, text->data, text->len);
        for (size_t i = 0; i < *n_items; i++) {
            sig->items[i].p = at + from;
            sig->items[i].len = (*ends)[i] - from;
            from = (*ends)[i];
        }
        sig->n_items = *n_items;
    }
    s->fs->tmp = tmp;
    return SN_OK;
decline:
    s->fs->tmp = tmp;
    sn_fold_sig_fini(sig);
    return SN_DECLINED;
oom:
    s->fs->tmp = tmp;
    sn_fold_sig_fini(sig);
    return SN_ENOMEM;
}

void
sn_fold_scan_init(struct sn_fold_scan *fs)
{
    memset(fs, 0, sizeof(*fs));
    sn_buf_init(&fs->expl, SN_SIGNAL_MAX);
    sn_buf_init(&fs->text, SN_SIGNAL_MAX);
    sn_buf_init(&fs->str, SN_SIGNAL_MAX);
    sn_buf_init(&fs->val, SN_SIGNAL_MAX);
    sn_buf_init(&fs->tmp, SN_SIGNAL_MAX);
}

void
sn_fold_scan_fini(struct sn_fold_scan *fs)
{
    if (fs == NULL)
        return;
    sn_buf_fini(&fs->expl);
    sn_buf_fini(&fs->text);
    sn_buf_fini(&fs->str);
    sn_buf_fini(&fs->val);
    sn_buf_fini(&fs->tmp);
    free(fs->ends);
    for (size_t i = 0; fs->memo != NULL && i < SN_FOLD_MEMO; i++)
        free(fs->memo[i].text);
    free(fs->memo);
    for (size_t i = 0; fs->fixed != NULL && i < SN_FOLD_FIXED; i++)
        free(fs->fixed[i].text);
    free(fs->fixed);
    free(fs->names);
    memset(fs, 0, sizeof(*fs));
}

enum sn_status
sn_fold_scan(struct sn_fold_scan *fs, struct sn_scrub *scrub, const char *json,
             size_t len, bool defer_expl, struct sn_fold_sig *sig)
{
    struct scan s = { scrub, fs->str, fs->val, fs, false };
    size_t n_items = 0;
    enum sn_status rc;

    memset(sig, 0, sizeof(*sig));
    memo_for(fs, scrub);
    fs->n_box = 0; /* the ends recorded are this text's */
    rc = scan(&s, json, len, sig, &fs->expl, &fs->text, &fs->ends, &n_items,
              &fs->cap_ends, defer_expl);
    fs->str = s.str;
    fs->val = s.val;
    return rc;
}

enum sn_status
sn_fold_scan_expl(struct sn_fold_scan *fs, struct sn_scrub *scrub,
                  struct sn_fold_sig *sig)
{
    /* The text passed sn_fold_scan: it is valid and has no duplicates
     * (its ends are read again: fs may have read other texts since). */
    struct scan s = { scrub, fs->str, fs->val, fs, true };
    struct span top;
    struct member m[SCAN_MEMBERS];
    size_t n;
    struct sn_buf tmp;
    enum sn_status rc;

    if (sig->expl != NULL || sig->raw == NULL)
        return SN_OK;
    top.p = sn_fj_ws(sig->raw, sig->raw + sig->raw_len);
    top.len = (size_t)(sig->raw + sig->raw_len - top.p);
    memo_for(fs, scrub);
    fs->n_box = 0;
    if (!sn_fj_members(fs, top, m, &n))
        return SN_EINVAL;
    tmp = fs->tmp;
    rc =
        explain(&s, m, n, sn_fj_find(m, n, "key"), sn_fj_find(m, n, "evidence"),
                sig, &fs->expl, &tmp, true, false);
    fs->tmp = tmp;
    fs->str = s.str;
    fs->val = s.val;
    if (rc == SN_OK) {
        free(sig->raw);
        sig->raw = NULL;
        sig->raw_len = 0;
    }
    return rc == SN_DECLINED ? SN_EINVAL : rc;
}
