/*
 * The evaluator: prefilter, then a recursive walk of each candidate
 * rule's compiled tree with short-circuit and/or; see eval.h. The hot
 * path allocates nothing: field values are cached per event in the
 * scratch (invalidated by bumping a generation number, not by clearing),
 * and the trace branch is a single pointer test per node.
 */
#include "rules/value.h"
#include "rules/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/limits.h"

struct fcache {
    uint32_t gen;
    bool present;
    struct sn_value v;
};

/* The result of one extract regex class on the current event: rules
 * sharing an entry (YAML anchors) read it instead of matching again. */
struct xcache {
    uint32_t gen;
    int rc;
    uint32_t pairs;      /* the pattern's groups + 1 */
    PCRE2_SIZE *ov;      /* 2 * pairs offsets */
    struct xconv *conv;  /* per group and type (int, ip): 2 * pairs */
};

/* A capture of a class converted to int or ip on the current event: the
 * rules sharing the entry convert the same bytes to the same value. */
struct xconv {
    uint32_t gen;
    const char *err; /* convert()'s verdict */
    struct sn_value v;
};

struct sn_rules_scratch {
    const struct sn_ruleset *rs;
    struct xcache *xcache; /* per regex class */
    PCRE2_SIZE *xcache_ov; /* storage of every class's ov */
    struct xconv *xconv;   /* ...and conv */
    size_t xcache_pairs;   /* pairs over all classes */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    struct fcache *cache; /* per field id */
    uint32_t gen;
    uint64_t *cand; /* prefilter candidates */
    /* the rule being evaluated */
    const struct sn_rule_event *ev;
    const struct sn_rule *rule;
    bool x_done;
    uint64_t x_set; /* slot bitmask (SN_RULES_MAX_EXTRACT_FIELDS <= 64) */
    struct sn_value *xval;
    /* results of eval */
    struct sn_rule_match *matches;
    struct sn_rule_field_value *fields;
    size_t n_fields;
    /* results of explain */
    struct sn_trace_entry *trace; /* non-NULL only while explaining */
    struct sn_trace_entry *trace_buf;
    size_t n_trace;
    bool truncated;
    struct sn_rule_field_value *xfields;
    struct sn_rules_stats stats;
    uint64_t *rule_ns; /* SN_RULES_TIME_RULES, per rule index */
};

_Static_assert(SN_RULES_MAX_EXTRACT_FIELDS <= 64, "x_set is a uint64_t");

/* ---- scratch ----------------------------------------------------------------
 */

/* Room per regex class for its own groups only (a ruleset's largest
 * pattern would size every class otherwise). */
static void
xcache_size(const struct sn_ruleset *rs, struct sn_rules_scratch *sc)
{
    for (size_t r = 0; r < rs->n_rules; r++)
        for (size_t k = 0; k < rs->rules[r].n_extract; k++) {
            const struct sn_extract *x = &rs->rules[r].extract[k];
            uint32_t groups = 0;

            if (x->re_class >= rs->n_re_classes)
                continue;
            pcre2_pattern_info(x->re, PCRE2_INFO_CAPTURECOUNT, &groups);
            if (groups + 1 > sc->xcache[x->re_class].pairs)
                sc->xcache[x->re_class].pairs = groups + 1;
        }
    sc->xcache_pairs = 0;
    for (size_t i = 0; i < rs->n_re_classes; i++)
        sc->xcache_pairs += sc->xcache[i].pairs;
}

struct sn_rules_scratch *
sn_rules_scratch_new(const struct sn_ruleset *rs)
{
    struct sn_rules_scratch *sc = calloc(1, sizeof(*sc));
    size_t words = rs->pf ? sn_prefilter_words(rs->pf) : 1;

    if (sc == NULL)
        return NULL;
    sc->rs = rs;
    sc->md = pcre2_match_data_create(rs->regexes.max_captures + 1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    sc->jit = pcre2_jit_stack_create(SN_RULES_JIT_STACK_MIN,
                                     SN_RULES_JIT_STACK_MAX, NULL);
    sc->cache = calloc(rs->fields.n, sizeof(*sc->cache));
    sc->cand = calloc(words ? words : 1, sizeof(*sc->cand));
    sc->xval = calloc(rs->max_xfields + 1, sizeof(*sc->xval));
    sc->matches = calloc(rs->n_rules + 1, sizeof(*sc->matches));
    sc->fields = calloc(rs->total_xfields + 1, sizeof(*sc->fields));
    sc->trace_buf = calloc(SN_RULES_TRACE_MAX, sizeof(*sc->trace_buf));
    sc->xfields = calloc(rs->max_xfields + 1, sizeof(*sc->xfields));
    sc->rule_ns = calloc(rs->n_rules + 1, sizeof(*sc->rule_ns));
    sc->xcache = calloc(rs->n_re_classes + 1, sizeof(*sc->xcache));
    if (sc->xcache != NULL)
        xcache_size(rs, sc);
    sc->xcache_ov = calloc(2 * sc->xcache_pairs + 1, sizeof(*sc->xcache_ov));
    sc->xconv = calloc(2 * sc->xcache_pairs + 1, sizeof(*sc->xconv));
    for (size_t i = 0, off = 0; sc->xcache != NULL && sc->xcache_ov != NULL &&
                                sc->xconv != NULL && i < rs->n_re_classes;
         i++) {
        sc->xcache[i].ov = sc->xcache_ov + 2 * off;
        sc->xcache[i].conv = sc->xconv + 2 * off;
        off += sc->xcache[i].pairs;
    }
    if (sc->md == NULL || sc->xcache == NULL || sc->xcache_ov == NULL ||
        sc->xconv == NULL || sc->mctx == NULL || sc->cache == NULL ||
        sc->cand == NULL || sc->xval == NULL || sc->matches == NULL ||
        sc->fields == NULL || sc->trace_buf == NULL || sc->xfields == NULL ||
        sc->rule_ns == NULL) {
        sn_rules_scratch_free(sc);
        return NULL;
    }
    pcre2_set_match_limit(sc->mctx, SN_RULES_PCRE_MATCH_LIMIT);
    pcre2_set_depth_limit(sc->mctx, SN_RULES_PCRE_DEPTH_LIMIT);
    /* Without a JIT stack of our own, deep patterns fail on PCRE2's 32 KiB
     * default; a NULL stack (JIT unavailable) keeps that default. */
    if (sc->jit != NULL)
        pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
    return sc;
}

void
sn_rules_scratch_free(struct sn_rules_scratch *sc)
{
    if (sc == NULL)
        return;
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    pcre2_jit_stack_free(sc->jit);
    free(sc->cache);
    free(sc->cand);
    free(sc->xval);
    free(sc->matches);
    free(sc->fields);
    free(sc->trace_buf);
    free(sc->xfields);
    free(sc->rule_ns);
    free(sc->xcache);
    free(sc->xcache_ov);
    free(sc->xconv);
    free(sc);
}

const struct sn_rules_stats *
sn_rules_scratch_stats(const struct sn_rules_scratch *sc)
{
    return &sc->stats;
}

static void
new_event(struct sn_rules_scratch *sc, const struct sn_rule_event *ev)
{
    sc->ev = ev;
    if (++sc->gen == 0) {
        /* Wrapped after 4 billion events: forget everything once. */
        memset(sc->cache, 0, sc->rs->fields.n * sizeof(*sc->cache));
        for (size_t i = 0; i < sc->rs->n_re_classes; i++)
            sc->xcache[i].gen = 0;
        for (size_t i = 0; i < 2 * sc->xcache_pairs; i++)
            sc->xconv[i].gen = 0;
        sc->gen = 1;
    }
}

/* ---- trace ----------------------------------------------------------------
 */

static struct sn_trace_entry *
trace_push(struct sn_rules_scratch *sc, enum sn_trace_kind kind, unsigned depth)
{
    struct sn_trace_entry *t;

    if (sc->n_trace >= SN_RULES_TRACE_MAX) {
        sc->truncated = true;
        return NULL;
    }
    t = &sc->trace[sc->n_trace++];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->depth = depth;
    return t;
}

/* ---- values ------------------------------------------------------------- */

static bool
event_field(struct sn_rules_scratch *sc, uint32_t id, const struct sn_value **v)
{
    struct fcache *c = &sc->cache[id];

    if (c->gen != sc->gen) {
        c->gen = sc->gen;
        c->present = sc->ev->get(sc->ev->ctx, (int)id, sc->rs->fields.names[id],
                                 sc->rs->fields.lens[id], &c->v) &&
                     c->v.type != SN_VAL_NULL;
    }
    *v = &c->v;
    return c->present;
}


static bool
value_ip(const struct sn_value *v, struct sn_ip *ip)
{
    if (v->type == SN_VAL_IP) {
        ip->family = v->u.ip.family;
        memcpy(ip->addr, v->u.ip.addr, 16);
        sn_ip_normalise(ip);
        return ip->family == 4 || ip->family == 6;
    }
    if (v->type == SN_VAL_STR)
        return sn_ip_parse(v->u.s.ptr, v->u.s.len, ip);
    return false;
}

static bool
value_num(const struct sn_value *v, bool *is_int, int64_t *i, double *d)
{
    switch (v->type) {
    case SN_VAL_INT:
        *is_int = true;
        *i = v->u.i;
        *d = (double)v->u.i;
        return true;
    case SN_VAL_DOUBLE:
        *is_int = false;
        *d = v->u.d;
        return true;
    case SN_VAL_STR:
        return sn_parse_number(v->u.s.ptr, v->u.s.len, is_int, i, d);
    default:
        return false;
    }
}

/* ---- extraction ------------------------------------------------------------
 */

static const char *
convert(const struct sn_xfield *xf, const char *s, size_t len,
        struct sn_value *out)
{
    bool is_int;
    int64_t i;
    double d;
    struct sn_ip ip;

    switch (xf->type) {
    case SN_XT_STRING:
        out->type = SN_VAL_STR;
        out->u.s.ptr = s;
        out->u.s.len = len;
        return NULL;
    case SN_XT_INT:
        if (!sn_parse_number(s, len, &is_int, &i, &d) || !is_int)
            return "capture is not an integer";
        out->type = SN_VAL_INT;
        out->u.i = i;
        return NULL;
    case SN_XT_IP:
        if (!sn_ip_parse(s, len, &ip))
            return "capture is not an IP address";
        out->type = SN_VAL_IP;
        out->u.ip.family = ip.family;
        memcpy(out->u.ip.addr, ip.addr, 16);
        return NULL;
    }
    return "bad type";
}

/* pcre2_match of x over v. A subject without the pattern's anchored
 * prefix cannot match: most entries of a rule's extract list are other
 * messages' ("^Invalid user " on a "Failed password" line), and the call
 * cost more than the answer. JIT-compiled patterns go to pcre2_jit_match,
 * the same matcher without pcre2_match's argument checks (ours are valid:
 * a string, offset 0, no options). */
static int
extract_run(struct sn_rules_scratch *sc, const struct sn_extract *x,
            const struct sn_value *v)
{
    /* The first byte alone settles most: memcmp's call costs more. */
    if (x->prefix_len > 0 &&
        (v->u.s.len < x->prefix_len || v->u.s.ptr[0] != x->prefix[0] ||
         memcmp(v->u.s.ptr, x->prefix, x->prefix_len) != 0))
        return PCRE2_ERROR_NOMATCH;
    if (x->jit && v->u.s.ptr != NULL)
        return pcre2_jit_match(x->re, (PCRE2_SPTR)v->u.s.ptr, v->u.s.len, 0,
                               0, sc->md, sc->mctx);
    return pcre2_match(x->re, (PCRE2_SPTR)v->u.s.ptr, v->u.s.len, 0, 0,
                       sc->md, sc->mctx);
}

/* pcre2_match of x over v, or the result of its class on this event
 * (the same pattern over the same field value gives the same answer).
 * *ov: the offsets, valid until the next extract of the class. */
static int
extract_match(struct sn_rules_scratch *sc, const struct sn_extract *x,
              const struct sn_value *v, const PCRE2_SIZE **ov)
{
    struct xcache *c;
    int rc;

    if (x->re_class >= sc->rs->n_re_classes) { /* not numbered: no cache */
        rc = extract_run(sc, x, v);
        *ov = pcre2_get_ovector_pointer(sc->md);
        return rc;
    }
    c = &sc->xcache[x->re_class];
    if (c->gen == sc->gen) {
        *ov = c->ov;
        return c->rc;
    }
    c->rc = extract_run(sc, x, v);
    c->gen = sc->gen;
    if (c->rc >= 0)
        memcpy(c->ov, pcre2_get_ovector_pointer(sc->md),
               2 * c->pairs * sizeof(*c->ov));
    *ov = c->ov;
    return c->rc;
}

/* convert() of group g of x's match, once per class, group and type on
 * this event (the subject and the offsets are the class's). */
static const char *
convert_group(struct sn_rules_scratch *sc, const struct sn_extract *x,
              uint32_t g, const struct sn_xfield *xf, const char *s,
              size_t len, struct sn_value *out)
{
    struct xconv *cv;

    if (xf->type == SN_XT_STRING || x->re_class >= sc->rs->n_re_classes ||
        g >= sc->xcache[x->re_class].pairs)
        return convert(xf, s, len, out);
    cv = &sc->xcache[x->re_class].conv[2 * g + (xf->type == SN_XT_IP)];
    if (cv->gen != sc->gen) {
        cv->gen = sc->gen;
        cv->err = convert(xf, s, len, &cv->v);
    }
    if (cv->err == NULL)
        *out = cv->v;
    return cv->err;
}

static void
run_extract(struct sn_rules_scratch *sc, unsigned depth)
{
    const struct sn_rule *r = sc->rule;

    sc->x_done = true;
    for (size_t k = 0; k < r->n_extract; k++) {
        const struct sn_extract *x = &r->extract[k];
        const struct sn_value *v;
        struct sn_trace_entry *t = NULL;
        const PCRE2_SIZE *ov;
        int rc;

        if (sc->trace != NULL &&
            (t = trace_push(sc, SN_TRACE_EXTRACT, depth)) != NULL)
            t->extract = x;
        if (!event_field(sc, x->from, &v) || v->type != SN_VAL_STR) {
            if (t != NULL)
                t->note = "source field absent or not a string";
            continue;
        }
        rc = extract_match(sc, x, v, &ov);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) {
                sc->stats.regex_errors++;
                if (t != NULL)
                    t->note = "regex error (match limit exceeded?)";
            }
            continue;
        }
        if (t != NULL)
            t->result = true;
        for (size_t c = 0; c < x->n_caps; c++) {
            uint32_t g = x->caps[c].group, slot = x->caps[c].slot;
            const char *err;

            /* First entry that produces a field wins (alternatives). */
            if ((sc->x_set >> slot) & 1u || ov[2 * g] == PCRE2_UNSET)
                continue;
            err = convert_group(sc, x, g, &r->xfields[slot],
                                v->u.s.ptr + ov[2 * g],
                                ov[2 * g + 1] - ov[2 * g], &sc->xval[slot]);
            if (err != NULL) {
                sc->stats.type_errors++;
                if (t != NULL)
                    t->note = err;
                continue;
            }
            sc->x_set |= (uint64_t)1 << slot;
        }
    }
}

/* The value a predicate sees: the rule's extraction first, then the
 * event's own field of that name. */
static bool
fetch(struct sn_rules_scratch *sc, const struct sn_cnode *n, unsigned depth,
      const struct sn_value **v, bool *from_x)
{
    *from_x = false;
    if (n->xslot >= 0) {
        if (!sc->x_done)
            run_extract(sc, depth);
        if ((sc->x_set >> n->xslot) & 1u) {
            *v = &sc->xval[n->xslot];
            *from_x = true;
            return true;
        }
    }
    return event_field(sc, n->field, v);
}

/* ---- operators --------------------------------------------------------------
 */

static int
cmp_bytes(const char *a, size_t al, const char *b, size_t bl, bool ci)
{
    size_t n = al < bl ? al : bl;

    if (!ci) {
        int r;
        /* Literals and set members mostly differ in their first byte:
         * that decides the sign memcmp would give, without the call. */
        if (n > 0 && a[0] != b[0])
            return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
        r = memcmp(a, b, n);
        if (r != 0)
            return r;
    } else {
        /* b is already folded (literals and ci sets are stored so). */
        for (size_t i = 0; i < n; i++) {
            int d = (int)sn_fold[(unsigned char)a[i]] - (unsigned char)b[i];
            if (d != 0)
                return d;
        }
    }
    return (al > bl) - (al < bl);
}

static bool
eq_fold(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sn_fold[(unsigned char)a[i]] != (unsigned char)b[i])
            return false;
    return true;
}

static bool
find(const char *h, size_t hl, const char *nd, size_t nl, bool ci)
{
    if (nl == 0)
        return true;
    if (nl > hl)
        return false;
    if (!ci) {
        const char *p = h, *last = h + hl - nl;
        while (p <= last) {
            p = memchr(p, nd[0], (size_t)(last - p) + 1);
            if (p == NULL)
                return false;
            if (memcmp(p + 1, nd + 1, nl - 1) == 0)
                return true;
            p++;
        }
        return false;
    }
    for (size_t i = 0; i + nl <= hl; i++)
        if (sn_fold[(unsigned char)h[i]] == (unsigned char)nd[0] &&
            eq_fold(h + i + 1, nd + 1, nl - 1))
            return true;
    return false;
}

static int
ip_order(const struct sn_ip *a, const struct sn_ip *b)
{
    if (a->family != b->family)
        return a->family - b->family;
    return memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
}

/* Three-way comparison of a value with a literal; false: incomparable. */
static bool
compare(const struct sn_value *v, const struct sn_clit *l, int *r)
{
    bool is_int;
    int64_t i;
    double d;
    struct sn_ip ip;

    if (v->type == SN_VAL_STR && l->kind == SN_CL_STR) {
        *r = cmp_bytes(v->u.s.ptr, v->u.s.len, l->s.ptr, l->s.len, l->ci);
        return true;
    }
    if (v->type == SN_VAL_BOOL || l->kind == SN_CL_BOOL) {
        struct sn_str t;
        char buf[64];

        if (v->type == SN_VAL_BOOL && l->kind == SN_CL_BOOL) {
            *r = v->u.b != l->b;
            return true;
        }
        if (l->kind == SN_CL_STR) { /* enabled == "true" */
            sn_value_text(v, buf, sizeof(buf), &t);
            *r = cmp_bytes(t.ptr, t.len, l->s.ptr, l->s.len, l->ci);
            return true;
        }
        /* "true" the string equals true the boolean, nothing else. */
        if (l->kind == SN_CL_BOOL && sn_value_text(v, buf, sizeof(buf), &t)) {
            *r = !(t.len == (l->b ? 4u : 5u) &&
                   memcmp(t.ptr, l->b ? "true" : "false", t.len) == 0);
            return true;
        }
        return false;
    }
    if (l->has_ip && (v->type == SN_VAL_IP || l->kind == SN_CL_IP)) {
        if (!value_ip(v, &ip) || ip.family != l->ip.family)
            return false;
        *r = ip_order(&ip, &l->ip);
        return true;
    }
    if (l->has_num && value_num(v, &is_int, &i, &d)) {
        if (is_int && l->is_int)
            *r = (i > l->i) - (i < l->i);
        else
            *r = (d > l->d) - (d < l->d);
        return true;
    }
    if (l->kind == SN_CL_STR && v->type != SN_VAL_STR) {
        /* 1234 the pid against "1234" the literal: compare as text. */
        struct sn_str t;
        char buf[64];
        if (!sn_value_text(v, buf, sizeof(buf), &t))
            return false;
        *r = cmp_bytes(t.ptr, t.len, l->s.ptr, l->s.len, l->ci);
        return true;
    }
    return false;
}

static bool
in_set(const struct sn_value *v, const struct sn_cset *s)
{
    bool is_int;
    int64_t i;
    double d;
    struct sn_ip ip;

    if (v->type == SN_VAL_BOOL)
        return v->u.b ? s->has_true : s->has_false;
    if (v->type == SN_VAL_STR) {
        size_t lo = 0, hi = s->n_strs;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = cmp_bytes(v->u.s.ptr, v->u.s.len, s->strs[mid].ptr,
                              s->strs[mid].len, s->ci);
            if (c == 0)
                return true;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    if (s->n_nums != 0 && value_num(v, &is_int, &i, &d)) {
        size_t lo = 0, hi = s->n_nums;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->nums[mid] == d)
                return true;
            if (d < s->nums[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    if (s->n_ips != 0 && value_ip(v, &ip)) {
        size_t lo = 0, hi = s->n_ips;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = ip_order(&ip, &s->ips[mid]);
            if (c == 0)
                return true;
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return false;
}

static bool
eval_cmp(struct sn_rules_scratch *sc, const struct sn_cnode *n,
         const struct sn_value *v, const char **note)
{
    char buf[64];
    struct sn_str t;
    int r;

    switch (n->op) {
    case SN_CMP_EQ:
        return compare(v, &n->lit, &r) && r == 0;
    case SN_CMP_NE:
        return !(compare(v, &n->lit, &r) && r == 0);
    case SN_CMP_LT:
        return compare(v, &n->lit, &r) && r < 0;
    case SN_CMP_LE:
        return compare(v, &n->lit, &r) && r <= 0;
    case SN_CMP_GT:
        return compare(v, &n->lit, &r) && r > 0;
    case SN_CMP_GE:
        return compare(v, &n->lit, &r) && r >= 0;
    case SN_CMP_IN:
        return in_set(v, n->set);
    case SN_CMP_CONTAINS:
    case SN_CMP_STARTSWITH:
    case SN_CMP_ENDSWITH:
        if (!sn_value_text(v, buf, sizeof(buf), &t))
            return false;
        if (n->op == SN_CMP_CONTAINS)
            return find(t.ptr, t.len, n->lit.s.ptr, n->lit.s.len, n->lit.ci);
        if (t.len < n->lit.s.len)
            return false;
        if (n->op == SN_CMP_ENDSWITH)
            t.ptr += t.len - n->lit.s.len;
        return n->lit.ci ? eq_fold(t.ptr, n->lit.s.ptr, n->lit.s.len)
                         : n->lit.s.len == 0 ||
                               (t.ptr[0] == n->lit.s.ptr[0] &&
                                memcmp(t.ptr, n->lit.s.ptr, n->lit.s.len) ==
                                    0);
    case SN_CMP_MATCH:
    case SN_CMP_NMATCH: {
        int rc;
        if (!sn_value_text(v, buf, sizeof(buf), &t))
            return false;
        rc = pcre2_match(n->re, (PCRE2_SPTR)t.ptr, t.len, 0, 0, sc->md,
                         sc->mctx);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
            /* A regex that gave up proves nothing either way. */
            sc->stats.regex_errors++;
            *note = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT
                        ? "regex match limit exceeded"
                        : "regex error";
            return false;
        }
        return (rc >= 0) == (n->op == SN_CMP_MATCH);
    }
    case SN_CMP_CIDR: {
        struct sn_ip ip;
        if (!value_ip(v, &ip)) {
            *note = "not an IP address";
            return false;
        }
        for (size_t i = 0; i < n->n_cidrs; i++)
            if (sn_cidr_contains(&n->cidrs[i], &ip))
                return true;
        return false;
    }
    }
    return false;
}

static bool
eval_node(struct sn_rules_scratch *sc, const struct sn_cnode *n, unsigned depth)
{
    struct sn_trace_entry *t = NULL;
    const struct sn_value *v;
    const char *note = NULL;
    bool res, from_x, present;

    switch (n->kind) {
    case SN_CN_AND:
    case SN_CN_OR: {
        bool is_and = n->kind == SN_CN_AND;
        size_t i;

        if (sc->trace != NULL && (t = trace_push(sc, SN_TRACE_GROUP, depth)))
            t->node = n;
        res = is_and;
        for (i = 0; i < n->n_kids; i++) {
            if (eval_node(sc, n->kids[i], depth + 1) != is_and) {
                res = !is_and;
                break;
            }
        }
        if (sc->trace != NULL && i + 1 < n->n_kids) {
            struct sn_trace_entry *s = trace_push(sc, SN_TRACE_SKIP, depth + 1);
            if (s != NULL) {
                s->node = n->kids[i + 1];
                s->n_skipped = n->n_kids - i - 1;
            }
        }
        if (t != NULL)
            t->result = res;
        return res;
    }
    case SN_CN_NOT:
        if (sc->trace != NULL && (t = trace_push(sc, SN_TRACE_GROUP, depth)))
            t->node = n;
        res = !eval_node(sc, n->kids[0], depth + 1);
        if (t != NULL)
            t->result = res;
        return res;
    case SN_CN_CONST:
        if (sc->trace != NULL && (t = trace_push(sc, SN_TRACE_CONST, depth))) {
            t->node = n;
            t->result = n->value;
        }
        return n->value;
    case SN_CN_EXISTS:
    case SN_CN_CMP:
        break;
    }
    present = fetch(sc, n, depth, &v, &from_x);
    if (n->kind == SN_CN_EXISTS)
        res = present;
    else
        res = present && eval_cmp(sc, n, v, &note);
    if (sc->trace != NULL && (t = trace_push(sc, SN_TRACE_PRED, depth))) {
        t->node = n;
        t->result = res;
        t->present = present;
        t->from_extract = from_x;
        if (present)
            t->actual = *v;
        t->note = note;
    }
    return res;
}

/* ---- entry points -----------------------------------------------------------
 */

static size_t
collect_fields(struct sn_rules_scratch *sc, struct sn_rule_field_value *out)
{
    const struct sn_rule *r = sc->rule;
    size_t n = 0;

    for (size_t s = 0; s < r->n_xfields; s++) {
        if (!((sc->x_set >> s) & 1u))
            continue;
        out[n].name = r->xfields[s].name;
        out[n].name_len = r->xfields[s].name_len;
        out[n].v = sc->xval[s];
        n++;
    }
    for (size_t s = 0; s < r->n_consts; s++) {
        out[n].name = r->consts[s].name;
        out[n].name_len = r->consts[s].name_len;
        out[n].v = r->consts[s].v;
        n++;
    }
    return n;
}

static bool
eval_rule(struct sn_rules_scratch *sc, const struct sn_rule *r)
{
    bool ok;

    sc->rule = r;
    sc->x_done = r->n_extract == 0;
    sc->x_set = 0;
    ok = eval_node(sc, r->match, 1);
    if (ok && !sc->x_done)
        run_extract(sc, 1);
    return ok;
}

uint64_t *
sn_rules_scratch_rule_ns(struct sn_rules_scratch *sc)
{
    return sc->rule_ns;
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t
sn_rules_eval(const struct sn_ruleset *rs, struct sn_rules_scratch *sc,
              const struct sn_rule_event *ev, unsigned flags,
              const struct sn_rule_match **matches)
{
    size_t n_matches = 0, words;
    bool use_pf = rs->pf != NULL && !(flags & SN_RULES_NO_PREFILTER);
    bool timed = (flags & SN_RULES_TIME_RULES) != 0;
    int64_t t_prev = 0;

    new_event(sc, ev);
    sc->trace = NULL;
    sc->n_fields = 0;
    sc->stats.events++;
    words = use_pf ? sn_prefilter_words(rs->pf) : 0;
    if (use_pf) {
        const struct sn_value *msg;

        if (!event_field(sc, SN_RF_MSG, &msg))
            sn_prefilter_scan(rs->pf, "", 0, sc->cand);
        else if (msg->type == SN_VAL_STR)
            sn_prefilter_scan(rs->pf, msg->u.s.ptr, msg->u.s.len, sc->cand);
        else
            use_pf = false;
    }
    if (timed)
        t_prev = mono_ns();
    for (size_t w = 0; w < (use_pf ? words : (rs->n_rules + 63) / 64); w++) {
        uint64_t bits = use_pf ? sc->cand[w] : ~(uint64_t)0;

        if (use_pf)
            sc->stats.rules_skipped +=
                (uint64_t)(w + 1 == words && rs->n_rules % 64
                               ? (int)(rs->n_rules % 64)
                               : 64) -
                (uint64_t)__builtin_popcountll(bits);
        while (bits != 0) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            const struct sn_rule *r = &rs->rules[i];

            bits &= bits - 1;
            if (i >= rs->n_rules)
                break;
            if (!r->enabled)
                continue;
            sc->stats.rules_evaluated++;
            if (timed) {
                /* One clock read per rule: each ends the previous
                 * rule's time and starts this one's. */
                bool hit = eval_rule(sc, r);
                int64_t t1 = mono_ns();
                sc->rule_ns[i] += (uint64_t)(t1 - t_prev);
                t_prev = t1;
                if (!hit)
                    continue;
            } else if (!eval_rule(sc, r)) {
                continue;
            }
            sc->matches[n_matches].rule = r;
            sc->matches[n_matches].fields = sc->fields + sc->n_fields;
            sc->matches[n_matches].n_fields =
                collect_fields(sc, sc->fields + sc->n_fields);
            sc->n_fields += sc->matches[n_matches].n_fields;
            n_matches++;
        }
    }
    sc->stats.matches += n_matches;
    *matches = sc->matches;
    return n_matches;
}

void
sn_rules_explain(const struct sn_ruleset *rs, struct sn_rules_scratch *sc,
                 const struct sn_rule_event *ev, const struct sn_rule *r,
                 struct sn_rule_explain *out)
{
    const struct sn_value *msg;

    memset(out, 0, sizeof(*out));
    new_event(sc, ev);
    out->rule = r;
    out->prefiltered = rs->pf != NULL && sn_prefilter_filters(rs->pf, r->index);
    out->prefilter_hit = true;
    if (out->prefiltered) {
        if (!event_field(sc, SN_RF_MSG, &msg)) {
            out->prefilter_hit = false;
        } else if (msg->type == SN_VAL_STR) {
            sn_prefilter_scan(rs->pf, msg->u.s.ptr, msg->u.s.len, sc->cand);
            out->prefilter_hit =
                (sc->cand[r->index / 64] >> (r->index % 64)) & 1u;
        }
    }
    sc->trace = sc->trace_buf;
    sc->n_trace = 0;
    sc->truncated = false;
    out->matched = eval_rule(sc, r);
    out->trace = sc->trace_buf;
    out->n_trace = sc->n_trace;
    out->truncated = sc->truncated;
    out->fields = sc->xfields;
    out->n_fields = collect_fields(sc, sc->xfields);
    sc->trace = NULL;
}

/* ---- rendering
 * ---------------------------------------------------------------- */

static void
put_value(struct sn_buf *b, const struct sn_value *v)
{
    char buf[64];
    struct sn_str t;

    if (!sn_value_text(v, buf, sizeof(buf), &t)) {
        SN_BUF_LIT(b, "(unprintable)");
        return;
    }
    if (v->type != SN_VAL_STR) {
        sn_buf_append(b, t.ptr, t.len);
        return;
    }
    sn_buf_putc(b, '"');
    for (size_t i = 0; i < t.len && i < 80; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        if (c == '"' || c == '\\')
            sn_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            sn_buf_printf(b, "\\x%02x", c);
        else
            sn_buf_putc(b, (char)c);
    }
    if (t.len > 80)
        SN_BUF_LIT(b, "...");
    sn_buf_putc(b, '"');
}

enum sn_status
sn_rules_explain_format(const struct sn_rule_explain *x, struct sn_buf *out)
{
    sn_buf_printf(out, "rule %s: %s\n", x->rule->id,
                  x->matched ? "MATCH" : "no match");
    if (x->prefiltered)
        sn_buf_printf(out, "  prefilter: %s\n",
                      x->prefilter_hit
                          ? "a required literal is in msg"
                          : "no required literal in msg (skipped when "
                            "evaluating all rules)");
    for (size_t i = 0; i < x->n_trace; i++) {
        const struct sn_trace_entry *t = &x->trace[i];

        for (unsigned d = 0; d < t->depth; d++)
            SN_BUF_LIT(out, "  ");
        switch (t->kind) {
        case SN_TRACE_GROUP:
            sn_buf_printf(out, "%s %s\n", t->result ? "PASS" : "FAIL",
                          t->node->kind == SN_CN_AND  ? "and"
                          : t->node->kind == SN_CN_OR ? "or"
                                                      : "not");
            break;
        case SN_TRACE_CONST:
            sn_buf_printf(out, "%s %s\n", t->result ? "PASS" : "FAIL",
                          t->node->text);
            break;
        case SN_TRACE_SKIP:
            sn_buf_printf(out, "SKIP %zu more (short-circuit), from: %s\n",
                          t->n_skipped, t->node->text);
            break;
        case SN_TRACE_EXTRACT:
            sn_buf_printf(out, "EXTRACT from %s: %s%s%s\n",
                          t->extract->from_name,
                          t->result ? "matched" : "no match",
                          t->note ? "; " : "", t->note ? t->note : "");
            break;
        case SN_TRACE_PRED:
            sn_buf_printf(out, "%s %s  [%s: ", t->result ? "PASS" : "FAIL",
                          t->node->text, t->node->field_name);
            if (t->present)
                put_value(out, &t->actual);
            else
                SN_BUF_LIT(out, "absent");
            if (t->from_extract)
                SN_BUF_LIT(out, " (extracted)");
            if (t->note != NULL)
                sn_buf_printf(out, "; %s", t->note);
            SN_BUF_LIT(out, "]\n");
            break;
        }
    }
    if (x->truncated)
        SN_BUF_LIT(out, "  (trace truncated)\n");
    for (size_t i = 0; i < x->n_fields; i++) {
        sn_buf_printf(out, "  field %.*s = ", (int)x->fields[i].name_len,
                      x->fields[i].name);
        put_value(out, &x->fields[i].v);
        sn_buf_putc(out, '\n');
    }
    return SN_OK;
}
