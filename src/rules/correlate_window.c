/*
 * The kinds of correlation rule, fed one event of one key: threshold
 * (n events in a window), distinct (n values in a window), sequence
 * (steps in order within a window), rate (EWMA baseline per bucket),
 * new_value and absence. Keys come from correlate_key.c, signals go
 * through correlate_signal.c; the semantics are pinned in
 * docs/correlation.md.
 */
#include "rules/correlate.h"
#include "rules/limits.h"
#include "rules/value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"


/* ---- the kinds ------------------------------------------------------------
 */

static void
drop_event(struct sn_corr *c, struct crule *cr)
{
    cr->st.events_dropped++;
    sn_corr_degraded(c, cr);
}

/* Room for one more event in k's ring: forget events older than horizon,
 * then the oldest one when the ring is at the rule's bound (counted as a
 * dropped event). False when no room could be had (also counted). */
static bool
ring_make_room(struct sn_corr *c, struct crule *cr, struct ckey *k,
               int64_t horizon, bool seq)
{
    while (k->rn > 0 && sn_corr_at(k, 0)->t < horizon)
        sn_corr_ring_pop_front(k, seq);
    if (k->rn >= cr->max_events) {
        sn_corr_ring_pop_front(k, seq);
        drop_event(c, cr);
    }
    if (sn_corr_ring_reserve(c, cr, k, k->rn + 1) != SN_OK) {
        drop_event(c, cr);
        return false;
    }
    return true;
}

/* The weight of a threshold ring entry: its tag (sequences' step bits are
 * not used by thresholds), 0 meaning 1 (entries of checkpoints written
 * before weights). */
static inline uint64_t
weight_of(const struct rent *re)
{
    return re->tag > 1 ? re->tag : 1;
}

/* A window of weighted events containing entry p: the earliest start i
 * and the first end j >= p at which the weights of i..j reach n within
 * window_ns. Only windows containing p can: before it none held n. */
static bool
weighted_window(struct ckey *k, uint32_t p, uint64_t n, int64_t window_ns,
                uint32_t *first, uint32_t *last, uint64_t *sum)
{
    for (uint32_t i = 0; i <= p; i++) {
        int64_t ti = sn_corr_at(k, i)->t;
        uint64_t w = 0;

        if (sn_corr_at(k, p)->t - ti > window_ns)
            continue;
        for (uint32_t j = i; j < k->rn; j++) {
            if (sn_corr_at(k, j)->t - ti > window_ns)
                break;
            w += weight_of(sn_corr_at(k, j));
            if (j >= p && w >= n) {
                *first = i;
                *last = j;
                *sum = w;
                return true;
            }
        }
    }
    return false;
}

/* refire per_window: the fired window stays open until first + window;
 * held events inside it (newer than the firing one, fed out of order)
 * belong to it: they are absorbed, not the start of the next window. */
static void
window_open(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t first)
{
    int64_t until = first + cr->spec->window_ns;

    k->fired_until = until;
    k->absorbed = 0;
    k->absorbed_first = k->absorbed_last = T_NONE;
    k->upd_wm = sn_corr_key_wm(c, cr, k);
    sn_corr_pending_del(cr, k);
    while (k->rn > 0 && sn_corr_at(k, 0)->t <= until) {
        sn_corr_absorb(cr, k, sn_corr_at(k, 0)->t, weight_of(sn_corr_at(k, 0)));
        sn_corr_ring_pop_front(k, false);
    }
    if (k->rn == 0)
        k->weighted = false;
}

/* One update signal for the matches k absorbed, which it then forgets;
 * now (the key's watermark) starts the next update interval. */
static void
send_absorbed(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t now)
{
    struct sn_signal sig;

    sn_corr_pending_del(cr, k);
    if (k->absorbed == 0)
        return;
    if (now > k->upd_wm)
        k->upd_wm = now;
    sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_UPDATE, k->absorbed_last);
    sig.count = k->absorbed;
    sig.threshold = cr->spec->count;
    sig.first_ns = k->absorbed_first;
    sig.last_ns = k->absorbed_last;
    sig.repeat = k->hits;
    if (cr->spec->escalate_after && k->hits >= cr->spec->escalate_after)
        sig.severity = cr->spec->escalate_to;
    k->absorbed = 0;
    k->absorbed_first = k->absorbed_last = T_NONE;
    sn_corr_update(c, &sig);
}

void
sn_corr_window_close(struct sn_corr *c, struct crule *cr, struct ckey *k,
                     int64_t now)
{
    if (k->fired_until == T_NONE || now <= k->fired_until)
        return;
    /* Events up to the window's end belonged to it: one arriving late
     * after the close counts as an update of its own (sn_corr_feed_late),
     * not as the start of another window. */
    if (k->reset_t < k->fired_until + 1)
        k->reset_t = k->fired_until + 1;
    k->fired_until = T_NONE;
    send_absorbed(c, cr, k, now);
}

/* While the window is open: the absorbed matches go out once an update
 * interval of the key's watermark (now) has passed since the firing or
 * the last update. */
static void
update_if_due(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t now)
{
    if (k->absorbed > 0 && now >= k->upd_wm + SN_CORR_UPDATE_INTERVAL_NS)
        send_absorbed(c, cr, k, now);
}

bool
sn_corr_window_absorb(struct sn_corr *c, struct crule *cr, struct ckey *k,
                      int64_t t, uint64_t w)
{
    if (k->fired_until == T_NONE)
        return false;
    if (t > k->fired_until) {
        sn_corr_window_close(c, cr, k, t);
        return false;
    }
    sn_corr_absorb(cr, k, t, w);
    update_if_due(c, cr, k, c->feed_wm);
    return true;
}

void
sn_corr_pending_add(struct crule *cr, struct ckey *k)
{
    if (k->pending)
        return;
    k->pending = true;
    k->pprev = NULL;
    k->pnext = cr->pend_head;
    if (cr->pend_head != NULL)
        cr->pend_head->pprev = k;
    cr->pend_head = k;
}

void
sn_corr_pending_del(struct crule *cr, struct ckey *k)
{
    if (!k->pending)
        return;
    if (k->pprev != NULL)
        k->pprev->pnext = k->pnext;
    else
        cr->pend_head = k->pnext;
    if (k->pnext != NULL)
        k->pnext->pprev = k->pprev;
    k->pprev = k->pnext = NULL;
    k->pending = false;
}

/* Due keys in an order that does not depend on the list's (which
 * differs after a restore): by the time their interval started, then
 * by key. */
static int
due_cmp(const void *a, const void *b)
{
    const struct ckey *x = *(struct ckey *const *)a;
    const struct ckey *y = *(struct ckey *const *)b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int d;

    if (x->upd_wm != y->upd_wm)
        return x->upd_wm < y->upd_wm ? -1 : 1;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if ((d = memcmp(x->kb, y->kb, n)) != 0)
        return d;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static bool
due(const struct sn_corr *c, const struct crule *cr, const struct ckey *k)
{
    int64_t wm = sn_corr_key_wm(c, cr, k);

    return wm > k->fired_until || wm >= k->upd_wm + SN_CORR_UPDATE_INTERVAL_NS;
}

void
sn_corr_pending_due(struct sn_corr *c, struct crule *cr)
{
    size_t n = 0;

    for (struct ckey *k = cr->pend_head; k != NULL; k = k->pnext)
        n += due(c, cr, k);
    if (n == 0)
        return;
    if (n > c->due_cap) {
        struct ckey **d = realloc(c->due, n * sizeof(*d));
        if (d == NULL)
            return; /* the next advance, or the close, sends them */
        c->due = d;
        c->due_cap = n;
    }
    n = 0;
    for (struct ckey *k = cr->pend_head; k != NULL; k = k->pnext)
        if (due(c, cr, k))
            c->due[n++] = k;
    qsort(c->due, n, sizeof(*c->due), due_cmp);
    for (size_t i = 0; i < n; i++) {
        struct ckey *k = c->due[i];
        int64_t wm = sn_corr_key_wm(c, cr, k);

        if (wm > k->fired_until)
            sn_corr_window_close(c, cr, k, wm);
        else
            send_absorbed(c, cr, k, wm);
    }
}

void
sn_corr_absorb(struct crule *cr, struct ckey *k, int64_t t, uint64_t w)
{
    if (k->fired_until != T_NONE)
        sn_corr_pending_add(cr, k);
    k->absorbed += w;
    if (k->absorbed_first == T_NONE || t < k->absorbed_first)
        k->absorbed_first = t;
    if (k->absorbed_last == T_NONE || t > k->absorbed_last)
        k->absorbed_last = t;
}

void
sn_corr_threshold_fire(struct sn_corr *c, struct crule *cr, struct ckey *k,
                       int64_t first, int64_t last, uint64_t count)
{
    struct sn_signal sig;

    sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, last);
    sig.count = count;
    sig.threshold = cr->spec->count;
    sig.first_ns = first;
    sig.last_ns = last;
    sn_corr_evidence_collect(c, k, first, last, &sig);
    sn_corr_hit(c, cr, k, &sig);
    /* The window restarts: its events and older ones are spent. A window
     * of late matches (sn_corr_feed_late) may end before the last one. */
    while (k->rn > 0 && sn_corr_at(k, 0)->t <= last)
        sn_corr_ring_pop_front(k, false);
    if (last > k->reset_t) /* T_NONE is the smallest */
        k->reset_t = last;
    sn_corr_evidence_reset(c, k);
    if (!cr->spec->refire_every)
        window_open(c, cr, k, first);
}

static void
feed_threshold(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
               const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    uint64_t n = s->count;
    int64_t horizon = c->feed_wm - s->window_ns - s->lateness_ns;
    uint32_t w = in->weight > 1 ? in->weight : 1;
    uint32_t p, lo, hi;

    /* refire per_window: a match inside the fired window only counts. */
    if (!s->refire_every && sn_corr_window_absorb(c, cr, k, t, w))
        return;
    /* Events older than any window a future event could close. */
    if (!ring_make_room(c, cr, k, horizon, false))
        return;
    p = sn_corr_ring_insert(k, t, w, 0);
    sn_corr_evidence_add(c, k, t, in);
    if (w > 1)
        k->weighted = true;
    if (k->weighted) {
        /* A relay's "repeated N times" stands for N events: the count is
         * the sum of weights, so the ring's length says nothing. */
        uint32_t i, j;
        uint64_t sum;

        if (weighted_window(k, p, n, s->window_ns, &i, &j, &sum))
            sn_corr_threshold_fire(c, cr, k, sn_corr_at(k, i)->t,
                                   sn_corr_at(k, j)->t, sum);
        if (k->rn == 0)
            k->weighted = false;
        return;
    }
    if (k->rn < n)
        return;
    /* Before this event no window held n events (it would have fired and
     * restarted), so only windows of n consecutive events containing the
     * new one can: the in-order case is a single comparison. */
    lo = p + 1 >= n ? p + 1 - (uint32_t)n : 0;
    hi = k->rn - (uint32_t)n < p ? k->rn - (uint32_t)n : p;
    for (uint32_t i = lo; i <= hi; i++) {
        int64_t first = sn_corr_at(k, i)->t;
        int64_t last = sn_corr_at(k, i + (uint32_t)n - 1)->t;
        if (last - first <= s->window_ns) {
            sn_corr_threshold_fire(c, cr, k, first, last, n);
            return;
        }
    }
}

void
sn_corr_feed_late(struct sn_corr *c, struct crule *cr, struct ckey *k,
                  int64_t t, const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    uint64_t w =
        s->kind == SN_CORR_THRESHOLD && in->weight > 1 ? in->weight : 1;

    if (s->kind != SN_CORR_THRESHOLD && s->kind != SN_CORR_DISTINCT)
        return; /* a sequence's steps up to its last match are spent */
    if (s->refire_every) {
        /* In time order it would have been in the fired window and that
         * window's newest match in the next one: it counts for the next.
         * (distinct: which values a window held depends on the order;
         * spent.) */
        if (s->kind == SN_CORR_THRESHOLD)
            feed_threshold(c, cr, k, t, in);
        return;
    }
    /* per_window: it belongs to the fired window. */
    if (k->fired_until != T_NONE) {
        sn_corr_absorb(cr, k, t, w);
        update_if_due(c, cr, k, c->feed_wm);
        return;
    }
    sn_corr_absorb(cr, k, t, w); /* closed already: an update of its own */
    send_absorbed(c, cr, k, c->feed_wm);
}

static uint64_t
value_hash(const struct sn_corr_input *in, const struct crule *cr,
           struct sn_str *txt, char *tmp, size_t tmp_len)
{
    struct sn_value v;

    if (!sn_corr_get_field(in, cr->spec->field, cr->value_field_len,
                           cr->value_field_id, &v) ||
        !sn_value_text(&v, tmp, tmp_len, txt))
        return 0;
    return sn_corr_mix(sn_corr_fnv(SN_CORR_FNV_INIT, txt->ptr, txt->len));
}

static void
feed_distinct(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
              const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    char tmp[64];
    struct sn_str txt;
    uint64_t h = value_hash(in, cr, &txt, tmp, sizeof(tmp));
    int64_t since = k->last_t - s->window_ns;

    if (h == 0) {
        cr->st.no_key++;
        return;
    }
    if (!s->refire_every && sn_corr_window_absorb(c, cr, k, t, 1))
        return;
    if (sn_corr_set_reserve(k, cr->max_events) != SN_OK) {
        drop_event(c, cr);
        return;
    }
    if (sn_corr_vset_find(k, h) == NULL && k->set_n >= cr->max_events) {
        sn_corr_set_purge(k, since);
        if (k->set_n >= cr->max_events) {
            /* Full of live values: forget the oldest one. */
            uint32_t old = 0;
            for (uint32_t i = 0; i < k->set_cap; i++)
                if (k->set[i].h != 0 &&
                    (k->set[old].h == 0 || k->set[i].t < k->set[old].t))
                    old = i;
            sn_corr_set_purge(k, k->set[old].t + 1);
            drop_event(c, cr);
        }
    }
    sn_corr_set_put(k, h, t);
    sn_corr_evidence_add(c, k, t, in);
    if (k->set_n < s->count)
        return;
    sn_corr_set_purge(k, since);
    if (k->set_n >= s->count)
        sn_corr_distinct_fire(c, cr, k);
}

void
sn_corr_distinct_fire(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    struct sn_signal sig;
    int64_t first = INT64_MAX;

    for (uint32_t i = 0; i < k->set_cap; i++)
        if (k->set[i].h != 0 && k->set[i].t < first)
            first = k->set[i].t;
    sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, k->last_t);
    sig.count = k->set_n;
    sig.threshold = cr->spec->count;
    sig.first_ns = first;
    sig.last_ns = k->last_t;
    sn_corr_evidence_collect(c, k, first, k->last_t, &sig);
    sn_corr_hit(c, cr, k, &sig);
    for (uint32_t i = 0; i < k->set_cap; i++)
        k->set[i].h = 0;
    k->set_n = 0;
    k->reset_t = k->last_t;
    sn_corr_evidence_reset(c, k);
    if (!cr->spec->refire_every)
        window_open(c, cr, k, first);
}

static void
feed_sequence(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
              const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    uint32_t mask = 0, n = s->n_steps, slot;
    int64_t horizon = c->feed_wm - s->window_ns - s->lateness_ns;
    struct {
        bool ok;
        int64_t start;
        uint32_t idx[SN_CORR_MAX_STEPS];
    } best[SN_CORR_MAX_STEPS + 1];

    for (uint32_t j = 0; j < n; j++)
        if (s->steps[j] == in->rule)
            mask |= 1u << j;
    if (!ring_make_room(c, cr, k, horizon, true))
        return;
    k->n_seen++;
    slot = k->sfree[--k->n_sfree];
    {
        struct sn_corr_input tmp;
        sn_corr_slot_fill(c, sn_corr_slot(c, k, slot), t, k->n_seen,
                          sn_corr_with_summary(c, in, &tmp));
    }
    sn_corr_ring_insert(k, t, mask, slot);

    /* Steps must come in time order within the window. For each number of
     * completed steps keep the partial match that started last: it
     * dominates the others (same progress, more time left). */
    memset(best, 0, sizeof(best));
    for (uint32_t e = 0; e < k->rn; e++) {
        const struct rent *re = sn_corr_at(k, e);
        for (uint32_t j = n; j-- > 0;) {
            int64_t start;
            if (!(re->tag & (1u << j)))
                continue;
            if (j == 0)
                start = re->t;
            else if (best[j].ok && re->t - best[j].start <= s->window_ns)
                start = best[j].start;
            else
                continue;
            if (!best[j + 1].ok || start >= best[j + 1].start) {
                if (j > 0)
                    memcpy(best[j + 1].idx, best[j].idx, j * sizeof(uint32_t));
                best[j + 1].idx[j] = e;
                best[j + 1].start = start;
                best[j + 1].ok = true;
            }
        }
        if (best[n].ok)
            break;
    }
    if (best[n].ok) {
        struct sn_signal sig;
        int64_t last = sn_corr_at(k, best[n].idx[n - 1])->t;
        for (uint32_t j = 0; j < n; j++) {
            const struct rent *re = sn_corr_at(k, best[n].idx[j]);
            sn_corr_ev_from_slot(sn_corr_slot(c, k, re->slot), &c->steps[j]);
            c->steps[j].step = s->steps[j];
        }
        sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, last);
        sig.count = n;
        sig.threshold = n;
        sig.first_ns = best[n].start;
        sig.last_ns = last;
        sig.steps = c->steps;
        sig.n_steps = n;
        sn_corr_hit(c, cr, k, &sig);
        while (k->rn > 0 && sn_corr_at(k, 0)->t <= last)
            sn_corr_ring_pop_front(k, true);
        k->reset_t = last;
    }
}

static void
rate_close(const struct sn_corr_spec *s, struct ckey *k, uint32_t x)
{
    if (k->n_closed++ == 0) {
        k->mean = x;
        k->var = 0;
        return;
    }
    /* Exponentially weighted mean and variance (West 1979 / Finch 2009:
     * "Incremental calculation of weighted mean and variance"). */
    {
        double diff = x - k->mean, incr = s->alpha * diff;
        k->mean += incr;
        k->var = (1 - s->alpha) * (k->var + diff * incr);
    }
}

static void
feed_rate(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
          const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    int64_t open = s->lateness_ns / s->bucket_ns + 2;
    int64_t b = t / s->bucket_ns;
    uint32_t *cnt;
    double thr;

    if (k->rb_cur == T_NONE) {
        k->rb_cur = b;
        k->rb_start = b;
    }
    if (b > k->rb_cur) {
        /* Buckets falling out of the open range close into the baseline,
         * including the empty ones in a gap. */
        int64_t from = k->rb_cur - open + 1, to = b - open;
        if (from < k->rb_start)
            from = k->rb_start;
        if (to - from > SN_CORR_RATE_MAX_CATCHUP)
            from = to - SN_CORR_RATE_MAX_CATCHUP;
        for (int64_t i = from; i <= to; i++) {
            uint32_t *ci = &k->rcount[(uint64_t)i % (uint64_t)open];
            rate_close(s, k, i > k->rb_cur - open ? *ci : 0);
            *ci = 0;
        }
        for (int64_t i = k->rb_cur + 1; i <= b && i - k->rb_cur <= open; i++)
            k->rcount[(uint64_t)i % (uint64_t)open] = 0;
        k->rb_cur = b;
    }
    if (b <= k->rb_cur - open || b < k->rb_start) {
        cr->st.late_dropped++;
        return;
    }
    cnt = &k->rcount[(uint64_t)b % (uint64_t)open];
    /* A relay's "repeated N times" is N events of the bucket. */
    *cnt += in->weight > 1 ? in->weight : 1;
    if (k->fired_b != b)
        sn_corr_evidence_add(c, k, t, in);
    thr = k->mean + s->k * sqrt(k->var > 0 ? k->var : 0);
    if ((b - k->rb_start) * s->bucket_ns >= s->warmup_ns && k->n_closed > 0 &&
        *cnt > thr && *cnt >= s->min_count && k->fired_b != b) {
        struct sn_signal sig;
        sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, t);
        sig.count = *cnt;
        sig.threshold = (uint64_t)floor(thr) + 1;
        if (sig.threshold < s->min_count)
            sig.threshold = s->min_count;
        sig.first_ns = b * s->bucket_ns;
        sig.last_ns = t;
        sig.mean = k->mean;
        sig.stddev = sqrt(k->var > 0 ? k->var : 0);
        sig.k = s->k;
        sn_corr_evidence_collect(c, k, b * s->bucket_ns,
                                 (b + 1) * s->bucket_ns - 1, &sig);
        k->fired_b = b;
        sn_corr_hit(c, cr, k, &sig);
        sn_corr_evidence_reset(c, k);
    }
}

static void
feed_new_value(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
               const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    char tmp[64];
    struct sn_str txt;
    uint64_t h = value_hash(in, cr, &txt, tmp, sizeof(tmp));

    if (h == 0) {
        cr->st.no_key++;
        return;
    }
    if (!s->refire_every && sn_corr_window_absorb(c, cr, k, t, 1))
        return;
    if (sn_corr_set_reserve(k, cr->max_events) != SN_OK) {
        drop_event(c, cr);
        return;
    }
    if (sn_corr_vset_find(k, h) != NULL)
        return;
    if (k->set_n >= cr->max_events)
        drop_event(c, cr); /* cannot remember it: it will look new again */
    else
        sn_corr_set_put(k, h, t);
    if (t >= cr->learn_start + s->learn_ns) {
        struct sn_signal sig;
        sn_corr_evidence_reset(c, k);
        sn_corr_evidence_add(c, k, t, in);
        sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, t);
        sig.count = k->set_n;
        sig.first_ns = sig.last_ns = t;
        sig.value = txt;
        sn_corr_evidence_collect(c, k, t, t, &sig);
        sn_corr_hit(c, cr, k, &sig);
    }
}


/* Absence is fed here too: an event of an absent key resolves it. */
void
sn_corr_feed_kind(struct sn_corr *c, struct crule *cr, struct ckey *k,
                  int64_t t, const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;

    switch (s->kind) {
    case SN_CORR_THRESHOLD:
        feed_threshold(c, cr, k, t, in);
        break;
    case SN_CORR_DISTINCT:
        feed_distinct(c, cr, k, t, in);
        break;
    case SN_CORR_SEQUENCE:
        feed_sequence(c, cr, k, t, in);
        break;
    case SN_CORR_ABSENCE:
        sn_corr_evidence_add(c, k, t, in);
        if (k->absent) {
            k->absent = false;
            sn_corr_resolve(c, cr, k, t);
        }
        break;
    case SN_CORR_RATE:
        feed_rate(c, cr, k, t, in);
        break;
    case SN_CORR_NEW_VALUE:
        feed_new_value(c, cr, k, t, in);
        break;
    case SN_CORR_MATCH:
        break; /* never a spec's kind */
    }
}
