/*
 * GET /api/v1/rules: every rule of every det_rules detector of the running
 * pipeline, compiled afresh from the detector's configured files so the
 * answer also carries validation results (warnings, or the errors a
 * reload would hit). Hit counts: "hits" is the detector's match counter,
 * and each rule has its "matches" and "signals", read from the counters
 * det_rules keeps per rule (sentineld_plugin_rule_*_total{rule="id"}), so
 * they survive reloads and a rule new in the files shows 0.
 * POST /api/v1/rules/reload: the SIGHUP path, answered with its outcome.
 */
#include <stdio.h>
#include <string.h>

#include "config/diag.h"
#include "core/json.h"
#include "http/http_int.h"
#include "pipeline/pipeline.h"
#include "rules/load.h"

static const struct sn_strlist *
rule_paths(const struct sn_instance *in)
{
    for (const struct sn_option *o = in->p->options; o && o->name; o++)
        if (strcmp(o->name, "rules") == 0 && o->type == SN_OPT_LIST)
            /* offsetof into the config the core filled: aligned. */
            return (const void *)((const char *)in->config + o->offset);
    return NULL;
}

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

static void
one_detector(struct sn_buf *b, struct sn_http *h, struct sn_instance *in)
{
    const struct sn_strlist *paths = rule_paths(in);
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_diags d;
    char labels[400];

    sn_diags_init(&d);
    for (size_t i = 0; src && paths && i < paths->n; i++)
        sn_rules_src_add_path(src, paths->items[i], &d);
    if (src && d.n_errors == 0)
        sn_ruleset_build(src, &rs, &d);
    sn_rules_src_free(src);
    SN_BUF_LIT(b, "{");
    put_str(b, "detector", in->name);
    sn_buf_putc(b, ',');
    snprintf(labels, sizeof(labels), "%s", in->labels);
    sn_buf_printf(
        b, "\"hits\":%llu,\"rules\":[",
        (unsigned long long)sn_metrics_value(
            h->env.metrics, "sentineld_plugin_rules_matches_total", labels));
    for (size_t i = 0; rs && i < rs->n_rules; i++) {
        const struct sn_rule *r = &rs->rules[i];
        if (i)
            sn_buf_putc(b, ',');
        sn_buf_putc(b, '{');
        put_str(b, "id", r->id);
        sn_buf_putc(b, ',');
        put_str(b, "title", r->title);
        sn_buf_putc(b, ',');
        put_str(b, "severity", sn_rule_severity_name(r->severity));
        sn_buf_printf(b, ",\"enabled\":%s,", r->enabled ? "true" : "false");
        put_str(b, "file", r->file);
        sn_buf_printf(b, ",\"line\":%d,\"kind\":\"%s\",\"aggregate\":%s,",
                      r->line, rule_kind(r), r->aggregate ? "true" : "false");
        put_str(b, "description", r->description);
        sn_buf_putc(b, ',');
        put_str(b, "match", r->match_text);
        SN_BUF_LIT(b, ",\"tags\":[");
        for (size_t t = 0; t < r->n_tags; t++) {
            if (t)
                sn_buf_putc(b, ',');
            sn_json_str(b, r->tags[t], strlen(r->tags[t]));
        }
        SN_BUF_LIT(b, "],");
        put_definition(b, r);
        put_samples(b, r);
        /* Rule ids need no escaping in a label value (rules/load.c). */
        snprintf(labels, sizeof(labels), "%s,rule=\"%s\"", in->labels, r->id);
        sn_buf_printf(
            b, ",\"matches\":%llu,\"signals\":%llu}",
            (unsigned long long)sn_metrics_value(
                h->env.metrics, "sentineld_plugin_rule_matches_total", labels),
            (unsigned long long)sn_metrics_value(
                h->env.metrics, "sentineld_plugin_rule_signals_total", labels));
    }
    SN_BUF_LIT(b, "],\"diagnostics\":[");
    for (size_t i = 0; i < d.n; i++) {
        const struct sn_diag *it = &d.items[i];
        if (i)
            sn_buf_putc(b, ',');
        sn_buf_putc(b, '{');
        put_str(b, "level", it->level == SN_DIAG_ERROR ? "error" : "warning");
        sn_buf_putc(b, ',');
        put_str(b, "file", it->file);
        sn_buf_printf(b, ",\"line\":%d,\"col\":%d,", it->line, it->col);
        put_str(b, "message", it->msg);
        sn_buf_putc(b, '}');
    }
    sn_buf_printf(b, "],\"valid\":%s}", d.n_errors ? "false" : "true");
    sn_diags_fini(&d);
    sn_ruleset_free(rs);
}

void
sn_api_rules_list(struct sn_req *rq)
{
    struct sn_pipeline *pl = *rq->h->env.pl;
    struct sn_buf b;
    bool first = true;

    sn_buf_init(&b, 16u << 20);
    SN_BUF_LIT(&b, "{\"detectors\":[");
    for (size_t i = 0; pl && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind != SN_KIND_DETECTOR || rule_paths(in) == NULL)
            continue;
        if (!first)
            sn_buf_putc(&b, ',');
        first = false;
        one_detector(&b, rq->h, in);
    }
    SN_BUF_LIT(&b, "]}\n");
    sn_reply_json(rq, 200, &b);
    sn_buf_fini(&b);
}

void
sn_api_rules_reload(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    bool ok;

    sn_req_log(rq, SN_LOG_INFO, "reload requested by %s", rq->actor);
    if (h->env.reload == NULL) {
        sn_reply_error(rq, 501, "not_supported", "reload is not available");
        return;
    }
    ok = h->env.reload(h->env.reload_arg);
    if (!ok) {
        sn_reply_error(rq, 422, "reload_failed",
                       "the new configuration or rules are invalid (see the "
                       "daemon log); the running pipeline is unchanged");
        return;
    }
    sn_reply(rq, 200, "application/json", "{\"reloaded\":true}\n", 18);
}
