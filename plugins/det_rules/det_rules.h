/*
 * det_rules internals shared by its files: det_rules.c (descriptor,
 * options, evaluation and annotation on the workers), det_rules_corr.c
 * (correlation shards, signals, the ticker), det_rules_coalesce.c (the
 * match signals of rules without a correlation, one per rule and key of
 * a batch), det_rules_ckpt.c (state
 * checkpoint across restarts and reloads) and det_rules_part.c (the
 * state of one source partition, moving between instances). docs/correlation.md
 * describes what users see; docs/rules.md the options.
 */
#ifndef SN_PLUGINS_DET_RULES_H
#define SN_PLUGINS_DET_RULES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "rules/correlate.h"
#include "rules/eval.h"
#include "rules/load.h"

struct dr_conf {
    struct sn_strlist rules;
    bool annotate;
    const char *signals_file;
    int match_signals; /* index into "info|low|medium|high|critical|none" */
    bool coalesce; /* one match signal per (rule, key) of a batch */
    int64_t max_keys, max_events, evidence;
    int64_t tick_ms;
    /* The repartition hop (det_rules_hop.c); off without a topic. */
    const char *hop_topic, *hop_brokers, *hop_input;
    const char *hop_like; /* the events topic: the hop's topic is made like it */
    struct sn_strlist topic_key;
    int64_t hop_linger_ms;
    int64_t hop_replication; /* of the topic sentineld creates; -1: broker's */
    int hop_ack; /* index into "batch|checkpoint" */
};

/* One matched event of a batch waiting for its shard: everything the
 * engine needs, copied out of the scratch (the next eval reuses it). */
struct dr_item {
    uint32_t shard;
    uint32_t ev;    /* index in the batch */
    uint32_t match; /* index in tls->matches */
    struct sn_corr_target t;
};

struct dr_match {
    const struct sn_rule *rule;
    struct sn_corr_origin origin; /* the record's partition */
    uint32_t ev;
    uint32_t fv, n_fv;     /* slice of tls->fv */
    uint32_t sum, sum_len; /* slice of tls->sums: the evidence JSON */
    int64_t time_ns, arrival_ns;
    uint32_t weight; /* events it stands for (a relay's repeat summary) */
};

/* A feed another shard must take (a signal-fed sequence): copied. */
struct dr_fwd {
    struct sn_corr_target t;
    const struct sn_rule *rule;
    const struct sn_record *rec; /* that triggered it (NULL: the clock) */
    struct sn_corr_origin origin;
    bool has_origin;
    int64_t time_ns;
    uint32_t n_fv;
    unsigned depth; /* in its chain (sn_corr_chain_depth) */
    struct sn_rule_field_value fv[SN_CORR_MAX_GROUP_BY];
    uint32_t off, len, sum_len; /* in tls->fwd_data: values, then summary */
};

/* (input, topic) ids a thread remembers per batch: a batch rarely holds
 * more than a few partitions' topics. */
#define DR_SRC_CACHE 4

/* A captured signal waiting in dr_tls.sigs: whose condition trace it
 * carries (trace_rule NULL: none), computed when it is rendered. */
struct dr_pending {
    const struct sn_rule *trace_rule;
    const struct sn_batch *batch;
    uint32_t ev;
};

/* A batch's matches of one (rule, group key, origin) of a rule without
 * a correlation, waiting to become one signal (det_rules_coalesce.c):
 * the matches (indices in dr_tls.matches) whose evidence it carries,
 * the first DR_CO_EVIDENCE and a ring of the last DR_CO_EVIDENCE. */
#define DR_CO_EVIDENCE SN_SIGNAL_EVIDENCE_MAX
/* Hash buckets of a thread's groups (chained): a batch has few. */
#define DR_CO_BUCKETS 256
struct dr_co_group {
    const struct sn_rule *rule;
    uint64_t hash; /* the signal's key_hash */
    struct sn_corr_origin origin;
    uint32_t key_off; /* key values in dr_tls.co_keys: u32 length + bytes */
    uint32_t next;    /* the bucket's next group + 1; 0: none */
    uint64_t n;       /* matches */
    int64_t first_ns, last_ns; /* earliest and latest event time */
    uint32_t first; /* its first match: time, trace, source */
    uint32_t prev;  /* the last match carried as evidence */
    uint32_t n_head, n_tail;
    uint32_t head[DR_CO_EVIDENCE], tail[DR_CO_EVIDENCE];
};

/* One event in this many has its rules' evaluation timed. */
#define DR_TIME_EVERY 64

/* Per-thread state (workers each have one; the ticker has its own). */
struct dr_tls {
    struct sn_rules_scratch *sc;
    struct dr_item *items;
    size_t n_items, cap_items;
    struct dr_match *matches;
    size_t n_matches, cap_matches;
    struct sn_rule_field_value *fv;
    size_t n_fv, cap_fv;
    struct sn_buf sums;  /* evidence summaries of this batch */
    struct sn_buf keys;  /* group keys routing built for the items */
    /* The summary head ({"host",.."fields":{) last rendered into sums,
     * of batch event head_ev (head_len 0: none). */
    uint32_t head_ev, head_off, head_len;
    /* Signals captured (sn_signal_capture) under shard locks, waiting to
     * be rendered into json and emitted once every lock is released. */
    struct sn_buf sigs;
    struct dr_pending *pend;
    size_t n_pend, cap_pend;
    struct sn_buf json;
    struct sn_signal_view view; /* scratch for reading a capture */
    struct sn_buf trace; /* scratch for one trace */
    struct dr_fwd *fwd;
    size_t n_fwd, cap_fwd;
    /* This batch's match signal groups (det_rules_coalesce.c). */
    struct dr_co_group *co;
    size_t n_co, cap_co;
    uint32_t co_bucket[DR_CO_BUCKETS]; /* group index + 1; 0: empty */
    struct sn_buf co_keys;
    struct sn_buf fwd_data;
    /* The event being fed, for the condition trace of its signals, and
     * its record, for their "source" (also set for forwarded feeds). */
    const struct sn_batch *batch;
    const struct dr_match *cur;
    const struct sn_record *cur_rec;
    /* The "source" of signals raised without a record: a partition's
     * restore merging keys (det_rules_part.c); NULL otherwise. */
    const struct sn_signal_source *restore_src;
    /* Source ids of this batch's (input, topic) pairs, by pointer: the
     * batch's strings stay put until it is released (cleared per batch,
     * since a later batch may reuse the addresses). */
    struct {
        const char *input, *topic;
        uint32_t id;
    } src_cache[DR_SRC_CACHE];
    uint32_t n_src_cache, src_next;
    /* Matches per rule (by rule index) in this batch, and the rules that
     * have any: added to the shared counters once per batch. */
    uint32_t *rule_hits;
    uint32_t *touched;
    size_t n_touched;
    uint64_t n_evals; /* events evaluated: picks the timed ones */
    /* Compact matches of this batch waiting to be produced to the
     * repartition topic (det_rules_hop.c): bytes, and per record its key
     * hash and slice. hop_seq numbers a record's matches. */
    struct sn_buf hop;
    struct dr_hop_rec *hop_recs;
    size_t n_hop, cap_hop;
    const struct sn_record *hop_last;
    uint32_t hop_seq;
    /* The condition trace a hopped match carried (stage 2), rendered into
     * its signals instead of evaluating the batch's event. */
    struct sn_str hop_trace;
    /* Stage 2's last lookups (a batch's matches are mostly of a few rules
     * and one source topic). */
    const struct sn_corr_spec *hop_spec_last;
    const struct sn_rule *hop_rule_last;
    int32_t hop_wm_rp;
    uint32_t hop_wm_src;
    char hop_wm_topic[128];
};

struct dr_state;
struct dr_hop;

/* One compact match in dr_tls.hop. */
struct dr_hop_rec {
    uint64_t hash;
    uint32_t off, len;
};

struct dr_shard {
    pthread_mutex_t mu;
    struct sn_corr *c;
    struct dr_state *s;
    struct dr_tls *tls; /* the thread holding mu */
};

struct dr_rule_counters {
    struct sn_counter *keys, *evicted, *dropped, *late, *signals;
    /* what each was last raised to (the ticker adds the difference) */
    uint64_t seen_keys, seen_evicted, seen_dropped, seen_late;
};

struct dr_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct dr_conf *c;
    struct sn_ruleset *rs;
    struct sn_corr_set *set;
    /* Workers call detect() concurrently: one scratch per thread. */
    pthread_key_t tls_key;
    bool key_made;
    struct dr_shard *shards;
    size_t n_shards;
    /* (input, topic) ids of the keys' origins, shared by every engine. */
    struct sn_corr_sources *sources;
    atomic_bool sources_full_logged;
    /* The watermark: newest event time seen, and when (monotonic). */
    _Atomic int64_t max_event_ns;
    _Atomic int64_t last_arrival_mono;
    /* When the ticker started (monotonic), and whether a checkpoint gave
     * the engines a time of their own: see dr_ticker_may_advance. */
    int64_t start_mono;
    bool restored;
    /* The ticker. */
    pthread_t ticker;
    bool ticker_started;
    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
    bool tick_stop;
    struct dr_tls *ticker_tls;
    /* Held by a tick from its advance until its signals are emitted, and
     * by a partition checkpoint: else a checkpoint could take a key whose
     * update signal left it but was not yet submitted, and the incidents
     * exported after it would miss that update's hits. */
    pthread_mutex_t advance_mu;
    bool sync_made;
    /* signals_file */
    pthread_mutex_t file_mu;
    FILE *signals_file;
    atomic_bool declined_logged;
    struct sn_counter *c_matches, *c_regex_errors, *c_signals,
        *c_signal_failures, *c_signals_file_errors, *c_ckpt_errors;
    struct dr_rule_counters *rc; /* per spec */
    /* Per rule (by rule index), for GET /api/v1/rules: matches and
     * signals; NULL entries when the daemon's host has no labelled
     * counters. */
    struct sn_counter **rule_matches, **rule_signals;
    /* Estimated nanoseconds evaluating each rule: one event in
     * DR_TIME_EVERY is timed (SN_RULES_TIME_RULES), its times counted
     * DR_TIME_EVERY times. */
    struct sn_counter **rule_eval_ns;
    /* The rule files' load-time diagnostics as a JSON array, for the
     * rules route (det_rules_api.c). */
    char *diags_json;
    /* The repartition hop (NULL: off) and, per spec, whether its matches
     * take it (the events topic is not keyed by its group_by). */
    struct dr_hop *hop;
    bool *hop_spec;
    /* Per spec: an absence rule whose expected keys are created by the
     * owner of their repartition partition (det_rules_hop.c). */
    bool *hop_expect;
};

/* The engine reads events through the host API (det_rules.c). */
struct dr_event {
    const struct sn_host *host;
    const struct sn_event *ev;
};
bool dr_get(void *ctx, int field_id, const char *name, size_t name_len,
            struct sn_value *out);

/* det_rules_api.c: keep d for the route; the route's handler. */
struct sn_diags;
enum sn_status dr_api_keep_diags(struct dr_state *s, const struct sn_diags *d);
void dr_api_rules(void *state, struct sn_http_req *rq);

/* det_rules_corr.c */
enum sn_status dr_corr_init(struct dr_state *s, char *err, size_t err_len);
void dr_corr_fini(struct dr_state *s);
enum sn_status dr_corr_start(struct dr_state *s, char *err, size_t err_len);
void dr_corr_stop(struct dr_state *s);
struct dr_tls *dr_tls_new(const struct dr_state *s);
void dr_tls_free(struct dr_tls *t);
/* Route the match m (of event ev in b) to the shards (match signals go
 * out at once into t->sigs); false on ENOMEM. */
bool dr_corr_collect(struct dr_state *s, struct dr_tls *t,
                     const struct sn_batch *b, uint32_t ev,
                     const struct sn_rule_match *m);
/* Feed the collected items shard by shard (one lock per shard per
 * batch), then emit every signal the batch produced. */
void dr_corr_flush(struct dr_state *s, struct dr_tls *t,
                   const struct sn_batch *b);
/* Feed what other shards were handed (t->fwd), then emit t->sigs: after
 * signals were raised outside a batch (a restore), with no lock held. */
void dr_corr_finish(struct dr_state *s, struct dr_tls *t);
/* Keep sig (of the event ev of t->batch, whose trace by trace_rule it
 * carries; trace_rule NULL: none) until the locks are released, and
 * count it (a coalesced signal as the events it stands for). */
void dr_capture(struct dr_state *s, struct dr_tls *t,
                const struct sn_signal *sig, const struct sn_rule *trace_rule,
                uint32_t ev);
/* Where rec sits in its source, for a signal's "source". */
void dr_source_of(const struct sn_record *rec, struct sn_signal_source *src);

/* det_rules_coalesce.c: the signal of match t->matches[m] of a rule
 * without a correlation: at once (coalesce off) or into its group; then
 * the groups' signals, before the batch's matches are let go. */
void dr_match_signal(struct dr_state *s, struct dr_tls *t, uint32_t m);
void dr_co_flush(struct dr_state *s, struct dr_tls *t);

/* Hand t->sigs to the incident manager and signals_file. */
void dr_emit_pending(struct dr_state *s, struct dr_tls *t);
/* Advance every shard to wm (the ticker; tests). */
void dr_corr_advance(struct dr_state *s, int64_t wm);
/* A batch's newest event time (0: none), for the watermark. */
void dr_note_times(struct dr_state *s, int64_t max_event_ns);
/* The watermark the ticker advances every shard to (det_rules_corr.c). */
int64_t dr_watermark(struct dr_state *s);

/* The origin of rec for a key (det_rules_corr.c): none unless it comes
 * from a partition. */
struct sn_corr_origin dr_origin(struct dr_state *s, struct dr_tls *t,
                                const struct sn_record *rec);

/* det_rules_ckpt.c */
void dr_ckpt_save(struct dr_state *s);
void dr_ckpt_restore(struct dr_state *s);
/* A standalone engine with the shards' settings (merging, re-splitting). */
/* Fill cfg with the settings every engine of s shares. */
void dr_engine_config(const struct dr_state *s, struct sn_corr_config *cfg);
struct sn_corr *dr_engine_new(struct dr_state *s);
/* Append the checkpoint container ("SNDRCKP1", shard count, per shard
 * u64 length + engine checkpoint) of the keys want() selects, each shard
 * under its lock; keys_only: sn_corr_checkpoint_keys. */
enum sn_status dr_ckpt_write(struct dr_state *s, sn_corr_want_fn want,
                             void *arg, bool keys_only, struct sn_buf *b);
/* Merge a container's shards into all; false (why in err) when it is
 * not one or is damaged. */
bool dr_ckpt_read(const void *data, size_t len, struct sn_corr *all,
                  bool keys_only, char *err, size_t err_len);
/* Shard i's keys: want filter for sn_corr_checkpoint*. */
struct dr_want_shard {
    size_t shard, n;
};
bool dr_want_shard(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
                   const struct sn_corr_origin *o);

/* det_rules_part.c: the plugin's partition_* callbacks. */
enum sn_status dr_partition_checkpoint(void *state,
                                       const struct sn_partition *p,
                                       struct sn_buf *out);
enum sn_status dr_partition_restore(void *state, const struct sn_partition *p,
                                    const void *data, size_t len, char *err,
                                    size_t err_len);
void dr_partition_release(void *state, const struct sn_partition *p);
/* At start, after the local file's restore: drop the keys of partitions
 * whose input restores them from its checkpoints when they are assigned
 * (host->partitions_checkpointed), the repartition hop's included; kept,
 * a key of a partition another instance owns now would signal here (a
 * fired window's update or close, an expected key's absence) under the
 * incident versions that instance makes. */
void dr_part_drop_checkpointed(struct dr_state *s);

/* det_rules_hop.c: the repartition hop (docs/scaling.md). */
enum sn_status dr_hop_init(struct dr_state *s, char *err, size_t err_len);
enum sn_status dr_hop_start(struct dr_state *s, char *err, size_t err_len);
void dr_hop_stop(struct dr_state *s);
void dr_hop_fini(struct dr_state *s);
/* Append the compact match of (in, target) of batch record rec to
 * t->hop, with the condition trace (may be empty). depth > 0: a
 * signal-fed sequence step at that chain depth. false on ENOMEM. */
bool dr_hop_put(struct dr_state *s, struct dr_tls *t,
                const struct sn_corr_input *in, const struct sn_corr_target *tg,
                const struct sn_record *rec, struct sn_str trace,
                unsigned depth);
/* Produce t->hop and wait until the topic acknowledged every record
 * (at-least-once: the batch, hence its offsets, is released after). */
bool dr_hop_send(struct dr_state *s, struct dr_tls *t);
/* True when b comes from the repartition input. */
bool dr_hop_is_hop_batch(struct dr_state *s, const struct sn_batch *b);
/* Feed a batch of compact matches to the engines (stage 2). */
enum sn_status dr_hop_consume(struct dr_state *s, struct dr_tls *t,
                              const struct sn_batch *b);
/* Partition checkpoints of the repartition input carry the marks of
 * the matches counted: prefix the blob / strip it on restore. */
bool dr_hop_is_hop_part(const struct dr_state *s, const struct sn_partition *p);
enum sn_status dr_hop_marks_write(struct dr_state *s,
                                  const struct sn_partition *p,
                                  struct sn_buf *b);
/* Reads the marks at the front of data, advancing *data and *len, and
 * the partition's time (INT64_MIN: the blob has none); false (why in
 * err) on a damaged section. */
bool dr_hop_marks_read(struct dr_state *s, const struct sn_partition *p,
                       const void **data, size_t *len, int64_t *wm, char *err,
                       size_t err_len);
void dr_hop_marks_drop(struct dr_state *s, const struct sn_partition *p);
/* Create the expected keys of absence rules whose repartition partition
 * is p (just assigned, after its checkpoint's keys), tagged with o. */
void dr_hop_expect(struct dr_state *s, const struct sn_partition *p,
                   const struct sn_corr_origin *o);
/* The hop's watermark (docs/scaling.md, "The hop's watermark"). beat:
 * the ticker sends this instance's watermark into every repartition
 * partition (nothing before this instance read an event). owned: p (a
 * repartition partition) is this instance's from now, its keys (origin
 * o) judged by the newest event time read from it, wm (INT64_MIN:
 * unknown) until a record says more; every shard is told at once.
 * push: every shard gets the partitions' current times (the ticker,
 * before it advances them); shard sh's lock held. dropped: p left. */
void dr_hop_beat(struct dr_state *s);
void dr_hop_owned(struct dr_state *s, const struct sn_partition *p,
                  const struct sn_corr_origin *o, int64_t wm);
void dr_hop_push(struct dr_state *s, struct dr_shard *sh);
void dr_hop_dropped(struct dr_state *s, const struct sn_partition *p);
/* repartition_ack checkpoint: before any partition's checkpoint row is
 * written, every match produced so far must be acknowledged. false (why
 * logged) when they are not within a few seconds: the row waits. */
bool dr_hop_flush(struct dr_state *s);

/* det_rules_hop_kafka.c (det_rules_hop_none.c without librdkafka): the
 * producer of the repartition topic. */
struct dr_hop_producer;
enum sn_status dr_hop_producer_new(struct dr_state *s,
                                   struct dr_hop_producer **out, char *err,
                                   size_t err_len);
/* Produce the n records of base (keyed by their hash) and wait until
 * the topic acknowledged every one (a full queue is waited out). false:
 * some failed (after librdkafka's retries) or the wait was cut short. */
bool dr_hop_producer_send(struct dr_hop_producer *p,
                          const struct dr_hop_rec *recs, size_t n,
                          const char *base, bool wait);
/* Wait up to timeout_ms until every message produced without waiting is
 * acknowledged; false when some are not (yet). */
bool dr_hop_producer_flush(struct dr_hop_producer *p, int timeout_ms);
/* The repartition partition the producer sends a key hash to (the
 * partitioner is pinned to librdkafka's consistent_random: CRC-32 of the
 * 16 hex digits modulo the topic's partitions), or -1 with why in err
 * when the topic's partition count cannot be read. */
int32_t dr_hop_producer_partition(struct dr_hop_producer *p, uint64_t hash,
                                  char *err, size_t err_len);
/* Produce rec (a watermark beat) to every partition of the topic,
 * without waiting for the acknowledgements (a lost beat is made up by
 * the next). false when not every partition got it. */
bool dr_hop_producer_beat(struct dr_hop_producer *p, const void *rec,
                          size_t len);
void dr_hop_producer_stop(struct dr_hop_producer *p);
void dr_hop_producer_free(struct dr_hop_producer *p);

#endif
