/*
 * in_syslog stream connections (tcp://, tls://, unix-stream://, relp://,
 * relp+tls://). The input thread accepts and hands each connection,
 * round-robin, to one of N connection loops (libevent bases on threads of
 * their own); a loop reads its connections, cuts the bytes into messages
 * with the RFC 6587 framer (src/syslog/framer.h) or a RELP session
 * (relp.c) and emits one record per message. Each loop's emitter blocks
 * while the pipeline is full, so a loop stops reading and TCP flow
 * control pushes back on the senders: nothing is dropped. RELP answers
 * leave in a group commit at the end of each loop iteration
 * (commit_acks).
 */
/* _GNU_SOURCE: accept4(2) sets O_NONBLOCK and O_CLOEXEC atomically. */
#define _GNU_SOURCE
#include "in_syslog.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "syslog/framer.h"

/* Bytes per read(2): one socket buffer's worth of typical messages. */
#define READ_CHUNK (64 * 1024)

/* Reads per readiness event before the loop serves other connections. */
#define READS_PER_EVENT 16

/* Connections accepted per readiness event of a listener. */
#define ACCEPTS_PER_EVENT 64

/* At max_connections a new connection replaces the least recently
 * active one only if that one has been silent this long: a server full
 * of senders that all just spoke refuses the newcomer instead of
 * churning. Silent connections (a slowloris holding slots) qualify at
 * once. nginx frees keep-alive connections the same way when it runs
 * out (ngx_drain_connections); rsyslog (MaxSessions) and syslog-ng
 * (max-connections) only refuse, which locks senders out. */
#define EVICT_MIN_IDLE_MS 2000

struct is_conn {
    struct is_loop *loop;
    struct is_conn *prev, *next;
    struct is_listener *l;
    int fd;
    struct event *ev;
    short want; /* EV_READ or EV_WRITE, as registered */
    struct is_tls_conn *tls;
    struct is_relp_sess *relp; /* relp:// and relp+tls:// only */
    struct is_conn *ack_next;  /* on the loop's acks list */
    bool on_acks;
    bool handshaking;
    bool has_framer; /* fr initialised */
    struct sn_framer fr;
    uint64_t seen_errors, seen_oversize; /* fr.stats already counted */
    int64_t recv_ns;                     /* of the read being framed */
    int64_t active_ns;      /* last read (or the accept) */
    int64_t frame_since_ns; /* a frame begun, unfinished, since; 0: none */
    bool over_cap;          /* accepted at max_connections */
    char peer[INET6_ADDRSTRLEN + 16];
};

static const char *
transport_of(const struct is_listener *l)
{
    switch (l->proto) {
    case IS_TLS:
        return "tls";
    case IS_UNIX_STREAM:
        return "unix";
    case IS_RELP:
    case IS_RELP_TLS:
        return is_proto_name(l->proto);
    default:
        return "tcp";
    }
}

/* ---- framer callbacks --------------------------------------------------- */

static void
on_frame(void *ctx, const char *p, size_t len, bool truncated)
{
    struct is_conn *c = ctx;
    struct is_state *s = c->loop->s;
    struct sn_record rec;

    if (truncated)
        is_log_limited(s, &c->loop->rl, SN_LOG_WARN,
                       "truncated a message from %s (%s) to max_message_size "
                       "(%llu bytes)",
                       c->peer, transport_of(c->l),
                       (unsigned long long)s->c->max_message_size);
    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = p;
    rec.data.len = len;
    rec.recv_ns = c->recv_ns;
    rec.peer = c->peer;
    rec.transport = transport_of(c->l);
    /* The frame's first byte (its MSG-LEN for octet counting). The framer
     * keeps it current while it calls us; framer.h has no accessor yet. */
    rec.source_offset = (int64_t)sn_framer_frame_offset(&c->fr);
    rec.source_part = -1;
    /* Blocks while the pipeline is full: this is the back-pressure. */
    (void)s->host->emit(c->loop->em, &rec);
}

static void
on_error(void *ctx, const char *reason, uint64_t offset)
{
    struct is_conn *c = ctx;
    struct is_state *s = c->loop->s;

    /* Counters are taken from the framer's stats after each feed; here
     * only the log line, which needs the peer. framer.h: an oversize
     * frame under REJECT is reported with this exact reason. */
    if (strcmp(reason, "frame exceeds max_msg") == 0) {
        is_log_limited(s, &c->loop->rl, SN_LOG_WARN,
                       "dropped a message from %s (%s) at stream offset "
                       "%llu: over max_message_size (%llu bytes)",
                       c->peer, transport_of(c->l), (unsigned long long)offset,
                       (unsigned long long)s->c->max_message_size);
        return;
    }
    is_log_limited(s, &c->loop->rl, SN_LOG_WARN,
                   "framing error from %s (%s) at stream offset %llu: %s; %s",
                   c->peer, transport_of(c->l), (unsigned long long)offset,
                   reason,
                   s->c->on_framing_error == IS_ON_ERROR_CLOSE
                       ? "closing the connection"
                       : "skipping to the next LF");
}

static const struct sn_framer_cb framer_cb = { on_frame, on_error };

/* Move what the framer counted since the last call into the metrics. */
static void
count_framer(struct is_conn *c)
{
    struct is_state *s = c->loop->s;
    const struct sn_framer_stats *st = &c->fr.stats;
    uint64_t errors = st->n_errors, oversize = st->n_truncated + st->n_rejected;

    if (errors != c->seen_errors)
        s->host->counter_add(s->c_framing_errors, errors - c->seen_errors);
    if (oversize != c->seen_oversize)
        s->host->counter_add(s->c_oversize, oversize - c->seen_oversize);
    c->seen_errors = errors;
    c->seen_oversize = oversize;
}

/* ---- connections (on their loop's thread) ------------------------------- */

static void on_conn_event(evutil_socket_t fd, short what, void *arg);

static void
conn_free(struct is_conn *c)
{
    if (c == NULL)
        return;
    if (c->ev != NULL)
        event_free(c->ev);
    if (c->tls != NULL) {
        is_tls_shutdown(c->tls);
        is_tls_conn_free(c->tls);
    }
    if (c->fd >= 0)
        close(c->fd);
    if (c->has_framer)
        sn_framer_fini(&c->fr);
    is_relp_sess_free(c->relp);
    free(c);
}

static void
unlink_conn(struct is_loop *lp, struct is_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        lp->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        lp->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
push_front(struct is_loop *lp, struct is_conn *c)
{
    c->prev = NULL;
    c->next = lp->conns;
    if (lp->conns != NULL)
        lp->conns->prev = c;
    else
        lp->conns_tail = c;
    lp->conns = c;
}

static void
conn_close(struct is_conn *c, const char *why)
{
    struct is_loop *lp = c->loop;
    struct is_state *s = lp->s;

    if (why != NULL && s->host->log_enabled(s->inst, SN_LOG_DEBUG))
        s->host->log(s->inst, SN_LOG_DEBUG, "%s connection from %s closed: %s",
                     transport_of(c->l), c->peer, why);
    unlink_conn(lp, c);
    if (c->on_acks) {
        struct is_conn **pp = &lp->acks;
        while (*pp != c)
            pp = &(*pp)->ack_next;
        *pp = c->ack_next;
    }
    conn_free(c);
    atomic_fetch_sub(&s->n_conns, 1);
    s->host->counter_add(s->c_conns_closed, 1);
}

/* The connection's next deadline (ns, 0: none): the earlier of the idle
 * timeout from its last read and the frame timeout from the start of
 * its unfinished frame. Absolute, so bytes trickling in one at a time do
 * not push the frame's deadline back. */
static int64_t
deadline(const struct is_conn *c)
{
    const struct is_conf *cf = c->loop->s->c;
    int64_t d = 0, f;

    if (cf->idle_timeout_ms > 0)
        d = c->active_ns + cf->idle_timeout_ms * 1000000;
    if (cf->frame_timeout_ms > 0 && c->frame_since_ns != 0) {
        f = c->frame_since_ns + cf->frame_timeout_ms * 1000000;
        if (d == 0 || f < d)
            d = f;
    }
    return d;
}

/* (Re)arm the event's timeout for deadline(c); libevent moves a pending
 * event within its timer heap, no system call. */
static int
conn_arm(struct is_conn *c)
{
    int64_t d = deadline(c), left;
    struct timeval tv;

    if (d == 0)
        return event_add(c->ev, NULL);
    left = d - is_wall_ns();
    if (left < 1000000)
        left = 1000000;
    tv.tv_sec = (time_t)(left / 1000000000);
    tv.tv_usec = (suseconds_t)(left % 1000000000 / 1000);
    return event_add(c->ev, &tv);
}

/* Register for EV_READ or EV_WRITE (TLS may need either), keeping the
 * timeouts. */
static int
conn_want(struct is_conn *c, short what)
{
    if (c->want == what && event_pending(c->ev, what, NULL))
        return 0;
    event_del(c->ev);
    if (event_assign(c->ev, c->loop->base, c->fd, what | EV_PERSIST,
                     on_conn_event, c) != 0)
        return -1;
    c->want = what;
    return conn_arm(c);
}

/* The peer closed the stream: what the framer holds is either a last
 * message without its trailer or a cut frame (the framer decides). */
static void
conn_eof(struct is_conn *c)
{
    if (c->relp != NULL) {
        /* What was not answered is the sender's to send again. */
        conn_close(c, "closed by peer");
        return;
    }
    c->recv_ns = is_wall_ns();
    (void)sn_framer_finish(&c->fr, &framer_cb, c);
    count_framer(c);
    conn_close(c, "closed by peer");
}

/* Returns false when the connection was closed. */
static bool
conn_handshake(struct is_conn *c)
{
    struct is_state *s = c->loop->s;
    char why[300] = "";

    switch (is_tls_handshake(c->tls, why, sizeof(why))) {
    case IS_TLS_OK:
        c->handshaking = false;
        if (conn_want(c, EV_READ) != 0) {
            conn_close(c, "cannot watch the socket");
            return false;
        }
        if (s->host->log_enabled(s->inst, SN_LOG_DEBUG))
            s->host->log(s->inst, SN_LOG_DEBUG, "TLS connection from %s",
                         c->peer);
        return true;
    case IS_TLS_WANT_READ:
        if (conn_want(c, EV_READ) != 0)
            conn_close(c, "cannot watch the socket");
        return false;
    case IS_TLS_WANT_WRITE:
        if (conn_want(c, EV_WRITE) != 0)
            conn_close(c, "cannot watch the socket");
        return false;
    default:
        s->host->counter_add(s->c_tls_errors, 1);
        is_log_limited(s, &c->loop->rl, SN_LOG_WARN,
                       "TLS handshake with %s failed: %s", c->peer, why);
        conn_close(c, NULL);
        return false;
    }
}

/* After bytes were framed: the connection becomes the most recently
 * active, and its deadlines move (the frame's only when a new frame
 * began). False when the event cannot be re-armed. */
static bool
conn_active(struct is_conn *c)
{
    struct is_loop *lp = c->loop;
    /* Now, not the read's time: emitting may have blocked on a full
     * pipeline for longer than the timeouts, and that wait was ours,
     * not the sender's. One vDSO call per read, not per message. */
    int64_t now = is_wall_ns();

    c->active_ns = now;
    if (!(c->relp != NULL ? is_relp_in_frame(c->relp)
                          : sn_framer_in_frame(&c->fr)))
        c->frame_since_ns = 0;
    else if (c->frame_since_ns == 0)
        c->frame_since_ns = now;
    if (lp->conns != c) {
        unlink_conn(lp, c);
        push_front(lp, c);
    }
    return conn_arm(c) == 0;
}

enum send_result { SEND_DONE, SEND_PENDING, SEND_CLOSED };

/* Write a RELP session's committed answers. DONE: all written (a closing
 * session is closed then: CLOSED); PENDING: the socket is full, the
 * connection waits to be writable and is not read meanwhile (a sender
 * that does not take its answers cannot send more than its window). */
static enum send_result
conn_send(struct is_conn *c)
{
    struct is_state *s = c->loop->s;

    for (;;) {
        size_t len, n = 0;
        const char *p = is_relp_output(c->relp, &len);

        if (len == 0)
            break;
        if (c->tls != NULL) {
            char why[300] = "";
            switch (is_tls_write(c->tls, p, len, &n, why, sizeof(why))) {
            case IS_TLS_OK:
                break;
            case IS_TLS_WANT_READ:
                if (conn_want(c, EV_READ) != 0) {
                    conn_close(c, "cannot watch the socket");
                    return SEND_CLOSED;
                }
                return SEND_PENDING;
            case IS_TLS_WANT_WRITE:
                if (conn_want(c, EV_WRITE) != 0) {
                    conn_close(c, "cannot watch the socket");
                    return SEND_CLOSED;
                }
                return SEND_PENDING;
            default:
                s->host->counter_add(s->c_read_errors, 1);
                is_log_limited(s, &c->loop->rl, SN_LOG_INFO,
                               "%s connection from %s: %s", transport_of(c->l),
                               c->peer, why);
                conn_close(c, NULL);
                return SEND_CLOSED;
            }
        } else {
            /* MSG_NOSIGNAL: a sender gone away is an error, not SIGPIPE. */
            ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);

            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    if (conn_want(c, EV_WRITE) != 0) {
                        conn_close(c, "cannot watch the socket");
                        return SEND_CLOSED;
                    }
                    return SEND_PENDING;
                }
                s->host->counter_add(s->c_read_errors, 1);
                is_log_limited(s, &c->loop->rl, SN_LOG_INFO,
                               "%s connection from %s: send: %s",
                               transport_of(c->l), c->peer, strerror(errno));
                conn_close(c, NULL);
                return SEND_CLOSED;
            }
            n = (size_t)w;
        }
        is_relp_consumed(c->relp, n);
    }
    if (is_relp_closing(c->relp) && !is_relp_has_held(c->relp)) {
        conn_close(c, "RELP session closed");
        return SEND_CLOSED;
    }
    if (c->want != EV_READ && conn_want(c, EV_READ) != 0) {
        conn_close(c, "cannot watch the socket");
        return SEND_CLOSED;
    }
    return SEND_DONE;
}

/* relp.md: the "serverclose" hint before the server closes a session
 * (idle, evicted, stopping), so the sender reconnects at once instead of
 * finding out on its next send; one non-blocking try. Answers not yet
 * committed are dropped (their records come again). False: the
 * connection is gone already. */
static bool
relp_goodbye(struct is_conn *c)
{
    if (c->relp == NULL || c->handshaking)
        return true;
    is_relp_serverclose(c->relp);
    return conn_send(c) != SEND_CLOSED;
}

/* The group commit: one flush_sync puts every record this loop read
 * since the last commit, from all its sessions, into the journal (one
 * write, one fdatasync), then each session's answers go out in one
 * write. Records that could not be journaled (stopping) are not
 * answered: their sessions are closed and the senders resend them. */
static void
commit_acks(struct is_loop *lp)
{
    struct is_conn *c = lp->acks, *next;
    enum sn_status rc = lp->s->host->flush_sync(lp->em);

    lp->acks = NULL;
    for (; c != NULL; c = next) {
        next = c->ack_next;
        c->ack_next = NULL;
        c->on_acks = false;
        if (rc != SN_OK) {
            conn_close(c, "records not journaled");
            continue;
        }
        is_relp_commit(c->relp);
        (void)conn_send(c);
    }
}

static void
conn_read(struct is_conn *c)
{
    struct is_loop *lp = c->loop;
    struct is_state *s = lp->s;
    char *buf = lp->buf;

    for (int i = 0; i < READS_PER_EVENT; i++) {
        size_t n = 0;
        enum sn_status rc;

        if (c->tls != NULL) {
            char why[300] = "";
            switch (
                is_tls_read(c->tls, buf, READ_CHUNK, &n, why, sizeof(why))) {
            case IS_TLS_OK:
                break;
            case IS_TLS_WANT_READ:
                if (conn_want(c, EV_READ) != 0)
                    conn_close(c, "cannot watch the socket");
                return;
            case IS_TLS_WANT_WRITE:
                if (conn_want(c, EV_WRITE) != 0)
                    conn_close(c, "cannot watch the socket");
                return;
            case IS_TLS_EOF:
                conn_eof(c);
                return;
            case IS_TLS_ERROR:
                s->host->counter_add(s->c_read_errors, 1);
                is_log_limited(s, &lp->rl, SN_LOG_WARN,
                               "TLS connection from %s: %s", c->peer, why);
                conn_close(c, NULL);
                return;
            }
        } else {
            ssize_t r = read(c->fd, buf, READ_CHUNK);

            if (r == 0) {
                conn_eof(c);
                return;
            }
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return;
                s->host->counter_add(s->c_read_errors, 1);
                /* A forwarder killed mid-stream resets: worth a line. */
                is_log_limited(s, &lp->rl, SN_LOG_INFO,
                               "%s connection from %s: read: %s",
                               transport_of(c->l), c->peer, strerror(errno));
                conn_close(c, NULL);
                return;
            }
            n = (size_t)r;
        }
        c->recv_ns = is_wall_ns();
        if (c->relp != NULL) {
            rc = is_relp_feed(c->relp, buf, n, c->recv_ns);
            if (rc == SN_OK && is_relp_has_held(c->relp) && !c->on_acks) {
                c->on_acks = true;
                c->ack_next = lp->acks;
                lp->acks = c;
            }
        } else {
            rc = sn_framer_feed(&c->fr, buf, n, &framer_cb, c);
            count_framer(c);
        }
        if (rc != SN_OK) {
            conn_close(c, rc == SN_EPEER   ? "protocol error"
                          : rc == SN_AGAIN ? "input stopping"
                                           : "out of memory");
            return;
        }
        if (c->relp != NULL && is_relp_closing(c->relp))
            return; /* the commit answers and closes it */
        if (!conn_active(c)) {
            conn_close(c, "cannot watch the socket");
            return;
        }
        if (n < READ_CHUNK) {
            /* Drained (a short TLS fill means OpenSSL met WANT_READ or
             * EOF, which the socket will signal again): level-triggered,
             * no need to ask again. */
            if (c->tls == NULL)
                return;
            if (!is_tls_pending(c->tls)) {
                if (conn_want(c, EV_READ) != 0)
                    conn_close(c, "cannot watch the socket");
                return;
            }
        }
    }
    /* Fairness cap reached: more is pending, so the loop keeps the
     * partial batch for it. Plain sockets stay readable and come back;
     * bytes already decrypted inside OpenSSL raise no socket event, so
     * ask the loop to call us again. */
    lp->busy = true;
    if (c->tls != NULL && is_tls_pending(c->tls))
        event_active(c->ev, EV_READ, 0);
}

/* Whether the peer's bytes wait to be read (in the socket or decrypted
 * inside OpenSSL). Asked only when a deadline passes. */
static bool
bytes_waiting(const struct is_conn *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };

    if (c->tls != NULL && is_tls_pending(c->tls))
        return true;
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void
on_conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct is_conn *c = arg;
    struct is_state *s = c->loop->s;

    (void)fd;
    /* A loop stalled past a deadline (a full pipeline on another of its
     * connections, a paused machine) sees the timeout and the bytes that
     * came meanwhile together: those bytes are read first, so our own
     * stall never closes a sender that kept sending. Only when the
     * connection reads: one waiting to write (a RELP peer that does not
     * take its answers) is judged by its deadline, whatever it sends. */
    if ((what & EV_TIMEOUT) && !(what & EV_READ) &&
        !(c->want == EV_READ && bytes_waiting(c))) {
        int64_t now = is_wall_ns(), d = deadline(c);
        if (d == 0 || now < d) { /* moved since it was armed */
            if (conn_arm(c) != 0)
                conn_close(c, "cannot watch the socket");
            return;
        }
        if (c->frame_since_ns != 0 && s->c->frame_timeout_ms > 0 &&
            now >= c->frame_since_ns + s->c->frame_timeout_ms * 1000000) {
            s->host->counter_add(s->c_frame_timeouts, 1);
            is_log_limited(
                s, &c->loop->rl, SN_LOG_WARN,
                "closing %s connection from %s: the message "
                "begun at stream offset %llu was not finished "
                "within frame_timeout (%lld ms)",
                transport_of(c->l), c->peer,
                (unsigned long long)(c->relp != NULL ? 0 : c->fr.frame_start),
                (long long)s->c->frame_timeout_ms);
        } else {
            s->host->counter_add(s->c_idle, 1);
            is_log_limited(s, &c->loop->rl, SN_LOG_INFO,
                           "closing %s connection from %s: idle for %lld ms",
                           transport_of(c->l), c->peer,
                           (long long)s->c->idle_timeout_ms);
        }
        if (relp_goodbye(c))
            conn_close(c, NULL);
        return;
    }
    if (c->handshaking && !conn_handshake(c))
        return;
    if (c->relp != NULL) {
        size_t len;

        (void)is_relp_output(c->relp, &len);
        if (len > 0 && conn_send(c) != SEND_DONE)
            return;
        if (is_relp_closing(c->relp))
            return; /* waits for its commit */
    }
    conn_read(c);
}

static void
conn_attach(struct is_loop *lp, struct is_conn *c)
{
    struct is_state *s = lp->s;

    c->loop = lp;
    c->active_ns = is_wall_ns();
    /* At max_connections: room is made by closing this loop's least
     * recently active connection, if it has been silent long enough. */
    if (c->over_cap) {
        struct is_conn *old = lp->conns_tail;
        if (old == NULL ||
            c->active_ns - old->active_ns < EVICT_MIN_IDLE_MS * 1000000LL) {
            s->host->counter_add(s->c_conns_rejected, 1);
            is_log_limited(s, &lp->rl, SN_LOG_WARN,
                           "refusing %s connection from %s: max_connections "
                           "(%lld) reached and every connection is active",
                           transport_of(c->l), c->peer,
                           (long long)s->c->max_connections);
            conn_free(c);
            atomic_fetch_sub(&s->n_conns, 1);
            s->host->counter_add(s->c_conns_closed, 1);
            return;
        }
        s->host->counter_add(s->c_evicted, 1);
        is_log_limited(s, &lp->rl, SN_LOG_WARN,
                       "max_connections (%lld) reached: closing the %s "
                       "connection from %s, idle for %lld ms, for the new "
                       "one from %s",
                       (long long)s->c->max_connections, transport_of(old->l),
                       old->peer,
                       (long long)((c->active_ns - old->active_ns) / 1000000),
                       c->peer);
        if (relp_goodbye(old))
            conn_close(old, NULL);
    }
    push_front(lp, c);
    if (is_proto_relp(c->l->proto)) {
        int one = 1;

        c->relp = is_relp_sess_new(s, lp->em, &lp->rl, c->peer);
        /* Answers leave in one write per commit already; Nagle would
         * hold a commit's answers back until the last ones are ACKed. */
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else /* allocates nothing until a frame straddles two reads */
        c->has_framer = sn_framer_init(&c->fr, &s->framer_opts) == SN_OK;
    c->ev = event_new(lp->base, c->fd, EV_READ | EV_PERSIST, on_conn_event, c);
    if ((!c->has_framer && c->relp == NULL) || c->ev == NULL) {
        is_log_limited(s, &lp->rl, SN_LOG_ERROR,
                       "out of memory for the connection from %s", c->peer);
        conn_close(c, NULL);
        return;
    }
    if (c->l->proto == IS_TLS || c->l->proto == IS_RELP_TLS) {
        c->tls = is_tls_conn_new(s->tls, c->fd);
        c->handshaking = true;
        if (c->tls == NULL) {
            is_log_limited(s, &lp->rl, SN_LOG_ERROR,
                           "out of memory for TLS from %s", c->peer);
            conn_close(c, NULL);
            return;
        }
    }
    c->want = 0;
    if (conn_want(c, EV_READ) != 0)
        conn_close(c, "cannot watch the socket");
}

/* ---- loops ------------------------------------------------------------ */

static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct is_loop *lp = arg;
    struct is_conn *batch[64];
    ssize_t r;

    (void)what;
    /* Each message is one pointer written atomically (< PIPE_BUF); NULL
     * is the stop request. */
    while ((r = read(fd, batch, sizeof(batch))) > 0) {
        for (size_t i = 0; i < (size_t)r / sizeof(batch[0]); i++) {
            if (batch[i] == NULL) {
                atomic_store(&lp->stop, true);
                event_base_loopbreak(lp->base);
            } else if (atomic_load(&lp->stop)) {
                batch[i]->loop = lp;
                conn_free(batch[i]);
                atomic_fetch_sub(&lp->s->n_conns, 1);
                lp->s->host->counter_add(lp->s->c_conns_closed, 1);
            } else {
                conn_attach(lp, batch[i]);
            }
        }
    }
}

static void *
loop_main(void *arg)
{
    struct is_loop *lp = arg;
    struct is_state *s = lp->s;

    while (!atomic_load(&lp->stop)) {
        /* After a connection hit the fairness cap, poll without blocking:
         * when its data ended exactly at the cap no event comes, and the
         * partial batch must be flushed now, not when the sender's next
         * message arrives (seen as a stream stalling with its last few
         * hundred messages unflushed). */
        int flags = lp->busy ? EVLOOP_NONBLOCK : EVLOOP_ONCE;

        lp->busy = false;
        if (event_base_loop(lp->base, flags) < 0)
            break;
        /* RELP senders wait for their answers: they go out at the end of
         * every iteration, drained or not. */
        if (lp->acks != NULL)
            commit_acks(lp);
        /* Flush once every connection is drained: a burst becomes full
         * batches, and a quiet connection's last message does not wait
         * for the next one. */
        if (!lp->busy)
            s->host->flush(lp->em);
    }
    /* What was read is answered, then every RELP session is told
     * "serverclose" (relp.md), so the sender suspends and retries
     * instead of waiting for answers that will not come. */
    if (lp->acks != NULL)
        commit_acks(lp);
    for (struct is_conn *c = lp->conns, *next; c != NULL; c = next) {
        next = c->next;
        (void)relp_goodbye(c);
    }
    while (lp->conns != NULL)
        conn_close(lp->conns, "input stopping");
    s->host->flush(lp->em);
    return NULL;
}

static void
loop_fini(struct is_loop *lp)
{
    struct is_conn *batch[64];
    ssize_t r;

    if (lp->notify[0] >= 0) {
        /* Connections handed over after the loop stopped reading. */
        while ((r = read(lp->notify[0], batch, sizeof(batch))) > 0) {
            for (size_t i = 0; i < (size_t)r / sizeof(batch[0]); i++) {
                if (batch[i] == NULL)
                    continue;
                conn_free(batch[i]);
                atomic_fetch_sub(&lp->s->n_conns, 1);
                lp->s->host->counter_add(lp->s->c_conns_closed, 1);
            }
        }
    }
    if (lp->ev_notify != NULL)
        event_free(lp->ev_notify);
    if (lp->base != NULL)
        event_base_free(lp->base);
    for (int i = 0; i < 2; i++)
        if (lp->notify[i] >= 0)
            close(lp->notify[i]);
    if (lp->em != NULL)
        lp->s->host->emitter_free(lp->em);
    free(lp->buf);
}

enum sn_status
is_stream_loops_start(struct is_state *s, char *err, size_t err_len)
{
    unsigned n = s->c->threads > 0 ? (unsigned)s->c->threads
                                   : s->host->n_workers(s->inst);

    if (n == 0)
        n = 1;
    s->loops = calloc(n, sizeof(*s->loops));
    if (s->loops == NULL) {
        snprintf(err, err_len, "out of memory for %u loops", n);
        return SN_ENOMEM;
    }
    s->n_loops = n;
    s->next_loop = 0;
    for (unsigned i = 0; i < n; i++)
        s->loops[i].notify[0] = s->loops[i].notify[1] = -1;
    for (unsigned i = 0; i < n; i++) {
        struct is_loop *lp = &s->loops[i];

        lp->s = s;
        lp->index = i;
        atomic_init(&lp->stop, false);
        if (pipe(lp->notify) != 0) {
            snprintf(err, err_len, "pipe: %s", strerror(errno));
            return SN_EIO;
        }
        for (int k = 0; k < 2; k++) {
            fcntl(lp->notify[k], F_SETFD, FD_CLOEXEC);
            fcntl(lp->notify[k], F_SETFL, O_NONBLOCK);
        }
        lp->buf = malloc(READ_CHUNK);
        lp->base = event_base_new();
        lp->em = s->host->emitter_new(s->inst, false);
        if (lp->buf == NULL || lp->base == NULL || lp->em == NULL) {
            snprintf(err, err_len, "out of memory for connection loop %u", i);
            return SN_ENOMEM;
        }
        lp->ev_notify = event_new(lp->base, lp->notify[0], EV_READ | EV_PERSIST,
                                  on_notify, lp);
        if (lp->ev_notify == NULL || event_add(lp->ev_notify, NULL) != 0) {
            snprintf(err, err_len, "cannot watch the pipe of loop %u", i);
            return SN_ENOMEM;
        }
        if (pthread_create(&lp->thread, NULL, loop_main, lp) != 0) {
            snprintf(err, err_len, "cannot create connection thread %u", i);
            return SN_EIO;
        }
        lp->thread_started = true;
    }
    return SN_OK;
}

void
is_stream_loops_stop(struct is_state *s)
{
    void *stop = NULL;

    for (unsigned i = 0; i < s->n_loops; i++) {
        struct is_loop *lp = &s->loops[i];

        atomic_store(&lp->stop, true);
        /* A full pipe already guarantees a wake-up. */
        if (lp->notify[1] >= 0)
            (void)!write(lp->notify[1], &stop, sizeof(stop));
    }
    for (unsigned i = 0; i < s->n_loops; i++) {
        struct is_loop *lp = &s->loops[i];

        if (lp->thread_started)
            pthread_join(lp->thread, NULL);
        lp->thread_started = false;
        loop_fini(lp);
    }
    free(s->loops);
    s->loops = NULL;
    s->n_loops = 0;
}

/* ---- accepting (input thread) ------------------------------------------ */

static void
readd_listener(evutil_socket_t fd, short what, void *arg)
{
    struct is_listener *l = arg;

    (void)fd;
    (void)what;
    if (l->ev != NULL)
        event_add(l->ev, NULL);
}

void
is_stream_on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct is_listener *l = arg;
    struct is_state *s = l->s;

    (void)what;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct is_conn *c;
        struct is_loop *lp;
        int cfd;

        cfd = accept4(fd, (struct sockaddr *)&ss, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* The pending connection stays queued and the listener
                 * readable: pause accepting for a second instead of
                 * spinning. */
                struct timeval tv = { 1, 0 };
                is_log_limited(s, &s->rl, SN_LOG_ERROR,
                               "%s: accept: %s; pausing for 1s", l->url,
                               strerror(errno));
                event_del(l->ev);
                event_base_once(s->base, -1, EV_TIMEOUT, readd_listener, l,
                                &tv);
            }
            return; /* EAGAIN, or an aborted connection */
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(cfd);
            continue;
        }
        c->fd = cfd;
        c->l = l;
        if (l->proto == IS_UNIX_STREAM)
            snprintf(c->peer, sizeof(c->peer), "%.*s", (int)sizeof(c->peer) - 1,
                     l->path);
        else
            is_format_peer((struct sockaddr *)&ss, len, c->peer,
                           sizeof(c->peer));
        /* Its loop makes room or refuses it (conn_attach). */
        c->over_cap =
            atomic_load(&s->n_conns) >= (unsigned)s->c->max_connections;
        atomic_fetch_add(&s->n_conns, 1);
        s->host->counter_add(s->c_conns, 1);
        lp = &s->loops[s->next_loop++ % s->n_loops];
        if (write(lp->notify[1], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
            /* The loop is thousands of connections behind. */
            s->host->counter_add(s->c_conns_rejected, 1);
            is_log_limited(s, &s->rl, SN_LOG_WARN,
                           "refusing %s connection from %s: connection loop "
                           "%u is overloaded",
                           transport_of(l), c->peer, lp->index);
            close(cfd);
            free(c);
            atomic_fetch_sub(&s->n_conns, 1);
            s->host->counter_add(s->c_conns_closed, 1);
        }
    }
}
