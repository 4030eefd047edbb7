/*
 * The live feed's recent ticks, rendered and reference-counted; see
 * stream_ring.h. A circular array of ticks, oldest first; each tick's
 * bytes live in one block per transport that client output buffers
 * reference (evbuffer_add_reference), so a block outlives its eviction
 * from the ring until the last client has written it.
 */
#include "http/stream_ring.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* Ticks kept at most whatever their size: a minute of 100 ms ticks, so
 * the search over them stays short when every tick holds one change. */
#define RING_TICKS 600

/* One tick's bytes for one transport; freed when the ring and every
 * output buffer holding a reference let go of it. */
struct block {
    unsigned refs;
    size_t len;
    char data[];
};

struct tick {
    struct block *blk[SN_STREAM_TRANSPORTS]; /* NULL: not rendered */
    int64_t after;                           /* the previous tick's last */
    size_t n;
    int64_t *seqs;                      /* n positions, ascending */
    size_t *offs[SN_STREAM_TRANSPORTS]; /* where change i starts */
};

struct sn_stream_ring {
    struct tick *ticks[RING_TICKS];
    size_t first, count; /* oldest at ticks[first], circular */
    size_t bytes, max_bytes;
};

static void
block_unref(const void *data, size_t len, void *arg)
{
    struct block *b = arg;

    (void)data;
    (void)len;
    if (--b->refs == 0)
        free(b);
}

static size_t
tick_bytes(const struct tick *tk)
{
    size_t n = 0;

    for (int t = 0; t < SN_STREAM_TRANSPORTS; t++)
        n += tk->blk[t] != NULL ? tk->blk[t]->len : 0;
    return n;
}

static void
tick_free(struct tick *tk)
{
    if (tk == NULL)
        return;
    for (int t = 0; t < SN_STREAM_TRANSPORTS; t++)
        if (tk->blk[t] != NULL)
            block_unref(NULL, 0, tk->blk[t]);
    free(tk->seqs);
    free(tk);
}

static struct tick *
at(const struct sn_stream_ring *r, size_t i)
{
    return r->ticks[(r->first + i) % RING_TICKS];
}

static void
evict_oldest(struct sn_stream_ring *r)
{
    struct tick *tk = r->ticks[r->first];

    r->bytes -= tick_bytes(tk);
    tick_free(tk);
    r->ticks[r->first] = NULL;
    r->first = (r->first + 1) % RING_TICKS;
    r->count--;
}

struct sn_stream_ring *
sn_stream_ring_new(size_t max_bytes)
{
    struct sn_stream_ring *r = calloc(1, sizeof(*r));

    if (r != NULL)
        r->max_bytes = max_bytes;
    return r;
}

void
sn_stream_ring_clear(struct sn_stream_ring *r)
{
    while (r->count > 0)
        evict_oldest(r);
    r->first = 0;
}

void
sn_stream_ring_free(struct sn_stream_ring *r)
{
    if (r == NULL)
        return;
    sn_stream_ring_clear(r);
    free(r);
}

enum sn_status
sn_stream_ring_push(struct sn_stream_ring *r, int64_t after, size_t n,
                    const int64_t *seqs, const struct sn_buf *const *tick,
                    const size_t *const *offs)
{
    struct tick *tk;

    if (n == 0)
        return SN_OK;
    if ((tk = calloc(1, sizeof(*tk))) == NULL)
        return SN_ENOMEM;
    /* The positions and both offset arrays in one allocation. */
    tk->seqs =
        malloc(n * (sizeof(int64_t) + SN_STREAM_TRANSPORTS * sizeof(size_t)));
    if (tk->seqs == NULL)
        goto fail;
    memcpy(tk->seqs, seqs, n * sizeof(int64_t));
    for (int t = 0; t < SN_STREAM_TRANSPORTS; t++) {
        tk->offs[t] = (size_t *)(void *)(tk->seqs + n) + (size_t)t * n;
        if (tick[t] == NULL)
            continue;
        memcpy(tk->offs[t], offs[t], n * sizeof(size_t));
        tk->blk[t] = malloc(sizeof(struct block) + tick[t]->len);
        if (tk->blk[t] == NULL)
            goto fail;
        tk->blk[t]->refs = 1; /* the ring's own */
        tk->blk[t]->len = tick[t]->len;
        memcpy(tk->blk[t]->data, tick[t]->data, tick[t]->len);
    }
    tk->after = after;
    tk->n = n;
    if (r->count == RING_TICKS)
        evict_oldest(r);
    r->ticks[(r->first + r->count) % RING_TICKS] = tk;
    r->count++;
    r->bytes += tick_bytes(tk);
    while (r->count > 1 && r->bytes > r->max_bytes)
        evict_oldest(r);
    return SN_OK;
fail:
    tick_free(tk);
    return SN_ENOMEM;
}

/* The oldest tick holding a change after seq (binary search: the ticks'
 * positions ascend); r->count when none does. */
static size_t
find(const struct sn_stream_ring *r, int64_t seq)
{
    size_t lo = 0, hi = r->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct tick *tk = at(r, mid);
        if (tk->seqs[tk->n - 1] > seq)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Queue blk->data[off..] on out; false: out of memory. */
static bool
add_ref(struct evbuffer *out, struct block *blk, size_t off)
{
    if (evbuffer_add_reference(out, blk->data + off, blk->len - off,
                               block_unref, blk) != 0)
        return false;
    blk->refs++;
    return true;
}

long
sn_stream_ring_take(struct sn_stream_ring *r, int t, int64_t *seq, size_t max,
                    struct evbuffer *out)
{
    size_t i, k = 0, total = 0;
    long n = 0;
    struct tick *tk;

    if (r->count == 0 || *seq < at(r, 0)->after)
        return -1;
    i = find(r, *seq);
    if (i == r->count)
        return 0;
    tk = at(r, i);
    if (tk->blk[t] == NULL)
        return -1;
    /* Within the first tick, the change after *seq. */
    while (tk->seqs[k] <= *seq)
        k++;
    for (;;) {
        size_t off = tk->offs[t][k], len = tk->blk[t]->len - off;
        if (n > 0 && total + len > max)
            break;
        if (!add_ref(out, tk->blk[t], off))
            return n > 0 ? n : -1;
        total += len;
        n += (long)(tk->n - k);
        *seq = tk->seqs[tk->n - 1];
        if (++i == r->count)
            break;
        tk = at(r, i);
        if (tk->blk[t] == NULL)
            break; /* the next call reports the gap */
        k = 0;
    }
    return n;
}

size_t
sn_stream_ring_bytes(const struct sn_stream_ring *r)
{
    return r->bytes;
}
