/*
 * Correlation: the stateful part of a rule (threshold, distinct, sequence,
 * absence, rate, new_value) over event time, with suppression, escalation
 * and auto-resolve. Two layers: a compiled, immutable set of correlation
 * specs (correlate_spec.c, shared by every thread) and an engine holding
 * per-key state (correlate.c, checkpoints in correlate_ckpt.c, signal JSON
 * in correlate_json.c). The daemon shards engines by hash(rule, group key):
 * one engine is only ever used by one thread, so nothing here locks but
 * the table of key origins the engines share (correlate_origin.c).
 * docs/correlation.md pins the semantics; read it before changing any.
 */
#ifndef SN_RULES_CORRELATE_H
#define SN_RULES_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "config/yaml.h"
#include "core/arena.h"
#include "core/buf.h"
#include "rules/eval.h"
#include "rules/load.h"

enum sn_corr_kind {
    SN_CORR_THRESHOLD = 0,
    SN_CORR_DISTINCT,
    SN_CORR_SEQUENCE,
    SN_CORR_ABSENCE,
    SN_CORR_RATE,
    SN_CORR_NEW_VALUE,
    /* Not a correlation: the signal of a rule without one, one per match
     * (det_rules and `sentineld test` emit these; specs never have it). */
    SN_CORR_MATCH,
};

/* "threshold", ... */
const char *sn_corr_kind_name(enum sn_corr_kind k);

/* Group-by fields per rule and steps per sequence: a key or a sequence
 * longer than this is not a detection anyone can read. */
#define SN_CORR_MAX_GROUP_BY 8
#define SN_CORR_MAX_STEPS    16
/* Bytes of one group-by value in a key; longer values keep a prefix plus
 * a hash of the whole value, so distinct long values stay distinct. */
#define SN_CORR_VALUE_MAX 128
/* Evidence events kept at each end of a window (first K, last K). */
#define SN_CORR_EVIDENCE_MAX 16
/* Evidence entries a signal may carry first and last (a capture keeps no
 * more): the engine's K is at most SN_CORR_EVIDENCE_MAX; det_rules'
 * coalesced match signals carry up to this many, so the incident
 * manager's window fills as their per-event signals would have filled it
 * even when some repeat an item it holds (det_rules_coalesce.c). */
#define SN_SIGNAL_EVIDENCE_MAX 32
/* Bytes of one event summary kept as evidence (longer ones are cut). */
#define SN_CORR_SUMMARY_MAX 1024
/* Open rate buckets per key: allowed_lateness / bucket + 2 must fit. */
#define SN_CORR_RATE_OPEN_MAX 8

/* The correlation part of one rule, validated. Durations in ns. */
struct sn_corr_spec {
    const struct sn_rule *rule;
    uint32_t index; /* in the set */
    enum sn_corr_kind kind;
    const char *const *group_by;
    size_t n_group_by;
    int64_t window_ns;       /* threshold, distinct, sequence */
    int64_t lateness_ns;     /* allowed_lateness; SN_RULES_LATENESS_DEFAULT_MS */
    bool lateness_set;       /* written in the rule (not the default) */
    int64_t suppress_ns;     /* 0: every hit signals */
    int64_t resolve_ns;      /* resolve_after; 0: never */
    uint32_t escalate_after; /* 0: no escalation */
    enum sn_rule_severity escalate_to;
    uint64_t count;    /* threshold, distinct */
    /* threshold, distinct: after firing, wait for the window (opened by
     * the fired window's first event) to close before firing again
     * (per_window, the default, as SEC's SingleWithThreshold), or fire
     * at every further count matches (every_threshold). */
    bool refire_every;
    const char *field; /* distinct, new_value */
    const struct sn_rule *steps[SN_CORR_MAX_STEPS];
    uint32_t n_steps;
    int64_t after_ns; /* absence */
    /* absence: expected keys, n_expected * n_group_by values */
    const char *const *expected;
    size_t n_expected;
    double alpha, k; /* rate */
    int64_t warmup_ns, bucket_ns;
    bool per_key;
    /* rate: a bucket with fewer events is no spike, whatever the
     * baseline (after a quiet spell the baseline is 0 +/- 0 and one
     * event would be). Not in the fingerprint: it changes when a
     * signal goes out, not the state a checkpoint holds. */
    uint64_t min_count;
    int64_t learn_ns;              /* new_value */
    uint32_t max_keys, max_events; /* 0: the engine's */
    uint64_t fingerprint;          /* hash of everything above: restore skips
                                    * checkpointed rules whose definition changed */
    int line, col;                 /* of the kind's key, for messages */
    /* Filled by sn_corr_set_build, so routing a match needs no strlen or
     * field-table lookup: the FNV state after the rule id (with its NUL),
     * and per group-by field its ruleset id (INT32_MAX: unknown there) and
     * length. */
    uint64_t id_hash;
    int group_by_ids[SN_CORR_MAX_GROUP_BY];
    size_t group_by_lens[SN_CORR_MAX_GROUP_BY];
    /* The field table's copy of each name (extracted fields name
     * themselves with it), or group_by's own when the table lacks it. */
    const char *group_by_names[SN_CORR_MAX_GROUP_BY];
};

/* Correlation specs of a whole ruleset; immutable once built. */
struct sn_corr_set {
    const struct sn_ruleset *rs;
    struct sn_corr_spec *specs;
    size_t n_specs;
    /* For ruleset rule index r: the specs a match of r feeds (its own,
     * and every sequence naming r as a step). */
    uint32_t **targets;
    uint32_t *n_targets;
    /* For spec i: the sequences fed by its firing signals (sequence steps
     * naming a rule with a correlation of its own). */
    uint32_t **sig_targets;
    uint32_t *n_sig_targets;
    int32_t *spec_of_rule; /* rule index -> spec index, -1: none */
    /* For rule index r without a correlation: its group_by (the key of
     * its match signals; n 0: none). */
    const char *const **match_group_by;
    size_t *n_match_group_by;
    struct sn_arena arena;
};

/*
 * Parse the correlation keys of rule r (pairs as load.c keeps them, or
 * any mapping's pairs) into *out (strings in arena). rs resolves sequence
 * steps (NULL: steps are reported unknown). Keys that are not about
 * correlation (samples) are ignored. Returns SN_DECLINED when r has no
 * correlation, SN_ECONFIG when a problem was reported to d.
 */
enum sn_status sn_corr_spec_parse(const struct sn_ruleset *rs,
                                  const struct sn_rule *r,
                                  const struct sn_pair *const *pairs,
                                  size_t n_pairs, struct sn_arena *arena,
                                  struct sn_corr_spec *out, struct sn_diags *d);

/* Every rule's correlation in rs (which must outlive the set). SN_ECONFIG
 * when any rule had errors (*out NULL). */
enum sn_status sn_corr_set_build(const struct sn_ruleset *rs,
                                 struct sn_corr_set **out, struct sn_diags *d);
void sn_corr_set_free(struct sn_corr_set *set);
/* The spec of the rule with this id, or NULL. */
const struct sn_corr_spec *sn_corr_set_find(const struct sn_corr_set *set,
                                            const char *rule_id);

/*
 * Where a key's events come from: one source partition (a Kafka topic's
 * partition read by one input). src is an id from sn_corr_sources (0:
 * none), part the partition (-1: none). A key remembers the origin of the
 * last record that fed it, so the caller can move the keys of one
 * partition between engines (sn_corr_drop, want filters, restore_keys).
 */
struct sn_corr_origin {
    uint32_t src;
    int32_t part;
};
#define SN_CORR_ORIGIN_NONE ((struct sn_corr_origin){ 0, -1 })

/*
 * Interned (input, topic) pairs, shared by a caller's engines (cfg.sources)
 * so that a key's origin costs 8 bytes; checkpoints carry the names, so
 * ids need not agree between processes. Thread-safe; lookups take no lock.
 * At most SN_CORR_SOURCES_MAX pairs.
 */
#define SN_CORR_SOURCES_MAX 4096
struct sn_corr_sources;
struct sn_corr_sources *sn_corr_sources_new(void);
void sn_corr_sources_free(struct sn_corr_sources *s);
/* The id of (input, topic) (topic may be NULL), interned on first use;
 * 0 on ENOMEM or when the table is full. */
uint32_t sn_corr_source_id(struct sn_corr_sources *s, const char *input,
                           const char *topic);
/* The id, or 0 when the pair was never interned. */
uint32_t sn_corr_source_find(const struct sn_corr_sources *s, const char *input,
                             const char *topic);
/* The names of id (valid until the table is freed; topic "" when it was
 * NULL); false for an unknown id. */
bool sn_corr_source_names(const struct sn_corr_sources *s, uint32_t id,
                          const char **input, const char **topic);

/* One matched event as the engine sees it; everything is borrowed for the
 * duration of the call (the engine copies what it keeps). */
struct sn_corr_input {
    const struct sn_rule *rule;               /* the rule that matched */
    const struct sn_rule_field_value *fields; /* its extracted fields */
    size_t n_fields;
    const struct sn_rule_event *ev; /* other fields; may be NULL */
    int64_t time_ns;                /* event timestamp; 0: none */
    int64_t arrival_ns;             /* receive time; 0: unknown */
    /* How many events the match stands for: a relay's "message repeated
     * N times" (rules/repeat.h) is N. threshold and rate count it N
     * times; 0 is 1. */
    uint32_t weight;
    const char *summary; /* evidence text (or JSON, see summary_is_json) */
    size_t summary_len;
    bool summary_is_json; /* written raw into signal JSON: must be valid */
    /* Or, with summary NULL: the engine calls summary_fn to append the
     * summary to out only when it keeps the event as evidence (a match
     * absorbed by a fired window, or fed with evidence off, never needs
     * one: rendering every match's summary was a tenth of a replay). Any
     * status but SN_OK: the event is kept without a summary. */
    enum sn_status (*summary_fn)(const struct sn_corr_input *in, void *arg,
                                 struct sn_buf *out);
    void *summary_arg;
    /* The record's origin; with has_origin false (a feed no record made,
     * e.g. a signal raised by the clock), keys keep the origin they had. */
    struct sn_corr_origin origin;
    bool has_origin;
    /* The stream whose order lateness is judged against, when it is not
     * the key's origin (has_wm_origin false: origin): a repartition
     * partition interleaves several source partitions' matches, each in
     * its own order, so det_rules names (repartition partition, source
     * partition) here while the key belongs to the repartition partition. */
    struct sn_corr_origin wm_origin;
    bool has_wm_origin;
    /* For sn_corr_feed_target: the target's encoded group key as
     * sn_corr_route_keys built it, so the engine need not build it again
     * (NULL: the engine builds it from the fields). */
    const char *key;
    size_t key_len;
};

/* The shard of a key hash: hash % n_shards, without the division when
 * n_shards is a power of two (1, 2, 4 workers), since every feed and
 * every routed match asks. */
static inline uint32_t
sn_corr_shard(uint64_t hash, uint64_t n_shards)
{
    return (uint32_t)((n_shards & (n_shards - 1)) == 0
                          ? hash & (n_shards - 1)
                          : hash % n_shards);
}

/* Where a match goes: spec index and the key hash shards route on. */
struct sn_corr_target {
    uint32_t spec;
    uint64_t hash;
    /* sn_corr_route_keys only: where the key is in its buffer. */
    bool has_key;
    uint32_t key_off, key_len;
};

/*
 * The targets of in (at most max stored; returns how many there are).
 * Targets whose group-by fields are missing are left out. The hash is
 * stable across processes and versions (FNV-1a of rule id and key), so
 * Kafka partitioning and checkpoints can rely on it.
 */
size_t sn_corr_route(const struct sn_corr_set *set,
                     const struct sn_corr_input *in, struct sn_corr_target *out,
                     size_t max);
/*
 * sn_corr_route, also appending each stored target's encoded key to keys
 * (has_key, key_off, key_len) when feeding it later cannot read other
 * values: every group-by value is one of in->fields or a header field.
 * A caller that keeps in->fields and the event as they are may then feed
 * the target with sn_corr_input.key = keys->data + key_off.
 */
size_t sn_corr_route_keys(const struct sn_corr_set *set,
                          const struct sn_corr_input *in,
                          struct sn_corr_target *out, size_t max,
                          struct sn_buf *keys);

enum sn_signal_state {
    SN_SIGNAL_FIRING = 0,
    SN_SIGNAL_RESOLVED, /* resolve_after elapsed, or an absent key is back */
    SN_SIGNAL_DEGRADED, /* state bounds forced eviction: detection is partial */
    /* A fired window closed: count matches arrived in it after the
     * firing signal (refire per_window); adds to the incident's counts,
     * is not a new hit. */
    SN_SIGNAL_UPDATE,
};

struct sn_corr_evidence {
    int64_t time_ns;
    const char *summary;
    size_t summary_len;
    bool is_json;
    const struct sn_rule *step; /* sequence steps: the step's rule */
};

/* The record that triggered a signal: fields absent when NULL / -1. */
struct sn_signal_source {
    const char *input; /* input instance name */
    const char *topic; /* Kafka topic, or the record's peer (address, path) */
    int32_t partition; /* Kafka partition */
    int64_t offset;    /* Kafka offset, or byte offset in a stream or file */
};

/* What the engine emits. Pointers are valid during the emit callback. */
struct sn_signal {
    const struct sn_corr_spec *spec;
    const char *rule_id;
    enum sn_corr_kind kind;
    enum sn_signal_state state;
    enum sn_rule_severity severity; /* after escalation */
    enum sn_rule_severity base_severity;
    const char *const *key_fields;
    const struct sn_str *key_values;
    size_t n_key;
    uint64_t key_hash;
    int64_t time_ns;     /* event time the signal is about */
    uint64_t repeat;     /* hits of this key so far (1 = first) */
    uint64_t suppressed; /* hits suppressed since the previous signal */
    /* A "match" signal standing for this many per-event match signals of
     * one detector batch (det_rules_coalesce.c); 0 or 1: one event. */
    uint64_t coalesced;
    /* window math */
    uint64_t count, threshold;
    int64_t first_ns, last_ns, window_ns;
    double mean, stddev, k; /* rate: baseline the count beat */
    struct sn_str value;    /* new_value: the new value */
    const struct sn_corr_evidence *first, *last, *steps;
    size_t n_first, n_last, n_steps;
    /* degraded */
    uint64_t keys_evicted, events_dropped;
    /* Set by the caller before sn_signal_json, not by the engine: the
     * rule (NULL: spec->rule) for title/description/tags, and the
     * condition trace of the triggering event as a JSON object
     * (sn_rules_explain_json; empty: no trace). */
    const struct sn_rule *rule;
    struct sn_str trace;
    /* Also the caller's: the record that triggered the signal (NULL:
     * none, e.g. raised by the clock), rendered as "source". */
    const struct sn_signal_source *source;
};

typedef void (*sn_corr_emit_fn)(void *arg, const struct sn_signal *sig);
/* A firing signal feeds a sequence whose key lives in another shard: the
 * caller must feed (in, t) to that shard's engine with
 * sn_corr_feed_target. Everything is borrowed for the call. */
typedef void (*sn_corr_forward_fn)(void *arg, const struct sn_corr_input *in,
                                   const struct sn_corr_target *t);

struct sn_corr_config {
    uint32_t max_keys;   /* per rule; 0: 100000 */
    uint32_t max_events; /* per key; 0: 256 */
    uint32_t evidence_k; /* first K and last K; 0: 3 (set no_evidence) */
    bool no_evidence;
    uint32_t summary_max;         /* bytes; 0: 160 */
    int64_t degraded_interval_ns; /* 0: 10 minutes */
    uint32_t shard, n_shards;     /* feed only targets with hash % n == shard */
    sn_corr_emit_fn emit;
    void *emit_arg;
    sn_corr_forward_fn forward; /* NULL: other shards' feeds are dropped */
    /* Names of the origins' src ids (shared by the caller's engines;
     * must outlive them). NULL: checkpoints carry no origins and restore
     * drops them. */
    struct sn_corr_sources *sources;
};

struct sn_corr_rule_stats {
    uint64_t events;       /* counted */
    uint64_t late_dropped; /* older than watermark - allowed_lateness */
    uint64_t no_key;       /* a group-by field was missing */
    uint64_t hits, signals, suppressed, resolved;
    uint64_t keys, keys_evicted, keys_reclaimed;
    uint64_t events_dropped; /* per-key bounds overflowed */
    uint64_t degraded_signals;
};

struct sn_corr;

/* An engine over set (which must outlive it). NULL on ENOMEM. */
struct sn_corr *sn_corr_new(const struct sn_corr_set *set,
                            const struct sn_corr_config *cfg);
void sn_corr_free(struct sn_corr *c);
/*
 * Signal-fed sequence steps of the specs flagged in away (indexed by
 * spec, n_specs entries; NULL: none) always go to cfg.forward, whatever
 * the shard: the caller feeds them elsewhere (det_rules' repartition
 * hop). The array must outlive the engine. During the forward call,
 * sn_corr_chain_depth says how deep in a chain the step is.
 */
void sn_corr_forward_away(struct sn_corr *c, const bool *away);
unsigned sn_corr_chain_depth(const struct sn_corr *c);
/* Feed a step that left through forward at the depth it had there
 * (sequences of sequences stay bounded across instances). */
enum sn_status sn_corr_feed_at_depth(struct sn_corr *c,
                                     const struct sn_corr_input *in,
                                     const struct sn_corr_target *t,
                                     unsigned depth);

/*
 * Feed one match: updates every target of in->rule in this engine's
 * shard and emits signals synchronously through cfg->emit. Event time is
 * in->time_ns, or arrival when absent or more than allowed_lateness ahead
 * of arrival. SN_ENOMEM only when a first-time allocation fails.
 */
enum sn_status sn_corr_feed(struct sn_corr *c, const struct sn_corr_input *in);
/* The same for one target from sn_corr_route (a shard's worker). */
enum sn_status sn_corr_feed_target(struct sn_corr *c,
                                   const struct sn_corr_input *in,
                                   const struct sn_corr_target *t);
/*
 * Raise the watermark to now_ns (if it is later) and run time-driven
 * checks: absence, resolve_after, and reclaiming idle keys. Call it from
 * a timer with the watermark the caller trusts (event time when the
 * stream is busy, the clock when it is quiet).
 */
enum sn_status sn_corr_advance(struct sn_corr *c, int64_t now_ns);
int64_t sn_corr_watermark(const struct sn_corr *c);
/* Counters of spec i (zeros for an out-of-range index). */
void sn_corr_rule_stats(const struct sn_corr *c, size_t spec,
                        struct sn_corr_rule_stats *out);

/*
 * Append the engine's state (all keys, or those for which want(arg, spec,
 * hash, origin) is true) to out in a versioned binary format. Restore
 * merges it into an engine over a set that may differ: rules are matched
 * by id and skipped when their definition changed; restored keys replace
 * keys of the same identity. SN_EINVAL (with nothing changed that was not
 * complete) on a truncated or foreign buffer.
 */
typedef bool (*sn_corr_want_fn)(void *arg, const struct sn_corr_spec *spec,
                                uint64_t hash,
                                const struct sn_corr_origin *origin);
enum sn_status sn_corr_checkpoint(const struct sn_corr *c, sn_corr_want_fn want,
                                  void *arg, struct sn_buf *out);
enum sn_status sn_corr_restore(struct sn_corr *c, const void *data, size_t len);
/* Restore adds the saved per-rule counters to the engine's. An engine
 * split into shards gives them to one shard: the others clear theirs
 * (keys, which count what the engine holds, stay). */
void sn_corr_clear_stats(struct sn_corr *c);
/*
 * Moving keys between engines that keep running (the keys of one source
 * partition): checkpoint_keys writes only the rules that have wanted keys;
 * restore_keys merges keys only, leaving the engine's watermark, counters
 * and rule state alone (a new_value rule adopts an earlier learning
 * start). With tag, every restored key takes that origin. A restored key
 * of a threshold, distinct or new_value rule that the engine already
 * holds (fed from another partition) is merged into it, its events
 * treated as arriving now: a condition the union meets fires at once,
 * through cfg.emit (docs/correlation.md, "Merging restored keys"); other
 * kinds' keys replace the held one. Either restore reads checkpoints of
 * either writer.
 */
enum sn_status sn_corr_checkpoint_keys(const struct sn_corr *c,
                                       sn_corr_want_fn want, void *arg,
                                       struct sn_buf *out);
enum sn_status sn_corr_restore_keys(struct sn_corr *c, const void *data,
                                    size_t len,
                                    const struct sn_corr_origin *tag);
/* Forget every key for which want() is true (nothing is signalled);
 * returns how many. */
size_t sn_corr_drop(struct sn_corr *c, sn_corr_want_fn want, void *arg);
/*
 * Expected keys owned by partitions: the absence specs flagged in
 * deferred (indexed by spec, n_specs entries; NULL: none) get no expected
 * key from the engine's first watermark; the caller creates them with
 * sn_corr_prime_keys when it takes the partition that owns them (det_rules:
 * the repartition partition of their hash), so that one instance of a
 * group expects each key. The array must outlive the engine.
 */
void sn_corr_prime_deferred(struct sn_corr *c, const bool *deferred);
/*
 * Create the expected keys of deferred specs in this engine's shard that
 * want(arg, spec, hash, tag) selects and that the engine does not hold
 * (a restored key keeps its state), tagged with origin tag, as last seen
 * at the engine's watermark (now_ns while it has none). Returns how many
 * were created.
 */
size_t sn_corr_prime_keys(struct sn_corr *c, sn_corr_want_fn want, void *arg,
                          const struct sn_corr_origin *tag, int64_t now_ns);

/*
 * Stream watermarks: the keys whose origin is o are judged by wm (the
 * newest event time of the stream that feeds them, as its reader knows
 * it) instead of the engine's watermark: absence, window closes and
 * resolve_after of those keys wait for that stream, however far the
 * engine's other feeds are ahead. det_rules sets one per repartition
 * partition it owns (docs/scaling.md, "The hop's watermark"). wm INT64_MIN:
 * the origin's time is not known yet: its keys wait. set: ENOMEM when the table cannot grow (the keys then follow
 * the engine's watermark, as before). clear: the origin goes back to the
 * engine's watermark (its partition was released).
 */
enum sn_status sn_corr_stream_wm_set(struct sn_corr *c,
                                     const struct sn_corr_origin *o,
                                     int64_t wm);
void sn_corr_stream_wm_clear(struct sn_corr *c, const struct sn_corr_origin *o);

/*
 * Forget the lateness watermarks (per rule and key origin,
 * correlate_owm.c) of the origins want accepts; how many went. For a
 * partition this instance lets go or takes again from a checkpoint: its
 * records may be read again from an earlier offset, and against the
 * newest time read before they were dropped as late (scale_hop.sh: an
 * instance given back a lost repartition partition dropped the first
 * rounds of an attack, and the next owner opened a second incident).
 */
typedef bool (*sn_corr_origin_fn)(void *arg, const struct sn_corr_origin *o);
size_t sn_corr_owm_drop(struct sn_corr *c, sn_corr_origin_fn want, void *arg);

/* Why a buffer is not a checkpoint this build reads, in words, into err
 * ("" when its header is fine): tells a newer format from damage. */
void sn_corr_checkpoint_check(const void *data, size_t len, char *err,
                              size_t err_len);

/* An event's evidence summary as JSON, {"host","app","msg","fields"},
 * for sn_corr_input.summary with summary_is_json (parts cut to fit: msg
 * 240 bytes, values 48, 8 fields). Appended to out; SN_ELIMIT (and out
 * unchanged) when it would exceed SN_CORR_SUMMARY_JSON_MAX bytes. rule is
 * the rule that matched (or NULL): fields ending with its `set` fields
 * copy their JSON rendered at load (sn_rule.consts_json), the same bytes. */
#define SN_CORR_SUMMARY_JSON_MAX 512
enum sn_status sn_corr_summary_json(struct sn_buf *out, struct sn_str host,
                                    struct sn_str app, struct sn_str msg,
                                    const struct sn_rule *rule,
                                    const struct sn_rule_field_value *fields,
                                    size_t n_fields);
/* The same in two parts, for a caller rendering several summaries of one
 * event (the rules it matched extract different fields): the head up to
 * and including "fields":{ depends on the event alone and may be copied;
 * _fields appends the rest to a summary that began at start, and cuts
 * out back to start on SN_ELIMIT. */
void sn_corr_summary_json_head(struct sn_buf *out, struct sn_str host,
                               struct sn_str app, struct sn_str msg);
enum sn_status sn_corr_summary_json_fields(
    struct sn_buf *out, size_t start, const struct sn_rule *rule,
    const struct sn_rule_field_value *fields, size_t n_fields);
/* One field of a summary, "name":value with the value cut as above
 * (what sn_rule.consts_json holds for each `set` field); appends what
 * fits, and says whether all of it did. */
enum sn_status sn_corr_summary_field(struct sn_buf *out, const char *name,
                                     size_t name_len, const struct sn_value *v);

/* "firing", "resolved", "degraded", "update". */
const char *sn_signal_state_name(enum sn_signal_state st);
/* One signal as a JSON object (docs/correlation.md has the shape; its
 * scalar fields are listed in rules/signal_fields.h). */
enum sn_status sn_signal_json(const struct sn_signal *sig, struct sn_buf *out);

/*
 * Signals captured as compact data (correlate_capture.c), for an emit
 * callback that must not spend a signal's JSON where it runs (under a
 * shard's lock): capture appends sig (with copies of every byte it points
 * to but the ruleset's: rule, spec, key field names, step rules) to out;
 * SN_ELIMIT at out's bound. captured reads the record at data + *off into
 * *v (pointers into data and v, valid while both are), advancing *off;
 * false at the end of data.
 */
struct sn_signal_view {
    struct sn_signal sig;
    struct sn_str key_values[SN_CORR_MAX_GROUP_BY];
    struct sn_corr_evidence first[SN_SIGNAL_EVIDENCE_MAX];
    struct sn_corr_evidence last[SN_SIGNAL_EVIDENCE_MAX];
    struct sn_corr_evidence steps[SN_CORR_MAX_STEPS];
    struct sn_signal_source src;
};
enum sn_status sn_signal_capture(const struct sn_signal *sig,
                                 struct sn_buf *out);
bool sn_signal_captured(const char *data, size_t len, size_t *off,
                        struct sn_signal_view *v);

#endif
