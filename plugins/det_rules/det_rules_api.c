/*
 * det_rules' HTTP route, GET /api/v1/plugins/<instance>/rules: the rules
 * this instance runs, from its compiled ruleset, each with its matches
 * and signals read from the per-rule counters det_rules keeps (the
 * /metrics series, so they go on across reloads), plus the warnings the
 * rule files gave when they were loaded. Answered on the control thread;
 * nothing here touches the shards.
 */
#include "det_rules.h"

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
        uint64_t m = 0, sig = 0;

        if (s->rule_matches != NULL) {
            m = h->counter_value(s->rule_matches[i]);
            sig = h->counter_value(s->rule_signals[i]);
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
        sn_buf_printf(&b, ",\"line\":%d,\"matches\":%llu,\"signals\":%llu}",
                      r->line, (unsigned long long)m, (unsigned long long)sig);
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
