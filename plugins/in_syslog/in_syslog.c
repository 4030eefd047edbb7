/*
 * in_syslog: receive syslog over UDP, TCP, TLS (RFC 5425) and unix
 * sockets. This file owns the descriptor, the option table, the lifecycle
 * (init validates, start binds, run loops, stop wakes) and small helpers;
 * listen.c parses URLs and binds, udp.c reads datagrams, stream.c runs
 * connections through the RFC 6587 framer, tls.c wraps OpenSSL. It
 * produces raw records only: parsing is the parser's job ("auto" unless
 * configured). Threads and back-pressure: docs/internals/in_syslog.md.
 */
#include "in_syslog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define C_OFF(f) offsetof(struct is_conf, f)

/* Longest a received datagram waits in a partial batch: short next to
 * any alerting delay, long enough to fill batches at high rates. */
#define DGRAM_LINGER_US 2000

static const struct sn_option is_options[] = {
    { "listen", SN_OPT_LIST, "tcp://127.0.0.1:5514", C_OFF(listen),
      "URLs to receive on: udp://HOST:PORT, tcp://HOST:PORT, "
      "tls://HOST:PORT, relp://HOST:PORT and relp+tls://HOST:PORT (rsyslog "
      "omrelp), "
      "unix:///path (datagram, like /dev/log), "
      "unix-stream:///path; IPv6 as [::1]:514",
      0, 0, NULL, false },
    { "framing", SN_OPT_ENUM, "auto", C_OFF(framing),
      "stream framing (RFC 6587): octet-counting, non-transparent (LF), or "
      "auto-detected per frame",
      0, 0, "auto|octet-counting|non-transparent", false },
    { "max_message_size", SN_OPT_SIZE, "64KiB", C_OFF(max_message_size),
      "largest message; longer ones are handled as `oversize` says", 480,
      16 << 20, NULL, false },
    { "oversize", SN_OPT_ENUM, "truncate", C_OFF(oversize),
      "what to do with a message over max_message_size: deliver its first "
      "max_message_size bytes, or drop it (both are counted)",
      0, 0, "truncate|reject", false },
    { "on_framing_error", SN_OPT_ENUM, "resync", C_OFF(on_framing_error),
      "after a malformed frame: skip to the next line and go on, or close "
      "the connection",
      0, 0, "resync|close", false },
    { "max_connections", SN_OPT_INT, "1024", C_OFF(max_connections),
      "open stream connections over all listeners; past it a new "
      "connection replaces the longest idle one (idle 2s or more), or is "
      "closed at once",
      1, 1000000, NULL, false },
    { "idle_timeout", SN_OPT_DURATION, "10m", C_OFF(idle_timeout_ms),
      "close a stream connection silent for this long (senders reconnect "
      "when they next have something); 0 never does",
      0, 86400000LL * 365, NULL, false },
    { "frame_timeout", SN_OPT_DURATION, "30s", C_OFF(frame_timeout_ms),
      "close a stream connection whose message has begun and not ended "
      "after this long, however slowly its bytes trickle in; 0 never does",
      0, 86400000LL, NULL, false },
    { "threads", SN_OPT_INT, "0", C_OFF(threads),
      "event loops serving stream connections; 0 uses the daemon's worker "
      "count",
      0, 256, NULL, false },
    { "udp_batch", SN_OPT_INT, "64", C_OFF(udp_batch),
      "datagrams read per recvmmsg(2) call", 1, 1024, NULL, false },
    { "tls_cert", SN_OPT_STRING, NULL, C_OFF(tls_cert),
      "PEM certificate (chain) of the tls:// listeners", 0, 0, NULL, false },
    { "tls_key", SN_OPT_STRING, NULL, C_OFF(tls_key),
      "PEM private key of tls_cert", 0, 0, NULL, false },
    { "tls_ca", SN_OPT_STRING, NULL, C_OFF(tls_ca),
      "PEM CA bundle client certificates are verified against (default: "
      "the system store)",
      0, 0, NULL, false },
    { "tls_verify_client", SN_OPT_ENUM, "none", C_OFF(tls_verify_client),
      "client certificates: not asked for, verified when sent, or required", 0,
      0, "none|optional|required", false },
    { "tls_permitted_peers", SN_OPT_LIST, NULL, C_OFF(tls_permitted_peers),
      "accept only clients whose certificate names (SAN DNS, else CN) match "
      "one of these; \"*.example.com\" matches one label",
      0, 0, NULL, false },
    { "tls_min_version", SN_OPT_ENUM, "1.2", C_OFF(tls_min_version),
      "oldest TLS version accepted (RFC 5425 needs 1.2 today)", 0, 0, "1.2|1.3",
      false },
    { "rcvbuf", SN_OPT_SIZE, "0", C_OFF(rcvbuf),
      "SO_RCVBUF of the sockets (UDP bursts need several MiB); 0 keeps the "
      "system default",
      0, 1LL << 30, NULL, false },
    { 0 },
};

int64_t
is_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
is_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
is_log_limited(struct is_state *s, struct is_ratelimit *rl,
               enum sn_log_level level, const char *fmt, ...)
{
    /* One line a second per loop: a broken or hostile sender must not be
     * able to flood the daemon's log; counters keep the totals. */
    const int64_t period_ns = 1000000000LL;
    int64_t now = is_now_ns();
    char msg[512];
    va_list ap;

    if (rl->last_ns != 0 && now - rl->last_ns < period_ns) {
        rl->suppressed++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rl->suppressed > 0)
        s->host->log(s->inst, level, "%s (%llu similar lines suppressed)", msg,
                     (unsigned long long)rl->suppressed);
    else
        s->host->log(s->inst, level, "%s", msg);
    rl->last_ns = now;
    rl->suppressed = 0;
}

void
is_format_peer(const struct sockaddr *sa, socklen_t len, char *out,
               size_t out_len)
{
    char ip[INET6_ADDRSTRLEN];

    /* Copies, not casts: sa may be any sockaddr buffer (alignment). */
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, sa, sizeof(in4));
        inet_ntop(AF_INET, &in4.sin_addr, ip, sizeof(ip));
        snprintf(out, out_len, "%s:%u", ip, ntohs(in4.sin_port));
    } else if (sa->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        /* A [::] listener also accepts IPv4 (bindv6only=0): show those
         * peers as the IPv4 addresses they are, as rules match on them. */
        if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
            inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], ip, sizeof(ip));
            snprintf(out, out_len, "%s:%u", ip, ntohs(in6.sin6_port));
        } else {
            inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip));
            snprintf(out, out_len, "[%s]:%u", ip, ntohs(in6.sin6_port));
        }
    } else {
        snprintf(out, out_len, "unknown");
    }
}

static void
is_destroy(void *state)
{
    struct is_state *s = state;

    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_ls; i++) {
        is_udp_teardown(&s->ls[i]);
        is_listen_close(&s->ls[i]);
    }
    for (int i = 0; i < 2; i++)
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
    is_tls_free(s->tls);
    free(s->ls);
    free(s);
}

static enum sn_status
is_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct is_state *s = calloc(1, sizeof(*s));
    const struct is_conf *c = config;
    bool have_tls = false;
    enum sn_status rc;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = c;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    atomic_init(&s->n_conns, 0);
    if (c->listen.n == 0) {
        snprintf(err, err_len, "listen is empty: give at least one URL");
        return SN_ECONFIG;
    }
    s->ls = calloc(c->listen.n, sizeof(*s->ls));
    if (s->ls == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < c->listen.n; i++) {
        struct is_listener *l = &s->ls[i];

        l->fd = -1;
        l->s = s;
        s->n_ls++;
        rc = is_listen_parse(c->listen.items[i], l, err, err_len);
        if (rc != SN_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->ls[j].url, l->url) == 0) {
                snprintf(err, err_len, "listen URL \"%s\" is given twice",
                         l->url);
                return SN_ECONFIG;
            }
        }
        if (l->proto == IS_TLS || l->proto == IS_RELP_TLS)
            have_tls = true;
        if (is_proto_relp(l->proto))
            s->have_relp = true;
        if (l->proto == IS_UDP || l->proto == IS_UNIX_DGRAM)
            s->have_dgram = true;
        else
            s->have_stream = true;
    }
    sn_framer_opts_default(&s->framer_opts);
    s->framer_opts.mode = c->framing == IS_FRAMING_OCTET ? SN_FRAMING_OCTET
                          : c->framing == IS_FRAMING_LF  ? SN_FRAMING_LF
                                                         : SN_FRAMING_AUTO;
    s->framer_opts.max_msg = (size_t)c->max_message_size;
    s->framer_opts.oversize = c->oversize == IS_OVERSIZE_REJECT
                                  ? SN_OVERSIZE_REJECT
                                  : SN_OVERSIZE_TRUNCATE;
    s->framer_opts.on_error = c->on_framing_error == IS_ON_ERROR_CLOSE
                                  ? SN_ON_ERROR_CLOSE
                                  : SN_ON_ERROR_RESYNC;
    {
        /* init() allocates nothing: a dry run validates the options. */
        struct sn_framer probe;
        if (sn_framer_init(&probe, &s->framer_opts) != SN_OK) {
            snprintf(err, err_len,
                     "max_message_size %llu is not accepted "
                     "by the framer",
                     (unsigned long long)c->max_message_size);
            return SN_ECONFIG;
        }
        sn_framer_fini(&probe);
    }
    if (c->tls_verify_client == IS_VERIFY_NONE &&
        c->tls_permitted_peers.n > 0) {
        /* Names from an unverified certificate prove nothing. */
        snprintf(err, err_len,
                 "tls_permitted_peers needs tls_verify_client: optional or "
                 "required");
        return SN_ECONFIG;
    }
    if (have_tls) {
        rc = is_tls_new(s, &s->tls, err, err_len);
        if (rc != SN_OK)
            return rc;
    } else if (c->tls_cert != NULL || c->tls_key != NULL || c->tls_ca != NULL ||
               c->tls_permitted_peers.n > 0) {
        host->log(inst, SN_LOG_WARN,
                  "tls_* options are set but no tls:// listener uses them");
    }
    s->c_kernel_drops = host->counter(
        inst, "udp_kernel_drops_total",
        "datagrams the kernel dropped because the socket buffer was full "
        "(SO_RXQ_OVFL)");
    s->c_framing_errors = host->counter(
        inst, "framing_errors_total",
        "malformed stream frames (RFC 6587): bad octet count, bad byte");
    s->c_oversize =
        host->counter(inst, "oversize_messages_total",
                      "messages over max_message_size (truncated or rejected)");
    s->c_conns =
        host->counter(inst, "connections_total", "stream connections accepted");
    s->c_conns_rejected = host->counter(
        inst, "connections_rejected_total",
        "stream connections closed at once: max_connections reached");
    s->c_conns_closed =
        host->counter(inst, "connections_closed_total",
                      "stream connections closed; open = accepted - closed");
    s->c_idle = host->counter(inst, "idle_timeouts_total",
                              "connections closed by idle_timeout");
    s->c_frame_timeouts = host->counter(
        inst, "frame_timeouts_total",
        "connections closed by frame_timeout (a message begun, not ended)");
    s->c_evicted = host->counter(
        inst, "connections_evicted_total",
        "idle connections closed to make room for a new one at "
        "max_connections");
    s->c_tls_errors =
        host->counter(inst, "tls_handshake_errors_total",
                      "TLS handshakes that failed (refused peers included)");
    s->c_tls_rejected =
        host->counter(inst, "tls_peers_rejected_total",
                      "verified TLS clients refused by tls_permitted_peers");
    s->c_read_errors = host->counter(inst, "read_errors_total",
                                     "socket read errors (reset, ...)");
    if (s->have_relp) {
        s->c_relp_sessions = host->counter(inst, "relp_sessions_total",
                                           "RELP sessions accepted");
        s->c_relp_msgs = host->counter(
            inst, "relp_messages_total",
            "RELP syslog commands accepted into the pipeline (acknowledged)");
        s->c_relp_errors = host->counter(
            inst, "relp_errors_total",
            "RELP protocol errors and refused commands (the session is "
            "closed; the sender resends what was not acknowledged)");
    }
    return SN_OK;
}

static void
close_all(struct is_state *s)
{
    for (size_t i = 0; i < s->n_ls; i++) {
        is_udp_teardown(&s->ls[i]);
        is_listen_close(&s->ls[i]);
    }
}

static enum sn_status
is_start(void *state, char *err, size_t err_len)
{
    struct is_state *s = state;

    /* start() may follow a stop() when a reload fails and the previous
     * pipeline is started again: everything is bound afresh. */
    close_all(s);
    if (s->stop_pipe[0] < 0) {
        if (pipe(s->stop_pipe) != 0) {
            snprintf(err, err_len, "pipe: %s", strerror(errno));
            return SN_EIO;
        }
        for (int i = 0; i < 2; i++) {
            fcntl(s->stop_pipe[i], F_SETFD, FD_CLOEXEC);
            fcntl(s->stop_pipe[i], F_SETFL, O_NONBLOCK);
        }
    } else {
        char junk[64];
        while (read(s->stop_pipe[0], junk, sizeof(junk)) > 0)
            ; /* a stale stop request from the last run */
    }
    for (size_t i = 0; i < s->n_ls; i++) {
        enum sn_status rc;

        rc = is_listen_bind(s, &s->ls[i], err, err_len);
        if (rc != SN_OK) {
            close_all(s);
            return rc;
        }
        s->host->log(s->inst, SN_LOG_INFO, "listening on %s", s->ls[i].bound);
    }
    return SN_OK;
}

static void
is_stop(void *state)
{
    struct is_state *s = state;
    char b = 's';

    /* Called from the control thread: only wake the input thread; it
     * tears everything down itself. A full pipe means a wake-up is
     * already pending. */
    if (s->stop_pipe[1] >= 0 && write(s->stop_pipe[1], &b, 1) < 0 &&
        errno != EAGAIN)
        s->host->log(s->inst, SN_LOG_ERROR, "cannot wake the input: %s",
                     strerror(errno));
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct is_state *s = arg;
    char junk[64];

    (void)what;
    while (read(fd, junk, sizeof(junk)) > 0)
        ;
    if (s->host->stopping(s->inst))
        event_base_loopbreak(s->base);
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
    struct is_state *s = arg;

    (void)fd;
    (void)what;
    s->host->flush(s->dgram_em);
    s->dgram_pending = 0;
}

static void
is_run(void *state)
{
    struct is_state *s = state;
    char err[256] = "";

    s->base = event_base_new();
    if (s->base == NULL) {
        s->host->log(s->inst, SN_LOG_ERROR, "cannot create an event loop");
        goto out;
    }
    s->ev_stop =
        event_new(s->base, s->stop_pipe[0], EV_READ | EV_PERSIST, on_stop, s);
    if (s->ev_stop == NULL || event_add(s->ev_stop, NULL) != 0) {
        s->host->log(s->inst, SN_LOG_ERROR, "cannot watch the stop pipe");
        goto out;
    }
    if (s->have_dgram) {
        s->dgram_em = s->host->emitter_new(s->inst, true);
        s->ev_linger = evtimer_new(s->base, on_linger, s);
        s->dgram_pending = 0;
        if (s->dgram_em == NULL || s->ev_linger == NULL) {
            s->host->log(s->inst, SN_LOG_ERROR, "out of memory");
            goto out;
        }
    }
    if (s->have_stream && is_stream_loops_start(s, err, sizeof(err)) != SN_OK) {
        s->host->log(s->inst, SN_LOG_ERROR, "%s", err);
        goto out;
    }
    for (size_t i = 0; i < s->n_ls; i++) {
        struct is_listener *l = &s->ls[i];

        if (l->fd < 0)
            continue;
        if (l->proto == IS_UDP || l->proto == IS_UNIX_DGRAM) {
            if (is_udp_setup(s, l) != SN_OK) {
                s->host->log(s->inst, SN_LOG_ERROR,
                             "out of memory for %s receive buffers", l->url);
                goto out;
            }
        } else {
            l->ev = event_new(s->base, l->fd, EV_READ | EV_PERSIST,
                              is_stream_on_accept, l);
            if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
                s->host->log(s->inst, SN_LOG_ERROR, "cannot watch %s", l->url);
                goto out;
            }
        }
    }
    /* Datagrams trickle in a few per loop iteration: flushing after each
     * would make batches of a handful of records, and the batch pool,
     * shared by every input, would run out of batches long before it
     * runs out of room (then UDP drops). So a partial batch lingers for
     * DGRAM_LINGER_US after its first record, or until it is full. */
    while (!s->host->stopping(s->inst)) {
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
            break;
        if (s->dgram_pending > 0 && !evtimer_pending(s->ev_linger, NULL)) {
            struct timeval tv = { 0, DGRAM_LINGER_US };
            evtimer_add(s->ev_linger, &tv);
        }
        if (event_base_got_break(s->base))
            break;
    }
out:
    /* Listeners first, so a reload's new pipeline can bind the same
     * addresses as soon as this one has stopped. */
    for (size_t i = 0; i < s->n_ls; i++) {
        if (s->ls[i].ev != NULL) {
            event_free(s->ls[i].ev);
            s->ls[i].ev = NULL;
        }
    }
    close_all(s);
    is_stream_loops_stop(s);
    if (s->dgram_em != NULL) {
        s->host->emitter_free(s->dgram_em); /* flushes */
        s->dgram_em = NULL;
    }
    if (s->ev_linger != NULL) {
        event_free(s->ev_linger);
        s->ev_linger = NULL;
    }
    if (s->ev_stop != NULL) {
        event_free(s->ev_stop);
        s->ev_stop = NULL;
    }
    if (s->base != NULL) {
        event_base_free(s->base);
        s->base = NULL;
    }
}

SN_PLUGIN_EXPORT
const struct sn_plugin sn_plugin_in_syslog = {
    SN_PLUGIN_HEADER,
    .name = "in_syslog",
    .kind = SN_KIND_INPUT,
    .description = "receive syslog over UDP, TCP, TLS (RFC 5425), RELP "
                   "and unix sockets; RFC 6587 framing",
    .version = "1",
    .options = is_options,
    .config_size = sizeof(struct is_conf),
    .init = is_init,
    .start = is_start,
    .stop = is_stop,
    .destroy = is_destroy,
    .run = is_run,
    .default_parser = "auto",
};
