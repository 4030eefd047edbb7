/*
 * Live feed clients (SSE and WebSocket) and the timer that fans incident
 * changes out to them; see stream.h. Each tick renders its changes once
 * per transport into one shared, reference-counted block, and every
 * client in step gets that block by reference (no copy) in one write
 * (one SSE chunk). The WebSocket
 * protocol itself (handshake key, frames) is in ws.c; here we take the
 * connection over from evhttp after the 101 answer.
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
#include "http/ws.h"
#include "incident/incidents.h"

/* How often the store's feed is polled: the latency a console sees. */
#define POLL_MS 100
/* Changes fanned out per tick: ~2,500/s, far above any incident rate, in
 * slices a fast client drains between ticks. */
#define DOCS_PER_TICK 256
/* Bytes one tick queues per client at most (see collect). */
#define TICK_BYTES_MAX (SN_STREAM_CLIENT_BUF_MAX / 2)
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
    int64_t seq;             /* last feed position this client has */
    bool closing;            /* dropped or closing: nothing more is sent */
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
    size_t n;
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
        *c_revoked, *c_ctl_overflow;
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
    sn_gauge_set(st->c_clients, st->n);
}

static size_t
pending(const struct client *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* --- SSE -------------------------------------------------------------- */

static void
sse_write(struct client *c, const char *p, size_t len)
{
    evbuffer_add(c->st->tmp, p, len);
    evhttp_send_reply_chunk(c->req, c->st->tmp);
    evbuffer_drain(c->st->tmp, evbuffer_get_length(c->st->tmp));
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

/* Send one message to c, or drop c when its buffer is full. Returns
 * false when c is gone. */
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
    sn_counter_add(c->st->c_sent, 1);
    return true;
}

/* A tick's rendered changes, shared by reference by every client's
 * output buffer; freed when the last one has written it. Only the
 * control thread touches it. */
struct block {
    unsigned refs;
    size_t len;
    char data[];
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

static struct block *
block_new(const struct sn_buf *src)
{
    struct block *b = malloc(sizeof(*b) + src->len);

    if (b == NULL)
        return NULL;
    b->refs = 1; /* the fan-out's own, dropped when it is done */
    b->len = src->len;
    memcpy(b->data, src->data, src->len);
    return b;
}

/* Queue b->data[off..] on c by reference. */
static bool
send_block(struct client *c, struct block *b, size_t off)
{
    struct evbuffer *out =
        c->kind == C_SSE ? c->st->tmp : bufferevent_get_output(c->bev);

    if (evbuffer_add_reference(out, b->data + off, b->len - off, block_unref,
                               b) != 0)
        return false;
    b->refs++;
    if (c->kind == C_SSE) {
        /* One chunk for the whole tick; the chain moves, not the bytes. */
        evhttp_send_reply_chunk(c->req, out);
        evbuffer_drain(out, evbuffer_get_length(out));
    }
    return true;
}

/* Collect one change of this tick, rendered for both transports. */
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
        render(st, (enum kind)k, doc);
        if (k == C_WS)
            hl = sn_ws_frame_header(hdr, SN_WS_TEXT, st->msg.len);
        /* A tick never queues more than half a client's allowance, so a
         * client that reads is not dropped for a burst of large changes:
         * the rest waits for the next tick. */
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

/* Give every client what it lacks of this tick's changes, or drop it when
 * that would take it past its buffer limit. */
static void
fan_out(struct sn_stream *st)
{
    struct block *blk[2] = { NULL, NULL };
    struct client *c, *next;
    size_t n = st->n_tick;

    if (n == 0)
        return;
    for (int k = C_SSE; k <= C_WS; k++)
        if ((blk[k] = block_new(&st->tick[k])) == NULL)
            goto out;
    for (c = st->clients; c != NULL; c = next) {
        size_t i = 0, off, len;
        next = c->next;
        if (c->closing)
            continue;
        /* Clients are in step unless one joined mid-way; skip what it
         * already has. */
        while (i < n && st->seqs[i] <= c->seq)
            i++;
        if (i == n)
            continue;
        off = st->offs[c->kind][i];
        len = blk[c->kind]->len - off;
        if (pending(c) + len > SN_STREAM_CLIENT_BUF_MAX) {
            drop(c);
            continue;
        }
        if (!send_block(c, blk[c->kind], off)) {
            drop(c);
            continue;
        }
        c->seq = st->seqs[n - 1];
        sn_counter_add(st->c_sent, n - i);
    }
out:
    for (int k = C_SSE; k <= C_WS; k++)
        if (blk[k] != NULL)
            block_unref(NULL, 0, blk[k]);
}

/* The feed position moves without a callback when st->seq is 0. */
static void
ignore_doc(void *arg, const struct sn_doc *doc)
{
    (void)arg;
    (void)doc;
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

static struct sn_incidents *
store(struct sn_stream *st)
{
    struct sn_error err;

    sn_error_clear(&err);
    return sn_http_store(st->h, &err);
}

void
sn_stream_poll(struct sn_http *h)
{
    struct sn_stream *st = h->stream;
    struct sn_incidents *inc;
    long n;

    if (st == NULL)
        return;
    if (st->n == 0) {
        /* Nobody listens: start from "now" when someone does. */
        st->seq = 0;
        return;
    }
    if ((inc = store(st)) == NULL)
        return;
    /* One bounded slice per tick: between ticks the loop writes to the
     * sockets, so a burst of changes does not pile up in every client's
     * buffer at once and only clients that do not read fall behind. */
    st->n_tick = 0;
    st->tick_full = false;
    sn_buf_reset(&st->tick[C_SSE]);
    sn_buf_reset(&st->tick[C_WS]);
    n = sn_incidents_feed(inc, &st->seq, DOCS_PER_TICK, collect, st);
    if (st->tick_full && st->n_tick > 0)
        st->seq = st->seqs[st->n_tick - 1];
    if (n > 0)
        fan_out(st);
    if (sn_clock_mono_ns() - st->last_keepalive > KEEPALIVE_NS) {
        struct client *c = st->clients, *next;
        st->last_keepalive = sn_clock_mono_ns();
        for (; c != NULL; c = next) {
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
    (void)fd;
    (void)what;
    check_tokens(arg);
    sn_stream_poll(arg);
}

/* Catch c up from its resume point to the broadcast position through the
 * store; a hole in what the store still has is announced as a gap. */
struct catchup {
    struct client *c;
    int64_t from;
    bool first, gone;
};

static void
catchup_one(void *arg, const struct sn_doc *doc)
{
    struct catchup *cu = arg;
    struct sn_stream *st = cu->c->st;

    if (cu->gone)
        return;
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
        struct catchup cu = { c, resume, true, false };
        int64_t pos = resume > 0 ? resume : -1;
        long n;
        c->seq = resume;
        do
            n = sn_incidents_feed(inc, &pos, 256, catchup_one, &cu);
        while (n > 0 && !cu.gone && pos < st->seq);
        if (cu.gone)
            return false;
        if (c->seq < st->seq && st->seq > 0) {
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
    bufferevent_setcb(c->bev, ws_read, NULL, ws_event, c);
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
    sn_buf_init(&st->msg, 64u << 20);
    sn_buf_init(&st->tick[C_SSE], 256u << 20);
    sn_buf_init(&st->tick[C_WS], 256u << 20);
    if (st->tmp == NULL || st->timer == NULL || evtimer_add(st->timer, &tv)) {
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
    sn_buf_fini(&st->msg);
    sn_buf_fini(&st->tick[C_SSE]);
    sn_buf_fini(&st->tick[C_WS]);
    free(st);
}
