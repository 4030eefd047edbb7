/*
 * Watermarks per rule and key origin (a Kafka partition): an event is
 * late only against the newest event of its own partition for that
 * rule, and a key's windows age by that time. One engine-wide watermark made a consumer
 * catching up on a backlog drop most events as late: partitions are
 * fetched one chunk at a time, so one partition's events can be minutes
 * behind another's (78% of a 1-million backlog were dropped in
 * bench/bench_kafka.sh). Kafka Streams keeps stream time per partition
 * for the same reason. Keys without an origin (syslog) use the engine's
 * watermark. A partition that has not fed the engine for
 * OWM_IDLE_TICKS advance() calls is idle: its keys follow the engine's
 * watermark again, so absence and resolve_after still fire on a
 * partition that went silent while others are busy.
 */
#include <stdlib.h>

#include "rules/correlate_int.h"

#define OWM_IDLE_TICKS 10

static bool
same(const struct owm_entry *e, const struct sn_corr_origin *o)
{
    return e->src == o->src && e->part == o->part;
}

struct owm_entry *
sn_corr_owm_get(struct crule *cr, const struct sn_corr_origin *o)
{
    struct owm_entry *grown;

    /* Feeds come in runs of one partition: the last hit first. */
    if (cr->owm_last < cr->n_owm && same(&cr->owm[cr->owm_last], o))
        return &cr->owm[cr->owm_last];
    for (size_t i = 0; i < cr->n_owm; i++)
        if (same(&cr->owm[i], o)) {
            cr->owm_last = i;
            return &cr->owm[i];
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
    return &cr->owm[cr->n_owm++];
}

int64_t
sn_corr_key_wm(const struct sn_corr *c, const struct crule *cr,
               const struct ckey *k)
{
    const struct owm_entry *e;

    if (k->origin.src == 0 || cr->n_owm == 0)
        return c->wm;
    e = NULL;
    if (k->owm_slot > 0 && k->owm_slot <= cr->n_owm &&
        same(&cr->owm[k->owm_slot - 1], &k->origin))
        e = &cr->owm[k->owm_slot - 1];
    else if (cr->owm_last < cr->n_owm &&
             same(&cr->owm[cr->owm_last], &k->origin))
        e = &cr->owm[cr->owm_last];
    for (size_t i = 0; e == NULL && i < cr->n_owm; i++)
        if (same(&cr->owm[i], &k->origin))
            e = &cr->owm[i];
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
