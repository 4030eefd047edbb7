/*
 * in_kafka internals shared by its files: in_kafka.c (options, life cycle,
 * the poll thread with rebalances and pause/resume), in_kafka_emit.c (the
 * emit thread), in_kafka_track.c (which offsets are processed and may be
 * committed), in_kafka_dlq.c (dead letters). docs/kafka.md.
 */
#ifndef SN_PLUGINS_IN_KAFKA_H
#define SN_PLUGINS_IN_KAFKA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include <sentineld/plugin.h>

#include "../common/kafka_conf.h"

/* Messages taken from librdkafka per call, and chunks of them buffered
 * between the poll and the emit thread: 64 x 512 = 32768 messages at most
 * in hand; partitions are paused at 3/4 of that and resumed at 1/4 (a
 * pause drops librdkafka's prefetched data, so it must not flap). */
#define IK_CHUNK_MAX 512
#define IK_RING 64
#define IK_PAUSE_AT (IK_RING * 3 / 4)
#define IK_RESUME_AT (IK_RING / 4)

struct ik_conf {
    const char *brokers;
    struct sn_strlist topics;
    const char *group;
    int start_at;
    int64_t commit_interval_ms;
    int64_t rebalance_timeout_ms;
    bool pause_when_full;
    const char *dlq_topic;
    const char *dlq_file;
    struct sn_kvlist kafka;
    const char *checkpoints;        /* PostgreSQL DSN; NULL: none */
    int64_t checkpoint_interval_ms; /* 0: commit_interval */
    const char *instance_id;        /* static membership; NULL: none */
};

/* One (seq, next offset) step of a partition: once batch `seq` and every
 * batch before it are done, `next` may be committed. */
struct ik_step {
    uint64_t seq;
    int64_t next;
};

struct ik_part {
    char *topic;
    int32_t partition;
    bool assigned;
    /* Emit thread only: the latest step not yet published. */
    bool has_local;
    struct ik_step local;
    /* Under track_lock. */
    struct ik_step *steps;
    size_t n_steps, cap_steps;
    int64_t committable; /* -1: nothing new */
    int64_t committed;
    _Atomic int64_t position; /* next offset handed to the pipeline */
    struct sn_counter *lag;
    /* Which of the input's emitters carries this partition (modulo their
     * number): one, so the partition's records stay in order. */
    uint32_t route;
    /* Poll thread, with checkpoints: next_offset of the partition's row
     * as last read or written; -1: no row. */
    int64_t ckpt_next;
    /* Poll thread, with checkpoints: host->unprompted_signals() when the
     * partition's row was last read or written (UINT64_MAX: unknown). A
     * partition whose position did not move is saved again when it
     * changed: the clock may have changed its state. */
    uint64_t ckpt_gen;
    /* Poll thread, with checkpoints: the row's owner_epoch this instance
     * claimed at assignment (every write is conditional on it), and
     * whether a write found it taken over by another instance since
     * (then nothing of the partition is written, committed or emitted
     * until it is assigned again). in_kafka_ckpt.c. */
    int64_t ckpt_epoch;
    /* Poll thread, with checkpoints: a hash of the state in the row (as
     * restored or last written). A partition whose position did not move
     * is written again when its state did (a key the clock changed:
     * an absence fired, expected keys created at assignment). */
    uint64_t ckpt_hash;
    _Atomic bool ckpt_fenced; /* the emit thread reads it too */
};

struct ik_chunk {
    rd_kafka_message_t *msgs[IK_CHUNK_MAX];
    size_t n;
};

struct ik_state {
    struct kafka_ctx ctx; /* first: rd_kafka's opaque */
    const struct ik_conf *c;
    char member_id[256]; /* group.instance.id (instance_id); "" none */
    rd_kafka_t *rk;
    rd_kafka_queue_t *cq;
    /* One emitter per pipeline worker: each is bound to one worker, so
     * spreading the partitions over them spreads parsing and detection
     * over every core while each partition keeps its order. */
    struct sn_emitter **ems;
    unsigned n_ems;

    /* Chunks from the poll thread to the emit thread. */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* ring changed, or emit thread idle */
    struct ik_chunk ring[IK_RING];
    size_t head, count;
    bool emit_busy;  /* emitting a chunk right now */
    bool emit_stop;  /* emit thread: finish */
    bool paused;
    rd_kafka_topic_partition_list_t *paused_list; /* what set_paused paused */
    pthread_t emitter;
    bool emitter_started;
    bool closing;    /* destroy: rebalances only commit and unassign */
    bool got_assignment; /* an assignment (even empty) came since start */

    /* Offset tracking (in_kafka_track.c). */
    pthread_mutex_t track_lock;
    struct ik_part **parts;
    size_t n_parts;
    uint64_t *seqs; /* batches in flight, increasing; ring */
    bool *done;
    size_t seq_head, seq_n, seq_cap;
    uint64_t last_seq; /* emit thread: last seq registered */

    /* Dead letters (in_kafka_dlq.c). */
    rd_kafka_t *dlq_rk;
    rd_kafka_topic_t *dlq_t;
    int dlq_fd;
    pthread_mutex_t dlq_lock;

    struct ik_ckpt *ckpt; /* in_kafka_ckpt.c; NULL without checkpoints */

    int64_t last_commit_ms;
    struct sn_counter *c_consumed, *c_dead, *c_dead_failed, *c_commits,
        *c_commit_errors, *c_commit_deferred, *c_paused, *c_rebalances, *c_refetched;
};

int64_t ik_mono_ms(void);

/* in_kafka_emit.c */
void *ik_emit_main(void *arg);
/* At start: one emitter per worker (false: out of memory). */
bool ik_emitters_new(struct ik_state *s);
void ik_emitters_free(struct ik_state *s);
/* Fetch queue sizes in_kafka needs (see there), unless the user set them. */
void ik_fetch_defaults(rd_kafka_conf_t *conf, const struct sn_kvlist *user);

/* in_kafka_track.c. ik_part_get: find or add (poll thread or emit
 * thread, under track_lock inside). */
struct ik_part *ik_part_get(struct ik_state *s, const char *topic,
                            int32_t partition);
/* Emit thread: a record of p went into batch seq (0: processed at once). */
void ik_track(struct ik_state *s, struct ik_part *p, uint64_t seq,
              int64_t next);
/* Emit thread: publish the local steps (before a batch can complete). */
void ik_track_publish(struct ik_state *s);
void ik_batch_done(void *state, uint64_t seq);
/* Poll thread: commit what is committable; sync waits for the broker.
 * Returns false when the commit failed (nothing to commit is success).
 * only: commit just these partitions (NULL: all). */
bool ik_commit(struct ik_state *s, bool sync,
               const rd_kafka_topic_partition_list_t *only);
/* Commit l: asynchronously, or waiting for the result (at most a few
 * seconds: a lost coordinator must not hold a stop or a rebalance). */
rd_kafka_resp_err_t ik_commit_offsets(struct ik_state *s,
                                      const rd_kafka_topic_partition_list_t *l,
                                      bool sync);
/* True when no batch is in flight. */
bool ik_track_idle(struct ik_state *s);
void ik_update_lag(struct ik_state *s);
void ik_track_free(struct ik_state *s);

/* Poll thread: wait until everything handed to the emit thread was
 * emitted and flushed (then *emitted_ms, if not NULL, is that moment),
 * then until every batch in flight is done, up to the rebalance timeout.
 * True when nothing is in flight. */
bool ik_drain(struct ik_state *s, int64_t *emitted_ms);
/* True once the incidents of every batch done so far are stored (waits
 * up to 2 s when sync, else 250 ms). */
bool ik_signals_stored(struct ik_state *s, bool sync);

/* in_kafka_ckpt.c: partition checkpoints in PostgreSQL (option
 * `checkpoints`), all on the poll thread. init: counters and the DSN
 * check; start: create the table (an outage is not fatal). */
enum sn_status ik_ckpt_init(struct ik_state *s, char *err, size_t err_len);
void ik_ckpt_start(struct ik_state *s);
void ik_ckpt_free(struct ik_state *s);
/* Newly assigned partitions: claim each one's row (a new owner_epoch),
 * restore its state from it and set its start offset in parts (the
 * row's next_offset). Waits for PostgreSQL while it is down; false when
 * stopping meanwhile (assign nothing then). */
bool ik_ckpt_assign(struct ik_state *s, rd_kafka_topic_partition_list_t *parts);
/* One checkpoint of the assigned partitions in only (NULL: all) that
 * made progress: drain, write their rows in one transaction, then commit
 * the same offsets to Kafka (synchronously when sync). False when it was
 * deferred (in flight too long, incidents not stored, PostgreSQL down).
 * A partition whose row another instance claimed since our assignment
 * (we are a zombie owner) is fenced: not written, not committed, its
 * state released and the partition paused; that still counts as done. */
bool ik_ckpt_cycle(struct ik_state *s,
                   const rd_kafka_topic_partition_list_t *only, bool sync);
/* The partitions go to another owner: forget their state. */
void ik_ckpt_release(struct ik_state *s,
                     const rd_kafka_topic_partition_list_t *parts);

/* in_kafka_dlq.c */
/* in_kafka_member.c: static membership. Whether a configured
 * instance_id is usable (Kafka: at most 249 of [A-Za-z0-9._-], or
 * "auto"), and the group.instance.id it stands for. */
bool ik_member_id_valid(const char *id, char *err, size_t err_len);
void ik_member_id(struct ik_state *s, char *out, size_t len);

enum sn_status ik_dlq_open(struct ik_state *s, char *err, size_t err_len);
void ik_dlq_close(struct ik_state *s);
void ik_rejected(void *state, const struct sn_record *rec, const char *why);
/* Wait for dead letters in flight (before committing past them). */
void ik_dlq_flush(struct ik_state *s);

#endif
