/*
 * Tokens of the `match` expression language (docs/rules.md). Positions
 * are byte offsets into the expression text so the loader can map any
 * token back to file:line:col. The lexer owns no memory; string bodies
 * are decoded by sn_lex_unescape into caller storage.
 */
#ifndef SN_RULES_EXPR_LEX_H
#define SN_RULES_EXPR_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

enum sn_tok_type {
    SN_TOK_EOF = 0,
    SN_TOK_IDENT,   /* field name: a.b_c.d */
    SN_TOK_STRING,  /* "..." or i"..." (ci); body excludes the quotes */
    SN_TOK_REGEX,   /* /.../ or /.../i (ci); body verbatim for PCRE2 */
    SN_TOK_NUMBER,  /* 42, -7, 2.5, 1e3 */
    SN_TOK_ADDR,    /* bare IPv4 address or prefix: 10.0.0.1, 10.0.0.0/8 */
    SN_TOK_LISTREF, /* @name or i@name (ci); body excludes the sigil */
    SN_TOK_LPAREN,
    SN_TOK_RPAREN,
    SN_TOK_LBRACK,
    SN_TOK_RBRACK,
    SN_TOK_COMMA,
    SN_TOK_EQ,     /* == */
    SN_TOK_NE,     /* != */
    SN_TOK_LT,     /* < */
    SN_TOK_LE,     /* <= */
    SN_TOK_GT,     /* > */
    SN_TOK_GE,     /* >= */
    SN_TOK_MATCH,  /* =~ */
    SN_TOK_NMATCH, /* !~ */
    SN_TOK_AND,
    SN_TOK_OR,
    SN_TOK_NOT,
    SN_TOK_IN,
    SN_TOK_CONTAINS,
    SN_TOK_STARTSWITH,
    SN_TOK_ENDSWITH,
    SN_TOK_CIDR,
    SN_TOK_EXISTS,
    SN_TOK_TRUE,
    SN_TOK_FALSE,
};

struct sn_tok {
    enum sn_tok_type type;
    size_t off, len;           /* whole token in the expression */
    size_t body_off, body_len; /* STRING/REGEX/LISTREF payload */
    bool ci;                   /* i"..", i@list, /re/i */
};

struct sn_lexer {
    const char *s;
    size_t len, pos;
    char err[160];  /* set when sn_lex_next fails */
    size_t err_off; /* offset the error is about */
};

/* Start lexing s[0..len); s need not be NUL-terminated. */
void sn_lex_init(struct sn_lexer *lx, const char *s, size_t len);
/* Next token into *t. SN_EINVAL with lx->err/err_off on a bad token. */
enum sn_status sn_lex_next(struct sn_lexer *lx, struct sn_tok *t);
/* Spelling of a token type for messages ("'=='", "a string"). */
const char *sn_tok_name(enum sn_tok_type t);

/*
 * Decode a STRING body (escapes \" \\ \n \t \r \xHH) into out, which must
 * hold body_len bytes; *out_len gets the decoded length. The body was
 * validated by the lexer, so this cannot fail.
 */
void sn_lex_unescape(const char *body, size_t body_len, char *out,
                     size_t *out_len);
/* Offset in the body of decoded byte `off` (maps PCRE2 error offsets of
 * a "..." regex back to the expression text). */
size_t sn_lex_body_offset(const char *body, size_t body_len, size_t off);

#endif
