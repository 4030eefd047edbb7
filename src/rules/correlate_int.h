/*
 * Internals of the correlation engine shared by its files: correlate.c
 * (lifetime, feeding), correlate_key.c (key store), correlate_window.c
 * (the kinds), correlate_time.c (time-driven checks), correlate_signal.c
 * (evidence, signals), correlate_chain.c and correlate_ckpt.c. Not for
 * other modules: use correlate.h.
 */
#ifndef SN_RULES_CORRELATE_INT_H
#define SN_RULES_CORRELATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/correlate.h"

#define T_NONE INT64_MIN
/* Key entries per slab allocation. */
#define SN_CORR_SLAB_KEYS 256

#define SN_CORR_FNV_INIT  0xcbf29ce484222325ULL
#define SN_CORR_FNV_PRIME 0x100000001b3ULL

static inline uint64_t
sn_corr_fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= SN_CORR_FNV_PRIME;
    }
    return h;
}

/* Final avalanche (splitmix64) so low bits are usable for buckets and
 * shards; hash 0 is reserved for empty set cells. */
static inline uint64_t
sn_corr_mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

/* One event kept in a key's time-ordered ring. */
struct rent {
    int64_t t;
    uint32_t tag;  /* sequence: bit j = the event is step j */
    uint32_t slot; /* sequence: its summary slot */
};

/* One value of a distinct/new_value set; h 0 marks an empty cell. */
struct dval {
    uint64_t h;
    int64_t t; /* distinct: newest occurrence */
};

/* An evidence slot: header, then up to summary_max bytes. */
struct evslot {
    int64_t t;
    uint64_t seq; /* per-key event number: dedups first and last */
    uint32_t len;
    uint8_t is_json;
    uint8_t used;
};

/* Key bytes kept inside the entry (one IPv4 address is 17): a lookup
 * then reads one cache line per chain entry instead of two. */
#define SN_CORR_KEY_INLINE 32

/* Fields are grouped by when they are read, and the slabs are aligned to
 * a cache line (sizeof is a multiple of it), so one event of a key loads
 * few lines: with 5,000 keys or more the entries do not fit in the
 * closer caches and each line is a miss. Line 0: the lookup (chain, hash,
 * key bytes). Line 1: what every event of the key reads or writes. Line 2:
 * a fired window's absorbed matches (refire per_window). Line 3: the
 * ring's size and the evidence slots (an event that is not absorbed). The
 * rest: sequences, sets, rate. */
struct ckey {
    /* line 0: what a lookup reads */
    _Alignas(64) struct ckey *hnext; /* hash chain */
    uint64_t hash;
    char *kb; /* encoded group key: per value u16 length + bytes; kin or
                 heap (kcap bytes) */
    uint32_t klen;
    /* Index + 1 of origin's watermark in the rule's table
     * (correlate_owm.c); 0: look it up. Saves a scan per key and tick. */
    uint32_t owm_slot;
    char kin[SN_CORR_KEY_INLINE];
    /* line 1: every event */
    uint32_t ref; /* index + 1 of the entry in c's slabs (sn_corr_key_at) */
    uint32_t rhead; /* ring: its oldest entry (< rcap) */
    /* On the rule's pending list (absorbed > 0 in an open window), which
     * sn_corr_advance walks for the updates that are due. */
    bool pending;
    bool firing, absent, has_signal;
    bool weighted;    /* threshold: the ring holds an entry of weight > 1 */
    /* An expected key (sn_corr_prime_keys) no event has fed yet: its
     * absence is timed from its stream's first known watermark, not from
     * an instance clock that may lag it (sn_corr_stream_wm_set). */
    bool primed;
    int64_t touch_wm; /* watermark when last touched (orders the LRU) */
    int64_t last_t;   /* newest event time of the key */
    int64_t reset_t;  /* window restarted: older events do not count */
    /* threshold/distinct with refire per_window: the fired window runs
     * to fired_until (T_NONE: none open); matches up to then are
     * absorbed (weights summed, times absorbed_first..last) and reported
     * by one update signal SN_CORR_UPDATE_INTERVAL_NS of watermark after
     * upd_wm (the firing's or the last update's), and when it closes. */
    int64_t fired_until;
    struct sn_corr_origin origin; /* of the last record that fed it */
    /* ring (threshold, sequence), sorted by t; here with rhead so that
     * the oldest entry's address is known from this line */
    struct rent *ring;
    /* line 2: absorbed matches of a fired window, signals */
    int64_t absorbed_first, absorbed_last, upd_wm;
    uint64_t absorbed;
    struct ckey *pprev, *pnext;
    int64_t last_signal;
    uint64_t hits;
    /* line 3: the ring's size, evidence */
    uint32_t rn, rcap; /* rcap: power of two */
    /* evidence: 2K slots (first K, last K ring), then sequence slots */
    uint32_t n_first;
    unsigned char *ev;
    size_t ev_cap; /* bytes */
    uint64_t n_last;
    uint64_t n_seen;
    uint32_t *sfree; /* sequence: free summary slots */
    uint64_t suppressed;
    /* the rest */
    uint32_t n_sfree, scap; /* scap: slots behind the first 2K */
    uint32_t kcap;
    /* set (distinct, new_value): open addressing, power-of-two cap */
    uint32_t set_n, set_cap;
    struct dval *set;
    /* rate */
    int64_t rb_cur, rb_start, fired_b;
    uint32_t rcount[SN_CORR_RATE_OPEN_MAX];
    double mean, var;
    uint64_t n_closed;
};
_Static_assert(offsetof(struct ckey, ref) == 64 &&
                   offsetof(struct ckey, absorbed_first) == 128 &&
                   offsetof(struct ckey, rn) == 192 &&
                   sizeof(struct ckey) % 64 == 0,
               "struct ckey: a group of fields moved to another cache line");

/* An entry's links in its rule's LRU list (head = most recently
 * touched), kept apart from the entries in c->lru, indexed by entry:
 * moving a key to the head writes its neighbours' links, and in this
 * dense array those are bytes in lines that stay cached rather than two
 * more entries' lines. A link is an entry's ref; 0: none. */
struct lru_link {
    uint32_t prev; /* toward the head (touched later) */
    uint32_t next; /* toward the tail */
};

/* The newest event time of one key origin (correlate_owm.c). */
struct owm_entry {
    uint32_t src;
    int32_t part;
    int64_t wm;
    uint32_t idle_ticks; /* advance() calls since it last fed */
};

struct crule {
    const struct sn_corr_spec *spec;
    uint64_t id_hash; /* FNV state after the rule id */
    int field_ids[SN_CORR_MAX_GROUP_BY];
    int value_field_id;
    /* strlen of the group-by and value field names, once: per event they
     * were a visible cost of building keys. */
    size_t field_lens[SN_CORR_MAX_GROUP_BY];
    size_t value_field_len;
    uint32_t max_keys, max_events;
    struct ckey **tab;
    size_t tab_cap, n_keys;
    uint32_t lru_head, lru_tail; /* refs (sn_corr_key_at); 0: empty */
    struct ckey *pend_head; /* keys with absorbed matches (refire) */
    int64_t learn_start; /* new_value: first event time of the rule */
    int64_t last_degraded;
    bool primed; /* expected keys created */
    uint64_t deg_keys_reported, deg_events_reported;
    struct sn_corr_rule_stats st;
    /* Watermarks per key origin (correlate_owm.c). Per rule: the daemon
     * feeds a batch rule after rule, so one rule's feeds are in event
     * order but the rules' are not interleaved by time. */
    struct owm_entry *owm;
    size_t n_owm, cap_owm, owm_last;
    /* Hash index over owm (entry index + 1; 0: empty), once there are
     * many: the repartition hop's streams are (repartition partition,
     * source partition) pairs, thousands per rule. */
    uint32_t *owm_idx;
    size_t owm_idx_cap;
};

/* A firing signal waiting to feed a sequence (correlate_chain.c): copied
 * out of the signal, fed once the feed that produced it is complete. */
struct chain_item {
    uint32_t spec; /* the sequence */
    uint64_t hash;
    const struct sn_rule *rule; /* the step rule whose signal it was */
    int64_t t;
    unsigned depth;               /* sequences of sequences: bounded */
    struct sn_corr_origin origin; /* of the feed that raised the signal */
    bool has_origin;
    uint32_t n_key;
    const char *names[SN_CORR_MAX_GROUP_BY];
    uint16_t klen[SN_CORR_MAX_GROUP_BY];
    char kb[SN_CORR_MAX_GROUP_BY * SN_CORR_VALUE_MAX];
    uint32_t summary_len;
    char summary[384];
};

struct sn_corr {
    const struct sn_corr_set *set;
    struct sn_corr_config cfg;
    struct crule *rules;
    size_t n_rules;
    int64_t wm; /* watermark: newest event time seen, or advance()'s */
    int64_t max_fed; /* newest event time fed (wm minus advance's push) */
    int64_t feed_wm; /* the feed in progress: what its windows age by */
    size_t slot_size;
    struct ckey *free_keys; /* recycled entries keep their buffers */
    struct ckey **slabs;
    size_t n_slabs, slab_cap, slab_used;
    struct lru_link *lru; /* per entry of the slabs, by ref - 1 */
    /* scratch for building keys and signals, and for summaries rendered
     * on demand (sn_corr_input.summary_fn) */
    struct sn_buf sum;
    char kbuf[SN_CORR_MAX_GROUP_BY * (2 + SN_CORR_VALUE_MAX)];
    struct sn_str key_values[SN_CORR_MAX_GROUP_BY];
    struct sn_corr_evidence first[SN_CORR_EVIDENCE_MAX];
    struct sn_corr_evidence last[SN_CORR_EVIDENCE_MAX];
    struct sn_corr_evidence steps[SN_CORR_MAX_STEPS];
    /* signal-fed sequences (correlate_chain.c): a FIFO */
    struct chain_item *chain;
    size_t chain_head, chain_n, chain_cap;
    unsigned depth; /* of the item being fed */
    const bool *away; /* sn_corr_forward_away */
    const bool *deferred; /* sn_corr_prime_deferred */
    /* Stream watermarks (sn_corr_stream_wm_set): few entries (the
     * repartition partitions an instance owns), scanned. */
    struct swm_entry {
        uint32_t src;
        int32_t part;
        int64_t wm;
    } *swm;
    size_t n_swm, cap_swm;
    /* The origin of the feed in progress, for the chain items its
     * signals queue (has_origin false during advance). */
    struct sn_corr_origin cur_origin;
    bool cur_has_origin;
    bool draining;
    uint64_t chain_dropped;
    /* sn_corr_pending_due's scratch: the keys whose update is due */
    struct ckey **due;
    size_t due_cap;
};

/* correlate_chain.c: queue a firing signal for the sequences it feeds
 * (called by emit), and feed the queue (at the end of every public
 * feed/advance call). */
void sn_corr_chain_push(struct sn_corr *c, const struct sn_signal *sig);
void sn_corr_chain_drain(struct sn_corr *c);
/* Feed one target without draining (the drain loop itself). */
enum sn_status sn_corr_feed_chained(struct sn_corr *c,
                                    const struct sn_corr_input *in,
                                    const struct sn_corr_target *t);
/* The routing hash of in for spec; false when a group-by field is
 * missing. */
bool sn_corr_route_spec(const struct sn_corr_set *set,
                        const struct sn_corr_input *in, uint32_t spec,
                        uint64_t *hash);

/* correlate_key.c: fields and keys. A field of the event by name (the
 * input's extracted fields first, then the event accessor with id). */
bool sn_corr_get_field(const struct sn_corr_input *in, const char *name,
                       size_t name_len, int id, struct sn_value *v);
/* Append one encoded key value at p; returns the bytes written. */
size_t sn_corr_key_put(char *p, struct sn_str s);
/* Build the key of in for cr into c->kbuf; false when a field is missing. */
bool sn_corr_build_key(struct sn_corr *c, const struct crule *cr,
                       const struct sn_corr_input *in, uint32_t *klen,
                       uint64_t *hash);
/* Decode k into c->key_values; returns the number of values. */
size_t sn_corr_decode_key(struct sn_corr *c, const struct ckey *k);
/* The entry of a ref (NULL for 0). */
static inline struct ckey *
sn_corr_key_at(const struct sn_corr *c, uint32_t ref)
{
    return ref == 0 ? NULL
                    : &c->slabs[(ref - 1) / SN_CORR_SLAB_KEYS]
                               [(ref - 1) % SN_CORR_SLAB_KEYS];
}
/* The least recently touched key of cr; the key touched next after k
 * (toward the head). NULL at the end. */
static inline struct ckey *
sn_corr_lru_tail(const struct sn_corr *c, const struct crule *cr)
{
    return sn_corr_key_at(c, cr->lru_tail);
}
static inline struct ckey *
sn_corr_lru_newer(const struct sn_corr *c, const struct ckey *k)
{
    return sn_corr_key_at(c, c->lru[k->ref - 1].prev);
}
void sn_corr_lru_unlink(struct sn_corr *c, struct crule *cr, struct ckey *k);
void sn_corr_lru_push_head(struct sn_corr *c, struct crule *cr, struct ckey *k);
/* k touched: to the head of cr's list. */
void sn_corr_lru_touch(struct sn_corr *c, struct crule *cr, struct ckey *k);
/* Order cr's LRU list by touch_wm again (after a restore). */
void sn_corr_lru_sort(struct sn_corr *c, struct crule *cr);
/* True when k holds nothing a later event or check could still use. */
bool sn_corr_key_reclaimable(const struct sn_corr *c, const struct crule *cr,
                             const struct ckey *k);
/* A new key in cr (evicting the LRU tail at max_keys); NULL on ENOMEM. */
struct ckey *sn_corr_key_new(struct sn_corr *c, struct crule *cr,
                             const char *kb, uint32_t klen, uint64_t hash,
                             int64_t t);
void sn_corr_ring_pop_front(struct ckey *k, bool seq);
/* Insert keeping time order; returns the position. */
uint32_t sn_corr_ring_insert(struct ckey *k, int64_t t, uint32_t tag,
                             uint32_t slot);
struct dval *sn_corr_vset_find(const struct ckey *k, uint64_t h);
/* Forget set values whose newest occurrence is before since. */
void sn_corr_set_purge(struct ckey *k, int64_t since);
/* A distinct rule's set of k reached its count: fire one signal over the
 * values held (first seen to k->last_t), then empty the set and its
 * evidence (correlate_window.c; also the restore merge's evaluation). */
void sn_corr_distinct_fire(struct sn_corr *c, struct crule *cr, struct ckey *k);
/* A threshold rule's window [first, last] of k holds count matches: one
 * signal, then the window's events are spent (and with refire per_window
 * the fired window opens). Feeding and the restore merge use it. */
void sn_corr_threshold_fire(struct sn_corr *c, struct crule *cr, struct ckey *k,
                            int64_t first, int64_t last, uint64_t count);
/* refire per_window (correlate_window.c): true when an event at t falls
 * in k's fired window and was absorbed (counted with weight w, nothing
 * else changes); otherwise a fired window that t (or the watermark) has
 * passed is closed first, its absorbed matches sent as one update
 * signal. sn_corr_window_close does the closing alone (advance). */
bool sn_corr_window_absorb(struct sn_corr *c, struct crule *cr, struct ckey *k,
                           int64_t t, uint64_t w);
void sn_corr_window_close(struct sn_corr *c, struct crule *cr, struct ckey *k,
                          int64_t now);
/* Count a match at t of weight w as absorbed by k's fired window (k
 * joins cr's pending list). */
void sn_corr_absorb(struct crule *cr, struct ckey *k, int64_t t, uint64_t w);
/* k onto / off cr's pending list (keys with absorbed matches in an open
 * window); adding a key on it, or removing one not on it, does nothing. */
void sn_corr_pending_add(struct crule *cr, struct ckey *k);
void sn_corr_pending_del(struct crule *cr, struct ckey *k);
/* advance: every pending key of cr whose window the watermark passed is
 * closed, and one whose update interval has passed sends its update. */
void sn_corr_pending_due(struct sn_corr *c, struct crule *cr);
/* A threshold or distinct match at t older than k's last firing (t <
 * k->reset_t), e.g. matches of several partitions interleaved through the
 * repartition hop: with refire per_window it is absorbed by the fired
 * window (an update signal of its own when that window has closed); a
 * threshold with every_threshold feeds it into the next window. Other
 * kinds, and distinct with every_threshold, spend it as before
 * (docs/correlation.md, "Late matches of a fired window"). */
void sn_corr_feed_late(struct sn_corr *c, struct crule *cr, struct ckey *k,
                       int64_t t, const struct sn_corr_input *in);

/* correlate_signal.c: evidence and signals. in, or in with its summary
 * rendered into c->sum (through tmp) when the caller left that to
 * summary_fn; valid until the next call. */
const struct sn_corr_input *sn_corr_with_summary(struct sn_corr *c,
                                                 const struct sn_corr_input *in,
                                                 struct sn_corr_input *tmp);
void sn_corr_slot_fill(const struct sn_corr *c, struct evslot *sl, int64_t t,
                       uint64_t seq, const struct sn_corr_input *in);
void sn_corr_evidence_add(struct sn_corr *c, struct ckey *k, int64_t t,
                          const struct sn_corr_input *in);
void sn_corr_evidence_reset(struct sn_corr *c, struct ckey *k);
void sn_corr_ev_from_slot(const struct evslot *sl, struct sn_corr_evidence *e);
/* First K and last K evidence with times in [lo, hi] into sig (borrowed
 * from c: valid until the next feed or advance). */
void sn_corr_evidence_collect(struct sn_corr *c, const struct ckey *k,
                              int64_t lo, int64_t hi, struct sn_signal *sig);
/* k may be NULL (rule-level signals). */
void sn_corr_sig_init(struct sn_corr *c, const struct crule *cr,
                      const struct ckey *k, struct sn_signal *sig,
                      enum sn_signal_state state, int64_t t);
/* The condition held for k: count it, signal unless suppressed. */
void sn_corr_hit(struct sn_corr *c, struct crule *cr, struct ckey *k,
                 struct sn_signal *sig);
void sn_corr_resolve(struct sn_corr *c, struct crule *cr, struct ckey *k,
                     int64_t t);
/* An update signal (SN_SIGNAL_UPDATE): emitted as is, not a hit. */
void sn_corr_update(struct sn_corr *c, const struct sn_signal *sig);
/* Report lost state (evictions, drops), at most once per interval. */
void sn_corr_degraded(struct sn_corr *c, struct crule *cr);

/* correlate_window.c: feed one event at time t to key k of cr. */
void sn_corr_feed_kind(struct sn_corr *c, struct crule *cr, struct ckey *k,
                       int64_t t, const struct sn_corr_input *in);

/* correlate_time.c: create the expected keys of cr (absence) and start
 * new_value learning once the engine knows the time. */
void sn_corr_prime(struct sn_corr *c, struct crule *cr);

/* Copy the key bytes into k (inline when they fit); false on ENOMEM. */
bool sn_corr_key_set_bytes(struct ckey *k, const char *kb, uint32_t klen);
/* Free what k owns besides itself (sn_corr_free). */
void sn_corr_key_bufs_free(struct ckey *k);

/* Used by the checkpoint code. */
struct ckey *sn_corr_key_alloc(struct sn_corr *c);
void sn_corr_key_release(struct sn_corr *c, struct crule *cr, struct ckey *k);
enum sn_status sn_corr_key_insert(struct sn_corr *c, struct crule *cr,
                                  struct ckey *k);
struct ckey *sn_corr_key_find(struct crule *cr, uint64_t hash, const char *kb,
                              uint32_t klen);
enum sn_status sn_corr_ring_reserve(struct sn_corr *c, struct crule *cr,
                                    struct ckey *k, uint32_t n);
enum sn_status sn_corr_ev_reserve(struct sn_corr *c, struct ckey *k,
                                  size_t n_slots);
enum sn_status sn_corr_set_reserve(struct ckey *k, uint32_t n);
void sn_corr_set_put(struct ckey *k, uint64_t h, int64_t t);
static inline struct evslot *
sn_corr_slot(const struct sn_corr *c, const struct ckey *k, size_t i)
{
    return (struct evslot *)(void *)(k->ev + i * c->slot_size);
}
static inline struct rent *
sn_corr_at(const struct ckey *k, uint32_t i)
{
    return &k->ring[(k->rhead + i) & (k->rcap - 1)];
}

/* correlate_merge.c: whether keys of cr add up (threshold, distinct,
 * new_value), and merging a restored key into a held one of the same
 * identity, evaluating the kind's condition at once (signals go out
 * through cfg.emit). from stays the caller's. */
bool sn_corr_mergeable(const struct crule *cr);
enum sn_status sn_corr_key_merge(struct sn_corr *c, struct crule *cr,
                                 struct ckey *into, const struct ckey *from);

/* correlate_owm.c: the entry of an origin (created; NULL on ENOMEM),
 * the watermark a key ages by, and one advance() tick. */
struct owm_entry *sn_corr_owm_get(struct crule *cr,
                                  const struct sn_corr_origin *o);
/* The newest of the engine's and the stream watermarks: the LRU walk of
 * advance() stops by it (a stream may be ahead of the engine). */
int64_t sn_corr_stream_wm_top(const struct sn_corr *c);
/* o's stream watermark; T_NONE when unknown (no entry, or none yet). */
int64_t sn_corr_stream_wm_of(const struct sn_corr *c,
                             const struct sn_corr_origin *o);
int64_t sn_corr_key_wm(const struct sn_corr *c, const struct crule *cr,
                       const struct ckey *k);
void sn_corr_owm_tick(struct sn_corr *c);

#endif
