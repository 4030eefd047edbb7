/*
 * Recursive-descent parser for match expressions; see expr_parse.h.
 * Depth and node count are bounded (rules/limits.h) because rule files
 * may come from a shared repository and the parser must not be the weak
 * point.
 */
#include "rules/expr_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/expr_lex.h"
#include "rules/limits.h"

struct parser {
    struct sn_lexer lx;
    struct sn_tok tok; /* current (lookahead) token */
    struct sn_arena *a;
    struct sn_expr_err *err;
    int depth;
    size_t n_nodes;
};

enum sn_status
sn_expr_fail(struct sn_expr_err *err, size_t off, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->off = off;
    return SN_EINVAL;
}

#define perr(p, ...) sn_expr_fail((p)->err, __VA_ARGS__)

static enum sn_status
advance(struct parser *p)
{
    if (sn_lex_next(&p->lx, &p->tok) != SN_OK) {
        snprintf(p->err->msg, sizeof(p->err->msg), "%s", p->lx.err);
        p->err->off = p->lx.err_off;
        return SN_EINVAL;
    }
    return SN_OK;
}

static struct sn_expr *
node_new(struct parser *p, enum sn_expr_kind kind, size_t off)
{
    struct sn_expr *e;

    if (++p->n_nodes > SN_RULES_EXPR_MAX_NODES)
        return NULL;
    e = sn_arena_alloc(p->a, sizeof(*e));
    if (e != NULL) {
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->off = off;
    }
    return e;
}

static enum sn_status
nomem(struct parser *p, size_t off)
{
    if (p->n_nodes > SN_RULES_EXPR_MAX_NODES) {
        snprintf(p->err->msg, sizeof(p->err->msg),
                 "expression has more than %d terms", SN_RULES_EXPR_MAX_NODES);
        p->err->off = off;
        return SN_ELIMIT;
    }
    snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
    p->err->off = off;
    return SN_ENOMEM;
}

static char *
dup_text(struct parser *p, const char *s, size_t len)
{
    char *d = sn_arena_alloc(p->a, len + 1);

    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* Turn the current token into a literal, or fail naming what was wanted. */
static enum sn_status
literal(struct parser *p, struct sn_expr_lit *l)
{
    const struct sn_tok *t = &p->tok;
    const char *src = p->lx.s;

    memset(l, 0, sizeof(*l));
    l->off = t->off;
    l->src_len = t->len;
    l->ci = t->ci;
    l->body_off = t->body_off;
    l->body_len = t->body_len;
    switch (t->type) {
    case SN_TOK_STRING: {
        char *d = sn_arena_alloc(p->a, t->body_len + 1);
        if (d == NULL)
            return nomem(p, t->off);
        sn_lex_unescape(src + t->body_off, t->body_len, d, &l->len);
        d[l->len] = '\0';
        l->kind = SN_LIT_STR;
        l->s = d;
        break;
    }
    case SN_TOK_REGEX:
    case SN_TOK_LISTREF:
        l->kind = t->type == SN_TOK_REGEX ? SN_LIT_REGEX : SN_LIT_LISTREF;
        l->s = dup_text(p, src + t->body_off, t->body_len);
        l->len = t->body_len;
        if (l->s == NULL)
            return nomem(p, t->off);
        break;
    case SN_TOK_ADDR:
        l->kind = SN_LIT_ADDR;
        l->s = dup_text(p, src + t->off, t->len);
        l->len = t->len;
        if (l->s == NULL)
            return nomem(p, t->off);
        break;
    case SN_TOK_NUMBER: {
        char buf[64];
        char *end;

        if (t->len >= sizeof(buf))
            return perr(p, t->off, "number too long");
        memcpy(buf, src + t->off, t->len);
        buf[t->len] = '\0';
        l->kind = SN_LIT_NUM;
        errno = 0;
        if (strpbrk(buf, ".eE") == NULL) {
            l->is_int = true;
            l->i = strtoll(buf, &end, 10);
            l->d = (double)l->i;
        } else {
            l->d = strtod(buf, &end);
        }
        if (errno == ERANGE || *end != '\0')
            return perr(p, t->off, "number out of range");
        break;
    }
    case SN_TOK_TRUE:
    case SN_TOK_FALSE:
        l->kind = SN_LIT_BOOL;
        l->b = t->type == SN_TOK_TRUE;
        break;
    default:
        return perr(p, t->off,
                    "expected a value (string, number, address, "
                    "true/false), found %s",
                    sn_tok_name(t->type));
    }
    return advance(p);
}

/* '[' lit (',' lit)* ']' with an optional trailing comma. */
static enum sn_status
literal_list(struct parser *p, struct sn_expr *e)
{
    size_t cap = 8, open = p->tok.off;
    enum sn_status rc;

    e->is_list = true;
    e->lits = sn_arena_alloc(p->a, cap * sizeof(*e->lits));
    if (e->lits == NULL)
        return nomem(p, open);
    if ((rc = advance(p)) != SN_OK)
        return rc;
    while (p->tok.type != SN_TOK_RBRACK) {
        if (e->n_lits >= SN_RULES_MAX_LIST_ITEMS)
            return perr(p, p->tok.off, "too many list items");
        if (e->n_lits == cap) {
            struct sn_expr_lit *n = sn_arena_alloc(p->a, 2 * cap * sizeof(*n));
            if (n == NULL)
                return nomem(p, p->tok.off);
            memcpy(n, e->lits, cap * sizeof(*n));
            e->lits = n;
            cap *= 2;
        }
        if (p->tok.type == SN_TOK_EOF)
            return perr(p, open, "unclosed '[' (missing ']')");
        if ((rc = literal(p, &e->lits[e->n_lits])) != SN_OK)
            return rc;
        if (e->lits[e->n_lits].kind == SN_LIT_LISTREF)
            return perr(p, e->lits[e->n_lits].off,
                        "a list reference cannot be a list item");
        e->n_lits++;
        if (p->tok.type == SN_TOK_COMMA) {
            if ((rc = advance(p)) != SN_OK)
                return rc;
        } else if (p->tok.type != SN_TOK_RBRACK) {
            return perr(p, p->tok.off,
                        "expected ',' or ']' in a list, found %s",
                        sn_tok_name(p->tok.type));
        }
    }
    if (e->n_lits == 0)
        return perr(p, open, "empty list");
    return advance(p);
}

static enum sn_status parse_or(struct parser *p, struct sn_expr **out);

static enum sn_status
cmp_op(enum sn_tok_type t, enum sn_cmp_op *op)
{
    switch (t) {
    case SN_TOK_EQ:
        *op = SN_CMP_EQ;
        break;
    case SN_TOK_NE:
        *op = SN_CMP_NE;
        break;
    case SN_TOK_LT:
        *op = SN_CMP_LT;
        break;
    case SN_TOK_LE:
        *op = SN_CMP_LE;
        break;
    case SN_TOK_GT:
        *op = SN_CMP_GT;
        break;
    case SN_TOK_GE:
        *op = SN_CMP_GE;
        break;
    case SN_TOK_IN:
        *op = SN_CMP_IN;
        break;
    case SN_TOK_CONTAINS:
        *op = SN_CMP_CONTAINS;
        break;
    case SN_TOK_STARTSWITH:
        *op = SN_CMP_STARTSWITH;
        break;
    case SN_TOK_ENDSWITH:
        *op = SN_CMP_ENDSWITH;
        break;
    case SN_TOK_MATCH:
        *op = SN_CMP_MATCH;
        break;
    case SN_TOK_NMATCH:
        *op = SN_CMP_NMATCH;
        break;
    case SN_TOK_CIDR:
        *op = SN_CMP_CIDR;
        break;
    default:
        return SN_EINVAL;
    }
    return SN_OK;
}

/* FIELD op value, the field token being current. */
static enum sn_status
comparison(struct parser *p, struct sn_expr **out)
{
    struct sn_expr *e = node_new(p, SN_EX_CMP, p->tok.off);
    enum sn_status rc;

    if (e == NULL)
        return nomem(p, p->tok.off);
    e->field = dup_text(p, p->lx.s + p->tok.off, p->tok.len);
    e->field_off = p->tok.off;
    if (e->field == NULL)
        return nomem(p, p->tok.off);
    if ((rc = advance(p)) != SN_OK)
        return rc;
    e->op_off = p->tok.off;
    if (cmp_op(p->tok.type, &e->op) != SN_OK)
        return perr(p, p->tok.off,
                    "expected an operator (==, !=, <, <=, >, >=, in, "
                    "contains, startswith, endswith, =~, !~, cidr) after the "
                    "field name, found %s",
                    sn_tok_name(p->tok.type));
    if ((rc = advance(p)) != SN_OK)
        return rc;
    if (p->tok.type == SN_TOK_LBRACK) {
        if (e->op != SN_CMP_IN && e->op != SN_CMP_CIDR)
            return perr(p, p->tok.off,
                        "a [...] list needs 'in' or 'cidr', not '%s'",
                        sn_cmp_op_name(e->op));
        rc = literal_list(p, e);
    } else {
        e->lits = sn_arena_alloc(p->a, sizeof(*e->lits));
        if (e->lits == NULL)
            return nomem(p, p->tok.off);
        e->n_lits = 1;
        rc = literal(p, e->lits);
        if (rc == SN_OK && e->lits->kind == SN_LIT_LISTREF &&
            e->op != SN_CMP_IN && e->op != SN_CMP_CIDR)
            return perr(p, e->lits->off,
                        "a list reference needs 'in' or 'cidr', not '%s'",
                        sn_cmp_op_name(e->op));
        if (rc == SN_OK && e->op == SN_CMP_IN &&
            e->lits->kind != SN_LIT_LISTREF)
            return perr(p, e->lits->off,
                        "'in' takes a list: [\"a\", \"b\"] or @name");
    }
    if (rc != SN_OK)
        return rc;
    /* The lexer has already read the next token: end before it. */
    e->len =
        p->tok.type == SN_TOK_EOF ? p->lx.len - e->off : p->tok.off - e->off;
    while (e->len > 0 && (p->lx.s[e->off + e->len - 1] == ' ' ||
                          p->lx.s[e->off + e->len - 1] == '\n' ||
                          p->lx.s[e->off + e->len - 1] == '\t' ||
                          p->lx.s[e->off + e->len - 1] == '\r'))
        e->len--;
    *out = e;
    return SN_OK;
}

static enum sn_status
primary(struct parser *p, struct sn_expr **out)
{
    struct sn_expr *e;
    enum sn_status rc;
    size_t open = p->tok.off;

    switch (p->tok.type) {
    case SN_TOK_LPAREN:
        if (++p->depth > SN_RULES_EXPR_MAX_DEPTH)
            return perr(p, open, "expression nested too deeply");
        if ((rc = advance(p)) != SN_OK || (rc = parse_or(p, out)) != SN_OK)
            return rc;
        if (p->tok.type != SN_TOK_RPAREN) {
            if (p->tok.type == SN_TOK_EOF)
                return perr(p, open, "unclosed '(' (missing ')')");
            return perr(p, p->tok.off, "expected ')' or an operator, found %s",
                        sn_tok_name(p->tok.type));
        }
        p->depth--;
        return advance(p);
    case SN_TOK_TRUE:
    case SN_TOK_FALSE:
        e = node_new(p, SN_EX_CONST, p->tok.off);
        if (e == NULL)
            return nomem(p, p->tok.off);
        e->value = p->tok.type == SN_TOK_TRUE;
        e->len = p->tok.len;
        *out = e;
        return advance(p);
    case SN_TOK_EXISTS:
        e = node_new(p, SN_EX_EXISTS, p->tok.off);
        if (e == NULL)
            return nomem(p, p->tok.off);
        if ((rc = advance(p)) != SN_OK)
            return rc;
        if (p->tok.type != SN_TOK_IDENT)
            return perr(p, p->tok.off,
                        "expected a field name after 'exists', "
                        "found %s",
                        sn_tok_name(p->tok.type));
        e->field = dup_text(p, p->lx.s + p->tok.off, p->tok.len);
        e->field_off = p->tok.off;
        if (e->field == NULL)
            return nomem(p, p->tok.off);
        e->len = p->tok.off + p->tok.len - e->off;
        *out = e;
        return advance(p);
    case SN_TOK_IDENT:
        return comparison(p, out);
    case SN_TOK_EOF:
        return perr(p, p->tok.off,
                    "expression ends early: expected a "
                    "condition");
    default:
        return perr(p, p->tok.off,
                    "expected a condition (a field name, 'not', 'exists' or "
                    "'('), found %s",
                    sn_tok_name(p->tok.type));
    }
}

static enum sn_status
unary(struct parser *p, struct sn_expr **out)
{
    struct sn_expr *e;
    enum sn_status rc;

    if (p->tok.type != SN_TOK_NOT)
        return primary(p, out);
    if (++p->depth > SN_RULES_EXPR_MAX_DEPTH)
        return perr(p, p->tok.off, "expression nested too deeply");
    e = node_new(p, SN_EX_NOT, p->tok.off);
    if (e == NULL)
        return nomem(p, p->tok.off);
    e->kids = sn_arena_alloc(p->a, sizeof(*e->kids));
    if (e->kids == NULL)
        return nomem(p, p->tok.off);
    e->n_kids = 1;
    if ((rc = advance(p)) != SN_OK || (rc = unary(p, &e->kids[0])) != SN_OK)
        return rc;
    e->len = e->kids[0]->off + e->kids[0]->len - e->off;
    p->depth--;
    *out = e;
    return SN_OK;
}

/* One n-ary level: operand (OP operand)*; `next` parses an operand. */
static enum sn_status
nary(struct parser *p, enum sn_tok_type op, enum sn_expr_kind kind,
     enum sn_status (*next)(struct parser *, struct sn_expr **),
     struct sn_expr **out)
{
    struct sn_expr *first, *e, **kids;
    size_t cap = 4;
    enum sn_status rc;

    if ((rc = next(p, &first)) != SN_OK)
        return rc;
    if (p->tok.type != op) {
        *out = first;
        return SN_OK;
    }
    e = node_new(p, kind, first->off);
    kids = sn_arena_alloc(p->a, cap * sizeof(*kids));
    if (e == NULL || kids == NULL)
        return nomem(p, p->tok.off);
    kids[0] = first;
    e->n_kids = 1;
    while (p->tok.type == op) {
        if ((rc = advance(p)) != SN_OK)
            return rc;
        if (e->n_kids == cap) {
            struct sn_expr **n = sn_arena_alloc(p->a, 2 * cap * sizeof(*n));
            if (n == NULL)
                return nomem(p, p->tok.off);
            memcpy(n, kids, cap * sizeof(*n));
            kids = n;
            cap *= 2;
        }
        if ((rc = next(p, &kids[e->n_kids])) != SN_OK)
            return rc;
        e->n_kids++;
    }
    e->kids = kids;
    e->len = kids[e->n_kids - 1]->off + kids[e->n_kids - 1]->len - e->off;
    *out = e;
    return SN_OK;
}

static enum sn_status
parse_and(struct parser *p, struct sn_expr **out)
{
    return nary(p, SN_TOK_AND, SN_EX_AND, unary, out);
}

static enum sn_status
parse_or(struct parser *p, struct sn_expr **out)
{
    return nary(p, SN_TOK_OR, SN_EX_OR, parse_and, out);
}

enum sn_status
sn_expr_parse(const char *s, size_t len, struct sn_arena *a,
              struct sn_expr **out, struct sn_expr_err *err)
{
    struct parser p;
    enum sn_status rc;

    memset(&p, 0, sizeof(p));
    memset(err, 0, sizeof(*err));
    p.a = a;
    p.err = err;
    *out = NULL;
    if (len > SN_RULES_EXPR_MAX_BYTES) {
        snprintf(err->msg, sizeof(err->msg),
                 "expression is %zu bytes; the limit is %d", len,
                 SN_RULES_EXPR_MAX_BYTES);
        return SN_ELIMIT;
    }
    sn_lex_init(&p.lx, s, len);
    if ((rc = advance(&p)) != SN_OK)
        return rc;
    if (p.tok.type == SN_TOK_EOF)
        return perr(&p, 0, "empty expression");
    if ((rc = parse_or(&p, out)) != SN_OK)
        return rc;
    if (p.tok.type != SN_TOK_EOF) {
        *out = NULL;
        if (p.tok.type == SN_TOK_RPAREN)
            return perr(&p, p.tok.off, "unbalanced ')'");
        return perr(&p, p.tok.off, "expected 'and', 'or' or the end, found %s",
                    sn_tok_name(p.tok.type));
    }
    return SN_OK;
}

const char *
sn_cmp_op_name(enum sn_cmp_op op)
{
    static const char *const names[] = {
        "==",       "!=",         "<",        "<=", ">",  ">=",   "in",
        "contains", "startswith", "endswith", "=~", "!~", "cidr",
    };

    return (size_t)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}
