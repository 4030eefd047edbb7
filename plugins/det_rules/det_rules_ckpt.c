/*
 * det_rules state across restarts and SIGHUP reloads: stop() writes every
 * shard's correlation state to "<state_dir>/<instance>.corr" (a temporary
 * file, fsync, rename: a crash leaves the old file or the new one, never
 * half of one); start() reads it back. The daemon stops the old pipeline
 * (workers joined, then detectors stopped) before it starts the new one,
 * so the new instance reads what the old one just wrote. The engine skips
 * rules whose definition changed; the shard count may differ between the
 * runs, so the state is merged into one engine and re-split by key hash.
 *
 * File: "SNDRCKP1", u32 shard count, then per shard u64 length + the
 * engine checkpoint (docs/correlation.md, "Sharding and checkpoints").
 * A partition's state (det_rules_part.c) uses the same container.
 */
#include "det_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC     "SNDRCKP1"
#define MAGIC_LEN 8
/* Refuse to read a checkpoint larger than this: state is bounded by
 * max_keys x rules, and a bigger file is not one of ours. */
#define CKPT_MAX ((size_t)4 << 30)

static bool
path_of(struct dr_state *s, char *out, size_t len, const char *suffix)
{
    const char *base = s->host->state_dir(s->inst);

    if (base == NULL)
        return false;
    return (size_t)snprintf(out, len, "%s.corr%s", base, suffix) < len;
}

static bool
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

struct sn_corr *
dr_engine_new(struct dr_state *s)
{
    struct sn_corr_config cfg;

    /* Same engine settings as the shards, so evidence survives. */
    dr_engine_config(s, &cfg);
    return sn_corr_new(s->set, &cfg);
}

enum sn_status
dr_ckpt_write(struct dr_state *s, sn_corr_want_fn want, void *arg,
              bool keys_only, struct sn_buf *b)
{
    uint32_t n = (uint32_t)s->n_shards;
    enum sn_status rc = sn_buf_append(b, MAGIC, MAGIC_LEN);

    if (rc == SN_OK)
        rc = sn_buf_append(b, &n, sizeof(n));
    for (size_t i = 0; rc == SN_OK && i < s->n_shards; i++) {
        size_t at = b->len;
        uint64_t len = 0;

        rc = sn_buf_append(b, &len, sizeof(len));
        if (rc != SN_OK)
            break;
        pthread_mutex_lock(&s->shards[i].mu);
        rc = keys_only ? sn_corr_checkpoint_keys(s->shards[i].c, want, arg, b)
                       : sn_corr_checkpoint(s->shards[i].c, want, arg, b);
        pthread_mutex_unlock(&s->shards[i].mu);
        len = b->len - at - sizeof(len);
        if (rc == SN_OK)
            memcpy(b->data + at, &len, sizeof(len));
    }
    return rc;
}

void
dr_ckpt_save(struct dr_state *s)
{
    const struct sn_host *h = s->host;
    char path[4096], tmp[4200];
    struct sn_buf b;
    int fd;

    if (s->shards == NULL || !path_of(s, path, sizeof(path), "") ||
        !path_of(s, tmp, sizeof(tmp), ".tmp"))
        return;
    sn_buf_init(&b, CKPT_MAX);
    if (dr_ckpt_write(s, NULL, NULL, false, &b) != SN_OK) {
        h->counter_add(s->c_ckpt_errors, 1);
        h->log(s->inst, SN_LOG_ERROR,
               "correlation checkpoint not written: state too large");
        sn_buf_fini(&b);
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !write_all(fd, b.data, b.len) || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        if (fd >= 0)
            unlink(tmp);
        h->counter_add(s->c_ckpt_errors, 1);
        h->log(s->inst, SN_LOG_ERROR,
               "correlation checkpoint %s not written: %s", path, strerror(e));
    } else {
        h->log(s->inst, SN_LOG_INFO,
               "correlation state saved to %s (%zu bytes, %zu shards)", path,
               b.len, s->n_shards);
    }
    sn_buf_fini(&b);
}

static bool
read_file(const char *path, struct sn_buf *b, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char chunk[65536];
    ssize_t r;

    if (fd < 0) {
        *err = errno;
        return false;
    }
    while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || sn_buf_append(b, chunk, (size_t)r) != SN_OK) {
            *err = r < 0 ? errno : EFBIG;
            close(fd);
            return false;
        }
    }
    close(fd);
    return true;
}

bool
dr_want_shard(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
              const struct sn_corr_origin *o)
{
    const struct dr_want_shard *w = arg;

    (void)spec;
    (void)o;
    return hash % w->n == w->shard;
}

bool
dr_ckpt_read(const void *data, size_t len, struct sn_corr *all, bool keys_only,
             char *err, size_t err_len)
{
    const char *p = data, *end = p + len;
    uint32_t n;

    if (len < MAGIC_LEN + sizeof(n) || memcmp(p, MAGIC, MAGIC_LEN) != 0) {
        snprintf(err, err_len,
                 "not a det_rules checkpoint (no " MAGIC " header)");
        return false;
    }
    memcpy(&n, p + MAGIC_LEN, sizeof(n));
    p += MAGIC_LEN + sizeof(n);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t l;
        enum sn_status rc;

        if ((size_t)(end - p) < sizeof(l)) {
            snprintf(err, err_len, "truncated after shard %u of %u", i, n);
            return false;
        }
        memcpy(&l, p, sizeof(l));
        p += sizeof(l);
        if (l > (uint64_t)(end - p)) {
            snprintf(err, err_len, "shard %u of %u truncated", i, n);
            return false;
        }
        rc = keys_only ? sn_corr_restore_keys(all, p, (size_t)l, NULL)
                       : sn_corr_restore(all, p, (size_t)l);
        if (rc != SN_OK) {
            char why[160];
            sn_corr_checkpoint_check(p, (size_t)l, why, sizeof(why));
            snprintf(err, err_len, "shard %u of %u: %s", i, n,
                     why[0]            ? why
                     : rc == SN_ENOMEM ? "out of memory"
                                       : "damaged correlation checkpoint");
            return false;
        }
        p += l;
    }
    if (p != end) {
        snprintf(err, err_len, "%zu bytes after the last shard",
                 (size_t)(end - p));
        return false;
    }
    return true;
}

void
dr_ckpt_restore(struct dr_state *s)
{
    const struct sn_host *h = s->host;
    char path[4096], why[256] = "";
    struct sn_buf b, part;
    struct sn_corr *all = NULL;
    uint32_t n = 0;
    int err = 0;
    bool ok = true;

    if (s->shards == NULL || !path_of(s, path, sizeof(path), ""))
        return;
    sn_buf_init(&b, CKPT_MAX);
    sn_buf_init(&part, CKPT_MAX);
    if (!read_file(path, &b, &err)) {
        if (err != ENOENT) {
            h->counter_add(s->c_ckpt_errors, 1);
            h->log(s->inst, SN_LOG_ERROR, "correlation checkpoint %s: %s", path,
                   strerror(err));
        }
        goto out;
    }
    if (b.len >= MAGIC_LEN + sizeof(n))
        memcpy(&n, b.data + MAGIC_LEN, sizeof(n));
    /* Merge every saved shard into one engine, then give each shard its
     * keys. Format 1 files (before key origins) are read as well. */
    all = dr_engine_new(s);
    if (all == NULL) {
        snprintf(why, sizeof(why), "out of memory");
        ok = false;
    } else {
        ok = dr_ckpt_read(b.data, b.len, all, false, why, sizeof(why));
    }
    for (size_t i = 0; ok && i < s->n_shards; i++) {
        struct dr_want_shard w = { i, s->n_shards };

        sn_buf_reset(&part);
        ok = sn_corr_checkpoint(all, dr_want_shard, &w, &part) == SN_OK &&
             sn_corr_restore(s->shards[i].c, part.data, part.len) == SN_OK;
        /* Every part carries the merged counters: shard 0 keeps them,
         * or /metrics would count them once per shard. */
        if (ok && i > 0)
            sn_corr_clear_stats(s->shards[i].c);
        if (!ok)
            snprintf(why, sizeof(why), "out of memory");
    }
    if (!ok) {
        h->counter_add(s->c_ckpt_errors, 1);
        h->log(s->inst, SN_LOG_ERROR,
               "correlation checkpoint %s: %s; starting with empty windows",
               path, why);
    } else {
        s->restored = true;
        h->log(s->inst, SN_LOG_INFO,
               "correlation state restored from %s (%u shards saved, %zu "
               "now)",
               path, n, s->n_shards);
    }
out:
    sn_corr_free(all);
    sn_buf_fini(&b);
    sn_buf_fini(&part);
}
