/*
 * Checkpoint and restore of a correlation engine: every key's window,
 * set, rate baseline, evidence and suppression state plus per-rule
 * counters, in a versioned little-endian byte format (docs/correlation.md
 * "Checkpoints"). Restore validates the whole buffer before changing
 * anything, matches rules by id and skips rules whose definition changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "rules/correlate.h"
#include "rules/correlate_int.h"
#include "rules/limits.h"

static const char magic[8] = { 'S', 'N', 'C', 'O', 'R', 'R', 0, 0 };
/* 2: each key's origin (partition and source names) after its bytes.
 * 3: each key's fired window (refire per_window) after its flags.
 * 4: the watermark of the window's firing or last update after it.
 * Version 1 buffers are still read (their keys have no origin), 2 (no
 * fired window open) and 3 (a restored window's update is due at once). */
#define CKPT_VERSION     4
#define CKPT_VERSION_MIN 1
#define N_STATS      (sizeof(struct sn_corr_rule_stats) / sizeof(uint64_t))

_Static_assert(sizeof(struct sn_corr_rule_stats) % sizeof(uint64_t) == 0,
               "stats must be a row of uint64_t");

/* ---- writing ------------------------------------------------------------- */

#define PUT(b, v, n)                                                           \
    do {                                                                       \
        if ((rc = sn_le_put((b), (uint64_t)(v), (n))) != SN_OK)                \
            return rc;                                                         \
    } while (0)
#define PUTB(b, p, n)                                                          \
    do {                                                                       \
        if ((rc = sn_buf_append((b), (p), (n))) != SN_OK)                      \
            return rc;                                                         \
    } while (0)

static uint64_t
dbits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    return u;
}

static enum sn_status
put_slot(const struct evslot *sl, struct sn_buf *b)
{
    enum sn_status rc;

    PUT(b, sl->used, 1);
    if (!sl->used)
        return SN_OK;
    PUT(b, sl->t, 8);
    PUT(b, sl->seq, 8);
    PUT(b, sl->is_json, 1);
    PUT(b, sl->len, 4);
    PUTB(b, (const char *)(sl + 1), sl->len);
    return SN_OK;
}

static enum sn_status
put_key(const struct sn_corr *c, const struct crule *cr, const struct ckey *k,
        struct sn_buf *b)
{
    bool seq = cr->spec->kind == SN_CORR_SEQUENCE;
    size_t kk = c->cfg.evidence_k;
    enum sn_status rc;
    uint32_t n_set = 0;

    PUT(b, k->hash, 8);
    PUT(b, k->klen, 4);
    PUTB(b, k->kb, k->klen);
    {
        /* By name: source ids are per process. */
        const char *in = "", *top = "";
        if (k->origin.src != 0)
            sn_corr_source_names(c->cfg.sources, k->origin.src, &in, &top);
        PUT(b, (uint32_t)k->origin.part, 4);
        PUT(b, strlen(in), 2);
        PUTB(b, in, strlen(in));
        PUT(b, strlen(top), 2);
        PUTB(b, top, strlen(top));
    }
    PUT(b, k->last_t, 8);
    PUT(b, k->touch_wm, 8);
    PUT(b, k->reset_t, 8);
    PUT(b, k->last_signal, 8);
    PUT(b, k->hits, 8);
    PUT(b, k->suppressed, 8);
    PUT(b, k->n_seen, 8);
    PUT(b, k->firing | k->absent << 1 | k->has_signal << 2, 1);
    PUT(b, k->fired_until, 8);
    PUT(b, k->absorbed, 8);
    PUT(b, k->absorbed_first, 8);
    PUT(b, k->absorbed_last, 8);
    PUT(b, k->upd_wm, 8);
    PUT(b, k->rn, 4);
    for (uint32_t i = 0; i < k->rn; i++) {
        const struct rent *re = sn_corr_at(k, i);
        PUT(b, re->t, 8);
        PUT(b, re->tag, 4);
        if (seq && (rc = put_slot(sn_corr_slot(c, k, re->slot), b)) != SN_OK)
            return rc;
    }
    PUT(b, kk, 4);
    PUT(b, k->n_first, 4);
    PUT(b, k->n_last, 8);
    for (size_t i = 0; i < 2 * kk; i++) {
        struct evslot none = { 0 };
        const struct evslot *sl = k->ev != NULL ? sn_corr_slot(c, k, i) : &none;
        if ((rc = put_slot(sl, b)) != SN_OK)
            return rc;
    }
    for (uint32_t i = 0; k->set && i < k->set_cap; i++)
        n_set += k->set[i].h != 0;
    PUT(b, n_set, 4);
    /* In hash order, so equal state gives equal bytes whatever the table
     * layout (which depends on insertion order). */
    {
        uint64_t prev = 0;
        for (uint32_t done = 0; done < n_set; done++) {
            const struct dval *best = NULL;
            for (uint32_t i = 0; i < k->set_cap; i++)
                if (k->set[i].h > prev && (!best || k->set[i].h < best->h))
                    best = &k->set[i];
            PUT(b, best->h, 8);
            PUT(b, best->t, 8);
            prev = best->h;
        }
    }
    PUT(b, k->rb_cur, 8);
    PUT(b, k->rb_start, 8);
    PUT(b, k->fired_b, 8);
    for (size_t i = 0; i < SN_CORR_RATE_OPEN_MAX; i++)
        PUT(b, k->rcount[i], 4);
    PUT(b, dbits(k->mean), 8);
    PUT(b, dbits(k->var), 8);
    PUT(b, k->n_closed, 8);
    return SN_OK;
}

/* Counts are written as 0 and set once known (sn_le_patch32): one pass
 * over the keys (a partition's checkpoint runs every commit interval,
 * under the shard's lock, and the walk over every key is its cost).
 * keys_only: leave out the rules without a wanted key (a partition's
 * checkpoint holds a few rules' keys, not every rule's header). */
static enum sn_status
checkpoint(const struct sn_corr *c, sn_corr_want_fn want, void *arg,
           struct sn_buf *b, bool keys_only)
{
    enum sn_status rc;
    uint32_t n_rules = 0;
    size_t at_rules;

    PUTB(b, magic, sizeof(magic));
    PUT(b, CKPT_VERSION, 4);
    PUT(b, c->wm, 8);
    at_rules = b->len;
    PUT(b, 0, 4);
    for (size_t r = 0; r < c->n_rules; r++) {
        const struct crule *cr = &c->rules[r];
        const char *id = cr->spec->rule->id;
        const uint64_t *st = (const uint64_t *)(const void *)&cr->st;
        size_t at_rule = b->len, at_n;
        uint32_t n = 0;

        PUT(b, strlen(id), 4);
        PUTB(b, id, strlen(id));
        PUT(b, cr->spec->fingerprint, 8);
        PUT(b, cr->spec->kind, 1);
        PUT(b, cr->learn_start, 8);
        PUT(b, cr->last_degraded, 8);
        PUT(b, cr->primed, 1);
        PUT(b, cr->deg_keys_reported, 8);
        PUT(b, cr->deg_events_reported, 8);
        PUT(b, N_STATS, 4);
        for (size_t i = 0; i < N_STATS; i++)
            PUT(b, st[i], 8);
        at_n = b->len;
        PUT(b, 0, 4);
        /* Oldest first, so restoring in order rebuilds the LRU list. */
        for (const struct ckey *k = sn_corr_lru_tail(c, cr); k;
             k = sn_corr_lru_newer(c, k)) {
            if (want != NULL && !want(arg, cr->spec, k->hash, &k->origin))
                continue;
            if ((rc = put_key(c, cr, k, b)) != SN_OK)
                return rc;
            n++;
        }
        if (keys_only && n == 0) {
            b->len = at_rule;
            continue;
        }
        sn_le_patch32(b, at_n, n);
        n_rules++;
    }
    sn_le_patch32(b, at_rules, n_rules);
    return SN_OK;
}

enum sn_status
sn_corr_checkpoint(const struct sn_corr *c, sn_corr_want_fn want, void *arg,
                   struct sn_buf *b)
{
    return checkpoint(c, want, arg, b, false);
}

enum sn_status
sn_corr_checkpoint_keys(const struct sn_corr *c, sn_corr_want_fn want,
                        void *arg, struct sn_buf *b)
{
    return checkpoint(c, want, arg, b, true);
}

/* ---- reading --------------------------------------------------------------
 */

static double
getd(struct sn_le_rd *r)
{
    uint64_t u = sn_le_get(r, 8);
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Read one slot; store it into sl when sl is not NULL. */
static void
get_slot(const struct sn_corr *c, struct sn_le_rd *r, struct evslot *sl)
{
    uint8_t used = (uint8_t)sn_le_get(r, 1);
    int64_t t;
    uint64_t seq;
    uint8_t js;
    uint32_t len;
    const unsigned char *p;

    if (!used) {
        if (sl)
            sl->used = 0;
        return;
    }
    t = (int64_t)sn_le_get(r, 8);
    seq = sn_le_get(r, 8);
    js = (uint8_t)sn_le_get(r, 1);
    len = (uint32_t)sn_le_get(r, 4);
    if (len > SN_CORR_SUMMARY_MAX)
        r->failed = true;
    p = sn_le_take(r, len);
    if (sl == NULL || r->failed)
        return;
    if (len > c->cfg.summary_max)
        len = js ? 0 : (uint32_t)c->cfg.summary_max;
    sl->t = t;
    sl->seq = seq;
    sl->is_json = js && len > 0;
    sl->len = len;
    sl->used = 1;
    memcpy((char *)(sl + 1), p, len);
}

/* How a buffer is restored. */
struct how {
    bool apply;     /* false: only check it */
    bool keys_only; /* sn_corr_restore_keys */
    uint32_t version;
    const struct sn_corr_origin *tag; /* every key's origin, or NULL */
};

/* A key's origin as written (version 2): the partition and the names. */
struct origin_rd {
    int32_t part;
    uint32_t il, tl;
    const unsigned char *in, *top;
};

static void
get_origin(struct sn_le_rd *r, uint32_t version, struct origin_rd *o)
{
    memset(o, 0, sizeof(*o));
    o->part = -1;
    if (version < 2)
        return;
    o->part = (int32_t)(uint32_t)sn_le_get(r, 4);
    o->il = (uint32_t)sn_le_get(r, 2);
    if (o->il > SN_CORR_CKPT_NAME_MAX)
        r->failed = true;
    o->in = sn_le_take(r, o->il);
    o->tl = (uint32_t)sn_le_get(r, 2);
    if (o->tl > SN_CORR_CKPT_NAME_MAX)
        r->failed = true;
    o->top = sn_le_take(r, o->tl);
}

/* The origin in this process: the names interned in the engine's table. */
static struct sn_corr_origin
origin_of(struct sn_corr *c, const struct origin_rd *o)
{
    char in[SN_CORR_CKPT_NAME_MAX + 1], top[SN_CORR_CKPT_NAME_MAX + 1];
    struct sn_corr_origin x = SN_CORR_ORIGIN_NONE;

    if (o->il == 0 || c->cfg.sources == NULL)
        return x;
    memcpy(in, o->in, o->il);
    in[o->il] = '\0';
    memcpy(top, o->top, o->tl);
    top[o->tl] = '\0';
    x.src = sn_corr_source_id(c->cfg.sources, in, top);
    x.part = x.src != 0 ? o->part : -1;
    return x;
}

/* Read one key; with apply, replace any key of the same identity. */
static enum sn_status
get_key(struct sn_corr *c, struct crule *cr, struct sn_le_rd *r,
        const struct how *how, bool seq)
{
    uint64_t hash = sn_le_get(r, 8);
    uint32_t klen = (uint32_t)sn_le_get(r, 4), rn, kk, n_set;
    const unsigned char *kb;
    struct ckey *k = NULL, *into = NULL, tmp;
    struct origin_rd o;
    bool ev_ok;

    if (klen > SN_CORR_MAX_GROUP_BY * (2 + SN_CORR_VALUE_MAX))
        r->failed = true;
    kb = sn_le_take(r, klen);
    get_origin(r, how->version, &o);
    if (r->failed)
        return SN_EINVAL;
    if (how->apply && cr != NULL) {
        struct ckey *old = sn_corr_key_find(cr, hash, (const char *)kb, klen);
        /* A partition's key arriving where the key is already counted
         * (from other partitions) adds to it (correlate_merge.c); a
         * whole-engine restore replaces it. */
        struct sn_corr_origin no =
            how->tag != NULL ? *how->tag : origin_of(c, &o);
        /* ... unless it is the same partition's (restored again): that
         * copy is replaced, never added twice. */
        bool same_part = old != NULL && old->origin.src == no.src &&
                         old->origin.part == no.part;

        if (old != NULL && how->keys_only && !same_part &&
            sn_corr_mergeable(cr))
            into = old;
        else if (old != NULL)
            sn_corr_key_release(c, cr, old);
        if ((k = sn_corr_key_alloc(c)) == NULL)
            return SN_ENOMEM;
        if (!sn_corr_key_set_bytes(k, (const char *)kb, klen))
            goto nomem;
        k->hash = hash;
        k->origin = no;
        k->owm_slot = 0;
    } else {
        memset(&tmp, 0, sizeof(tmp));
        k = NULL;
    }
    {
        struct ckey *w = k ? k : &tmp;
        uint8_t fl;
        w->last_t = (int64_t)sn_le_get(r, 8);
        w->touch_wm = (int64_t)sn_le_get(r, 8);
        w->reset_t = (int64_t)sn_le_get(r, 8);
        w->last_signal = (int64_t)sn_le_get(r, 8);
        w->hits = sn_le_get(r, 8);
        w->suppressed = sn_le_get(r, 8);
        w->n_seen = sn_le_get(r, 8);
        fl = (uint8_t)sn_le_get(r, 1);
        w->firing = fl & 1;
        w->absent = (fl >> 1) & 1;
        w->has_signal = (fl >> 2) & 1;
        w->fired_until = T_NONE;
        w->absorbed = 0;
        if (how->version >= 3) {
            w->fired_until = (int64_t)sn_le_get(r, 8);
            w->absorbed = sn_le_get(r, 8);
            w->absorbed_first = (int64_t)sn_le_get(r, 8);
            w->absorbed_last = (int64_t)sn_le_get(r, 8);
        }
        w->upd_wm = T_NONE;
        if (how->version >= 4)
            w->upd_wm = (int64_t)sn_le_get(r, 8);
    }
    rn = (uint32_t)sn_le_get(r, 4);
    if (rn > 100000000)
        r->failed = true;
    if (k && !r->failed && rn > 0 &&
        sn_corr_ring_reserve(c, cr, k, rn) != SN_OK)
        goto nomem;
    for (uint32_t i = 0; i < rn && !r->failed; i++) {
        int64_t t = (int64_t)sn_le_get(r, 8);
        uint32_t tag = (uint32_t)sn_le_get(r, 4), slot = 0;
        if (seq) {
            if (k) {
                slot = k->sfree[--k->n_sfree];
                get_slot(c, r, sn_corr_slot(c, k, slot));
            } else {
                get_slot(c, r, NULL);
            }
        }
        if (k) {
            struct rent *re = &k->ring[(k->rhead + k->rn++) & (k->rcap - 1)];
            re->t = t;
            re->tag = tag;
            re->slot = slot;
            if (!seq && tag > 1)
                k->weighted = true; /* a threshold entry of weight > 1 */
        }
    }
    kk = (uint32_t)sn_le_get(r, 4);
    if (kk > SN_CORR_EVIDENCE_MAX)
        r->failed = true;
    /* Evidence survives only between engines with the same K. */
    ev_ok = k != NULL && kk == c->cfg.evidence_k && kk > 0 &&
            sn_corr_ev_reserve(c, k, 2 * kk + (seq ? k->rcap : 0)) == SN_OK;
    {
        uint32_t nf = (uint32_t)sn_le_get(r, 4);
        uint64_t nl = sn_le_get(r, 8);
        if (ev_ok) {
            k->n_first = nf > kk ? kk : nf;
            k->n_last = nl;
        }
    }
    for (uint32_t i = 0; i < 2 * kk && !r->failed; i++)
        get_slot(c, r, ev_ok ? sn_corr_slot(c, k, i) : NULL);
    n_set = (uint32_t)sn_le_get(r, 4);
    if (n_set > 100000000)
        r->failed = true;
    if (k && !r->failed && n_set > 0 &&
        sn_corr_set_reserve(
            k, n_set > cr->max_events ? n_set : cr->max_events) != SN_OK)
        goto nomem;
    for (uint32_t i = 0; i < n_set && !r->failed; i++) {
        uint64_t h = sn_le_get(r, 8);
        int64_t t = (int64_t)sn_le_get(r, 8);
        if (h == 0)
            r->failed = true;
        else if (k)
            sn_corr_set_put(k, h, t);
    }
    {
        struct ckey *w = k ? k : &tmp;
        w->rb_cur = (int64_t)sn_le_get(r, 8);
        w->rb_start = (int64_t)sn_le_get(r, 8);
        w->fired_b = (int64_t)sn_le_get(r, 8);
        for (size_t i = 0; i < SN_CORR_RATE_OPEN_MAX; i++)
            w->rcount[i] = (uint32_t)sn_le_get(r, 4);
        w->mean = getd(r);
        w->var = getd(r);
        w->n_closed = sn_le_get(r, 8);
    }
    if (r->failed) {
        if (k) {
            k->hnext = c->free_keys;
            c->free_keys = k;
        }
        return SN_EINVAL;
    }
    if (k && into != NULL) {
        enum sn_status rc = sn_corr_key_merge(c, cr, into, k);
        /* The entry was only a reader's buffer: back to the pool. */
        k->hnext = c->free_keys;
        c->free_keys = k;
        return rc;
    }
    if (k && sn_corr_key_insert(c, cr, k) != SN_OK)
        goto nomem;
    if (k && k->fired_until != T_NONE && k->absorbed > 0)
        sn_corr_pending_add(cr, k);
    return SN_OK;
nomem:
    k->hnext = c->free_keys;
    c->free_keys = k;
    return SN_ENOMEM;
}

static enum sn_status
restore(struct sn_corr *c, const void *data, size_t len, struct how *how)
{
    struct sn_le_rd r;
    const unsigned char *m;
    uint32_t n_rules;
    int64_t wm;
    enum sn_status rc;
    bool apply = how->apply;

    sn_le_rd_init(&r, data, len);
    m = sn_le_take(&r, sizeof(magic));
    if (m == NULL || memcmp(m, magic, sizeof(magic)) != 0)
        return SN_EINVAL;
    how->version = (uint32_t)sn_le_get(&r, 4);
    if (how->version < CKPT_VERSION_MIN || how->version > CKPT_VERSION)
        return SN_EINVAL;
    wm = (int64_t)sn_le_get(&r, 8);
    n_rules = (uint32_t)sn_le_get(&r, 4);
    /* Moving keys into a running engine leaves its watermark alone: the
     * other engine's may be ahead and would make this one's events late. */
    if (apply && !how->keys_only && (c->wm == INT64_MIN || wm > c->wm))
        c->wm = wm;
    for (uint32_t i = 0; i < n_rules && !r.failed; i++) {
        uint32_t idlen = (uint32_t)sn_le_get(&r, 4), n_st, n_keys;
        const unsigned char *id = sn_le_take(&r, idlen);
        uint64_t fp = sn_le_get(&r, 8);
        uint8_t kind = (uint8_t)sn_le_get(&r, 1);
        struct crule *cr = NULL;
        uint64_t st[N_STATS];
        int64_t learn, lastdeg;
        uint8_t primed;
        uint64_t dk, de;

        if (r.failed)
            break;
        for (size_t j = 0; j < c->n_rules; j++) {
            const char *rid = c->rules[j].spec->rule->id;
            if (strlen(rid) == idlen && memcmp(rid, id, idlen) == 0 &&
                c->rules[j].spec->fingerprint == fp &&
                c->rules[j].spec->kind == kind)
                cr = &c->rules[j];
        }
        learn = (int64_t)sn_le_get(&r, 8);
        lastdeg = (int64_t)sn_le_get(&r, 8);
        primed = (uint8_t)sn_le_get(&r, 1);
        dk = sn_le_get(&r, 8);
        de = sn_le_get(&r, 8);
        n_st = (uint32_t)sn_le_get(&r, 4);
        if (n_st > 1024)
            r.failed = true;
        memset(st, 0, sizeof(st));
        for (uint32_t j = 0; j < n_st && !r.failed; j++) {
            uint64_t v = sn_le_get(&r, 8);
            if (j < N_STATS)
                st[j] = v;
        }
        if (apply && cr != NULL && how->keys_only) {
            /* new_value: the rule has been learning since the earlier
             * start; the engine's own counters and reports stay. */
            if (learn != T_NONE &&
                (cr->learn_start == T_NONE || learn < cr->learn_start))
                cr->learn_start = learn;
        } else if (apply && cr != NULL) {
            uint64_t keys = cr->st.keys;
            uint64_t *sum = (uint64_t *)&cr->st;

            cr->learn_start = learn;
            cr->last_degraded = lastdeg;
            cr->primed = cr->primed || primed;
            cr->deg_keys_reported = dk;
            cr->deg_events_reported = de;
            /* Added, not copied: several saved shards are merged into one
             * engine (det_rules), and their counters are each a part. */
            for (size_t j = 0; j < N_STATS; j++)
                sum[j] += st[j];
            cr->st.keys = keys;
        }
        n_keys = (uint32_t)sn_le_get(&r, 4);
        for (uint32_t j = 0; j < n_keys && !r.failed; j++)
            if ((rc = get_key(c, cr, &r, how, kind == SN_CORR_SEQUENCE)) !=
                SN_OK)
                return rc;
        if (apply && cr != NULL && n_keys > 0)
            sn_corr_lru_sort(c, cr);
    }
    if (r.failed || r.p != r.end)
        return SN_EINVAL;
    return SN_OK;
}

static enum sn_status
restore_twice(struct sn_corr *c, const void *data, size_t len, bool keys_only,
              const struct sn_corr_origin *tag)
{
    struct how how = { false, keys_only, 0, tag };
    enum sn_status rc = restore(c, data, len, &how);

    if (rc != SN_OK)
        return rc;
    how.apply = true;
    return restore(c, data, len, &how);
}

enum sn_status
sn_corr_restore(struct sn_corr *c, const void *data, size_t len)
{
    return restore_twice(c, data, len, false, NULL);
}

enum sn_status
sn_corr_restore_keys(struct sn_corr *c, const void *data, size_t len,
                     const struct sn_corr_origin *tag)
{
    enum sn_status rc = restore_twice(c, data, len, true, tag);

    /* Merged keys may have fired: their sequences are fed now. */
    sn_corr_chain_drain(c);
    return rc;
}

void
sn_corr_checkpoint_check(const void *data, size_t len, char *err,
                         size_t err_len)
{
    struct sn_le_rd r;
    const unsigned char *m;
    uint32_t v;

    sn_le_rd_init(&r, data, len);
    m = sn_le_take(&r, sizeof(magic));
    if (m == NULL || memcmp(m, magic, sizeof(magic)) != 0) {
        snprintf(err, err_len, "not a correlation checkpoint");
        return;
    }
    v = (uint32_t)sn_le_get(&r, 4);
    if (r.failed)
        snprintf(err, err_len, "truncated correlation checkpoint");
    else if (v > CKPT_VERSION)
        snprintf(err, err_len,
                 "correlation checkpoint format %u is newer than this "
                 "build reads (%d to %d)",
                 v, CKPT_VERSION_MIN, CKPT_VERSION);
    else if (v < CKPT_VERSION_MIN)
        snprintf(err, err_len, "unknown correlation checkpoint format %u", v);
    else if (err_len > 0)
        err[0] = '\0';
}

void
sn_corr_clear_stats(struct sn_corr *c)
{
    for (size_t i = 0; i < c->n_rules; i++) {
        uint64_t keys = c->rules[i].st.keys;

        memset(&c->rules[i].st, 0, sizeof(c->rules[i].st));
        c->rules[i].st.keys = keys;
    }
}
