/*
 * Hand-written lexer for match expressions; see expr_lex.h. Keywords are
 * lower case only, so a field may not be named after one (documented).
 */
#include "rules/expr_lex.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *word;
    enum sn_tok_type type;
} keywords[] = {
    { "and", SN_TOK_AND },           { "or", SN_TOK_OR },
    { "not", SN_TOK_NOT },           { "in", SN_TOK_IN },
    { "contains", SN_TOK_CONTAINS }, { "startswith", SN_TOK_STARTSWITH },
    { "endswith", SN_TOK_ENDSWITH }, { "cidr", SN_TOK_CIDR },
    { "exists", SN_TOK_EXISTS },     { "true", SN_TOK_TRUE },
    { "false", SN_TOK_FALSE },
};

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hexval(char c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

void
sn_lex_init(struct sn_lexer *lx, const char *s, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->s = s;
    lx->len = len;
}

static enum sn_status
fail(struct sn_lexer *lx, size_t off, const char *msg)
{
    snprintf(lx->err, sizeof(lx->err), "%s", msg);
    lx->err_off = off;
    return SN_EINVAL;
}

/* "..." starting at lx->pos (the quote); validates escapes. */
static enum sn_status
lex_string(struct sn_lexer *lx, struct sn_tok *t)
{
    size_t p = lx->pos + 1;

    t->body_off = p;
    while (p < lx->len && lx->s[p] != '"') {
        if (lx->s[p] == '\\') {
            char e = p + 1 < lx->len ? lx->s[p + 1] : '\0';

            if (e == 'x') {
                if (p + 3 >= lx->len || !is_hex(lx->s[p + 2]) ||
                    !is_hex(lx->s[p + 3]))
                    return fail(lx, p, "\\x needs two hex digits");
                p += 4;
                continue;
            }
            if (strchr("\"\\ntr", e) == NULL || e == '\0') {
                snprintf(lx->err, sizeof(lx->err),
                         "unknown escape \"\\%c\" in a string (escapes are "
                         "\\\" \\\\ \\n \\t \\r \\xHH); write regexes as "
                         "/.../ to keep backslashes as they are",
                         e ? e : ' ');
                lx->err_off = p;
                return SN_EINVAL;
            }
            p += 2;
            continue;
        }
        p++;
    }
    if (p >= lx->len)
        return fail(lx, lx->pos, "unterminated string (missing '\"')");
    t->type = SN_TOK_STRING;
    t->body_len = p - t->body_off;
    lx->pos = p + 1;
    return SN_OK;
}

/* /.../ and /.../i: the body goes to PCRE2 untouched; only "\/" (which
 * PCRE2 reads as '/') keeps a slash from ending the literal. */
static enum sn_status
lex_regex(struct sn_lexer *lx, struct sn_tok *t)
{
    size_t p = lx->pos + 1;

    t->body_off = p;
    while (p < lx->len && lx->s[p] != '/') {
        if (lx->s[p] == '\\' && p + 1 < lx->len)
            p++;
        p++;
    }
    if (p >= lx->len)
        return fail(lx, lx->pos, "unterminated regex (missing closing '/')");
    t->type = SN_TOK_REGEX;
    t->body_len = p - t->body_off;
    p++;
    if (p < lx->len && lx->s[p] == 'i') {
        t->ci = true;
        p++;
    }
    if (p < lx->len && (is_alpha(lx->s[p]) || is_digit(lx->s[p])))
        return fail(lx, p, "unknown regex flag (only 'i' is supported)");
    lx->pos = p;
    return SN_OK;
}

/* Numbers and bare IPv4 addresses/prefixes both start with a digit. */
static enum sn_status
lex_number(struct sn_lexer *lx, struct sn_tok *t)
{
    size_t p = lx->pos, dots = 0;

    if (lx->s[p] == '-')
        p++;
    if (p >= lx->len || !is_digit(lx->s[p]))
        return fail(lx, lx->pos, "expected a digit after '-'");
    while (p < lx->len && (is_digit(lx->s[p]) || lx->s[p] == '.')) {
        dots += lx->s[p] == '.';
        p++;
    }
    if (dots == 3 && lx->s[lx->pos] != '-') {
        if (p < lx->len && lx->s[p] == '/') {
            p++;
            while (p < lx->len && is_digit(lx->s[p]))
                p++;
        }
        t->type = SN_TOK_ADDR;
    } else if (dots <= 1) {
        if (p < lx->len && (lx->s[p] == 'e' || lx->s[p] == 'E')) {
            size_t q = p + 1;
            if (q < lx->len && (lx->s[q] == '+' || lx->s[q] == '-'))
                q++;
            if (q < lx->len && is_digit(lx->s[q])) {
                while (q < lx->len && is_digit(lx->s[q]))
                    q++;
                p = q;
            }
        }
        t->type = SN_TOK_NUMBER;
    } else {
        return fail(lx, lx->pos,
                    "malformed number or address (an IPv4 address has "
                    "four parts)");
    }
    if (p < lx->len && (is_alpha(lx->s[p]) || lx->s[p] == ':'))
        return fail(lx, lx->pos,
                    "malformed number or address (quote IPv6 addresses and "
                    "other text: \"2001:db8::1\")");
    lx->pos = p;
    return SN_OK;
}

static enum sn_status
lex_ident(struct sn_lexer *lx, struct sn_tok *t)
{
    size_t p = lx->pos;

    while (p < lx->len) {
        if (is_alpha(lx->s[p]) || is_digit(lx->s[p])) {
            p++;
        } else if (lx->s[p] == '.' && p + 1 < lx->len &&
                   (is_alpha(lx->s[p + 1]) || is_digit(lx->s[p + 1]))) {
            p++;
        } else {
            break;
        }
    }
    t->type = SN_TOK_IDENT;
    t->len = p - lx->pos;
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (strlen(keywords[k].word) == t->len &&
            memcmp(keywords[k].word, lx->s + lx->pos, t->len) == 0) {
            t->type = keywords[k].type;
            break;
        }
    }
    lx->pos = p;
    return SN_OK;
}

static enum sn_status
lex_listref(struct sn_lexer *lx, struct sn_tok *t)
{
    size_t p = lx->pos + 1;

    t->body_off = p;
    while (p < lx->len && (is_alpha(lx->s[p]) || is_digit(lx->s[p]) ||
                           lx->s[p] == '-' || lx->s[p] == '.'))
        p++;
    if (p == t->body_off)
        return fail(lx, lx->pos, "expected a list name after '@'");
    t->type = SN_TOK_LISTREF;
    t->body_len = p - t->body_off;
    lx->pos = p;
    return SN_OK;
}

/* Two-character operators first, then single characters. */
static enum sn_status
lex_punct(struct sn_lexer *lx, struct sn_tok *t)
{
    char c = lx->s[lx->pos];
    char d = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : '\0';
    size_t n = 2;

    if (c == '=' && d == '=')
        t->type = SN_TOK_EQ;
    else if (c == '=' && d == '~')
        t->type = SN_TOK_MATCH;
    else if (c == '!' && d == '=')
        t->type = SN_TOK_NE;
    else if (c == '!' && d == '~')
        t->type = SN_TOK_NMATCH;
    else if (c == '<' && d == '=')
        t->type = SN_TOK_LE;
    else if (c == '>' && d == '=')
        t->type = SN_TOK_GE;
    else if ((c == '&' && d == '&') || (c == '|' && d == '|'))
        return fail(lx, lx->pos,
                    c == '&' ? "use 'and' instead of '&&'"
                             : "use 'or' instead of '||'");
    else {
        n = 1;
        switch (c) {
        case '(':
            t->type = SN_TOK_LPAREN;
            break;
        case ')':
            t->type = SN_TOK_RPAREN;
            break;
        case '[':
            t->type = SN_TOK_LBRACK;
            break;
        case ']':
            t->type = SN_TOK_RBRACK;
            break;
        case ',':
            t->type = SN_TOK_COMMA;
            break;
        case '<':
            t->type = SN_TOK_LT;
            break;
        case '>':
            t->type = SN_TOK_GT;
            break;
        case '=':
            return fail(lx, lx->pos, "use '==' to compare");
        case '!':
            return fail(lx, lx->pos, "use 'not' to negate");
        case '\'':
            return fail(lx, lx->pos, "strings are written in double quotes");
        case ':':
            return fail(lx, lx->pos,
                        "unexpected ':' (quote IPv6 addresses: "
                        "\"2001:db8::1\")");
        default: {
            snprintf(lx->err, sizeof(lx->err), "unexpected character '%c'", c);
            if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                snprintf(lx->err, sizeof(lx->err), "unexpected byte 0x%02x",
                         (unsigned char)c);
            lx->err_off = lx->pos;
            return SN_EINVAL;
        }
        }
    }
    lx->pos += n;
    return SN_OK;
}

enum sn_status
sn_lex_next(struct sn_lexer *lx, struct sn_tok *t)
{
    enum sn_status rc;
    size_t ws = lx->pos;
    char c;

    while (lx->pos < lx->len &&
           (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' ||
            lx->s[lx->pos] == '\n' || lx->s[lx->pos] == '\r'))
        lx->pos++;
    memset(t, 0, sizeof(*t));
    t->off = lx->pos;
    if (lx->pos >= lx->len) {
        /* "Ends early" errors point just past the last token, not at the
         * trailing newline of a block scalar. */
        t->off = ws;
        t->type = SN_TOK_EOF;
        return SN_OK;
    }
    c = lx->s[lx->pos];
    if (c == 'i' && lx->pos + 1 < lx->len &&
        (lx->s[lx->pos + 1] == '"' || lx->s[lx->pos + 1] == '@')) {
        lx->pos++;
        rc = lx->s[lx->pos] == '"' ? lex_string(lx, t) : lex_listref(lx, t);
        t->ci = true;
    } else if (c == '"') {
        rc = lex_string(lx, t);
    } else if (c == '/') {
        rc = lex_regex(lx, t);
    } else if (c == '@') {
        rc = lex_listref(lx, t);
    } else if (is_digit(c) || (c == '-' && lx->pos + 1 < lx->len &&
                               is_digit(lx->s[lx->pos + 1]))) {
        rc = lex_number(lx, t);
    } else if (is_alpha(c)) {
        rc = lex_ident(lx, t);
    } else {
        rc = lex_punct(lx, t);
    }
    t->len = lx->pos - t->off;
    return rc;
}

const char *
sn_tok_name(enum sn_tok_type t)
{
    switch (t) {
    case SN_TOK_EOF:
        return "end of expression";
    case SN_TOK_IDENT:
        return "a field name";
    case SN_TOK_STRING:
        return "a string";
    case SN_TOK_REGEX:
        return "a regex";
    case SN_TOK_NUMBER:
        return "a number";
    case SN_TOK_ADDR:
        return "an address";
    case SN_TOK_LISTREF:
        return "a list reference";
    case SN_TOK_LPAREN:
        return "'('";
    case SN_TOK_RPAREN:
        return "')'";
    case SN_TOK_LBRACK:
        return "'['";
    case SN_TOK_RBRACK:
        return "']'";
    case SN_TOK_COMMA:
        return "','";
    case SN_TOK_EQ:
        return "'=='";
    case SN_TOK_NE:
        return "'!='";
    case SN_TOK_LT:
        return "'<'";
    case SN_TOK_LE:
        return "'<='";
    case SN_TOK_GT:
        return "'>'";
    case SN_TOK_GE:
        return "'>='";
    case SN_TOK_MATCH:
        return "'=~'";
    case SN_TOK_NMATCH:
        return "'!~'";
    case SN_TOK_AND:
        return "'and'";
    case SN_TOK_OR:
        return "'or'";
    case SN_TOK_NOT:
        return "'not'";
    case SN_TOK_IN:
        return "'in'";
    case SN_TOK_CONTAINS:
        return "'contains'";
    case SN_TOK_STARTSWITH:
        return "'startswith'";
    case SN_TOK_ENDSWITH:
        return "'endswith'";
    case SN_TOK_CIDR:
        return "'cidr'";
    case SN_TOK_EXISTS:
        return "'exists'";
    case SN_TOK_TRUE:
        return "'true'";
    case SN_TOK_FALSE:
        return "'false'";
    }
    return "?";
}

void
sn_lex_unescape(const char *body, size_t body_len, char *out, size_t *out_len)
{
    size_t n = 0;

    for (size_t p = 0; p < body_len; p++) {
        if (body[p] != '\\' || p + 1 >= body_len) {
            out[n++] = body[p];
            continue;
        }
        p++;
        switch (body[p]) {
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 'x':
            out[n++] = (char)(hexval(body[p + 1]) * 16 + hexval(body[p + 2]));
            p += 2;
            break;
        default:
            out[n++] = body[p];
            break; /* \" and \\ */
        }
    }
    *out_len = n;
}

size_t
sn_lex_body_offset(const char *body, size_t body_len, size_t off)
{
    size_t p = 0, n = 0;

    while (p < body_len && n < off) {
        if (body[p] == '\\' && p + 1 < body_len)
            p += body[p + 1] == 'x' ? 4 : 2;
        else
            p++;
        n++;
    }
    return p < body_len ? p : body_len;
}
