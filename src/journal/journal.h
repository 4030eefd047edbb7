/*
 * The durable ingest journal (docs/journal.md): every batch an input hands
 * to the pipeline is appended to segment files in <state_dir>/journal
 * before the batch is processed, so a RELP acknowledgement (sent once
 * flush() returned) means "on disk", and a restart replays what the
 * pipeline had not finished, plus the last `replay_window` of records
 * through the detectors so open correlation windows come back.
 *
 * Positions are byte offsets in one endless log: a segment is named by the
 * position of its first byte (%020llu.seg, as Kafka names its segments) and
 * holds records back to back, each { u32 length, u32 CRC32C of the body,
 * body }, little-endian; the body is { i64 recv_ns, i64 source_offset,
 * u16 input length, u16 peer length, u16 transport length, u16 0,
 * input, peer, transport, data }.
 *
 * Consumers: the pipeline reports each journaled batch done (every detector
 * and event output finished with it, sn_journal_done); the contiguous
 * prefix of done batches is the output position. The detector position is
 * the output position as it was `replay_window` ago. Both are written to
 * <dir>/positions (rename, at most every POSITIONS_MS); segments wholly
 * below both are deleted. Positions never name a byte not yet synced, so
 * a power loss cannot leave them past the end of what survived.
 *
 * Durability: an append that must be durable (an input about to
 * acknowledge, RELP) returns after an fdatasync that began after its
 * write; concurrent ones share it (group commit). Other appends (TCP,
 * UDP: nobody is told anything) only write; the positions thread syncs
 * them within POSITIONS_MS, a kill -9 loses none of them (the kernel
 * holds the pages). Thread-safe: one mutex, fdatasync outside it.
 */
#ifndef SN_JOURNAL_JOURNAL_H
#define SN_JOURNAL_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "metrics/metrics.h"

struct sn_batch;
struct sn_journal;


/* One record read back by sn_journal_replay; pointers valid during the
 * callback only. */
struct sn_journal_rec {
    uint64_t pos, end; /* where it starts and ends in the journal */
    int64_t recv_ns, source_offset;
    const char *input, *peer, *transport; /* NUL-terminated */
    const char *data;
    uint32_t len;
    bool detect_only; /* before the output position: outputs had it */
};

/* Open (creating) the directory, read the positions, scan the last
 * segment and truncate a torn tail at the last good record (counted).
 * Metrics are registered in m. */
enum sn_status sn_journal_open(const struct sn_journal_conf *c,
                               const char *state_dir, struct sn_metrics *m,
                               struct sn_journal **out, struct sn_error *err);
/* Flush positions, fdatasync, close (NULL accepted). */
void sn_journal_free(struct sn_journal *j);

/* Append b's records (received by the input named input) with one write
 * and set b->jseq; *end gets the journal position after them. durable:
 * return only once they are on disk (fdatasync, shared with concurrent
 * appends; with fsync_interval set, once per interval). Waits while the
 * journal is over max_size unless *cancel turns true (then SN_AGAIN).
 * SN_EIO: the write or fdatasync failed (err). */
enum sn_status sn_journal_append(struct sn_journal *j, struct sn_batch *b,
                                 const char *input, const _Atomic bool *cancel,
                                 bool durable, uint64_t *end,
                                 struct sn_error *err);
/* Return once every record before position upto is on disk (as a durable
 * append does; fsync_interval applies). SN_EIO with err on failure. */
enum sn_status sn_journal_sync(struct sn_journal *j, uint64_t upto,
                               struct sn_error *err);
/* Register a replayed batch ending at journal position end (b->jseq). */
void sn_journal_track(struct sn_journal *j, struct sn_batch *b, uint64_t end);
/* Every consumer is done with the batch numbered jseq (!= 0). */
void sn_journal_done(struct sn_journal *j, uint64_t jseq);

/* Call fn for every record from the detector position on, in order; stops
 * at the first non-OK return. SN_OK when all were read. Only before the
 * first append. */
typedef enum sn_status (*sn_journal_rec_fn)(void *arg,
                                            const struct sn_journal_rec *r);
enum sn_status sn_journal_replay(struct sn_journal *j, sn_journal_rec_fn fn,
                                 void *arg, struct sn_error *err);
/* Replay state for /health and for inputs waiting to start. */
void sn_journal_set_replaying(struct sn_journal *j, bool on);
bool sn_journal_replaying(struct sn_journal *j);
/* Wait until replay finished or *cancel is true. */
void sn_journal_wait_replayed(struct sn_journal *j, const _Atomic bool *cancel);

uint32_t sn_crc32c(uint32_t crc, const void *p, size_t n);

#endif
