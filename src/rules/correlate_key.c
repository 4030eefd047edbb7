/*
 * The correlation engine's key store: reading group-by fields and encoding
 * keys, the per-rule hash table with its LRU list, the slab-backed entry
 * pool (recycled entries keep their buffers, so steady state allocates
 * nothing), eviction at max_keys, and the per-key buffers (time-ordered
 * ring, value set, evidence slots). What the kinds do with them is in
 * correlate_window.c; see docs/correlation.md.
 */
#include "rules/correlate.h"
#include "rules/value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"

/* ---- reading fields ----------------------------------------------------- */

bool
sn_corr_get_field(const struct sn_corr_input *in, const char *name, size_t len,
                  int id, struct sn_value *v)
{
    for (size_t i = 0; i < in->n_fields; i++)
        if (in->fields[i].name_len == len &&
            memcmp(in->fields[i].name, name, len) == 0) {
            *v = in->fields[i].v;
            return true;
        }
    if (in->ev == NULL)
        return false;
    return in->ev->get(in->ev->ctx, id, name, len, v);
}


/* Append one key value: length-prefixed, long values cut to a prefix and
 * a hash of the whole (SN_CORR_VALUE_MAX). */
size_t
sn_corr_key_put(char *p, struct sn_str s)
{
    if (s.len <= SN_CORR_VALUE_MAX) {
        p[0] = (char)(s.len & 0xff);
        p[1] = (char)(s.len >> 8);
        memcpy(p + 2, s.ptr, s.len);
        return 2 + s.len;
    }
    {
        char tail[24];
        size_t keep = SN_CORR_VALUE_MAX - 20;
        snprintf(tail, sizeof(tail), "~%016llx~",
                 (unsigned long long)sn_corr_mix(
                     sn_corr_fnv(SN_CORR_FNV_INIT, s.ptr, s.len)));
        p[0] = (char)SN_CORR_VALUE_MAX;
        p[1] = 0;
        memcpy(p + 2, s.ptr, keep);
        memcpy(p + 2 + keep, tail, 18);
        memset(p + 2 + keep + 18, '~', SN_CORR_VALUE_MAX - keep - 18);
        return 2 + SN_CORR_VALUE_MAX;
    }
}

/* Build the key of in for cr into c->kbuf; false when a field is missing. */
bool
sn_corr_build_key(struct sn_corr *c, const struct crule *cr,
                  const struct sn_corr_input *in, uint32_t *klen,
                  uint64_t *hash)
{
    const struct sn_corr_spec *s = cr->spec;
    size_t n = 0;

    if (!(s->kind == SN_CORR_RATE && !s->per_key)) {
        for (size_t i = 0; i < s->n_group_by; i++) {
            struct sn_value v;
            struct sn_str txt;
            char tmp[64];
            if (!sn_corr_get_field(in, s->group_by[i], cr->field_lens[i],
                                   cr->field_ids[i], &v) ||
                !sn_value_text(&v, tmp, sizeof(tmp), &txt))
                return false;
            n += sn_corr_key_put(c->kbuf + n, txt);
        }
    }
    *klen = (uint32_t)n;
    *hash = sn_corr_mix(sn_corr_fnv(cr->id_hash, c->kbuf, n));
    return true;
}

/* Decode a key into c->key_values. */
size_t
sn_corr_decode_key(struct sn_corr *c, const struct ckey *k)
{
    size_t n = 0;

    for (uint32_t off = 0; off + 2 <= k->klen && n < SN_CORR_MAX_GROUP_BY;) {
        size_t len = (unsigned char)k->kb[off] |
                     ((size_t)(unsigned char)k->kb[off + 1] << 8);
        c->key_values[n].ptr = k->kb + off + 2;
        c->key_values[n].len = len;
        n++;
        off += 2 + (uint32_t)len;
    }
    return n;
}

/* ---- key table, LRU and the entry pool ---------------------------------- */

struct ckey *
sn_corr_key_alloc(struct sn_corr *c)
{
    struct ckey *k = c->free_keys;

    if (k != NULL) {
        c->free_keys = k->hnext;
    } else {
        if (c->n_slabs == 0 || c->slab_used == SN_CORR_SLAB_KEYS) {
            if (c->n_slabs == c->slab_cap) {
                size_t cap = c->slab_cap ? c->slab_cap * 2 : 16;
                struct ckey **p = realloc(c->slabs, cap * sizeof(*p));
                struct lru_link *l;
                if (p == NULL)
                    return NULL;
                c->slabs = p;
                l = realloc(c->lru, cap * SN_CORR_SLAB_KEYS * sizeof(*l));
                if (l == NULL)
                    return NULL;
                c->lru = l;
                c->slab_cap = cap;
            }
            /* Aligned to a cache line: struct ckey groups its fields
             * by line (correlate_int.h). */
            c->slabs[c->n_slabs] = aligned_alloc(
                _Alignof(struct ckey), SN_CORR_SLAB_KEYS * sizeof(struct ckey));
            if (c->slabs[c->n_slabs] == NULL)
                return NULL;
            memset(c->slabs[c->n_slabs], 0,
                   SN_CORR_SLAB_KEYS * sizeof(struct ckey));
            c->n_slabs++;
            c->slab_used = 0;
        }
        k = &c->slabs[c->n_slabs - 1][c->slab_used];
        k->ref =
            (uint32_t)((c->n_slabs - 1) * SN_CORR_SLAB_KEYS + c->slab_used + 1);
        c->slab_used++;
    }
    c->lru[k->ref - 1].prev = c->lru[k->ref - 1].next = 0;
    /* Keep the buffers (and their capacities) of a recycled entry. */
    {
        char *kb = k->kb;
        uint32_t kcap = k->kcap, rcap = k->rcap;
        struct rent *ring = k->ring;
        unsigned char *ev = k->ev;
        size_t ev_cap = k->ev_cap;
        uint32_t *sfree = k->sfree, scap = k->scap;
        struct dval *set = k->set;
        uint32_t set_cap = k->set_cap, ref = k->ref;
        memset(k, 0, sizeof(*k));
        k->ref = ref;
        k->kb = kb, k->kcap = kcap, k->ring = ring, k->rcap = rcap;
        k->ev = ev, k->ev_cap = ev_cap, k->sfree = sfree, k->scap = scap;
        k->set = set, k->set_cap = set_cap;
    }
    if (k->set != NULL)
        memset(k->set, 0, k->set_cap * sizeof(*k->set));
    if (k->ev != NULL)
        memset(k->ev, 0, k->ev_cap);
    /* Every sequence summary slot is free again. */
    for (uint32_t i = 0; i < k->scap; i++)
        k->sfree[i] = (uint32_t)(2 * c->cfg.evidence_k) + k->scap - 1 - i;
    k->n_sfree = k->scap;
    k->last_t = T_NONE;
    k->reset_t = T_NONE;
    k->fired_until = T_NONE;
    k->last_signal = T_NONE;
    k->rb_cur = T_NONE;
    k->fired_b = T_NONE;
    k->origin = SN_CORR_ORIGIN_NONE;
    k->owm_slot = 0;
    return k;
}

void
sn_corr_lru_unlink(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    struct lru_link *l = &c->lru[k->ref - 1];

    if (l->prev)
        c->lru[l->prev - 1].next = l->next;
    else
        cr->lru_head = l->next;
    if (l->next)
        c->lru[l->next - 1].prev = l->prev;
    else
        cr->lru_tail = l->prev;
    l->prev = l->next = 0;
}

void
sn_corr_lru_push_head(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    struct lru_link *l = &c->lru[k->ref - 1];

    l->prev = 0;
    l->next = cr->lru_head;
    if (cr->lru_head)
        c->lru[cr->lru_head - 1].prev = k->ref;
    cr->lru_head = k->ref;
    if (cr->lru_tail == 0)
        cr->lru_tail = k->ref;
}

void
sn_corr_lru_touch(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    if (cr->lru_head == k->ref)
        return; /* unlinking and pushing it would give the same list */
    sn_corr_lru_unlink(c, cr, k);
    sn_corr_lru_push_head(c, cr, k);
}

/* Merge two lists linked by next, newest touch first; on ties a's keys
 * stay ahead (the sort is stable). */
static uint32_t
lru_merge(struct sn_corr *c, uint32_t a, uint32_t b)
{
    uint32_t head = 0, *t = &head;

    while (a != 0 && b != 0) {
        if (sn_corr_key_at(c, b)->touch_wm > sn_corr_key_at(c, a)->touch_wm) {
            *t = b;
            b = c->lru[b - 1].next;
        } else {
            *t = a;
            a = c->lru[a - 1].next;
        }
        t = &c->lru[*t - 1].next;
    }
    *t = a != 0 ? a : b;
    return head;
}

/* Keys restored from another engine were pushed at the head whatever
 * their touch time; the time-driven walk needs the list ordered by it. A
 * stable natural merge sort: the list is two sorted runs after a restore
 * (the restored keys, in their engine's order, and the keys already
 * there), so it costs one linear merge under the shard's lock. */
void
sn_corr_lru_sort(struct sn_corr *c, struct crule *cr)
{
    uint32_t runs[64] = { 0 }, k = cr->lru_head, list, prev = 0;

    /* runs[i] holds a sorted part of the list; the parts in runs[] come
     * before the run being pushed, so they merge in as the first list. */
    while (k != 0) {
        uint32_t end = k, next;
        size_t i = 0;

        while (c->lru[end - 1].next != 0 &&
               sn_corr_key_at(c, c->lru[end - 1].next)->touch_wm <=
                   sn_corr_key_at(c, end)->touch_wm)
            end = c->lru[end - 1].next;
        next = c->lru[end - 1].next;
        c->lru[end - 1].next = 0;
        for (list = k; i < 63 && runs[i] != 0; i++) {
            list = lru_merge(c, runs[i], list);
            runs[i] = 0;
        }
        runs[i] = runs[i] != 0 ? lru_merge(c, runs[i], list) : list;
        k = next;
    }
    list = 0;
    for (size_t i = 0; i < 64; i++)
        if (runs[i] != 0)
            list = list == 0 ? runs[i] : lru_merge(c, runs[i], list);
    cr->lru_head = list;
    for (k = list; k != 0; prev = k, k = c->lru[k - 1].next)
        c->lru[k - 1].prev = prev;
    cr->lru_tail = prev;
}

/* Unlink k from its rule and put the entry on the free list. */
void
sn_corr_key_release(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    struct ckey **pp = &cr->tab[k->hash & (cr->tab_cap - 1)];

    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    sn_corr_lru_unlink(c, cr, k);
    sn_corr_pending_del(cr, k);
    cr->n_keys--;
    cr->st.keys = cr->n_keys;
    k->hnext = c->free_keys;
    c->free_keys = k;
}

struct ckey *
sn_corr_key_find(struct crule *cr, uint64_t hash, const char *kb, uint32_t klen)
{
    if (cr->tab == NULL)
        return NULL;
    for (struct ckey *k = cr->tab[hash & (cr->tab_cap - 1)]; k; k = k->hnext)
        if (k->hash == hash && k->klen == klen && memcmp(k->kb, kb, klen) == 0)
            return k;
    return NULL;
}

static enum sn_status
tab_grow(struct crule *cr)
{
    size_t cap = cr->tab_cap ? cr->tab_cap * 2 : 64;
    struct ckey **tab = calloc(cap, sizeof(*tab));

    if (tab == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < cr->tab_cap; i++) {
        struct ckey *k = cr->tab[i], *next;
        for (; k; k = next) {
            next = k->hnext;
            k->hnext = tab[k->hash & (cap - 1)];
            tab[k->hash & (cap - 1)] = k;
        }
    }
    free(cr->tab);
    cr->tab = tab;
    cr->tab_cap = cap;
    return SN_OK;
}

/* Link a filled entry (hash, kb set) into cr at the LRU head. */
enum sn_status
sn_corr_key_insert(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    if (cr->n_keys + 1 > cr->tab_cap && tab_grow(cr) != SN_OK)
        return SN_ENOMEM;
    k->hnext = cr->tab[k->hash & (cr->tab_cap - 1)];
    cr->tab[k->hash & (cr->tab_cap - 1)] = k;
    sn_corr_lru_push_head(c, cr, k);
    cr->n_keys++;
    cr->st.keys = cr->n_keys;
    return SN_OK;
}

/* ---- per-key buffers ------------------------------------------------------
 */

static uint32_t
pow2_at_least(uint32_t n)
{
    uint32_t p = 8;

    while (p < n)
        p *= 2;
    return p;
}

enum sn_status
sn_corr_ev_reserve(struct sn_corr *c, struct ckey *k, size_t n_slots)
{
    size_t need = n_slots * c->slot_size;
    unsigned char *p;

    if (need <= k->ev_cap)
        return SN_OK;
    p = realloc(k->ev, need);
    if (p == NULL)
        return SN_ENOMEM;
    memset(p + k->ev_cap, 0, need - k->ev_cap);
    k->ev = p;
    k->ev_cap = need;
    return SN_OK;
}

/* Room for n ring entries (ring capacity doubles, keeping order; the
 * sequence summary slots grow with it). */
enum sn_status
sn_corr_ring_reserve(struct sn_corr *c, struct crule *cr, struct ckey *k,
                     uint32_t n)
{
    uint32_t cap = pow2_at_least(n), old = k->rcap;
    struct rent *ring;
    bool seq = cr->spec->kind == SN_CORR_SEQUENCE;
    size_t kk = c->cfg.evidence_k;

    if (k->ring == NULL || cap > old) {
        ring = malloc(cap * sizeof(*ring));
        if (ring == NULL)
            return SN_ENOMEM;
        for (uint32_t i = 0; i < k->rn; i++)
            ring[i] = *sn_corr_at(k, i);
        free(k->ring);
        k->ring = ring;
        k->rhead = 0;
        k->rcap = cap;
    }
    if (seq && k->scap < k->rcap) {
        /* Summary slots [2K + scap, 2K + rcap) are new: free them. */
        uint32_t *sf = realloc(k->sfree, k->rcap * sizeof(*sf));
        if (sf == NULL)
            return SN_ENOMEM;
        k->sfree = sf;
        if (sn_corr_ev_reserve(c, k, 2 * kk + k->rcap) != SN_OK)
            return SN_ENOMEM;
        for (uint32_t i = k->rcap; i > k->scap; i--)
            k->sfree[k->n_sfree++] = (uint32_t)(2 * kk) + i - 1;
        k->scap = k->rcap;
    }
    return SN_OK;
}

void
sn_corr_ring_pop_front(struct ckey *k, bool seq)
{
    if (seq)
        k->sfree[k->n_sfree++] = sn_corr_at(k, 0)->slot;
    k->rhead = (k->rhead + 1) & (k->rcap - 1);
    k->rn--;
}

/* Insert keeping time order (ties keep arrival order); returns the
 * position. Out-of-order events move back only as far as they are late. */
uint32_t
sn_corr_ring_insert(struct ckey *k, int64_t t, uint32_t tag, uint32_t slot)
{
    uint32_t i = k->rn++;

    while (i > 0 && sn_corr_at(k, i - 1)->t > t) {
        *sn_corr_at(k, i) = *sn_corr_at(k, i - 1);
        i--;
    }
    sn_corr_at(k, i)->t = t;
    sn_corr_at(k, i)->tag = tag;
    sn_corr_at(k, i)->slot = slot;
    return i;
}

enum sn_status
sn_corr_set_reserve(struct ckey *k, uint32_t n)
{
    uint32_t cap = pow2_at_least(2 * n);
    struct dval *old = k->set, *set;
    uint32_t old_cap = k->set_cap;

    if (old != NULL && cap <= old_cap)
        return SN_OK;
    set = calloc(cap, sizeof(*set));
    if (set == NULL)
        return SN_ENOMEM;
    k->set = set;
    k->set_cap = cap;
    k->set_n = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].h != 0)
            sn_corr_set_put(k, old[i].h, old[i].t);
    free(old);
    return SN_OK;
}

struct dval *
sn_corr_vset_find(const struct ckey *k, uint64_t h)
{
    for (uint32_t i = (uint32_t)h & (k->set_cap - 1);;
         i = (i + 1) & (k->set_cap - 1)) {
        if (k->set[i].h == h)
            return &k->set[i];
        if (k->set[i].h == 0)
            return NULL;
    }
}

/* Insert or refresh (the caller checked there is room: the load stays at
 * most 1/2, so probes are short and always end). */
void
sn_corr_set_put(struct ckey *k, uint64_t h, int64_t t)
{
    uint32_t i = (uint32_t)h & (k->set_cap - 1);

    while (k->set[i].h != 0 && k->set[i].h != h)
        i = (i + 1) & (k->set_cap - 1);
    if (k->set[i].h == 0) {
        k->set_n++;
        k->set[i].h = h;
        k->set[i].t = t;
    } else if (t > k->set[i].t) {
        k->set[i].t = t;
    }
}

/* Delete cell i, shifting later cells of the probe run back (linear
 * probing without tombstones, Knuth 6.4 algorithm R). */
static void
set_del(struct ckey *k, uint32_t i)
{
    uint32_t mask = k->set_cap - 1, j = i;

    k->set[i].h = 0;
    k->set_n--;
    for (;;) {
        uint32_t home;
        j = (j + 1) & mask;
        if (k->set[j].h == 0)
            return;
        home = (uint32_t)k->set[j].h & mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        k->set[i] = k->set[j];
        k->set[j].h = 0;
        i = j;
    }
}

/* Forget set values whose newest occurrence is before since. */
void
sn_corr_set_purge(struct ckey *k, int64_t since)
{
    for (uint32_t i = 0; i < k->set_cap; i++)
        while (k->set[i].h != 0 && k->set[i].t < since)
            set_del(k, i);
}


/* True when k holds nothing a later event or check could still use. */
bool
sn_corr_key_reclaimable(const struct sn_corr *c, const struct crule *cr,
                        const struct ckey *k)
{
    const struct sn_corr_spec *s = cr->spec;
    int64_t wm = sn_corr_key_wm(c, cr, k);

    if (k->firing && s->resolve_ns)
        return false;
    if (k->has_signal && wm < k->last_signal + s->suppress_ns)
        return false;
    switch (s->kind) {
    case SN_CORR_THRESHOLD:
    case SN_CORR_DISTINCT:
    case SN_CORR_SEQUENCE:
        return wm - s->window_ns - s->lateness_ns > k->last_t;
    case SN_CORR_RATE:
        return wm - s->warmup_ns - s->lateness_ns > k->last_t;
    default:
        return false; /* absence and new_value state is the detection */
    }
}


bool
sn_corr_key_set_bytes(struct ckey *k, const char *kb, uint32_t klen)
{
    if (klen <= SN_CORR_KEY_INLINE) {
        /* A recycled entry that once held a long key keeps using its
         * heap buffer (kcap > SN_CORR_KEY_INLINE) instead of freeing it
         * and allocating again for the next long key. */
        if (k->kb == NULL || k->kb == k->kin)
            k->kb = k->kin;
    } else if (k->kb == NULL || k->kb == k->kin || k->kcap < klen) {
        char *p = malloc(klen);
        if (p == NULL)
            return false;
        if (k->kb != NULL && k->kb != k->kin)
            free(k->kb);
        k->kb = p;
        k->kcap = klen;
    }
    memcpy(k->kb, kb, klen);
    k->klen = klen;
    return true;
}

void
sn_corr_key_bufs_free(struct ckey *k)
{
    if (k->kb != k->kin)
        free(k->kb);
    free(k->ring);
    free(k->ev);
    free(k->sfree);
    free(k->set);
}

/* ---- creating keys, eviction -------------------------------------------- */

struct ckey *
sn_corr_key_new(struct sn_corr *c, struct crule *cr, const char *kb,
                uint32_t klen, uint64_t hash, int64_t t)
{
    struct ckey *k;

    while (cr->n_keys >= cr->max_keys && cr->lru_tail != 0) {
        struct ckey *victim = sn_corr_lru_tail(c, cr);
        if (sn_corr_key_reclaimable(c, cr, victim)) {
            cr->st.keys_reclaimed++;
        } else {
            cr->st.keys_evicted++;
        }
        sn_corr_key_release(c, cr, victim);
        sn_corr_degraded(c, cr);
    }
    k = sn_corr_key_alloc(c);
    if (k == NULL)
        return NULL;
    if (!sn_corr_key_set_bytes(k, kb, klen)) {
        k->hnext = c->free_keys;
        c->free_keys = k;
        return NULL;
    }
    k->hash = hash;
    k->last_t = t;
    k->touch_wm = c->wm;
    if (sn_corr_key_insert(c, cr, k) != SN_OK) {
        k->hnext = c->free_keys;
        c->free_keys = k;
        return NULL;
    }
    return k;
}
