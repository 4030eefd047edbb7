/*
 * Tests of the rules engine library (src/rules/): lexer, parser, every
 * operator, precedence, diagnostics with exact positions, extraction,
 * traces, CIDR, case folding, regex limits and the prefilter (a property
 * test: with and without it, the same rules match the same events).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "core/buf.h"
#include "rules/compile.h"
#include "rules/correlate.h"
#include "rules/eval.h"
#include "rules/expr_lex.h"
#include "rules/expr_parse.h"
#include "rules/ip.h"
#include "rules/load.h"
#include "rules/prefilter.h"
#include "rules/regex.h"
#include "rules/value.h"
#include "sn_test.h"

/* ---- a test event ------------------------------------------------------- */

struct tfield {
    const char *name;
    struct sn_value v;
};

struct tev {
    const char *hdr[SN_RF_COUNT_]; /* string header fields; NULL: absent */
    int pri;                       /* -1: absent */
    struct tfield extra[8];
    size_t n_extra;
};

static bool
tev_get(void *ctx, int id, const char *name, size_t name_len,
        struct sn_value *out)
{
    struct tev *e = ctx;

    if (id == SN_RF_SEVERITY || id == SN_RF_FACILITY || id == SN_RF_PRI) {
        if (e->pri < 0)
            return false;
        out->type = SN_VAL_INT;
        out->u.i = id == SN_RF_SEVERITY   ? e->pri % 8
                   : id == SN_RF_FACILITY ? e->pri / 8
                                          : e->pri;
        return true;
    }
    if (id < SN_RF_COUNT_) {
        if (e->hdr[id] == NULL)
            return false;
        out->type = SN_VAL_STR;
        out->u.s.ptr = e->hdr[id];
        out->u.s.len = strlen(e->hdr[id]);
        return true;
    }
    for (size_t i = 0; i < e->n_extra; i++) {
        if (strlen(e->extra[i].name) == name_len &&
            memcmp(e->extra[i].name, name, name_len) == 0) {
            *out = e->extra[i].v;
            return true;
        }
    }
    return false;
}

static struct tev
ev_msg(const char *app, const char *msg)
{
    struct tev e;

    memset(&e, 0, sizeof(e));
    e.hdr[SN_RF_HOSTNAME] = "web1";
    e.hdr[SN_RF_APPNAME] = app;
    e.hdr[SN_RF_PROCID] = "1234";
    e.hdr[SN_RF_MSG] = msg;
    e.pri = 4 * 8 + 3; /* auth.err */
    return e;
}

static void
ev_str(struct tev *e, const char *name, const char *s)
{
    e->extra[e->n_extra].name = name;
    e->extra[e->n_extra].v.type = SN_VAL_STR;
    e->extra[e->n_extra].v.u.s.ptr = s;
    e->extra[e->n_extra].v.u.s.len = strlen(s);
    e->n_extra++;
}

static void
ev_ip(struct tev *e, const char *name, const char *s)
{
    struct sn_ip ip;

    sn_ip_parse(s, strlen(s), &ip);
    e->extra[e->n_extra].name = name;
    e->extra[e->n_extra].v.type = SN_VAL_IP;
    e->extra[e->n_extra].v.u.ip.family = ip.family;
    memcpy(e->extra[e->n_extra].v.u.ip.addr, ip.addr, 16);
    e->n_extra++;
}

static void
ev_int(struct tev *e, const char *name, int64_t i)
{
    e->extra[e->n_extra].name = name;
    e->extra[e->n_extra].v.type = SN_VAL_INT;
    e->extra[e->n_extra].v.u.i = i;
    e->n_extra++;
}

/* ---- helpers --------------------------------------------------------------
 */

/* Build a ruleset from YAML text; diagnostics printed into *diags_out
 * (caller frees) one per line. */
static struct sn_ruleset *
build(const char *yaml, char **diags_out)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    sn_diags_init(&d);
    if (sn_rules_src_add_mem(src, "t.yaml", yaml, strlen(yaml), &d) == SN_OK)
        sn_ruleset_build(src, &rs, &d);
    sn_diags_print(&d, f);
    fclose(f);
    if (diags_out != NULL)
        *diags_out = text;
    else {
        if (len > 0)
            printf("# unexpected diagnostics:\n%s", text);
        free(text);
    }
    sn_diags_fini(&d);
    sn_rules_src_free(src);
    return rs;
}

/* One rule with this match expression (as a YAML block scalar). */
static struct sn_ruleset *
build_expr(const char *expr, const char *lists, char **diags)
{
    char yaml[8192];

    snprintf(yaml, sizeof(yaml),
             "%s%srules:\n  - id: t\n    title: t\n    severity: low\n"
             "    match: |\n      %s\n",
             lists ? lists : "", lists ? "\n---\n" : "", expr);
    return build(yaml, diags);
}

/* Evaluate expr on e: 1 match, 0 no match, -1 did not compile. Checks that
 * the prefilter agrees with a full evaluation and with explain. */
static int
eval_expr_lists(const char *expr, const char *lists, struct tev *e)
{
    struct sn_ruleset *rs = build_expr(expr, lists, NULL);
    struct sn_rules_scratch *sc;
    struct sn_rule_event ev = { e, tev_get };
    const struct sn_rule_match *m;
    struct sn_rule_explain x;
    size_t n1, n2;

    if (rs == NULL) {
        printf("# did not compile: %s\n", expr);
        return -1;
    }
    sc = sn_rules_scratch_new(rs);
    n1 = sn_rules_eval(rs, sc, &ev, 0, &m);
    n2 = sn_rules_eval(rs, sc, &ev, SN_RULES_NO_PREFILTER, &m);
    sn_rules_explain(rs, sc, &ev, &rs->rules[0], &x);
    if (n1 != n2 || n2 != (size_t)x.matched)
        printf("# disagreement on %s: prefilter %zu, full %zu, explain %d\n",
               expr, n1, n2, x.matched);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
    return n1 != n2 || n2 != (size_t)x.matched ? -2 : (int)n2;
}

static int
eval_expr(const char *expr, struct tev *e)
{
    return eval_expr_lists(expr, NULL, e);
}

/* The diagnostics building expr produces. */
static char *
expr_diags(const char *expr)
{
    char *d = NULL;

    sn_ruleset_free(build_expr(expr, NULL, &d));
    return d;
}

static char *
yaml_diags(const char *yaml)
{
    char *d = NULL;

    sn_ruleset_free(build(yaml, &d));
    return d;
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static const char *
srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

/* ---- lexer and parser -----------------------------------------------------
 */

SN_TEST(lexer_tokens)
{
    const char *s = "a.b_c == i\"x\\\"y\" and n >= -2.5e3 or ip cidr "
                    "10.0.0.0/8 in @l i@m /re\\/x/i !~ ( ) [ , ]";
    enum sn_tok_type want[] = {
        SN_TOK_IDENT,   SN_TOK_EQ,      SN_TOK_STRING, SN_TOK_AND,
        SN_TOK_IDENT,   SN_TOK_GE,      SN_TOK_NUMBER, SN_TOK_OR,
        SN_TOK_IDENT,   SN_TOK_CIDR,    SN_TOK_ADDR,   SN_TOK_IN,
        SN_TOK_LISTREF, SN_TOK_LISTREF, SN_TOK_REGEX,  SN_TOK_NMATCH,
        SN_TOK_LPAREN,  SN_TOK_RPAREN,  SN_TOK_LBRACK, SN_TOK_COMMA,
        SN_TOK_RBRACK,  SN_TOK_EOF,
    };
    struct sn_lexer lx;
    struct sn_tok t;
    char out[16];
    size_t n;

    sn_lex_init(&lx, s, strlen(s));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK_EQ(sn_lex_next(&lx, &t), SN_OK);
        CHECK_EQ(t.type, want[i]);
        if (i == 2) {
            CHECK(t.ci);
            const char *o = out;
            sn_lex_unescape(s + t.body_off, t.body_len, out, &n);
            CHECK_SLICE(o, n, "x\"y");
        }
        if (i == 13)
            CHECK(t.ci);
        if (i == 14) {
            CHECK(t.ci);
            CHECK_SLICE(s + t.body_off, t.body_len, "re\\/x");
        }
    }
}

SN_TEST(lexer_errors)
{
    static const struct {
        const char *s;
        size_t off;
        const char *msg_part;
    } cases[] = {
        { "a = 1", 2, "use '=='" },
        { "a == 'x'", 5, "double quotes" },
        { "a == \"x", 5, "unterminated string" },
        { "a == \"\\d\"", 6, "unknown escape" },
        { "a && b", 2, "use 'and'" },
        { "a == 1.2.3", 5, "four parts" },
        { "a == fe80::1", 9, "quote IPv6" },
        { "a =~ /x", 5, "unterminated regex" },
        { "a =~ /x/g", 8, "only 'i'" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sn_lexer lx;
        struct sn_tok t;
        enum sn_status rc = SN_OK;

        sn_lex_init(&lx, cases[i].s, strlen(cases[i].s));
        while (rc == SN_OK) {
            rc = sn_lex_next(&lx, &t);
            if (rc == SN_OK && t.type == SN_TOK_EOF)
                break;
        }
        CHECK_EQ(rc, SN_EINVAL);
        CHECK_EQ(lx.err_off, cases[i].off);
        if (strstr(lx.err, cases[i].msg_part) == NULL)
            printf("# %s: message \"%s\"\n", cases[i].s, lx.err);
        CHECK(strstr(lx.err, cases[i].msg_part) != NULL);
    }
}

/* Render a syntax tree as a fully parenthesised string. */
static void
show(const struct sn_expr *e, struct sn_buf *b)
{
    switch (e->kind) {
    case SN_EX_AND:
    case SN_EX_OR:
        sn_buf_putc(b, '(');
        for (size_t i = 0; i < e->n_kids; i++) {
            if (i > 0)
                sn_buf_puts(b, e->kind == SN_EX_AND ? " & " : " | ");
            show(e->kids[i], b);
        }
        sn_buf_putc(b, ')');
        break;
    case SN_EX_NOT:
        sn_buf_puts(b, "!");
        show(e->kids[0], b);
        break;
    case SN_EX_CONST:
        sn_buf_puts(b, e->value ? "T" : "F");
        break;
    case SN_EX_EXISTS:
        sn_buf_printf(b, "?%s", e->field);
        break;
    case SN_EX_CMP:
        sn_buf_puts(b, e->field);
        break;
    }
}

static void
check_parse(int *sn_failed_, const char *s, const char *want)
{
    struct sn_arena a;
    struct sn_expr *e;
    struct sn_expr_err err;
    struct sn_buf b;

    sn_arena_init(&a, 4096, 0);
    sn_buf_init(&b, 4096);
    if (sn_expr_parse(s, strlen(s), &a, &e, &err) != SN_OK) {
        printf("# parse of %s failed: %s at %zu\n", s, err.msg, err.off);
        *sn_failed_ = 1;
    } else {
        show(e, &b);
        CHECK_STR(sn_buf_cstr(&b), want);
    }
    sn_buf_fini(&b);
    sn_arena_fini(&a);
}

SN_TEST(precedence)
{
    check_parse(sn_failed_, "a == 1 or b == 2 and c == 3", "(a | (b & c))");
    check_parse(sn_failed_, "a == 1 and b == 2 or c == 3", "((a & b) | c)");
    check_parse(sn_failed_, "not a == 1 and b == 2", "(!a & b)");
    check_parse(sn_failed_, "not (a == 1 and b == 2)", "!(a & b)");
    check_parse(sn_failed_, "(a == 1 or b == 2) and c == 3", "((a | b) & c)");
    check_parse(sn_failed_, "a == 1 and b == 2 and c == 3 and d == 4",
                "(a & b & c & d)");
    check_parse(sn_failed_, "not not exists x or true", "(!!?x | T)");
}

SN_TEST(parse_errors)
{
    static const struct {
        const char *s;
        size_t off;
        const char *msg;
    } cases[] = {
        { "a ==", 4,
          "expected a value (string, number, address, "
          "true/false), found end of expression" },
        { "a == 1 and", 10, "expression ends early: expected a condition" },
        { "(a == 1", 0, "unclosed '(' (missing ')')" },
        { "a == 1)", 6, "unbalanced ')'" },
        { "a == 1 b == 2", 7,
          "expected 'and', 'or' or the end, found a "
          "field name" },
        { "a contians \"x\"", 2,
          "expected an operator (==, !=, <, <=, >, >=, in, contains, "
          "startswith, endswith, =~, !~, cidr) after the field name, found "
          "a field name" },
        { "a in \"x\"", 5, "'in' takes a list: [\"a\", \"b\"] or @name" },
        { "a == [1, 2]", 5, "a [...] list needs 'in' or 'cidr', not '=='" },
        { "a in [1 2]", 8, "expected ',' or ']' in a list, found a number" },
        { "a in []", 5, "empty list" },
        { "", 0, "empty expression" },
        { "== 1", 0,
          "expected a condition (a field name, 'not', 'exists' "
          "or '('), found '=='" },
        { "a == @l", 5, "a list reference needs 'in' or 'cidr', not '=='" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sn_arena a;
        struct sn_expr *e;
        struct sn_expr_err err;

        sn_arena_init(&a, 4096, 0);
        CHECK_EQ(sn_expr_parse(cases[i].s, strlen(cases[i].s), &a, &e, &err),
                 SN_EINVAL);
        CHECK_EQ(err.off, cases[i].off);
        CHECK_STR(err.msg, cases[i].msg);
        sn_arena_fini(&a);
    }
}

SN_TEST(parse_depth_limit)
{
    char s[1024];
    size_t n = 0;
    struct sn_arena a;
    struct sn_expr *e;
    struct sn_expr_err err;

    for (int i = 0; i < 100; i++)
        s[n++] = '(';
    memcpy(s + n, "a == 1", 6);
    n += 6;
    for (int i = 0; i < 100; i++)
        s[n++] = ')';
    sn_arena_init(&a, 4096, 0);
    CHECK_EQ(sn_expr_parse(s, n, &a, &e, &err), SN_EINVAL);
    CHECK_STR(err.msg, "expression nested too deeply");
    sn_arena_fini(&a);
}

/* ---- operators --------------------------------------------------------------
 */

SN_TEST(op_equality)
{
    struct tev e = ev_msg("sshd", "Failed password for root");

    ev_str(&e, "user.name", "root");
    ev_int(&e, "source.port", 22);
    ev_str(&e, "port_text", "22");
    CHECK_EQ(eval_expr("appname == \"sshd\"", &e), 1);
    CHECK_EQ(eval_expr("appname == \"SSHD\"", &e), 0);
    CHECK_EQ(eval_expr("appname != \"cron\"", &e), 1);
    CHECK_EQ(eval_expr("appname != \"sshd\"", &e), 0);
    CHECK_EQ(eval_expr("source.port == 22", &e), 1);
    CHECK_EQ(eval_expr("source.port == 22.0", &e), 1);
    CHECK_EQ(eval_expr("source.port == \"22\"", &e), 1);
    CHECK_EQ(eval_expr("port_text == 22", &e), 1);
    CHECK_EQ(eval_expr("procid == 1234", &e), 1);
    CHECK_EQ(eval_expr("procid == \"1234\"", &e), 1);
    CHECK_EQ(eval_expr("severity == 3 and facility == 4 and pri == 35", &e), 1);
    /* Absent fields: every comparison is false, != included. */
    CHECK_EQ(eval_expr("nope == \"x\"", &e), 0);
    CHECK_EQ(eval_expr("nope != \"x\"", &e), 0);
    CHECK_EQ(eval_expr("not nope == \"x\"", &e), 1);
    CHECK_EQ(eval_expr("msgid == \"x\"", &e), 0);
}

SN_TEST(op_order)
{
    struct tev e = ev_msg("sshd", "m");

    ev_int(&e, "n", 10);
    ev_str(&e, "s", "beta");
    ev_str(&e, "f", "2.5");
    CHECK_EQ(eval_expr("n < 11 and n <= 10 and n > 9 and n >= 10", &e), 1);
    CHECK_EQ(eval_expr("n < 10", &e), 0);
    CHECK_EQ(eval_expr("n > 10", &e), 0);
    CHECK_EQ(eval_expr("n < 10.5", &e), 1);
    CHECK_EQ(eval_expr("n > -1", &e), 1);
    CHECK_EQ(eval_expr("f > 2 and f < 3", &e), 1);
    CHECK_EQ(eval_expr("s > \"alpha\" and s < \"gamma\"", &e), 1);
    CHECK_EQ(eval_expr("s < 5", &e), 0); /* "beta" is not a number */
    CHECK_EQ(eval_expr("severity <= 3", &e), 1);
    CHECK_EQ(eval_expr("severity < 3", &e), 0);
}

SN_TEST(op_strings)
{
    struct tev e = ev_msg("sshd", "Failed password for root from 1.2.3.4");

    CHECK_EQ(eval_expr("msg contains \"password for\"", &e), 1);
    CHECK_EQ(eval_expr("msg contains \"PASSWORD\"", &e), 0);
    CHECK_EQ(eval_expr("msg contains i\"PASSWORD\"", &e), 1);
    CHECK_EQ(eval_expr("msg startswith \"Failed\"", &e), 1);
    CHECK_EQ(eval_expr("msg startswith \"failed\"", &e), 0);
    CHECK_EQ(eval_expr("msg startswith i\"fAILED\"", &e), 1);
    CHECK_EQ(eval_expr("msg endswith \"1.2.3.4\"", &e), 1);
    CHECK_EQ(eval_expr("msg endswith \"1.2.3.5\"", &e), 0);
    CHECK_EQ(eval_expr("msg endswith i\"FROM 1.2.3.4\"", &e), 1);
    CHECK_EQ(eval_expr("msg contains \"\"", &e), 1);
    CHECK_EQ(eval_expr("msg startswith \"Failed password for root from "
                       "1.2.3.4 and more\"",
                       &e),
             0);
    CHECK_EQ(eval_expr("appname == i\"SSHD\"", &e), 1);
    CHECK_EQ(eval_expr("appname != i\"SSHD\"", &e), 0);
    CHECK_EQ(eval_expr("procid contains \"23\"", &e), 1);
    /* The needle's first byte appears many times before the match. */
    e.hdr[SN_RF_MSG] = "aaaaaaaaab";
    CHECK_EQ(eval_expr("msg contains \"aab\"", &e), 1);
    CHECK_EQ(eval_expr("msg contains i\"AAB\"", &e), 1);
    CHECK_EQ(eval_expr("msg contains \"aac\"", &e), 0);
}

SN_TEST(op_in)
{
    struct tev e = ev_msg("sshd", "m");

    ev_str(&e, "user.name", "Admin");
    ev_int(&e, "source.port", 22);
    ev_ip(&e, "source.ip", "192.0.2.7");
    CHECK_EQ(eval_expr("appname in [\"cron\", \"sshd\"]", &e), 1);
    CHECK_EQ(eval_expr("appname in [\"cron\", \"su\"]", &e), 0);
    CHECK_EQ(eval_expr("user.name in [\"admin\", \"root\"]", &e), 0);
    CHECK_EQ(eval_expr("user.name in [i\"admin\", i\"root\"]", &e), 1);
    CHECK_EQ(eval_expr("source.port in [21, 22, 23]", &e), 1);
    CHECK_EQ(eval_expr("source.port in [\"22\"]", &e), 1);
    CHECK_EQ(eval_expr("source.port in [80, 443]", &e), 0);
    CHECK_EQ(eval_expr("source.ip in [192.0.2.7, \"2001:db8::1\"]", &e), 1);
    CHECK_EQ(eval_expr("source.ip in [\"192.0.2.8\"]", &e), 0);
    CHECK_EQ(eval_expr("procid in [1234]", &e), 1);
    CHECK_EQ(eval_expr_lists("user.name in @admins",
                             "lists:\n  admins: [root, admin, toor]", &e),
             0);
    CHECK_EQ(eval_expr_lists("user.name in i@admins",
                             "lists:\n  admins: [root, admin, toor]", &e),
             1);
    CHECK_EQ(eval_expr_lists("source.port in @ports",
                             "lists:\n  ports: [22, 2222]", &e),
             1);
}

SN_TEST(op_regex)
{
    struct tev e = ev_msg("sshd", "Failed password for root from 1.2.3.4");

    CHECK_EQ(eval_expr("msg =~ /^Failed \\S+ for/", &e), 1);
    CHECK_EQ(eval_expr("msg =~ /^failed/", &e), 0);
    CHECK_EQ(eval_expr("msg =~ /^failed/i", &e), 1);
    CHECK_EQ(eval_expr("msg =~ i\"^FAILED\"", &e), 1);
    CHECK_EQ(eval_expr("msg =~ \"from \\\\d+\\\\.\"", &e), 1);
    CHECK_EQ(eval_expr("msg !~ /Accepted/", &e), 1);
    CHECK_EQ(eval_expr("msg !~ /Failed/", &e), 0);
    CHECK_EQ(eval_expr("msg =~ /a\\/b/", &e), 0);
    CHECK_EQ(eval_expr("nope !~ /x/", &e), 0); /* absent: false */
    CHECK_EQ(eval_expr("procid =~ /^12/", &e), 1);
    CHECK_EQ(eval_expr("msg =~ /root|admin/ and msg =~ /(?:x|1\\.2)/", &e), 1);
}

SN_TEST(op_cidr)
{
    struct tev e = ev_msg("sshd", "m");

    ev_ip(&e, "a4", "10.1.2.3");
    ev_str(&e, "s4", "192.168.7.9");
    ev_ip(&e, "a6", "2001:db8:1::5");
    ev_str(&e, "mapped", "::ffff:10.9.9.9");
    ev_str(&e, "junk", "not-an-ip");
    CHECK_EQ(eval_expr("a4 cidr 10.0.0.0/8", &e), 1);
    CHECK_EQ(eval_expr("a4 cidr \"10.1.2.0/24\"", &e), 1);
    CHECK_EQ(eval_expr("a4 cidr \"10.1.3.0/24\"", &e), 0);
    CHECK_EQ(eval_expr("a4 cidr 10.1.2.3", &e), 1);
    CHECK_EQ(eval_expr("a4 cidr \"10.1.2.4/31\"", &e), 0);
    CHECK_EQ(eval_expr("a4 cidr \"10.1.2.0/30\"", &e), 1);
    CHECK_EQ(eval_expr("a4 cidr \"0.0.0.0/0\"", &e), 1);
    CHECK_EQ(eval_expr("s4 cidr [10.0.0.0/8, 192.168.0.0/16]", &e), 1);
    CHECK_EQ(eval_expr("a6 cidr \"2001:db8::/32\"", &e), 1);
    CHECK_EQ(eval_expr("a6 cidr \"2001:db8:2::/48\"", &e), 0);
    CHECK_EQ(eval_expr("a6 cidr \"2001:db8:1::/127\"", &e), 0);
    CHECK_EQ(eval_expr("a6 cidr \"2001:db8:1::4/126\"", &e), 1);
    CHECK_EQ(eval_expr("a6 cidr 10.0.0.0/8", &e), 0);
    CHECK_EQ(eval_expr("a4 cidr \"::/0\"", &e), 0);
    CHECK_EQ(eval_expr("mapped cidr 10.0.0.0/8", &e), 1);
    CHECK_EQ(eval_expr("mapped cidr \"::ffff:10.0.0.0/104\"", &e), 1);
    CHECK_EQ(eval_expr("junk cidr 10.0.0.0/8", &e), 0);
    CHECK_EQ(eval_expr("a4 == 10.1.2.3 and a6 == \"2001:db8:1::5\"", &e), 1);
    CHECK_EQ(eval_expr("s4 == 192.168.7.9", &e), 1);
    CHECK_EQ(eval_expr("a4 > 10.1.2.2 and a4 < 10.1.2.4", &e), 1);
    CHECK_EQ(eval_expr_lists("a4 cidr @nets and not s4 cidr @nets",
                             "lists:\n  nets: [\"10.0.0.0/8\", \"fd00::/8\"]",
                             &e),
             1);
}

SN_TEST(cidr_parse)
{
    struct sn_cidr c;
    bool hb;

    CHECK(sn_cidr_parse("10.0.0.0/8", 10, &c, &hb) && !hb && c.prefix == 8);
    CHECK(sn_cidr_parse("10.0.0.1/8", 10, &c, &hb) && hb);
    CHECK(!sn_cidr_parse("10.0.0.0/33", 11, &c, &hb));
    CHECK(!sn_cidr_parse("10.0.0.0/", 9, &c, &hb));
    CHECK(!sn_cidr_parse("10.0.0/8", 8, &c, &hb));
    CHECK(sn_cidr_parse("::/0", 4, &c, &hb) && c.prefix == 0);
    CHECK(sn_cidr_parse("2001:db8::/129", 14, &c, &hb) == false);
    CHECK(sn_cidr_parse("::ffff:10.0.0.0/104", 19, &c, &hb) &&
          c.net.family == 4 && c.prefix == 8);
}

SN_TEST(op_exists_bool_const)
{
    struct tev e = ev_msg("sshd", "m");
    struct sn_value b = { .type = SN_VAL_BOOL };

    b.u.b = true;
    e.extra[0].name = "flag";
    e.extra[0].v = b;
    e.n_extra = 1;
    CHECK_EQ(eval_expr("exists flag", &e), 1);
    CHECK_EQ(eval_expr("exists msgid", &e), 0);
    CHECK_EQ(eval_expr("not exists msgid", &e), 1);
    CHECK_EQ(eval_expr("flag == true", &e), 1);
    CHECK_EQ(eval_expr("flag == false", &e), 0);
    CHECK_EQ(eval_expr("flag != false", &e), 1);
    CHECK_EQ(eval_expr("flag == \"true\"", &e), 1);
    CHECK_EQ(eval_expr("flag in [true]", &e), 1);
    CHECK_EQ(eval_expr("true", &e), 1);
    CHECK_EQ(eval_expr("false or appname == \"sshd\"", &e), 1);
    CHECK_EQ(eval_expr("not true", &e), 0);
}

SN_TEST(short_circuit_and_precedence)
{
    struct tev e = ev_msg("sshd", "m");

    CHECK_EQ(eval_expr("appname == \"x\" or appname == \"sshd\" and "
                       "msg == \"m\"",
                       &e),
             1);
    CHECK_EQ(eval_expr("(appname == \"x\" or appname == \"sshd\") and "
                       "msg == \"n\"",
                       &e),
             0);
    CHECK_EQ(eval_expr("appname == \"x\" or appname == \"sshd\" and "
                       "msg == \"n\"",
                       &e),
             0);
    CHECK_EQ(eval_expr("not appname == \"x\" and msg == \"m\"", &e), 1);
}

/* ---- regex limits
 * ------------------------------------------------------------ */

SN_TEST(regex_match_limit)
{
    char msg[64];
    struct tev e;
    struct sn_ruleset *rs;
    struct sn_rules_scratch *sc;
    struct sn_rule_event ev = { &e, tev_get };
    const struct sn_rule_match *m;
    struct sn_rule_explain x;
    struct sn_buf b;

    memset(msg, 'a', 40);
    msg[40] = 'b';
    msg[41] = '\0';
    e = ev_msg("x", msg);
    /* Exponential backtracking: stopped by the match limit, counted, and
     * never a pass (not even for !~). */
    rs = build_expr("msg =~ /^(a+)+$/ or msg !~ /^(a+)+$/", NULL, NULL);
    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    sc = sn_rules_scratch_new(rs);
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 0);
    CHECK_EQ(sn_rules_scratch_stats(sc)->regex_errors, 2);
    sn_rules_explain(rs, sc, &ev, &rs->rules[0], &x);
    sn_buf_init(&b, 1 << 16);
    sn_rules_explain_format(&x, &b);
    CHECK(strstr(sn_buf_cstr(&b), "regex match limit exceeded") != NULL);
    sn_buf_fini(&b);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

/* ---- diagnostics
 * ---------------------------------------------------------------- */

SN_TEST(diag_expr_positions)
{
    char *d;

    /* build_expr puts the expression on line 6, column 7 (a | block). */
    d = expr_diags("appname == \"sshd\" and msg contians \"x\"");
    CHECK_STR(d, "t.yaml:6:33: error: rule \"t\": expected an operator (==, "
                 "!=, <, <=, >, >=, in, contains, startswith, endswith, =~, "
                 "!~, cidr) after the field name, found a field name\n");
    free(d);
    d = expr_diags("msg =~ /fail(ed/");
    CHECK_STR(d, "t.yaml:6:22: error: rule \"t\": invalid regex: missing "
                 "closing parenthesis\n");
    free(d);
    d = expr_diags("msg =~ \"a\\\\d(\"");
    CHECK_STR(d, "t.yaml:6:20: error: rule \"t\": invalid regex: missing "
                 "closing parenthesis\n");
    free(d);
    d = expr_diags("user.name in @admins");
    CHECK_STR(d, "t.yaml:6:20: error: rule \"t\": unknown list \"@admins\" "
                 "(lists are defined in a \"lists:\" document)\n");
    free(d);
    d = expr_diags("source.ip cidr \"10.0.0.0/33\"");
    CHECK_STR(d, "t.yaml:6:22: error: rule \"t\": invalid network "
                 "\"10.0.0.0/33\" (want 10.0.0.0/8 or 2001:db8::/32)\n");
    free(d);
    d = expr_diags("source.ip cidr 10.0.0.1/8");
    CHECK_STR(d, "t.yaml:6:22: warning: rule \"t\": \"10.0.0.1/8\" has host "
                 "bits set; it means 10.0.0.0/8\n");
    free(d);
    d = expr_diags("msg contains 5");
    CHECK_STR(d, "t.yaml:6:20: error: rule \"t\": 'contains' takes a "
                 "string: \"...\" or i\"...\"\n");
    free(d);
    d = expr_diags("hostnme == \"web1\"");
    CHECK_STR(d, "t.yaml:6:7: warning: rule \"t\": field \"hostnme\" is "
                 "neither a header field nor extracted by any rule; did you "
                 "mean \"hostname\"?\n");
    free(d);
}

SN_TEST(diag_scalar_styles)
{
    char *d;

    /* Plain scalar on the key's line. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\n"
                   "match: appname == \"x\" and msg =~ /(/\n");
    CHECK_STR(d, "t.yaml:4:36: error: rule \"a\": invalid regex: missing "
                 "closing parenthesis\n");
    free(d);
    /* Double-quoted scalar with YAML escapes before the error. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\n"
                   "match: \"appname == \\\"x\\\" and msg =~ /(/\"\n");
    CHECK_STR(d, "t.yaml:4:39: error: rule \"a\": invalid regex: missing "
                 "closing parenthesis\n");
    free(d);
    /* Single-quoted scalar with '' escapes. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\n"
                   "match: 'msg == \"it''s\" and bad ~ 1'\n");
    CHECK_STR(d, "t.yaml:4:32: error: rule \"a\": unexpected character '~'\n");
    free(d);
    /* Folded block scalar over several lines. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: >\n"
                   "  appname == \"x\"\n"
                   "  and msg == \"y\"\n"
                   "  and msg ==\n");
    CHECK_STR(d, "t.yaml:7:13: error: rule \"a\": expected a value (string, "
                 "number, address, true/false), found end of expression\n");
    free(d);
    /* Multi-line plain scalar. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: appname == \"x\"\n"
                   "    and msg = \"y\"\n");
    CHECK_STR(d, "t.yaml:5:13: error: rule \"a\": use '==' to compare\n");
    free(d);
}

SN_TEST(diag_rule_keys)
{
    char *d;

    d = yaml_diags("id: a\ntitle: t\nserverity: low\nmatch: msg == \"x\"\n");
    CHECK_STR(d, "t.yaml:3:1: error: rule \"a\": unknown key \"serverity\" in "
                 "a rule; did you mean \"severity\"?\n"
                 "t.yaml:1:1: error: rule \"a\": a rule needs a \"severity\" "
                 "(info, low, medium, high, critical)\n");
    free(d);
    d = yaml_diags("id: a\ntitle: t\nseverity: hihg\nmatch: msg == \"x\"\n");
    CHECK_STR(d, "t.yaml:3:11: error: rule \"a\": unknown severity \"hihg\" "
                 "(info, low, medium, high, critical); did you mean "
                 "\"high\"?\n");
    free(d);
    d = yaml_diags("id: a\ntitle: [t]\nseverity: low\nenabled: yes\n"
                   "match: msg == \"x\"\n");
    CHECK_STR(d, "t.yaml:2:8: error: rule \"a\": \"title\" must be a string, "
                 "not a list\n"
                 "t.yaml:4:10: error: rule \"a\": \"enabled\" must be true or "
                 "false\n");
    free(d);
    d = yaml_diags(
        "rules:\n"
        "  - {id: a, title: t, severity: low, match: 'msg == \"x\"'}\n"
        "  - {id: a, title: t, severity: low, match: 'msg == \"y\"'}\n");
    CHECK_STR(d, "t.yaml:3:5: error: duplicate rule id \"a\" (first defined "
                 "at t.yaml:2)\n");
    free(d);
    d = yaml_diags("lists:\n  admins: [root]\n  unused: [x]\n---\n"
                   "id: a\ntitle: t\nseverity: low\n"
                   "match: user.name in @admisn\n");
    CHECK_STR(d, "t.yaml:8:21: error: rule \"a\": unknown list \"@admisn\"; "
                 "did you mean \"@admins\"?\n"
                 "t.yaml:2:11: warning: list \"admins\" is not used by any "
                 "rule\n"
                 "t.yaml:3:11: warning: list \"unused\" is not used by any "
                 "rule\n");
    free(d);
    d = yaml_diags("rulez: []\n");
    CHECK_STR(d, "t.yaml:1:1: error: unknown key \"rulez\" in a rule "
                 "document; did you mean \"rules\"?\n");
    free(d);
}

SN_TEST(diag_extract)
{
    char *d;

    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
                   "extract:\n"
                   "  - regex: 'from (?<ip>\\S+ port'\n"
                   "    fields: {ip: source.ip:ip}\n");
    CHECK_STR(d, "t.yaml:6:32: error: rule \"a\": invalid regex: missing "
                 "closing parenthesis\n");
    free(d);
    d = yaml_diags(
        "id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
        "extract:\n"
        "  - regex: 'from (?<addr>\\S+) port (?<port>\\d+)'\n"
        "    fields: {adr: source.ip:ip, port: source.port:integer}\n"
        "    form: msg\n");
    CHECK_STR(d, "t.yaml:8:5: error: rule \"a\": unknown key \"form\" in an "
                 "extract entry; did you mean \"from\"?\n");
    free(d);
    d = yaml_diags(
        "id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
        "extract:\n"
        "  - regex: 'from (?<addr>\\S+) port (?<port>\\d+)'\n"
        "    fields: {adr: source.ip:ip, port: source.port:integer}\n");
    CHECK_STR(d, "t.yaml:7:14: error: rule \"a\": the regex has no group "
                 "\"(?<adr>...)\"; did you mean \"addr\"?\n"
                 "t.yaml:7:51: error: rule \"a\": unknown type \"integer\" "
                 "(types: string, int, ip)\n"
                 "t.yaml:7:13: warning: rule \"a\": group \"addr\" is "
                 "captured but not stored; add it to \"fields\"\n");
    free(d);
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
                   "extract:\n"
                   "  - regex: '(?<h>\\S+)'\n"
                   "    fields: {h: hostname}\n");
    CHECK_STR(d, "t.yaml:7:17: error: rule \"a\": \"hostname\" is a header "
                 "field; extract into another name\n");
    free(d);
}

SN_TEST(diag_injection_lint)
{
    char *d;

    /* The fail2ban-style pattern: greedy .* then the address, not pinned
     * at the end: a crafted user name supplies the address. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
                   "extract:\n"
                   "  - regex: 'Failed .* from (?<ip>\\S+)'\n"
                   "    fields: {ip: source.ip:ip}\n");
    CHECK_STR(d, "t.yaml:6:20: warning: rule \"a\": greedy wildcard before "
                 "the address group \"ip\": text an attacker controls (a user "
                 "name) can supply a fake address; anchor the pattern with $ "
                 "after a fixed suffix, or match the text before it exactly "
                 "(\\S+ instead of .*)\n");
    free(d);
    /* Pinned by a fixed, anchored suffix: no warning. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
                   "extract:\n"
                   "  - regex: '^Failed .* from (?<ip>\\S+) port \\d+ ssh2$'\n"
                   "    fields: {ip: source.ip:ip}\n");
    CHECK_STR(d, "");
    free(d);
    /* Anchored, but a wildcard after the group unpins it. */
    d = yaml_diags("id: a\ntitle: t\nseverity: low\nmatch: msg == \"x\"\n"
                   "extract:\n"
                   "  - regex: '^.*rhost=(?<ip>\\S+) user=.*$'\n"
                   "    fields: {ip: source.address}\n");
    CHECK(d != NULL && strstr(d, "t.yaml:6:14: warning") != NULL);
    free(d);
}

SN_TEST(data_files_bad)
{
    static const char *const names[] = { "bad-expr", "bad-keys",
                                         "bad-extract-keys", "bad-corr-keys" };
    char path[1024];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct sn_rules_src *src = sn_rules_src_new();
        struct sn_ruleset *rs = NULL;
        struct sn_diags d;
        char *got = NULL, *want, *rel;
        size_t len = 0;
        FILE *f = open_memstream(&got, &len);

        sn_diags_init(&d);
        /* Diagnostics name the path as given: use the relative one. */
        snprintf(path, sizeof(path), "%s/tests/data/rules/%s.yaml", srcdir(),
                 names[i]);
        rel = strstr(path, "tests/data/rules/");
        want = read_file(path);
        if (want != NULL) {
            enum sn_status rc =
                sn_rules_src_add_mem(src, rel, want, strlen(want), &d);
            if (rc == SN_OK)
                sn_ruleset_build(src, &rs, &d);
            free(want);
        }
        /* Rules that load: their correlations must not. */
        if (rs != NULL) {
            struct sn_corr_set *set = NULL;
            CHECK(sn_corr_set_build(rs, &set, &d) == SN_ECONFIG);
            CHECK(set == NULL);
            sn_corr_set_free(set);
            sn_ruleset_free(rs);
            rs = NULL;
        }
        sn_diags_print(&d, f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/tests/data/rules/%s.expected",
                 srcdir(), names[i]);
        want = read_file(path);
        CHECK(want != NULL);
        CHECK(rs == NULL);
        if (want != NULL)
            CHECK_STR(got, want);
        free(want);
        free(got);
        sn_diags_fini(&d);
        sn_rules_src_free(src);
    }
}

/* ---- srcmap, regex helpers
 * -------------------------------------------------------- */

SN_TEST(regex_required_literals)
{
    static const struct {
        const char *re;
        const char *want; /* literals joined by '|', "" for none */
    } cases[] = {
        { "Failed password", "Failed password" },
        { "^Failed \\S+ for", "Failed " },
        { "ab?cdef", "cdef" },
        { "abc*de", "ab" },
        { "ab+cdef", "cdef" },
        { "x{0,3}yz", "yz" },
        { "xy{2}z", "xy" },
        { "foo|barbaz", "foo|barbaz" },
        { "foo|.*", "" },
        { "(?:a|b)cd(?<x>efgh)", "cd" },
        { "1\\.2\\.3", "1.2.3" },
        { "[abc]def[g]", "def" },
        { "\\Qabc\\E", "" },
        { "(?x)a b c", "" },
        { "\\d+ sessions", " sessions" },
        { "No space left on device", "No space left on device" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sn_arena a;
        struct sn_str *lits;
        size_t n;
        struct sn_buf b;

        sn_arena_init(&a, 4096, 0);
        sn_buf_init(&b, 4096);
        CHECK_EQ(
            sn_regex_required(cases[i].re, strlen(cases[i].re), &a, &lits, &n),
            SN_OK);
        for (size_t k = 0; k < n; k++) {
            if (k > 0)
                sn_buf_putc(&b, '|');
            sn_buf_append(&b, lits[k].ptr, lits[k].len);
        }
        CHECK_STR(sn_buf_cstr(&b), cases[i].want);
        sn_buf_fini(&b);
        sn_arena_fini(&a);
    }
}

/* ---- extraction, traces, sample rules
 * -------------------------------------------- */

static struct sn_ruleset *
load_data(const char *const *names, size_t n)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    char path[1024];

    sn_diags_init(&d);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/tests/data/rules/%s", srcdir(),
                 names[i]);
        sn_rules_src_add_file(src, path, &d);
    }
    sn_ruleset_build(src, &rs, &d);
    if (d.n > 0) {
        printf("# diagnostics:\n");
        sn_diags_print(&d, stdout);
    }
    sn_diags_fini(&d);
    sn_rules_src_free(src);
    return rs;
}

static const struct sn_rule_field_value *
field(const struct sn_rule_match *m, const char *name)
{
    for (size_t i = 0; i < m->n_fields; i++)
        if (strlen(name) == m->fields[i].name_len &&
            memcmp(name, m->fields[i].name, m->fields[i].name_len) == 0)
            return &m->fields[i];
    return NULL;
}

SN_TEST(sample_files_load)
{
    static const char *const files[] = { "sshd.yaml", "system.yaml" };
    struct sn_ruleset *rs = load_data(files, 2);
    const struct sn_rule *r;

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    CHECK_EQ(rs->n_rules, 8);
    r = sn_ruleset_find(rs, "ssh-auth-failure");
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_EQ(r->severity, SN_SEV_LOW);
        CHECK_EQ(r->n_tags, 2);
        CHECK_STR(r->tags[1], "attack.t1110");
        CHECK_EQ(r->n_kept, 3); /* threshold, window, group_by */
        CHECK_STR(r->kept[0]->key->str, "threshold");
        CHECK_EQ(r->n_req, 1);
        CHECK_SLICE(r->req[0].ptr, r->req[0].len, "Failed ");
    }
    r = sn_ruleset_find(rs, "disabled-example");
    CHECK(r != NULL && !r->enabled);
    r = sn_ruleset_find(rs, "sudo-auth-failure");
    CHECK(r != NULL && r->n_req == 2);
    sn_ruleset_free(rs);
}

SN_TEST(sshd_injection_extract)
{
    static const char *const files[] = { "sshd.yaml" };
    struct sn_ruleset *rs = load_data(files, 1);
    struct sn_rules_scratch *sc;
    struct tev e = ev_msg("sshd", "Failed password for invalid user admin "
                                  "from 1.2.3.4 port 22 from 203.0.113.7 "
                                  "port 4242 ssh2");
    struct sn_rule_event ev = { &e, tev_get };
    const struct sn_rule_match *m;
    const struct sn_rule_field_value *f;
    char ip[64];

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    sc = sn_rules_scratch_new(rs);
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    CHECK_STR(m[0].rule->id, "ssh-auth-failure");
    f = field(&m[0], "source.ip");
    CHECK(f != NULL && f->v.type == SN_VAL_IP);
    if (f != NULL) {
        struct sn_ip x = { f->v.u.ip.family, { 0 } };
        memcpy(x.addr, f->v.u.ip.addr, 16);
        CHECK_STR(sn_ip_format(&x, ip, sizeof(ip)), "203.0.113.7");
    }
    f = field(&m[0], "user.name");
    CHECK(f != NULL);
    if (f != NULL)
        CHECK_SLICE(f->v.u.s.ptr, f->v.u.s.len, "admin from 1.2.3.4 port 22");
    f = field(&m[0], "source.port");
    CHECK(f != NULL && f->v.type == SN_VAL_INT && f->v.u.i == 4242);
    /* The string field is a slice of msg, not a copy. */
    f = field(&m[0], "event.method");
    CHECK(f != NULL && f->v.u.s.ptr == e.hdr[SN_RF_MSG] + 7);

    /* The same injection aimed at the internal-network exclusion: the
     * fake address is internal, the real one is not. */
    e.hdr[SN_RF_MSG] = "Failed password for invalid user x from 10.0.0.1 "
                       "port 1 from 198.51.100.9 port 2 ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    /* And the reverse: a real internal address is excluded. */
    e.hdr[SN_RF_MSG] = "Failed password for invalid user x from 8.8.8.8 "
                       "port 1 from 10.1.1.1 port 2 ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 0);
    /* IPv6 and a plain user. */
    e.hdr[SN_RF_MSG] = "Failed publickey for root from 2001:db8::7 port 50000 "
                       "ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    /* Internal IPv6. */
    e.hdr[SN_RF_MSG] = "Failed publickey for root from fd00::7 port 5 ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 0);
    /* Service account login: extracted user.name in a shared list. */
    e.hdr[SN_RF_MSG] = "Accepted publickey for nagios from 192.0.2.1 port "
                       "4000 ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    CHECK_STR(m[0].rule->id, "ssh-service-account-login");
    e.hdr[SN_RF_MSG] = "Accepted publickey for alice from 192.0.2.1 port "
                       "4000 ssh2";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 0);
    e.hdr[SN_RF_MSG] = "error: maximum authentication attempts exceeded; "
                       "Too Many Authentication Failures";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

SN_TEST(trace_explains)
{
    static const char *const files[] = { "sshd.yaml" };
    struct sn_ruleset *rs = load_data(files, 1);
    struct sn_rules_scratch *sc;
    struct tev e = ev_msg("sshd", "Failed password for root from 10.0.0.5 "
                                  "port 22 ssh2");
    struct sn_rule_event ev = { &e, tev_get };
    struct sn_rule_explain x;
    struct sn_buf b;

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    sc = sn_rules_scratch_new(rs);
    sn_buf_init(&b, 1 << 16);
    sn_rules_explain(rs, sc, &ev, sn_ruleset_find(rs, "ssh-auth-failure"), &x);
    CHECK(!x.matched);
    sn_rules_explain_format(&x, &b);
    CHECK_STR(sn_buf_cstr(&b),
              "rule ssh-auth-failure: no match\n"
              "  prefilter: a required literal is in msg\n"
              "  FAIL and\n"
              "    PASS appname == \"sshd\"  [appname: \"sshd\"]\n"
              "    PASS msg startswith \"Failed \"  [msg: \"Failed password "
              "for root from 10.0.0.5 port 22 ssh2\"]\n"
              "    EXTRACT from msg: matched\n"
              "    PASS exists source.ip  [source.ip: 10.0.0.5 (extracted)]\n"
              "    FAIL not\n"
              "      PASS source.ip cidr @internal_nets  [source.ip: 10.0.0.5 "
              "(extracted)]\n"
              "  field event.method = \"password\"\n"
              "  field user.name = \"root\"\n"
              "  field source.ip = 10.0.0.5\n"
              "  field source.port = 22\n");
    /* Short-circuit: the first predicate fails, three are skipped, and
     * the prefilter would have skipped the rule. */
    e.hdr[SN_RF_APPNAME] = "cron";
    e.hdr[SN_RF_MSG] = "session opened";
    sn_buf_reset(&b);
    sn_rules_explain(rs, sc, &ev, sn_ruleset_find(rs, "ssh-auth-failure"), &x);
    sn_rules_explain_format(&x, &b);
    CHECK_STR(sn_buf_cstr(&b),
              "rule ssh-auth-failure: no match\n"
              "  prefilter: no required literal in msg (skipped when "
              "evaluating all rules)\n"
              "  FAIL and\n"
              "    FAIL appname == \"sshd\"  [appname: \"cron\"]\n"
              "    SKIP 3 more (short-circuit), from: msg startswith "
              "\"Failed \"\n");
    /* Absent values are named as such. */
    e.hdr[SN_RF_APPNAME] = NULL;
    sn_buf_reset(&b);
    sn_rules_explain(rs, sc, &ev, sn_ruleset_find(rs, "ssh-invalid-user"), &x);
    sn_rules_explain_format(&x, &b);
    CHECK(strstr(sn_buf_cstr(&b), "FAIL appname == \"sshd\"  [appname: "
                                  "absent]") != NULL);
    sn_buf_fini(&b);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

SN_TEST(extract_lazy_and_first_wins)
{
    const char *yaml = "id: a\ntitle: t\nseverity: low\n"
                       "match: appname == \"app\" and source.port > 1000\n"
                       "extract:\n"
                       "  - regex: 'port=(?<p>\\d+)'\n"
                       "    fields: {p: source.port:int}\n"
                       "  - regex: 'port (?<p>\\d+)'\n"
                       "    fields: {p: source.port:int}\n"
                       "  - regex: 'ip=(?<ip>\\S+)'\n"
                       "    fields: {ip: source.ip:ip}\n";
    struct sn_ruleset *rs = build(yaml, NULL);
    struct sn_rules_scratch *sc;
    struct tev e = ev_msg("app", "port=2000 port 5 ip=999.1.1.1");
    struct sn_rule_event ev = { &e, tev_get };
    const struct sn_rule_match *m;

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    sc = sn_rules_scratch_new(rs);
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    CHECK_EQ(m[0].n_fields, 1); /* ip did not convert */
    CHECK(field(&m[0], "source.port") != NULL &&
          field(&m[0], "source.port")->v.u.i == 2000);
    CHECK_EQ(sn_rules_scratch_stats(sc)->type_errors, 1);
    /* Alternatives: the second entry fills what the first could not. */
    e.hdr[SN_RF_MSG] = "port 3000";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    /* Lazy: no regex runs when the first predicate fails. */
    e.hdr[SN_RF_APPNAME] = "other";
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 0);
    CHECK_EQ(sn_rules_scratch_stats(sc)->type_errors, 1);
    /* The event's own field is the fallback when extraction finds none. */
    e.hdr[SN_RF_APPNAME] = "app";
    e.hdr[SN_RF_MSG] = "nothing";
    ev_int(&e, "source.port", 4000);
    CHECK_EQ(sn_rules_eval(rs, sc, &ev, 0, &m), 1);
    CHECK_EQ(m[0].n_fields, 0);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

/* Rules sharing an extract entry (the pack's YAML anchors) match its
 * regex once per event; each must still get exactly the fields it gets
 * alone (explain evaluates one rule on a fresh event: no sharing). */
static void
check_shared_extract(int *sn_failed_, const struct sn_ruleset *rs,
                     const char *const *msgs, size_t n_msgs)
{
    struct sn_rules_scratch *sc = sn_rules_scratch_new(rs);
    size_t n_shared = 0;

    for (size_t i = 0; i < n_msgs; i++) {
        struct tev e = ev_msg("sshd", msgs[i]);
        struct sn_rule_event ev = { &e, tev_get };
        const struct sn_rule_match *m;
        struct sn_rule_match copy[32];
        struct sn_rule_field_value vals[32][16];
        size_t n = sn_rules_eval(rs, sc, &ev, 0, &m);

        CHECK(n <= 32);
        /* Copy out: explain reuses the scratch. */
        for (size_t k = 0; k < n && k < 32; k++) {
            copy[k] = m[k];
            CHECK(m[k].n_fields <= 16);
            memcpy(vals[k], m[k].fields,
                   (m[k].n_fields < 16 ? m[k].n_fields : 16) *
                       sizeof(vals[k][0]));
        }
        for (size_t k = 0; k < n && k < 32; k++) {
            struct sn_rule_explain x;
            sn_rules_explain(rs, sc, &ev, copy[k].rule, &x);
            CHECK(x.matched);
            CHECK_EQ(x.n_fields, copy[k].n_fields);
            for (size_t f = 0; f < x.n_fields && f < copy[k].n_fields; f++) {
                struct sn_buf a, b;
                sn_buf_init(&a, 1024);
                sn_buf_init(&b, 1024);
                sn_value_json(&x.fields[f].v, &a);
                sn_value_json(&vals[k][f].v, &b);
                CHECK(x.fields[f].name == vals[k][f].name);
                CHECK(x.fields[f].v.type == vals[k][f].v.type);
                CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
                sn_buf_fini(&a);
                sn_buf_fini(&b);
            }
            if (copy[k].n_fields > 0)
                n_shared++;
        }
        /* ...and the same rules match as when each runs alone. */
        {
            size_t alone = 0;
            for (size_t r = 0; r < rs->n_rules; r++) {
                struct sn_rule_explain x;
                sn_rules_explain(rs, sc, &ev, &rs->rules[r], &x);
                alone += x.matched && rs->rules[r].enabled;
            }
            CHECK_EQ(alone, n);
        }
    }
    CHECK(n_shared > n_msgs); /* some line had several extracting rules */
    sn_rules_scratch_free(sc);
}

SN_TEST(shared_extract_same_fields)
{
    static const char *const pack_msgs[] = {
        "Failed password for root from 203.0.113.5 port 52414 ssh2",
        "Failed password for invalid user admin from 2001:db8::7 port 2 ssh2",
        "Failed none for x from 192.0.2.1 port 1 ssh2",
        "Invalid user oracle from 198.51.100.23 port 3345",
        "Invalid user a from b",
        "Accepted publickey for deploy from 192.0.2.44 port 61002 ssh2",
        "Failed password for root from 999.1.1.1 port 22 ssh2",
        "nothing to see",
    };
    /* One pattern, several mappings and types: the shared match (and its
     * shared conversions) must still convert per rule. */
    static const char *const yaml =
        "rules:\n"
        "  - id: a\n    title: t\n    severity: low\n"
        "    match: exists p\n"
        "    extract:\n"
        "      - regex: 'x=(?<v>\\S+) y=(?<w>\\d+)'\n"
        "        fields: {v: p, w: q:int}\n"
        "  - id: b\n    title: t\n    severity: low\n"
        "    match: exists r\n"
        "    extract:\n"
        "      - regex: 'x=(?<v>\\S+) y=(?<w>\\d+)'\n"
        "        fields: {v: r:ip, w: p}\n"
        "  - id: c\n    title: t\n    severity: low\n"
        "    match: exists p\n"
        "    extract:\n"
        "      - regex: 'x=(?<v>\\S+) y=(?<w>\\d+)'\n"
        "        fields: {v: p, w: s:int}\n"
        "  - id: d\n    title: t\n    severity: low\n"
        "    match: exists t or exists u\n"
        "    extract:\n"
        "      - regex: 'x=(?<v>\\S+) y=(?<w>\\d+)'\n"
        "        fields: {v: t:ip, w: u:ip}\n";
    static const char *const own_msgs[] = {
        "x=10.1.2.3 y=7", "x=nope y=8", "x=::1 y=99999", "y=1 x=2",
        "x=300 y=1", "x=12 y=99999999999999999999",
    };
    static const char *const files[] = { "sshd.yaml" };
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *pack = NULL, *own = build(yaml, NULL);
    struct sn_diags d;
    char path[1024];
    size_t n_extract = 0;

    sn_diags_init(&d);
    snprintf(path, sizeof(path), "%s/conf/rules/%s", srcdir(), files[0]);
    sn_rules_src_add_file(src, path, &d);
    sn_ruleset_build(src, &pack, &d);
    sn_diags_fini(&d);
    sn_rules_src_free(src);
    CHECK(pack != NULL && own != NULL);
    if (pack == NULL || own == NULL) {
        sn_ruleset_free(pack);
        sn_ruleset_free(own);
        return;
    }
    for (size_t i = 0; i < pack->n_rules; i++)
        n_extract += pack->rules[i].n_extract;
    CHECK(pack->n_re_classes < n_extract); /* the anchors do share */
    CHECK_EQ(own->n_re_classes, 1);
    check_shared_extract(sn_failed_, pack, pack_msgs,
                         sizeof(pack_msgs) / sizeof(pack_msgs[0]));
    check_shared_extract(sn_failed_, own, own_msgs,
                         sizeof(own_msgs) / sizeof(own_msgs[0]));
    sn_ruleset_free(pack);
    sn_ruleset_free(own);
}

SN_TEST(regex_anchored_prefix)
{
    static const struct {
        const char *pat;
        const char *want; /* "" : none */
    } cases[] = {
        { "^Failed (?<m>\\S+) for", "Failed " },
        { "^Invalid user (?<u>.*)", "Invalid user " },
        { "^abc?d", "ab" },
        { "^abc*", "ab" },
        { "^abc+", "ab" },
        { "^abc{2}", "ab" },
        { "^ab\\.c", "ab" },
        { "^ab(c)", "ab" },
        { "^ab[c]", "ab" },
        { "^a|b", "" },
        { "^(?:a|b)c", "" },
        { "^ab(?:c|d)", "ab" },
        { "^ab[|]c", "ab" },
        { "^ab\\|c", "ab" },
        { "^ab(c|d)|e", "" },
        { "^a\\Qb|c\\E", "" },
        { "^ab(?x) c|d", "" },
        { "^ab(?#|)c", "" },
        { "abc", "" },
        { "(?i)^abc", "" },
        { "^", "" },
        { "^error: PAM: (?:A|B)", "error: PAM: " },
        { "^User 'x' = \"y\"", "User 'x' = \"y\"" },
        /* Mandatory groups at the start hold the run's beginning. */
        { "^(?<r>ROOT LOGIN) FROM", "ROOT LOGIN" },
        { "^(?:(?<r>Max) auth)", "Max" },
        { "^(?:ab)+c", "ab" },
        { "^(?:error: )?Failed", "" },
        { "^(?:ab)*c", "" },
        { "^(?:ab){0,1}c", "" },
        { "^(?:a|b)c", "" },
        { "^(?<r>a|b)c", "" },
        { "^(?<r>(?:x|y)z)", "" },
        { "^(?<=a)b", "" },
        { "^(?=ab)a", "" },
        { "^(?<r>a[(|)]b)c", "a" },
    };
    char out[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = sn_regex_anchored_prefix(cases[i].pat, strlen(cases[i].pat),
                                            false, out, sizeof(out));
        if (n != strlen(cases[i].want) || memcmp(out, cases[i].want, n) != 0)
            printf("# %s: got \"%.*s\"\n", cases[i].pat, (int)n, out);
        CHECK(n == strlen(cases[i].want) &&
              memcmp(out, cases[i].want, n) == 0);
    }
    CHECK_EQ(sn_regex_anchored_prefix("^abc", 4, true, out, sizeof(out)), 0);
    CHECK_EQ(sn_regex_anchored_prefix("^abcdef", 7, false, out, 3), 3);
}

/* Skipping an extract regex on a subject without its anchored prefix
 * must never lose a match: every extract of the shipped pack against
 * every suffix of every sample line. */
SN_TEST(anchored_prefix_never_loses_a_match)
{
    static const char *const packs[] = { "sshd", "system", "privilege" };
    unsigned lost = 0, skipped = 0, with_prefix = 0;
    pcre2_match_data *md = pcre2_match_data_create(64, NULL);

    for (size_t f = 0; f < sizeof(packs) / sizeof(packs[0]); f++) {
        struct sn_rules_src *src = sn_rules_src_new();
        struct sn_ruleset *rs = NULL;
        struct sn_diags d;
        char path[1024];
        char *text;

        sn_diags_init(&d);
        snprintf(path, sizeof(path), "%s/conf/rules/%s.yaml", srcdir(),
                 packs[f]);
        sn_rules_src_add_file(src, path, &d);
        sn_ruleset_build(src, &rs, &d);
        sn_diags_fini(&d);
        sn_rules_src_free(src);
        snprintf(path, sizeof(path), "%s/conf/rules/samples/%s.log", srcdir(),
                 packs[f]);
        text = read_file(path);
        CHECK(rs != NULL && text != NULL);
        for (size_t r = 0; rs != NULL && text != NULL && r < rs->n_rules; r++)
            for (size_t k = 0; k < rs->rules[r].n_extract; k++) {
                const struct sn_extract *x = &rs->rules[r].extract[k];
                with_prefix += x->prefix_len > 0;
                for (const char *l = text; *l;) {
                    const char *nl = strchr(l, '\n');
                    size_t len = nl ? (size_t)(nl - l) : strlen(l);
                    for (size_t p = 0; p < len; p++) {
                        bool skip = x->prefix_len > 0 &&
                                    (len - p < x->prefix_len ||
                                     memcmp(l + p, x->prefix, x->prefix_len));
                        if (!skip)
                            continue;
                        skipped++;
                        lost += pcre2_match(x->re, (PCRE2_SPTR)(l + p),
                                            len - p, 0, 0, md, NULL) >= 0;
                    }
                    l += len + (nl != NULL);
                }
            }
        free(text);
        sn_ruleset_free(rs);
    }
    pcre2_match_data_free(md);
    CHECK_EQ(lost, 0);
    CHECK(with_prefix > 10 && skipped > 100000);
}

/* ---- prefilter property test
 * ------------------------------------------------------- */

/* Small deterministic PRNG (xorshift32) so failures reproduce. */
static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static const char *const words[] = {
    "Failed",   "password", "for",    "root",   "from", "port",    "ssh2",
    "Accepted", "session",  "opened", "closed", "user", "invalid", "sudo",
    "COMMAND",  "error",    "kernel", "Out",    "of",   "memory",  "FAILED",
    "PassWord", "a",        "ab",     "abc",    "x",    "1.2.3.4", "10.0.0.1",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static void
random_pred(uint32_t *s, struct sn_buf *b)
{
    const char *w = words[rnd(s) % N_WORDS];
    const char *w2 = words[rnd(s) % N_WORDS];
    const char *ci = rnd(s) % 3 == 0 ? "i" : "";

    switch (rnd(s) % 11) {
    case 0:
        sn_buf_printf(b, "msg contains %s\"%s\"", ci, w);
        break;
    case 1:
        sn_buf_printf(b, "msg startswith %s\"%s\"", ci, w);
        break;
    case 2:
        sn_buf_printf(b, "msg endswith %s\"%s\"", ci, w);
        break;
    case 3:
        sn_buf_printf(b, "msg =~ /%s.*%s/%s", w, w2, ci);
        break;
    case 4:
        sn_buf_printf(b, "msg =~ /(?:%s|%s)\\b/", w, w2);
        break;
    case 5:
        sn_buf_printf(b, "msg in [%s\"%s\", %s\"%s %s\"]", ci, w, ci, w, w2);
        break;
    case 6:
        sn_buf_printf(b, "appname == \"%s\"", w);
        break;
    case 7:
        sn_buf_printf(b, "msg == %s\"%s\"", ci, w);
        break;
    case 8:
        sn_buf_printf(b, "not msg contains \"%s\"", w);
        break;
    case 9:
        sn_buf_printf(b, "msg !~ /%s/", w);
        break;
    default:
        sn_buf_printf(b, "msg =~ /%s ?%s/", w, w2);
        break;
    }
}

static void
random_expr(uint32_t *s, struct sn_buf *b, int depth)
{
    unsigned k = depth > 2 ? 0 : rnd(s) % 4;

    if (k <= 1) {
        random_pred(s, b);
        return;
    }
    sn_buf_putc(b, '(');
    random_expr(s, b, depth + 1);
    sn_buf_puts(b, k == 2 ? " and " : " or ");
    random_expr(s, b, depth + 1);
    sn_buf_putc(b, ')');
}

SN_TEST(prefilter_property)
{
    uint32_t seed = 12345;
    struct sn_buf y, msg;
    struct sn_ruleset *rs;
    struct sn_rules_scratch *sc;
    size_t n_rules = 150, skipped_total = 0;
    char msgs[400][128];

    sn_buf_init(&y, 1 << 22);
    for (size_t r = 0; r < n_rules; r++) {
        sn_buf_printf(&y,
                      "---\nid: r%zu\ntitle: t\nseverity: low\nmatch: |\n"
                      "  ",
                      r);
        random_expr(&seed, &y, 0);
        sn_buf_putc(&y, '\n');
    }
    rs = build(sn_buf_cstr(&y), NULL);
    CHECK(rs != NULL);
    if (rs == NULL) {
        sn_buf_fini(&y);
        return;
    }
    CHECK(sn_prefilter_states(rs->pf) > 1);
    sc = sn_rules_scratch_new(rs);
    sn_buf_init(&msg, 4096);
    for (size_t i = 0; i < 400; i++) {
        size_t n_words = rnd(&seed) % 7;
        sn_buf_reset(&msg);
        for (size_t w = 0; w < n_words; w++) {
            if (w > 0)
                sn_buf_putc(&msg, rnd(&seed) % 5 ? ' ' : '-');
            sn_buf_puts(&msg, words[rnd(&seed) % N_WORDS]);
        }
        snprintf(msgs[i], sizeof(msgs[i]), "%s", sn_buf_cstr(&msg));
    }
    for (size_t i = 0; i < 400; i++) {
        struct tev e = ev_msg(words[rnd(&seed) % N_WORDS], msgs[i]);
        struct sn_rule_event ev = { &e, tev_get };
        const struct sn_rule_match *m;
        size_t n1, n2;
        uint64_t with[3] = { 0 }, without[3] = { 0 };
        uint64_t before = sn_rules_scratch_stats(sc)->rules_skipped;

        if (i % 50 == 0)
            e.hdr[SN_RF_MSG] = NULL; /* absent msg */
        n1 = sn_rules_eval(rs, sc, &ev, 0, &m);
        for (size_t k = 0; k < n1; k++)
            with[m[k].rule->index / 64] |= (uint64_t)1
                                           << (m[k].rule->index % 64);
        skipped_total += sn_rules_scratch_stats(sc)->rules_skipped - before;
        n2 = sn_rules_eval(rs, sc, &ev, SN_RULES_NO_PREFILTER, &m);
        for (size_t k = 0; k < n2; k++)
            without[m[k].rule->index / 64] |= (uint64_t)1
                                              << (m[k].rule->index % 64);
        if (memcmp(with, without, sizeof(with)) != 0) {
            printf("# prefilter changed the result for msg \"%s\"\n", msgs[i]);
            *sn_failed_ = 1;
            break;
        }
    }
    /* It must also actually skip work. */
    CHECK(skipped_total > 400 * 20);
    sn_buf_fini(&msg);
    sn_buf_fini(&y);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

SN_TEST(prefilter_unit)
{
    struct sn_prefilter *pf = sn_prefilter_new(70);
    struct sn_str a[] = { { "he", 2 }, { "she", 3 } };
    struct sn_str b[] = { { "hers", 4 } };
    struct sn_str c[] = { { "XYZ", 3 } };
    uint64_t cand[2];

    CHECK(pf != NULL);
    if (pf == NULL)
        return;
    CHECK_EQ(sn_prefilter_add(pf, 0, a, 2), SN_OK);
    CHECK_EQ(sn_prefilter_add(pf, 1, b, 1), SN_OK);
    CHECK_EQ(sn_prefilter_add(pf, 65, c, 1), SN_OK);
    CHECK_EQ(sn_prefilter_build(pf), SN_OK);
    sn_prefilter_scan(pf, "ushers", 6, cand);
    CHECK((cand[0] & 3) == 3); /* "she", "he", "hers" */
    CHECK((cand[1] & 2) == 0); /* rule 65 not hit */
    CHECK((cand[0] & 4) == 4); /* rule 2 has no literals: always */
    sn_prefilter_scan(pf, "uSHErs xyz", 10, cand);
    CHECK((cand[0] & 3) == 3 && (cand[1] & 2) == 2);
    sn_prefilter_scan(pf, "nothing", 7, cand);
    CHECK((cand[0] & 3) == 0 && (cand[1] & 2) == 0);
    sn_prefilter_free(pf);
}

/* The hand-written IPv4 formatter prints what inet_ntop prints: every
 * octet value in every position (0, 1-, 2- and 3-digit boundaries). */
SN_TEST(ip_format_v4)
{
    char got[64], want[64];
    unsigned bad = 0;

    for (unsigned v = 0; v < 256; v++) {
        for (int pos = 0; pos < 4; pos++) {
            struct sn_ip x = { 4, { 0 } };
            memset(x.addr, (int)(255 - v), 4);
            x.addr[pos] = (uint8_t)v;
            sn_ip_format(&x, got, sizeof(got));
            inet_ntop(AF_INET, x.addr, want, sizeof(want));
            bad += strcmp(got, want) != 0;
        }
    }
    CHECK_EQ(bad, 0);
}

/* sn_ip_parse reads dotted quads by hand: it must accept and produce
 * exactly what its inet_pton path does (how every address was read
 * before). */
static bool
ref_ip_parse(const char *s, size_t len, struct sn_ip *out)
{
    return sn_ip_parse_pton(s, len, out);
}

static unsigned
ip_parse_differs(const char *s, size_t len)
{
    struct sn_ip a, b;
    bool ra, rb;

    memset(&a, 0xaa, sizeof(a));
    ra = sn_ip_parse(s, len, &a);
    rb = ref_ip_parse(s, len, &b);
    if (ra != rb || (ra && memcmp(&a, &b, sizeof(a)) != 0)) {
        printf("# ip parse differs on \"%.*s\"\n", (int)len, s);
        return 1;
    }
    return 0;
}

SN_TEST(ip_parse_v4_as_inet_pton)
{
    static const char alphabet[] = "0129.";
    static const char *const fixed[] = {
        "203.0.113.5", "255.255.255.255", "256.1.1.1", "01.2.3.4",
        "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3", "0.0.0.0",
        "1.2.3.04", "999.1.1.1", "1.2.3.4 ", "1.2.3.4.5.6.7.8.9",
        "1.2.3.4.", "1.2.3.4..", "a.b.c.d", "::ffff:1.2.3.4",
        "2001:db8::1", "1.2.3.4%eth0", "123456789012345678901234567890.1",
        "",
    };
    char str[8];
    unsigned bad = 0, n = 0;
    int accepted = 0;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        bad += ip_parse_differs(fixed[i], strlen(fixed[i]));
    /* "1.2.3.4\0junk": inet_pton stopped at the NUL. */
    bad += ip_parse_differs("1.2.3.4\0junk", 12);
    /* Every string of up to 7 characters over digits and dots. */
    for (size_t len = 1; len <= 7; len++) {
        size_t total = 1;
        for (size_t k = 0; k < len; k++)
            total *= sizeof(alphabet) - 1;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            struct sn_ip ip;
            for (size_t k = 0; k < len; k++) {
                str[k] = alphabet[c % (sizeof(alphabet) - 1)];
                c /= sizeof(alphabet) - 1;
            }
            bad += ip_parse_differs(str, len);
            accepted += sn_ip_parse(str, len, &ip);
            n++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > 0 && n > 90000); /* the sweep covered valid quads */
}

/* Extracted integers: plain digits are read by hand, the rest by strtoll
 * or strtod; both must agree with strtoll on digits. */
SN_TEST(parse_number_digits)
{
    static const char *const cases[] = {
        "0", "22", "007", "65535", "999999999999999999",
        "9223372036854775807", "9223372036854775808", "-5", "+5", "1e3",
        "1.5", "12a", "",
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *c = cases[i];
        bool is_int = false, ok;
        int64_t v = -1;
        double d = -1;
        char *end;

        ok = sn_parse_number(c, strlen(c), &is_int, &v, &d);
        if (c[0] >= '0' && c[0] <= '9' && strspn(c, "0123456789") ==
                                              strlen(c)) {
            long long want;
            errno = 0;
            want = strtoll(c, &end, 10);
            CHECK_EQ(ok, errno == 0);
            if (ok) {
                CHECK(is_int);
                CHECK(v == want);
                CHECK(d == (double)want);
            }
        }
    }
    {
        bool is_int;
        int64_t v;
        double d;
        CHECK(!sn_parse_number("12a", 3, &is_int, &v, &d));
        CHECK(sn_parse_number("1e3", 3, &is_int, &v, &d) && !is_int &&
              d == 1000.0);
        CHECK(sn_parse_number("-5", 2, &is_int, &v, &d) && is_int && v == -5);
    }
}

static bool
unwrap_is(const char *msg, const char *inner, uint32_t n)
{
    struct sn_str s = { msg, strlen(msg) }, in;
    uint32_t got = 0;

    if (!sn_repeat_unwrap(s, &in, &got)) {
        printf("# not unwrapped: %s\n", msg);
        return inner == NULL;
    }
    if (inner == NULL || got != n || in.len != strlen(inner) ||
        memcmp(in.ptr, inner, in.len) != 0) {
        printf("# %s -> [%.*s] x%u\n", msg, (int)in.len, in.ptr, got);
        return false;
    }
    return true;
}

/* rsyslog's and syslog-ng's repeat summaries (rules/repeat.h): the inner
 * message and its count; anything else is left alone. */
SN_TEST(repeat_unwrap)
{
    CHECK(unwrap_is("message repeated 3 times: [ Failed password for root "
                    "from 192.0.2.1 port 22 ssh2]",
                    " Failed password for root from 192.0.2.1 port 22 ssh2",
                    3));
    /* rsyslog cuts the message at 800 bytes: no closing bracket then. */
    CHECK(unwrap_is("message repeated 2 times: [ abc", " abc", 2));
    /* A ']' inside the message stays; only the last one is rsyslog's. */
    CHECK(unwrap_is("message repeated 12 times: [a] b]", "a] b", 12));
    CHECK(unwrap_is("Last message 'Failed password for ' repeated 9 times, "
                    "suppressed by syslog-ng on relay1",
                    "Failed password for ", 9));
    /* syslog-ng's message may itself hold "' repeated ". */
    CHECK(unwrap_is("Last message 'a' repeated 2 times' repeated 5 times, "
                    "suppressed by syslog-ng on h",
                    "a' repeated 2 times", 5));
    /* Counts are clamped, 0 is 1; anything else is no summary. */
    CHECK(
        unwrap_is("message repeated 999999999 times: [x]", "x", SN_REPEAT_MAX));
    CHECK(unwrap_is("message repeated 0 times: [x]", "x", 1));
    CHECK(unwrap_is("message repeated 1234567890 times: [x]", NULL, 0));
    CHECK(unwrap_is("message repeated three times: [x]", NULL, 0));
    CHECK(unwrap_is("message repeated 3 times [x]", NULL, 0));
    CHECK(unwrap_is("Last message 'x' repeated 3 times", NULL, 0));
    CHECK(unwrap_is("Failed password for message repeated 3 times: [x]", NULL,
                    0));
    {
        /* What rules see: the trimmed inner message; the count. */
        const char *m = " message repeated 4 times: [ Failed x]\n";
        struct sn_str v = sn_rule_msg_view((struct sn_str){ m, strlen(m) });
        CHECK(v.len == 8 && memcmp(v.ptr, "Failed x", 8) == 0);
        CHECK_EQ(sn_repeat_count((struct sn_str){ m, strlen(m) }), 4);
        CHECK_EQ(sn_repeat_count((struct sn_str){ "Failed x", 8 }), 1);
    }
}

/* `set:` fields ride on every match after the extracted ones; clashes
 * with header or extracted fields are errors at their position. */
SN_TEST(set_fields)
{
    char *diags = NULL;
    struct sn_ruleset *rs = build(
        "rules:\n  - id: t\n    title: t\n    severity: low\n"
        "    set: {event.outcome: failure, event.category: authentication}\n"
        "    match: msg startswith \"Failed\"\n"
        "    extract:\n      - regex: 'for (?<u>\\S+)'\n"
        "        fields: {u: user.name}\n",
        NULL);
    struct tev e;
    struct sn_rules_scratch *sc;
    const struct sn_rule_match *m;
    struct sn_rule_event ev = { &e, tev_get };

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    memset(&e, 0, sizeof(e));
    e.pri = -1;
    e.hdr[SN_RF_MSG] = "Failed for bob";
    sc = sn_rules_scratch_new(rs);
    CHECK(sn_rules_eval(rs, sc, &ev, 0, &m) == 1);
    CHECK(m[0].n_fields == 3);
    if (m[0].n_fields == 3) {
        CHECK(m[0].fields[0].name_len == 9 &&
              memcmp(m[0].fields[0].name, "user.name", 9) == 0);
        CHECK(m[0].fields[1].v.type == SN_VAL_STR &&
              m[0].fields[1].v.u.s.len == 7 &&
              memcmp(m[0].fields[1].v.u.s.ptr, "failure", 7) == 0);
        CHECK(m[0].fields[2].name_len == 14);
    }
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);

    rs = build("rules:\n  - id: t\n    title: t\n    severity: low\n"
               "    set: {msg: x}\n    match: \"true\"\n",
               &diags);
    CHECK(rs == NULL && diags != NULL &&
          strstr(diags, "t.yaml:5:11: error: rule \"t\": \"msg\" is a header "
                        "field") != NULL);
    free(diags);
    rs = build("rules:\n  - id: t\n    title: t\n    severity: low\n"
               "    set: {user.name: x}\n    match: \"true\"\n"
               "    extract:\n      - regex: '(?<u>.)'\n"
               "        fields: {u: user.name}\n",
               &diags);
    CHECK(rs == NULL && diags != NULL &&
          strstr(diags, "\"user.name\" is both extracted and set") != NULL);
    free(diags);
    rs = build("rules:\n  - id: t\n    title: t\n    severity: low\n"
               "    set: [a]\n    match: \"true\"\n",
               &diags);
    CHECK(rs == NULL && diags != NULL &&
          strstr(diags, "t.yaml:5:10: error: rule \"t\": \"set\" must be a "
                        "mapping") != NULL);
    free(diags);
}

/* A summary copies a rule's `set` fields rendered at load
 * (sn_rule.consts_json): the same bytes as rendering each field, with
 * as many of them as fit in SN_CORR_SUMMARY_FIELDS after the extracted
 * ones, values cut to SN_CORR_SUMMARY_FIELD_MAX, and SN_ELIMIT with out
 * unchanged past SN_CORR_SUMMARY_JSON_MAX. */
SN_TEST(set_fields_in_summaries)
{
    static const char *const msgs[] = {
        "x",
        "x b=2",
        "x a=1 b=2 c=3 d=4 e=5",
        "x a=1 b=2 c=3 d=4 e=5 f=6",
        "x a=1 b=2 c=3 d=4 e=5 f=6 g=7",
        "x a=\"1\" "
        "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
        "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
        "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
        "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
    };
    struct sn_ruleset *rs = build(
        "rules:\n  - id: t\n    title: t\n    severity: low\n"
        "    match: msg startswith \"x\"\n"
        "    extract:\n"
        "      - {regex: 'a=(?<v>\\S+)', fields: {v: f.a}}\n"
        "      - {regex: 'b=(?<v>\\S+)', fields: {v: f.b}}\n"
        "      - {regex: 'c=(?<v>\\S+)', fields: {v: f.c}}\n"
        "      - {regex: 'd=(?<v>\\S+)', fields: {v: f.d}}\n"
        "      - {regex: 'e=(?<v>\\S+)', fields: {v: f.e}}\n"
        "      - {regex: 'f=(?<v>\\S+)', fields: {v: f.f}}\n"
        "      - {regex: 'g=(?<v>\\S+)', fields: {v: f.g}}\n"
        "    set:\n"
        "      c.one: 'he said \"hi\"'\n"
        "      c.two: '0123456789012345678901234567890123456789abcdefghXYZ'\n"
        "      c.three: '\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\""
        "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'\n"
        "      c.four: four\n",
        NULL);
    struct sn_rules_scratch *sc;
    struct tev e;
    const struct sn_rule_match *m;
    struct sn_rule_event ev = { &e, tev_get };
    struct sn_buf a, b;
    size_t n_cut = 0;

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    CHECK(rs->rules[0].consts_json != NULL);
    sc = sn_rules_scratch_new(rs);
    sn_buf_init(&a, 1 << 16);
    sn_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        struct sn_str host = { "web1", 4 }, app = { "sshd", 4 };
        struct sn_str msg = { msgs[i], strlen(msgs[i]) };
        enum sn_status ra, rb;

        e = ev_msg("sshd", msgs[i]);
        CHECK(sn_rules_eval(rs, sc, &ev, 0, &m) == 1);
        sn_buf_reset(&a);
        sn_buf_reset(&b);
        SN_BUF_LIT(&a, "before");
        SN_BUF_LIT(&b, "before");
        ra = sn_corr_summary_json(&a, host, app, msg, m[0].rule, m[0].fields,
                                  m[0].n_fields);
        rb = sn_corr_summary_json(&b, host, app, msg, NULL, m[0].fields,
                                  m[0].n_fields);
        CHECK_EQ(ra, rb);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        if (ra != SN_OK) {
            CHECK_EQ(ra, SN_ELIMIT);
            CHECK(a.len == 6);
            n_cut++;
        }
        if (i == 1)
            CHECK_STR(sn_buf_cstr(&a) + 6,
                      "{\"host\":\"web1\",\"app\":\"sshd\",\"msg\":\"x b=2\","
                      "\"fields\":{\"f.b\":\"2\",\"c.one\":\"he said "
                      "\\\"hi\\\"\",\"c.two\":\"0123456789012345678901234567"
                      "890123456789abcdefgh\",\"c.three\":\"\\\"\\\"\\\"\\\""
                      "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
                      "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
                      "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
                      "\\\"\\\"\",\"c.four\":\"four\"}}");
        if (i == 3)
            /* Six extracted fields leave room for two of the four. */
            CHECK_STR(sn_buf_cstr(&a) + 6,
                      "{\"host\":\"web1\",\"app\":\"sshd\",\"msg\":\"x a=1 "
                      "b=2 c=3 d=4 e=5 f=6\",\"fields\":{\"f.a\":\"1\","
                      "\"f.b\":\"2\",\"f.c\":\"3\",\"f.d\":\"4\",\"f.e\":"
                      "\"5\",\"f.f\":\"6\",\"c.one\":\"he said \\\"hi\\\"\","
                      "\"c.two\":\"012345678901234567890123456789012345678"
                      "9abcdefgh\"}}");
    }
    /* The long message with the quoted values is over the limit. */
    CHECK(n_cut == 1);
    sn_buf_fini(&a);
    sn_buf_fini(&b);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

/* Forget a tree's compiled row JSON: trace rows then render the texts. */
static void
forget_row_json(struct sn_cnode *n)
{
    n->expr_json = n->field_json = NULL;
    for (size_t i = 0; i < n->n_kids; i++)
        forget_row_json(n->kids[i]);
}

/* A trace's rows copy each node's ,"expr": and ,"field": and each
 * extract's ,"from": and ,"regex": rendered at load (sn_cnode.expr_json,
 * sn_extract.pattern_json): the same bytes as rendering them. */
SN_TEST(trace_json_compiled)
{
    struct sn_ruleset *rs = build(
        "rules:\n  - id: t\n    title: t\n    severity: low\n"
        "    match: >\n"
        "      msg contains \"said \\\"hi\\\"\\\\n\" and not appname in "
        "[\"a\\\\b\", \"c\"]\n"
        "      and (exists user.name or msg =~ \"[0-9]+ for\" or false)\n"
        "    extract:\n      - regex: 'for (?<u>\\S+)'\n"
        "        fields: {u: user.name}\n",
        NULL);
    struct sn_rules_scratch *sc;
    struct tev e = ev_msg("sshd", "he said \"hi\"\\n for bob");
    struct sn_rule_event ev = { &e, tev_get };
    struct sn_rule_explain x;
    struct sn_buf a, b;

    CHECK(rs != NULL);
    if (rs == NULL)
        return;
    CHECK(rs->rules[0].match->expr_json != NULL);
    sc = sn_rules_scratch_new(rs);
    sn_buf_init(&a, 1 << 16);
    sn_buf_init(&b, 1 << 16);
    sn_rules_explain(rs, sc, &ev, &rs->rules[0], &x);
    CHECK(x.matched);
    CHECK_EQ(sn_rules_explain_json(&x, &a), SN_OK);
    forget_row_json(rs->rules[0].match);
    rs->rules[0].extract[0].from_json = NULL;
    rs->rules[0].extract[0].pattern_json = NULL;
    sn_rules_explain(rs, sc, &ev, &rs->rules[0], &x);
    CHECK_EQ(sn_rules_explain_json(&x, &b), SN_OK);
    CHECK_STR(sn_buf_cstr(&a), sn_buf_cstr(&b));
    CHECK(strstr(sn_buf_cstr(&a),
                 ",\"expr\":\"msg contains \\\"said \\\\\\\"hi\\\\\\\"\\\\\\\\n"
                 "\\\"\",\"field\":\"msg\"") != NULL);
    CHECK(strstr(sn_buf_cstr(&a), ",\"from\":\"msg\",\"regex\":\"for "
                                  "(?<u>\\\\S+)\"") != NULL);
    sn_buf_fini(&a);
    sn_buf_fini(&b);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
}

SN_TEST_MAIN(SN_T(ip_format_v4), SN_T(ip_parse_v4_as_inet_pton),
             SN_T(parse_number_digits), SN_T(lexer_tokens), SN_T(lexer_errors),
             SN_T(precedence), SN_T(parse_errors), SN_T(parse_depth_limit),
             SN_T(op_equality), SN_T(op_order), SN_T(op_strings), SN_T(op_in),
             SN_T(op_regex), SN_T(op_cidr), SN_T(cidr_parse),
             SN_T(op_exists_bool_const), SN_T(short_circuit_and_precedence),
             SN_T(regex_match_limit), SN_T(diag_expr_positions),
             SN_T(diag_scalar_styles), SN_T(diag_rule_keys), SN_T(diag_extract),
             SN_T(diag_injection_lint), SN_T(data_files_bad),
             SN_T(regex_required_literals), SN_T(sample_files_load),
             SN_T(sshd_injection_extract), SN_T(trace_explains),
             SN_T(extract_lazy_and_first_wins),
             SN_T(shared_extract_same_fields), SN_T(regex_anchored_prefix),
             SN_T(anchored_prefix_never_loses_a_match),
             SN_T(prefilter_property), SN_T(prefilter_unit),
             SN_T(repeat_unwrap), SN_T(set_fields),
             SN_T(set_fields_in_summaries), SN_T(trace_json_compiled))
