/*
 * det_rules' HTTP route, GET /api/v1/plugins/<instance>/rules: the rules
 * this instance runs, from its compiled ruleset, each with its matches,
 * signals and estimated evaluation time (eval_ns) read from the
 * per-rule counters det_rules keeps (the
 * /metrics series, so they go on across reloads), plus the warnings the
 * rule files gave when they were loaded. Answered on the control thread;
 * nothing here touches the shards.
 */
#include "det_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "core/json.h"

/* The reply grows with the rule count; this bounds it far above any
 * ruleset the loader accepts. */
#define RULES_JSON_MAX ((size_t)16 << 20)

static void
put_str(struct sn_buf *b, const char *key, const char *v)
{
    sn_json_key(b, key);
    sn_json_str_or_null(b, v, v ? strlen(v) : 0);
}

/* The correlation kind of a rule: the first kind key it has, else a
 * plain "match" rule (one signal per matching event). */
static const char *
rule_kind(const struct sn_rule *r)
{
    static const char *const kinds[] = { "threshold", "distinct", "sequence",
                                         "absence",   "rate",     "new_value" };

    for (size_t i = 0; i < r->n_kept; i++)
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (strcmp(r->kept[i]->key->str, kinds[k]) == 0)
                return kinds[k];
    return "match";
}

/* The rule's text as written: from its "- id:" line to the next rule
 * or the end of the list (at most DEF_MAX bytes), for the console's
 * rules page; NULL when the file cannot be read. */
#define DEF_MAX 16384
static void
put_definition(struct sn_buf *b, const struct sn_rule *r)
{
    char line[1024], text[DEF_MAX];
    size_t len = 0, indent = 0;
    int n = 0;
    FILE *f = r->file != NULL ? fopen(r->file, "r") : NULL;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t l = strlen(line), sp = strspn(line, " ");
        if (++n < r->line)
            continue;
        if (n == r->line) {
            /* r->line points at the rule's mapping, usually "- id:". */
            indent = sp;
        } else if (l > sp + 1 && sp <= indent &&
                   (line[sp] == '-' || sp < indent)) {
            break; /* the next rule, or the end of the rules list */
        }
        if (len + l >= sizeof(text))
            break;
        memcpy(text + len, line, l);
        len += l;
    }
    if (f != NULL)
        fclose(f);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    sn_json_key(b, "definition");
    if (f == NULL)
        SN_BUF_LIT(b, "null");
    else
        sn_json_str(b, text, len);
}

/* Does annotation `a` ("# expect: r1 f=v, r2, ..." or "# expect-not: r1
 * r2" or "# expect-signal: r1") name rule id? */
static bool
names_rule(const char *a, const char *id)
{
    size_t l = strlen(id);
    bool list = strncmp(a, "# expect-not:", 13) == 0 ||
                strncmp(a, "# expect-signal:", 16) == 0 ||
                strncmp(a, "# expect-no-signal:", 19) == 0;
    const char *p = strchr(a, ':');

    /* expect: the rule id starts a comma-separated item; the others list
     * ids separated by blanks. */
    for (p = p ? p + 1 : a; *p != '\0'; p++) {
        if (*p == ' ' && strncmp(p + 1, id, l) == 0 &&
            (p[1 + l] == ' ' || p[1 + l] == ',' || p[1 + l] == '\n' ||
             p[1 + l] == '\0') &&
            (list || p == strchr(a, ':') + 1 || p[-1] == ','))
            return true;
    }
    return false;
}

/* The rule's annotated samples (docs/rules.md "Samples"): lines of
 * samples/<file stem>.log beside its rule file whose annotation names it,
 * as {"expect": annotation, "line": sample}, at most SAMPLES_MAX. */
#define SAMPLES_MAX 8
static void
put_samples(struct sn_buf *b, const struct sn_rule *r)
{
    char path[4096], line[2048], ann[2048] = "";
    const char *slash = r->file ? strrchr(r->file, '/') : NULL;
    const char *dot;
    FILE *f = NULL;
    int n = 0;

    if (r->file != NULL) {
        const char *base = slash ? slash + 1 : r->file;
        int dir = slash ? (int)(slash - r->file) : 1;
        dot = strrchr(base, '.');
        if ((size_t)snprintf(path, sizeof(path), "%.*s/samples/%.*s.log", dir,
                             slash ? r->file : ".",
                             (int)(dot ? dot - base : (long)strlen(base)),
                             base) < sizeof(path))
            f = fopen(path, "r");
    }
    SN_BUF_LIT(b, ",\"samples\":[");
    while (f != NULL && n < SAMPLES_MAX && fgets(line, sizeof(line), f)) {
        size_t l = strcspn(line, "\n");
        line[l] = '\0';
        if (strncmp(line, "# expect", 8) == 0) {
            snprintf(ann, sizeof(ann), "%s", line);
            continue;
        }
        if (line[0] == '#' || l == 0)
            continue;
        if (ann[0] != '\0' && names_rule(ann, r->id)) {
            if (n++)
                sn_buf_putc(b, ',');
            SN_BUF_LIT(b, "{\"expect\":");
            sn_json_str(b, ann + 2, strlen(ann + 2));
            SN_BUF_LIT(b, ",\"line\":");
            sn_json_str(b, line, l);
            sn_buf_putc(b, '}');
        }
        ann[0] = '\0';
    }
    if (f != NULL)
        fclose(f);
    sn_buf_putc(b, ']');
}

enum sn_status
dr_api_keep_diags(struct dr_state *s, const struct sn_diags *d)
{
    struct sn_buf b;

    sn_buf_init(&b, RULES_JSON_MAX);
    SN_BUF_LIT(&b, "[");
    for (size_t i = 0; i < d->n; i++) {
        const struct sn_diag *it = &d->items[i];
        if (i)
            sn_buf_putc(&b, ',');
        sn_buf_putc(&b, '{');
        put_str(&b, "level", it->level == SN_DIAG_ERROR ? "error" : "warning");
        sn_buf_putc(&b, ',');
        put_str(&b, "file", it->file);
        sn_buf_printf(&b, ",\"line\":%d,\"col\":%d,", it->line, it->col);
        put_str(&b, "message", it->msg);
        sn_buf_putc(&b, '}');
    }
    if (sn_buf_putc(&b, ']') != SN_OK || sn_buf_putc(&b, '\0') != SN_OK) {
        sn_buf_fini(&b);
        return SN_ENOMEM;
    }
    s->diags_json = strdup(b.data);
    sn_buf_fini(&b);
    return s->diags_json != NULL ? SN_OK : SN_ENOMEM;
}

void
dr_api_rules(void *state, struct sn_http_req *rq)
{
    struct dr_state *s = state;
    const struct sn_host *h = s->host;
    struct sn_buf b;

    sn_buf_init(&b, RULES_JSON_MAX);
    SN_BUF_LIT(&b, "{");
    put_str(&b, "detector", h->instance_name(s->inst));
    sn_buf_printf(&b, ",\"hits\":%llu,\"rules\":[",
                  (unsigned long long)h->counter_value(s->c_matches));
    for (size_t i = 0; i < s->rs->n_rules; i++) {
        const struct sn_rule *r = &s->rs->rules[i];
        uint64_t m = 0, sig = 0, ns = 0;

        if (s->rule_matches != NULL) {
            m = h->counter_value(s->rule_matches[i]);
            sig = h->counter_value(s->rule_signals[i]);
            ns = h->counter_value(s->rule_eval_ns[i]);
        }
        if (i)
            sn_buf_putc(&b, ',');
        sn_buf_putc(&b, '{');
        put_str(&b, "id", r->id);
        sn_buf_putc(&b, ',');
        put_str(&b, "title", r->title);
        sn_buf_putc(&b, ',');
        put_str(&b, "severity", sn_rule_severity_name(r->severity));
        sn_buf_printf(&b, ",\"enabled\":%s,", r->enabled ? "true" : "false");
        put_str(&b, "file", r->file);
        sn_buf_printf(&b, ",\"line\":%d,\"kind\":\"%s\",\"aggregate\":%s,",
                      r->line, rule_kind(r), r->aggregate ? "true" : "false");
        put_str(&b, "description", r->description);
        sn_buf_putc(&b, ',');
        put_str(&b, "match", r->match_text);
        SN_BUF_LIT(&b, ",\"tags\":[");
        for (size_t t = 0; t < r->n_tags; t++) {
            if (t)
                sn_buf_putc(&b, ',');
            sn_json_str(&b, r->tags[t], strlen(r->tags[t]));
        }
        SN_BUF_LIT(&b, "],\"sigma\":");
        if (r->sigma != NULL)
            sn_buf_append(&b, r->sigma, strlen(r->sigma));
        else
            SN_BUF_LIT(&b, "null");
        sn_buf_putc(&b, ',');
        put_definition(&b, r);
        put_samples(&b, r);
        sn_buf_printf(&b,
                      ",\"matches\":%llu,\"signals\":%llu,\"eval_ns\":%llu}",
                      (unsigned long long)m, (unsigned long long)sig,
                      (unsigned long long)ns);
    }
    SN_BUF_LIT(&b, "],\"diagnostics\":");
    sn_buf_append(&b, s->diags_json, strlen(s->diags_json));
    /* A running ruleset compiled: a file with errors fails init. */
    if (SN_BUF_LIT(&b, ",\"valid\":true}\n") != SN_OK)
        h->http_reply_error(rq, 500, "internal",
                            "the rule list does not fit in %zu bytes",
                            RULES_JSON_MAX);
    else
        h->http_reply(rq, 200, "application/json", b.data, b.len);
    sn_buf_fini(&b);
}
