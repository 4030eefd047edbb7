/* Internals shared by journal.c (writing, positions) and journal_read.c
 * (recovery, replay). Not used outside src/journal. */
#ifndef SN_JOURNAL_JOURNAL_INT_H
#define SN_JOURNAL_JOURNAL_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/buf.h"
#include "core/limits.h"
#include "journal/journal.h"

#define JN_HDR        8  /* u32 body length, u32 CRC32C of the body */
#define JN_BODY_FIXED 24 /* recv_ns, source_offset, three name lengths, 0 */

struct jn_slot {
    uint64_t end; /* journal position after the batch */
    bool done;
};

struct jn_sample {
    int64_t ms;   /* wall clock */
    uint64_t pos; /* the output position then */
};

struct sn_journal {
    struct sn_journal_conf c; /* a copy: outlives the config */
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* space freed; replay finished */
    int fd;            /* the segment being appended to, or -1 */
    uint64_t seg_base; /* its first position */
    uint64_t first;    /* position of the oldest segment kept */
    uint64_t end;      /* position after the last record */
    uint64_t *segs;    /* bases of the segments kept, ascending */
    size_t n_segs, cap_segs;
    struct sn_buf buf; /* one batch encoded */
    int64_t last_sync_ns;
    /* Group commit: [0, synced) is on disk. One thread at a time runs
     * fdatasync outside mu (syncing); the others wait on sync_cv, and an
     * fdatasync begun after their write serves them too. */
    uint64_t synced;
    bool syncing;
    pthread_cond_t sync_cv;
    bool full_logged;
    bool replaying;
    bool is_open;

    /* Consumers: batches numbered 1.. in append order; done_seq is the
     * count of the contiguous done prefix. */
    struct jn_slot *ring;
    size_t ring_cap;
    uint64_t next_seq, done_seq;
    uint64_t out_pos, det_pos;
    pthread_t pos_thread; /* writes positions, deletes segments */
    pthread_cond_t pos_cv;
    bool pos_started, pos_dirty, closing;
    struct jn_sample *samples;
    size_t s_head, n_samples;

    struct sn_counter *c_bytes, *c_records, *g_size, *g_segments,
        *c_replayed, *c_truncated, *c_truncated_bytes, *c_full_waits,
        *g_replaying;
    struct sn_histogram h_fsync; /* microseconds */
};

void jn_seg_path(const struct sn_journal *j, uint64_t base, char *out,
                 size_t len);
enum sn_status jn_segs_push(struct sn_journal *j, uint64_t base);
/* List segments, read positions, cut a torn tail of the last segment. */
enum sn_status jn_recover(struct sn_journal *j, struct sn_error *err);

static inline void
jn_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void
jn_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void
jn_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t
jn_get(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#endif
