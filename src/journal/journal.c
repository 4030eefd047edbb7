/*
 * The ingest journal: segments, group commit, consumer positions and
 * segment deletion. Reading back (torn tails, replay) is journal_read.c.
 * See journal.h for the format and docs/journal.md for the guarantees.
 */
#define _GNU_SOURCE
#include "journal/journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/status.h"
#include "core/statefile.h"
#include "pipeline/batch.h"

/* Positions are written at most this often: a crash replays at most this
 * much more than needed, and the rename is off the per-batch path. */
#define POSITIONS_MS 200
/* Samples of the output position kept to find where replay_window ago
 * was; one per POSITIONS_MS at most, so 4096 cover 13 minutes at the
 * densest and any window once spaced by window / SAMPLES. */
#define SAMPLES 4096

void
jn_seg_path(const struct sn_journal *j, uint64_t base, char *out, size_t len)
{
    snprintf(out, len, "%s/%020" PRIu64 ".seg", j->dir, base);
}

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Caller holds mu: no fdatasync of j->fd runs outside it afterwards, so
 * the descriptor may be closed. */
static void
wait_sync_idle(struct sn_journal *j)
{
    while (j->syncing)
        pthread_cond_wait(&j->sync_cv, &j->mu);
}

/* Caller holds mu; may release it while fdatasync runs. Everything before
 * position upto is on disk when this returns SN_OK. */
static enum sn_status
sync_to(struct sn_journal *j, uint64_t upto, struct sn_error *err)
{
    while (j->synced < upto) {
        uint64_t target = j->end;
        int fd = j->fd, rc, e;
        int64_t t0, t1;

        if (j->syncing) {
            pthread_cond_wait(&j->sync_cv, &j->mu);
            continue;
        }
        if (fd < 0) {
            sn_error_set(err, "journal %s: no segment open to sync", j->dir);
            return SN_EIO;
        }
        j->syncing = true;
        pthread_mutex_unlock(&j->mu);
        t0 = sn_clock_mono_ns();
        rc = fdatasync(fd);
        e = errno;
        t1 = sn_clock_mono_ns();
        pthread_mutex_lock(&j->mu);
        j->syncing = false;
        pthread_cond_broadcast(&j->sync_cv);
        if (rc != 0) {
            sn_error_set(err, "journal %s: fdatasync: %s", j->dir, strerror(e));
            return SN_EIO;
        }
        /* Earlier segments were synced when they were closed (roll). */
        if (target > j->synced)
            j->synced = target;
        j->last_sync_ns = t1;
        sn_histogram_observe(&j->h_fsync, (uint64_t)(t1 - t0) / 1000);
    }
    return SN_OK;
}

/* Caller holds mu. Opens a new segment starting at j->end. */
static enum sn_status
roll(struct sn_journal *j, struct sn_error *err)
{
    char path[PATH_MAX];

    if (j->fd >= 0) {
        /* The closed segment must be on disk before records after it
         * are acknowledged from the next one. */
        wait_sync_idle(j);
        if (fdatasync(j->fd) != 0) {
            sn_error_set(err, "journal %s: fdatasync: %s", j->dir,
                         strerror(errno));
            return SN_EIO;
        }
        j->synced = j->end;
        close(j->fd);
        j->fd = -1;
    }
    jn_seg_path(j, j->end, path, sizeof(path));
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                 SN_STATEFILE_MODE);
    if (j->fd < 0) {
        sn_error_set(err, "journal segment %s: %s", path, strerror(errno));
        return SN_EIO;
    }
    (void)sn_statefile_own(j->fd, path);
    if (jn_segs_push(j, j->end) != SN_OK) {
        sn_error_set(err, "journal: out of memory");
        return SN_ENOMEM;
    }
    j->seg_base = j->end;
    sn_gauge_set(j->g_segments, j->n_segs);
    return SN_OK;
}

/* Serialise b's records into j->buf (caller holds mu). */
static enum sn_status
encode(struct sn_journal *j, const struct sn_batch *b, const char *input)
{
    sn_buf_reset(&j->buf);
    for (size_t i = 0; i < b->n; i++) {
        const struct sn_record *r = &b->events[i].rec;
        const char *peer = r->peer != NULL ? r->peer : "";
        const char *tr = r->transport != NULL ? r->transport : "";
        size_t li = strlen(input), lp = strlen(peer), lt = strlen(tr);
        unsigned char h[JN_HDR + JN_BODY_FIXED];
        uint32_t len, crc;
        size_t at;

        if (li > UINT16_MAX || lp > UINT16_MAX || lt > UINT16_MAX)
            return SN_ELIMIT;
        len = (uint32_t)(JN_BODY_FIXED + li + lp + lt + r->data.len);
        jn_put64(h + JN_HDR, (uint64_t)r->recv_ns);
        jn_put64(h + JN_HDR + 8, (uint64_t)r->source_offset);
        jn_put16(h + JN_HDR + 16, (uint16_t)li);
        jn_put16(h + JN_HDR + 18, (uint16_t)lp);
        jn_put16(h + JN_HDR + 20, (uint16_t)lt);
        jn_put16(h + JN_HDR + 22, 0);
        jn_put32(h, len);
        at = j->buf.len;
        if (sn_buf_append(&j->buf, h, sizeof(h)) != SN_OK ||
            sn_buf_append(&j->buf, input, li) != SN_OK ||
            sn_buf_append(&j->buf, peer, lp) != SN_OK ||
            sn_buf_append(&j->buf, tr, lt) != SN_OK ||
            sn_buf_append(&j->buf, r->data.ptr, r->data.len) != SN_OK)
            return SN_ENOMEM;
        crc = sn_crc32c(0, j->buf.data + at + JN_HDR, len);
        jn_put32((unsigned char *)j->buf.data + at + 4, crc);
    }
    return SN_OK;
}

static enum sn_status
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return SN_EIO;
        p += w;
        n -= (size_t)w;
    }
    return SN_OK;
}

/* Caller holds mu: a slot in the done ring for a batch ending at end. */
static enum sn_status
ring_add(struct sn_journal *j, uint64_t end, uint64_t *jseq)
{
    if (j->next_seq - j->done_seq >= j->ring_cap) {
        size_t cap = j->ring_cap * 2;
        struct jn_slot *r = calloc(cap, sizeof(*r));

        if (r == NULL)
            return SN_ENOMEM;
        for (uint64_t s = j->done_seq; s < j->next_seq; s++)
            r[s % cap] = j->ring[s % j->ring_cap];
        free(j->ring);
        j->ring = r;
        j->ring_cap = cap;
    }
    j->ring[j->next_seq % j->ring_cap] =
        (struct jn_slot){ .end = end, .done = false };
    *jseq = ++j->next_seq; /* 1-based: 0 means "not journaled" */
    return SN_OK;
}

enum sn_status
sn_journal_append(struct sn_journal *j, struct sn_batch *b, const char *input,
                  const _Atomic bool *cancel, bool durable, uint64_t *end,
                  struct sn_error *err)
{
    enum sn_status rc;

    pthread_mutex_lock(&j->mu);
    /* Full: wait for consumers to pass segments (back-pressure). */
    while (j->c.max_size > 0 && j->end - j->first > j->c.max_size &&
           !(cancel != NULL && atomic_load(cancel))) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!j->full_logged) {
            sn_log_warn("journal %s is full (%" PRIu64 " bytes, max_size %"
                        PRIu64 "): inputs wait until outputs catch up",
                        j->dir, j->end - j->first, j->c.max_size);
            j->full_logged = true;
        }
        sn_counter_add(j->c_full_waits, 1);
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    if (cancel != NULL && atomic_load(cancel) && j->c.max_size > 0 &&
        j->end - j->first > j->c.max_size) {
        pthread_mutex_unlock(&j->mu);
        return SN_AGAIN;
    }
    rc = encode(j, b, input);
    if (rc != SN_OK) {
        sn_error_set(err, "journal: cannot encode a batch: %s",
                     sn_status_str(rc));
        goto out;
    }
    if (j->fd < 0 || j->end - j->seg_base >= j->c.segment_size) {
        rc = roll(j, err);
        if (rc != SN_OK)
            goto out;
    }
    if (write_all(j->fd, j->buf.data, j->buf.len) != SN_OK) {
        sn_error_set(err, "journal %s: write: %s", j->dir, strerror(errno));
        /* A partial write leaves a torn record: the next start truncates
         * it; until then no more appends go after it. What came before
         * it is synced first, so durable appends waiting for it end. */
        wait_sync_idle(j);
        if (fdatasync(j->fd) == 0)
            j->synced = j->end;
        close(j->fd);
        j->fd = -1;
        rc = SN_EIO;
        goto out;
    }
    j->end += j->buf.len;
    *end = j->end;
    sn_counter_add(j->c_bytes, j->buf.len);
    sn_counter_add(j->c_records, b->n);
    sn_gauge_set(j->g_size, j->end - j->first);
    /* In the ring before the sync, which may release mu: slots stay in
     * append order. The batch is not processed before this returns. */
    rc = ring_add(j, j->end, &b->jseq);
    if (rc != SN_OK) {
        sn_error_set(err, "journal: out of memory");
        goto out;
    }
    if (durable && (j->c.fsync_interval_ms == 0 ||
                    sn_clock_mono_ns() - j->last_sync_ns >=
                        j->c.fsync_interval_ms * SN_NS_PER_MS))
        rc = sync_to(j, *end, err);
out:
    pthread_mutex_unlock(&j->mu);
    return rc;
}

enum sn_status
sn_journal_sync(struct sn_journal *j, uint64_t upto, struct sn_error *err)
{
    enum sn_status rc = SN_OK;

    pthread_mutex_lock(&j->mu);
    if (j->c.fsync_interval_ms == 0 ||
        sn_clock_mono_ns() - j->last_sync_ns >=
            j->c.fsync_interval_ms * SN_NS_PER_MS)
        rc = sync_to(j, upto, err);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void
sn_journal_track(struct sn_journal *j, struct sn_batch *b, uint64_t end)
{
    pthread_mutex_lock(&j->mu);
    if (ring_add(j, end, &b->jseq) != SN_OK)
        b->jseq = 0; /* out of memory: the position just does not move */
    pthread_mutex_unlock(&j->mu);
}

/* Write <dir>/positions atomically (caller holds mu). */
static void
write_positions(struct sn_journal *j)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "%s/positions", j->dir);
    snprintf(tmp, sizeof(tmp), "%s/positions.tmp", j->dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SN_STATEFILE_MODE);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* Never past what is synced: after a power loss the journal ends at
     * or after j->synced, and new appends must not land below a recorded
     * position. Replayed (tracked) positions were on disk already. */
    fprintf(f, "output %" PRIu64 "\ndetector %" PRIu64 "\n",
            j->out_pos < j->synced ? j->out_pos : j->synced,
            j->det_pos < j->synced ? j->det_pos : j->synced);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

/* Caller holds mu. The detector position is the output position as it
 * was replay_window ago (a sample at or before then). */
static void
advance_positions(struct sn_journal *j, int64_t now_ms)
{
    int64_t spacing = j->c.replay_window_ms / SAMPLES;

    if (spacing < POSITIONS_MS)
        spacing = POSITIONS_MS;
    if (j->n_samples == 0 ||
        now_ms - j->samples[(j->s_head + j->n_samples - 1) % SAMPLES].ms >=
            spacing) {
        if (j->n_samples == SAMPLES) {
            j->s_head = (j->s_head + 1) % SAMPLES;
            j->n_samples--;
        }
        j->samples[(j->s_head + j->n_samples) % SAMPLES] =
            (struct jn_sample){ .ms = now_ms, .pos = j->out_pos };
        j->n_samples++;
    }
    while (j->n_samples > 0 &&
           j->samples[j->s_head].ms <= now_ms - j->c.replay_window_ms) {
        if (j->samples[j->s_head].pos > j->det_pos)
            j->det_pos = j->samples[j->s_head].pos;
        j->s_head = (j->s_head + 1) % SAMPLES;
        j->n_samples--;
    }
}

/* Caller holds mu: delete segments wholly below both positions. */
static void
trim(struct sn_journal *j)
{
    uint64_t keep = j->out_pos < j->det_pos ? j->out_pos : j->det_pos;

    if (keep > j->synced)
        keep = j->synced;

    while (j->n_segs > 1 && j->segs[1] <= keep) {
        char path[PATH_MAX];

        jn_seg_path(j, j->segs[0], path, sizeof(path));
        if (unlink(path) != 0 && errno != ENOENT)
            break;
        memmove(j->segs, j->segs + 1, (j->n_segs - 1) * sizeof(*j->segs));
        j->n_segs--;
        j->first = j->segs[0];
    }
    sn_gauge_set(j->g_segments, j->n_segs);
    sn_gauge_set(j->g_size, j->end - j->first);
    pthread_cond_broadcast(&j->cv);
}

void
sn_journal_done(struct sn_journal *j, uint64_t jseq)
{
    pthread_mutex_lock(&j->mu);
    if (jseq == 0 || jseq <= j->done_seq || jseq > j->next_seq) {
        pthread_mutex_unlock(&j->mu);
        return;
    }
    j->ring[(jseq - 1) % j->ring_cap].done = true;
    while (j->done_seq < j->next_seq &&
           j->ring[j->done_seq % j->ring_cap].done) {
        /* Replayed detect_only batches end below the position
         * recorded before the restart: it never goes back. */
        if (j->ring[j->done_seq % j->ring_cap].end > j->out_pos)
            j->out_pos = j->ring[j->done_seq % j->ring_cap].end;
        j->done_seq++;
    }
    /* The file is written by pos_main: nothing but this on the path
     * that releases batches. */
    j->pos_dirty = true;
    pthread_mutex_unlock(&j->mu);
}

/* Every POSITIONS_MS: positions to disk when they moved, and segments
 * below them deleted. A thread, not the releasing path: the last batches
 * before a quiet spell must be recorded too, or a restart replays them
 * to the outputs again. */
static void *
pos_main(void *arg)
{
    struct sn_journal *j = arg;

    pthread_mutex_lock(&j->mu);
    while (!j->closing) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POSITIONS_MS * SN_NS_PER_MS;
        while (ts.tv_nsec >= SN_NS_PER_SEC) {
            ts.tv_sec++;
            ts.tv_nsec -= SN_NS_PER_SEC;
        }
        pthread_cond_timedwait(&j->pos_cv, &j->mu, &ts);
        if (j->synced < j->end && j->fd >= 0) {
            /* Appends that did not wait (TCP, UDP) are synced here, at
             * most POSITIONS_MS after their write; a failure is retried
             * by the next round and by the next durable append. After a
             * failed write no segment is open until the next append. */
            struct sn_error err;
            sn_error_clear(&err);
            if (sync_to(j, j->end, &err) != SN_OK)
                sn_log_error("%s", err.msg);
        }
        if (j->pos_dirty || j->n_samples > 0) {
            uint64_t det = j->det_pos;

            advance_positions(j, wall_ms());
            if (j->pos_dirty || det != j->det_pos)
                write_positions(j);
            trim(j);
            j->pos_dirty = false;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

void
sn_journal_set_replaying(struct sn_journal *j, bool on)
{
    pthread_mutex_lock(&j->mu);
    j->replaying = on;
    sn_gauge_set(j->g_replaying, on ? 1 : 0);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

bool
sn_journal_replaying(struct sn_journal *j)
{
    bool r;

    pthread_mutex_lock(&j->mu);
    r = j->replaying;
    pthread_mutex_unlock(&j->mu);
    return r;
}

void
sn_journal_wait_replayed(struct sn_journal *j, const _Atomic bool *cancel)
{
    pthread_mutex_lock(&j->mu);
    while (j->replaying && !(cancel != NULL && atomic_load(cancel))) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * SN_NS_PER_MS;
        if (ts.tv_nsec >= SN_NS_PER_SEC) {
            ts.tv_sec++;
            ts.tv_nsec -= SN_NS_PER_SEC;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    pthread_mutex_unlock(&j->mu);
}

static enum sn_status
metrics(struct sn_journal *j, struct sn_metrics *m)
{
    static const uint64_t le[] = { 50,    100,   250,    500,    1000,
                                   2500,  5000,  10000,  25000,  50000,
                                   100000, 250000, 1000000 };

    j->c_bytes = sn_metrics_counter(m, "sentineld_journal_bytes_total", NULL,
                                    "bytes appended to the ingest journal");
    j->c_records =
        sn_metrics_counter(m, "sentineld_journal_records_total", NULL,
                           "records appended to the ingest journal");
    j->g_size = sn_metrics_gauge(m, "sentineld_journal_bytes", NULL,
                                 "bytes the journal's segments hold");
    j->g_segments = sn_metrics_gauge(m, "sentineld_journal_segments", NULL,
                                     "segment files in the journal");
    j->c_replayed =
        sn_metrics_counter(m, "sentineld_journal_replayed_records_total",
                           NULL, "records replayed from the journal at start");
    j->c_truncated =
        sn_metrics_counter(m, "sentineld_journal_truncated_tails_total", NULL,
                           "torn or corrupt segment tails cut at start");
    j->c_truncated_bytes =
        sn_metrics_counter(m, "sentineld_journal_truncated_bytes_total", NULL,
                           "bytes cut from torn segment tails");
    j->c_full_waits =
        sn_metrics_counter(m, "sentineld_journal_full_waits_total", NULL,
                           "appends that waited because the journal was "
                           "at max_size");
    j->g_replaying =
        sn_metrics_gauge(m, "sentineld_journal_replaying", NULL,
                         "1 while the journal is replayed at start");
    if (j->c_bytes == NULL || j->c_records == NULL || j->g_size == NULL ||
        j->g_segments == NULL || j->c_replayed == NULL ||
        j->c_truncated == NULL || j->c_truncated_bytes == NULL ||
        j->c_full_waits == NULL || j->g_replaying == NULL)
        return SN_ENOMEM;
    return sn_metrics_histogram(
        m, "sentineld_journal_fsync_microseconds", NULL,
        "time one fdatasync of the journal took", le,
        sizeof(le) / sizeof(le[0]), &j->h_fsync);
}

enum sn_status
sn_journal_open(const struct sn_journal_conf *c, const char *state_dir,
                struct sn_metrics *m, struct sn_journal **out,
                struct sn_error *err)
{
    struct sn_journal *j = calloc(1, sizeof(*j));
    enum sn_status rc;

    *out = NULL;
    if (j == NULL)
        return SN_ENOMEM;
    j->c = *c;
    j->fd = -1;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_cond_init(&j->pos_cv, NULL);
    pthread_cond_init(&j->sync_cv, NULL);
    sn_buf_init(&j->buf, SN_JOURNAL_BUF_MAX);
    j->ring_cap = 256;
    j->ring = calloc(j->ring_cap, sizeof(*j->ring));
    j->samples = calloc(SAMPLES, sizeof(*j->samples));
    if (c->dir != NULL)
        j->dir = strdup(c->dir);
    else if (asprintf(&j->dir, "%s/journal",
                      state_dir != NULL ? state_dir : ".") < 0)
        j->dir = NULL;
    if (j->ring == NULL || j->samples == NULL || j->dir == NULL ||
        metrics(j, m) != SN_OK) {
        sn_journal_free(j);
        return SN_ENOMEM;
    }
    if (mkdir(j->dir, SN_STATEDIR_MODE) != 0 && errno != EEXIST) {
        sn_error_set(err, "journal directory %s: %s", j->dir, strerror(errno));
        sn_journal_free(j);
        return SN_EIO;
    }
    rc = jn_recover(j, err);
    if (rc != SN_OK) {
        sn_journal_free(j);
        return rc;
    }
    if (pthread_create(&j->pos_thread, NULL, pos_main, j) != 0) {
        sn_error_set(err, "journal: cannot start the positions thread");
        sn_journal_free(j);
        return SN_EIO;
    }
    j->pos_started = true;
    j->is_open = true;
    *out = j;
    return SN_OK;
}

void
sn_journal_free(struct sn_journal *j)
{
    if (j == NULL)
        return;
    if (j->pos_started) {
        pthread_mutex_lock(&j->mu);
        j->closing = true;
        pthread_cond_signal(&j->pos_cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->pos_thread, NULL);
    }
    if (j->fd >= 0) {
        if (fdatasync(j->fd) == 0)
            j->synced = j->end;
        close(j->fd);
    }
    if (j->is_open) {
        pthread_mutex_lock(&j->mu);
        advance_positions(j, wall_ms());
        write_positions(j);
        pthread_mutex_unlock(&j->mu);
    }
    sn_buf_fini(&j->buf);
    pthread_cond_destroy(&j->cv);
    pthread_cond_destroy(&j->pos_cv);
    pthread_cond_destroy(&j->sync_cv);
    pthread_mutex_destroy(&j->mu);
    free(j->segs);
    free(j->ring);
    free(j->samples);
    free(j->dir);
    free(j);
}
