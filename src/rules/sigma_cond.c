/* Sigma condition translation; see sigma_cond.h. */
#include "rules/sigma_cond.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rules/limits.h"

enum tok { T_EOF, T_NAME, T_LP, T_RP, T_AND, T_OR, T_NOT, T_OF, T_PIPE };

struct cp {
    const char *s;
    size_t len, pos;
    enum tok t;
    size_t t_off, t_len;
    const char *const *names;
    size_t n_names;
    sn_sigma_sel_fn emit;
    void *arg;
    struct sn_buf *out;
    struct sn_expr_err *err;
    int depth;
};

#define fail(p, ...) sn_expr_fail((p)->err, __VA_ARGS__)

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == '*';
}

static bool
tok_is(const struct cp *p, const char *word)
{
    return p->t == T_NAME && strlen(word) == p->t_len &&
           memcmp(p->s + p->t_off, word, p->t_len) == 0;
}

static enum sn_status
next(struct cp *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
    p->t_off = p->pos;
    p->t_len = 1;
    if (p->pos >= p->len) {
        p->t = T_EOF;
        p->t_len = 0;
        return SN_OK;
    }
    switch (p->s[p->pos]) {
    case '(':
        p->t = T_LP;
        p->pos++;
        return SN_OK;
    case ')':
        p->t = T_RP;
        p->pos++;
        return SN_OK;
    case '|':
        p->t = T_PIPE;
        p->pos++;
        return SN_OK;
    default:
        break;
    }
    if (!name_char(p->s[p->pos])) {
        char c[8];
        unsigned char u = (unsigned char)p->s[p->pos];
        snprintf(c, sizeof(c), u >= 0x20 && u < 0x7f ? "'%c'" : "0x%02x", u);
        return fail(p, p->pos, "unexpected character %s in the condition", c);
    }
    while (p->pos < p->len && name_char(p->s[p->pos]))
        p->pos++;
    p->t_len = p->pos - p->t_off;
    p->t = T_NAME;
    if (tok_is(p, "and"))
        p->t = T_AND;
    else if (tok_is(p, "or"))
        p->t = T_OR;
    else if (tok_is(p, "not"))
        p->t = T_NOT;
    else if (tok_is(p, "of"))
        p->t = T_OF;
    return SN_OK;
}

/* Glob with '*' only (condition patterns: `1 of selection_*`). */
static bool
glob(const char *pat, size_t pl, const char *s)
{
    size_t sl = strlen(s), pi = 0, si = 0, star = (size_t)-1, mark = 0;

    while (si < sl) {
        if (pi < pl && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pl && pat[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pl && pat[pi] == '*')
        pi++;
    return pi == pl;
}

static enum sn_status
emit_sel(struct cp *p, size_t i)
{
    enum sn_status rc = sn_buf_putc(p->out, '(');

    if (rc == SN_OK)
        rc = p->emit(p->arg, i, p->out);
    if (rc == SN_OK)
        rc = sn_buf_putc(p->out, ')');
    return rc;
}

static enum sn_status expr(struct cp *p);

/* `1 of X` / `all of X` after the quantifier was read. */
static enum sn_status
quantified(struct cp *p, bool all, size_t q_off)
{
    enum sn_status rc;
    bool them;
    size_t n = 0, off;
    char pat[128];

    if ((rc = next(p)) != SN_OK)
        return rc;
    if (p->t != T_OF)
        return fail(p, q_off, "%s",
                    "expected \"of\" after a quantifier "
                    "(\"1 of sel*\", \"all of them\")");
    if ((rc = next(p)) != SN_OK)
        return rc;
    if (p->t != T_NAME)
        return fail(p, p->t_off, "%s",
                    "expected a selection pattern or \"them\" after \"of\"");
    them = tok_is(p, "them");
    off = p->t_off;
    snprintf(pat, sizeof(pat), "%.*s", (int)p->t_len, p->s + p->t_off);
    if ((rc = sn_buf_putc(p->out, '(')) != SN_OK)
        return rc;
    for (size_t i = 0; i < p->n_names; i++) {
        /* `them` leaves out the names starting with '_' (the spec's
         * helper selections). */
        if (them ? p->names[i][0] == '_'
                 : !glob(p->s + p->t_off, p->t_len, p->names[i]))
            continue;
        if (n++ > 0 &&
            (rc = sn_buf_puts(p->out, all ? " and " : " or ")) != SN_OK)
            return rc;
        if ((rc = emit_sel(p, i)) != SN_OK)
            return rc;
    }
    if (n == 0)
        return fail(p, off, "no selection matches \"%s\"", pat);
    if ((rc = sn_buf_putc(p->out, ')')) != SN_OK)
        return rc;
    return next(p);
}

static enum sn_status
primary(struct cp *p)
{
    enum sn_status rc;
    char name[128];

    if (p->t == T_LP) {
        if (++p->depth > SN_RULES_EXPR_MAX_DEPTH) {
            snprintf(p->err->msg, sizeof(p->err->msg),
                     "the condition nests deeper than %d",
                     SN_RULES_EXPR_MAX_DEPTH);
            p->err->off = p->t_off;
            return SN_ELIMIT;
        }
        size_t open = p->t_off;
        if ((rc = next(p)) != SN_OK ||
            (rc = sn_buf_putc(p->out, '(')) != SN_OK || (rc = expr(p)) != SN_OK)
            return rc;
        if (p->t != T_RP)
            return fail(p, open, "%s", "unclosed '(' in the condition");
        p->depth--;
        if ((rc = sn_buf_putc(p->out, ')')) != SN_OK)
            return rc;
        return next(p);
    }
    if (p->t == T_PIPE)
        return fail(p, p->t_off, "%s",
                    "aggregation expressions (\"| count() ...\") are "
                    "deprecated Sigma and not supported; write a Sigma "
                    "correlation rule");
    if (p->t != T_NAME)
        return fail(p, p->t_off, "%s",
                    p->t == T_EOF ? "the condition ends where a selection "
                                    "was expected"
                                  : "expected a selection name, '(' or "
                                    "\"not\"");
    if (tok_is(p, "1") || tok_is(p, "any"))
        return quantified(p, false, p->t_off);
    if (tok_is(p, "all"))
        return quantified(p, true, p->t_off);
    snprintf(name, sizeof(name), "%.*s", (int)p->t_len, p->s + p->t_off);
    if (p->t_len > 0 && p->s[p->t_off] >= '0' && p->s[p->t_off] <= '9')
        return fail(p, p->t_off,
                    "\"%s of\" is not supported (only \"1 of\" and \"all "
                    "of\")",
                    name);
    for (size_t i = 0; i < p->n_names; i++) {
        if (strlen(p->names[i]) == p->t_len &&
            memcmp(p->names[i], p->s + p->t_off, p->t_len) == 0) {
            if ((rc = emit_sel(p, i)) != SN_OK)
                return rc;
            return next(p);
        }
    }
    return fail(p, p->t_off, "unknown selection \"%s\" in the condition", name);
}

static enum sn_status
unary(struct cp *p)
{
    enum sn_status rc;

    if (p->t != T_NOT)
        return primary(p);
    if (++p->depth > SN_RULES_EXPR_MAX_DEPTH) {
        snprintf(p->err->msg, sizeof(p->err->msg),
                 "the condition nests deeper than %d", SN_RULES_EXPR_MAX_DEPTH);
        p->err->off = p->t_off;
        return SN_ELIMIT;
    }
    if ((rc = sn_buf_puts(p->out, "not ")) != SN_OK ||
        (rc = next(p)) != SN_OK || (rc = unary(p)) != SN_OK)
        return rc;
    p->depth--;
    return SN_OK;
}

static enum sn_status
and_expr(struct cp *p)
{
    enum sn_status rc = unary(p);

    while (rc == SN_OK && p->t == T_AND) {
        if ((rc = sn_buf_puts(p->out, " and ")) == SN_OK &&
            (rc = next(p)) == SN_OK)
            rc = unary(p);
    }
    return rc;
}

static enum sn_status
expr(struct cp *p)
{
    enum sn_status rc = and_expr(p);

    while (rc == SN_OK && p->t == T_OR) {
        if ((rc = sn_buf_puts(p->out, " or ")) == SN_OK &&
            (rc = next(p)) == SN_OK)
            rc = and_expr(p);
    }
    return rc;
}

enum sn_status
sn_sigma_cond_translate(const char *s, size_t len, const char *const *names,
                        size_t n_names, sn_sigma_sel_fn emit, void *arg,
                        struct sn_buf *out, struct sn_expr_err *err)
{
    struct cp p;
    enum sn_status rc;

    memset(&p, 0, sizeof(p));
    p.s = s;
    p.len = len;
    p.names = names;
    p.n_names = n_names;
    p.emit = emit;
    p.arg = arg;
    p.out = out;
    p.err = err;
    err->msg[0] = '\0';
    err->off = 0;
    if ((rc = next(&p)) != SN_OK || (rc = expr(&p)) != SN_OK)
        return rc;
    if (p.t == T_PIPE)
        return fail(&p, p.t_off, "%s",
                    "aggregation expressions (\"| count() ...\") are "
                    "deprecated Sigma and not supported; write a Sigma "
                    "correlation rule");
    if (p.t != T_EOF)
        return fail(&p, p.t_off, "%s",
                    p.t == T_RP ? "')' without a matching '('"
                                : "expected \"and\", \"or\" or the end of "
                                  "the condition");
    return SN_OK;
}
