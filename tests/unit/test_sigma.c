/*
 * Sigma semantics (docs/sigma.md) as unit cases: modifiers, wildcards and
 * escapes, null, numbers, conditions and their precedence, each on an
 * event that matches and a near miss, through the real loader and
 * evaluator (with and without the prefilter: they must agree); and the
 * errors unsupported constructs give, with their positions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "rules/eval.h"
#include "rules/ip.h"
#include "rules/load.h"
#include "rules/sigma_cond.h"
#include "rules/value.h"
#include "sn_test.h"

/* The event: msg, and the mapped fields F (string, may be absent), N
 * (integer), IP (address). */
struct tev {
    const char *msg, *f;
    int64_t n;
    struct sn_ip ip;
};

static bool
tev_get(void *ctx, int id, const char *name, size_t name_len,
        struct sn_value *out)
{
    struct tev *e = ctx;

    if (id == SN_RF_MSG || id == SN_RF_APPNAME) {
        const char *s = id == SN_RF_MSG ? e->msg : "app";
        out->type = SN_VAL_STR;
        out->u.s.ptr = s;
        out->u.s.len = strlen(s);
        return true;
    }
    if (name_len == 3 && memcmp(name, "t.f", 3) == 0 && e->f != NULL) {
        out->type = SN_VAL_STR;
        out->u.s.ptr = e->f;
        out->u.s.len = strlen(e->f);
        return true;
    }
    if (name_len == 3 && memcmp(name, "t.n", 3) == 0) {
        out->type = SN_VAL_INT;
        out->u.i = e->n;
        return true;
    }
    if (name_len == 4 && memcmp(name, "t.ip", 4) == 0) {
        out->type = SN_VAL_IP;
        out->u.ip.family = e->ip.family;
        memcpy(out->u.ip.addr, e->ip.addr, 16);
        return true;
    }
    return false;
}

#define MAPPING                                                                \
    "sigma:\n  fields: {F: t.f, N: t.n, IP: t.ip}\n"                           \
    "  logsources: [{product: t, match: 'appname == \"app\"'}]\n---\n"

/* Load a YAML text as file t.yml: the ruleset (NULL on errors) and its
 * diagnostics, one per line (caller frees). */
static struct sn_ruleset *
load_text(const char *yaml, char **diags)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;

    sn_diags_init(&d);
    if (sn_rules_src_add_mem(src, "t.yml", yaml, strlen(yaml), &d) == SN_OK)
        sn_ruleset_build(src, &rs, &d);
    sn_diags_print(&d, f);
    fclose(f);
    sn_diags_fini(&d);
    sn_rules_src_free(src);
    *diags = text;
    return rs;
}

/* The mapping plus one rule with this detection. */
static struct sn_ruleset *
build(const char *detection, char **diags)
{
    char yaml[8192], *text = NULL;
    struct sn_ruleset *rs;

    snprintf(yaml, sizeof(yaml),
             MAPPING "title: t\nid: t\nlogsource: {product: t}\n"
                     "detection:\n%s",
             detection);
    rs = load_text(yaml, &text);
    if (diags != NULL)
        *diags = text;
    else {
        if (text != NULL && text[0] != '\0')
            printf("# unexpected diagnostics:\n%s", text);
        free(text);
    }
    return rs;
}

/* 1 match, 0 none, -1 did not load, -2 prefilter disagrees. */
static int
run(const char *detection, const char *msg, const char *f, int64_t n,
    const char *ip)
{
    struct sn_ruleset *rs = build(detection, NULL);
    struct tev e = { msg, f, n, { 0 } };
    struct sn_rule_event ev = { &e, tev_get };
    struct sn_rules_scratch *sc;
    const struct sn_rule_match *m;
    size_t n1, n2;

    if (rs == NULL || rs->n_rules != 1)
        return -1;
    sn_ip_parse(ip ? ip : "192.0.2.1", strlen(ip ? ip : "192.0.2.1"), &e.ip);
    sc = sn_rules_scratch_new(rs);
    n1 = sn_rules_eval(rs, sc, &ev, 0, &m);
    n2 = sn_rules_eval(rs, sc, &ev, SN_RULES_NO_PREFILTER, &m);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
    return n1 != n2 ? -2 : (int)n1;
}

/* A selection on F, tested against one value of F. */
static int
on_f(const char *sel, const char *f)
{
    char det[1024];

    snprintf(det, sizeof(det), "  s:\n    %s\n  condition: s\n", sel);
    return run(det, "m", f, 0, NULL);
}

SN_TEST(plain_values_are_whole_and_case_insensitive)
{
    CHECK_EQ(on_f("F: abc", "ABC"), 1);
    CHECK_EQ(on_f("F: abc", "abcd"), 0);
    CHECK_EQ(on_f("F: abc", NULL), 0);
    CHECK_EQ(on_f("F: [x, abc]", "abc"), 1); /* a list: any */
    CHECK_EQ(on_f("F: ''", ""), 1);
}

SN_TEST(wildcards_and_escapes)
{
    CHECK_EQ(on_f("F: 'a*c'", "aXYZc"), 1);
    CHECK_EQ(on_f("F: 'a*c'", "aXYZcd"), 0);
    CHECK_EQ(on_f("F: 'a?c'", "abc"), 1);
    CHECK_EQ(on_f("F: 'a?c'", "ac"), 0);
    CHECK_EQ(on_f("F: '*'", "anything"), 1);
    CHECK_EQ(on_f("F: '*'", NULL), 0);
    CHECK_EQ(on_f("F: 'a\\*c'", "a*c"), 1); /* escaped: a literal star */
    CHECK_EQ(on_f("F: 'a\\*c'", "abc"), 0);
    CHECK_EQ(on_f("F: 'a\\?c'", "abc"), 0);
    CHECK_EQ(on_f("F: 'a\\\\*'", "a\\bc"), 1); /* \\ is one backslash */
    CHECK_EQ(on_f("F: 'a\\\\*'", "abc"), 0);
    CHECK_EQ(on_f("F: 'c:\\windows'", "C:\\Windows"), 1); /* plain \ */
    CHECK_EQ(on_f("F: 'a.c*'", "abcd"), 0); /* regex characters are text */
    CHECK_EQ(on_f("F: '*(x)+*'", "a(x)+b"), 1);
}

SN_TEST(string_modifiers)
{
    CHECK_EQ(on_f("F|contains: bC", "abcd"), 1);
    CHECK_EQ(on_f("F|contains: bd", "abcd"), 0);
    CHECK_EQ(on_f("F|startswith: AB", "abcd"), 1);
    CHECK_EQ(on_f("F|startswith: bc", "abcd"), 0);
    CHECK_EQ(on_f("F|endswith: cd", "abcd"), 1);
    CHECK_EQ(on_f("F|endswith: bc", "abcd"), 0);
    CHECK_EQ(on_f("F|contains: 'b*d'", "abxxd"), 1);
    CHECK_EQ(on_f("F|contains|all: [a, d]", "abcd"), 1);
    CHECK_EQ(on_f("F|contains|all: [a, e]", "abcd"), 0);
    CHECK_EQ(on_f("F|contains|cased: Bc", "abcd"), 0);
    CHECK_EQ(on_f("F|contains|cased: bc", "abcd"), 1);
}

SN_TEST(regex_modifiers)
{
    CHECK_EQ(on_f("F|re: '^A.c$'", "Abc"), 1);
    CHECK_EQ(on_f("F|re: '^A.c$'", "abc"), 0); /* re is case-sensitive */
    CHECK_EQ(on_f("F|re|i: '^A.c$'", "abc"), 1);
    CHECK_EQ(on_f("F|re: 'a.b'", "a\nb"), 0);
    CHECK_EQ(on_f("F|re|s: 'a.b'", "a\nb"), 1);
    CHECK_EQ(on_f("F|re: '^b$'", "a\nb"), 0);
    CHECK_EQ(on_f("F|re|m: '^b$'", "a\nb"), 1);
}

SN_TEST(encodings)
{
    CHECK_EQ(on_f("F|base64: abc", "YWJj"), 1);
    CHECK_EQ(on_f("F|base64: abc", "ywjj"), 0); /* encoded text: cased */
    /* "http" at each of the three offsets of a base64 stream. */
    CHECK_EQ(on_f("F|base64offset|contains: http", "aHR0cDovL2E="), 1);
    CHECK_EQ(on_f("F|base64offset|contains: http", "IGh0dHA6Ly9h"), 1);
    CHECK_EQ(on_f("F|base64offset|contains: http", "ICBodHRwOi8v"), 1);
    CHECK_EQ(on_f("F|base64offset|contains: http", "aHR0"), 0);
    CHECK_EQ(on_f("F|windash|contains: ' -enc'", "pwsh -enc x"), 1);
    CHECK_EQ(on_f("F|windash|contains: ' -enc'", "pwsh /enc x"), 1);
    CHECK_EQ(on_f("F|windash|contains: ' -enc'", "pwsh \xe2\x80\x93"
                                                 "enc x"),
             1);
    CHECK_EQ(on_f("F|windash|contains: ' -enc'", "pwsh enc x"), 0);
}

SN_TEST(null_exists_numbers_cidr)
{
    CHECK_EQ(on_f("F: null", NULL), 1);
    CHECK_EQ(on_f("F: null", ""), 1);
    CHECK_EQ(on_f("F: null", "x"), 0);
    CHECK_EQ(on_f("F|exists: true", "x"), 1);
    CHECK_EQ(on_f("F|exists: true", NULL), 0);
    CHECK_EQ(on_f("F|exists: false", NULL), 1);
    CHECK_EQ(run("  s: {N|gt: 5}\n  condition: s\n", "m", NULL, 6, NULL), 1);
    CHECK_EQ(run("  s: {N|gt: 5}\n  condition: s\n", "m", NULL, 5, NULL), 0);
    CHECK_EQ(run("  s: {N|gte: 5}\n  condition: s\n", "m", NULL, 5, NULL), 1);
    CHECK_EQ(run("  s: {N|lt: 5}\n  condition: s\n", "m", NULL, 5, NULL), 0);
    CHECK_EQ(run("  s: {N|lte: 5}\n  condition: s\n", "m", NULL, 5, NULL), 1);
    CHECK_EQ(run("  s: {N: 7}\n  condition: s\n", "m", NULL, 7, NULL), 1);
    CHECK_EQ(run("  s: {IP|cidr: 10.0.0.0/8}\n  condition: s\n", "m", NULL, 0,
                 "10.1.2.3"),
             1);
    CHECK_EQ(run("  s: {IP|cidr: 10.0.0.0/8}\n  condition: s\n", "m", NULL, 0,
                 "11.0.0.1"),
             0);
}

SN_TEST(keywords_and_maps)
{
    const char *kw = "  kw: ['foo*bar', 'exact phrase']\n  condition: kw\n";

    CHECK_EQ(run(kw, "xx FOO zz bar yy", NULL, 0, NULL), 1);
    CHECK_EQ(run(kw, "an exact phrase here", NULL, 0, NULL), 1);
    CHECK_EQ(run(kw, "bar foo", NULL, 0, NULL), 0);
    /* a map: every field (and); a list of maps: any (or) */
    CHECK_EQ(run("  s: {F: a, N: 1}\n  condition: s\n", "m", "a", 1, NULL), 1);
    CHECK_EQ(run("  s: {F: a, N: 1}\n  condition: s\n", "m", "a", 2, NULL), 0);
    CHECK_EQ(run("  s: [{F: a}, {N: 1}]\n  condition: s\n", "m", "b", 1, NULL),
             1);
    CHECK_EQ(run("  s: [{F: a}, {N: 1}]\n  condition: s\n", "m", "b", 2, NULL),
             0);
    CHECK_EQ(run("  s: {'|all': [foo, bar]}\n  condition: s\n", "bar foo", NULL,
                 0, NULL),
             1);
    CHECK_EQ(run("  s: {'|all': [foo, bar]}\n  condition: s\n", "foo", NULL, 0,
                 NULL),
             0);
}

SN_TEST(conditions)
{
    const char *sels = "  sel_a: {F: a}\n  sel_b: {N: 1}\n  _h: {F: zz}\n";
    char det[512];
    struct {
        const char *cond, *f;
        int64_t n;
        int want;
    } c[] = {
        { "sel_a and not sel_b", "a", 2, 1 },
        { "sel_a and not sel_b", "a", 1, 0 },
        { "1 of sel_*", "x", 1, 1 },
        { "1 of sel_*", "x", 2, 0 },
        { "all of sel_*", "a", 1, 1 },
        { "all of sel_*", "a", 2, 0 },
        { "all of them", "a", 1, 1 }, /* _h left out of them */
        { "1 of them", "zz", 2, 0 },
        { "any of them", "a", 2, 1 },
        /* not > and > or */
        { "sel_a or sel_b and _h", "a", 2, 1 },
        { "(sel_a or sel_b) and _h", "a", 2, 0 },
        { "not sel_a or sel_b", "x", 2, 1 },
        { "not (sel_a or sel_b)", "a", 2, 0 },
        { "not not sel_a", "a", 2, 1 },
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int got;
        snprintf(det, sizeof(det), "%s  condition: %s\n", sels, c[i].cond);
        got = run(det, "m", c[i].f, c[i].n, NULL);
        if (got != c[i].want)
            printf("# %s (F=%s N=%lld): got %d\n", c[i].cond, c[i].f,
                   (long long)c[i].n, got);
        CHECK_EQ(got, c[i].want);
    }
}

/* The error building this detection gives (caller frees). */
static char *
err_of(const char *detection)
{
    char *diags = NULL;
    struct sn_ruleset *rs = build(detection, &diags);

    sn_ruleset_free(rs);
    return diags;
}

static int
has(const char *detection, const char *want)
{
    char *d = err_of(detection);
    int ok = d != NULL && strstr(d, want) != NULL;

    if (!ok)
        printf("# want \"%s\", got: %s\n", want, d ? d : "(null)");
    free(d);
    return ok;
}

SN_TEST(errors_name_the_construct_and_its_place)
{
    /* The detection starts at line 8 of t.yml (after the mapping). */
    CHECK(has("  s: {F|contain: a}\n  condition: s\n",
              "t.yml:9:9: error: rule \"t\": unknown Sigma modifier "
              "\"contain\"; did you mean \"contains\"?"));
    CHECK(has("  s: {F|utf16le|base64: a}\n  condition: s\n",
              "t.yml:9:9: error: rule \"t\": Sigma modifier \"utf16le\" is "
              "not supported"));
    CHECK(has("  s: {F|fieldref: N}\n  condition: s\n",
              "Sigma modifier \"fieldref\" is not supported"));
    CHECK(has("  s: {F: a}\n  condition: s | count() > 5\n",
              "t.yml:10:16: error: rule \"t\": aggregation expressions"));
    CHECK(has("  s: {F: a}\n  condition: 2 of s\n",
              "t.yml:10:14: error: rule \"t\": \"2 of\" is not supported"));
    CHECK(has("  s: {F: a}\n  condition: s and t\n",
              "t.yml:10:20: error: rule \"t\": unknown selection \"t\""));
    CHECK(has("  s: {F: a}\n  condition: (s\n",
              "t.yml:10:14: error: rule \"t\": unclosed '('"));
    CHECK(has("  s: {F: a}\n  condition: 1 of x*\n",
              "no selection matches \"x*\""));
    CHECK(has("  s: {F|re: '(a'}\n  condition: s\n", "bad regex"));
    CHECK(has("  s: {F|gt: abc}\n  condition: s\n",
              "\"gt\" needs a number, not \"abc\""));
    CHECK(has("  s: {F: a}\n", "a Sigma detection needs a \"condition\""));
    CHECK(has("  s: {Other: a}\n  condition: s\n",
              "warning: rule \"t\": skipped: Sigma field \"Other\" has no "
              "mapping for logsource product=t"));
}

/* Diagnostics of a bare YAML text (caller frees). */
static char *
diags_of(const char *yaml)
{
    char *text = NULL;

    sn_ruleset_free(load_text(yaml, &text));
    return text;
}

SN_TEST(mapping_errors_point_into_the_mapping)
{
    char *d = diags_of("sigma:\n  logsources:\n"
                       "    - {product: t, match: 'appname == '}\n");

    CHECK(d != NULL && strstr(d, "t.yml:3:38: error: Sigma logsource "
                                 "match: ") != NULL);
    free(d);
    d = diags_of("sigma:\n  logsources:\n    - {prodcut: t}\n");
    CHECK(d != NULL && strstr(d, "t.yml:3:8: error: unknown key \"prodcut\" "
                                 "in a Sigma logsource; did you mean "
                                 "\"product\"?") != NULL);
    free(d);
    d = diags_of("sigma:\n  fields: {User: 'not a field'}\n");
    CHECK(d != NULL && strstr(d, "t.yml:2:18: error: Sigma field \"User\" "
                                 "must map to an event field name") != NULL);
    free(d);
}

static enum sn_status
emit_name(void *arg, size_t i, struct sn_buf *out)
{
    return sn_buf_puts(out, ((const char *const *)arg)[i]);
}

SN_TEST(condition_translation_text)
{
    static const char *const names[] = { "a", "b1", "b2", "_c" };
    struct sn_buf out;
    struct sn_expr_err err;
    char deep[300];

    sn_buf_init(&out, 4096);
    CHECK_EQ(sn_sigma_cond_translate("a and not 1 of b*", 17, names, 4,
                                     emit_name, (void *)names, &out, &err),
             SN_OK);
    sn_buf_putc(&out, '\0');
    CHECK_STR(out.data, "(a) and not ((b1) or (b2))");
    sn_buf_reset(&out);
    CHECK_EQ(sn_sigma_cond_translate("all of them", 11, names, 4, emit_name,
                                     (void *)names, &out, &err),
             SN_OK);
    sn_buf_putc(&out, '\0');
    CHECK_STR(out.data, "((a) and (b1) and (b2))");
    memset(deep, '(', 200);
    memcpy(deep + 200, "a", 2);
    sn_buf_reset(&out);
    CHECK_EQ(sn_sigma_cond_translate(deep, 201, names, 4, emit_name,
                                     (void *)names, &out, &err),
             SN_ELIMIT);
    sn_buf_fini(&out);
}

SN_TEST_MAIN(SN_T(plain_values_are_whole_and_case_insensitive),
             SN_T(wildcards_and_escapes), SN_T(string_modifiers),
             SN_T(regex_modifiers), SN_T(encodings),
             SN_T(null_exists_numbers_cidr), SN_T(keywords_and_maps),
             SN_T(conditions), SN_T(errors_name_the_construct_and_its_place),
             SN_T(mapping_errors_point_into_the_mapping),
             SN_T(condition_translation_text))
