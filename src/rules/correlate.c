/*
 * The correlation engine: per-rule tables of group keys (hash + LRU list,
 * entries recycled from slabs so steady state allocates nothing), each
 * key holding a time-ordered ring, a small value set or rate buckets,
 * evidence slots and suppression/escalation state. Feeds are event-time
 * based with a global watermark; sn_corr_advance runs the time-driven
 * checks. Single-threaded by design (one engine per shard). This file
 * owns the engine's lifetime and the feed entry points (time, key,
 * dispatch); the parts live in siblings: correlate_key.c (key table, LRU,
 * eviction, per-key buffers), correlate_window.c (the kinds: threshold,
 * distinct, sequence, rate, new_value), correlate_time.c (time-driven
 * checks: absence, resolve, reclaiming), correlate_signal.c (evidence and
 * signals), correlate_ckpt.c (checkpoints), correlate_json.c (JSON),
 * correlate_origin.c (key origins, dropping by filter). The
 * semantics are pinned in docs/correlation.md.
 */
#include "rules/correlate.h"
#include "rules/limits.h"
#include "rules/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"

#define DEF_EVIDENCE_K 3
#define DEF_SUMMARY    160
/* Ten minutes between "detection degraded" signals of one rule: often
 * enough to notice, rare enough not to drown the real signals. */
#define DEF_DEGRADED_NS (600LL * 1000000000)

/* ---- feeding --------------------------------------------------------------
 */

static int64_t
event_time(const struct sn_corr_input *in, const struct sn_corr_spec *s,
           int64_t wm)
{
    if (in->time_ns > 0 &&
        (in->arrival_ns <= 0 || in->time_ns <= in->arrival_ns + s->lateness_ns))
        return in->time_ns;
    if (in->arrival_ns > 0)
        return in->arrival_ns;
    return wm == T_NONE ? 0 : wm;
}

static enum sn_status
feed_one(struct sn_corr *c, const struct sn_corr_input *in, uint32_t si,
         const uint64_t *hash_in)
{
    struct crule *cr = &c->rules[si];
    const struct sn_corr_spec *s = cr->spec;
    int64_t t = event_time(in, s, c->wm);
    struct owm_entry *ow;
    int64_t wm;
    uint32_t klen;
    uint64_t hash;
    struct ckey *k;

    if (in->key != NULL) {
        /* Routing built it from these very fields (sn_corr_route_keys). */
        if (hash_in == NULL || in->key_len > sizeof(c->kbuf))
            return SN_EINVAL;
        memcpy(c->kbuf, in->key, in->key_len);
        klen = (uint32_t)in->key_len;
        hash = *hash_in;
    } else if (!sn_corr_build_key(c, cr, in, &klen, &hash)) {
        cr->st.no_key++;
        return SN_OK;
    }
    if (hash_in != NULL && *hash_in != hash)
        return SN_EINVAL;
    if (c->cfg.n_shards > 1 &&
        sn_corr_shard(hash, c->cfg.n_shards) != c->cfg.shard)
        return SN_OK;
    /* Late against its own partition's newest event for this rule,
     * when it has one (correlate_owm.c), else against the engine's. */
    if (in->has_wm_origin)
        ow = in->wm_origin.src != 0 ? sn_corr_owm_get(cr, &in->wm_origin)
                                    : NULL;
    else
        ow = in->has_origin && in->origin.src != 0
                 ? sn_corr_owm_get(cr, &in->origin)
                 : NULL;
    wm = ow != NULL ? ow->wm : c->wm;
    if (wm != T_NONE && t < wm - s->lateness_ns) {
        cr->st.late_dropped++;
        return SN_OK;
    }
    if (ow != NULL) {
        if (t > ow->wm)
            ow->wm = t;
        ow->idle_ticks = 0;
    }
    if (t > c->wm)
        c->wm = t;
    if (t > c->max_fed)
        c->max_fed = t;
    c->feed_wm = ow != NULL ? ow->wm : c->wm;
    sn_corr_prime(c, cr);
    k = sn_corr_key_find(cr, hash, c->kbuf, klen);
    if (k == NULL) {
        k = sn_corr_key_new(c, cr, c->kbuf, klen, hash, t);
        if (k == NULL)
            return SN_ENOMEM;
    } else {
        /* The entry's other lines and its ring's oldest event are read
         * below, and with thousands of keys each is a cache miss: asked
         * for together now, they arrive together (the lines' groups are
         * in correlate_int.h; ring and rhead share line 1, which the LRU
         * touch reads anyway). */
        __builtin_prefetch((const char *)k + 64);
        __builtin_prefetch((const char *)k + 128);
        __builtin_prefetch((const char *)k + 192);
        sn_corr_lru_touch(c, cr, k);
        if (k->ring != NULL)
            __builtin_prefetch(k->ring + k->rhead);
    }
    k->touch_wm = c->wm;
    if (in->has_origin) {
        k->origin = in->origin;
        k->owm_slot = ow != NULL ? (uint32_t)(ow - cr->owm) + 1 : 0;
    }
    c->cur_origin = in->origin;
    c->cur_has_origin = in->has_origin;
    cr->st.events++;
    if (k->last_t == T_NONE || t > k->last_t)
        k->last_t = t;
    k->primed = false;
    if (t < k->reset_t && s->kind != SN_CORR_ABSENCE &&
        s->kind != SN_CORR_NEW_VALUE && s->kind != SN_CORR_RATE)
        sn_corr_feed_late(c, cr, k, t, in); /* a window fired after it */
    else
        sn_corr_feed_kind(c, cr, k, t, in);
    return SN_OK;
}

enum sn_status
sn_corr_feed(struct sn_corr *c, const struct sn_corr_input *in)
{
    uint32_t r = in->rule->index;
    enum sn_status rc = SN_OK;

    if (r >= c->set->rs->n_rules || &c->set->rs->rules[r] != in->rule)
        return SN_EINVAL;
    for (uint32_t i = 0; i < c->set->n_targets[r]; i++) {
        enum sn_status x = feed_one(c, in, c->set->targets[r][i], NULL);
        if (x != SN_OK)
            rc = x;
    }
    sn_corr_chain_drain(c);
    return rc;
}

enum sn_status
sn_corr_feed_target(struct sn_corr *c, const struct sn_corr_input *in,
                    const struct sn_corr_target *t)
{
    enum sn_status rc;

    if (t->spec >= c->n_rules)
        return SN_EINVAL;
    rc = feed_one(c, in, t->spec, &t->hash);
    sn_corr_chain_drain(c);
    return rc;
}

enum sn_status
sn_corr_feed_chained(struct sn_corr *c, const struct sn_corr_input *in,
                     const struct sn_corr_target *t)
{
    return feed_one(c, in, t->spec, &t->hash);
}

/* The routing key and hash of in for spec into kbuf; false when a
 * group-by field is missing. *stable: every value came from in->fields
 * or a header field (what a later feed of the same input reads too). */
static bool
route_key(const struct sn_corr_set *set, const struct sn_corr_input *in,
          uint32_t spec, char *kbuf, size_t *len, uint64_t *hash,
          bool *stable)
{
    const struct sn_corr_spec *s = &set->specs[spec];
    uint64_t h = s->id_hash;

    *len = 0;
    *stable = true;
    if (!(s->kind == SN_CORR_RATE && !s->per_key)) {
        for (size_t g = 0; g < s->n_group_by; g++) {
            struct sn_value v;
            struct sn_str txt;
            char tmp[64];
            bool found = false;
            for (size_t i = 0; i < in->n_fields && !found; i++)
                if (in->fields[i].name_len == s->group_by_lens[g] &&
                    (in->fields[i].name == s->group_by_names[g] ||
                     (in->fields[i].name[0] == s->group_by[g][0] &&
                      memcmp(in->fields[i].name, s->group_by[g],
                             s->group_by_lens[g]) == 0))) {
                    v = in->fields[i].v;
                    found = true;
                }
            if (!found) {
                if (in->ev == NULL ||
                    !in->ev->get(in->ev->ctx, s->group_by_ids[g],
                                 s->group_by[g], s->group_by_lens[g], &v))
                    return false;
                if (s->group_by_ids[g] >= SN_RF_COUNT_)
                    *stable = false;
            }
            if (!sn_value_text(&v, tmp, sizeof(tmp), &txt))
                return false;
            *len += sn_corr_key_put(kbuf + *len, txt);
        }
    }
    *hash = sn_corr_mix(sn_corr_fnv(h, kbuf, *len));
    return true;
}

bool
sn_corr_route_spec(const struct sn_corr_set *set,
                   const struct sn_corr_input *in, uint32_t spec,
                   uint64_t *hash)
{
    char kbuf[SN_CORR_MAX_GROUP_BY * (2 + SN_CORR_VALUE_MAX)];
    size_t len;
    bool stable;

    return route_key(set, in, spec, kbuf, &len, hash, &stable);
}

size_t
sn_corr_route_keys(const struct sn_corr_set *set,
                   const struct sn_corr_input *in, struct sn_corr_target *out,
                   size_t max, struct sn_buf *keys)
{
    uint32_t r = in->rule->index;
    size_t n = 0;

    if (r >= set->rs->n_rules)
        return 0;
    for (uint32_t i = 0; i < set->n_targets[r]; i++) {
        char kbuf[SN_CORR_MAX_GROUP_BY * (2 + SN_CORR_VALUE_MAX)];
        size_t len;
        uint64_t h;
        bool stable;

        if (!route_key(set, in, set->targets[r][i], kbuf, &len, &h, &stable))
            continue;
        if (n < max) {
            out[n].spec = set->targets[r][i];
            out[n].hash = h;
            out[n].has_key = false;
            if (stable && keys != NULL && keys->len <= UINT32_MAX - len &&
                sn_buf_append(keys, kbuf, len) == SN_OK) {
                out[n].has_key = true;
                out[n].key_off = (uint32_t)(keys->len - len);
                out[n].key_len = (uint32_t)len;
            }
        }
        n++;
    }
    return n;
}

size_t
sn_corr_route(const struct sn_corr_set *set, const struct sn_corr_input *in,
              struct sn_corr_target *out, size_t max)
{
    return sn_corr_route_keys(set, in, out, max, NULL);
}

/* ---- lifetime -------------------------------------------------------------
 */

struct sn_corr *
sn_corr_new(const struct sn_corr_set *set, const struct sn_corr_config *cfg)
{
    struct sn_corr *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->set = set;
    c->cfg = *cfg;
    if (c->cfg.max_keys == 0)
        c->cfg.max_keys = SN_CORR_DEFAULT_MAX_KEYS;
    if (c->cfg.max_events == 0)
        c->cfg.max_events = SN_CORR_DEFAULT_MAX_EVENTS;
    if (c->cfg.no_evidence)
        c->cfg.evidence_k = 0;
    else if (c->cfg.evidence_k == 0)
        c->cfg.evidence_k = DEF_EVIDENCE_K;
    if (c->cfg.evidence_k > SN_CORR_EVIDENCE_MAX)
        c->cfg.evidence_k = SN_CORR_EVIDENCE_MAX;
    if (c->cfg.summary_max == 0)
        c->cfg.summary_max = DEF_SUMMARY;
    if (c->cfg.summary_max > SN_CORR_SUMMARY_MAX)
        c->cfg.summary_max = SN_CORR_SUMMARY_MAX;
    if (c->cfg.degraded_interval_ns <= 0)
        c->cfg.degraded_interval_ns = DEF_DEGRADED_NS;
    c->slot_size = (sizeof(struct evslot) + c->cfg.summary_max + 7) & ~7u;
    /* A summary longer than a slot is cut anyway (a JSON one dropped). */
    sn_buf_init(&c->sum, 4 * SN_CORR_SUMMARY_MAX);
    c->wm = T_NONE;
    c->max_fed = T_NONE;
    c->feed_wm = T_NONE;
    c->n_rules = set->n_specs;
    c->rules = calloc(c->n_rules ? c->n_rules : 1, sizeof(*c->rules));
    if (c->rules == NULL) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->n_rules; i++) {
        struct crule *cr = &c->rules[i];
        const struct sn_corr_spec *s = &set->specs[i];
        int id;
        cr->spec = s;
        cr->id_hash =
            sn_corr_fnv(SN_CORR_FNV_INIT, s->rule->id, strlen(s->rule->id) + 1);
        for (size_t g = 0; g < s->n_group_by; g++) {
            id = sn_field_table_find(&set->rs->fields, s->group_by[g]);
            /* Unknown to the ruleset: an id no accessor switches on. */
            cr->field_ids[g] = id < 0 ? INT32_MAX : id;
            cr->field_lens[g] = strlen(s->group_by[g]);
        }
        id = s->field ? sn_field_table_find(&set->rs->fields, s->field) : -1;
        cr->value_field_id = id < 0 ? INT32_MAX : id;
        cr->value_field_len = s->field ? strlen(s->field) : 0;
        cr->max_keys = s->max_keys ? s->max_keys : c->cfg.max_keys;
        cr->max_events = s->max_events ? s->max_events : c->cfg.max_events;
        if ((s->kind == SN_CORR_THRESHOLD || s->kind == SN_CORR_DISTINCT) &&
            cr->max_events < s->count)
            cr->max_events = (uint32_t)s->count; /* a window must fit */
        if (s->kind == SN_CORR_SEQUENCE && cr->max_events < s->n_steps)
            cr->max_events = s->n_steps;
        cr->learn_start = T_NONE;
        cr->last_degraded = T_NONE;
    }
    return c;
}

void
sn_corr_free(struct sn_corr *c)
{
    if (c == NULL)
        return;
    for (size_t s = 0; s < c->n_slabs; s++) {
        size_t n = s + 1 == c->n_slabs ? c->slab_used : SN_CORR_SLAB_KEYS;
        for (size_t i = 0; i < n; i++)
            sn_corr_key_bufs_free(&c->slabs[s][i]);
        free(c->slabs[s]);
    }
    free(c->slabs);
    free(c->lru);
    sn_buf_fini(&c->sum);
    free(c->chain);
    free(c->due);
    for (size_t i = 0; i < c->n_rules; i++) {
        free(c->rules[i].tab);
        free(c->rules[i].owm);
        free(c->rules[i].owm_idx);
    }
    free(c->rules);
    free(c->swm);
    free(c);
}

int64_t
sn_corr_watermark(const struct sn_corr *c)
{
    return c->wm;
}

void
sn_corr_rule_stats(const struct sn_corr *c, size_t spec,
                   struct sn_corr_rule_stats *out)
{
    if (spec >= c->n_rules) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = c->rules[spec].st;
}
