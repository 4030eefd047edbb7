/*
 * Evidence and signals of the correlation engine: the first-K/last-K
 * evidence slots of a key, building a signal for a key, suppression and
 * escalation (hit), resolution and "detection degraded" reports. Rendering
 * signals is correlate_json.c's; see docs/correlation.md.
 */
#include "rules/correlate.h"

#include <string.h>

#include "rules/correlate_int.h"

/* ---- evidence ------------------------------------------------------------ */

void
sn_corr_slot_fill(const struct sn_corr *c, struct evslot *sl, int64_t t,
                  uint64_t seq, const struct sn_corr_input *in)
{
    size_t len = in->summary_len;

    if (len > c->cfg.summary_max)
        len = c->cfg.summary_max;
    if (in->summary_is_json && len < in->summary_len)
        len = 0; /* cut JSON is not JSON: keep the time only */
    sl->t = t;
    sl->seq = seq;
    sl->len = (uint32_t)len;
    sl->is_json = in->summary_is_json && len > 0;
    sl->used = 1;
    if (len)
        memcpy((char *)(sl + 1), in->summary, len);
}

const struct sn_corr_input *
sn_corr_with_summary(struct sn_corr *c, const struct sn_corr_input *in,
                     struct sn_corr_input *tmp)
{
    if (in->summary != NULL || in->summary_fn == NULL)
        return in;
    *tmp = *in;
    tmp->summary_fn = NULL;
    sn_buf_reset(&c->sum);
    if (in->summary_fn(in, in->summary_arg, &c->sum) == SN_OK &&
        c->sum.len > 0) {
        tmp->summary = c->sum.data;
        tmp->summary_len = c->sum.len;
    } else {
        tmp->summary_len = 0;
    }
    return tmp;
}

void
sn_corr_evidence_add(struct sn_corr *c, struct ckey *k, int64_t t,
                     const struct sn_corr_input *in)
{
    size_t kk = c->cfg.evidence_k;
    struct sn_corr_input tmp;

    k->n_seen++;
    if (kk == 0 || sn_corr_ev_reserve(c, k, 2 * kk) != SN_OK)
        return;
    in = sn_corr_with_summary(c, in, &tmp);
    if (k->n_first < kk)
        sn_corr_slot_fill(c, sn_corr_slot(c, k, k->n_first++), t, k->n_seen,
                          in);
    sn_corr_slot_fill(c, sn_corr_slot(c, k, kk + k->n_last % kk), t, k->n_seen,
                      in);
    k->n_last++;
}

void
sn_corr_evidence_reset(struct sn_corr *c, struct ckey *k)
{
    k->n_first = 0;
    k->n_last = 0;
    for (size_t i = 0; k->ev && i < 2 * c->cfg.evidence_k; i++)
        sn_corr_slot(c, k, i)->used = 0;
}

void
sn_corr_ev_from_slot(const struct evslot *sl, struct sn_corr_evidence *e)
{
    e->time_ns = sl->t;
    e->summary = (const char *)(sl + 1);
    e->summary_len = sl->len;
    e->is_json = sl->is_json;
    e->step = NULL;
}

static void
ev_sort(struct sn_corr_evidence *e, uint64_t *seq, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && (e[j - 1].time_ns > e[j].time_ns ||
                                     (e[j - 1].time_ns == e[j].time_ns &&
                                      seq[j - 1] > seq[j]));
             j--) {
            struct sn_corr_evidence te = e[j];
            uint64_t ts = seq[j];
            e[j] = e[j - 1], seq[j] = seq[j - 1];
            e[j - 1] = te, seq[j - 1] = ts;
        }
}

/* First K and last K evidence with times in [lo, hi], without repeats. */
void
sn_corr_evidence_collect(struct sn_corr *c, const struct ckey *k, int64_t lo,
                         int64_t hi, struct sn_signal *sig)
{
    size_t kk = c->cfg.evidence_k, nf = 0, nl = 0;
    uint64_t fseq[SN_CORR_EVIDENCE_MAX], lseq[SN_CORR_EVIDENCE_MAX];

    for (size_t i = 0; k->ev && i < kk && i < k->n_first; i++) {
        const struct evslot *sl = sn_corr_slot(c, k, i);
        if (sl->used && sl->t >= lo && sl->t <= hi) {
            sn_corr_ev_from_slot(sl, &c->first[nf]);
            fseq[nf++] = sl->seq;
        }
    }
    for (size_t i = 0; k->ev && i < kk && i < k->n_last; i++) {
        const struct evslot *sl = sn_corr_slot(c, k, kk + i);
        bool dup = false;
        for (size_t j = 0; j < nf; j++)
            dup |= fseq[j] == sl->seq;
        if (sl->used && !dup && sl->t >= lo && sl->t <= hi) {
            sn_corr_ev_from_slot(sl, &c->last[nl]);
            lseq[nl++] = sl->seq;
        }
    }
    ev_sort(c->first, fseq, nf);
    ev_sort(c->last, lseq, nl);
    sig->first = c->first;
    sig->n_first = nf;
    sig->last = c->last;
    sig->n_last = nl;
}

/* ---- signals --------------------------------------------------------------
 */

void
sn_corr_sig_init(struct sn_corr *c, const struct crule *cr,
                 const struct ckey *k, struct sn_signal *sig,
                 enum sn_signal_state state, int64_t t)
{
    const struct sn_corr_spec *s = cr->spec;

    memset(sig, 0, sizeof(*sig));
    sig->spec = s;
    sig->rule_id = s->rule->id;
    sig->kind = s->kind;
    sig->state = state;
    sig->severity = sig->base_severity = s->rule->severity;
    sig->time_ns = t;
    sig->window_ns = s->kind == SN_CORR_ABSENCE     ? s->after_ns
                     : s->kind == SN_CORR_RATE      ? s->bucket_ns
                     : s->kind == SN_CORR_NEW_VALUE ? s->learn_ns
                                                    : s->window_ns;
    if (k != NULL) {
        sig->key_fields =
            s->kind == SN_CORR_RATE && !s->per_key ? NULL : s->group_by;
        sig->n_key = sn_corr_decode_key(c, k);
        sig->key_values = c->key_values;
        sig->key_hash = k->hash;
        sig->repeat = k->hits;
    }
}

static void
emit(struct sn_corr *c, const struct sn_signal *sig)
{
    if (c->cfg.emit != NULL)
        c->cfg.emit(c->cfg.emit_arg, sig);
    if (sig->state == SN_SIGNAL_FIRING &&
        c->set->n_sig_targets[sig->spec->index] > 0)
        sn_corr_chain_push(c, sig);
}

void
sn_corr_update(struct sn_corr *c, const struct sn_signal *sig)
{
    emit(c, sig);
}

/* The condition held for k: count the hit, then signal unless suppressed
 * (an escalation breaks through suppression once). */
void
sn_corr_hit(struct sn_corr *c, struct crule *cr, struct ckey *k,
            struct sn_signal *sig)
{
    const struct sn_corr_spec *s = cr->spec;
    bool escalating = false;

    k->hits++;
    cr->st.hits++;
    sig->repeat = k->hits;
    if (s->escalate_after && k->hits >= s->escalate_after) {
        sig->severity = s->escalate_to;
        escalating = k->hits == s->escalate_after;
    }
    if (k->has_signal && sig->time_ns < k->last_signal + s->suppress_ns &&
        sig->time_ns >= k->last_signal && !escalating) {
        k->suppressed++;
        cr->st.suppressed++;
        return;
    }
    sig->suppressed = k->suppressed;
    emit(c, sig);
    cr->st.signals++;
    k->suppressed = 0;
    k->last_signal = sig->time_ns;
    k->has_signal = true;
    k->firing = true;
}

void
sn_corr_resolve(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t)
{
    struct sn_signal sig;

    sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_RESOLVED, t);
    sig.first_ns = sig.last_ns = k->last_t;
    sig.suppressed = k->suppressed;
    if (cr->spec->escalate_after && k->hits >= cr->spec->escalate_after)
        sig.severity = cr->spec->escalate_to;
    emit(c, &sig);
    cr->st.resolved++;
    k->firing = false;
    k->has_signal = false;
    k->hits = 0;
    k->suppressed = 0;
    k->last_signal = T_NONE;
}

/* Report lost state, at most once per interval; later losses are picked
 * up by the next call or by sn_corr_advance. */
void
sn_corr_degraded(struct sn_corr *c, struct crule *cr)
{
    struct sn_signal sig;

    if (cr->st.keys_evicted == cr->deg_keys_reported &&
        cr->st.events_dropped == cr->deg_events_reported)
        return;
    if (cr->last_degraded != T_NONE &&
        c->wm < cr->last_degraded + c->cfg.degraded_interval_ns)
        return;
    sn_corr_sig_init(c, cr, NULL, &sig, SN_SIGNAL_DEGRADED, c->wm);
    sig.keys_evicted = cr->st.keys_evicted;
    sig.events_dropped = cr->st.events_dropped;
    sig.count = cr->n_keys;
    sig.threshold = cr->max_keys;
    emit(c, &sig);
    cr->st.degraded_signals++;
    cr->last_degraded = c->wm;
    cr->deg_keys_reported = cr->st.keys_evicted;
    cr->deg_events_reported = cr->st.events_dropped;
}
