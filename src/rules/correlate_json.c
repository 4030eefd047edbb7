/*
 * A correlation signal as one JSON object: the shape documented in
 * docs/correlation.md ("Signal JSON"), written with the core JSON helpers
 * into a caller's bounded buffer. Knows nothing about incidents.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "rules/limits.h"
#include "rules/value.h"
#include "rules/correlate.h"
#include "rules/signal_fields.h"

#define TRY(x) SN_JSON_TRY(x)

const char *
sn_signal_state_name(enum sn_signal_state st)
{
    static const char *const states[] = { "firing", "resolved", "degraded",
                                          "update" };

    return (unsigned)st < sizeof(states) / sizeof(states[0]) ? states[st]
                                                             : "unknown";
}

static enum sn_status
put_STR(struct sn_buf *b, const char *v)
{
    return sn_json_str(b, v, strlen(v));
}

static enum sn_status
put_INT(struct sn_buf *b, int64_t v)
{
    return sn_json_int(b, v);
}

/* "name":value, for each field of a list in signal_fields.h, comma
 * separated (first: no comma before this one). */
#define PUT_FIELD(name, type, value)                                           \
    if (!first)                                                                \
        TRY(sn_buf_putc(b, ','));                                              \
    first = false;                                                             \
    TRY(sn_json_key(b, #name));                                                \
    TRY(put_##type(b, value));

static enum sn_status
num(struct sn_buf *b, double d)
{
    if (!isfinite(d))
        return SN_BUF_LIT(b, "null");
    return sn_buf_printf(b, "%.6g", d);
}

static enum sn_status
evidence(struct sn_buf *b, const struct sn_corr_evidence *e, size_t n,
         bool steps)
{
    enum sn_status rc;

    TRY(sn_buf_putc(b, '['));
    for (size_t i = 0; i < n; i++) {
        if (i)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_buf_putc(b, '{'));
        if (steps) {
            TRY(sn_json_key(b, "step"));
            TRY(sn_json_int(b, (int64_t)i));
            TRY(sn_buf_putc(b, ','));
            TRY(sn_json_key(b, "rule"));
            TRY(sn_json_str_or_null(b, e[i].step ? e[i].step->id : NULL,
                                    e[i].step ? strlen(e[i].step->id) : 0));
            TRY(sn_buf_putc(b, ','));
        }
        TRY(sn_json_key(b, "time_ns"));
        TRY(sn_json_int(b, e[i].time_ns));
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "summary"));
        if (e[i].is_json && e[i].summary_len > 0)
            TRY(sn_buf_append(b, e[i].summary, e[i].summary_len));
        else
            TRY(sn_json_str(b, e[i].summary, e[i].summary_len));
        TRY(sn_buf_putc(b, '}'));
    }
    return sn_buf_putc(b, ']');
}

/* What the rule says about itself, so a signal reads on its own. */
static enum sn_status
rule_text(struct sn_buf *b, const struct sn_rule *r)
{
    enum sn_status rc;

    if (r == NULL)
        return SN_OK;
    TRY(sn_json_key(b, "title"));
    TRY(sn_json_str_or_null(b, r->title, r->title ? strlen(r->title) : 0));
    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, "description"));
    TRY(sn_json_str_or_null(b, r->description,
                            r->description ? strlen(r->description) : 0));
    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, "tags"));
    TRY(sn_buf_putc(b, '['));
    for (size_t i = 0; i < r->n_tags; i++) {
        if (i)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_str(b, r->tags[i], strlen(r->tags[i])));
    }
    TRY(SN_BUF_LIT(b, "],"));
    /* A Sigma rule's own metadata (status, falsepositives, references),
     * so the incident shows what its authors said about it. */
    if (r->sigma != NULL) {
        TRY(sn_json_key(b, "sigma"));
        TRY(sn_buf_append(b, r->sigma, strlen(r->sigma)));
        TRY(sn_buf_putc(b, ','));
    }
    return SN_OK;
}

/* "source":{...}, of a record with a place in its source (an offset or
 * a partition); nothing otherwise. */
static enum sn_status
source(struct sn_buf *b, const struct sn_signal_source *src)
{
    enum sn_status rc;
    bool comma = false;

    if (src->partition < 0 && src->offset < 0)
        return SN_OK;
    TRY(sn_json_key(b, "source"));
    TRY(sn_buf_putc(b, '{'));
    if (src->input != NULL) {
        TRY(sn_json_key(b, "input"));
        TRY(sn_json_str(b, src->input, strlen(src->input)));
        comma = true;
    }
    if (src->topic != NULL) {
        if (comma)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "topic"));
        TRY(sn_json_str(b, src->topic, strlen(src->topic)));
        comma = true;
    }
    if (src->partition >= 0) {
        if (comma)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "partition"));
        TRY(sn_json_int(b, src->partition));
        comma = true;
    }
    if (src->offset >= 0) {
        if (comma)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "offset"));
        TRY(sn_json_int(b, src->offset));
    }
    return SN_BUF_LIT(b, "},");
}

enum sn_status
sn_signal_json(const struct sn_signal *sig, struct sn_buf *b)
{
    enum sn_status rc;
    const struct sn_signal *s = sig;
    bool first = false; /* after "type" */

    TRY(SN_BUF_LIT(b, "{\"type\":\"signal\""));
    SN_SIGNAL_HEAD_FIELDS(PUT_FIELD)
    TRY(sn_buf_putc(b, ','));
    TRY(rule_text(b, sig->rule ? sig->rule
                     : sig->spec ? sig->spec->rule
                                 : NULL));
    if (sig->trace.len > 0) {
        /* Already JSON (sn_rules_explain_json). */
        TRY(sn_json_key(b, "trace"));
        TRY(sn_buf_append(b, sig->trace.ptr, sig->trace.len));
        TRY(sn_buf_putc(b, ','));
    }

    if (sig->source != NULL)
        TRY(source(b, sig->source));

    if (sig->state == SN_SIGNAL_DEGRADED) {
        TRY(sn_json_key(b, "degraded"));
        TRY(sn_buf_printf(b,
                          "{\"keys_evicted\":%llu,\"events_dropped\":%llu,"
                          "\"keys\":%llu,\"max_keys\":%llu}}",
                          (unsigned long long)sig->keys_evicted,
                          (unsigned long long)sig->events_dropped,
                          (unsigned long long)sig->count,
                          (unsigned long long)sig->threshold));
        return SN_OK;
    }

    TRY(sn_json_key(b, "key"));
    TRY(sn_buf_putc(b, '{'));
    for (size_t i = 0; i < sig->n_key; i++) {
        const char *f = sig->key_fields ? sig->key_fields[i] : "?";
        if (i)
            TRY(sn_buf_putc(b, ','));
        TRY(sn_json_str(b, f, strlen(f)));
        TRY(sn_buf_putc(b, ':'));
        TRY(sn_json_str(b, sig->key_values[i].ptr, sig->key_values[i].len));
    }
    TRY(SN_BUF_LIT(b, "},"));
    TRY(sn_json_key(b, "key_hash"));
    {
        /* "%016llx" by hand (one printf per signal was most of its cost
         * after the trace's). */
        static const char hex[] = "0123456789abcdef";
        char h[19];
        h[0] = '"';
        for (int i = 0; i < 16; i++)
            h[1 + i] = hex[(sig->key_hash >> (60 - 4 * i)) & 0xf];
        h[17] = '"';
        h[18] = ',';
        TRY(sn_buf_append(b, h, sizeof(h)));
    }
    first = true;
    SN_SIGNAL_COUNT_FIELDS(PUT_FIELD)
    if (sig->coalesced > 1) { /* only then: other signals stay as they were */
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "coalesced"));
        TRY(put_INT(b, (int64_t)sig->coalesced));
    }
    TRY(SN_BUF_LIT(b, ",\"window\":{"));
    first = true;
    SN_SIGNAL_WINDOW_FIELDS(PUT_FIELD)
    TRY(sn_buf_putc(b, '}'));

    if (sig->kind == SN_CORR_RATE && sig->state == SN_SIGNAL_FIRING) {
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "baseline"));
        TRY(sn_buf_putc(b, '{'));
        TRY(sn_json_key(b, "mean"));
        TRY(num(b, sig->mean));
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "stddev"));
        TRY(num(b, sig->stddev));
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "k"));
        TRY(num(b, sig->k));
        TRY(sn_buf_putc(b, '}'));
    }
    if (sig->kind == SN_CORR_NEW_VALUE && sig->state == SN_SIGNAL_FIRING) {
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "new_value"));
        TRY(sn_json_str(b, sig->value.ptr, sig->value.len));
    }
    if (sig->n_steps > 0) {
        TRY(sn_buf_putc(b, ','));
        TRY(sn_json_key(b, "sequence"));
        TRY(evidence(b, sig->steps, sig->n_steps, true));
    }
    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, "evidence"));
    TRY(sn_buf_putc(b, '{'));
    TRY(sn_json_key(b, "first"));
    TRY(evidence(b, sig->first, sig->n_first, false));
    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, "last"));
    TRY(evidence(b, sig->last, sig->n_last, false));
    return SN_BUF_LIT(b, "}}");
}

/* key is the literal '"name":' (a summary is rendered for every matched
 * event: no strlen of constant keys). */
static void
json_cut(struct sn_buf *b, const char *key, size_t key_len, struct sn_str v,
         size_t max)
{
    sn_buf_append(b, key, key_len);
    if (v.ptr == NULL)
        SN_BUF_LIT(b, "null");
    else
        sn_json_str(b, v.ptr, v.len < max ? v.len : max);
}

void
sn_corr_summary_json_head(struct sn_buf *b, struct sn_str host,
                          struct sn_str app, struct sn_str msg)
{
#define CUT(b, lit, v, max) json_cut((b), (lit), sizeof(lit) - 1, (v), (max))
    CUT(b, "{\"host\":", host, SN_CORR_SUMMARY_HOST_MAX);
    CUT(b, ",\"app\":", app, SN_CORR_SUMMARY_HOST_MAX);
    CUT(b, ",\"msg\":", msg, SN_CORR_SUMMARY_MSG_MAX);
#undef CUT
    SN_BUF_LIT(b, ",\"fields\":{");
}

enum sn_status
sn_corr_summary_field(struct sn_buf *b, const char *name, size_t name_len,
                      const struct sn_value *v)
{
    enum sn_status rc = sn_json_str(b, name, name_len);

    if (sn_buf_putc(b, ':') != SN_OK)
        rc = SN_ELIMIT;
    if (v->type == SN_VAL_STR) {
        if (sn_json_str(b, v->u.s.ptr,
                        v->u.s.len < SN_CORR_SUMMARY_FIELD_MAX
                            ? v->u.s.len
                            : SN_CORR_SUMMARY_FIELD_MAX) != SN_OK)
            rc = SN_ELIMIT;
    } else if (sn_value_json(v, b) != SN_OK) {
        rc = SN_ELIMIT;
    }
    return rc;
}

/* True when the last r->n_consts of f[0..n) are r's `set` fields as the
 * matcher appends them (the same strings, not copies). */
static bool
ends_with_consts(const struct sn_rule *r, const struct sn_rule_field_value *f,
                 size_t n)
{
    if (r == NULL || r->consts_json == NULL || n < r->n_consts)
        return false;
    f += n - r->n_consts;
    for (size_t j = 0; j < r->n_consts; j++)
        if (f[j].name != r->consts[j].name || f[j].v.type != SN_VAL_STR ||
            f[j].v.u.s.ptr != r->consts[j].v.u.s.ptr ||
            f[j].v.u.s.len != r->consts[j].v.u.s.len)
            return false;
    return true;
}

enum sn_status
sn_corr_summary_json_fields(struct sn_buf *b, size_t start,
                            const struct sn_rule *r,
                            const struct sn_rule_field_value *f, size_t n)
{
    size_t shown = n < SN_CORR_SUMMARY_FIELDS ? n : SN_CORR_SUMMARY_FIELDS;
    size_t each = ends_with_consts(r, f, n) ? n - r->n_consts : n;

    for (size_t k = 0; k < each && k < shown; k++) {
        if (k > 0)
            sn_buf_putc(b, ',');
        sn_corr_summary_field(b, f[k].name, f[k].name_len, &f[k].v);
    }
    if (each < shown) {
        /* The rule's consts rendered at load, as many as fit in shown;
         * the first one's comma only after another field. */
        size_t from = r->consts_json_off[0] + (each == 0);
        size_t to = r->consts_json_off[shown - each];

        if (sn_buf_append(b, r->consts_json + from, to - from) != SN_OK) {
            b->len = start;
            return SN_ELIMIT;
        }
    }
    if (SN_BUF_LIT(b, "}}") != SN_OK ||
        b->len - start > SN_CORR_SUMMARY_JSON_MAX) {
        b->len = start;
        return SN_ELIMIT;
    }
    return SN_OK;
}

enum sn_status
sn_corr_summary_json(struct sn_buf *b, struct sn_str host, struct sn_str app,
                     struct sn_str msg, const struct sn_rule *r,
                     const struct sn_rule_field_value *f, size_t n)
{
    size_t start = b->len;

    sn_corr_summary_json_head(b, host, app, msg);
    return sn_corr_summary_json_fields(b, start, r, f, n);
}
