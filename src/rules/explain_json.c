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
    TRY(sn_buf_printf(b, "{\"depth\":%u,\"kind\":\"%s\",\"result\":\"%s\"",
                      t->depth, kind,
                      t->kind == SN_TRACE_SKIP ? "skip"
                      : t->result              ? "pass"
                                               : "fail"));
    switch (t->kind) {
    case SN_TRACE_PRED:
        TRY(sn_json_member_str(b, "expr", t->node->text));
        TRY(sn_json_member_str(b, "field", t->node->field_name));
        TRY(SN_BUF_LIT(b, ",\"actual\":"));
        if (t->present)
            TRY(sn_value_json(&t->actual, b));
        else
            TRY(SN_BUF_LIT(b, "null"));
        TRY(sn_buf_printf(b, ",\"present\":%s,\"extracted\":%s",
                          t->present ? "true" : "false",
                          t->from_extract ? "true" : "false"));
        break;
    case SN_TRACE_CONST:
        TRY(sn_json_member_str(b, "expr", t->node->text));
        break;
    case SN_TRACE_SKIP:
        TRY(sn_json_member_str(b, "expr", t->node->text));
        TRY(sn_buf_printf(b, ",\"skipped\":%zu", t->n_skipped));
        break;
    case SN_TRACE_EXTRACT:
        TRY(sn_json_member_str(b, "from", t->extract->from_name));
        TRY(sn_json_member_str(b, "regex", t->extract->pattern));
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
    TRY(sn_buf_printf(b, ",\"matched\":%s,\"prefilter\":%s,\"steps\":[",
                      x->matched ? "true" : "false",
                      !x->prefiltered    ? "null"
                      : x->prefilter_hit ? "\"hit\""
                                         : "\"miss\""));
    for (size_t i = 0; i < x->n_trace; i++) {
        if (i > 0)
            TRY(sn_buf_putc(b, ','));
        TRY(row(b, &x->trace[i]));
    }
    TRY(sn_buf_printf(b, "],\"truncated\":%s,\"fields\":{",
                      x->truncated ? "true" : "false"));
    for (size_t i = 0; i < x->n_fields; i++) {
        if (i > 0)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_str(b, x->fields[i].name, x->fields[i].name_len));
        TRY(sn_buf_putc(b, ':'));
        TRY(sn_value_json(&x->fields[i].v, b));
    }
    return SN_BUF_LIT(b, "}}");
}
