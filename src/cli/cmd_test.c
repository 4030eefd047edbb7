/*
 * `sentineld test`: replay log files through rules offline, like
 * fail2ban-regex. Every line is parsed (auto, rfc5424, rfc3164 or raw),
 * every rule evaluated, and the matches printed with their extracted
 * fields (text, or one JSON object per line with --json). --explain adds
 * each matching rule's condition trace.
 *
 * --verify checks annotated samples (docs/rules.md "Samples"): a comment
 * line `# expect: RULE [field=value ...] [, RULE ...]` or `# expect: none`
 * states exactly what the next log line must match, `# expect-not: RULE
 * ...` that those rules must not match it (a near miss). It reports every
 * mismatch as file:line and, at the end, each rule's coverage: at least
 * one positive and one negative sample per rule, or the run fails.
 * --stats adds a per-rule recall/precision table over those samples.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/parse_input.h"
#include "cli/test_corr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/status.h"
#include "event/event.h"
#include "rules/eval.h"
#include "rules/load.h"
#include "rules/value.h"

#define EXIT_OK 0
#define EXIT_FAILED 1 /* unreadable input, or samples that do not verify */
#define EXIT_USAGE 2  /* bad arguments, or rules that do not compile */

enum fmt { FMT_AUTO, FMT_RFC5424, FMT_RFC3164, FMT_RAW };

struct expect_field {
    const char *rule; /* the rule it belongs to */
    char name[128];
    char value[512];
};

struct expect {
    bool active;   /* an annotation precedes the current line */
    bool exact;    /* `expect:`: exactly these rules */
    const char *rules[SN_CLI_MAX_EXPECT];
    size_t n_rules;
    struct expect_field fields[SN_CLI_MAX_EXPECT];
    size_t n_fields;
    char text[1024]; /* storage the pointers above point into */
    int line;
};

/* `# expect-signal: A B` / `# expect-no-signal: C`: the next line must
 * (must not) raise a firing signal of those rules. */
struct sexpect {
    bool active;
    const char *pos[SN_CLI_MAX_EXPECT], *neg[SN_CLI_MAX_EXPECT];
    size_t n_pos, n_neg;
    char text[1024];
    size_t used; /* of text */
    int line;
};

/* Per rule: samples that passed (positive, negative), hits, and for
 * --stats the confusion counts over annotated lines: tp (expected and
 * matched), fn (expected, missed), fp (matched or signalled where the
 * annotation says it must not, or does not list it). */
struct coverage {
    unsigned positive, negative, hits;
    unsigned tp, fn, fp;
};

struct test {
    enum fmt fmt;
    bool json, explain, verify, quiet, stats;
    struct sn_rfc3164_opts opts;
    struct sn_rfc3164_memo memo; /* the lines' shared timestamps */
    const struct sn_ruleset *rs;
    struct sn_rules_scratch *sc;
    struct coverage *cov; /* per rule */
    /* The matches of one line without the rate/absence watchers (struct
     * sn_rule aggregate), as det_rules tags events; n_rules entries. */
    struct sn_rule_match *tagged;
    struct sn_test_corr *tc;
    struct sexpect se;
    unsigned long lines, matched_lines, failures;
    struct sn_buf out;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: sentineld test -r RULES [-r RULES...] [--format "
            "auto|rfc3164|rfc5424|raw]\n"
            "                      [--json] [--explain] [--verify [--stats]] "
            "[--quiet]\n"
            "                      FILE...\n"
            "  -r RULES     a rule file, or a directory of *.yaml rule files\n"
            "  --format F   how lines are parsed (default auto)\n"
            "  --json       one JSON object per line, then a summary object\n"
            "  --explain    print the condition trace of every match\n"
            "  --verify     check '# expect:' annotations and rule coverage\n"
            "  --stats      with --verify: per-rule recall and precision over\n"
            "               the annotated samples\n"
            "  -q, --quiet  no per-line output: only the signals and the "
            "summary\n"
            "At the end it prints the signals the rules' correlations "
            "raised (with --json,\none JSON object per signal).\n"
            "FILE may be - for standard input.\n");
}

/* ---- event access for the rules engine --------------------------------- */

struct line_event {
    const struct sn_syslog_msg *m;
};

static bool
str_value(struct sn_str s, struct sn_value *out)
{
    if (s.ptr == NULL)
        return false;
    out->type = SN_VAL_STR;
    out->u.s = s;
    return true;
}

static bool
int_value(int v, struct sn_value *out)
{
    if (v < 0)
        return false;
    out->type = SN_VAL_INT;
    out->u.i = v;
    return true;
}

static bool
line_get(void *ctx, int field_id, const char *name, size_t name_len,
         struct sn_value *out)
{
    const struct sn_syslog_msg *m = ((struct line_event *)ctx)->m;

    (void)name;
    (void)name_len;
    switch (field_id) {
    case SN_RF_HOSTNAME: return str_value(m->hostname, out);
    case SN_RF_APPNAME: return str_value(m->appname, out);
    case SN_RF_PROCID: return str_value(m->procid, out);
    case SN_RF_MSGID: return str_value(m->msgid, out);
    case SN_RF_MSG: return str_value(sn_rule_msg_view(m->msg), out);
    case SN_RF_SEVERITY: return int_value(m->pri < 0 ? -1 : m->pri % 8, out);
    case SN_RF_FACILITY: return int_value(m->pri < 0 ? -1 : m->pri / 8, out);
    case SN_RF_PRI: return int_value(m->pri, out);
    default: return false; /* parsers of the CLI set no other fields */
    }
}

/* ---- annotations --------------------------------------------------------- */

/* Value of a field as text (the rules' own rendering, so an annotation
 * compares with what rules compare), NUL-terminated in buf. */
static void
value_text(const struct sn_value *v, char *buf, size_t len)
{
    char tmp[64];
    struct sn_str t;

    if (!sn_value_text(v, tmp, sizeof(tmp), &t))
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%.*s", (int)t.len, t.ptr);
}

/* Next token of an annotation: a word, or a "quoted string" value. */
static char *
next_token(char **p)
{
    char *s = *p, *start;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0')
        return NULL;
    start = s;
    while (*s != '\0' && *s != ' ' && *s != '\t' && *s != ',') {
        if (*s == '"') {
            char *q = strchr(s + 1, '"');
            s = q != NULL ? q + 1 : s + strlen(s);
            continue;
        }
        s++;
    }
    if (*s != '\0')
        *s++ = '\0';
    *p = s;
    return start;
}

static bool
parse_expect(struct expect *e, const char *line, size_t len, int lineno)
{
    const char *body;
    char *p, *tok;

    bool exact;

    if (len >= 9 && strncmp(line, "# expect:", 9) == 0) {
        exact = true;
        body = line + 9;
    } else if (len >= 13 && strncmp(line, "# expect-not:", 13) == 0) {
        exact = false;
        body = line + 13;
    } else {
        return false;
    }
    /* Parsed in place: rules[] and fields point into e->text. */
    memset(e, 0, sizeof(*e));
    e->exact = exact;
    snprintf(e->text, sizeof(e->text), "%.*s", (int)(len - (size_t)(body - line)),
             body);
    e->active = true;
    e->line = lineno;
    p = e->text;
    while ((tok = next_token(&p)) != NULL) {
        char *eq = strchr(tok, '=');

        if (eq == NULL) {
            if (strcmp(tok, "none") != 0 && e->n_rules < SN_CLI_MAX_EXPECT)
                e->rules[e->n_rules++] = tok;
            continue;
        }
        if (e->n_rules > 0 && e->n_fields < SN_CLI_MAX_EXPECT) {
            struct expect_field *f = &e->fields[e->n_fields++];
            const char *v = eq + 1;
            size_t vlen = strlen(v);

            *eq = '\0';
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            f->rule = e->rules[e->n_rules - 1];
            snprintf(f->name, sizeof(f->name), "%.*s",
                     (int)(sizeof(f->name) - 1), tok);
            snprintf(f->value, sizeof(f->value), "%.*s", (int)vlen, v);
        }
    }
    return true;
}

static bool
parse_sexpect(struct sexpect *e, const char *line, size_t len, int lineno)
{
    bool pos;
    size_t skip;
    char *p, *tok;

    if (len >= 16 && strncmp(line, "# expect-signal:", 16) == 0) {
        pos = true;
        skip = 16;
    } else if (len >= 19 && strncmp(line, "# expect-no-signal:", 19) == 0) {
        pos = false;
        skip = 19;
    } else {
        return false;
    }
    if (!e->active)
        memset(e, 0, sizeof(*e));
    e->active = true;
    e->line = lineno;
    /* Both kinds may precede one line: append after what is there. */
    p = e->text + e->used;
    if (e->used + 1 >= sizeof(e->text))
        return true;
    snprintf(p, sizeof(e->text) - e->used, "%.*s", (int)(len - skip),
             line + skip);
    e->used += strlen(p) + 1;
    while ((tok = next_token(&p)) != NULL) {
        if (pos && e->n_pos < SN_CLI_MAX_EXPECT)
            e->pos[e->n_pos++] = tok;
        else if (!pos && e->n_neg < SN_CLI_MAX_EXPECT)
            e->neg[e->n_neg++] = tok;
    }
    return true;
}

static void
verify_signals(struct test *t, const char *file, int lineno)
{
    struct sexpect *e = &t->se;
    bool ok = true;

    for (size_t k = 0; k < e->n_pos + e->n_neg; k++) {
        bool want = k < e->n_pos;
        const char *id = want ? e->pos[k] : e->neg[k - e->n_pos];
        const struct sn_rule *r = sn_ruleset_find(t->rs, id);
        bool fired = sn_test_corr_line_fired(t->tc, id);

        if (r == NULL) {
            fprintf(stderr, "%s:%d: annotation names unknown rule '%s'\n",
                    file, e->line, id);
            ok = false;
        } else if (want != fired) {
            fprintf(stderr, "%s:%d: expected rule '%s' %s a signal; it %s\n",
                    file, lineno, id, want ? "to raise" : "not to raise",
                    fired ? "did" : "did not");
            if (want)
                t->cov[r->index].fn++;
            else
                t->cov[r->index].fp++;
            ok = false;
        } else if (want) {
            t->cov[r->index].positive++;
            t->cov[r->index].tp++;
        } else {
            t->cov[r->index].negative++;
        }
    }
    if (!ok)
        t->failures++;
}

static const struct sn_rule_match *
find_match(const struct sn_rule_match *m, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].rule->id, id) == 0)
            return &m[i];
    return NULL;
}

static void
verify_line(struct test *t, const char *file, int lineno,
            const struct expect *e, const struct sn_rule_match *m, size_t n)
{
    bool ok = true;

    for (size_t i = 0; i < e->n_rules; i++) {
        const struct sn_rule *r = sn_ruleset_find(t->rs, e->rules[i]);
        bool hit = find_match(m, n, e->rules[i]) != NULL;

        if (r == NULL) {
            fprintf(stderr, "%s:%d: annotation names unknown rule '%s'\n",
                    file, e->line, e->rules[i]);
            ok = false;
            continue;
        }
        if (e->exact && !hit) {
            fprintf(stderr, "%s:%d: expected rule '%s' to match; it did "
                    "not\n", file, lineno, e->rules[i]);
            t->cov[r->index].fn++;
            ok = false;
        } else if (!e->exact && hit) {
            fprintf(stderr, "%s:%d: expected rule '%s' not to match; it "
                    "did\n", file, lineno, e->rules[i]);
            t->cov[r->index].fp++;
            ok = false;
        } else if (e->exact) {
            t->cov[r->index].positive++;
            t->cov[r->index].tp++;
        } else {
            t->cov[r->index].negative++;
        }
    }
    if (e->exact) {
        for (size_t k = 0; k < n; k++) {
            bool listed = false;
            for (size_t i = 0; i < e->n_rules; i++)
                if (strcmp(m[k].rule->id, e->rules[i]) == 0)
                    listed = true;
            if (!listed) {
                fprintf(stderr, "%s:%d: rule '%s' matched but the "
                        "annotation does not list it\n",
                        file, lineno, m[k].rule->id);
                t->cov[m[k].rule->index].fp++;
                ok = false;
            }
        }
    }
    for (size_t i = 0; i < e->n_fields; i++) {
        const struct expect_field *f = &e->fields[i];
        const struct sn_rule_match *mm = find_match(m, n, f->rule);
        bool found = false;
        char got[512] = "";

        for (size_t k = 0; mm != NULL && k < mm->n_fields; k++) {
            if (strlen(f->name) == mm->fields[k].name_len &&
                memcmp(f->name, mm->fields[k].name, mm->fields[k].name_len) ==
                    0) {
                found = true;
                value_text(&mm->fields[k].v, got, sizeof(got));
            }
        }
        if (mm == NULL)
            continue; /* already reported */
        if (!found || strcmp(got, f->value) != 0) {
            fprintf(stderr, "%s:%d: rule '%s': expected %s=\"%s\", got %s%s%s\n",
                    file, lineno, f->rule, f->name, f->value,
                    found ? "\"" : "", found ? got : "no such field",
                    found ? "\"" : "");
            ok = false;
        }
    }
    if (!ok)
        t->failures++;
}

/* ---- output ---------------------------------------------------------------- */

static void
print_fields_json(struct sn_buf *b, const struct sn_rule_match *m)
{
    sn_buf_putc(b, '{');
    for (size_t k = 0; k < m->n_fields; k++) {
        if (k > 0)
            sn_buf_putc(b, ',');
        sn_json_str(b, m->fields[k].name, m->fields[k].name_len);
        sn_buf_putc(b, ':');
        sn_value_to_json(&m->fields[k].v, b);
    }
    sn_buf_putc(b, '}');
}

static void
print_line(struct test *t, const char *file, int lineno,
           const struct sn_syslog_msg *msg, const struct sn_rule_event *rev,
           const struct sn_rule_match *m, size_t n, const char *reject)
{
    struct sn_buf *b = &t->out;

    if (t->quiet)
        return;
    sn_buf_reset(b);
    if (t->json) {
        sn_buf_printf(b, "{\"line\":%d,\"file\":", lineno);
        sn_json_str(b, file, strlen(file));
        if (reject != NULL) {
            SN_BUF_LIT(b, ",\"error\":");
            sn_json_str(b, reject, strlen(reject));
        } else {
            SN_BUF_LIT(b, ",\"event\":{");
            sn_syslog_msg_json(msg, b);
            sn_buf_putc(b, '}');
        }
        SN_BUF_LIT(b, ",\"matches\":[");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                sn_buf_putc(b, ',');
            SN_BUF_LIT(b, "{\"rule\":");
            sn_json_str(b, m[i].rule->id, strlen(m[i].rule->id));
            SN_BUF_LIT(b, ",\"severity\":");
            sn_buf_printf(b, "\"%s\"", sn_rule_severity_name(m[i].rule->severity));
            SN_BUF_LIT(b, ",\"fields\":");
            print_fields_json(b, &m[i]);
            if (t->explain) {
                struct sn_rule_explain x;
                struct sn_buf txt;

                sn_rules_explain(t->rs, t->sc, rev, m[i].rule, &x);
                sn_buf_init(&txt, 1 << 20);
                sn_rules_explain_format(&x, &txt);
                SN_BUF_LIT(b, ",\"explanation\":");
                sn_json_str(b, txt.data ? txt.data : "", txt.len);
                sn_buf_fini(&txt);
            }
            sn_buf_putc(b, '}');
        }
        SN_BUF_LIT(b, "]}\n");
    } else if (reject != NULL) {
        sn_buf_printf(b, "%s:%d: not parsed: %s\n", file, lineno, reject);
    } else if (n > 0) {
        sn_buf_printf(b, "%s:%d: %.*s\n", file, lineno,
                      (int)(msg->msg.ptr ? msg->msg.len : 0),
                      msg->msg.ptr ? msg->msg.ptr : "");
        for (size_t i = 0; i < n; i++) {
            sn_buf_printf(b, "  match %s (%s, %s)", m[i].rule->id,
                          m[i].rule->title,
                          sn_rule_severity_name(m[i].rule->severity));
            for (size_t k = 0; k < m[i].n_fields; k++) {
                char v[512];
                bool quote;

                value_text(&m[i].fields[k].v, v, sizeof(v));
                /* Quoted when it has a space, as annotations write it. */
                quote = strpbrk(v, " \t") != NULL || v[0] == '\0';
                sn_buf_printf(b, " %.*s=%s%s%s", (int)m[i].fields[k].name_len,
                              m[i].fields[k].name, quote ? "\"" : "", v,
                              quote ? "\"" : "");
            }
            sn_buf_putc(b, '\n');
            if (t->explain) {
                struct sn_rule_explain x;

                sn_rules_explain(t->rs, t->sc, rev, m[i].rule, &x);
                sn_rules_explain_format(&x, b);
            }
        }
    }
    if (b->len > 0)
        fwrite(b->data, 1, b->len, stdout);
}

/* ---- the run ----------------------------------------------------------------- */

static void
test_line(struct test *t, const char *file, int lineno, const char *p,
          size_t len, struct expect *e, struct sn_arena *arena)
{
    struct sn_syslog_msg msg;
    struct sn_parse_error err;
    struct sn_cli_parsed res;
    struct line_event le = { &msg };
    struct sn_rule_event rev = { &le, line_get };
    const struct sn_rule_match *m = NULL;
    size_t n = 0, n_tag;
    enum sn_status rc = SN_OK;

    sn_arena_reset(arena);
    /* Read only when a parser rejects the line, which fills it. */
    err.reason[0] = '\0';
    err.offset = 0;
    if (t->fmt == FMT_RAW) {
        sn_syslog_msg_init(&msg);
        msg.msg.ptr = p;
        msg.msg.len = len;
    } else {
        rc = sn_cli_parse_message(t->fmt == FMT_RFC5424   ? SN_CLI_FMT_RFC5424
                                  : t->fmt == FMT_RFC3164 ? SN_CLI_FMT_RFC3164
                                                          : SN_CLI_FMT_AUTO,
                                  &t->opts, &t->memo, p, len, arena, &msg,
                                  &res, &err);
    }
    t->lines++;
    if (rc == SN_OK) {
        n = sn_rules_eval(t->rs, t->sc, &rev, 0, &m);
        t->matched_lines += n > 0;
        for (size_t i = 0; i < n; i++)
            t->cov[m[i].rule->index].hits++;
    }
    if (rc == SN_OK)
        sn_test_corr_feed(t->tc, file, lineno, &msg, &rev, t->sc, m, n);
    n_tag = 0;
    for (size_t i = 0; i < n; i++)
        if (!m[i].rule->aggregate)
            t->tagged[n_tag++] = m[i];
    print_line(t, file, lineno, &msg, &rev, t->tagged, n_tag,
               rc == SN_OK ? NULL : err.reason);
    if (t->verify && e->active)
        verify_line(t, file, lineno, e, t->tagged, n_tag);
    if (t->verify && t->se.active)
        verify_signals(t, file, lineno);
    e->active = false;
    t->se.active = false;
}

/* Lines are cut out of large read() chunks instead of getline: one
 * syscall per READ_CHUNK bytes and no per-line copy. A line longer than
 * SN_CLI_LINE_MAX is an error (the file is not a log). */
#define READ_CHUNK     (1u << 20)
/* stdout's buffer (sn_cmd_test). */
#define STDOUT_BUF_LEN ((size_t)1 << 20)

static void
one_line(struct test *t, const char *path, int lineno, char *line, size_t len,
         struct expect *e, struct sn_arena *arena)
{
    if (len == 0)
        return;
    if (line[0] == '#') {
        if (t->verify && !parse_sexpect(&t->se, line, len, lineno))
            parse_expect(&e[0], line, len, lineno);
        return;
    }
    test_line(t, path, lineno, line, len, e, arena);
}

static int
test_file(struct test *t, const char *path)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    char *buf = NULL;
    size_t cap = READ_CHUNK, have = 0;
    int lineno = 0, status = EXIT_OK;
    struct expect e;
    struct sn_arena arena;

    if (fd < 0) {
        fprintf(stderr, "sentineld test: cannot read %s: %s\n", path,
                strerror(errno));
        return EXIT_FAILED;
    }
    memset(&e, 0, sizeof(e));
    memset(&t->se, 0, sizeof(t->se));
    buf = malloc(cap + 1);
    if (buf == NULL || !sn_test_corr_file(t->tc)) {
        free(buf);
        if (fd != 0)
            close(fd);
        return EXIT_FAILED;
    }
    sn_arena_init(&arena, 64 * 1024, 0);
    for (;;) {
        ssize_t n;
        size_t off = 0;
        char *nl;

        if (have == cap) {
            /* A line fills the buffer: grow it, up to the bound. */
            char *nb;
            if (cap >= SN_CLI_LINE_MAX) {
                fprintf(stderr, "sentineld test: %s:%d: line longer than "
                        "%u bytes\n", path, lineno + 1, SN_CLI_LINE_MAX);
                status = EXIT_FAILED;
                break;
            }
            nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                status = EXIT_FAILED;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        n = read(fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "sentineld test: cannot read %s: %s\n", path,
                    strerror(errno));
            status = EXIT_FAILED;
            break;
        }
        if (n == 0) {
            /* The last line may lack its newline. */
            buf[have] = '\0';
            if (have > 0)
                one_line(t, path, ++lineno, buf, have, &e, &arena);
            break;
        }
        have += (size_t)n;
        while ((nl = memchr(buf + off, '\n', have - off)) != NULL) {
            *nl = '\0';
            one_line(t, path, ++lineno, buf + off, (size_t)(nl - buf - off),
                     &e, &arena);
            off = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    free(buf);
    sn_arena_fini(&arena);
    if (fd != 0)
        close(fd);
    return status;
}

/* One ratio as a percentage, "-" when nothing was counted. */
static void
percent(char *buf, size_t len, unsigned num, unsigned den)
{
    if (den == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f%%", 100.0 * num / den);
}

/*
 * --stats: per rule, over the annotated lines (and signal annotations)
 * only: recall = tp / (tp + fn), the expected matches it made; precision
 * = tp / (tp + fp), its matches that were expected. A sample file states
 * the truth for the rules it names, so these are the pack's figures on
 * its own samples, not on a fleet's logs.
 */
static void
print_stats(struct test *t)
{
    unsigned tp = 0, fn = 0, fp = 0;
    char rc[16], pr[16];

    printf("%-36s %6s %6s %6s %6s %8s %9s\n", "rule", "expect", "tp", "fn",
           "fp", "recall", "precision");
    for (size_t i = 0; i < t->rs->n_rules; i++) {
        const struct coverage *c = &t->cov[i];

        percent(rc, sizeof(rc), c->tp, c->tp + c->fn);
        percent(pr, sizeof(pr), c->tp, c->tp + c->fp);
        printf("%-36s %6u %6u %6u %6u %8s %9s\n", t->rs->rules[i].id,
               c->tp + c->fn, c->tp, c->fn, c->fp, rc, pr);
        tp += c->tp;
        fn += c->fn;
        fp += c->fp;
    }
    percent(rc, sizeof(rc), tp, tp + fn);
    percent(pr, sizeof(pr), tp, tp + fp);
    printf("%-36s %6u %6u %6u %6u %8s %9s\n", "(all rules)", tp + fn, tp, fn,
           fp, rc, pr);
}

static int
report(struct test *t)
{
    bool coverage_ok = true;

    sn_test_corr_print(t->tc, t->json, stdout);
    if (t->json) {
        struct sn_buf *b = &t->out;

        sn_buf_reset(b);
        sn_buf_printf(b, "{\"summary\":{\"lines\":%lu,\"matched\":%lu,"
                      "\"signals\":%zu,\"failures\":%lu,\"rules\":{",
                      t->lines, t->matched_lines, sn_test_corr_count(t->tc),
                      t->failures);
        for (size_t i = 0; i < t->rs->n_rules; i++) {
            if (i > 0)
                sn_buf_putc(b, ',');
            sn_json_str(b, t->rs->rules[i].id, strlen(t->rs->rules[i].id));
            sn_buf_printf(b, ":%u", t->cov[i].hits);
        }
        SN_BUF_LIT(b, "}}}\n");
        fwrite(b->data, 1, b->len, stdout);
    } else {
        printf("%lu lines, %lu matched\n", t->lines, t->matched_lines);
        for (size_t i = 0; i < t->rs->n_rules; i++)
            printf("  %-36s %u hits\n", t->rs->rules[i].id, t->cov[i].hits);
    }
    if (!t->verify)
        return EXIT_OK;
    if (t->stats)
        print_stats(t);
    for (size_t i = 0; i < t->rs->n_rules; i++) {
        const struct sn_rule *r = &t->rs->rules[i];

        /* A watcher has no matching lines to annotate: its signals are
         * checked by `# expect-signal:` where a sample can show one. */
        if (r->aggregate)
            continue;
        if (t->cov[i].positive == 0 || t->cov[i].negative == 0) {
            fprintf(stderr, "%s:%d: rule '%s' has %u positive and %u "
                    "negative samples; it needs at least one of each\n",
                    r->file, r->line, r->id, t->cov[i].positive,
                    t->cov[i].negative);
            coverage_ok = false;
        }
    }
    fprintf(stderr, "verify: %lu sample mismatches, coverage %s\n",
            t->failures, coverage_ok ? "complete" : "INCOMPLETE");
    return t->failures == 0 && coverage_ok ? EXIT_OK : EXIT_FAILED;
}

int
sn_cmd_test(int argc, char **argv)
{
    struct test t;
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    const char **files = calloc((size_t)argc + 1, sizeof(char *));
    size_t n_files = 0, n_rule_paths = 0;
    int status = EXIT_OK;
    char *stdout_buf;

    memset(&t, 0, sizeof(t));
    /* Signals and lines are written a few hundred bytes at a time: a
     * large buffer makes that a write(2) per MiB, not per 4 KiB (28,000
     * calls for the 116 MB of signals of bench/bench_vs_sec.sh). glibc
     * ignores the size unless given the buffer, which stdout then uses
     * until the process exits: it is not freed. A terminal keeps its
     * line buffering. */
    if (!isatty(STDOUT_FILENO) &&
        (stdout_buf = malloc(STDOUT_BUF_LEN)) != NULL)
        setvbuf(stdout, stdout_buf, _IOFBF, STDOUT_BUF_LEN);
    t.opts.now_ns = sn_clock_wall_ns();
    sn_rfc3164_memo_init(&t.memo);
    sn_diags_init(&d);
    sn_buf_init(&t.out, 64u * 1024 * 1024);
    if (src == NULL || files == NULL) {
        status = EXIT_FAILED;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing = false;

        if ((v = sn_cli_opt_value(argc, argv, &i, "-r", &missing)) != NULL &&
            !missing) {
            n_rule_paths++;
            sn_rules_src_add_path(src, v, &d);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--format",
                                         &missing)) != NULL && !missing) {
            if (strcmp(v, "auto") == 0)
                t.fmt = FMT_AUTO;
            else if (strcmp(v, "rfc5424") == 0)
                t.fmt = FMT_RFC5424;
            else if (strcmp(v, "rfc3164") == 0)
                t.fmt = FMT_RFC3164;
            else if (strcmp(v, "raw") == 0)
                t.fmt = FMT_RAW;
            else {
                fprintf(stderr, "sentineld test: unknown format '%s'\n", v);
                status = EXIT_USAGE;
                goto out;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            t.json = true;
        } else if (strcmp(argv[i], "--explain") == 0) {
            t.explain = true;
        } else if (strcmp(argv[i], "--verify") == 0) {
            t.verify = true;
        } else if (strcmp(argv[i], "--stats") == 0) {
            t.stats = true;
        } else if (strcmp(argv[i], "-q") == 0 ||
                   strcmp(argv[i], "--quiet") == 0) {
            t.quiet = true;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            goto out;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "sentineld test: unknown option '%s'\n", argv[i]);
            usage(stderr);
            status = EXIT_USAGE;
            goto out;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (t.stats && !t.verify) {
        fprintf(stderr, "sentineld test: --stats needs --verify (it "
                        "counts against the samples' annotations)\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (n_rule_paths == 0 || n_files == 0) {
        usage(stderr);
        status = EXIT_USAGE;
        goto out;
    }
    if (d.n_errors == 0)
        sn_ruleset_build(src, &rs, &d);
    sn_diags_print(&d, stderr);
    if (d.n_errors > 0 || rs == NULL) {
        status = EXIT_USAGE;
        goto out;
    }
    t.rs = rs;
    t.tc = sn_test_corr_new(rs, &d);
    if (t.tc == NULL) {
        sn_diags_print(&d, stderr);
        status = d.n_errors > 0 ? EXIT_USAGE : EXIT_FAILED;
        goto out;
    }
    /* Nothing else goes to stdout per line: stream the signals rather
     * than keep them all (the same bytes, in the same order). */
    if (t.quiet && t.json && !t.verify)
        sn_test_corr_stream(t.tc, stdout);
    t.sc = sn_rules_scratch_new(rs);
    t.cov = calloc(rs->n_rules + 1, sizeof(*t.cov));
    t.tagged = calloc(rs->n_rules + 1, sizeof(*t.tagged));
    if (t.sc == NULL || t.cov == NULL || t.tagged == NULL) {
        status = EXIT_FAILED;
        goto out;
    }
    for (size_t i = 0; i < n_files; i++)
        if (test_file(&t, files[i]) != EXIT_OK)
            status = EXIT_FAILED;
    if (report(&t) != EXIT_OK)
        status = EXIT_FAILED;
out:
    sn_test_corr_free(t.tc);
    sn_rules_scratch_free(t.sc);
    free(t.cov);
    free(t.tagged);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
    sn_buf_fini(&t.out);
    free(files);
    return status;
}
