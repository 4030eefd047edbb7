/*
 * Parser for match expressions: text -> syntax tree (struct sn_expr) with
 * byte offsets, allocated from a caller's arena. Only syntax is checked
 * here; names (fields, lists) and regexes are resolved by compile.c.
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | 'exists' FIELD | 'true' | 'false'
 *            | FIELD cmp-op value | FIELD 'in' (list | @name)
 *            | FIELD 'cidr' (addr | '[' addr, ... ']')
 */
#ifndef SN_RULES_EXPR_PARSE_H
#define SN_RULES_EXPR_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/arena.h"

enum sn_expr_kind {
    SN_EX_AND = 0, /* n-ary: `a and b and c` is one node */
    SN_EX_OR,
    SN_EX_NOT,
    SN_EX_CONST, /* true / false */
    SN_EX_EXISTS,
    SN_EX_CMP,
};

enum sn_cmp_op {
    SN_CMP_EQ = 0,
    SN_CMP_NE,
    SN_CMP_LT,
    SN_CMP_LE,
    SN_CMP_GT,
    SN_CMP_GE,
    SN_CMP_IN,
    SN_CMP_CONTAINS,
    SN_CMP_STARTSWITH,
    SN_CMP_ENDSWITH,
    SN_CMP_MATCH,  /* =~ */
    SN_CMP_NMATCH, /* !~ */
    SN_CMP_CIDR,
};

enum sn_lit_kind {
    SN_LIT_STR = 0, /* "..." decoded */
    SN_LIT_REGEX,   /* /.../ verbatim */
    SN_LIT_NUM,     /* is_int tells int64 from double */
    SN_LIT_BOOL,
    SN_LIT_ADDR,    /* bare IPv4 address or prefix, as written */
    SN_LIT_LISTREF, /* @name */
};

struct sn_expr_lit {
    enum sn_lit_kind kind;
    const char *s; /* STR/REGEX/ADDR/LISTREF text, NUL-terminated */
    size_t len;
    bool ci;     /* i"..", /../i, i@name */
    bool is_int; /* NUM */
    int64_t i;
    double d;
    bool b;
    size_t off, src_len;       /* the token in the expression */
    size_t body_off, body_len; /* STRING/REGEX: between the delimiters */
};

struct sn_expr {
    enum sn_expr_kind kind;
    size_t off, len; /* span in the expression (for traces) */
    /* AND/OR: n_kids >= 2; NOT: 1 */
    struct sn_expr **kids;
    size_t n_kids;
    /* EXISTS/CMP */
    const char *field; /* NUL-terminated */
    size_t field_off;
    /* CMP */
    enum sn_cmp_op op;
    size_t op_off;
    bool is_list; /* value written as [..] */
    struct sn_expr_lit *lits;
    size_t n_lits;
    /* CONST */
    bool value;
};

struct sn_expr_err {
    char msg[256];
    size_t off; /* byte offset in the expression */
};

/* Fill err (the message from fmt, at byte off) and return SN_EINVAL: how
 * the expression and Sigma condition parsers fail. */
enum sn_status sn_expr_fail(struct sn_expr_err *err, size_t off,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parse s[0..len). On success *out is the root, allocated in a (valid
 * until the arena is reset). On failure returns SN_EINVAL (or SN_ELIMIT
 * past SN_RULES_EXPR_MAX_*) with err->msg and err->off set; SN_ENOMEM
 * when the arena is exhausted.
 */
enum sn_status sn_expr_parse(const char *s, size_t len, struct sn_arena *a,
                             struct sn_expr **out, struct sn_expr_err *err);
/* Source spelling of an operator ("==", "contains"). */
const char *sn_cmp_op_name(enum sn_cmp_op op);

#endif
