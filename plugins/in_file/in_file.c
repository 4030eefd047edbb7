/*
 * in_file: read a file (or stdin) line by line, and optionally follow it
 * like `tail -F`: across rotation (a new file at the path: the old one is
 * read to its end first) and truncation (start again at 0). The position
 * (device, inode, offset) saved in the state directory every second and
 * at stop is that of the lines processed, not only read
 * (in_file_done.h), so a restart resumes where processing left off;
 * after a crash what was in flight is read again (at-least-once), never
 * skipped. Lines end at LF; a CR before the LF is removed. A line longer
 * than max_line is cut and counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sentineld/plugin.h>

#include "in_file_done.h"

/* How long a stopping input waits for its lines in flight to be
 * processed before it saves what is (the daemon's default
 * shutdown_timeout). */
#define SETTLE_MS 10000

struct if_conf {
    const char *path;
    bool follow;
    int start_at; /* 0 beginning, 1 end */
    bool keep_position;
    uint64_t read_size;
    uint64_t max_line;
    int64_t poll_ms;
};

struct if_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct if_conf *c;
    char *buf;
    size_t cap;
    int fd;
    dev_t dev;
    ino_t ino;
    int64_t offset; /* of buf[0] in the file */
    char pos_path[4096];
    struct sn_counter *c_truncated, *c_rotations;
    int64_t last_save_ns;
    bool skip_to_lf; /* discarding the rest of a cut line */
    bool tracked;    /* the host reports processed batches */
    int64_t saved;   /* the position last saved; -1: none yet */
    int save_misses; /* periodic saves the store was not caught up for */
    struct if_done done;
};

static const struct sn_option if_options[] = {
    { "path", SN_OPT_STRING, NULL, offsetof(struct if_conf, path),
      "file to read; \"-\" reads standard input", 0, 0, NULL, true },
    { "follow", SN_OPT_BOOL, "false", offsetof(struct if_conf, follow),
      "keep reading as the file grows, across rotation (tail -F)", 0, 0, NULL,
      false },
    { "start_at", SN_OPT_ENUM, "beginning", offsetof(struct if_conf, start_at),
      "where to start when there is no saved position", 0, 0,
      "beginning|end", false },
    { "keep_position", SN_OPT_BOOL, "true",
      offsetof(struct if_conf, keep_position),
      "save the position of the lines processed in the state directory "
      "and resume from it", 0, 0, NULL, false },
    { "read_size", SN_OPT_SIZE, "256KiB", offsetof(struct if_conf, read_size),
      "bytes read per system call", 4096, 64 << 20, NULL, false },
    { "max_line", SN_OPT_SIZE, "64KiB", offsetof(struct if_conf, max_line),
      "longer lines are cut to this length and counted", 16, 16 << 20, NULL,
      false },
    { "poll_interval", SN_OPT_DURATION, "250ms",
      offsetof(struct if_conf, poll_ms),
      "how often a followed file is checked for growth and rotation", 10,
      60000, NULL, false },
    { 0 },
};

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static enum sn_status
if_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct if_state *s = calloc(1, sizeof(*s));
    const char *dir;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = config;
    s->fd = -1;
    if (if_done_init(&s->done) != 0) {
        free(s);
        *state = NULL;
        return SN_ENOMEM;
    }
    s->tracked =
        SN_HOST_HAS(host, emit_seq) && SN_HOST_HAS(host, signals_stored);
    if (strcmp(s->c->path, "-") == 0 && s->c->follow) {
        snprintf(err, err_len, "follow cannot be used with standard input");
        return SN_ECONFIG;
    }
    s->cap = s->c->read_size + s->c->max_line + 1;
    s->buf = malloc(s->cap);
    if (s->buf == NULL)
        return SN_ENOMEM;
    dir = host->state_dir(inst);
    if (dir != NULL && s->c->keep_position && strcmp(s->c->path, "-") != 0)
        snprintf(s->pos_path, sizeof(s->pos_path), "%s.pos", dir);
    s->c_truncated = host->counter(inst, "file_lines_truncated_total",
                                   "lines longer than max_line, cut");
    s->c_rotations = host->counter(inst, "file_rotations_total",
                                   "rotations and truncations followed");
    return SN_OK;
}

static void
if_destroy(void *state)
{
    struct if_state *s = state;

    if (s == NULL)
        return;
    if (s->fd > STDIN_FILENO)
        close(s->fd);
    if_done_fini(&s->done);
    free(s->buf);
    free(s);
}

static void
write_position(struct if_state *s, int64_t off)
{
    char tmp[4200];
    FILE *f;
    char *slash;

    if (s->pos_path[0] == '\0' || s->fd < 0)
        return;
    /* The state directory may not exist yet on a fresh install. */
    snprintf(tmp, sizeof(tmp), "%s", s->pos_path);
    slash = strrchr(tmp, '/');
    if (slash != NULL) {
        *slash = '\0';
        mkdir(tmp, 0750);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->pos_path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        s->host->log(s->inst, SN_LOG_WARN, "cannot save position to %s: %s",
                     tmp, strerror(errno));
        s->pos_path[0] = '\0'; /* warn once, then read without saving */
        return;
    }
    fprintf(f, "%llu %llu %lld\n", (unsigned long long)s->dev,
            (unsigned long long)s->ino, (long long)off);
    /* rename() makes the update atomic: a crash leaves the old or the new
     * position, never a torn one. */
    if (fclose(f) != 0 || rename(tmp, s->pos_path) != 0)
        unlink(tmp);
}

/* Save the position of the lines processed, once the signals raised on
 * them are committed too (waiting up to wait_ms; else the saved one
 * stays, and the next save tries again). A negative wait_ms: only look,
 * unless two saves in a row found the store behind, then wait 250 ms
 * (a look alone almost never sees the manager caught up while signals
 * keep coming, and a wait every second would slow the reading). */
static void
save_position(struct if_state *s, int wait_ms)
{
    int64_t off;

    if (s->pos_path[0] == '\0' || s->fd < 0)
        return;
    if (!s->tracked) {
        write_position(s, s->offset);
        return;
    }
    off = if_done_safe(&s->done);
    if (off == s->saved)
        return;
    if (wait_ms < 0)
        wait_ms = s->save_misses >= 2 ? 250 : 0;
    if (!s->host->signals_stored(s->inst, wait_ms)) {
        s->save_misses++;
        return;
    }
    s->save_misses = 0;
    write_position(s, off);
    s->saved = off;
}

/* After a line's offset moved: the line went into emit()'s batch. */
static void
track(struct if_state *s, struct sn_emitter *em)
{
    if (s->tracked)
        if_done_emitted(&s->done, s->host->emit_seq(em), s->offset);
}

/* Wait until every line emitted is processed: as long as it takes while
 * the daemon runs (a full pipeline is back-pressure, not a fault), and
 * up to SETTLE_MS once it is stopping; false at that deadline. */
static bool
settle(struct if_state *s, struct sn_emitter *em)
{
    struct timespec nap = { 0, 10 * 1000000L };
    int64_t deadline = 0;

    if (!s->tracked)
        return true;
    s->host->flush(em);
    while (!if_done_idle(&s->done)) {
        if (s->host->stopping(s->inst)) {
            if (deadline == 0)
                deadline = now_ns() + (int64_t)SETTLE_MS * 1000000;
            else if (now_ns() >= deadline)
                return false;
        }
        nanosleep(&nap, NULL);
    }
    return true;
}

static int64_t
load_position(struct if_state *s, const struct stat *st)
{
    unsigned long long dev, ino;
    long long off;
    FILE *f;
    int n;

    if (s->pos_path[0] == '\0' || (f = fopen(s->pos_path, "r")) == NULL)
        return -1;
    n = fscanf(f, "%llu %llu %lld", &dev, &ino, &off);
    fclose(f);
    if (n != 3 || dev != (unsigned long long)st->st_dev ||
        ino != (unsigned long long)st->st_ino || off < 0 || off > st->st_size)
        return -1; /* another file now, or it shrank: not ours to resume */
    return off;
}

static int
open_input(struct if_state *s, bool first)
{
    struct stat st;
    int64_t pos;

    if (strcmp(s->c->path, "-") == 0) {
        s->fd = STDIN_FILENO;
        return 0;
    }
    s->fd = open(s->c->path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return -1;
    if (fstat(s->fd, &st) != 0) {
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    pos = first ? load_position(s, &st) : -1;
    if (pos < 0)
        pos = first && s->c->start_at == 1 ? st.st_size : 0;
    if (pos > 0 && lseek(s->fd, pos, SEEK_SET) < 0)
        pos = 0;
    s->offset = pos;
    if_done_restart(&s->done, pos);
    s->saved = -1;
    return 0;
}

static void
emit_line(struct if_state *s, struct sn_emitter *em, const char *p, size_t n,
          size_t consumed)
{
    int64_t offset = s->offset;

    struct sn_record rec;

    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n > s->c->max_line) {
        n = s->c->max_line;
        s->host->counter_add(s->c_truncated, 1);
    }
    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = p;
    rec.data.len = n;
    rec.transport = "file";
    rec.peer = strcmp(s->c->path, "-") == 0 ? NULL : s->c->path;
    rec.source_offset = offset;
    rec.source_part = -1;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rec.recv_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    s->host->emit(em, &rec);
    /* The line (and its LF) is in emit()'s batch: past it. */
    s->offset += (int64_t)consumed;
    track(s, em);
}

/* Read to EOF; returns bytes read, -1 on error. `len` carries a partial
 * line between calls. */
static ssize_t
drain(struct if_state *s, struct sn_emitter *em, size_t *len)
{
    ssize_t total = 0;

    for (;;) {
        ssize_t r;
        size_t start = 0;
        char *nl;

        if (s->host->stopping(s->inst))
            return total;
        r = read(s->fd, s->buf + *len, s->cap - 1 - *len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return total;
        total += r;
        *len += (size_t)r;
        if (s->skip_to_lf) {
            char *lf = memchr(s->buf, '\n', *len);
            size_t drop = lf ? (size_t)(lf - s->buf) + 1 : *len;

            s->skip_to_lf = lf == NULL;
            s->offset += (int64_t)drop;
            memmove(s->buf, s->buf + drop, *len - drop);
            *len -= drop;
        }
        while ((nl = memchr(s->buf + start, '\n', *len - start)) != NULL) {
            size_t n = (size_t)(nl - (s->buf + start));
            emit_line(s, em, s->buf + start, n, n + 1);
            start += n + 1;
        }
        if (start == 0 && *len >= s->c->max_line + 1) {
            /* No LF within max_line: deliver the cut line and skip the
             * rest of it up to the next LF. */
            emit_line(s, em, s->buf, *len, *len);
            *len = 0;
            s->skip_to_lf = true;
            continue;
        }
        memmove(s->buf, s->buf + start, *len - start);
        *len -= start;
        s->host->flush(em);
    }
}

static bool
rotated(struct if_state *s, bool *truncated)
{
    struct stat st, cur;

    *truncated = false;
    if (fstat(s->fd, &cur) == 0 && cur.st_size < s->offset) {
        *truncated = true;
        return false;
    }
    if (stat(s->c->path, &st) != 0)
        return false; /* moved away, new file not there yet */
    return st.st_dev != s->dev || st.st_ino != s->ino;
}

/* The core released batch seq: its lines are processed. */
static void
if_batch_done(void *state, uint64_t seq)
{
    struct if_state *s = state;

    if_done_batch(&s->done, seq);
}

static void
sleep_poll(struct if_state *s)
{
    struct timespec ts = { (time_t)(s->c->poll_ms / 1000),
                           (long)(s->c->poll_ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static void
if_run(void *state)
{
    struct if_state *s = state;
    struct sn_emitter *em = s->host->emitter_new(s->inst, false);
    size_t len = 0;
    bool first = true;

    if (em == NULL) {
        s->host->log(s->inst, SN_LOG_ERROR, "out of memory");
        return;
    }
    while (!s->host->stopping(s->inst)) {
        bool truncated;

        if (s->fd < 0 && open_input(s, first) != 0) {
            if (!s->c->follow) {
                s->host->log(s->inst, SN_LOG_ERROR, "cannot open %s: %s",
                             s->c->path, strerror(errno));
                break;
            }
            sleep_poll(s);
            continue;
        }
        first = false;
        if (drain(s, em, &len) < 0) {
            s->host->log(s->inst, SN_LOG_ERROR, "read %s: %s", s->c->path,
                         strerror(errno));
            break;
        }
        s->host->flush(em);
        if (!s->c->follow) {
            if (len > 0 && !s->host->stopping(s->inst)) {
                /* The last line had no LF: it is still a line. */
                emit_line(s, em, s->buf, len, len);
                len = 0;
            }
            break;
        }
        if (now_ns() - s->last_save_ns > 1000000000LL) {
            save_position(s, -1);
            s->last_save_ns = now_ns();
        }
        if (rotated(s, &truncated)) {
            /* Whatever was appended before the rename is read above; a
             * partial last line of the old file ends with it. */
            if (drain(s, em, &len) >= 0 && len > 0) {
                emit_line(s, em, s->buf, len, len);
                len = 0;
            }
            /* The old file's lines in flight are processed before the
             * position moves to the new one, else a crash skips them. */
            (void)settle(s, em);
            s->host->counter_add(s->c_rotations, 1);
            s->host->log(s->inst, SN_LOG_INFO, "%s was rotated; reopening",
                         s->c->path);
            close(s->fd);
            s->fd = -1;
            continue;
        }
        if (truncated) {
            (void)settle(s, em); /* as for a rotation */
            s->host->counter_add(s->c_rotations, 1);
            s->host->log(s->inst, SN_LOG_INFO,
                         "%s was truncated; reading from the start",
                         s->c->path);
            lseek(s->fd, 0, SEEK_SET);
            s->offset = 0;
            if_done_restart(&s->done, 0);
            s->saved = -1;
            len = 0;
            continue;
        }
        sleep_poll(s);
    }
    if (!settle(s, em))
        s->host->log(s->inst, SN_LOG_WARN,
                     "lines still in flight after %d ms at stop; saving the "
                     "position of those processed (the rest is read again)",
                     SETTLE_MS);
    s->host->emitter_free(em);
    save_position(s, 2000);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_in_file = {
        SN_PLUGIN_HEADER,
        .name = "in_file",
        .kind = SN_KIND_INPUT,
        .description = "read a file or stdin line by line; follow it across "
                       "rotation like tail -F",
        .version = "1",
        .options = if_options,
        .config_size = sizeof(struct if_conf),
        .init = if_init,
        .destroy = if_destroy,
        .run = if_run,
        .batch_done = if_batch_done,
        .default_parser = "raw",
    };
