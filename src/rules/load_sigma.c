/*
 * Sigma rules (docs/sigma.md): a YAML document with `detection` and
 * `logsource` becomes an ordinary sn_rule whose match expression is the
 * native translation of its detection, behind the logsource's condition
 * from the field mapping (`sigma:` documents, conf/sigma/linux.yaml).
 * The translation goes through compile.c and the prefilter like any
 * native rule's text, so a Sigma rule costs per event what the same rule
 * written natively costs. A rule whose logsource or fields have no
 * mapping is skipped with a warning ("skipped: ..."); a construct we do
 * not implement is an error naming it. Part of the loader (load_int.h).
 */
#include "rules/load_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "rules/limits.h"
#include "rules/regex.h"
#include "rules/sigma_cond.h"

static const char *const modifiers[] = {
    "contains", "startswith", "endswith", "all",     "re",           "i",
    "m",        "s",          "cidr",     "base64",  "base64offset", "windash",
    "exists",   "gt",         "gte",      "lt",      "lte",          "cased",
    "fieldref", "expand",     "utf16le",  "utf16be", "utf16",        "wide",
};
#define N_MODIFIERS (sizeof(modifiers) / sizeof(modifiers[0]))
static const char *const levels[] = { "informational", "low", "medium", "high",
                                      "critical" };

struct mods {
    enum { P_EQ, P_CONTAINS, P_STARTS, P_ENDS } pos;
    bool all, re, re_i, re_m, re_s, cidr, b64, b64off, windash, exists, cased;
    const char *num; /* ">" ... or NULL */
};

/* One Sigma rule being translated. */
struct sx {
    struct builder *b;
    const struct sn_node *doc, *detection;
    const char *const *names; /* selection names */
    const struct sn_node *const *sels;
    size_t n_sels;
    const struct sn_node *ls;     /* matched mapping logsource entry */
    const struct sn_node *lsnode; /* the rule's logsource */
    char ls_text[160];            /* "product=linux service=sshd" */
    bool failed;                  /* an error or skip was reported */
};

static const char *
node_str(const struct sn_node *map, const char *key)
{
    return sn_sigma_node_str(map, key);
}

/* The event field a Sigma field maps to in this rule's logsource. */
static const char *
map_field(struct sx *x, const char *name)
{
    return sn_sigma_map_field(x->b, x->ls, name);
}

/* ---- reporting ------------------------------------------------------------
 */

/* A construct we do not implement, or a malformed rule: an error. */
#define sx_error(x, n, ...)                                                    \
    do {                                                                       \
        if (!(x)->failed)                                                      \
            diag((x)->b, SN_DIAG_ERROR, (n), __VA_ARGS__);                     \
        (x)->failed = true;                                                    \
    } while (0)

/* No mapping: the rule is left out, with the reason `check` lists. */
#define sx_skip(x, n, ...)                                                     \
    do {                                                                       \
        if (!(x)->failed)                                                      \
            diag((x)->b, SN_DIAG_WARNING, (n), "skipped: " __VA_ARGS__);       \
        (x)->failed = true;                                                    \
    } while (0)

/* ---- values ---------------------------------------------------------------
 */

/* A native string literal: i"..." when case-insensitive. */
static enum sn_status
put_lit(struct sn_buf *o, bool ci, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    enum sn_status rc = ci ? sn_buf_puts(o, "i\"") : sn_buf_putc(o, '"');

    for (size_t i = 0; rc == SN_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            rc = sn_buf_append(o, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            rc = sn_buf_append(o, e, 4);
        } else {
            rc = sn_buf_putc(o, (char)c);
        }
    }
    return rc == SN_OK ? sn_buf_putc(o, '"') : rc;
}

static size_t
b64(const unsigned char *s, size_t len, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? t[v & 63] : '=';
    }
    return o;
}

struct variants {
    char s[SN_RULES_SIGMA_MAX_VARIANTS][SN_RULES_SIGMA_VARIANT_MAX];
    size_t len[SN_RULES_SIGMA_MAX_VARIANTS];
    size_t n;
};

/* windash: every '-' or '/' that starts an option word (after a blank
 * or at the start, before a word character) as each of - / en dash,
 * em dash, horizontal bar, like pySigma. */
static bool
windash(struct variants *v)
{
    static const char *const dash[] = { "-", "/", "\xe2\x80\x93",
                                        "\xe2\x80\x94", "\xe2\x80\x95" };
    struct variants in = *v;

    v->n = 0;
    for (size_t i = 0; i < in.n; i++) {
        for (size_t d = 0; d < 5; d++) {
            size_t o = 0;
            if (v->n == SN_RULES_SIGMA_MAX_VARIANTS)
                return false;
            for (size_t k = 0; k < in.len[i]; k++) {
                char c = in.s[i][k];
                bool start = k == 0 || in.s[i][k - 1] == ' ';
                bool opt = (c == '-' || c == '/') && start &&
                           k + 1 < in.len[i] && in.s[i][k + 1] != ' ';
                const char *w = opt ? dash[d] : &in.s[i][k];
                size_t wl = opt ? strlen(dash[d]) : 1;
                if (o + wl >= SN_RULES_SIGMA_VARIANT_MAX)
                    return false;
                memcpy(v->s[v->n] + o, w, wl);
                o += wl;
            }
            v->len[v->n++] = o;
            if (d == 0 && memchr(in.s[i], '-', in.len[i]) == NULL &&
                memchr(in.s[i], '/', in.len[i]) == NULL)
                break; /* nothing to vary */
        }
    }
    return true;
}

/* base64 / base64offset (pySigma's three shifted encodings, trimmed to
 * the characters that do not depend on the neighbours). */
static bool
encode_b64(struct variants *v, bool offsets)
{
    static const size_t start[3] = { 0, 2, 3 };
    static const size_t cut[3] = { 0, 3, 2 };
    struct variants in = *v;
    unsigned char tmp[SN_RULES_SIGMA_VARIANT_MAX];

    v->n = 0;
    for (size_t i = 0; i < in.n; i++) {
        for (size_t k = 0; k < (offsets ? 3u : 1u); k++) {
            size_t l = in.len[i] + k, e;
            if (v->n == SN_RULES_SIGMA_MAX_VARIANTS || (l + 2) / 3 * 4 >= SN_RULES_SIGMA_VARIANT_MAX)
                return false;
            memset(tmp, ' ', k);
            memcpy(tmp + k, in.s[i], in.len[i]);
            e = b64(tmp, l, v->s[v->n]);
            if (offsets) {
                size_t c = cut[(in.len[i] + k) % 3];
                if (e < start[k] + c)
                    e = start[k];
                else
                    e -= c;
                memmove(v->s[v->n], v->s[v->n] + start[k], e - start[k]);
                e -= start[k];
            }
            v->len[v->n++] = e;
        }
    }
    return true;
}

/* Glob element: a literal byte or a wildcard. */
#define W_STAR  256
#define W_QMARK 257

static size_t
parse_glob(const char *s, size_t len, bool literal, int *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!literal && c == '\\' && i + 1 < len &&
            (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            out[n++] = (unsigned char)s[++i];
        } else if (!literal && c == '*') {
            out[n++] = W_STAR;
        } else if (!literal && c == '?') {
            out[n++] = W_QMARK;
        } else {
            out[n++] = c;
        }
    }
    return n;
}

/* One string pattern against field t: ==, contains, startswith or
 * endswith when the wildcards allow, a regex otherwise. */
static enum sn_status
emit_glob(struct sn_buf *o, const char *t, const int *g, size_t n, bool ci)
{
    size_t a = 0, z = n;
    bool lead, trail, inner = false;
    char lit[SN_RULES_SIGMA_VARIANT_MAX];
    enum sn_status rc;

    while (a < z && g[a] == W_STAR)
        a++;
    while (z > a && g[z - 1] == W_STAR)
        z--;
    lead = a > 0;
    trail = z < n;
    for (size_t i = a; i < z; i++)
        inner |= g[i] >= 256;
    if (!inner) {
        size_t l = 0;
        const char *op = lead && trail ? "contains"
                         : lead        ? "endswith"
                         : trail       ? "startswith"
                                       : "==";
        if (a == z && (lead || trail))
            return sn_buf_printf(o, "exists %s", t); /* `*`: any value */
        for (size_t i = a; i < z; i++)
            lit[l++] = (char)g[i];
        if ((rc = sn_buf_printf(o, "%s %s ", t, op)) != SN_OK)
            return rc;
        return put_lit(o, ci, lit, l);
    }
    {
        struct sn_buf re;
        sn_buf_init(&re, 4 * SN_RULES_SIGMA_VARIANT_MAX);
        rc = lead ? SN_OK : sn_buf_putc(&re, '^');
        for (size_t i = a; rc == SN_OK && i < z; i++) {
            if (g[i] == W_STAR)
                rc = sn_buf_puts(&re, ".*");
            else if (g[i] == W_QMARK)
                rc = sn_buf_putc(&re, '.');
            else {
                if (strchr("\\^$.|?*+()[]{}", g[i]) != NULL && g[i] != 0)
                    rc = sn_buf_putc(&re, '\\');
                if (rc == SN_OK)
                    rc = sn_buf_putc(&re, (char)g[i]);
            }
        }
        if (rc == SN_OK && !trail)
            rc = sn_buf_putc(&re, '$');
        if (rc == SN_OK)
            rc = sn_buf_printf(o, "%s =~ ", t);
        if (rc == SN_OK)
            rc = put_lit(o, ci, re.data ? re.data : "", re.len);
        sn_buf_fini(&re);
        return rc;
    }
}

static bool
is_null(const struct sn_node *v)
{
    return v->type == SN_NODE_SCALAR && !v->quoted &&
           (v->str[0] == '\0' || strcmp(v->str, "null") == 0 ||
            strcmp(v->str, "~") == 0);
}

static bool
is_plain_int(const struct sn_node *v)
{
    bool is_int;
    int64_t i;
    double d;

    return v->type == SN_NODE_SCALAR && !v->quoted &&
           sn_parse_number(v->str, strlen(v->str), &is_int, &i, &d) && is_int;
}

/* One value of a field (t the event field; keyword: msg). */
static enum sn_status
emit_value(struct sx *x, struct sn_buf *o, const char *t, const struct mods *m,
           const struct sn_node *v, bool keyword)
{
    struct variants *vs;
    enum sn_status rc = SN_OK;
    bool is_int, ci = !m->cased;
    int64_t iv;
    double dv;

    if (v->type != SN_NODE_SCALAR) {
        sx_error(x, v,
                 "a Sigma value must be a string, number or null, "
                 "not %s",
                 sn_node_type_name(v->type));
        return SN_EINVAL;
    }
    if (is_null(v)) {
        if (keyword || m->pos != P_EQ || m->re || m->cidr || m->num || m->b64 ||
            m->b64off || m->windash) {
            sx_error(x, v,
                     "null is only a value of a field without "
                     "modifiers");
            return SN_EINVAL;
        }
        return sn_buf_printf(o, "(not exists %s or %s == \"\")", t, t);
    }
    if (m->re) {
        struct sn_buf re;
        pcre2_code *code;
        int err;
        PCRE2_SIZE eoff;
        sn_buf_init(&re, SN_RULES_EXPR_MAX_BYTES);
        rc = sn_buf_printf(
            &re, "%s%s%s", m->re_m || m->re_s ? "(?" : "",
            m->re_m ? (m->re_s ? "ms)" : "m)") : (m->re_s ? "s)" : ""), v->str);
        code = rc == SN_OK ? pcre2_compile((PCRE2_SPTR)re.data, re.len, 0, &err,
                                           &eoff, NULL)
                           : NULL;
        if (code == NULL) {
            PCRE2_UCHAR e[160];
            pcre2_get_error_message(err, e, sizeof(e));
            if (rc == SN_OK)
                sx_error(x, v, "bad regex: %s", (const char *)e);
            sn_buf_fini(&re);
            return SN_EINVAL;
        }
        pcre2_code_free(code);
        if ((rc = sn_buf_printf(o, "%s =~ ", t)) == SN_OK)
            rc = put_lit(o, m->re_i, re.data, re.len);
        sn_buf_fini(&re);
        return rc;
    }
    if (m->cidr) {
        if ((rc = sn_buf_printf(o, "%s cidr ", t)) != SN_OK)
            return rc;
        return put_lit(o, false, v->str, strlen(v->str));
    }
    if (m->num != NULL) {
        if (!sn_parse_number(v->str, strlen(v->str), &is_int, &iv, &dv)) {
            sx_error(x, v, "\"%s\" needs a number, not \"%s\"",
                     m->num[1] == '=' ? (m->num[0] == '>' ? "gte" : "lte")
                                      : (m->num[0] == '>' ? "gt" : "lt"),
                     v->str);
            return SN_EINVAL;
        }
        return sn_buf_printf(o, "%s %s %s", t, m->num, v->str);
    }
    if (!keyword && m->pos == P_EQ && !m->b64 && !m->b64off && !m->windash &&
        is_plain_int(v))
        return sn_buf_printf(o, "%s == %s", t, v->str);
    vs = malloc(sizeof(*vs));
    if (vs == NULL)
        return SN_ENOMEM;
    vs->n = 1;
    vs->len[0] = strlen(v->str);
    if (vs->len[0] >= SN_RULES_SIGMA_VARIANT_MAX) {
        free(vs);
        sx_error(x, v, "a Sigma value longer than %d bytes", SN_RULES_SIGMA_VARIANT_MAX - 1);
        return SN_EINVAL;
    }
    memcpy(vs->s[0], v->str, vs->len[0]);
    if ((m->windash && !windash(vs)) ||
        ((m->b64 || m->b64off) && !encode_b64(vs, m->b64off))) {
        free(vs);
        sx_error(x, v, "the value expands to too many or too long variants");
        return SN_EINVAL;
    }
    if (m->b64 || m->b64off)
        ci = false; /* encoded text is case-sensitive */
    if (vs->n > 1)
        rc = sn_buf_putc(o, '(');
    for (size_t i = 0; rc == SN_OK && i < vs->n; i++) {
        int g[SN_RULES_SIGMA_VARIANT_MAX + 2];
        size_t n = 0;
        if (i > 0)
            rc = sn_buf_puts(o, " or ");
        if (keyword || m->pos == P_CONTAINS || m->pos == P_ENDS)
            g[n++] = W_STAR;
        n += parse_glob(vs->s[i], vs->len[i], m->b64 || m->b64off, g + n);
        if (keyword || m->pos == P_CONTAINS || m->pos == P_STARTS)
            g[n++] = W_STAR;
        if (rc == SN_OK)
            rc = emit_glob(o, t, g, n, ci);
    }
    if (rc == SN_OK && vs->n > 1)
        rc = sn_buf_putc(o, ')');
    free(vs);
    return rc;
}

/* `Field|mod|mod` -> field name (NULL for a keyword) and modifiers. */
static bool
parse_key(struct sx *x, const struct sn_node *key, char *field, size_t cap,
          struct mods *m)
{
    const char *s = key->str, *bar = strchr(s, '|');
    size_t fl = bar ? (size_t)(bar - s) : strlen(s);

    memset(m, 0, sizeof(*m));
    if (fl >= cap) {
        sx_error(x, key, "field name too long");
        return false;
    }
    memcpy(field, s, fl);
    field[fl] = '\0';
    while (bar != NULL) {
        const char *mod = bar + 1, *end;
        size_t ml, k;
        char name[32];
        bar = strchr(mod, '|');
        end = bar ? bar : mod + strlen(mod);
        ml = (size_t)(end - mod);
        snprintf(name, sizeof(name), "%.*s", (int)ml, mod);
        for (k = 0; k < N_MODIFIERS; k++)
            if (strlen(modifiers[k]) == ml &&
                memcmp(modifiers[k], mod, ml) == 0)
                break;
        if (k == N_MODIFIERS) {
            const char *best = sn_suggest(name, modifiers, N_MODIFIERS);
            if (!x->failed)
                diag_in(x->b, SN_DIAG_ERROR, key, (size_t)(mod - s),
                        "unknown Sigma modifier \"%s\"%s%s%s", name,
                        best ? "; did you mean \"" : "", best ? best : "",
                        best ? "\"?" : "");
            x->failed = true;
            return false;
        }
        if (strcmp(name, "contains") == 0)
            m->pos = P_CONTAINS;
        else if (strcmp(name, "startswith") == 0)
            m->pos = P_STARTS;
        else if (strcmp(name, "endswith") == 0)
            m->pos = P_ENDS;
        else if (strcmp(name, "all") == 0)
            m->all = true;
        else if (strcmp(name, "re") == 0)
            m->re = true;
        else if (strcmp(name, "i") == 0 || strcmp(name, "m") == 0 ||
                 strcmp(name, "s") == 0) {
            if (!m->re) {
                if (!x->failed)
                    diag_in(x->b, SN_DIAG_ERROR, key, (size_t)(mod - s),
                            "Sigma modifier \"%s\" applies to \"re\" only",
                            name);
                x->failed = true;
                return false;
            }
            m->re_i |= name[0] == 'i';
            m->re_m |= name[0] == 'm';
            m->re_s |= name[0] == 's';
        } else if (strcmp(name, "cidr") == 0)
            m->cidr = true;
        else if (strcmp(name, "base64") == 0)
            m->b64 = true;
        else if (strcmp(name, "base64offset") == 0)
            m->b64off = true;
        else if (strcmp(name, "windash") == 0)
            m->windash = true;
        else if (strcmp(name, "exists") == 0)
            m->exists = true;
        else if (strcmp(name, "cased") == 0)
            m->cased = true;
        else if (strcmp(name, "gt") == 0)
            m->num = ">";
        else if (strcmp(name, "gte") == 0)
            m->num = ">=";
        else if (strcmp(name, "lt") == 0)
            m->num = "<";
        else if (strcmp(name, "lte") == 0)
            m->num = "<=";
        else {
            if (!x->failed)
                diag_in(x->b, SN_DIAG_ERROR, key, (size_t)(mod - s),
                        "Sigma modifier \"%s\" is not supported "
                        "(docs/sigma.md)",
                        name);
            x->failed = true;
            return false;
        }
    }
    if (m->re && (m->pos != P_EQ || m->cidr || m->b64 || m->b64off ||
                  m->windash || m->num || m->cased)) {
        sx_error(x, key,
                 "Sigma modifier \"re\" combines only with i, m, s "
                 "and all");
        return false;
    }
    return true;
}

/* One `Field|mods: value(s)` pair; field "" is a keyword. */
static enum sn_status
emit_pair(struct sx *x, struct sn_buf *o, const struct sn_node *key,
          const struct sn_node *val)
{
    char field[128];
    struct mods m;
    const char *t;
    bool keyword;
    enum sn_status rc = SN_OK;
    size_t n;

    if (!parse_key(x, key, field, sizeof(field), &m))
        return SN_EINVAL;
    keyword = field[0] == '\0';
    if (keyword) {
        t = "msg";
    } else if ((t = map_field(x, field)) == NULL) {
        sx_skip(x, key, "Sigma field \"%s\" has no mapping for logsource %s",
                field, x->ls_text);
        return SN_DECLINED;
    }
    if (m.exists) {
        if (val->type != SN_NODE_SCALAR || val->quoted ||
            (strcmp(val->str, "true") != 0 && strcmp(val->str, "false") != 0)) {
            sx_error(x, val, "\"exists\" takes true or false");
            return SN_EINVAL;
        }
        return sn_buf_printf(o, "%sexists %s", val->str[0] == 't' ? "" : "not ",
                             t);
    }
    if (val->type == SN_NODE_MAP) {
        sx_error(x, val,
                 "a Sigma field value must be a value or a list of "
                 "values, not a mapping");
        return SN_EINVAL;
    }
    n = val->type == SN_NODE_SEQ ? val->n : 1;
    if (n == 0) {
        sx_error(x, val, "an empty list of values matches nothing");
        return SN_EINVAL;
    }
    if (n > 1)
        rc = sn_buf_putc(o, '(');
    for (size_t i = 0; rc == SN_OK && i < n; i++) {
        if (i > 0)
            rc = sn_buf_puts(o, m.all ? " and " : " or ");
        if (rc == SN_OK)
            rc = emit_value(x, o, t, &m,
                            val->type == SN_NODE_SEQ ? val->items[i] : val,
                            keyword);
    }
    if (rc == SN_OK && n > 1)
        rc = sn_buf_putc(o, ')');
    return rc;
}

/* A map selection: every pair (and). */
static enum sn_status
emit_map(struct sx *x, struct sn_buf *o, const struct sn_node *sel)
{
    enum sn_status rc = SN_OK;

    if (sel->n == 0) {
        sx_error(x, sel, "an empty selection");
        return SN_EINVAL;
    }
    for (size_t i = 0; rc == SN_OK && i < sel->n; i++) {
        if (i > 0)
            rc = sn_buf_puts(o, " and ");
        if (rc == SN_OK && sel->n > 1)
            rc = sn_buf_putc(o, '(');
        if (rc == SN_OK)
            rc = emit_pair(x, o, sel->pairs[i].key, sel->pairs[i].value);
        if (rc == SN_OK && sel->n > 1)
            rc = sn_buf_putc(o, ')');
    }
    return rc;
}

/* Condition callback: selection i. Maps (and), lists of maps (or),
 * lists of strings and single strings (keywords: or, on msg). */
static enum sn_status
emit_sel(void *arg, size_t i, struct sn_buf *o)
{
    struct sx *x = arg;
    const struct sn_node *sel = x->sels[i];
    struct sn_node kw;
    struct mods m;
    enum sn_status rc = SN_OK;

    if (sel->type == SN_NODE_MAP)
        return emit_map(x, o, sel);
    memset(&kw, 0, sizeof(kw));
    kw.type = SN_NODE_SCALAR;
    kw.str = (char *)"";
    kw.file = sel->file;
    kw.line = sel->line;
    kw.col = sel->col;
    memset(&m, 0, sizeof(m));
    if (sel->type == SN_NODE_SCALAR)
        return emit_value(x, o, "msg", &m, sel, true);
    if (sel->n == 0) {
        sx_error(x, sel, "an empty selection");
        return SN_EINVAL;
    }
    if (sel->items[0]->type == SN_NODE_MAP) {
        for (size_t k = 0; rc == SN_OK && k < sel->n; k++) {
            if (sel->items[k]->type != SN_NODE_MAP) {
                sx_error(x, sel->items[k],
                         "a selection list mixes mappings "
                         "and values");
                return SN_EINVAL;
            }
            if (k > 0)
                rc = sn_buf_puts(o, " or ");
            if (rc == SN_OK)
                rc = sn_buf_putc(o, '(');
            if (rc == SN_OK)
                rc = emit_map(x, o, sel->items[k]);
            if (rc == SN_OK)
                rc = sn_buf_putc(o, ')');
        }
        return rc;
    }
    return emit_pair(x, o, &kw, sel);
}

/* ---- metadata -------------------------------------------------------------
 */

static enum sn_status
put_meta_list(struct sn_buf *o, const struct sn_node *n, const char *key)
{
    enum sn_status rc;

    if (n == NULL)
        return SN_OK;
    if ((rc = sn_buf_putc(o, ',')) != SN_OK ||
        (rc = sn_json_key(o, key)) != SN_OK)
        return rc;
    if (n->type == SN_NODE_SCALAR)
        return sn_json_str(o, n->str, strlen(n->str));
    rc = sn_buf_putc(o, '[');
    for (size_t i = 0; rc == SN_OK && i < n->n; i++) {
        if (i > 0)
            rc = sn_buf_putc(o, ',');
        if (rc == SN_OK && n->type == SN_NODE_SEQ &&
            n->items[i]->type == SN_NODE_SCALAR)
            rc = sn_json_str(o, n->items[i]->str, strlen(n->items[i]->str));
        else if (rc == SN_OK)
            rc = SN_BUF_LIT(o, "null");
    }
    return rc == SN_OK ? sn_buf_putc(o, ']') : rc;
}

/* {"status":..,"level":..,"logsource":{..},"falsepositives":[..],..}:
 * what the incident and the rules route show of the Sigma rule. */
static const char *
meta_json(struct sx *x)
{
    static const char *const scalars[] = { "status", "level", "author", "date",
                                           "modified" };
    static const char *const lists[] = { "falsepositives", "references" };
    static const char *const lsk[] = { "product", "service", "category" };
    struct sn_buf o;
    const char *out = NULL;
    enum sn_status rc;
    bool first = true;

    sn_buf_init(&o, 64 * 1024);
    rc = SN_BUF_LIT(&o, "{\"format\":\"sigma\",\"logsource\":{");
    for (size_t i = 0; rc == SN_OK && i < 3; i++) {
        const char *v = node_str(x->lsnode, lsk[i]);
        if (v == NULL)
            continue;
        if (!first)
            rc = sn_buf_putc(&o, ',');
        first = false;
        if (rc == SN_OK)
            rc = sn_json_key(&o, lsk[i]);
        if (rc == SN_OK)
            rc = sn_json_str(&o, v, strlen(v));
    }
    if (rc == SN_OK)
        rc = sn_buf_putc(&o, '}');
    for (size_t i = 0; rc == SN_OK && i < 5; i++) {
        const char *v = node_str(x->doc, scalars[i]);
        if (v != NULL) /* member_str writes the comma */
            rc = sn_json_member_str(&o, scalars[i], v);
    }
    for (size_t i = 0; rc == SN_OK && i < 2; i++)
        rc = put_meta_list(&o, sn_node_get(x->doc, lists[i]), lists[i]);
    if (rc == SN_OK)
        rc = sn_buf_putc(&o, '}');
    if (rc == SN_OK)
        out = sn_arena_memdup(&x->b->rs->arena, o.data, o.len + 1);
    if (out != NULL)
        ((char *)out)[o.len] = '\0';
    sn_buf_fini(&o);
    return out;
}

static bool
load_tags(struct sx *x, struct sn_rule *r, const struct sn_node *n)
{
    const char **tags;

    if (n == NULL)
        return true;
    if (n->type != SN_NODE_SEQ) {
        sx_error(x, n, "\"tags\" must be a list of strings");
        return false;
    }
    tags = sn_arena_alloc(&x->b->rs->arena, (n->n + 1) * sizeof(*tags));
    if (tags == NULL)
        return false;
    for (size_t i = 0; i < n->n; i++)
        if ((tags[i] = want_string(x->b, n->items[i], "tags")) == NULL)
            return false;
    r->tags = tags;
    r->n_tags = n->n;
    return true;
}

static bool
load_level(struct sx *x, struct sn_rule *r, const struct sn_node *n)
{
    r->severity = SN_SEV_MEDIUM; /* the spec's level is optional */
    if (n == NULL)
        return true;
    for (size_t s = 0; s < 5; s++)
        if (n->type == SN_NODE_SCALAR && strcmp(n->str, levels[s]) == 0) {
            r->severity = (enum sn_rule_severity)s;
            return true;
        }
    sx_error(x, n,
             "unknown Sigma level \"%s\" (informational, low, medium, high, "
             "critical)",
             n->type == SN_NODE_SCALAR ? n->str : "?");
    return false;
}

/* ---- the rule -------------------------------------------------------------
 */

static bool
detection(struct sx *x, struct sn_buf *o)
{
    const struct sn_node *det = x->detection, *cond = NULL;
    const char **names;
    const struct sn_node **sels;
    size_t n = 0;
    struct sn_expr_err err;
    enum sn_status rc;
    struct sn_buf c;

    if (det->type != SN_NODE_MAP) {
        sx_error(x, det, "\"detection\" must be a mapping");
        return false;
    }
    names = calloc(det->n + 1, sizeof(*names));
    sels = calloc(det->n + 1, sizeof(*sels));
    if (names == NULL || sels == NULL) {
        free(names);
        free(sels);
        return false;
    }
    for (size_t i = 0; i < det->n; i++) {
        if (strcmp(det->pairs[i].key->str, "condition") == 0) {
            cond = det->pairs[i].value;
        } else if (strcmp(det->pairs[i].key->str, "timeframe") == 0) {
            sx_error(x, det->pairs[i].key,
                     "\"timeframe\" belongs to deprecated aggregations; write "
                     "a Sigma correlation rule");
        } else {
            names[n] = det->pairs[i].key->str;
            sels[n++] = det->pairs[i].value;
        }
    }
    x->names = names;
    x->sels = sels;
    x->n_sels = n;
    if (cond == NULL && !x->failed)
        sx_error(x, det, "a Sigma detection needs a \"condition\"");
    sn_buf_init(&c, SN_RULES_EXPR_MAX_BYTES);
    /* A list of conditions means any of them (Sigma 1.0). */
    for (size_t i = 0; !x->failed && cond != NULL &&
                       i < (cond->type == SN_NODE_SEQ ? cond->n : 1);
         i++) {
        const struct sn_node *cn =
            cond->type == SN_NODE_SEQ ? cond->items[i] : cond;
        if (cn->type != SN_NODE_SCALAR) {
            sx_error(x, cn, "a Sigma condition must be a string");
            break;
        }
        if (i > 0)
            sn_buf_puts(o, " or ");
        sn_buf_reset(&c);
        rc = sn_sigma_cond_translate(cn->str, strlen(cn->str), names, n,
                                     emit_sel, x, &c, &err);
        if (rc == SN_EINVAL || rc == SN_ELIMIT) {
            if (!x->failed)
                diag_in(x->b, SN_DIAG_ERROR, cn, err.off, "%s", err.msg);
            x->failed = true;
        } else if (rc != SN_OK && !x->failed) {
            sx_error(x, cn,
                     "the translated condition is larger than %d "
                     "bytes",
                     SN_RULES_EXPR_MAX_BYTES);
        } else if (rc == SN_OK) {
            sn_buf_putc(o, '(');
            sn_buf_append(o, c.data, c.len);
            sn_buf_putc(o, ')');
        }
    }
    sn_buf_fini(&c);
    free(names);
    free(sels);
    return !x->failed;
}

/* The keys every Sigma rule has: id, title, description, tags, level. */
bool
sn_sigma_header(struct builder *b, const struct sn_node *n, struct sn_rule *r)
{
    struct sx x;
    const struct sn_node *v;

    memset(&x, 0, sizeof(x));
    x.b = b;
    r->file = n->file;
    r->line = n->line;
    r->col = n->col;
    r->enabled = true;
    b->rule_id = NULL;
    v = sn_node_get(n, "id");
    if (v == NULL || v->type != SN_NODE_SCALAR || !sn_load_valid_id(v->str)) {
        diag(b, SN_DIAG_ERROR, v ? v : n,
             "a Sigma rule needs an \"id\" (a UUID; letters, digits, '-', "
             "'_', '.')");
        return false;
    }
    r->id = adup(b->rs, v->str);
    r->id_len = strlen(v->str);
    b->rule_id = r->id;
    v = sn_node_get(n, "title");
    if (v == NULL || v->type != SN_NODE_SCALAR) {
        diag(b, SN_DIAG_ERROR, v ? v : n, "a Sigma rule needs a \"title\"");
        return false;
    }
    r->title = v->str;
    v = sn_node_get(n, "description");
    r->description = v && v->type == SN_NODE_SCALAR ? v->str : NULL;
    if (!load_tags(&x, r, sn_node_get(n, "tags")) ||
        !load_level(&x, r, sn_node_get(n, "level")))
        return false;
    return true;
}

bool
sn_load_sigma(struct builder *b, struct rule_node *rn, struct sn_rule *r)
{
    const struct sn_node *n = rn->node, *v;
    const struct src_file *rule_file = b->file;
    struct sx x;
    struct sn_buf o;
    const char *lsm;
    struct sn_node *mn;
    bool ok;

    memset(&x, 0, sizeof(x));
    x.b = b;
    x.doc = n;
    x.detection = sn_node_get(n, "detection");
    x.lsnode = sn_node_get(n, "logsource");
    if (!sn_sigma_header(b, n, r))
        return false;
    if (x.lsnode->type != SN_NODE_MAP) {
        sx_error(&x, x.lsnode, "\"logsource\" must be a mapping");
        return false;
    }
    snprintf(x.ls_text, sizeof(x.ls_text), "%s%s%s%s%s%s%s%s",
             node_str(x.lsnode, "product") ? "product=" : "",
             node_str(x.lsnode, "product") ? node_str(x.lsnode, "product") : "",
             node_str(x.lsnode, "service") ? " service=" : "",
             node_str(x.lsnode, "service") ? node_str(x.lsnode, "service") : "",
             node_str(x.lsnode, "category") ? " category=" : "",
             node_str(x.lsnode, "category") ? node_str(x.lsnode, "category")
                                            : "",
             "", "");
    x.ls = sn_sigma_find_logsource(b, x.lsnode);
    if (x.ls == NULL) {
        sx_skip(&x, x.lsnode, "Sigma logsource %s has no mapping%s",
                x.ls_text[0] == ' ' ? x.ls_text + 1 : x.ls_text,
                b->n_sigma_maps == 0 ? " (no Sigma mapping is loaded: add "
                                       "conf/sigma/linux.yaml to the rules)"
                                     : "");
        return false;
    }
    r->sigma = meta_json(&x);
    sn_buf_init(&o, SN_RULES_EXPR_MAX_BYTES);
    lsm = node_str(x.ls, "match");
    if (lsm != NULL)
        sn_buf_printf(&o, "(%s) and (", lsm);
    ok = detection(&x, &o);
    if (lsm != NULL)
        sn_buf_putc(&o, ')');
    if (ok && o.len >= SN_RULES_EXPR_MAX_BYTES - 1) {
        sx_error(&x, x.detection,
                 "the translated detection is larger than %d bytes",
                 SN_RULES_EXPR_MAX_BYTES);
        ok = false;
    }
    mn = ok ? sn_arena_alloc(&b->rs->arena, sizeof(*mn)) : NULL;
    if (mn != NULL) {
        memset(mn, 0, sizeof(*mn));
        mn->type = SN_NODE_SCALAR;
        mn->file = x.detection->file;
        mn->line = x.detection->line;
        mn->col = x.detection->col;
        mn->str =
            sn_arena_memdup(&b->rs->arena, o.data ? o.data : "", o.len + 1);
        if (mn->str != NULL)
            mn->str[o.len] = '\0';
        rn->match = mn->str ? mn : NULL;
    }
    sn_buf_fini(&o);
    if (!ok || rn->match == NULL)
        return false;
    rn->sigma_ls = x.ls;
    /* The logsource's extractions, with positions in the mapping file. */
    v = sn_node_get(x.ls, "extract");
    rn->sigma_extract = v;
    if (v != NULL) {
        for (size_t i = 0; i < b->n_sigma_maps; i++)
            if (b->sigma_maps[i]->file == v->file)
                b->file = b->sigma_map_files[i];
        ok = sn_load_extract(b, r, v);
        b->file = rule_file;
    }
    return ok;
}
