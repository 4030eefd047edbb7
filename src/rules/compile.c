/*
 * Syntax tree -> compiled tree; see compile.h. Name resolution, literal
 * typing and regex compilation happen once here so evaluation does no
 * parsing and no allocation. Errors are reported through the context's
 * callbacks with expression offsets; load.c maps them to file:line:col.
 */
#include "rules/compile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "rules/expr_lex.h"
#include "rules/limits.h"

const char *const sn_rule_header_fields[SN_RF_COUNT_] = {
    "hostname", "appname",  "procid",   "msgid",
    "msg",      "severity", "facility", "pri",
};

#define F(c)   (unsigned char)((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
#define F4(c)  F(c), F(c + 1), F(c + 2), F(c + 3)
#define F16(c) F4(c), F4(c + 4), F4(c + 8), F4(c + 12)
const unsigned char sn_fold[256] = {
    F16(0),   F16(16),  F16(32),  F16(48),  F16(64),  F16(80),
    F16(96),  F16(112), F16(128), F16(144), F16(160), F16(176),
    F16(192), F16(208), F16(224), F16(240),
};
#undef F16
#undef F4
#undef F

/* ---- field table ------------------------------------------------------ */

enum sn_status
sn_field_table_init(struct sn_field_table *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < SN_RF_COUNT_; i++) {
        uint32_t id;
        if (sn_field_table_intern(t, sn_rule_header_fields[i], &id) != SN_OK)
            return SN_ENOMEM;
    }
    return SN_OK;
}

void
sn_field_table_fini(struct sn_field_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->lens);
    memset(t, 0, sizeof(*t));
}

int
sn_field_table_find(const struct sn_field_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->names[i], name) == 0)
            return (int)i;
    return -1;
}

enum sn_status
sn_field_table_intern(struct sn_field_table *t, const char *name, uint32_t *id)
{
    int found = sn_field_table_find(t, name);

    if (found >= 0) {
        *id = (uint32_t)found;
        return SN_OK;
    }
    if (t->n >= SN_RULES_MAX_FIELDS)
        return SN_ELIMIT;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **names = realloc(t->names, cap * sizeof(*names));
        size_t *lens;

        if (names == NULL)
            return SN_ENOMEM;
        t->names = names;
        lens = realloc(t->lens, cap * sizeof(*lens));
        if (lens == NULL)
            return SN_ENOMEM;
        t->lens = lens;
        t->cap = cap;
    }
    t->names[t->n] = strdup(name);
    if (t->names[t->n] == NULL)
        return SN_ENOMEM;
    t->lens[t->n] = strlen(name);
    *id = (uint32_t)t->n++;
    return SN_OK;
}

/* ---- regex list --------------------------------------------------------- */

enum sn_status
sn_regex_list_add(struct sn_regex_list *l, pcre2_code *re)
{
    uint32_t caps = 0;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pcre2_code **p = realloc(l->items, cap * sizeof(*p));
        if (p == NULL) {
            pcre2_code_free(re);
            return SN_ENOMEM;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = re;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &caps);
    if (caps > l->max_captures)
        l->max_captures = caps;
    return SN_OK;
}

void
sn_regex_list_fini(struct sn_regex_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        pcre2_code_free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- helpers ------------------------------------------------------------ */

static void report_off(struct sn_compile_ctx *c, enum sn_diag_level level,
                       size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report_off(struct sn_compile_ctx *c, enum sn_diag_level level, size_t off,
           const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level == SN_DIAG_ERROR)
        c->n_errors++;
    if (c->report.at_offset != NULL)
        c->report.at_offset(c->report.arg, level, off, msg);
}

static void report_node(struct sn_compile_ctx *c, enum sn_diag_level level,
                        const struct sn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
report_node(struct sn_compile_ctx *c, enum sn_diag_level level,
            const struct sn_node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level == SN_DIAG_ERROR)
        c->n_errors++;
    if (c->report.at_node != NULL)
        c->report.at_node(c->report.arg, level, n, msg);
}

bool
sn_parse_number(const char *s, size_t len, bool *is_int, int64_t *i, double *d)
{
    char buf[64];
    char *end;
    bool frac = false;

    if (len == 0 || len >= sizeof(buf))
        return false;
    if (len <= 18) {
        /* Plain digits (ports, pids: every extracted int) by hand; 18
         * digits cannot overflow, so strtoll would say the same. */
        int64_t v = 0;
        size_t k = 0;
        while (k < len && s[k] >= '0' && s[k] <= '9')
            v = v * 10 + (s[k++] - '0');
        if (k == len) {
            *i = v;
            *d = (double)v;
            *is_int = true;
            return true;
        }
    }
    for (size_t k = 0; k < len; k++) {
        char ch = s[k];
        if (ch == '.' || ch == 'e' || ch == 'E')
            frac = true;
        else if (!((ch >= '0' && ch <= '9') ||
                   ((ch == '-' || ch == '+') &&
                    (k == 0 || s[k - 1] == 'e' || s[k - 1] == 'E'))))
            return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (!frac) {
        *i = strtoll(buf, &end, 10);
        *d = (double)*i;
        *is_int = true;
    } else {
        *d = strtod(buf, &end);
        *is_int = false;
    }
    return errno == 0 && *end == '\0';
}

static struct sn_str
fold_dup(struct sn_compile_ctx *c, const char *s, size_t len, bool ci)
{
    struct sn_str r = { NULL, len };
    char *d = sn_arena_alloc(c->arena, len + 1);

    if (d != NULL) {
        for (size_t i = 0; i < len; i++)
            d[i] = ci ? (char)sn_fold[(unsigned char)s[i]] : s[i];
        d[len] = '\0';
    }
    r.ptr = d;
    return r;
}

/* A string literal (from an expression or a list item) as a clit. */
static bool
clit_from_str(struct sn_compile_ctx *c, const char *s, size_t len, bool ci,
              struct sn_clit *l)
{
    memset(l, 0, sizeof(*l));
    l->kind = SN_CL_STR;
    l->ci = ci;
    l->s = fold_dup(c, s, len, ci);
    if (l->s.ptr == NULL)
        return false;
    l->has_num = sn_parse_number(s, len, &l->is_int, &l->i, &l->d);
    l->has_ip = sn_ip_parse(s, len, &l->ip);
    return true;
}

/* Expression literal -> clit; false after reporting. */
static bool
clit_from_lit(struct sn_compile_ctx *c, const struct sn_expr_lit *x,
              enum sn_cmp_op op, struct sn_clit *l)
{
    memset(l, 0, sizeof(*l));
    switch (x->kind) {
    case SN_LIT_STR:
        if (!clit_from_str(c, x->s, x->len, x->ci, l)) {
            report_off(c, SN_DIAG_ERROR, x->off, "out of memory");
            return false;
        }
        return true;
    case SN_LIT_NUM:
        l->kind = SN_CL_NUM;
        l->has_num = true;
        l->is_int = x->is_int;
        l->i = x->i;
        l->d = x->d;
        return true;
    case SN_LIT_BOOL:
        l->kind = SN_CL_BOOL;
        l->b = x->b;
        return true;
    case SN_LIT_ADDR:
        if (memchr(x->s, '/', x->len) != NULL) {
            report_off(c, SN_DIAG_ERROR, x->off,
                       "a network prefix needs 'cidr': FIELD cidr %s", x->s);
            return false;
        }
        l->kind = SN_CL_IP;
        l->has_ip = sn_ip_parse(x->s, x->len, &l->ip);
        if (!l->has_ip) {
            report_off(c, SN_DIAG_ERROR, x->off, "invalid IPv4 address \"%s\"",
                       x->s);
            return false;
        }
        return true;
    case SN_LIT_REGEX:
        report_off(c, SN_DIAG_ERROR, x->off,
                   "a /regex/ needs '=~' or '!~', not '%s'",
                   sn_cmp_op_name(op));
        return false;
    case SN_LIT_LISTREF:
        break;
    }
    report_off(c, SN_DIAG_ERROR, x->off, "unexpected value");
    return false;
}

/* ---- sets --------------------------------------------------------------- */

static int
str_cmp(const void *a, const void *b)
{
    const struct sn_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->ptr, y->ptr, n);

    return r != 0 ? r : (x->len > y->len) - (x->len < y->len);
}

static int
num_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int
ip_cmp(const void *a, const void *b)
{
    const struct sn_ip *x = a, *y = b;

    if (x->family != y->family)
        return x->family - y->family;
    return memcmp(x->addr, y->addr, x->family == 4 ? 4 : 16);
}

/* Fill a set from clits; the arrays are sized for n items. */
static enum sn_status
set_build(struct sn_compile_ctx *c, const struct sn_clit *items, size_t n,
          bool ci, const struct sn_cset **out)
{
    struct sn_cset *s = sn_arena_alloc(c->arena, sizeof(*s));

    if (s == NULL)
        return SN_ENOMEM;
    memset(s, 0, sizeof(*s));
    s->ci = ci;
    s->strs = sn_arena_alloc(c->arena, n * sizeof(*s->strs));
    s->nums = sn_arena_alloc(c->arena, n * sizeof(*s->nums));
    s->ips = sn_arena_alloc(c->arena, n * sizeof(*s->ips));
    if (s->strs == NULL || s->nums == NULL || s->ips == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct sn_clit *l = &items[i];

        if (l->kind == SN_CL_STR)
            s->strs[s->n_strs++] = l->s;
        if (l->has_num)
            s->nums[s->n_nums++] = l->d;
        if (l->has_ip)
            s->ips[s->n_ips++] = l->ip;
        if (l->kind == SN_CL_BOOL) {
            s->has_true |= l->b;
            s->has_false |= !l->b;
        }
    }
    qsort(s->strs, s->n_strs, sizeof(*s->strs), str_cmp);
    qsort(s->nums, s->n_nums, sizeof(*s->nums), num_cmp);
    qsort(s->ips, s->n_ips, sizeof(*s->ips), ip_cmp);
    *out = s;
    return SN_OK;
}

enum sn_status
sn_compile_list_set(struct sn_compile_ctx *c, struct sn_rule_list *l, bool ci,
                    const struct sn_cset **out)
{
    struct sn_cset **cache = ci ? &l->set_ci : &l->set;
    struct sn_clit *items;
    size_t n = 0;
    enum sn_status rc;

    if (*cache != NULL) {
        *out = *cache;
        return SN_OK;
    }
    items = calloc(l->node->n ? l->node->n : 1, sizeof(*items));
    if (items == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < l->node->n; i++) {
        const struct sn_node *it = l->node->items[i];

        if (it->type != SN_NODE_SCALAR)
            continue; /* reported when the list was loaded */
        if (!clit_from_str(c, it->str, strlen(it->str), ci, &items[n])) {
            free(items);
            return SN_ENOMEM;
        }
        n++;
    }
    rc = set_build(c, items, n, ci, out);
    free(items);
    if (rc == SN_OK)
        *cache = (struct sn_cset *)*out;
    return rc;
}

/* ---- operators ---------------------------------------------------------- */

static struct sn_rule_list *
find_list(struct sn_compile_ctx *c, const struct sn_expr_lit *x)
{
    const char **names;
    const char *best;

    for (size_t i = 0; i < c->n_lists; i++) {
        if (strcmp(c->lists[i].name, x->s) == 0) {
            c->lists[i].used = true;
            return &c->lists[i];
        }
    }
    names = calloc(c->n_lists ? c->n_lists : 1, sizeof(*names));
    for (size_t i = 0; names != NULL && i < c->n_lists; i++)
        names[i] = c->lists[i].name;
    best = names ? sn_suggest(x->s, names, c->n_lists) : NULL;
    if (best != NULL)
        report_off(c, SN_DIAG_ERROR, x->off,
                   "unknown list \"@%s\"; did you mean \"@%s\"?", x->s, best);
    else
        report_off(c, SN_DIAG_ERROR, x->off,
                   "unknown list \"@%s\" (lists are defined in a \"lists:\" "
                   "document)",
                   x->s);
    free(names);
    return NULL;
}

static bool
compile_in(struct sn_compile_ctx *c, const struct sn_expr *e,
           struct sn_cnode *n)
{
    struct sn_clit *items;
    bool ok = true, ci;

    if (!e->is_list) {
        struct sn_rule_list *l = find_list(c, e->lits);
        if (l == NULL)
            return false;
        if (sn_compile_list_set(c, l, e->lits->ci, &n->set) != SN_OK) {
            report_off(c, SN_DIAG_ERROR, e->lits->off, "out of memory");
            return false;
        }
        return true;
    }
    ci = e->lits[0].ci;
    items = calloc(e->n_lits, sizeof(*items));
    if (items == NULL)
        return false;
    for (size_t i = 0; i < e->n_lits && ok; i++) {
        if (e->lits[i].ci != ci) {
            report_off(c, SN_DIAG_ERROR, e->lits[i].off,
                       "write i\"...\" on every item of the list or on none");
            ok = false;
            break;
        }
        ok = clit_from_lit(c, &e->lits[i], e->op, &items[i]);
    }
    if (ok && set_build(c, items, e->n_lits, ci, &n->set) != SN_OK) {
        report_off(c, SN_DIAG_ERROR, e->off, "out of memory");
        ok = false;
    }
    free(items);
    return ok;
}

static bool
cidr_one(struct sn_compile_ctx *c, const char *s, size_t len, size_t off,
         const struct sn_node *item, struct sn_cidr *out)
{
    bool host_bits;

    if (!sn_cidr_parse(s, len, out, &host_bits)) {
        if (item != NULL)
            report_node(c, SN_DIAG_ERROR, item,
                        "invalid network \"%s\" (want 10.0.0.0/8 or "
                        "2001:db8::/32)",
                        s);
        else
            report_off(c, SN_DIAG_ERROR, off,
                       "invalid network \"%.*s\" (want 10.0.0.0/8 or "
                       "2001:db8::/32)",
                       (int)len, s);
        return false;
    }
    if (host_bits) {
        char buf[64];
        sn_ip_format(&out->net, buf, sizeof(buf));
        if (item != NULL)
            report_node(c, SN_DIAG_WARNING, item,
                        "\"%s\" has host bits set; it means %s/%u", s, buf,
                        out->prefix);
        else
            report_off(c, SN_DIAG_WARNING, off,
                       "\"%.*s\" has host bits set; it means %s/%u", (int)len,
                       s, buf, out->prefix);
    }
    return true;
}

static bool
compile_cidr(struct sn_compile_ctx *c, const struct sn_expr *e,
             struct sn_cnode *n)
{
    struct sn_cidr *v;
    bool ok = true;

    if (e->n_lits == 1 && e->lits->kind == SN_LIT_LISTREF) {
        struct sn_rule_list *l = find_list(c, e->lits);

        if (l == NULL)
            return false;
        if (l->cidrs == NULL) {
            l->cidrs = sn_arena_alloc(c->arena, (l->node->n ? l->node->n : 1) *
                                                    sizeof(*l->cidrs));
            if (l->cidrs == NULL)
                return false;
            for (size_t i = 0; i < l->node->n; i++) {
                const struct sn_node *it = l->node->items[i];
                if (it->type == SN_NODE_SCALAR &&
                    cidr_one(c, it->str, strlen(it->str), 0, it,
                             &l->cidrs[l->n_cidrs]))
                    l->n_cidrs++;
            }
        }
        n->cidrs = l->cidrs;
        n->n_cidrs = l->n_cidrs;
        return true;
    }
    v = sn_arena_alloc(c->arena, e->n_lits * sizeof(*v));
    if (v == NULL)
        return false;
    for (size_t i = 0; i < e->n_lits; i++) {
        const struct sn_expr_lit *x = &e->lits[i];

        if (x->kind != SN_LIT_STR && x->kind != SN_LIT_ADDR) {
            report_off(c, SN_DIAG_ERROR, x->off,
                       "'cidr' takes networks: 10.0.0.0/8, \"2001:db8::/32\" "
                       "or @list");
            ok = false;
            continue;
        }
        ok &= cidr_one(c, x->s, x->len, x->off, NULL, &v[i]);
    }
    n->cidrs = v;
    n->n_cidrs = e->n_lits;
    return ok;
}

static bool
compile_regex(struct sn_compile_ctx *c, const char *src,
              const struct sn_expr_lit *x, struct sn_cnode *n)
{
    char err[256];
    size_t erroff = 0;
    bool jit;

    if (x->kind != SN_LIT_REGEX && x->kind != SN_LIT_STR) {
        report_off(c, SN_DIAG_ERROR, x->off,
                   "'=~' takes a regex: /.../, /.../i or \"...\"");
        return false;
    }
    if (sn_regex_compile(x->s, x->len, x->ci, &n->re, &jit, err, sizeof(err),
                         &erroff) != SN_OK) {
        /* PCRE2's offset is into the pattern; a "..." pattern was
         * unescaped first, so map it back through the escapes. */
        size_t off =
            x->kind == SN_LIT_REGEX
                ? x->body_off + erroff
                : x->body_off + sn_lex_body_offset(src + x->body_off,
                                                   x->body_len, erroff);
        report_off(c, SN_DIAG_ERROR, off, "invalid regex: %s", err);
        return false;
    }
    if (!jit)
        c->regexes->n_no_jit++;
    if (sn_regex_list_add(c->regexes, n->re) != SN_OK)
        return false;
    if (sn_regex_required(x->s, x->len, c->arena, &n->req, &n->n_req) != SN_OK)
        return false;
    return true;
}

const char *
sn_compile_member_json(struct sn_arena *a, const char *key, const char *s,
                       uint32_t *len)
{
    struct sn_buf b;
    char *d = NULL;

    sn_buf_init(&b, UINT32_MAX);
    if (sn_json_member_str(&b, key, s) == SN_OK &&
        (d = sn_arena_alloc(a, b.len)) != NULL) {
        memcpy(d, b.data, b.len);
        *len = (uint32_t)b.len;
    }
    sn_buf_fini(&b);
    return d;
}

static bool
resolve_field(struct sn_compile_ctx *c, const char *name, size_t off,
              struct sn_cnode *n)
{
    bool known = false;
    enum sn_status rc;

    n->xslot = -1;
    for (size_t i = 0; i < c->n_xnames; i++)
        if (strcmp(c->xnames[i], name) == 0)
            n->xslot = (int32_t)i;
    for (size_t i = 0; i < c->n_known && !known; i++)
        known = strcmp(c->known[i], name) == 0;
    if (!known) {
        const char *best = sn_suggest(name, c->known, c->n_known);
        if (best != NULL)
            report_off(c, SN_DIAG_WARNING, off,
                       "field \"%s\" is neither a header field nor extracted "
                       "by any rule; did you mean \"%s\"?",
                       name, best);
    }
    rc = sn_field_table_intern(c->fields, name, &n->field);
    if (rc != SN_OK) {
        report_off(c, SN_DIAG_ERROR, off, "more than %d distinct fields",
                   SN_RULES_MAX_FIELDS);
        return false;
    }
    n->field_name = c->fields->names[n->field];
    n->field_json = sn_compile_member_json(c->arena, "field", n->field_name,
                                           &n->field_json_len);
    return true;
}

static const char *
text_dup(struct sn_compile_ctx *c, const char *s, size_t len)
{
    char *d = sn_arena_alloc(c->arena, len + 1);

    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static bool
compile_cmp(struct sn_compile_ctx *c, const char *src, const struct sn_expr *e,
            struct sn_cnode *n)
{
    size_t vstart = e->op_off + strlen(sn_cmp_op_name(e->op));

    while (vstart < e->off + e->len &&
           (src[vstart] == ' ' || src[vstart] == '\n' || src[vstart] == '\t'))
        vstart++;
    n->lit_text = text_dup(c, src + vstart, e->off + e->len - vstart);
    n->op = e->op;
    switch (e->op) {
    case SN_CMP_IN:
        return compile_in(c, e, n);
    case SN_CMP_CIDR:
        return compile_cidr(c, e, n);
    case SN_CMP_MATCH:
    case SN_CMP_NMATCH:
        return compile_regex(c, src, e->lits, n);
    case SN_CMP_CONTAINS:
    case SN_CMP_STARTSWITH:
    case SN_CMP_ENDSWITH:
        if (e->lits->kind != SN_LIT_STR) {
            report_off(c, SN_DIAG_ERROR, e->lits->off,
                       "'%s' takes a string: \"...\" or i\"...\"",
                       sn_cmp_op_name(e->op));
            return false;
        }
        return clit_from_lit(c, e->lits, e->op, &n->lit);
    case SN_CMP_LT:
    case SN_CMP_LE:
    case SN_CMP_GT:
    case SN_CMP_GE:
        if (e->lits->kind == SN_LIT_BOOL) {
            report_off(c, SN_DIAG_ERROR, e->lits->off,
                       "'%s' does not order booleans", sn_cmp_op_name(e->op));
            return false;
        }
        return clit_from_lit(c, e->lits, e->op, &n->lit);
    case SN_CMP_EQ:
    case SN_CMP_NE:
        return clit_from_lit(c, e->lits, e->op, &n->lit);
    }
    return false;
}

static enum sn_status
compile_node(struct sn_compile_ctx *c, const char *src, const struct sn_expr *e,
             struct sn_cnode **out)
{
    struct sn_cnode *n = sn_arena_alloc(c->arena, sizeof(*n));
    enum sn_status rc = SN_OK;

    if (n == NULL)
        return SN_ENOMEM;
    memset(n, 0, sizeof(*n));
    n->xslot = -1;
    n->text = text_dup(c, src + e->off, e->len);
    if (n->text == NULL)
        return SN_ENOMEM;
    n->expr_json =
        sn_compile_member_json(c->arena, "expr", n->text, &n->expr_json_len);
    *out = n;
    switch (e->kind) {
    case SN_EX_AND:
    case SN_EX_OR:
    case SN_EX_NOT:
        n->kind = e->kind == SN_EX_AND  ? SN_CN_AND
                  : e->kind == SN_EX_OR ? SN_CN_OR
                                        : SN_CN_NOT;
        n->n_kids = e->n_kids;
        n->kids = sn_arena_alloc(c->arena, e->n_kids * sizeof(*n->kids));
        if (n->kids == NULL)
            return SN_ENOMEM;
        for (size_t i = 0; i < e->n_kids; i++) {
            enum sn_status r = compile_node(c, src, e->kids[i], &n->kids[i]);
            if (r == SN_ENOMEM || r == SN_ELIMIT)
                return r;
            if (r != SN_OK)
                rc = r;
        }
        return rc;
    case SN_EX_CONST:
        n->kind = SN_CN_CONST;
        n->value = e->value;
        return SN_OK;
    case SN_EX_EXISTS:
        n->kind = SN_CN_EXISTS;
        return resolve_field(c, e->field, e->field_off, n) ? SN_OK : SN_ECONFIG;
    case SN_EX_CMP:
        n->kind = SN_CN_CMP;
        if (!resolve_field(c, e->field, e->field_off, n))
            return SN_ECONFIG;
        return compile_cmp(c, src, e, n) ? SN_OK : SN_ECONFIG;
    }
    return SN_EINVAL;
}

enum sn_status
sn_compile_expr(struct sn_compile_ctx *c, const char *src,
                const struct sn_expr *e, struct sn_cnode **out)
{
    size_t errors = c->n_errors;
    enum sn_status rc = compile_node(c, src, e, out);

    if (rc == SN_OK && c->n_errors > errors)
        rc = SN_ECONFIG;
    return rc;
}
