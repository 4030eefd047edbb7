/*
 * det_rules correlation: the engines of src/rules/correlate.h sharded by
 * hash(rule, group key), one mutex per shard. A worker collects a batch's
 * matches per shard and takes each shard's lock once per batch; signals
 * are rendered under the lock (the engine's signal is only valid during
 * its callback) and handed to the incident manager (host->signal_emit)
 * after every lock is released, since signal_emit may block. A ticker
 * thread advances every shard with one watermark. Rules without a
 * correlation emit "match" signals (det_rules_coalesce.c).
 * docs/correlation.md ("Signal JSON", "In the daemon") is the contract.
 */
#include "det_rules.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "rules/value.h"

/* Evidence summaries: the engine keeps them in fixed slots this big. */
#define SUMMARY_MAX SN_CORR_SUMMARY_JSON_MAX
/* One signal's JSON: evidence (2K summaries), the trace and the rest. */
#define SIG_MAX (256u * 1024)

static void
tls_grow(void **p, size_t *cap, size_t need, size_t size, bool *ok)
{
    size_t n = *cap ? *cap : 64;
    void *q;

    if (need <= *cap)
        return;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * size);
    if (q == NULL) {
        *ok = false;
        return;
    }
    *p = q;
    *cap = n;
}

struct dr_tls *
dr_tls_new(const struct dr_state *s)
{
    struct dr_tls *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->sc = sn_rules_scratch_new(s->rs);
    if (t->sc == NULL) {
        free(t);
        return NULL;
    }
    sn_buf_init(&t->sums, 64u << 20);
    sn_buf_init(&t->keys, 16u << 20);
    sn_buf_init(&t->sigs, 256u << 20);
    sn_buf_init(&t->json, 256u << 20);
    sn_buf_init(&t->trace, SIG_MAX);
    sn_buf_init(&t->fwd_data, 16u << 20);
    sn_buf_init(&t->co_keys, 16u << 20);
    sn_buf_init(&t->hop, 64u << 20);
    t->rule_hits = calloc(s->rs->n_rules + 1, sizeof(*t->rule_hits));
    t->touched = calloc(s->rs->n_rules + 1, sizeof(*t->touched));
    if (t->rule_hits == NULL || t->touched == NULL) {
        dr_tls_free(t);
        return NULL;
    }
    return t;
}

void
dr_tls_free(struct dr_tls *t)
{
    if (t == NULL)
        return;
    sn_rules_scratch_free(t->sc);
    free(t->items);
    free(t->matches);
    free(t->fv);
    free(t->fwd);
    free(t->co);
    sn_buf_fini(&t->co_keys);
    free(t->rule_hits);
    free(t->touched);
    free(t->hop_recs);
    sn_buf_fini(&t->hop);
    sn_buf_fini(&t->sums);
    sn_buf_fini(&t->keys);
    sn_buf_fini(&t->sigs);
    sn_buf_fini(&t->json);
    sn_buf_fini(&t->trace);
    free(t->pend);
    sn_buf_fini(&t->fwd_data);
    free(t);
}

/* ---- signals --------------------------------------------------------------- */

/* The condition trace of the event being fed, as JSON in t->trace. */
static struct sn_str
trace_of(struct dr_state *s, struct dr_tls *t, const struct sn_batch *b,
         const struct sn_rule *r, uint32_t ev)
{
    struct dr_event e = { s->host, s->host->batch_event(b, ev) };
    struct sn_rule_event rev = { &e, dr_get };
    struct sn_rule_explain x;

    sn_buf_reset(&t->trace);
    sn_rules_explain(s->rs, t->sc, &rev, r, &x);
    if (sn_rules_explain_json(&x, &t->trace) != SN_OK)
        return (struct sn_str){ NULL, 0 };
    return (struct sn_str){ t->trace.data, t->trace.len };
}

/* Keep sig as compact data (a capture) until the locks are released:
 * rendering its JSON under a shard's lock was most of a signal's cost.
 * trace_rule (NULL: none) and ev name the batch event whose condition
 * trace the signal carries, computed when it is rendered (the batch is
 * still held then). */
void
dr_capture(struct dr_state *s, struct dr_tls *t, const struct sn_signal *sig,
           const struct sn_rule *trace_rule, uint32_t ev)
{
    bool ok = true;
    /* A coalesced match signal counts as the signals it stands for. */
    uint64_t n = sig->coalesced > 1 ? sig->coalesced : 1;

    tls_grow((void **)&t->pend, &t->cap_pend, t->n_pend + 1, sizeof(*t->pend),
             &ok);
    if (!ok || sn_signal_capture(sig, &t->sigs) != SN_OK) {
        s->host->counter_add(s->c_signal_failures, 1);
        s->host->log(s->inst, SN_LOG_WARN,
                     "signal of rule %s dropped: out of signal buffer",
                     sig->rule_id);
        return;
    }
    t->pend[t->n_pend].trace_rule = trace_rule;
    t->pend[t->n_pend].batch = trace_rule != NULL ? t->batch : NULL;
    t->pend[t->n_pend].ev = ev;
    t->n_pend++;
    s->host->counter_add(s->c_signals, n);
    if (sig->spec != NULL)
        s->host->counter_add(s->rc[sig->spec->index].signals, n);
    {
        /* Signals are rare next to events: one atomic add each. */
        const struct sn_rule *r = sig->rule;
        if (r == NULL && sig->spec != NULL)
            r = sig->spec->rule;
        if (r != NULL && s->rule_signals != NULL)
            s->host->counter_add(s->rule_signals[r->index], n);
    }
}

void
dr_source_of(const struct sn_record *rec, struct sn_signal_source *src)
{
    src->input = rec->input;
    src->topic = rec->peer;
    src->partition = rec->source_part;
    src->offset = rec->source_offset;
}

static void
on_signal(void *arg, const struct sn_signal *sig)
{
    struct dr_shard *sh = arg;
    struct dr_state *s = sh->s;
    struct dr_tls *t = sh->tls;
    struct sn_signal x = *sig;
    struct sn_signal_source src;
    /* Degraded and update signals are about the rule or a closed window,
     * not the event being fed: no trace, no source record. */
    bool of_event =
        sig->state != SN_SIGNAL_DEGRADED && sig->state != SN_SIGNAL_UPDATE;

    x.rule = sig->spec->rule;
    /* A signal of a compact match (stage 2 of the repartition hop) has
     * no event here: it carries the trace its match brought. A fed
     * event's trace is rendered after the locks (render_pending). */
    if ((t->cur == NULL || t->batch == NULL) && t->hop_trace.len > 0 &&
        of_event)
        x.trace = t->hop_trace;
    /* The record that made it: the event fed, or for a sequence fed by
     * another shard's signal, the record behind that signal. */
    if (t->cur_rec != NULL && of_event) {
        dr_source_of(t->cur_rec, &src);
        x.source = &src;
    } else if (t->restore_src != NULL && of_event) {
        x.source = t->restore_src;
    }
    /* Signals raised while an event is fed explain that event; those of
     * the ticker (absence, resolve, degraded) have no event. */
    if (t->cur != NULL && t->batch != NULL && of_event)
        dr_capture(s, t, &x, t->cur->rule, t->cur->ev);
    else
        dr_capture(s, t, &x, NULL, 0);
}

static void
on_forward(void *arg, const struct sn_corr_input *in,
           const struct sn_corr_target *tg)
{
    struct dr_shard *sh = arg;
    struct dr_state *s = sh->s;
    struct dr_tls *t = sh->tls;
    struct dr_fwd *f;
    bool ok = true;
    size_t off = t->fwd_data.len;

    /* A sequence keyed elsewhere than the topic: its signal-fed steps
     * take the repartition hop like its matched steps, so every step of
     * a key meets where hash(sequence, key) is owned (docs/scaling.md). */
    if (s->hop_spec != NULL && s->hop_spec[tg->spec]) {
        dr_hop_put(s, t, in, tg, t->cur_rec, (struct sn_str){ NULL, 0 },
                   sn_corr_chain_depth(sh->c));
        return;
    }
    tls_grow((void **)&t->fwd, &t->cap_fwd, t->n_fwd + 1, sizeof(*t->fwd),
             &ok);
    if (!ok || in->n_fields > SN_CORR_MAX_GROUP_BY) {
        s->host->counter_add(s->c_signal_failures, 1);
        return;
    }
    f = &t->fwd[t->n_fwd];
    memset(f, 0, sizeof(*f));
    f->t = *tg;
    f->rule = in->rule;
    f->rec = t->cur_rec;
    f->origin = in->origin;
    f->has_origin = in->has_origin;
    f->time_ns = in->time_ns;
    f->depth = sn_corr_chain_depth(sh->c);
    f->n_fv = (uint32_t)in->n_fields;
    f->off = (uint32_t)off;
    /* Values are copied after each other; the pointers are fixed up when
     * the feed happens (fwd_data may move while it grows). */
    for (size_t i = 0; i < in->n_fields; i++) {
        f->fv[i] = in->fields[i];
        if (in->fields[i].v.type == SN_VAL_STR &&
            sn_buf_append(&t->fwd_data, in->fields[i].v.u.s.ptr,
                          in->fields[i].v.u.s.len) != SN_OK)
            ok = false;
    }
    f->len = (uint32_t)(t->fwd_data.len - off);
    if (in->summary_len > 0 &&
        sn_buf_append(&t->fwd_data, in->summary, in->summary_len) != SN_OK)
        ok = false;
    f->sum_len = (uint32_t)in->summary_len;
    if (!ok) {
        t->fwd_data.len = off;
        s->host->counter_add(s->c_signal_failures, 1);
        return;
    }
    t->n_fwd++;
}

/* Feed what other shards handed over, until nothing is left (a forwarded
 * feed can fire a sequence that feeds another shard again). */
static void
run_forwards(struct dr_state *s, struct dr_tls *t)
{
    const struct dr_match *saved = t->cur;
    const struct sn_record *saved_rec = t->cur_rec;

    t->cur = NULL; /* forwarded signals explain the step's own signal */
    for (size_t i = 0; i < t->n_fwd; i++) {
        struct dr_fwd f = t->fwd[i];
        struct dr_shard *sh = &s->shards[f.t.hash % s->n_shards];
        struct sn_corr_input in;
        size_t off = f.off;

        for (uint32_t k = 0; k < f.n_fv; k++) {
            if (f.fv[k].v.type != SN_VAL_STR)
                continue;
            f.fv[k].v.u.s.ptr =
                t->fwd_data.data ? t->fwd_data.data + off : "";
            off += f.fv[k].v.u.s.len;
        }
        memset(&in, 0, sizeof(in));
        in.rule = f.rule;
        in.fields = f.fv;
        in.n_fields = f.n_fv;
        in.time_ns = f.time_ns;
        in.arrival_ns = f.time_ns;
        in.summary = f.sum_len ? t->fwd_data.data + f.off + f.len : NULL;
        in.summary_len = f.sum_len;
        in.summary_is_json = f.sum_len > 0;
        in.origin = f.origin;
        in.has_origin = f.has_origin;
        t->cur_rec = f.rec;
        pthread_mutex_lock(&sh->mu);
        sh->tls = t;
        sn_corr_feed_at_depth(sh->c, &in, &f.t, f.depth);
        sh->tls = NULL;
        pthread_mutex_unlock(&sh->mu);
    }
    t->n_fwd = 0;
    sn_buf_reset(&t->fwd_data);
    t->cur = saved;
    t->cur_rec = saved_rec;
}

void
dr_corr_finish(struct dr_state *s, struct dr_tls *t)
{
    run_forwards(s, t);
    if (t->n_hop > 0)
        dr_hop_send(s, t);
    dr_emit_pending(s, t);
}

/* Render the captured signals (with their traces) into t->json, one
 * line each; a signal whose JSON exceeds the buffer is dropped. */
static void
render_pending(struct dr_state *s, struct dr_tls *t)
{
    struct sn_signal_view *v = &t->view;
    size_t off = 0;

    sn_buf_reset(&t->json);
    for (size_t i = 0; i < t->n_pend &&
                       sn_signal_captured(t->sigs.data, t->sigs.len, &off, v);
         i++) {
        const struct dr_pending *pd = &t->pend[i];
        size_t start = t->json.len;

        if (pd->trace_rule != NULL && pd->batch != NULL)
            v->sig.trace = trace_of(s, t, pd->batch, pd->trace_rule, pd->ev);
        if (sn_signal_json(&v->sig, &t->json) != SN_OK ||
            sn_buf_putc(&t->json, '\n') != SN_OK) {
            t->json.len = start;
            s->host->counter_add(s->c_signal_failures, 1);
            s->host->log(s->inst, SN_LOG_WARN,
                         "signal of rule %s dropped: its JSON exceeds the "
                         "buffer",
                         v->sig.rule_id);
        }
    }
    sn_buf_reset(&t->sigs);
    t->n_pend = 0;
}

void
dr_emit_pending(struct dr_state *s, struct dr_tls *t)
{
    const struct sn_host *h = s->host;
    const char *p, *end;

    if (t->n_pend == 0)
        return;
    render_pending(s, t);
    p = t->json.data;
    end = p + t->json.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        enum sn_status rc = h->signal_emit(s->inst, p, len);

        if (rc == SN_DECLINED) {
            /* No incident manager in this configuration: say so once. */
            if (!atomic_exchange(&s->declined_logged, true))
                h->log(s->inst, SN_LOG_INFO,
                       "no incident manager takes signals%s",
                       s->signals_file ? "; they go to signals_file only"
                                       : "");
        } else if (rc != SN_OK) {
            h->counter_add(s->c_signal_failures, 1);
            h->log(s->inst, SN_LOG_WARN, "signal_emit failed: %s",
                   rc == SN_EINVAL ? "the incident manager refused the "
                                     "signal JSON"
                                   : "error");
        }
        p += len + 1;
    }
    if (s->signals_file != NULL && t->json.len > 0) {
        pthread_mutex_lock(&s->file_mu);
        if (fwrite(t->json.data, 1, t->json.len, s->signals_file) !=
                t->json.len ||
            fflush(s->signals_file) != 0)
            h->counter_add(s->c_signals_file_errors, 1);
        pthread_mutex_unlock(&s->file_mu);
    }
    sn_buf_reset(&t->json);
}

/* ---- collecting a batch ------------------------------------------------------ */

struct sn_corr_origin
dr_origin(struct dr_state *s, struct dr_tls *t, const struct sn_record *rec)
{
    struct sn_corr_origin o = SN_CORR_ORIGIN_NONE;
    uint32_t i, id;

    if (rec == NULL || rec->source_part < 0 || rec->input == NULL)
        return o;
    /* A batch holds a few partitions' records, with one pointer per
     * string: compare pointers, intern (lock-free lookup) on a miss. */
    for (i = 0; i < t->n_src_cache; i++)
        if (t->src_cache[i].input == rec->input &&
            t->src_cache[i].topic == rec->peer) {
            o.src = t->src_cache[i].id;
            o.part = o.src != 0 ? rec->source_part : -1;
            return o;
        }
    id = sn_corr_source_id(s->sources, rec->input, rec->peer);
    if (id == 0 && !atomic_exchange(&s->sources_full_logged, true))
        s->host->log(s->inst, SN_LOG_WARN,
                     "more than %d (input, topic) pairs: keys fed by %s "
                     "topic %s and later ones stay with this instance when "
                     "their partitions move",
                     SN_CORR_SOURCES_MAX, rec->input,
                     rec->peer ? rec->peer : "-");
    i = t->n_src_cache < DR_SRC_CACHE ? t->n_src_cache++
                                      : t->src_next++ % DR_SRC_CACHE;
    t->src_cache[i].input = rec->input;
    t->src_cache[i].topic = rec->peer;
    t->src_cache[i].id = id;
    o.src = id;
    o.part = id != 0 ? rec->source_part : -1;
    return o;
}

static bool
same_value(const struct sn_value *a, const struct sn_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SN_VAL_STR:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.ptr == b->u.s.ptr ||
                memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
    case SN_VAL_INT:
        return a->u.i == b->u.i;
    case SN_VAL_IP:
        return a->u.ip.family == b->u.ip.family &&
               memcmp(a->u.ip.addr, b->u.ip.addr, 16) == 0;
    default:
        return false; /* rare types: render again */
    }
}

/* True when the previous match of this batch was of the same event with
 * the same extracted fields: its evidence summary is this one's too. One
 * line often matches several rules sharing an extraction (the shipped
 * sshd pack: ssh-brute-force and ssh-password-spray), and rendering the
 * summary was the largest cost of a match. */
static bool
same_summary(const struct dr_tls *t, uint32_t ev,
             const struct sn_rule_match *m)
{
    const struct dr_match *prev;

    if (t->n_matches == 0)
        return false;
    prev = &t->matches[t->n_matches - 1];
    if (prev->ev != ev || prev->n_fv != m->n_fields)
        return false;
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct sn_rule_field_value *a = &t->fv[prev->fv + i];
        const struct sn_rule_field_value *b = &m->fields[i];
        if (a->name_len != b->name_len ||
            (a->name != b->name && memcmp(a->name, b->name, a->name_len)) ||
            !same_value(&a->v, &b->v))
            return false;
    }
    return true;
}

/* The evidence of one event (the engine adds its time). */
static void
summary(struct dr_state *s, struct dr_tls *t, const struct sn_event *ev,
        const struct sn_rule_match *m, struct dr_match *dm)
{
    const struct sn_host *h = s->host;
    size_t start = t->sums.len, head_len;
    enum sn_status rc;

    if (same_summary(t, dm->ev, m)) {
        dm->sum = t->matches[t->n_matches - 1].sum;
        dm->sum_len = t->matches[t->n_matches - 1].sum_len;
        return;
    }

    if (t->head_len > 0 && t->head_ev == dm->ev &&
        sn_buf_reserve(&t->sums, t->head_len) == SN_OK) {
        /* Another summary of this event: the head is the same bytes. */
        memcpy(t->sums.data + start, t->sums.data + t->head_off,
               t->head_len);
        t->sums.len += t->head_len;
        rc = sn_corr_summary_json_fields(&t->sums, start, m->rule,
                                         m->fields, m->n_fields);
    } else {
        sn_corr_summary_json_head(&t->sums, h->event_get(ev, SN_F_HOSTNAME),
                                  h->event_get(ev, SN_F_APPNAME),
                                  h->event_get(ev, SN_F_MSG));
        head_len = t->sums.len - start;
        rc = sn_corr_summary_json_fields(&t->sums, start, m->rule,
                                         m->fields, m->n_fields);
        if (rc == SN_OK) {
            t->head_ev = dm->ev;
            t->head_off = (uint32_t)start;
            t->head_len = (uint32_t)head_len;
        }
    }
    if (rc != SN_OK) {
        dm->sum = dm->sum_len = 0;
        return;
    }
    dm->sum = (uint32_t)start;
    dm->sum_len = (uint32_t)(t->sums.len - start);
}

bool
dr_corr_collect(struct dr_state *s, struct dr_tls *t, const struct sn_batch *b,
                uint32_t ev, const struct sn_rule_match *m)
{
    const struct sn_host *h = s->host;
    const struct sn_rule *r = m->rule;
    bool has_spec = s->set->spec_of_rule[r->index] >= 0;
    bool feeds = s->set->n_targets[r->index] > 0;
    struct sn_corr_target tg[SN_CORR_MAX_STEPS + 1];
    struct sn_corr_input in;
    struct dr_event e;
    struct sn_rule_event rev;
    struct dr_match *dm;
    const struct sn_event *sev;
    const struct sn_record *rec;
    size_t n;
    bool ok = true, have_trace = false;
    struct sn_str trace = { NULL, 0 };

    if (!feeds && (has_spec || (int)r->severity < s->c->match_signals))
        return true; /* sequence-only rules, and quiet match rules */
    tls_grow((void **)&t->matches, &t->cap_matches, t->n_matches + 1,
             sizeof(*t->matches), &ok);
    tls_grow((void **)&t->fv, &t->cap_fv, t->n_fv + m->n_fields,
             sizeof(*t->fv), &ok);
    if (!ok)
        return false;
    sev = h->batch_event(b, ev);
    dm = &t->matches[t->n_matches];
    memset(dm, 0, sizeof(*dm));
    dm->rule = r;
    dm->ev = ev;
    dm->fv = (uint32_t)t->n_fv;
    dm->n_fv = (uint32_t)m->n_fields;
    if (m->n_fields > 0) /* t->fv is NULL until a rule extracts a field */
        memcpy(&t->fv[t->n_fv], m->fields, m->n_fields * sizeof(*t->fv));
    if (!h->event_time(sev, &dm->time_ns))
        dm->time_ns = 0;
    rec = h->event_record(sev);
    dm->arrival_ns = rec ? rec->recv_ns : 0;
    dm->origin = dr_origin(s, t, rec);
    dm->weight = feeds ? sn_repeat_count(h->event_get(sev, SN_F_MSG)) : 1;
    summary(s, t, sev, m, dm);
    t->n_fv += m->n_fields;
    t->n_matches++;
    if (!has_spec && (int)r->severity >= s->c->match_signals) {
        t->batch = b;
        dr_match_signal(s, t, (uint32_t)(t->n_matches - 1));
    }
    if (!feeds)
        return true;
    e.host = h;
    e.ev = sev;
    rev.ctx = &e;
    rev.get = dr_get;
    memset(&in, 0, sizeof(in));
    in.rule = r;
    in.fields = m->fields;
    in.n_fields = m->n_fields;
    in.ev = &rev;
    /* The keys come back with the items (flush feeds the same fields and
     * event), so the engine does not build them a second time. */
    n = sn_corr_route_keys(s->set, &in, tg, sizeof(tg) / sizeof(tg[0]),
                           &t->keys);
    if (n > sizeof(tg) / sizeof(tg[0]))
        n = sizeof(tg) / sizeof(tg[0]);
    tls_grow((void **)&t->items, &t->cap_items, t->n_items + n,
             sizeof(*t->items), &ok);
    if (!ok)
        return false;
    for (size_t i = 0; i < n; i++) {
        struct dr_item *it;

        if (s->hop_spec != NULL && s->hop_spec[tg[i].spec]) {
            /* Correlated where the key's repartition partition is read
             * (det_rules_hop.c): the trace goes along, since the event
             * does not. */
            in.summary = dm->sum_len ? t->sums.data + dm->sum : NULL;
            in.summary_len = dm->sum_len;
            in.summary_is_json = dm->sum_len > 0;
            in.time_ns = dm->time_ns;
            in.arrival_ns = dm->arrival_ns;
            in.weight = dm->weight;
            if (!have_trace) {
                t->batch = b;
                trace = trace_of(s, t, b, r, ev);
                /* trace_of reuses t->trace: copied into hop right away */
                have_trace = true;
            }
            ok &= dr_hop_put(s, t, &in, &tg[i], rec, trace, 0);
            continue;
        }
        it = &t->items[t->n_items++];
        it->shard = sn_corr_shard(tg[i].hash, s->n_shards);
        it->ev = ev;
        it->match = (uint32_t)(t->n_matches - 1);
        it->t = tg[i];
    }
    return ok;
}

void
dr_corr_flush(struct dr_state *s, struct dr_tls *t, const struct sn_batch *b)
{
    struct sn_corr_input in;
    struct dr_event e;
    struct sn_rule_event rev = { &e, dr_get };

    /* Zeroed once: every item sets all the members it uses (the memset
     * per item was a third of this function's samples). */
    memset(&in, 0, sizeof(in));
    e.host = s->host;
    t->batch = b;
    /* Shards in order, each locked once; items of one shard keep their
     * batch order (the engine wants event order per key). Batches are
     * small, so a pass per shard that has items beats sorting. */
    for (size_t done = 0, sh_i = 0; done < t->n_items; sh_i++) {
        struct dr_shard *sh = &s->shards[sh_i];
        bool locked = false;

        for (size_t i = 0; i < t->n_items; i++) {
            const struct dr_item *it = &t->items[i];
            const struct dr_match *dm = &t->matches[it->match];

            if (it->shard != sh_i)
                continue;
            if (!locked) {
                pthread_mutex_lock(&sh->mu);
                sh->tls = t;
                locked = true;
            }
            e.ev = s->host->batch_event(b, it->ev);
            in.rule = dm->rule;
            in.fields = dm->n_fv > 0 ? &t->fv[dm->fv] : NULL;
            in.n_fields = dm->n_fv;
            in.ev = &rev;
            in.time_ns = dm->time_ns;
            in.arrival_ns = dm->arrival_ns;
            in.weight = dm->weight;
            in.summary = dm->sum_len ? t->sums.data + dm->sum : NULL;
            in.summary_len = dm->sum_len;
            in.summary_is_json = dm->sum_len > 0;
            in.origin = dm->origin;
            in.has_origin = true;
            in.key = it->t.has_key ? t->keys.data + it->t.key_off : NULL;
            in.key_len = it->t.has_key ? it->t.key_len : 0;
            t->cur = dm;
            t->cur_rec = s->host->event_record(e.ev);
            sn_corr_feed_target(sh->c, &in, &it->t);
            t->cur = NULL;
            t->cur_rec = NULL;
            done++;
        }
        if (locked) {
            sh->tls = NULL;
            pthread_mutex_unlock(&sh->mu);
        }
        if (t->n_fwd > 0)
            run_forwards(s, t);
    }
    dr_co_flush(s, t); /* reads the matches, their summaries and keys */
    t->n_items = t->n_matches = t->n_fv = 0;
    sn_buf_reset(&t->sums);
    t->head_len = 0;
    sn_buf_reset(&t->keys);
    /* Before the batch is let go: traces are computed as signals render. */
    dr_emit_pending(s, t);
    t->batch = NULL;
    t->n_src_cache = 0;
}

/* ---- time ------------------------------------------------------------------ */

static int64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
add_to(const struct sn_host *h, struct sn_counter *c, uint64_t *seen,
       uint64_t now)
{
    /* Counters only go up; the state gauge rides on wrap-around adds
     * (the metric holds the current value). */
    h->counter_add(c, now - *seen);
    *seen = now;
}

/* Lost state reported to the core too (host->detection_lost), which the
 * health endpoint reads without knowing this plugin's metric names. */
static void
lost(struct dr_state *s, enum sn_loss what, uint64_t n)
{
    if (n > 0 && SN_HOST_HAS(s->host, detection_lost))
        s->host->detection_lost(s->inst, what, n);
}

void
dr_corr_advance(struct dr_state *s, int64_t wm)
{
    const struct sn_host *h = s->host;
    struct dr_tls *t = s->ticker_tls;

    pthread_mutex_lock(&s->advance_mu);
    for (size_t k = 0; k < s->n_shards; k++) {
        struct dr_shard *sh = &s->shards[k];

        pthread_mutex_lock(&sh->mu);
        sh->tls = t;
        dr_hop_push(s, sh);
        sn_corr_advance(sh->c, wm);
        sh->tls = NULL;
        pthread_mutex_unlock(&sh->mu);
        if (t->n_fwd > 0)
            run_forwards(s, t);
    }
    /* Signal-fed steps a firing here sent through the hop. */
    if (t->n_hop > 0)
        dr_hop_send(s, t);
    /* Per-rule state counters: totals over the shards. */
    for (size_t i = 0; i < s->set->n_specs; i++) {
        struct dr_rule_counters *rc = &s->rc[i];
        struct sn_corr_rule_stats sum;

        memset(&sum, 0, sizeof(sum));
        for (size_t k = 0; k < s->n_shards; k++) {
            struct dr_shard *sh = &s->shards[k];
            struct sn_corr_rule_stats st;

            pthread_mutex_lock(&sh->mu);
            sn_corr_rule_stats(sh->c, i, &st);
            pthread_mutex_unlock(&sh->mu);
            sum.keys += st.keys;
            sum.keys_evicted += st.keys_evicted;
            sum.events_dropped += st.events_dropped;
            sum.late_dropped += st.late_dropped;
        }
        add_to(h, rc->keys, &rc->seen_keys, sum.keys);
        lost(s, SN_LOSS_KEYS_EVICTED, sum.keys_evicted - rc->seen_evicted);
        lost(s, SN_LOSS_EVENTS_DROPPED, sum.events_dropped - rc->seen_dropped);
        lost(s, SN_LOSS_LATE_DROPPED, sum.late_dropped - rc->seen_late);
        add_to(h, rc->evicted, &rc->seen_evicted, sum.keys_evicted);
        add_to(h, rc->dropped, &rc->seen_dropped, sum.events_dropped);
        add_to(h, rc->late, &rc->seen_late, sum.late_dropped);
    }
    dr_emit_pending(s, t);
    pthread_mutex_unlock(&s->advance_mu);
}

/* The watermark every shard is advanced to: the newest event time seen;
 * once the stream has been quiet for QUIET_NS, moved on by the wall time
 * since (so absence and resolve_after fire on a silent stream, and a
 * replay of old logs keeps its own time); before the first event, the
 * clock minus QUIET_NS (used by the ticker only once
 * dr_ticker_may_advance says so). The grace keeps the ticker from making events
 * late that are merely a little behind the clock (syslog timestamps have
 * whole seconds, senders batch). */
#define QUIET_NS (5 * (int64_t)1000000000)
/* How long a fresh detector (no checkpoint, no event yet) waits before
 * the clock moves its time: see dr_ticker_may_advance. */
#define START_GRACE_NS (60 * (int64_t)1000000000)

int64_t
dr_watermark(struct dr_state *s)
{
    int64_t ev = atomic_load(&s->max_event_ns);
    int64_t last = atomic_load(&s->last_arrival_mono);
    int64_t quiet;

    if (ev == 0)
        return wall_ns() - QUIET_NS;
    quiet = mono_ns() - last;
    return quiet > QUIET_NS ? ev + quiet - QUIET_NS : ev;
}

/* Whether the ticker may advance the engines now. Before the first
 * event the watermark is the clock's; if the first events then come
 * from an older time (a log file replayed, appended to a followed
 * file, a backlog read once a consumer group formed), every
 * correlation would judge them late and drop them. So a detector that
 * starts with no time of its own (no checkpoint) leaves it unset until
 * its first event, or until START_GRACE_NS has passed without one: then
 * the stream is taken as live and silent, and absence (expected keys)
 * starts counting from the clock. */
static bool
dr_ticker_may_advance(const struct dr_state *s)
{
    return atomic_load(&s->max_event_ns) != 0 || s->restored ||
           mono_ns() - s->start_mono >= START_GRACE_NS;
}

static void *
ticker_main(void *arg)
{
    struct dr_state *s = arg;
    int64_t period = s->c->tick_ms * 1000000;

    pthread_mutex_lock(&s->tick_mu);
    while (!s->tick_stop) {
        struct timespec ts;
        int64_t until;

        clock_gettime(CLOCK_REALTIME, &ts);
        until = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + period;
        ts.tv_sec = until / 1000000000;
        ts.tv_nsec = until % 1000000000;
        while (!s->tick_stop &&
               pthread_cond_timedwait(&s->tick_cv, &s->tick_mu, &ts) !=
                   ETIMEDOUT)
            ;
        if (s->tick_stop)
            break;
        pthread_mutex_unlock(&s->tick_mu);
        if (dr_ticker_may_advance(s))
            dr_corr_advance(s, dr_watermark(s));
        dr_hop_beat(s);
        pthread_mutex_lock(&s->tick_mu);
    }
    pthread_mutex_unlock(&s->tick_mu);
    return NULL;
}

void
dr_note_times(struct dr_state *s, int64_t max_event_ns)
{
    int64_t cur = atomic_load(&s->max_event_ns);

    while (max_event_ns > cur &&
           !atomic_compare_exchange_weak(&s->max_event_ns, &cur, max_event_ns))
        ;
    atomic_store(&s->last_arrival_mono, mono_ns());
}

/* ---- lifetime ------------------------------------------------------------------ */

static void
rule_counter(struct dr_state *s, struct sn_counter **c, const char *id,
             const char *what, const char *help)
{
    char name[160];
    size_t n;

    n = (size_t)snprintf(name, sizeof(name), "corr_%s_%s", id, what);
    /* Metric names: [a-zA-Z0-9_] only. */
    for (size_t i = 0; i < n && i < sizeof(name); i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9')))
            name[i] = '_';
    *c = s->host->counter(s->inst, name, help);
}

/* The engine settings every engine of this detector shares (shards and
 * the scratch engines of checkpoints, so evidence survives a move). */
void
dr_engine_config(const struct dr_state *s, struct sn_corr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_keys = (uint32_t)s->c->max_keys;
    cfg->max_events = (uint32_t)s->c->max_events;
    cfg->evidence_k = (uint32_t)s->c->evidence;
    cfg->no_evidence = s->c->evidence == 0;
    cfg->summary_max = SUMMARY_MAX;
    cfg->sources = s->sources;
}

enum sn_status
dr_corr_init(struct dr_state *s, char *err, size_t err_len)
{
    const struct sn_host *h = s->host;
    struct sn_diags d;
    unsigned n = h->n_workers ? h->n_workers(s->inst) : 1;

    sn_diags_init(&d);
    if (sn_corr_set_build(s->rs, &s->set, &d) != SN_OK) {
        for (size_t i = 0; i < d.n; i++) {
            const struct sn_diag *it = &d.items[i];
            h->log(s->inst,
                   it->level == SN_DIAG_ERROR ? SN_LOG_ERROR : SN_LOG_WARN,
                   "%s:%d:%d: %s", it->file ? it->file : "-", it->line,
                   it->col, it->msg);
            if (it->level == SN_DIAG_ERROR && err[0] == '\0')
                snprintf(err, err_len, "%s:%d:%d: %s",
                         it->file ? it->file : "-", it->line, it->col,
                         it->msg);
        }
        if (err[0] == '\0')
            snprintf(err, err_len, "the rules' correlations could not be "
                                   "built");
        sn_diags_fini(&d);
        return SN_ECONFIG;
    }
    sn_diags_fini(&d);
    s->n_shards = n ? n : 1;
    s->shards = calloc(s->n_shards, sizeof(*s->shards));
    s->sources = sn_corr_sources_new();
    if (s->sources == NULL)
        return SN_ENOMEM;
    s->rc = calloc(s->set->n_specs + 1, sizeof(*s->rc));
    s->ticker_tls = dr_tls_new(s);
    if (s->shards == NULL || s->rc == NULL || s->ticker_tls == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < s->n_shards; i++) {
        struct dr_shard *sh = &s->shards[i];
        struct sn_corr_config cfg;

        dr_engine_config(s, &cfg);
        cfg.shard = (uint32_t)i;
        cfg.n_shards = (uint32_t)s->n_shards;
        cfg.emit = on_signal;
        cfg.emit_arg = sh;
        cfg.forward = on_forward;
        pthread_mutex_init(&sh->mu, NULL);
        sh->s = s;
        sh->c = sn_corr_new(s->set, &cfg);
        if (sh->c == NULL)
            return SN_ENOMEM;
    }
    for (size_t i = 0; i < s->set->n_specs; i++) {
        const char *id = s->set->specs[i].rule->id;
        struct dr_rule_counters *rc = &s->rc[i];

        rule_counter(s, &rc->keys, id, "state_keys",
                     "keys the rule's correlation holds now (all shards)");
        rule_counter(s, &rc->evicted, id, "keys_evicted_total",
                     "keys evicted with live state (detection degraded)");
        rule_counter(s, &rc->dropped, id, "events_dropped_total",
                     "events dropped by the per-key bound");
        rule_counter(s, &rc->late, id, "late_dropped_total",
                     "events older than the watermark minus the lateness");
        rule_counter(s, &rc->signals, id, "signals_total",
                     "signals of the rule");
    }
    pthread_mutex_init(&s->tick_mu, NULL);
    pthread_cond_init(&s->tick_cv, NULL);
    pthread_mutex_init(&s->file_mu, NULL);
    pthread_mutex_init(&s->advance_mu, NULL);
    s->sync_made = true;
    return SN_OK;
}

void
dr_corr_fini(struct dr_state *s)
{
    for (size_t i = 0; s->shards != NULL && i < s->n_shards; i++) {
        if (s->shards[i].s == NULL)
            continue;
        sn_corr_free(s->shards[i].c);
        pthread_mutex_destroy(&s->shards[i].mu);
    }
    free(s->shards);
    free(s->rc);
    sn_corr_sources_free(s->sources);
    dr_tls_free(s->ticker_tls);
    if (s->sync_made) {
        pthread_mutex_destroy(&s->tick_mu);
        pthread_cond_destroy(&s->tick_cv);
        pthread_mutex_destroy(&s->file_mu);
        pthread_mutex_destroy(&s->advance_mu);
    }
    sn_corr_set_free(s->set);
}

enum sn_status
dr_corr_start(struct dr_state *s, char *err, size_t err_len)
{
    if (s->c->signals_file != NULL) {
        s->signals_file = fopen(s->c->signals_file, "a");
        if (s->signals_file == NULL) {
            snprintf(err, err_len, "signals_file %s: %s", s->c->signals_file,
                     strerror(errno));
            return SN_EIO;
        }
    }
    /* Restored before the ticker runs and before any batch arrives (the
     * workers start after the detectors). */
    dr_ckpt_restore(s);
    dr_part_drop_checkpointed(s);
    s->start_mono = mono_ns();
    s->tick_stop = false;
    if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
        snprintf(err, err_len, "cannot create the correlation ticker thread");
        return SN_EPLUGIN;
    }
    s->ticker_started = true;
    return SN_OK;
}

void
dr_corr_stop(struct dr_state *s)
{
    if (s->ticker_started) {
        pthread_mutex_lock(&s->tick_mu);
        s->tick_stop = true;
        pthread_cond_signal(&s->tick_cv);
        pthread_mutex_unlock(&s->tick_mu);
        pthread_join(s->ticker, NULL);
        s->ticker_started = false;
    }
    /* The workers have been joined (the core stops detectors last), so
     * the shards are quiet: what they hold now is the whole state. */
    dr_ckpt_save(s);
    if (s->signals_file != NULL) {
        fclose(s->signals_file);
        s->signals_file = NULL;
    }
}
