/*
 * A signal captured as compact data: the engine's struct sn_signal is only
 * valid during its emit callback, and rendering its JSON there (under a
 * shard's lock in det_rules) was most of a signal's cost. A capture copies
 * the signal flat into a buffer (scalars, key values, evidence bytes,
 * source, trace) in a few memcpys; sn_signal_captured reads it back as a
 * struct sn_signal for sn_signal_json where the JSON is needed. Records
 * live in the caller's buffer, one after the other, and point into the
 * ruleset (rule, spec, step rules), which must outlive them.
 */
#include "rules/correlate.h"

#include <string.h>

/* What a record starts with; the variable parts follow in this order:
 * key values (u32 length + bytes each), the new value, the trace, the
 * source's input and topic, then evidence entries (struct cap_ev + bytes)
 * first, last, steps. */
struct cap_head {
    uint32_t len; /* the whole record, padded to 8 */
    uint32_t n_key, n_first, n_last, n_steps;
    uint32_t value_len, trace_len;
    uint32_t input_len, topic_len; /* with the NUL; 0: NULL */
    int32_t partition;
    int64_t offset;
    bool has_source, has_value;
    struct sn_signal sig; /* its pointers are fixed up when read */
};

struct cap_ev {
    int64_t time_ns;
    const struct sn_rule *step;
    uint32_t len;
    bool is_json;
};

static size_t
ev_bytes(const struct sn_corr_evidence *e, size_t n)
{
    size_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += sizeof(struct cap_ev) + e[i].summary_len;
    return sum;
}

static char *
put(char *p, const void *src, size_t len)
{
    if (len > 0)
        memcpy(p, src, len);
    return p + len;
}

static char *
put_ev(char *p, const struct sn_corr_evidence *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cap_ev ce = { e[i].time_ns, e[i].step,
                             (uint32_t)e[i].summary_len, e[i].is_json };
        p = put(p, &ce, sizeof(ce));
        p = put(p, e[i].summary, e[i].summary_len);
    }
    return p;
}

enum sn_status
sn_signal_capture(const struct sn_signal *sig, struct sn_buf *out)
{
    struct cap_head h;
    size_t need = sizeof(h);
    size_t n_key =
        sig->n_key < SN_CORR_MAX_GROUP_BY ? sig->n_key : SN_CORR_MAX_GROUP_BY;
    size_t n_first = sig->n_first < SN_SIGNAL_EVIDENCE_MAX
                         ? sig->n_first
                         : SN_SIGNAL_EVIDENCE_MAX;
    size_t n_last = sig->n_last < SN_SIGNAL_EVIDENCE_MAX
                        ? sig->n_last
                        : SN_SIGNAL_EVIDENCE_MAX;
    size_t n_steps =
        sig->n_steps < SN_CORR_MAX_STEPS ? sig->n_steps : SN_CORR_MAX_STEPS;
    const struct sn_signal_source *src = sig->source;
    /* With their NULs: the JSON writer reads C strings. */
    size_t in_len = src && src->input ? strlen(src->input) + 1 : 0;
    size_t top_len = src && src->topic ? strlen(src->topic) + 1 : 0;
    char *p;

    memset(&h, 0, sizeof(h));
    h.sig = *sig;
    h.n_key = (uint32_t)n_key;
    h.n_first = (uint32_t)n_first;
    h.n_last = (uint32_t)n_last;
    h.n_steps = (uint32_t)n_steps;
    h.has_value = sig->value.ptr != NULL;
    h.value_len = (uint32_t)sig->value.len;
    h.trace_len = (uint32_t)sig->trace.len;
    h.has_source = src != NULL;
    if (src != NULL) {
        h.input_len = (uint32_t)in_len; /* 0: NULL */
        h.topic_len = (uint32_t)top_len;
        h.partition = src->partition;
        h.offset = src->offset;
    }
    for (size_t i = 0; i < n_key; i++)
        need += sizeof(uint32_t) + sig->key_values[i].len;
    need += sig->value.len + sig->trace.len + in_len + top_len;
    need += ev_bytes(sig->first, n_first) + ev_bytes(sig->last, n_last) +
            ev_bytes(sig->steps, n_steps);
    need = (need + 7) & ~(size_t)7;
    if (need > UINT32_MAX || sn_buf_reserve(out, need) != SN_OK)
        return SN_ELIMIT;
    h.len = (uint32_t)need;
    p = put(out->data + out->len, &h, sizeof(h));
    for (size_t i = 0; i < n_key; i++) {
        uint32_t l = (uint32_t)sig->key_values[i].len;
        p = put(p, &l, sizeof(l));
        p = put(p, sig->key_values[i].ptr, l);
    }
    p = put(p, sig->value.ptr, sig->value.len);
    p = put(p, sig->trace.ptr, sig->trace.len);
    if (src != NULL) {
        p = put(p, src->input, in_len);
        p = put(p, src->topic, top_len);
    }
    p = put_ev(p, sig->first, n_first);
    p = put_ev(p, sig->last, n_last);
    put_ev(p, sig->steps, n_steps);
    out->len += need;
    return SN_OK;
}

static const char *
get_ev(const char *p, struct sn_corr_evidence *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cap_ev ce;
        memcpy(&ce, p, sizeof(ce));
        p += sizeof(ce);
        e[i].time_ns = ce.time_ns;
        e[i].step = ce.step;
        e[i].summary_len = ce.len;
        e[i].is_json = ce.is_json;
        e[i].summary = p;
        p += ce.len;
    }
    return p;
}

bool
sn_signal_captured(const char *data, size_t len, size_t *off,
                   struct sn_signal_view *v)
{
    struct cap_head h;
    const char *p;

    if (*off + sizeof(h) > len)
        return false;
    memcpy(&h, data + *off, sizeof(h));
    if (h.len < sizeof(h) || h.len > len - *off)
        return false;
    p = data + *off + sizeof(h);
    v->sig = h.sig;
    for (uint32_t i = 0; i < h.n_key; i++) {
        uint32_t l;
        memcpy(&l, p, sizeof(l));
        p += sizeof(l);
        v->key_values[i].ptr = p;
        v->key_values[i].len = l;
        p += l;
    }
    v->sig.key_values = v->key_values;
    v->sig.n_key = h.n_key;
    v->sig.value.ptr = h.has_value ? p : NULL;
    v->sig.value.len = h.value_len;
    p += h.value_len;
    v->sig.trace.ptr = h.trace_len ? p : NULL;
    v->sig.trace.len = h.trace_len;
    p += h.trace_len;
    v->sig.source = NULL;
    if (h.has_source) {
        v->src.input = h.input_len ? p : NULL;
        p += h.input_len;
        v->src.topic = h.topic_len ? p : NULL;
        p += h.topic_len;
        v->src.partition = h.partition;
        v->src.offset = h.offset;
        v->sig.source = &v->src;
    }
    p = get_ev(p, v->first, h.n_first);
    p = get_ev(p, v->last, h.n_last);
    get_ev(p, v->steps, h.n_steps);
    v->sig.first = v->first;
    v->sig.n_first = h.n_first;
    v->sig.last = v->last;
    v->sig.n_last = h.n_last;
    v->sig.steps = v->steps;
    v->sig.n_steps = h.n_steps;
    *off += h.len;
    return true;
}
