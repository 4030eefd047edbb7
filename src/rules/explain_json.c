/*
 * A condition trace (struct sn_rule_explain, computed by eval.c) as JSON,
 * for signals and incidents: the same rows `sentineld test --explain`
 * prints as text (sn_rules_explain_format), so a signal explains itself
 * with exactly what the evaluator saw. Shape: docs/correlation.md.
 */
#include "rules/eval.h"

#include <string.h>

#include "core/json.h"
#include "rules/value.h"

#define TRY(x) SN_JSON_TRY(x)


/* ,"key":s, from the node's compiled JSON when it has it. */
static enum sn_status
member(struct sn_buf *b, const char *key, const char *s, const char *json,
       uint32_t json_len)
{
    return json != NULL ? sn_buf_append(b, json, json_len)
                        : sn_json_member_str(b, key, s);
}

#define EXPR(b, n) member((b), "expr", (n)->text, (n)->expr_json, \
                          (n)->expr_json_len)

static enum sn_status
row(struct sn_buf *b, const struct sn_trace_entry *t)
{
    enum sn_status rc;
    const char *kind;

    switch (t->kind) {
    case SN_TRACE_GROUP:
        kind = t->node->kind == SN_CN_AND  ? "and"
               : t->node->kind == SN_CN_OR ? "or"
                                           : "not";
        break;
    case SN_TRACE_PRED: kind = "pred"; break;
    case SN_TRACE_CONST: kind = "const"; break;
    case SN_TRACE_SKIP: kind = "skip"; break;
    default: kind = "extract"; break;
    }
    /* No printf: a signal carries a trace of tens of rows. */
    TRY(SN_BUF_LIT(b, "{\"depth\":"));
    TRY(sn_json_int(b, (int64_t)t->depth));
    TRY(SN_BUF_LIT(b, ",\"kind\":\""));
    TRY(sn_buf_puts(b, kind));
    TRY(t->kind == SN_TRACE_SKIP ? SN_BUF_LIT(b, "\",\"result\":\"skip\"")
        : t->result              ? SN_BUF_LIT(b, "\",\"result\":\"pass\"")
                                 : SN_BUF_LIT(b, "\",\"result\":\"fail\""));
    switch (t->kind) {
    case SN_TRACE_PRED:
        TRY(EXPR(b, t->node));
        TRY(member(b, "field", t->node->field_name, t->node->field_json,
                   t->node->field_json_len));
        TRY(SN_BUF_LIT(b, ",\"actual\":"));
        if (t->present)
            TRY(sn_value_json(&t->actual, b));
        else
            TRY(SN_BUF_LIT(b, "null"));
        TRY(t->present ? SN_BUF_LIT(b, ",\"present\":true")
                       : SN_BUF_LIT(b, ",\"present\":false"));
        TRY(t->from_extract ? SN_BUF_LIT(b, ",\"extracted\":true")
                            : SN_BUF_LIT(b, ",\"extracted\":false"));
        break;
    case SN_TRACE_CONST:
        TRY(EXPR(b, t->node));
        break;
    case SN_TRACE_SKIP:
        TRY(EXPR(b, t->node));
        TRY(SN_BUF_LIT(b, ",\"skipped\":"));
        TRY(sn_json_int(b, (int64_t)t->n_skipped));
        break;
    case SN_TRACE_EXTRACT:
        TRY(member(b, "from", t->extract->from_name, t->extract->from_json,
                   t->extract->from_json_len));
        TRY(member(b, "regex", t->extract->pattern, t->extract->pattern_json,
                   t->extract->pattern_json_len));
        break;
    default:
        break;
    }
    if (t->note != NULL)
        TRY(sn_json_member_str(b, "note", t->note));
    return sn_buf_putc(b, '}');
}

enum sn_status
sn_rules_explain_json(const struct sn_rule_explain *x, struct sn_buf *b)
{
    enum sn_status rc;

    TRY(SN_BUF_LIT(b, "{\"rule\":"));
    TRY(sn_json_str(b, x->rule->id, strlen(x->rule->id)));
    TRY(x->matched ? SN_BUF_LIT(b, ",\"matched\":true")
                   : SN_BUF_LIT(b, ",\"matched\":false"));
    TRY(!x->prefiltered    ? SN_BUF_LIT(b, ",\"prefilter\":null")
        : x->prefilter_hit ? SN_BUF_LIT(b, ",\"prefilter\":\"hit\"")
                           : SN_BUF_LIT(b, ",\"prefilter\":\"miss\""));
    TRY(SN_BUF_LIT(b, ",\"steps\":["));
    for (size_t i = 0; i < x->n_trace; i++) {
        if (i > 0)
            TRY(sn_buf_putc(b, ','));
        TRY(row(b, &x->trace[i]));
    }
    TRY(x->truncated ? SN_BUF_LIT(b, "],\"truncated\":true,\"fields\":{")
                     : SN_BUF_LIT(b, "],\"truncated\":false,\"fields\":{"));
    for (size_t i = 0; i < x->n_fields; i++) {
        if (i > 0)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_str(b, x->fields[i].name, x->fields[i].name_len));
        TRY(sn_buf_putc(b, ':'));
        TRY(sn_value_json(&x->fields[i].v, b));
    }
    return SN_BUF_LIT(b, "}}");
}
