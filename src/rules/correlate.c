/*
 * The correlation engine: per-rule tables of group keys (hash + LRU list,
 * entries recycled from slabs so steady state allocates nothing), each
 * key holding a time-ordered ring, a small value set or rate buckets,
 * evidence slots and suppression/escalation state. Feeds are event-time
 * based with a global watermark; sn_corr_advance runs the time-driven
 * checks. Single-threaded by design (one engine per shard). Checkpoints
 * live in correlate_ckpt.c, JSON in correlate_json.c; the semantics are
 * pinned in docs/correlation.md.
 */
#include "rules/value.h"
#include "rules/correlate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"
#include "rules/ip.h"

#define DEF_MAX_KEYS   100000
#define DEF_MAX_EVENTS 256
#define DEF_EVIDENCE_K 3
#define DEF_SUMMARY    160
/* Ten minutes between "detection degraded" signals of one rule: often
 * enough to notice, rare enough not to drown the real signals. */
#define DEF_DEGRADED_NS (600LL * 1000000000)
/* Key entries per slab allocation. */
#define SLAB_KEYS 256
/* A rate key quiet for more than this many buckets: later buckets are
 * zeros that would decay the baseline to (nearly) nothing anyway. */
#define RATE_MAX_CATCHUP 4096

/* ---- hashing ------------------------------------------------------------ */

#define FNV_INIT  0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Final avalanche (splitmix64) so low bits are usable for buckets and
 * shards; hash 0 is reserved for empty set cells. */
static uint64_t
mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

/* ---- reading fields ----------------------------------------------------- */

static bool
get_field(const struct sn_corr_input *in, const char *name, int id,
          struct sn_value *v)
{
    size_t len = strlen(name);

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
static size_t
key_put(char *p, struct sn_str s)
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
                 (unsigned long long)mix(fnv(FNV_INIT, s.ptr, s.len)));
        p[0] = (char)SN_CORR_VALUE_MAX;
        p[1] = 0;
        memcpy(p + 2, s.ptr, keep);
        memcpy(p + 2 + keep, tail, 18);
        memset(p + 2 + keep + 18, '~', SN_CORR_VALUE_MAX - keep - 18);
        return 2 + SN_CORR_VALUE_MAX;
    }
}

/* Build the key of in for cr into c->kbuf; false when a field is missing. */
static bool
build_key(struct sn_corr *c, const struct crule *cr,
          const struct sn_corr_input *in, uint32_t *klen, uint64_t *hash)
{
    const struct sn_corr_spec *s = cr->spec;
    size_t n = 0;

    if (!(s->kind == SN_CORR_RATE && !s->per_key)) {
        for (size_t i = 0; i < s->n_group_by; i++) {
            struct sn_value v;
            struct sn_str txt;
            char tmp[64];
            if (!get_field(in, s->group_by[i], cr->field_ids[i], &v) ||
                !sn_value_text(&v, tmp, sizeof(tmp), &txt))
                return false;
            n += key_put(c->kbuf + n, txt);
        }
    }
    *klen = (uint32_t)n;
    *hash = mix(fnv(cr->id_hash, c->kbuf, n));
    return true;
}

/* Decode a key into c->key_values. */
static size_t
decode_key(struct sn_corr *c, const struct ckey *k)
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
        if (c->n_slabs == 0 || c->slab_used == SLAB_KEYS) {
            if (c->n_slabs == c->slab_cap) {
                size_t cap = c->slab_cap ? c->slab_cap * 2 : 16;
                struct ckey **p = realloc(c->slabs, cap * sizeof(*p));
                if (p == NULL)
                    return NULL;
                c->slabs = p;
                c->slab_cap = cap;
            }
            c->slabs[c->n_slabs] = calloc(SLAB_KEYS, sizeof(struct ckey));
            if (c->slabs[c->n_slabs] == NULL)
                return NULL;
            c->n_slabs++;
            c->slab_used = 0;
        }
        k = &c->slabs[c->n_slabs - 1][c->slab_used++];
    }
    /* Keep the buffers (and their capacities) of a recycled entry. */
    {
        char *kb = k->kb;
        uint32_t kcap = k->kcap, rcap = k->rcap;
        struct rent *ring = k->ring;
        unsigned char *ev = k->ev;
        size_t ev_cap = k->ev_cap;
        uint32_t *sfree = k->sfree, scap = k->scap;
        struct dval *set = k->set;
        uint32_t set_cap = k->set_cap;
        memset(k, 0, sizeof(*k));
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
    k->last_signal = T_NONE;
    k->rb_cur = T_NONE;
    k->fired_b = T_NONE;
    return k;
}

static void
lru_unlink(struct crule *cr, struct ckey *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        cr->lru_head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        cr->lru_tail = k->prev;
    k->prev = k->next = NULL;
}

static void
lru_push_head(struct crule *cr, struct ckey *k)
{
    k->prev = NULL;
    k->next = cr->lru_head;
    if (cr->lru_head)
        cr->lru_head->prev = k;
    cr->lru_head = k;
    if (cr->lru_tail == NULL)
        cr->lru_tail = k;
}

/* Unlink k from its rule and put the entry on the free list. */
void
sn_corr_key_release(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    struct ckey **pp = &cr->tab[k->hash & (cr->tab_cap - 1)];

    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    lru_unlink(cr, k);
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
    (void)c;
    if (cr->n_keys + 1 > cr->tab_cap && tab_grow(cr) != SN_OK)
        return SN_ENOMEM;
    k->hnext = cr->tab[k->hash & (cr->tab_cap - 1)];
    cr->tab[k->hash & (cr->tab_cap - 1)] = k;
    lru_push_head(cr, k);
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

static void
ring_pop_front(struct ckey *k, bool seq)
{
    if (seq)
        k->sfree[k->n_sfree++] = sn_corr_at(k, 0)->slot;
    k->rhead = (k->rhead + 1) & (k->rcap - 1);
    k->rn--;
}

/* Insert keeping time order (ties keep arrival order); returns the
 * position. Out-of-order events move back only as far as they are late. */
static uint32_t
ring_insert(struct ckey *k, int64_t t, uint32_t tag, uint32_t slot)
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

static struct dval *
set_find(const struct ckey *k, uint64_t h)
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
static void
set_purge(struct ckey *k, int64_t since)
{
    for (uint32_t i = 0; i < k->set_cap; i++)
        while (k->set[i].h != 0 && k->set[i].t < since)
            set_del(k, i);
}

/* ---- evidence ------------------------------------------------------------ */

static void
slot_fill(const struct sn_corr *c, struct evslot *sl, int64_t t, uint64_t seq,
          const struct sn_corr_input *in)
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

static void
evidence_add(struct sn_corr *c, struct ckey *k, int64_t t,
             const struct sn_corr_input *in)
{
    size_t kk = c->cfg.evidence_k;

    k->n_seen++;
    if (kk == 0 || sn_corr_ev_reserve(c, k, 2 * kk) != SN_OK)
        return;
    if (k->n_first < kk)
        slot_fill(c, sn_corr_slot(c, k, k->n_first++), t, k->n_seen, in);
    slot_fill(c, sn_corr_slot(c, k, kk + k->n_last % kk), t, k->n_seen, in);
    k->n_last++;
}

static void
evidence_reset(struct sn_corr *c, struct ckey *k)
{
    k->n_first = 0;
    k->n_last = 0;
    for (size_t i = 0; k->ev && i < 2 * c->cfg.evidence_k; i++)
        sn_corr_slot(c, k, i)->used = 0;
}

static void
ev_from_slot(const struct evslot *sl, struct sn_corr_evidence *e)
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
static void
evidence_collect(struct sn_corr *c, const struct ckey *k, int64_t lo,
                 int64_t hi, struct sn_signal *sig)
{
    size_t kk = c->cfg.evidence_k, nf = 0, nl = 0;
    uint64_t fseq[SN_CORR_EVIDENCE_MAX], lseq[SN_CORR_EVIDENCE_MAX];

    for (size_t i = 0; k->ev && i < kk && i < k->n_first; i++) {
        const struct evslot *sl = sn_corr_slot(c, k, i);
        if (sl->used && sl->t >= lo && sl->t <= hi) {
            ev_from_slot(sl, &c->first[nf]);
            fseq[nf++] = sl->seq;
        }
    }
    for (size_t i = 0; k->ev && i < kk && i < k->n_last; i++) {
        const struct evslot *sl = sn_corr_slot(c, k, kk + i);
        bool dup = false;
        for (size_t j = 0; j < nf; j++)
            dup |= fseq[j] == sl->seq;
        if (sl->used && !dup && sl->t >= lo && sl->t <= hi) {
            ev_from_slot(sl, &c->last[nl]);
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

static void
sig_init(struct sn_corr *c, const struct crule *cr, const struct ckey *k,
         struct sn_signal *sig, enum sn_signal_state state, int64_t t)
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
        sig->n_key = decode_key(c, k);
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

/* The condition held for k: count the hit, then signal unless suppressed
 * (an escalation breaks through suppression once). */
static void
hit(struct sn_corr *c, struct crule *cr, struct ckey *k, struct sn_signal *sig)
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

static void
resolve(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t)
{
    struct sn_signal sig;

    sig_init(c, cr, k, &sig, SN_SIGNAL_RESOLVED, t);
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
static void
degraded(struct sn_corr *c, struct crule *cr)
{
    struct sn_signal sig;

    if (cr->st.keys_evicted == cr->deg_keys_reported &&
        cr->st.events_dropped == cr->deg_events_reported)
        return;
    if (cr->last_degraded != T_NONE &&
        c->wm < cr->last_degraded + c->cfg.degraded_interval_ns)
        return;
    sig_init(c, cr, NULL, &sig, SN_SIGNAL_DEGRADED, c->wm);
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

/* ---- time-driven state ------------------------------------------------- */

/* True when k holds nothing a later event or check could still use. */
static bool
reclaimable(const struct sn_corr *c, const struct crule *cr,
            const struct ckey *k)
{
    const struct sn_corr_spec *s = cr->spec;
    int64_t wm = c->wm;

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

/* Smallest delay after a key's last event before a check can be due. */
static int64_t
min_delay(const struct sn_corr_spec *s)
{
    int64_t d = INT64_MAX;

    switch (s->kind) {
    case SN_CORR_THRESHOLD:
    case SN_CORR_DISTINCT:
    case SN_CORR_SEQUENCE:
        d = s->window_ns + s->lateness_ns;
        break;
    case SN_CORR_RATE:
        d = s->warmup_ns + s->lateness_ns;
        break;
    case SN_CORR_ABSENCE:
        d = s->after_ns;
        break;
    case SN_CORR_NEW_VALUE:
    case SN_CORR_MATCH:
        break;
    }
    if (s->resolve_ns && s->resolve_ns < d)
        d = s->resolve_ns;
    return d;
}

static struct ckey *new_key(struct sn_corr *c, struct crule *cr, const char *kb,
                            uint32_t klen, uint64_t hash, int64_t t);

/* Absence: create the expected keys once the engine knows the time. */
static void
prime(struct sn_corr *c, struct crule *cr)
{
    const struct sn_corr_spec *s = cr->spec;

    if (cr->primed || c->wm == T_NONE)
        return;
    cr->primed = true;
    /* new_value learns from the engine's first watermark for the rule. */
    if (cr->learn_start == T_NONE)
        cr->learn_start = c->wm;
    for (size_t i = 0; i < s->n_expected; i++) {
        /* Not c->kbuf: the caller may hold the key of its event there. */
        char kb[sizeof(c->kbuf)];
        size_t n = 0;
        uint64_t h;
        for (size_t j = 0; j < s->n_group_by; j++) {
            const char *v = s->expected[i * s->n_group_by + j];
            struct sn_str str = { v, strlen(v) };
            n += key_put(kb + n, str);
        }
        h = mix(fnv(cr->id_hash, kb, n));
        if (c->cfg.n_shards > 1 && h % c->cfg.n_shards != c->cfg.shard)
            continue;
        if (sn_corr_key_find(cr, h, kb, (uint32_t)n) == NULL)
            new_key(c, cr, kb, (uint32_t)n, h, c->wm);
    }
}

static void
check_key(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    const struct sn_corr_spec *s = cr->spec;

    if (s->kind == SN_CORR_ABSENCE) {
        if (!k->absent && k->last_t != T_NONE &&
            c->wm >= k->last_t + s->after_ns) {
            struct sn_signal sig;
            sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, k->last_t + s->after_ns);
            sig.first_ns = sig.last_ns = k->last_t;
            sig.count = 0;
            evidence_collect(c, k, INT64_MIN, INT64_MAX, &sig);
            sig.first = NULL, sig.n_first = 0;
            k->absent = true;
            hit(c, cr, k, &sig);
        }
        if (k->absent) {
            lru_unlink(cr, k);
            lru_push_head(cr, k);
            k->touch_wm = c->wm;
        }
        return;
    }
    if (k->firing && s->resolve_ns && c->wm >= k->last_t + s->resolve_ns)
        resolve(c, cr, k, k->last_t + s->resolve_ns);
    if (reclaimable(c, cr, k)) {
        sn_corr_key_release(c, cr, k);
        cr->st.keys_reclaimed++;
    }
}

enum sn_status
sn_corr_advance(struct sn_corr *c, int64_t now_ns)
{
    if (now_ns > c->wm)
        c->wm = now_ns;
    if (c->wm == T_NONE)
        return SN_OK;
    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        int64_t d = min_delay(cr->spec);
        size_t budget = cr->n_keys;
        struct ckey *k = cr->lru_tail;

        prime(c, cr);
        if (d != INT64_MAX) {
            while (k != NULL && budget-- > 0) {
                struct ckey *prev = k->prev;
                /* The LRU is ordered by touch_wm and a key's newest event
                 * is at least touch_wm - lateness: past this point no key
                 * can be due yet. */
                if (k->touch_wm - cr->spec->lateness_ns > c->wm - d)
                    break;
                check_key(c, cr, k);
                k = prev;
            }
        }
        degraded(c, cr);
    }
    sn_corr_chain_drain(c);
    return SN_OK;
}

/* ---- creating keys, eviction -------------------------------------------- */

static struct ckey *
new_key(struct sn_corr *c, struct crule *cr, const char *kb, uint32_t klen,
        uint64_t hash, int64_t t)
{
    struct ckey *k;

    while (cr->n_keys >= cr->max_keys && cr->lru_tail != NULL) {
        struct ckey *victim = cr->lru_tail;
        if (reclaimable(c, cr, victim)) {
            cr->st.keys_reclaimed++;
        } else {
            cr->st.keys_evicted++;
        }
        sn_corr_key_release(c, cr, victim);
        degraded(c, cr);
    }
    k = sn_corr_key_alloc(c);
    if (k == NULL)
        return NULL;
    if (k->kcap < klen || k->kb == NULL) {
        char *p = realloc(k->kb, klen ? klen : 1);
        if (p == NULL) {
            k->hnext = c->free_keys;
            c->free_keys = k;
            return NULL;
        }
        k->kb = p;
        k->kcap = klen ? klen : 1;
    }
    memcpy(k->kb, kb, klen);
    k->klen = klen;
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

/* ---- the kinds ------------------------------------------------------------
 */

static void
drop_event(struct sn_corr *c, struct crule *cr)
{
    cr->st.events_dropped++;
    degraded(c, cr);
}

/* Room for one more event in k's ring: forget events older than horizon,
 * then the oldest one when the ring is at the rule's bound (counted as a
 * dropped event). False when no room could be had (also counted). */
static bool
ring_make_room(struct sn_corr *c, struct crule *cr, struct ckey *k,
               int64_t horizon, bool seq)
{
    while (k->rn > 0 && sn_corr_at(k, 0)->t < horizon)
        ring_pop_front(k, seq);
    if (k->rn >= cr->max_events) {
        ring_pop_front(k, seq);
        drop_event(c, cr);
    }
    if (sn_corr_ring_reserve(c, cr, k, k->rn + 1) != SN_OK) {
        drop_event(c, cr);
        return false;
    }
    return true;
}

static void
feed_threshold(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
               const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    uint64_t n = s->count;
    int64_t horizon = c->wm - s->window_ns - s->lateness_ns;
    uint32_t p, lo, hi;

    /* Events older than any window a future event could close. */
    if (!ring_make_room(c, cr, k, horizon, false))
        return;
    p = ring_insert(k, t, 0, 0);
    evidence_add(c, k, t, in);
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
            struct sn_signal sig;
            sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, last);
            sig.count = n;
            sig.threshold = n;
            sig.first_ns = first;
            sig.last_ns = last;
            evidence_collect(c, k, first, last, &sig);
            hit(c, cr, k, &sig);
            /* The window restarts: its events and older ones are spent. */
            while (k->rn > 0 && sn_corr_at(k, 0)->t <= last)
                ring_pop_front(k, false);
            k->reset_t = last;
            evidence_reset(c, k);
            return;
        }
    }
}

static uint64_t
value_hash(const struct sn_corr_input *in, const struct crule *cr,
           struct sn_str *txt, char *tmp, size_t tmp_len)
{
    struct sn_value v;

    if (!get_field(in, cr->spec->field, cr->value_field_id, &v) ||
        !sn_value_text(&v, tmp, tmp_len, txt))
        return 0;
    return mix(fnv(FNV_INIT, txt->ptr, txt->len));
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
    if (sn_corr_set_reserve(k, cr->max_events) != SN_OK) {
        drop_event(c, cr);
        return;
    }
    if (set_find(k, h) == NULL && k->set_n >= cr->max_events) {
        set_purge(k, since);
        if (k->set_n >= cr->max_events) {
            /* Full of live values: forget the oldest one. */
            uint32_t old = 0;
            for (uint32_t i = 0; i < k->set_cap; i++)
                if (k->set[i].h != 0 &&
                    (k->set[old].h == 0 || k->set[i].t < k->set[old].t))
                    old = i;
            set_purge(k, k->set[old].t + 1);
            drop_event(c, cr);
        }
    }
    sn_corr_set_put(k, h, t);
    evidence_add(c, k, t, in);
    if (k->set_n < s->count)
        return;
    set_purge(k, since);
    if (k->set_n >= s->count) {
        struct sn_signal sig;
        int64_t first = INT64_MAX;
        for (uint32_t i = 0; i < k->set_cap; i++)
            if (k->set[i].h != 0 && k->set[i].t < first)
                first = k->set[i].t;
        sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, k->last_t);
        sig.count = k->set_n;
        sig.threshold = s->count;
        sig.first_ns = first;
        sig.last_ns = k->last_t;
        evidence_collect(c, k, first, k->last_t, &sig);
        hit(c, cr, k, &sig);
        for (uint32_t i = 0; i < k->set_cap; i++)
            k->set[i].h = 0;
        k->set_n = 0;
        k->reset_t = k->last_t;
        evidence_reset(c, k);
    }
}

static void
feed_sequence(struct sn_corr *c, struct crule *cr, struct ckey *k, int64_t t,
              const struct sn_corr_input *in)
{
    const struct sn_corr_spec *s = cr->spec;
    uint32_t mask = 0, n = s->n_steps, slot;
    int64_t horizon = c->wm - s->window_ns - s->lateness_ns;
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
    slot_fill(c, sn_corr_slot(c, k, slot), t, k->n_seen, in);
    ring_insert(k, t, mask, slot);

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
            ev_from_slot(sn_corr_slot(c, k, re->slot), &c->steps[j]);
            c->steps[j].step = s->steps[j];
        }
        sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, last);
        sig.count = n;
        sig.threshold = n;
        sig.first_ns = best[n].start;
        sig.last_ns = last;
        sig.steps = c->steps;
        sig.n_steps = n;
        hit(c, cr, k, &sig);
        while (k->rn > 0 && sn_corr_at(k, 0)->t <= last)
            ring_pop_front(k, true);
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
        if (to - from > RATE_MAX_CATCHUP)
            from = to - RATE_MAX_CATCHUP;
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
    (*cnt)++;
    if (k->fired_b != b)
        evidence_add(c, k, t, in);
    thr = k->mean + s->k * sqrt(k->var > 0 ? k->var : 0);
    if ((b - k->rb_start) * s->bucket_ns >= s->warmup_ns && k->n_closed > 0 &&
        *cnt > thr && k->fired_b != b) {
        struct sn_signal sig;
        sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, t);
        sig.count = *cnt;
        sig.threshold = (uint64_t)floor(thr) + 1;
        sig.first_ns = b * s->bucket_ns;
        sig.last_ns = t;
        sig.mean = k->mean;
        sig.stddev = sqrt(k->var > 0 ? k->var : 0);
        sig.k = s->k;
        evidence_collect(c, k, b * s->bucket_ns, (b + 1) * s->bucket_ns - 1,
                         &sig);
        k->fired_b = b;
        hit(c, cr, k, &sig);
        evidence_reset(c, k);
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
    if (sn_corr_set_reserve(k, cr->max_events) != SN_OK) {
        drop_event(c, cr);
        return;
    }
    if (set_find(k, h) != NULL)
        return;
    if (k->set_n >= cr->max_events)
        drop_event(c, cr); /* cannot remember it: it will look new again */
    else
        sn_corr_set_put(k, h, t);
    if (t >= cr->learn_start + s->learn_ns) {
        struct sn_signal sig;
        evidence_reset(c, k);
        evidence_add(c, k, t, in);
        sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING, t);
        sig.count = k->set_n;
        sig.first_ns = sig.last_ns = t;
        sig.value = txt;
        evidence_collect(c, k, t, t, &sig);
        hit(c, cr, k, &sig);
    }
}

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
    uint32_t klen;
    uint64_t hash;
    struct ckey *k;

    if (!build_key(c, cr, in, &klen, &hash)) {
        cr->st.no_key++;
        return SN_OK;
    }
    if (hash_in != NULL && *hash_in != hash)
        return SN_EINVAL;
    if (c->cfg.n_shards > 1 && hash % c->cfg.n_shards != c->cfg.shard)
        return SN_OK;
    if (c->wm != T_NONE && t < c->wm - s->lateness_ns) {
        cr->st.late_dropped++;
        return SN_OK;
    }
    if (t > c->wm)
        c->wm = t;
    prime(c, cr);
    k = sn_corr_key_find(cr, hash, c->kbuf, klen);
    if (k == NULL) {
        k = new_key(c, cr, c->kbuf, klen, hash, t);
        if (k == NULL)
            return SN_ENOMEM;
    } else {
        lru_unlink(cr, k);
        lru_push_head(cr, k);
    }
    k->touch_wm = c->wm;
    cr->st.events++;
    if (k->last_t == T_NONE || t > k->last_t)
        k->last_t = t;
    if (t < k->reset_t && s->kind != SN_CORR_ABSENCE &&
        s->kind != SN_CORR_NEW_VALUE && s->kind != SN_CORR_RATE)
        return SN_OK; /* belongs to a window that already fired */
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
        evidence_add(c, k, t, in);
        if (k->absent) {
            k->absent = false;
            resolve(c, cr, k, t);
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

bool
sn_corr_route_spec(const struct sn_corr_set *set,
                   const struct sn_corr_input *in, uint32_t spec,
                   uint64_t *hash)
{
    const struct sn_corr_spec *s = &set->specs[spec];
    char kbuf[SN_CORR_MAX_GROUP_BY * (2 + SN_CORR_VALUE_MAX)];
    size_t len = 0;
    uint64_t h = fnv(FNV_INIT, s->rule->id, strlen(s->rule->id) + 1);

    if (!(s->kind == SN_CORR_RATE && !s->per_key)) {
        for (size_t g = 0; g < s->n_group_by; g++) {
            struct sn_value v;
            struct sn_str txt;
            char tmp[64];
            int id = sn_field_table_find(&set->rs->fields, s->group_by[g]);
            if (!get_field(in, s->group_by[g], id < 0 ? INT32_MAX : id, &v) ||
                !sn_value_text(&v, tmp, sizeof(tmp), &txt))
                return false;
            len += key_put(kbuf + len, txt);
        }
    }
    *hash = mix(fnv(h, kbuf, len));
    return true;
}

size_t
sn_corr_route(const struct sn_corr_set *set, const struct sn_corr_input *in,
              struct sn_corr_target *out, size_t max)
{
    uint32_t r = in->rule->index;
    size_t n = 0;

    if (r >= set->rs->n_rules)
        return 0;
    for (uint32_t i = 0; i < set->n_targets[r]; i++) {
        uint64_t h;

        if (!sn_corr_route_spec(set, in, set->targets[r][i], &h))
            continue;
        if (n < max) {
            out[n].spec = set->targets[r][i];
            out[n].hash = h;
        }
        n++;
    }
    return n;
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
        c->cfg.max_keys = DEF_MAX_KEYS;
    if (c->cfg.max_events == 0)
        c->cfg.max_events = DEF_MAX_EVENTS;
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
    c->wm = T_NONE;
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
        cr->id_hash = fnv(FNV_INIT, s->rule->id, strlen(s->rule->id) + 1);
        for (size_t g = 0; g < s->n_group_by; g++) {
            id = sn_field_table_find(&set->rs->fields, s->group_by[g]);
            /* Unknown to the ruleset: an id no accessor switches on. */
            cr->field_ids[g] = id < 0 ? INT32_MAX : id;
        }
        id = s->field ? sn_field_table_find(&set->rs->fields, s->field) : -1;
        cr->value_field_id = id < 0 ? INT32_MAX : id;
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

static void
key_bufs_free(struct ckey *k)
{
    free(k->kb);
    free(k->ring);
    free(k->ev);
    free(k->sfree);
    free(k->set);
}

void
sn_corr_free(struct sn_corr *c)
{
    if (c == NULL)
        return;
    for (size_t s = 0; s < c->n_slabs; s++) {
        size_t n = s + 1 == c->n_slabs ? c->slab_used : SLAB_KEYS;
        for (size_t i = 0; i < n; i++)
            key_bufs_free(&c->slabs[s][i]);
        free(c->slabs[s]);
    }
    free(c->slabs);
    free(c->chain);
    for (size_t i = 0; i < c->n_rules; i++)
        free(c->rules[i].tab);
    free(c->rules);
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
