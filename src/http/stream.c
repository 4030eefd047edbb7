/*
 * Live feed clients (SSE and WebSocket) and the timer that fans incident
 * changes out to them; see stream.h. Each tick renders its changes once
 * per transport into the ring of recent ticks (stream_ring.c). A client
 * gets a new batch only once its previous one is written out: then it
 * takes, by reference and in one write (one SSE chunk), everything it
 * lacks from the ring, up to TICK_BYTES_MAX. So a burst never queues
 * more than one batch per client: a fast client is behind for a moment
 * and catches up, one further behind than the ring is told of a gap
 * (and reloads), and one that writes nothing out for SN_STREAM_STALL_MS
 * is dropped. The WebSocket protocol itself (handshake key, frames) is
 * in ws.c; here we take the connection over from evhttp after the 101
 * answer.
 */
#include "http/stream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/http_int.h"
#include "http/stream_ring.h"
#include "http/ws.h"
#include "incident/incidents.h"

/* How often the store's feed is polled: the latency a console sees. */
#define POLL_MS 100
/* Changes fanned out per tick: ~2,500/s, far above any incident rate, in
 * slices a fast client drains between ticks. */
#define DOCS_PER_TICK 256
/* Bytes one tick renders, and one batch queues on a client, at most
 * (see collect and serve). */
#define TICK_BYTES_MAX (SN_STREAM_CLIENT_BUF_MAX / 2)
/* Ticks without any of a client's queue written out before it is
 * dropped as not reading. */
#define STALL_TICKS (SN_STREAM_STALL_MS / POLL_MS)
/* Idle connections get a comment/ping this often so proxies keep them. */
#define KEEPALIVE_NS (15LL * 1000000000)
/* A WebSocket being closed gets this long to take its close frame. */
#define CLOSE_GRACE_S 5

enum kind { C_SSE, C_WS };

struct client {
    struct sn_stream *st;
    enum kind kind;
    struct evhttp_request *req; /* SSE: the streaming reply */
    struct evhttp_connection *evcon;
    struct bufferevent *bev; /* the connection's bufferevent */
    int64_t seq;             /* last feed position queued to this client */
    bool closing;            /* dropped or closing: nothing more is sent */
    /* Progress of the writes (drop a client that takes nothing): the
     * queue at the last tick, whether it was written out since, and the
     * ticks in a row without progress. */
    size_t last_pending;
    bool drained;
    unsigned stalled;
    char ident[80];          /* token name or "peer:addr" (per-token cap) */
    char tok_name[64];       /* the token that opened the feed, if any */
    bool has_tok;
    unsigned char tok_hash[32]; /* revoked (or re-created): feed ends */
    struct client *next, *prev;
};

struct sn_stream {
    struct sn_http *h;
    struct event *timer;
    int64_t seq; /* feed position; 0: not started ("from now" next) */
    struct client *clients;
    size_t n, n_kind[2]; /* clients, and clients per transport */
    struct sn_stream_ring *ring;
    struct evbuffer *tmp;
    struct sn_buf msg; /* one rendered message */
    /* This tick's changes: rendered per transport, back to back, and
     * where each change starts (index i: seqs[i], offs[k][i]). */
    struct sn_buf tick[2];
    int64_t seqs[DOCS_PER_TICK];
    size_t offs[2][DOCS_PER_TICK];
    size_t n_tick;
    bool tick_full; /* a change did not fit: the tick ends before it */
    int64_t last_keepalive;
    int64_t tokens_checked; /* h->tokens_mtime_ns of the last check */
    struct sn_counter *c_clients, *c_dropped, *c_sent, *c_gaps, *c_refused,
        *c_revoked, *c_ctl_overflow, *c_deferred, *c_ring_bytes;
};

static void
unlink_client(struct client *c)
{
    struct sn_stream *st = c->st;

    if (c->prev)
        c->prev->next = c->next;
    else
        st->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    st->n--;
    st->n_kind[c->kind]--;
    sn_gauge_set(st->c_clients, st->n);
}

/* A kernel send buffer autotuned to megabytes would hide a stalled
 * reader from the per-client limit for a long time: keep it small so the
 * limit, not the kernel, decides when a client is too slow. */
#define FEED_SNDBUF (64 * 1024)

static void
link_client(struct sn_stream *st, struct client *c)
{
    int sz = FEED_SNDBUF;

    setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_SNDBUF, &sz,
               sizeof(sz));
    /* A tick's block in as few write(2)s as the send buffer takes
     * (libevent's default is 16 KiB per write). */
    bufferevent_set_max_single_write(c->bev, FEED_SNDBUF);
    c->st = st;
    c->next = st->clients;
    c->prev = NULL;
    if (st->clients)
        st->clients->prev = c;
    st->clients = c;
    st->n++;
    st->n_kind[c->kind]++;
    sn_gauge_set(st->c_clients, st->n);
}

static size_t
pending(const struct client *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static void serve(struct client *c);

/* --- SSE -------------------------------------------------------------- */

/* evhttp calls this once the connection's output is written out: the
 * client may take its next batch. */
static void
sse_drained(struct evhttp_connection *evcon, void *arg)
{
    struct client *c = arg;

    (void)evcon;
    c->drained = true;
    serve(c);
}

/* Send st->tmp as one chunk. Every chunk names sse_drained: evhttp keeps
 * the callback of the last write only. */
static void
sse_flush(struct client *c)
{
    evhttp_send_reply_chunk_with_cb(c->req, c->st->tmp, sse_drained, c);
    evbuffer_drain(c->st->tmp, evbuffer_get_length(c->st->tmp));
}

static void
sse_write(struct client *c, const char *p, size_t len)
{
    evbuffer_add(c->st->tmp, p, len);
    sse_flush(c);
}

static void
sse_closed(struct evhttp_connection *evcon, void *arg)
{
    struct client *c = arg;
    struct evhttp_request *req = c->req;

    (void)evcon;
    unlink_client(c);
    free(c);
    /* libevent 2.1 detaches a request whose reply is still streaming when
     * the peer goes away and leaves it to us: ending it frees it. */
    if (evhttp_request_get_connection(req) == NULL)
        evhttp_send_reply_end(req);
}

/* End the stream: the connection finishes sending what it has, then
 * evhttp owns it again (and its write timeout bounds a stalled peer). */
static void
sse_end(struct client *c)
{
    evhttp_connection_set_closecb(c->evcon, NULL, NULL);
    evhttp_send_reply_end(c->req);
    unlink_client(c);
    free(c);
}

/* --- WebSocket --------------------------------------------------------- */

static void
ws_free(struct client *c)
{
    struct evhttp_connection *evcon = c->evcon;

    unlink_client(c);
    free(c);
    /* Frees the bufferevent (and socket) and the request with it. */
    evhttp_connection_free(evcon);
}

static void
ws_send(struct client *c, int opcode, const void *p, size_t len)
{
    uint8_t hdr[10];
    size_t hl = sn_ws_frame_header(hdr, opcode, len);
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add(out, hdr, hl);
    evbuffer_add(out, p, len);
}

/* A control frame (pong, keepalive ping) counts against the client's
 * buffer like data does: a client that sends pings and never reads
 * would otherwise queue pongs without bound. Over the limit the client
 * is cut off at once (it reads nothing, so a close frame would only
 * wait); false then, and c is gone. */
static bool
ws_control(struct client *c, int opcode, const void *p, size_t len)
{
    if (pending(c) + 2 + len > SN_STREAM_CLIENT_BUF_MAX) {
        sn_counter_add(c->st->c_ctl_overflow, 1);
        sn_counter_add(c->st->c_dropped, 1);
        sn_log_warn("http: live feed: WebSocket client %s queued more than "
                    "%d bytes of control frames without reading: "
                    "disconnected",
                    c->ident, SN_STREAM_CLIENT_BUF_MAX);
        ws_free(c);
        return false;
    }
    ws_send(c, opcode, p, len);
    return true;
}

/* The output is written out: the client may take its next batch. */
static void
ws_drained(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;

    (void)bev;
    c->drained = true;
    serve(c);
}

static void
ws_drained_then_free(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ws_free(arg);
}

static void
ws_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    /* EOF, error or the close grace timeout. */
    sn_log_debug("http: live feed: WebSocket event 0x%x", (unsigned)what);
    ws_free(arg);
}

/* Send a close frame and free the client once it is written. */
static void
ws_close(struct client *c, unsigned code, const char *why)
{
    uint8_t p[2 + 64];
    size_t wl = strlen(why) > 64 ? 64 : strlen(why);
    struct timeval grace = { CLOSE_GRACE_S, 0 };

    if (c->closing)
        return;
    c->closing = true;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, why, wl);
    ws_send(c, SN_WS_CLOSE, p, 2 + wl);
    bufferevent_setcb(c->bev, NULL, ws_drained_then_free, ws_event, c);
    /* Nothing more is read: what a closing client sends would only pile
     * up in the input buffer. */
    bufferevent_disable(c->bev, EV_READ);
    /* Only the write side times out: the peer owes us no data. */
    bufferevent_set_timeouts(c->bev, NULL, &grace);
    bufferevent_enable(c->bev, EV_WRITE);
}

static void
ws_read(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (!c->closing) {
        size_t n = evbuffer_get_length(in);
        size_t want = n < SN_WS_IN_MAX + 14 ? n : SN_WS_IN_MAX + 14;
        uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)want);
        struct sn_ws_frame f;
        int r;

        if (p == NULL)
            return;
        r = sn_ws_parse(p, want, &f);
        if (r == 0)
            return;
        if (r < 0) {
            ws_close(c, 1002, "protocol error");
            return;
        }
        switch (f.opcode) {
        case SN_WS_PING:
            if (!ws_control(c, SN_WS_PONG, p + f.header_len, f.len))
                return; /* c is freed */
            break;
        case SN_WS_CLOSE:
            /* RFC 6455 5.5.1: answer with a close, then hang up. */
            ws_close(c, 1000, "bye");
            break;
        default:
            /* The feed is one-way: client data frames are ignored. */
            break;
        }
        evbuffer_drain(in, f.header_len + f.len);
    }
}

/* --- fan-out ----------------------------------------------------------- */

/* Which side made a client slow, from the kernel's send queue (unsent
 * plus unacknowledged bytes): full, the peer stopped reading; with room,
 * this daemon did not get to write what it had queued (its control
 * thread fell behind). Said in the drop warning, so an operator (and
 * bench/live_feed_load.sh) can tell a stalled client from a loaded
 * daemon. Called only when a client is dropped. */
static const char *
slow_side(const struct client *c)
{
    int fd = bufferevent_getfd(c->bev), outq = 0, snd = 0;
    socklen_t sl = sizeof(snd);

    if (ioctl(fd, SIOCOUTQ, &outq) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &sl) != 0)
        return "send queue unknown";
    /* Linux reports SO_SNDBUF doubled (bookkeeping included) and stops
     * queueing well before it: half of it means full. */
    return outq >= snd / 2 ? "the peer is not reading (its socket is full)"
                           : "the socket has room (the daemon fell behind "
                             "writing)";
}

static void
drop(struct client *c)
{
    static const char sse_note[] =
        "event: dropped\ndata: {\"reason\":\"slow client: more than "
        "the per-client buffer was queued; reconnect with Last-Event-ID\"}"
        "\n\n";

    sn_counter_add(c->st->c_dropped, 1);
    sn_log_warn("http: live feed: dropping a slow %s client at seq %lld: "
                "%zu bytes queued, %s",
                c->kind == C_SSE ? "SSE" : "WebSocket", (long long)c->seq,
                pending(c), slow_side(c));
    if (c->kind == C_SSE) {
        sse_write(c, sse_note, sizeof(sse_note) - 1);
        sse_end(c);
    } else
        ws_close(c, 4001, "slow client dropped; resume with last_event_id");
}

/* Render doc for kind into st->msg. */
static void
render(struct sn_stream *st, enum kind k, const struct sn_doc *doc)
{
    struct sn_buf *b = &st->msg;

    sn_buf_reset(b);
    if (k == C_SSE) {
        const char *p = doc->json.ptr, *end = p + doc->json.len;
        sn_buf_printf(b, "id: %lld\nevent: incident\n", (long long)doc->seq);
        /* SSE data lines end at newlines: one data: per line. */
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            SN_BUF_LIT(b, "data: ");
            sn_buf_append(b, p, len);
            sn_buf_putc(b, '\n');
            p += len + (nl != NULL);
        }
        sn_buf_putc(b, '\n');
    } else {
        sn_buf_printf(b, "{\"seq\":%lld,\"incident\":", (long long)doc->seq);
        sn_buf_append(b, doc->json.ptr, doc->json.len);
        sn_buf_putc(b, '}');
    }
}

/* Queue one small message (hello, gap) on c, or drop c when even that
 * would take it past its buffer limit. Returns false when c is gone. */
static bool
deliver(struct client *c, const struct sn_buf *m)
{
    if (pending(c) + m->len > SN_STREAM_CLIENT_BUF_MAX) {
        drop(c);
        return false;
    }
    if (c->kind == C_SSE)
        sse_write(c, m->data, m->len);
    else
        ws_send(c, SN_WS_TEXT, m->data, m->len);
    return true;
}

static void
send_event(struct client *c, const char *event, const char *json)
{
    struct sn_buf *b = &c->st->msg;

    sn_buf_reset(b);
    if (c->kind == C_SSE)
        sn_buf_printf(b, "event: %s\ndata: %s\n\n", event, json);
    else
        sn_buf_printf(b, "{\"event\":\"%s\",\"data\":%s}", event, json);
    deliver(c, b);
}

/* Collect one change of this tick, rendered for each transport in use. */
static void
collect(void *arg, const struct sn_doc *doc)
{
    struct sn_stream *st = arg;
    size_t i = st->n_tick;

    if (st->tick_full || i >= DOCS_PER_TICK)
        return;
    st->seqs[i] = doc->seq;
    for (int k = C_SSE; k <= C_WS; k++) {
        uint8_t hdr[10];
        size_t hl = 0;
        st->offs[k][i] = st->tick[k].len;
        if (st->n_kind[k] == 0)
            continue; /* nobody to send it to: not rendered */
        render(st, (enum kind)k, doc);
        if (k == C_WS)
            hl = sn_ws_frame_header(hdr, SN_WS_TEXT, st->msg.len);
        /* A tick never holds more than one batch, so a batch always has
         * room for at least one whole tick. */
        if ((i > 0 && st->tick[k].len + hl + st->msg.len > TICK_BYTES_MAX) ||
            sn_buf_append(&st->tick[k], hdr, hl) != SN_OK ||
            sn_buf_append(&st->tick[k], st->msg.data, st->msg.len) != SN_OK) {
            /* The tick is full: this change and the rest of the slice go
             * out next tick (sn_stream_poll moves the position back). */
            st->tick[C_SSE].len = st->offs[C_SSE][i];
            st->tick[C_WS].len =
                k == C_WS ? st->offs[C_WS][i] : st->tick[C_WS].len;
            st->tick_full = true;
            return;
        }
    }
    st->n_tick++;
}

/* Keep this tick's changes in the ring, where every client takes them. */
static void
keep_tick(struct sn_stream *st, int64_t after)
{
    const struct sn_buf *tick[2];
    const size_t *offs[2] = { st->offs[C_SSE], st->offs[C_WS] };

    for (int k = C_SSE; k <= C_WS; k++)
        tick[k] = st->n_kind[k] > 0 ? &st->tick[k] : NULL;
    /* Out of memory: the clients that lack these changes get a gap. */
    if (sn_stream_ring_push(st->ring, after, st->n_tick, st->seqs, tick,
                            offs) != SN_OK)
        sn_log_warn("http: live feed: out of memory keeping %zu changes",
                    st->n_tick);
    sn_gauge_set(st->c_ring_bytes, sn_stream_ring_bytes(st->ring));
}

/* c was further behind than the ring reaches: it skips to the feed's
 * position and is told how much it missed, so it reloads what it shows
 * from the API (the console re-fetches its view). */
static void
skip_to_head(struct client *c)
{
    struct sn_stream *st = c->st;
    char j[128];

    snprintf(j, sizeof(j),
             "{\"after\":%lld,\"next\":%lld,\"skipped\":%lld,"
             "\"reload\":true}",
             (long long)c->seq, (long long)st->seq + 1,
             (long long)(st->seq - c->seq));
    sn_counter_add(st->c_gaps, 1);
    c->seq = st->seq;
    send_event(c, "gap", j);
}

/* Give c what it lacks of the feed, when its previous batch is written
 * out: everything the ring has after c->seq up to TICK_BYTES_MAX, by
 * reference, in one write. A client whose queue is not empty waits for
 * its drained callback (or the next tick), so nobody ever holds more
 * than one batch however large the burst. */
static void
serve(struct client *c)
{
    struct sn_stream *st = c->st;
    struct evbuffer *out;
    long n;

    if (c->closing || c->seq >= st->seq || pending(c) > 0)
        return;
    out = c->kind == C_SSE ? st->tmp : bufferevent_get_output(c->bev);
    n = sn_stream_ring_take(st->ring, c->kind, &c->seq, TICK_BYTES_MAX, out);
    if (n < 0) {
        skip_to_head(c);
        return;
    }
    if (n == 0)
        return;
    if (c->kind == C_SSE)
        sse_flush(c);
    sn_counter_add(st->c_sent, (uint64_t)n);
}

/* Once a tick, per client: drop it when nothing of its queue was written
 * for SN_STREAM_STALL_MS (it does not read: its batch would stay queued
 * for ever), else serve it. Progress is a queue that shrank or was
 * written out since the last tick. */
static void
tick_client(struct client *c)
{
    size_t p = pending(c);

    if (c->closing)
        return;
    if (p == 0 || c->drained || p < c->last_pending)
        c->stalled = 0;
    else if (++c->stalled >= STALL_TICKS) {
        drop(c);
        return;
    }
    c->last_pending = p;
    c->drained = false;
    if (p > 0) {
        if (c->seq < c->st->seq)
            sn_counter_add(c->st->c_deferred, 1);
        return;
    }
    serve(c);
}

/* The feed position moves without a callback when st->seq is 0. */
static void
ignore_doc(void *arg, const struct sn_doc *doc)
{
    (void)arg;
    (void)doc;
}

static struct sn_incidents *
store(struct sn_stream *st)
{
    struct sn_error err;

    sn_error_clear(&err);
    return sn_http_store(st->h, &err);
}

/* Read the store's new changes into the ring and give every client what
 * it lacks; on the timer's tick (is_tick) also drop clients that stall. */
static void
poll_feed(struct sn_stream *st, bool is_tick)
{
    struct sn_incidents *inc;
    struct client *c, *next;
    int64_t after;

    if (st->n == 0) {
        /* Nobody listens: start from "now" when someone does. */
        st->seq = 0;
        sn_stream_ring_clear(st->ring);
        sn_gauge_set(st->c_ring_bytes, 0);
        return;
    }
    if ((inc = store(st)) == NULL)
        return;
    /* One bounded slice per tick, rendered once into the ring; each
     * client takes from there as fast as it writes (serve). */
    st->n_tick = 0;
    st->tick_full = false;
    sn_buf_reset(&st->tick[C_SSE]);
    sn_buf_reset(&st->tick[C_WS]);
    after = st->seq;
    sn_incidents_feed(inc, &st->seq, DOCS_PER_TICK, collect, st);
    if (st->tick_full && st->n_tick > 0)
        st->seq = st->seqs[st->n_tick - 1];
    if (st->n_tick > 0)
        keep_tick(st, after);
    for (c = st->clients; c != NULL; c = next) {
        next = c->next;
        if (is_tick)
            tick_client(c);
        else
            serve(c);
    }
    if (sn_clock_mono_ns() - st->last_keepalive > KEEPALIVE_NS) {
        st->last_keepalive = sn_clock_mono_ns();
        for (c = st->clients; c != NULL; c = next) {
            next = c->next;
            if (c->closing)
                continue;
            if (c->kind == C_SSE) {
                if (pending(c) + 13 > SN_STREAM_CLIENT_BUF_MAX)
                    drop(c);
                else
                    sse_write(c, ": keepalive\n\n", 13);
            } else
                ws_control(c, SN_WS_PING, "", 0);
        }
    }
}

void
sn_stream_poll(struct sn_http *h)
{
    if (h->stream != NULL)
        poll_feed(h->stream, false);
}

/* A feed outlives the request that opened it: when the tokens file
 * changes, end every feed whose token is gone (revoked, or re-created
 * with another secret). The file is checked on each tick (one stat), so
 * a revocation ends its feeds within POLL_MS. */
static void
check_tokens(struct sn_http *h)
{
    struct sn_stream *st = h->stream;
    struct client *c, *next;
    static const char note[] =
        "event: revoked\ndata: {\"reason\":\"the token was revoked\"}\n\n";

    if (!h->conf.auth || st->n == 0)
        return;
    /* A request may have loaded the new set already: compare with the
     * set this function last checked against. */
    sn_auth_refresh(h);
    if (h->tokens == NULL || h->tokens_mtime_ns == st->tokens_checked)
        return;
    st->tokens_checked = h->tokens_mtime_ns;
    for (c = st->clients; c != NULL; c = next) {
        next = c->next;
        if (c->closing || !c->has_tok ||
            sn_auth_token_valid(h, c->tok_name, c->tok_hash))
            continue;
        sn_counter_add(st->c_revoked, 1);
        sn_log_info("http: live feed: token %s was revoked: ending its "
                    "%s feed",
                    c->tok_name, c->kind == C_SSE ? "SSE" : "WebSocket");
        if (c->kind == C_SSE) {
            sse_write(c, note, sizeof(note) - 1);
            sse_end(c);
        } else
            ws_close(c, 4003, "token revoked");
    }
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sn_http *h = arg;

    (void)fd;
    (void)what;
    check_tokens(h);
    if (h->stream != NULL)
        poll_feed(h->stream, true);
}

/* Catch c up from its resume point through the store, one batch
 * (TICK_BYTES_MAX) at most; the rest comes from the ring like any
 * client's that is behind. A hole in what the store still has is
 * announced as a gap. */
struct catchup {
    struct client *c;
    int64_t from;
    bool first, gone, full;
};

static void
catchup_one(void *arg, const struct sn_doc *doc)
{
    struct catchup *cu = arg;
    struct sn_stream *st = cu->c->st;

    if (cu->gone || cu->full)
        return;
    if (pending(cu->c) >= TICK_BYTES_MAX) {
        cu->full = true;
        return;
    }
    if (cu->first && doc->seq > cu->from + 1) {
        char j[96];
        snprintf(j, sizeof(j), "{\"after\":%lld,\"next\":%lld}",
                 (long long)cu->from, (long long)doc->seq);
        sn_counter_add(st->c_gaps, 1);
        send_event(cu->c, "gap", j);
    }
    cu->first = false;
    render(st, cu->c->kind, doc);
    if (!deliver(cu->c, &st->msg)) {
        cu->gone = true;
        return;
    }
    cu->c->seq = doc->seq;
}

/* Start the client: hello with the position, then catch-up when it
 * resumes. Returns false when the client was dropped meanwhile. */
static bool
start_client(struct client *c, int64_t resume)
{
    struct sn_stream *st = c->st;
    struct sn_incidents *inc = store(st);
    char j[64];

    if (inc != NULL && st->seq == 0) {
        sn_incidents_feed(inc, &st->seq, 1, ignore_doc, st);
        if (st->seq == 0)
            st->seq = -1;
    }
    c->seq = st->seq > 0 ? st->seq : 0;
    if (inc != NULL && resume >= 0 && resume < c->seq) {
        struct catchup cu = { c, resume, true, false, false };
        int64_t pos = resume > 0 ? resume : -1;
        long n;
        c->seq = resume;
        do
            n = sn_incidents_feed(inc, &pos, 256, catchup_one, &cu);
        while (n > 0 && !cu.gone && !cu.full && pos < st->seq);
        if (cu.gone)
            return false;
        if (!cu.full && c->seq < st->seq && st->seq > 0) {
            /* The store no longer has what the client missed. */
            snprintf(j, sizeof(j), "{\"after\":%lld,\"next\":null}",
                     (long long)resume);
            sn_counter_add(st->c_gaps, 1);
            send_event(c, "gap", j);
            c->seq = st->seq;
        }
    }
    snprintf(j, sizeof(j), "{\"seq\":%lld}", (long long)c->seq);
    send_event(c, "hello", j);
    return true;
}

static int64_t
resume_from(struct sn_req *rq)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(rq->r),
                                       "Last-Event-ID");
    char *end;
    long long n;

    if (v == NULL)
        v = sn_req_query(rq, "last_event_id");
    if (v == NULL || *v == '\0')
        return -1;
    n = strtoll(v, &end, 10);
    return *end == '\0' && n >= 0 ? n : -1;
}

static bool
room(struct sn_req *rq)
{
    struct sn_stream *st = rq->h->stream;
    int64_t mine = 0, cap = rq->h->conf.feed_clients_per_token;

    if (st->n >= SN_STREAM_CLIENTS_MAX) {
        sn_counter_add(st->c_refused, 1);
        sn_reply_error(rq, 503, "too_many_clients",
                       "the live feed serves at most %d clients",
                       SN_STREAM_CLIENTS_MAX);
        return false;
    }
    /* One token (a leaked one, or a console in a reload loop) must not
     * take every slot: the clients are few, a scan is cheap. */
    for (const struct client *c = st->clients; c != NULL; c = c->next)
        mine += !c->closing && strcmp(c->ident, rq->ident) == 0;
    if (cap > 0 && mine >= cap) {
        sn_counter_add(st->c_refused, 1);
        sn_reply_error(rq, 429, "too_many_feeds",
                       "%s already has %lld live feed connections "
                       "(http.feed_clients_per_token)",
                       rq->actor, (long long)cap);
        return false;
    }
    return true;
}

/* Who the client is, for the per-token cap and revocation. */
static void
client_identity(struct client *c, const struct sn_req *rq)
{
    snprintf(c->ident, sizeof(c->ident), "%s", rq->ident);
    snprintf(c->tok_name, sizeof(c->tok_name), "%s", rq->actor);
    c->has_tok = rq->has_tok;
    memcpy(c->tok_hash, rq->tok_hash, sizeof(c->tok_hash));
}

void
sn_stream_sse(struct sn_req *rq)
{
    struct sn_stream *st = rq->h->stream;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(rq->r);
    struct client *c;
    int64_t resume = resume_from(rq);

    if (!room(rq))
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sn_reply_error(rq, 500, "internal", "out of memory");
        return;
    }
    c->kind = C_SSE;
    client_identity(c, rq);
    c->req = rq->r;
    c->evcon = evhttp_request_get_connection(rq->r);
    c->bev = evhttp_connection_get_bufferevent(c->evcon);
    evhttp_add_header(oh, "Content-Type", "text/event-stream");
    evhttp_add_header(oh, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(rq->r, 200, "OK");
    link_client(st, c);
    evhttp_connection_set_closecb(c->evcon, sse_closed, c);
    sse_write(c, "retry: 2000\n\n", 13);
    sn_req_log(rq, SN_LOG_INFO, "live feed (SSE) for %s from seq %lld",
               rq->actor, (long long)resume);
    start_client(c, resume);
}

/* Does the header's comma-separated list contain token (any case)? */
static bool
has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);

    while (v != NULL && *v) {
        while (*v == ' ' || *v == ',')
            v++;
        if (strncasecmp(v, token, tl) == 0 &&
            (v[tl] == '\0' || v[tl] == ',' || v[tl] == ' '))
            return true;
        v = strchr(v, ',');
    }
    return false;
}

/* Browsers send Origin on WebSocket requests and do not apply CORS to
 * them: refuse pages of other origins (cross-site WebSocket hijacking). */
static bool
same_origin(const char *origin, const char *host)
{
    const char *p;

    if (origin == NULL)
        return true; /* not a browser */
    if (host == NULL)
        return false;
    p = strstr(origin, "://");
    return p != NULL && strcasecmp(p + 3, host) == 0;
}

void
sn_stream_ws(struct sn_req *rq)
{
    struct sn_stream *st = rq->h->stream;
    struct evkeyvalq *ih = evhttp_request_get_input_headers(rq->r);
    const char *key = evhttp_find_header(ih, "Sec-WebSocket-Key");
    const char *ver = evhttp_find_header(ih, "Sec-WebSocket-Version");
    char accept[29];
    struct client *c;
    struct evbuffer *out;
    int64_t resume = resume_from(rq);

    if (!has_token(evhttp_find_header(ih, "Upgrade"), "websocket") ||
        !has_token(evhttp_find_header(ih, "Connection"), "upgrade") ||
        key == NULL || strlen(key) != 24 || ver == NULL ||
        strcmp(ver, "13") != 0) {
        sn_reply_error(rq, 400, "bad_upgrade",
                       "expected a WebSocket upgrade (RFC 6455, version 13)");
        return;
    }
    if (!same_origin(evhttp_find_header(ih, "Origin"),
                     evhttp_find_header(ih, "Host"))) {
        sn_reply_error(rq, 403, "bad_origin",
                       "WebSocket from another origin refused");
        return;
    }
    if (!room(rq))
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sn_reply_error(rq, 500, "internal", "out of memory");
        return;
    }
    sn_ws_accept_key(key, accept);
    c->kind = C_WS;
    client_identity(c, rq);
    c->req = rq->r;
    c->evcon = evhttp_request_get_connection(rq->r);
    c->bev = evhttp_connection_get_bufferevent(c->evcon);
    /* Take the connection over from evhttp: it never answers this
     * request; we write the 101 and speak frames from here on. */
    out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n"
                        "X-Correlation-ID: %s\r\n\r\n",
                        accept, rq->cid);
    bufferevent_setcb(c->bev, ws_read, ws_drained, ws_event, c);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    link_client(st, c);
    sn_req_log(rq, SN_LOG_INFO, "live feed (WebSocket) for %s from seq %lld",
               rq->actor, (long long)resume);
    start_client(c, resume);
}

struct sn_stream *
sn_stream_new(struct sn_http *h)
{
    struct sn_stream *st = calloc(1, sizeof(*st));
    struct timeval tv = { 0, POLL_MS * 1000 };
    struct sn_metrics *m = h->env.metrics;

    if (st == NULL)
        return NULL;
    st->h = h;
    st->tmp = evbuffer_new();
    st->timer = event_new(h->base, -1, EV_PERSIST, on_timer, h);
    st->ring = sn_stream_ring_new(h->conf.feed_history);
    sn_buf_init(&st->msg, 64u << 20);
    sn_buf_init(&st->tick[C_SSE], 256u << 20);
    sn_buf_init(&st->tick[C_WS], 256u << 20);
    if (st->tmp == NULL || st->timer == NULL || st->ring == NULL ||
        evtimer_add(st->timer, &tv)) {
        sn_stream_free(st);
        return NULL;
    }
    st->last_keepalive = sn_clock_mono_ns();
    st->c_clients = sn_metrics_gauge(m, "sentineld_http_stream_clients", NULL,
                                     "live feed clients connected");
    st->c_dropped =
        sn_metrics_counter(m, "sentineld_http_stream_dropped_total", NULL,
                           "live feed clients dropped as too slow");
    st->c_sent = sn_metrics_counter(m, "sentineld_http_stream_messages_total",
                                    NULL, "live feed messages queued");
    st->c_gaps = sn_metrics_counter(m, "sentineld_http_stream_gaps_total", NULL,
                                    "resumes that could not be served in full");
    st->c_refused = sn_metrics_counter(
        m, "sentineld_http_stream_refused_total", NULL,
        "live feed clients refused (too many, or too many for one token)");
    st->c_revoked =
        sn_metrics_counter(m, "sentineld_http_stream_revoked_total", NULL,
                           "live feeds ended because their token was revoked");
    st->c_ctl_overflow = sn_metrics_counter(
        m, "sentineld_http_stream_control_overflow_total", NULL,
        "WebSocket clients cut off for queueing control frames (pongs) "
        "past the per-client buffer without reading");
    st->c_deferred = sn_metrics_counter(
        m, "sentineld_http_stream_deferred_total", NULL,
        "ticks at which a live feed client had changes waiting but was "
        "still writing its previous batch (it catches up from the ring)");
    st->c_ring_bytes = sn_metrics_gauge(
        m, "sentineld_http_stream_ring_bytes", NULL,
        "bytes of recent live feed changes kept for clients that are behind");
    return st;
}

void
sn_stream_free(struct sn_stream *st)
{
    if (st == NULL)
        return;
    /* The connections themselves go with evhttp_free. */
    while (st->clients != NULL) {
        struct client *c = st->clients;
        if (c->kind == C_SSE)
            evhttp_connection_set_closecb(c->evcon, NULL, NULL);
        else
            bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
        unlink_client(c);
        free(c);
    }
    if (st->timer)
        event_free(st->timer);
    if (st->tmp)
        evbuffer_free(st->tmp);
    sn_stream_ring_free(st->ring);
    sn_buf_fini(&st->msg);
    sn_buf_fini(&st->tick[C_SSE]);
    sn_buf_fini(&st->tick[C_WS]);
    free(st);
}
