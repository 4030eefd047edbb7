/*
 * Watermarks per rule and key origin (a Kafka partition): an event is
 * late only against the newest event of its own partition for that
 * rule, and a key's windows age by that time. One engine-wide watermark made a consumer
 * catching up on a backlog drop most events as late: partitions are
 * fetched one chunk at a time, so one partition's events can be minutes
 * behind another's (78% of a 1-million backlog were dropped in
 * bench/bench_kafka.sh). Kafka Streams keeps stream time per partition
 * for the same reason. Keys without an origin (syslog) use the engine's
 * watermark. Keys of an origin with a stream watermark (the
 * repartition partitions, set by their reader) are judged by it alone.
 * A partition that has not fed the engine for
 * OWM_IDLE_TICKS advance() calls is idle: its keys follow the engine's
 * watermark again, so absence and resolve_after still fire on a
 * partition that went silent while others are busy.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"

#define OWM_IDLE_TICKS 10

static bool
same(const struct owm_entry *e, const struct sn_corr_origin *o)
{
    return e->src == o->src && e->part == o->part;
}

/* Below this many entries a scan beats hashing. */
#define OWM_SCAN_MAX 16

static size_t
slot_of(const struct sn_corr_origin *o, size_t cap)
{
    uint64_t h = ((uint64_t)o->src << 32 | (uint32_t)o->part) *
                 0x9e3779b97f4a7c15ULL;

    return (size_t)(h >> 20) & (cap - 1);
}

static void
idx_put(struct crule *cr, size_t i)
{
    size_t j = slot_of(&(struct sn_corr_origin){ cr->owm[i].src,
                                                 cr->owm[i].part },
                       cr->owm_idx_cap);

    while (cr->owm_idx[j] != 0)
        j = (j + 1) & (cr->owm_idx_cap - 1);
    cr->owm_idx[j] = (uint32_t)i + 1;
}

/* Keep the index at most half full (false on ENOMEM: scans remain). */
static bool
idx_grow(struct crule *cr)
{
    size_t cap = cr->owm_idx_cap ? cr->owm_idx_cap : 64;
    uint32_t *idx;

    while (cap < 2 * (cr->n_owm + 1))
        cap *= 2;
    if (cap == cr->owm_idx_cap)
        return true;
    idx = calloc(cap, sizeof(*idx));
    if (idx == NULL)
        return false;
    free(cr->owm_idx);
    cr->owm_idx = idx;
    cr->owm_idx_cap = cap;
    for (size_t i = 0; i < cr->n_owm; i++)
        idx_put(cr, i);
    return true;
}

/* The index of o's entry, or n_owm when it has none. */
static size_t
find(const struct crule *cr, const struct sn_corr_origin *o)
{
    if (cr->owm_idx_cap == 0 || cr->n_owm <= OWM_SCAN_MAX) {
        for (size_t i = 0; i < cr->n_owm; i++)
            if (same(&cr->owm[i], o))
                return i;
        return cr->n_owm;
    }
    for (size_t j = slot_of(o, cr->owm_idx_cap);;
         j = (j + 1) & (cr->owm_idx_cap - 1)) {
        uint32_t e = cr->owm_idx[j];
        if (e == 0)
            return cr->n_owm;
        if (same(&cr->owm[e - 1], o))
            return e - 1;
    }
}

struct owm_entry *
sn_corr_owm_get(struct crule *cr, const struct sn_corr_origin *o)
{
    struct owm_entry *grown;
    size_t i;

    /* Feeds come in runs of one partition: the last hit first. */
    if (cr->owm_last < cr->n_owm && same(&cr->owm[cr->owm_last], o))
        return &cr->owm[cr->owm_last];
    i = find(cr, o);
    if (i < cr->n_owm) {
        cr->owm_last = i;
        return &cr->owm[i];
    }
    if (cr->n_owm >= OWM_SCAN_MAX && 2 * (cr->n_owm + 1) > cr->owm_idx_cap &&
        !idx_grow(cr)) {
        free(cr->owm_idx); /* scans from now on */
        cr->owm_idx = NULL;
        cr->owm_idx_cap = 0;
    }
    if (cr->n_owm == cr->cap_owm) {
        size_t cap = cr->cap_owm ? cr->cap_owm * 2 : 16;
        grown = realloc(cr->owm, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL; /* the engine's watermark is used instead */
        cr->owm = grown;
        cr->cap_owm = cap;
    }
    cr->owm[cr->n_owm] = (struct owm_entry){ o->src, o->part, T_NONE, 0 };
    cr->owm_last = cr->n_owm;
    if (cr->owm_idx_cap > 0)
        idx_put(cr, cr->n_owm);
    return &cr->owm[cr->n_owm++];
}

size_t
sn_corr_owm_drop(struct sn_corr *c, sn_corr_origin_fn want, void *arg)
{
    size_t dropped = 0;

    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        size_t n = 0;

        for (size_t i = 0; i < cr->n_owm; i++) {
            struct sn_corr_origin o = { cr->owm[i].src, cr->owm[i].part };
            if (want(arg, &o))
                continue;
            cr->owm[n++] = cr->owm[i];
        }
        if (n == cr->n_owm)
            continue;
        dropped += cr->n_owm - n;
        /* Keys' cached slots are checked against their origin before
         * use (sn_corr_key_wm): moved entries are looked up again. */
        cr->n_owm = n;
        cr->owm_last = 0;
        if (cr->owm_idx_cap > 0) {
            memset(cr->owm_idx, 0, cr->owm_idx_cap * sizeof(*cr->owm_idx));
            for (size_t i = 0; i < n; i++)
                idx_put(cr, i);
        }
    }
    return dropped;
}

/* ---- stream watermarks (sn_corr_stream_wm_set) ---------------------- */

static const struct swm_entry *
swm_find(const struct sn_corr *c, const struct sn_corr_origin *o)
{
    for (size_t i = 0; i < c->n_swm; i++)
        if (c->swm[i].src == o->src && c->swm[i].part == o->part)
            return &c->swm[i];
    return NULL;
}

/* o's stream time is known for the first time (wm): expected keys of o
 * that no event fed were created with an instance's time, which may lag
 * the stream's by more than the rule's "after" (a detector still reading
 * its backlog when the partition was assigned): their absence is timed
 * from here. Once per partition assignment, so a walk of the keys. */
static void
start_primed(struct sn_corr *c, const struct sn_corr_origin *o, int64_t wm)
{
    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];

        if (cr->spec->kind != SN_CORR_ABSENCE || cr->spec->n_expected == 0)
            continue;
        for (struct ckey *k = sn_corr_lru_tail(c, cr); k != NULL;
             k = sn_corr_lru_newer(c, k))
            if (k->primed && k->origin.src == o->src &&
                k->origin.part == o->part && k->last_t < wm)
                k->last_t = wm;
    }
}

enum sn_status
sn_corr_stream_wm_set(struct sn_corr *c, const struct sn_corr_origin *o,
                      int64_t wm)
{
    struct swm_entry *x = (struct swm_entry *)swm_find(c, o);

    if (x == NULL) {
        if (c->n_swm == c->cap_swm) {
            size_t cap = c->cap_swm ? 2 * c->cap_swm : 8;
            struct swm_entry *q = realloc(c->swm, cap * sizeof(*q));
            if (q == NULL)
                return SN_ENOMEM;
            c->swm = q;
            c->cap_swm = cap;
        }
        x = &c->swm[c->n_swm++];
        x->src = o->src;
        x->part = o->part;
        x->wm = T_NONE;
    }
    if (x->wm == T_NONE && wm != T_NONE)
        start_primed(c, o, wm);
    x->wm = wm;
    return SN_OK;
}

int64_t
sn_corr_stream_wm_of(const struct sn_corr *c, const struct sn_corr_origin *o)
{
    const struct swm_entry *x = swm_find(c, o);

    return x != NULL ? x->wm : T_NONE;
}

void
sn_corr_stream_wm_clear(struct sn_corr *c, const struct sn_corr_origin *o)
{
    const struct swm_entry *x = swm_find(c, o);

    if (x != NULL)
        c->swm[x - c->swm] = c->swm[--c->n_swm];
}

int64_t
sn_corr_stream_wm_top(const struct sn_corr *c)
{
    int64_t top = c->wm;

    for (size_t i = 0; i < c->n_swm; i++)
        if (c->swm[i].wm > top)
            top = c->swm[i].wm;
    return top;
}

int64_t
sn_corr_key_wm(const struct sn_corr *c, const struct crule *cr,
               const struct ckey *k)
{
    const struct owm_entry *e;

    if (k->origin.src != 0 && c->n_swm > 0) {
        const struct swm_entry *x = swm_find(c, &k->origin);
        /* Not known yet: at least the key's newest event, which no
         * check of the key can be due at. */
        if (x != NULL)
            return x->wm != T_NONE      ? x->wm
                   : k->last_t != T_NONE ? k->last_t
                                         : c->wm;
    }
    if (k->origin.src == 0 || cr->n_owm == 0)
        return c->wm;
    e = NULL;
    if (k->owm_slot > 0 && k->owm_slot <= cr->n_owm &&
        same(&cr->owm[k->owm_slot - 1], &k->origin))
        e = &cr->owm[k->owm_slot - 1];
    else if (cr->owm_last < cr->n_owm &&
             same(&cr->owm[cr->owm_last], &k->origin))
        e = &cr->owm[cr->owm_last];
    if (e == NULL) {
        size_t i = find(cr, &k->origin);
        if (i < cr->n_owm)
            e = &cr->owm[i];
    }
    if (e == NULL || e->wm == T_NONE || e->idle_ticks >= OWM_IDLE_TICKS)
        return c->wm;
    /* advance() beyond the newest event (a quiet stream) moves every
     * partition on by as much. */
    return c->max_fed != T_NONE && c->wm > c->max_fed
               ? e->wm + (c->wm - c->max_fed)
               : e->wm;
}

void
sn_corr_owm_tick(struct sn_corr *c)
{
    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        for (size_t i = 0; i < cr->n_owm; i++)
            if (cr->owm[i].idle_ticks < OWM_IDLE_TICKS)
                cr->owm[i].idle_ticks++;
    }
}
