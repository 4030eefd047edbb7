/*
 * Connection accounting for the HTTP listener; see conns.h. Each tracked
 * connection is in one phase: HEAD (request line and headers arriving,
 * deadline http.header_timeout from its start), BODY (deadline
 * http.body_timeout from the headers' end) or BUSY (a handler, its
 * answer, or a stream: evhttp's write timeout applies). The end of the
 * headers is seen by scanning the bytes as they are read (an evbuffer
 * callback on the input), since evhttp 2.1 tells nobody.
 */
#include "http/conns.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/http_int.h"

/* How often deadlines are checked and closed connections let go: the
 * precision of the deadlines and how long a closed connection's
 * descriptor outlives it (and so how soon the reserve below is whole
 * again). A scan of at most max_connections entries: cheap. */
#define SWEEP_MS 20
/* Connections accepted in one go before the loop gets a turn. */
#define ACCEPT_BURST 32
/* Accepting pauses this long when descriptors run out. */
#define ACCEPT_PAUSE_MS 200
/* At descriptor exhaustion a connection must have been sending its
 * request at least this long to be closed for a new one. */
#define EVICT_MIN_AGE_NS (100LL * 1000000)
/* Descriptor exhaustion is logged at most this often. */
#define EMFILE_LOG_NS (60LL * 1000000000)
/* Descriptors held back for the listener: when the process runs out
 * (other inputs' connections), one is given up so /health still gets
 * in, and taken back by the sweep after the connection closes. Best
 * effort: an input that takes every descriptor freed anywhere can win
 * some of them, so inputs' own caps should stay below the limit. */
#define RESERVE_FDS 8

enum phase { PH_HEAD, PH_BODY, PH_BUSY };

struct conn {
    struct bufferevent *bev; /* we hold one reference */
    enum phase phase;
    int64_t since_ns; /* start of the phase */
    unsigned eoh;     /* bytes of "\r\n\r\n" seen so far */
    bool doomed;      /* evicted or refused: closed by the next sweep */
    struct evbuffer_cb_entry *scan; /* on_input on the bev's input */
    struct conn *next, *prev;       /* oldest first */
};

struct sn_http_conns {
    struct sn_http *h;
    struct conn *head, *tail;
    size_t n, cap;
    struct event *sweep, *resume;
    struct evconnlistener *lev;
    int reserve[RESERVE_FDS];
    size_t n_reserve;
    int64_t last_log_ns;
    uint64_t unlogged;
    unsigned burst; /* accepted since the loop last ran (see ACCEPT_BURST) */
    struct sn_counter *c_open, *c_refused, *c_evicted, *c_header_to, *c_body_to,
        *c_accept_err;
};

static void
untrack(struct sn_http_conns *cs, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cs->tail = c->prev;
    cs->n--;
    sn_gauge_set(cs->c_open, cs->n);
    /* The bufferevent may live on (a stream being shut down): it must
     * not call back into c. */
    if (c->scan != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->scan);
    /* Drops our reference: the socket closes now if evhttp let go. */
    bufferevent_decref(c->bev);
    free(c);
}

/* evhttp has freed the bufferevent (bufferevent_free clears the
 * callbacks; evhttp and the live feed always have one set). */
static bool
is_closed(struct bufferevent *bev)
{
    bufferevent_data_cb r, w;
    bufferevent_event_cb e;
    void *arg;

    bufferevent_getcb(bev, &r, &w, &e, &arg);
    return r == NULL && w == NULL && e == NULL;
}

/* Close c's connection. In HEAD and BODY evhttp still owns it, and the
 * callbacks' argument is its evhttp_connection. */
static void
close_conn(struct sn_http_conns *cs, struct conn *c)
{
    bufferevent_data_cb r, w;
    bufferevent_event_cb e;
    void *arg;

    bufferevent_getcb(c->bev, &r, &w, &e, &arg);
    if (arg != NULL && c->phase != PH_BUSY)
        evhttp_connection_free(arg);
    untrack(cs, c);
}

static void
sweep(struct sn_http_conns *cs)
{
    int64_t now = sn_clock_mono_ns();
    int64_t head_ns = cs->h->conf.header_timeout_ms * 1000000;
    int64_t body_ns = cs->h->conf.body_timeout_ms * 1000000;
    struct conn *c, *next;

    cs->burst = 0;
    for (c = cs->head; c != NULL; c = next) {
        next = c->next;
        if (is_closed(c->bev)) {
            untrack(cs, c);
            continue;
        }
        if (c->doomed) {
            close_conn(cs, c);
            continue;
        }
        if (c->phase == PH_HEAD && now - c->since_ns > head_ns) {
            sn_counter_add(cs->c_header_to, 1);
            close_conn(cs, c);
        } else if (c->phase == PH_BODY && now - c->since_ns > body_ns) {
            sn_counter_add(cs->c_body_to, 1);
            close_conn(cs, c);
        }
    }
    while (cs->n_reserve < RESERVE_FDS) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        cs->reserve[cs->n_reserve++] = fd;
    }
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sweep(arg);
}

/* Find the connection of bev; newest first (the caller is usually the
 * request just read). */
static struct conn *
find(struct sn_http_conns *cs, const struct bufferevent *bev)
{
    for (struct conn *c = cs->tail; c != NULL; c = c->prev)
        if (c->bev == bev)
            return c;
    return NULL;
}

/* Scan what was just read for the end of the headers (CRLF CRLF, or bare
 * LF LF, which evhttp also takes). */
static void
on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    size_t len = evbuffer_get_length(buf), n = info->n_added;
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v[8];
    int nv;

    if (c->phase != PH_HEAD || n == 0)
        return;
    if (n > len)
        n = len;
    if (evbuffer_ptr_set(buf, &pos, len - n, EVBUFFER_PTR_SET) != 0)
        return;
    nv = evbuffer_peek(buf, (ev_ssize_t)n, &pos, v, 8);
    for (int i = 0; i < nv && i < 8; i++) {
        const unsigned char *p = v[i].iov_base;
        for (size_t k = 0; k < v[i].iov_len; k++) {
            if (p[k] == '\n') {
                /* "\r\n\r\n": eoh counts newlines, a '\r' keeps it. */
                if (++c->eoh == 2) {
                    c->phase = PH_BODY;
                    c->since_ns = sn_clock_mono_ns();
                    return;
                }
            } else if (p[k] != '\r')
                c->eoh = 0;
        }
    }
}

struct bufferevent *
sn_http_conns_bev(struct event_base *base, void *arg)
{
    struct sn_http *h = arg;
    struct sn_http_conns *cs = h->conns;
    struct bufferevent *bev;
    struct conn *c;

    if (h->ssl_ctx != NULL) {
        SSL *ssl = SSL_new(h->ssl_ctx);
        if (ssl == NULL)
            return NULL;
        bev = bufferevent_openssl_socket_new(
            base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    } else
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL || (c = calloc(1, sizeof(*c))) == NULL)
        return bev; /* untracked, but served */
    if (cs->n >= cs->cap) {
        struct conn *o;
        /* Closed ones may still wait for the sweep: let them go first. */
        for (o = cs->head; o != NULL;) {
            struct conn *nx = o->next;
            if (is_closed(o->bev))
                untrack(cs, o);
            o = nx;
        }
    }
    if (cs->n >= cs->cap) {
        /* Like nginx when it runs out of connections: the oldest one
         * that has not yet sent a whole request makes room, so silent
         * or trickling clients cannot lock out /health. It is closed
         * now (evhttp owns it and is not in its callbacks: we are in the
         * listener's), so a flood never holds more than the cap. */
        struct conn *o = cs->head;
        while (o != NULL && (o->phase == PH_BUSY || o->doomed))
            o = o->next;
        if (o != NULL) {
            sn_counter_add(cs->c_evicted, 1);
            close_conn(cs, o);
        } else {
            c->doomed = true;
            sn_counter_add(cs->c_refused, 1);
            event_active(cs->sweep, EV_TIMEOUT, 0);
        }
    }
    /* libevent accepts until the backlog is empty before it returns to
     * the loop, and descriptors of closed connections are released only
     * there: after a burst, yield so they are, and accept on. */
    if (++cs->burst >= ACCEPT_BURST && cs->lev != NULL) {
        struct timeval tv = { 0, 0 }; /* the next loop turn */
        evconnlistener_disable(cs->lev);
        evtimer_add(cs->resume, &tv);
    }
    bufferevent_incref(bev);
    c->bev = bev;
    c->phase = PH_HEAD;
    c->since_ns = sn_clock_mono_ns();
    c->prev = cs->tail;
    if (cs->tail)
        cs->tail->next = c;
    else
        cs->head = c;
    cs->tail = c;
    cs->n++;
    sn_gauge_set(cs->c_open, cs->n);
    c->scan = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    return bev;
}

static void
on_complete(struct evhttp_request *req, void *arg)
{
    struct sn_http_conns *cs = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *c =
        evcon ? find(cs, evhttp_connection_get_bufferevent(evcon)) : NULL;

    if (c == NULL)
        return;
    c->phase = PH_HEAD;
    c->eoh = 0;
    c->since_ns = sn_clock_mono_ns();
}

void
sn_http_conns_request(struct sn_http_conns *cs, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *c;

    if (cs == NULL || evcon == NULL ||
        (c = find(cs, evhttp_connection_get_bufferevent(evcon))) == NULL)
        return;
    c->phase = PH_BUSY;
    evhttp_request_set_on_complete_cb(req, on_complete, cs);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct sn_http_conns *cs = arg;

    (void)fd;
    (void)what;
    cs->burst = 0;
    evconnlistener_enable(cs->lev);
}

/* accept(2) failed with something other than EAGAIN/EINTR/ECONNABORTED.
 * libevent would log it and try again at once, forever, while the
 * listening socket stays readable: 100% CPU and a log line per try. */
/* The listeners whose accept errors we handle. libevent passes the
 * listener's user data to the error callback, and evhttp made that its
 * own struct evhttp (evhttp_bind_listener), so the way back to our state
 * is this table: one entry per HTTP server, written and read on the
 * control thread only. The one file-scope mutable here, for want of an
 * argument. */
static struct {
    const struct evconnlistener *lev;
    struct sn_http_conns *cs;
} listeners[SN_HTTP_LISTENERS_MAX];

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct sn_http_conns *cs = NULL;
    int err = EVUTIL_SOCKET_ERROR();
    int64_t now = sn_clock_mono_ns();
    bool out_of_fds =
        err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

    (void)arg; /* evhttp's */
    for (size_t i = 0; i < SN_HTTP_LISTENERS_MAX && cs == NULL; i++)
        if (listeners[i].lev == lev)
            cs = listeners[i].cs;
    if (cs == NULL) {
        /* Not ours (cannot happen): at least do not spin. */
        evconnlistener_disable(lev);
        return;
    }
    sn_counter_add(cs->c_accept_err, 1);
    if (now - cs->last_log_ns > EMFILE_LOG_NS || cs->last_log_ns == 0) {
        sn_log_error("http: accept: %s%s (%llu more since the last such "
                     "line; counted in sentineld_http_accept_errors_total)",
                     strerror(err),
                     out_of_fds ? ": out of descriptors, accepting pauses "
                                  "for 200 ms at a time"
                                : "",
                     (unsigned long long)cs->unlogged);
        cs->last_log_ns = now;
        cs->unlogged = 0;
    } else
        cs->unlogged++;
    if (out_of_fds) {
        struct conn *o = cs->head;
        while (o != NULL && o->phase == PH_BUSY)
            o = o->next;
        if (o != NULL && now - o->since_ns > EVICT_MIN_AGE_NS) {
            /* Our own connections hold descriptors: the oldest one still
             * sending a request gives its up (released when the loop
             * next runs, hence the short pause). One that has just
             * connected is more likely a client than a slow loris. */
            sn_counter_add(cs->c_evicted, 1);
            close_conn(cs, o);
            tv.tv_usec = 1000;
        } else if (cs->n_reserve > 0) {
            /* Give up a held-back descriptor: the next accept gets it. */
            close(cs->reserve[--cs->n_reserve]);
            return;
        }
    }
    evconnlistener_disable(lev);
    evtimer_add(cs->resume, &tv);
}

void
sn_http_conns_listener(struct sn_http_conns *cs, struct evconnlistener *lev)
{
    for (size_t i = 0; i < SN_HTTP_LISTENERS_MAX; i++)
        if (listeners[i].cs == NULL) {
            listeners[i].lev = lev;
            listeners[i].cs = cs;
            break;
        }
    cs->lev = lev;
    evconnlistener_set_error_cb(lev, on_accept_error);
}

struct sn_http_conns *
sn_http_conns_new(struct sn_http *h)
{
    struct sn_http_conns *cs = calloc(1, sizeof(*cs));
    struct sn_metrics *m = h->env.metrics;
    struct timeval tv = { 0, SWEEP_MS * 1000 };
    struct rlimit rl;

    if (cs == NULL)
        return NULL;
    cs->h = h;
    cs->cap = (size_t)h->conf.max_connections;
    /* Half the descriptors stay for inputs, stores and outputs. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        cs->cap > rl.rlim_cur / 2) {
        cs->cap = rl.rlim_cur / 2 > 8 ? (size_t)rl.rlim_cur / 2 : 8;
        sn_log_warn("http: max_connections %lld is more than half the "
                    "descriptor limit (%llu): using %zu",
                    (long long)h->conf.max_connections,
                    (unsigned long long)rl.rlim_cur, cs->cap);
    }
    cs->sweep = event_new(h->base, -1, EV_PERSIST, on_sweep, cs);
    cs->resume = evtimer_new(h->base, on_resume, cs);
    if (cs->sweep == NULL || cs->resume == NULL ||
        event_add(cs->sweep, &tv) != 0) {
        sn_http_conns_free(cs);
        return NULL;
    }
    cs->c_open = sn_metrics_gauge(m, "sentineld_http_connections", NULL,
                                  "open HTTP connections");
    cs->c_refused = sn_metrics_counter(
        m, "sentineld_http_connections_refused_total", NULL,
        "HTTP connections closed at once: max_connections reached and "
        "every connection busy");
    cs->c_evicted = sn_metrics_counter(
        m, "sentineld_http_connections_evicted_total", NULL,
        "HTTP connections still sending a request closed to make room at "
        "max_connections");
    cs->c_header_to = sn_metrics_counter(
        m, "sentineld_http_timeouts_total", "phase=\"header\"",
        "HTTP connections closed for missing a request deadline");
    cs->c_body_to =
        sn_metrics_counter(m, "sentineld_http_timeouts_total", "phase=\"body\"",
                           "HTTP connections closed for missing "
                           "a request deadline");
    cs->c_accept_err = sn_metrics_counter(
        m, "sentineld_http_accept_errors_total", NULL,
        "failed accept(2) calls on the HTTP listener (descriptors "
        "exhausted)");
    sweep(cs); /* takes the reserve */
    return cs;
}

void
sn_http_conns_free(struct sn_http_conns *cs)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < SN_HTTP_LISTENERS_MAX; i++)
        if (listeners[i].cs == cs)
            listeners[i].cs = NULL, listeners[i].lev = NULL;
    while (cs->head != NULL)
        untrack(cs, cs->head);
    for (size_t i = 0; i < cs->n_reserve; i++)
        close(cs->reserve[i]);
    if (cs->sweep)
        event_free(cs->sweep);
    if (cs->resume)
        event_free(cs->resume);
    free(cs);
}
