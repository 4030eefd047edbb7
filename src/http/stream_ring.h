/*
 * The live feed's recent history: each tick's changes, rendered once per
 * transport into one reference-counted block, kept until a byte bound
 * (http.feed_history) pushes the oldest out. A client that is behind
 * (its previous batch was not yet written when new changes came) catches
 * up from here by reference, without a store read or a copy; a client
 * further behind than the ring is told of a gap instead (stream.c). It
 * does not know clients. Control thread only. docs/internals/http.md.
 */
#ifndef SN_HTTP_STREAM_RING_H
#define SN_HTTP_STREAM_RING_H

#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

struct evbuffer;
struct sn_buf;
struct sn_stream_ring;

/* Transports a tick is rendered for (index into the per-transport
 * arrays below). */
#define SN_STREAM_TRANSPORTS 2

/* A ring holding at most max_bytes of rendered changes (the newest tick
 * is always kept). NULL: out of memory. */
struct sn_stream_ring *sn_stream_ring_new(size_t max_bytes);
void sn_stream_ring_free(struct sn_stream_ring *r);
/* Forget every tick (the feed restarts "from now"). */
void sn_stream_ring_clear(struct sn_stream_ring *r);

/* Keep one tick: n changes at positions seqs[0..n) (ascending), the first
 * following position `after`, that is the previous tick's last. tick[t]
 * holds them rendered for transport t back to back, change i starting at
 * offs[t][i]; tick[t] NULL: nobody uses transport t, it was not rendered.
 * The bytes are copied. SN_ENOMEM leaves the ring as it was. */
enum sn_status sn_stream_ring_push(struct sn_stream_ring *r, int64_t after,
                                   size_t n, const int64_t *seqs,
                                   const struct sn_buf *const *tick,
                                   const size_t *const *offs);

/* Queue onto out, by reference, transport t's rendering of the changes
 * after *seq: from the change after *seq to the end of its tick, then
 * whole later ticks while the total stays within max bytes. *seq becomes
 * the last change queued. Returns the number of changes queued (0: none
 * after *seq), or -1 when the ring does not reach back to *seq (or that
 * tick was not rendered for t): the caller announces the gap. The blocks
 * are freed when the last buffer referencing them has written them. */
long sn_stream_ring_take(struct sn_stream_ring *r, int t, int64_t *seq,
                         size_t max, struct evbuffer *out);

/* Bytes the ring holds (for the feed's gauge). */
size_t sn_stream_ring_bytes(const struct sn_stream_ring *r);

#endif
