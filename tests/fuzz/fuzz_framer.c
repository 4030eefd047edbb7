/*
 * libFuzzer target for the RFC 6587 framer. The first byte picks the
 * framing mode, policies, max_msg and a chunk size; the rest is the
 * stream. It is framed in chunks of that size and again in one feed: the
 * two runs must report the same frames and errors in the same order.
 * Frames must respect max_msg and never hold a delimiter in LF framing,
 * and error offsets must lie inside the stream. Any violation aborts.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
 *        tests/fuzz/fuzz_framer.c src/syslog/framer.c
 * Seeds: tests/fuzz/corpus/framer/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog/framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Chunk size and max_msg, picked by the top two bits of the first byte. */
static const struct {
    size_t chunk, max_msg;
} shapes[4] = { { 1, 8 }, { 3, 64 }, { 17, 5 }, { 64, 300 } };

/* Everything one run reported, serialised. */
struct trace {
    char *text;
    size_t len, cap;
    const struct sn_framer_opts *opts;
    size_t stream_len;
    uint64_t last_offset;
};

static void
check(bool ok)
{
    if (!ok)
        abort();
}

static void
put(struct trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = (t->len + n) * 2 + 256;
        char *q = realloc(t->text, cap);

        check(q != NULL);
        t->text = q;
        t->cap = cap;
    }
    memcpy(t->text + t->len, p, n);
    t->len += n;
}

static void
on_frame(void *ctx, const char *ptr, size_t len, bool truncated)
{
    struct trace *t = ctx;
    const struct sn_framer_opts *o = t->opts;
    uint64_t head[2] = { len, truncated };

    check(len > 0 && len <= o->max_msg);
    check(!truncated || len == o->max_msg);
    if (o->mode == SN_FRAMING_LF) {
        check(memchr(ptr, '\n', len) == NULL);
        check(!o->nul_delim || memchr(ptr, '\0', len) == NULL);
    }
    put(t, "F", 1);
    put(t, head, sizeof(head));
    put(t, ptr, len);
}

static void
on_error(void *ctx, const char *reason, uint64_t offset)
{
    struct trace *t = ctx;

    check(reason != NULL && reason[0] != '\0');
    check(offset <= t->stream_len);
    /* Events come in stream order. */
    check(offset >= t->last_offset);
    t->last_offset = offset;
    put(t, "E", 1);
    put(t, &offset, sizeof(offset));
    put(t, reason, strlen(reason) + 1);
}

static void
run(const struct sn_framer_opts *o, const char *p, size_t len, size_t chunk,
    struct trace *t)
{
    static const struct sn_framer_cb cb = { on_frame, on_error };
    struct sn_framer f;
    enum sn_status rc = SN_OK;

    memset(t, 0, sizeof(*t));
    t->opts = o;
    t->stream_len = len;
    check(sn_framer_init(&f, o) == SN_OK);
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        enum sn_status r = sn_framer_feed(&f, p + i, n, &cb, t);

        check(r == SN_OK || r == SN_EPEER);
        /* Once closed, always closed. */
        check(rc == SN_OK || r == rc);
        rc = r;
    }
    check(sn_framer_finish(&f, &cb, t) == rc);
    check(f.stats.n_truncated <= f.stats.n_frames);
    put(t, &f.stats, sizeof(f.stats));
    sn_framer_fini(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_framer_opts o;
    struct trace a, b;
    const char *p;
    size_t len;
    uint8_t sel;

    if (size == 0)
        return 0;
    sel = data[0];
    p = (const char *)data + 1;
    len = size - 1;
    sn_framer_opts_default(&o);
    o.mode = (sel & 3) == 1   ? SN_FRAMING_OCTET
             : (sel & 3) == 2 ? SN_FRAMING_LF
                              : SN_FRAMING_AUTO;
    o.oversize = (sel & 4) ? SN_OVERSIZE_REJECT : SN_OVERSIZE_TRUNCATE;
    o.on_error = (sel & 8) ? SN_ON_ERROR_CLOSE : SN_ON_ERROR_RESYNC;
    o.strip_cr = (sel & 16) != 0;
    o.nul_delim = (sel & 32) != 0;
    o.max_msg = shapes[sel >> 6].max_msg;
    /* Small enough that long digit runs hit both MSG-LEN limits. */
    o.max_frame = o.max_msg * 4;

    run(&o, p, len, shapes[sel >> 6].chunk, &a);
    run(&o, p, len, len > 0 ? len : 1, &b);
    check(a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
    free(a.text);
    free(b.text);
    return 0;
}
