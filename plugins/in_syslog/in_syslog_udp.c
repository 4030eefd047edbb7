/*
 * in_syslog datagram sockets (udp:// and unix:// like /dev/log), read on
 * the input thread's loop with recvmmsg(2), udp_batch datagrams a call.
 * One datagram is one record (RFC 5426 3.1: no framing). The emitter drops
 * when the pipeline is full, as a datagram cannot wait; the core counts
 * those drops, and the kernel's own (receive buffer full) are read from
 * SO_RXQ_OVFL into udp_kernel_drops_total. After a drop the socket is not
 * read for PAUSE_US, so a burst waits in the kernel's buffer (rcvbuf)
 * instead of being dropped here datagram by datagram.
 */
/* _GNU_SOURCE: recvmmsg(2) and struct mmsghdr are Linux interfaces. */
#define _GNU_SOURCE
#include "in_syslog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/event.h>

/* Largest UDP payload over IPv4 (65535 - 8 - 20); IPv6 jumbograms are not
 * used for syslog. */
#define UDP_MAX_PAYLOAD 65507

/* recvmmsg calls per readiness event before other sockets get a turn. */
#define UDP_CALLS_PER_EVENT 16

/* How long reading pauses after the pipeline was found full: about the
 * time a worker needs to hand a batch back. Each retry that still finds
 * it full costs one (counted) datagram, so at most 1,000 a second are
 * dropped here; the rest wait in the socket buffer. */
#define PAUSE_US 1000

struct is_udp {
    size_t n;       /* udp_batch */
    size_t buf_len; /* per datagram: max_message_size + 1 to see overflow */
    char *bufs;
    struct mmsghdr *msgs;
    struct iovec *iov;
    struct sockaddr_storage *from;
    char *cbufs; /* ancillary data per datagram */
    size_t cbuf_len;
    uint32_t last_ovfl; /* SO_RXQ_OVFL is a running total per socket */
    bool have_ovfl;
    char peer[INET6_ADDRSTRLEN + 16];
    struct sockaddr_storage peer_addr; /* what `peer` was formatted from */
    /* Paused: datagrams [pend_i, pend_n) of the last recvmmsg still to
     * emit when ev_retry fires; the read event is off meanwhile. */
    struct event *ev_retry;
    size_t pend_i, pend_n;
    int64_t pend_ns;
};

static void
setup_msgs(struct is_udp *u)
{
    for (size_t i = 0; i < u->n; i++) {
        struct msghdr *h = &u->msgs[i].msg_hdr;

        u->iov[i].iov_base = u->bufs + i * u->buf_len;
        u->iov[i].iov_len = u->buf_len;
        memset(h, 0, sizeof(*h));
        h->msg_iov = &u->iov[i];
        h->msg_iovlen = 1;
        h->msg_name = &u->from[i];
        h->msg_namelen = sizeof(u->from[i]);
        h->msg_control = u->cbufs + i * u->cbuf_len;
        h->msg_controllen = u->cbuf_len;
    }
}

static void
kernel_drops(struct is_state *s, struct is_listener *l, struct msghdr *h)
{
    struct is_udp *u = l->udp;

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm != NULL;
         cm = CMSG_NXTHDR(h, cm)) {
        uint32_t total;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL)
            continue;
        memcpy(&total, CMSG_DATA(cm), sizeof(total));
        /* The kernel reports its count since the socket was created; the
         * counter gets the difference (uint32 arithmetic wraps right). */
        if (u->have_ovfl && total != u->last_ovfl) {
            uint32_t delta = total - u->last_ovfl;
            s->host->counter_add(s->c_kernel_drops, delta);
            is_log_limited(s, &s->rl, SN_LOG_WARN,
                           "%s: the kernel dropped %u datagrams (socket "
                           "buffer full; raise rcvbuf)",
                           l->url, (unsigned)delta);
        } else if (!u->have_ovfl && total != 0) {
            s->host->counter_add(s->c_kernel_drops, total);
        }
        u->last_ovfl = total;
        u->have_ovfl = true;
    }
}

static const char *
peer_of(struct is_listener *l, struct msghdr *h)
{
    struct is_udp *u = l->udp;

    if (l->proto == IS_UNIX_DGRAM)
        return l->path; /* local senders rarely bind a name of their own */
    /* Consecutive datagrams mostly come from the same sender: format the
     * address only when it changes. */
    if (h->msg_namelen > sizeof(u->peer_addr) ||
        memcmp(&u->peer_addr, h->msg_name, h->msg_namelen) != 0 ||
        u->peer[0] == '\0') {
        memset(&u->peer_addr, 0, sizeof(u->peer_addr));
        memcpy(&u->peer_addr, h->msg_name, h->msg_namelen);
        is_format_peer(h->msg_name, h->msg_namelen, u->peer, sizeof(u->peer));
    }
    return u->peer;
}

/* SN_AGAIN when the pipeline was full (the datagram is dropped and
 * counted by the core). */
static enum sn_status
one_datagram(struct is_state *s, struct is_listener *l, struct mmsghdr *m,
             int64_t now)
{
    struct msghdr *h = &m->msg_hdr;
    const char *p = h->msg_iov->iov_base;
    size_t len = m->msg_len;
    struct sn_record rec;

    if (h->msg_controllen > 0)
        kernel_drops(s, l, h);
    if (len > s->c->max_message_size || (h->msg_flags & MSG_TRUNC)) {
        s->host->counter_add(s->c_oversize, 1);
        if (s->c->oversize == IS_OVERSIZE_REJECT) {
            is_log_limited(s, &s->rl, SN_LOG_WARN,
                           "%s: dropped a datagram from %s over "
                           "max_message_size (%llu bytes)",
                           l->url, peer_of(l, h),
                           (unsigned long long)s->c->max_message_size);
            return SN_OK;
        }
        len = s->c->max_message_size;
    }
    /* Like rsyslog, a datagram is the message as sent except for trailing
     * NUL bytes (some /dev/log writers send the C string's terminator) and
     * one trailing LF (logger --udp and BSD syslog(3) end with one): they
     * are framing noise, not content, and rules should not see them. A CR
     * before the LF is kept: it is content as far as we can tell. */
    while (len > 0 && p[len - 1] == '\0')
        len--;
    if (len > 0 && p[len - 1] == '\n')
        len--;
    if (len == 0)
        return SN_OK; /* empty datagrams (port probes) are not messages */
    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = p;
    rec.data.len = len;
    rec.recv_ns = now;
    rec.peer = peer_of(l, h);
    rec.transport = l->proto == IS_UDP ? "udp" : "unix";
    rec.source_offset = -1;
    rec.source_part = -1;
    if (s->host->emit(s->dgram_em, &rec) == SN_AGAIN)
        return SN_AGAIN;
    s->dgram_pending++;
    return SN_OK;
}

/* Emit datagrams [i, n); on a full pipeline pause reading and keep the
 * rest for on_retry. Returns false when paused. */
static bool
deliver(struct is_listener *l, size_t i, size_t n, int64_t now)
{
    struct is_state *s = l->s;
    struct is_udp *u = l->udp;

    for (; i < n; i++) {
        if (one_datagram(s, l, &u->msgs[i], now) == SN_AGAIN) {
            struct timeval tv = { 0, PAUSE_US };

            u->pend_i = i + 1;
            u->pend_n = n;
            u->pend_ns = now;
            event_del(l->ev);
            evtimer_add(u->ev_retry, &tv);
            return false;
        }
    }
    u->pend_i = u->pend_n = 0;
    return true;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct is_listener *l = arg;
    struct is_udp *u = l->udp;

    (void)fd;
    (void)what;
    if (deliver(l, u->pend_i, u->pend_n, u->pend_ns))
        event_add(l->ev, NULL);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct is_listener *l = arg;
    struct is_state *s = l->s;
    struct is_udp *u = l->udp;

    (void)what;
    for (int call = 0; call < UDP_CALLS_PER_EVENT; call++) {
        int n;
        int64_t now;

        setup_msgs(u);
        n = recvmmsg(fd, u->msgs, (unsigned)u->n, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                s->host->counter_add(s->c_read_errors, 1);
                is_log_limited(s, &s->rl, SN_LOG_WARN, "%s: recvmmsg: %s",
                               l->url, strerror(errno));
            }
            return;
        }
        now = is_wall_ns();
        if (!deliver(l, 0, (size_t)n, now))
            return;
        if ((size_t)n < u->n)
            return; /* the socket is drained */
    }
}

enum sn_status
is_udp_setup(struct is_state *s, struct is_listener *l)
{
    struct is_udp *u = calloc(1, sizeof(*u));

    if (u == NULL)
        return SN_ENOMEM;
    l->udp = u;
    u->n = (size_t)s->c->udp_batch;
    u->buf_len = (size_t)s->c->max_message_size + 1;
    if (l->proto == IS_UDP && u->buf_len > UDP_MAX_PAYLOAD + 1)
        u->buf_len = UDP_MAX_PAYLOAD + 1;
    u->cbuf_len = CMSG_SPACE(sizeof(uint32_t));
    u->bufs = malloc(u->n * u->buf_len);
    u->msgs = calloc(u->n, sizeof(*u->msgs));
    u->iov = calloc(u->n, sizeof(*u->iov));
    u->from = calloc(u->n, sizeof(*u->from));
    u->cbufs = calloc(u->n, u->cbuf_len);
    if (u->bufs == NULL || u->msgs == NULL || u->iov == NULL ||
        u->from == NULL || u->cbufs == NULL)
        return SN_ENOMEM;
    u->ev_retry = evtimer_new(s->base, on_retry, l);
    l->ev = event_new(s->base, l->fd, EV_READ | EV_PERSIST, on_readable, l);
    if (u->ev_retry == NULL || l->ev == NULL || event_add(l->ev, NULL) != 0)
        return SN_ENOMEM;
    return SN_OK;
}

void
is_udp_teardown(struct is_listener *l)
{
    struct is_udp *u = l->udp;

    if (u == NULL)
        return;
    if (u->ev_retry != NULL)
        event_free(u->ev_retry);
    free(u->bufs);
    free(u->msgs);
    free(u->iov);
    free(u->from);
    free(u->cbufs);
    free(u);
    l->udp = NULL;
}
