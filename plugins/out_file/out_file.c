/*
 * out_file: events as JSON lines (the schema of docs/events.md) to a file
 * or stdout; with `take: incidents`, incident versions instead, one
 * document (docs/incidents.md) per line, in outbox order. One write(2) per 256 KiB, never per event; fsync policy
 * configurable; SIGHUP reopens the file so logrotate can move it away.
 * A failed write is a RETRY (the core backs off and redelivers the batch;
 * lines already written may then appear twice: at-least-once). A file
 * that does not end in a newline when opened ends in a line cut by a
 * crash or a failed write: that piece is cut off (its batch was never
 * acknowledged, so it comes again whole), logged and counted, and the
 * file stays one JSON document per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sentineld/plugin.h>

#include "core/statefile.h"

#define FLUSH_BYTES (256 * 1024)

enum fsync_policy { FSYNC_NEVER, FSYNC_BATCH };

struct of_conf {
    const char *path;
    int fsync;
    int64_t mode;
};

struct of_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct of_conf *c;
    struct sn_buf *buf;
    int fd;
    bool is_stdout;
    atomic_bool reopen;
    struct sn_counter *c_torn;
};

static const struct sn_option of_options[] = {
    { "path", SN_OPT_STRING, "-", offsetof(struct of_conf, path),
      "file to append to; \"-\" is standard output", 0, 0, NULL, false },
    { "fsync", SN_OPT_ENUM, "never", offsetof(struct of_conf, fsync),
      "fsync after every batch (durable, slower) or never", 0, 0,
      "never|batch", false },
    { "mode", SN_OPT_INT, "416", offsetof(struct of_conf, mode),
      "permissions of a created file (decimal; 416 is 0640)", 0, 511, NULL,
      false },
    { 0 },
};

static enum sn_status
of_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct of_state *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = config;
    s->fd = -1;
    s->is_stdout = strcmp(s->c->path, "-") == 0;
    s->buf = host->buf_new(64u * 1024 * 1024);
    if (s->buf == NULL)
        return SN_ENOMEM;
    s->c_torn = host->counter(inst, "file_torn_lines_total",
                              "unfinished last lines (a crash or a failed "
                              "write) cut off when the file was opened");
    if (s->c->path[0] == '\0') {
        snprintf(err, err_len, "path is empty");
        return SN_ECONFIG;
    }
    return SN_OK;
}

/* Where the file at path stops being whole lines: `end` when its last
 * byte is a newline, else just after the last newline (0: none); read
 * backwards in 64 KiB steps; -1 on a read error. */
static off_t
whole_lines_end(const char *path, off_t end)
{
    char chunk[64 * 1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t at = end, found = 0;

    if (fd < 0)
        return -1;
    while (at > 0) {
        size_t n = at < (off_t)sizeof(chunk) ? (size_t)at : sizeof(chunk);
        size_t i = n;

        if (pread(fd, chunk, n, at - (off_t)n) != (ssize_t)n) {
            found = -1;
            break;
        }
        at -= (off_t)n;
        while (i > 0 && chunk[i - 1] != '\n')
            i--;
        if (i > 0) {
            found = at + (off_t)i;
            break;
        }
    }
    close(fd);
    return found;
}

/* A regular file whose last byte is not a newline: cut the unfinished
 * line off. Only this output's lines end here; a file someone else
 * appends to is not a place for it. */
static void
cut_torn_line(struct of_state *s)
{
    struct stat st;
    off_t keep;

    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return;
    keep = whole_lines_end(s->c->path, st.st_size);
    if (keep == st.st_size)
        return;
    if (keep < 0 || ftruncate(s->fd, keep) != 0) {
        s->host->log(s->inst, SN_LOG_WARN,
                     "%s may end in an unfinished line that could not be "
                     "cut off: %s",
                     s->c->path, strerror(errno));
        return;
    }
    s->host->counter_add(s->c_torn, 1);
    s->host->log(s->inst, SN_LOG_WARN,
                 "%s ended in an unfinished line (%lld bytes at offset %lld, "
                 "cut by a crash or a failed write): cut off; its batch is "
                 "written again whole",
                 s->c->path, (long long)(st.st_size - keep), (long long)keep);
}

static int
open_file(struct of_state *s, char *err, size_t err_len)
{
    if (s->is_stdout) {
        s->fd = STDOUT_FILENO;
        return 0;
    }
    s->fd = open(s->c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                 (mode_t)s->c->mode);
    if (s->fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", s->c->path,
                 strerror(errno));
        return -1;
    }
    /* Opened by root before `--user` drops privileges: the directory's
     * owner (the daemon's user) must be able to reopen it at a reload. */
    if (sn_statefile_own(s->fd, s->c->path) != 0) {
        snprintf(err, err_len, "cannot give %s the owner of its directory: %s",
                 s->c->path, strerror(errno));
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    cut_torn_line(s);
    return 0;
}

static enum sn_status
of_start(void *state, char *err, size_t err_len)
{
    struct of_state *s = state;

    return open_file(s, err, err_len) == 0 ? SN_OK : SN_EIO;
}

static void
close_file(struct of_state *s)
{
    if (s->fd >= 0 && !s->is_stdout)
        close(s->fd);
    s->fd = -1;
}

static void
of_stop(void *state)
{
    close_file(state);
}

static void
of_destroy(void *state)
{
    struct of_state *s = state;

    if (s == NULL)
        return;
    close_file(s);
    if (s->buf != NULL)
        s->host->buf_free(s->buf);
    free(s);
}

static void
of_reopen(void *state)
{
    struct of_state *s = state;

    atomic_store(&s->reopen, true);
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static enum sn_out_result
flush_buf(struct of_state *s, char *why, size_t why_len)
{
    struct sn_str data = s->host->buf_str(s->buf);

    if (data.len > 0 && write_all(s->fd, data.ptr, data.len) != 0) {
        snprintf(why, why_len, "write to %s: %s", s->c->path, strerror(errno));
        s->host->buf_reset(s->buf);
        return SN_OUT_RETRY;
    }
    s->host->buf_reset(s->buf);
    return SN_OUT_OK;
}

/* Events and incidents alike: reopen when asked (SIGHUP) or after a
 * failure, then start an empty buffer. */
static enum sn_out_result
begin_batch(struct of_state *s, char *why, size_t why_len)
{
    if (atomic_exchange(&s->reopen, false) || s->fd < 0) {
        close_file(s);
        if (open_file(s, why, why_len) != 0)
            return SN_OUT_RETRY;
    }
    s->host->buf_reset(s->buf);
    return SN_OUT_OK;
}

/* Write what is left and apply the fsync policy. */
static enum sn_out_result
end_batch(struct of_state *s, char *why, size_t why_len)
{
    enum sn_out_result r;

    if ((r = flush_buf(s, why, why_len)) != SN_OUT_OK)
        return r;
    if (s->c->fsync == FSYNC_BATCH && !s->is_stdout && fsync(s->fd) != 0) {
        snprintf(why, why_len, "fsync %s: %s", s->c->path, strerror(errno));
        return SN_OUT_RETRY;
    }
    return SN_OUT_OK;
}

static enum sn_out_result
of_write(void *state, struct sn_batch *b, uint64_t token, char *why,
         size_t why_len)
{
    struct of_state *s = state;
    size_t n = s->host->batch_len(b);
    enum sn_out_result r;

    (void)token;
    if ((r = begin_batch(s, why, why_len)) != SN_OUT_OK)
        return r;
    for (size_t i = 0; i < n; i++) {
        struct sn_event *ev = s->host->batch_event(b, i);
        if (s->host->event_to_json(ev, s->buf) != SN_OK) {
            snprintf(why, why_len, "event too large to serialise");
            return SN_OUT_FAIL;
        }
        if (s->host->buf_append(s->buf, "\n", 1) != SN_OK) {
            snprintf(why, why_len, "event too large to serialise");
            return SN_OUT_FAIL;
        }
        if (s->host->buf_str(s->buf).len >= FLUSH_BYTES &&
            (r = flush_buf(s, why, why_len)) != SN_OUT_OK)
            return r;
    }
    return end_batch(s, why, why_len);
}

static enum sn_out_result
of_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
           char *why, size_t why_len)
{
    struct of_state *s = state;
    enum sn_out_result r;

    (void)token;
    if ((r = begin_batch(s, why, why_len)) != SN_OUT_OK)
        return r;
    for (size_t i = 0; i < n; i++) {
        if (s->host->buf_append(s->buf, docs[i].json.ptr, docs[i].json.len) !=
                SN_OK ||
            s->host->buf_append(s->buf, "\n", 1) != SN_OK) {
            s->host->buf_reset(s->buf);
            snprintf(why, why_len, "incident document too large");
            return SN_OUT_FAIL;
        }
        if (s->host->buf_str(s->buf).len >= FLUSH_BYTES &&
            (r = flush_buf(s, why, why_len)) != SN_OUT_OK)
            return r;
    }
    return end_batch(s, why, why_len);
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_out_file = {
        SN_PLUGIN_HEADER,
        .name = "out_file",
        .kind = SN_KIND_OUTPUT,
        .description = "events or incidents as JSON lines to a file or "
                       "stdout",
        .version = "1",
        .options = of_options,
        .config_size = sizeof(struct of_conf),
        .init = of_init,
        .start = of_start,
        .stop = of_stop,
        .destroy = of_destroy,
        .write = of_write,
        .deliver = of_deliver,
        .reopen = of_reopen,
        .flags = SN_PLUGIN_WANTS_JSON,
    };
