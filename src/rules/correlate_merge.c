/*
 * Merging a restored key into a key of the same identity that the engine
 * already holds (sn_corr_restore_keys): a source partition's windows
 * arrive at an instance that has been counting the same key from its own
 * partitions (events of one key spread over several partitions, e.g. a
 * topic keyed by hostname). The restored events are treated as if they
 * had arrived now: they join the window, and the kind's condition is
 * evaluated at once, so a threshold the union crosses fires (once per
 * window, as a live feed would) instead of waiting for the key's next
 * event, which may never come. Restored events older than the held
 * key's last firing count as a live feed counts them (sn_corr_feed_late):
 * absorbed by the fired window with refire per_window, in the next window
 * with every_threshold. docs/correlation.md, "Merging restored keys",
 * pins what is merged for each kind.
 */
#include "rules/correlate.h"

#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"

bool
sn_corr_mergeable(const struct crule *cr)
{
    switch (cr->spec->kind) {
    case SN_CORR_THRESHOLD:
    case SN_CORR_DISTINCT:
    case SN_CORR_NEW_VALUE:
        return true;
    default:
        /* Sequences (ordered steps with per-event summaries), rate
         * baselines and absence timers do not add up: the restored key
         * replaces the held one. */
        return false;
    }
}

/* The evidence slots of k in use (first K, then last K not repeating
 * them) into sl; returns how many. */
static size_t
slots_of(const struct sn_corr *c, const struct ckey *k,
         const struct evslot **sl)
{
    size_t kk = c->cfg.evidence_k, n = 0, nf;

    if (k->ev == NULL)
        return 0;
    for (size_t i = 0; i < kk && i < k->n_first; i++)
        if (sn_corr_slot(c, k, i)->used)
            sl[n++] = sn_corr_slot(c, k, i);
    nf = n;
    for (size_t i = 0; i < kk && i < k->n_last; i++) {
        const struct evslot *x = sn_corr_slot(c, k, kk + i);
        bool dup = false;
        for (size_t j = 0; j < nf; j++)
            dup |= sl[j]->seq == x->seq;
        if (x->used && !dup)
            sl[n++] = x;
    }
    return n;
}

/* into's and from's evidence (from's since `since`) as one key's: the
 * first K and last K by time of the union, as if the events had come in
 * time order. SN_ENOMEM leaves into's evidence as it was. */
static enum sn_status
merge_evidence(struct sn_corr *c, struct ckey *into, const struct ckey *from,
               int64_t since)
{
    size_t kk = c->cfg.evidence_k, n = 0, na, nb;
    const struct evslot *a[2 * SN_CORR_EVIDENCE_MAX];
    const struct evslot *b[2 * SN_CORR_EVIDENCE_MAX];
    const struct evslot *all[4 * SN_CORR_EVIDENCE_MAX];
    unsigned char *copy;

    if (kk == 0 || from->ev == NULL)
        return SN_OK;
    na = slots_of(c, into, a);
    nb = slots_of(c, from, b);
    /* into's slots are rewritten below: read them from a copy. */
    if ((copy = malloc(na * c->slot_size + 1)) == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < na; i++) {
        memcpy(copy + i * c->slot_size, a[i], c->slot_size);
        all[n++] = (const struct evslot *)(void *)(copy + i * c->slot_size);
    }
    for (size_t i = 0; i < nb; i++)
        if (b[i]->t >= since)
            all[n++] = b[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && all[j - 1]->t > all[j]->t; j--) {
            const struct evslot *t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    sn_corr_evidence_reset(c, into);
    for (size_t i = 0; i < n; i++) {
        struct sn_corr_input in;

        memset(&in, 0, sizeof(in));
        in.summary = (const char *)(all[i] + 1);
        in.summary_len = all[i]->len;
        in.summary_is_json = all[i]->is_json;
        sn_corr_evidence_add(c, into, all[i]->t, &in);
    }
    free(copy);
    return SN_OK;
}

/* Every window of count consecutive events that fits, earliest first:
 * fire, spend its events, go on with what is left (as feeding the events
 * one by one in time order would have). */
static void
eval_threshold(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    const struct sn_corr_spec *s = cr->spec;
    uint32_t n = (uint32_t)s->count;

    while (n > 0 && k->rn >= n) {
        bool fired = false;

        for (uint32_t i = 0; i + n <= k->rn; i++) {
            int64_t first = sn_corr_at(k, i)->t;
            int64_t last = sn_corr_at(k, i + n - 1)->t;

            if (last - first > s->window_ns)
                continue;
            sn_corr_threshold_fire(c, cr, k, first, last, n);
            fired = true;
            break;
        }
        if (!fired)
            return;
    }
}

static void
eval_distinct(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    sn_corr_set_purge(k, k->last_t - cr->spec->window_ns);
    if (k->set_n >= cr->spec->count)
        sn_corr_distinct_fire(c, cr, k);
}

/* refire per_window: one key, one fired window. Either side's open
 * window holds for the merged key (the later end, the absorbed counts
 * of both), so the other side's events inside it fire nothing again. */
static void
merge_fired_window(struct crule *cr, struct ckey *into, const struct ckey *from)
{
    if (from->fired_until == T_NONE)
        return;
    /* The next update is due at the earlier of the two sides'. */
    if (into->fired_until == T_NONE || from->upd_wm < into->upd_wm)
        into->upd_wm = from->upd_wm;
    if (into->fired_until == T_NONE || from->fired_until > into->fired_until)
        into->fired_until = from->fired_until;
    if (from->absorbed == 0)
        return;
    if (into->absorbed == 0 || from->absorbed_first < into->absorbed_first)
        into->absorbed_first = from->absorbed_first;
    if (into->absorbed == 0 || from->absorbed_last > into->absorbed_last)
        into->absorbed_last = from->absorbed_last;
    into->absorbed += from->absorbed;
    sn_corr_pending_add(cr, into);
}

/* An event at t inside into's fired window: counted there (true). */
static bool
absorbed(struct crule *cr, struct ckey *into, int64_t t, uint64_t w)
{
    if (into->fired_until == T_NONE || t > into->fired_until)
        return false;
    sn_corr_absorb(cr, into, t, w);
    return true;
}

/* Restored events older than into's last firing, refire per_window: a
 * live feed gives each to the fired window (sn_corr_feed_late), or, that
 * window closed, sends it as an update of its own. Here they are one
 * update: all but the last absorbed, the last fed late (which sends). */
struct late {
    int64_t t;
    bool any;
};

static void
late_add(struct crule *cr, struct ckey *into, struct late *l, int64_t t)
{
    if (l->any)
        sn_corr_absorb(cr, into, l->t, 1);
    l->t = t;
    l->any = true;
}

static void
late_end(struct sn_corr *c, struct crule *cr, struct ckey *into,
         const struct late *l)
{
    struct sn_corr_input in;

    if (!l->any)
        return;
    memset(&in, 0, sizeof(in));
    sn_corr_feed_late(c, cr, into, l->t, &in);
}

enum sn_status
sn_corr_key_merge(struct sn_corr *c, struct crule *cr, struct ckey *into,
                  const struct ckey *from)
{
    const struct sn_corr_spec *s = cr->spec;
    /* Events of a window that already fired here are spent, as a live
     * feed would find them (correlate.c drops them before the kind). */
    int64_t since = s->kind == SN_CORR_NEW_VALUE ? T_NONE : into->reset_t;
    struct late late = { T_NONE, false };

    if (from->last_t != T_NONE &&
        (into->last_t == T_NONE || from->last_t > into->last_t))
        into->last_t = from->last_t;
    into->primed = into->primed && from->primed;
    if (from->touch_wm > into->touch_wm)
        into->touch_wm = from->touch_wm;
    /* One key's signal history: an incident either side opened stays
     * the key's (suppression and escalation count from both). */
    into->hits += from->hits;
    into->suppressed += from->suppressed;
    if (from->has_signal &&
        (!into->has_signal || from->last_signal > into->last_signal))
        into->last_signal = from->last_signal;
    into->has_signal = into->has_signal || from->has_signal;
    into->firing = into->firing || from->firing;
    merge_fired_window(cr, into, from);

    switch (s->kind) {
    case SN_CORR_THRESHOLD: {
        /* every_threshold: the next window counts older events too. */
        int64_t keep = s->refire_every ? T_NONE : since;
        uint32_t add = 0;
        for (uint32_t i = 0; i < from->rn; i++)
            add += sn_corr_at(from, i)->t >= keep;
        if (add > 0 &&
            sn_corr_ring_reserve(c, cr, into, into->rn + add) != SN_OK)
            return SN_ENOMEM;
        for (uint32_t i = 0; i < from->rn; i++) {
            int64_t t = sn_corr_at(from, i)->t;
            if (t < keep) {
                late_add(cr, into, &late, t);
                continue;
            }
            if (absorbed(cr, into, t, 1))
                continue;
            if (into->rn >= cr->max_events) {
                /* The bound of a live key: the oldest event goes. */
                sn_corr_ring_pop_front(into, false);
                cr->st.events_dropped++;
            }
            sn_corr_ring_insert(into, t, 0, 0);
        }
        if (merge_evidence(c, into, from, keep) != SN_OK)
            return SN_ENOMEM;
        /* The fired window's before a firing here opens the next. */
        late_end(c, cr, into, &late);
        eval_threshold(c, cr, into);
        break;
    }
    case SN_CORR_DISTINCT:
    case SN_CORR_NEW_VALUE:
        if (from->set_n > 0 &&
            sn_corr_set_reserve(into, cr->max_events) != SN_OK)
            return SN_ENOMEM;
        for (uint32_t i = 0; i < from->set_cap; i++) {
            if (from->set[i].h == 0)
                continue;
            /* distinct every_threshold: spent, as a live feed's. */
            if (from->set[i].t < since) {
                if (!s->refire_every)
                    late_add(cr, into, &late, from->set[i].t);
                continue;
            }
            if (s->kind == SN_CORR_DISTINCT &&
                absorbed(cr, into, from->set[i].t, 1))
                continue;
            if (sn_corr_vset_find(into, from->set[i].h) == NULL &&
                into->set_n >= cr->max_events) {
                cr->st.events_dropped++;
                continue;
            }
            sn_corr_set_put(into, from->set[i].h, from->set[i].t);
        }
        if (s->kind == SN_CORR_DISTINCT) {
            if (merge_evidence(c, into, from, since) != SN_OK)
                return SN_ENOMEM;
            late_end(c, cr, into, &late);
            eval_distinct(c, cr, into);
        }
        break;
    default:
        break;
    }
    return SN_OK;
}
