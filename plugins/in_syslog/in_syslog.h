/*
 * in_syslog internals shared by its files: the config the core fills, the
 * listeners parsed from `listen`, the loops (one acceptor/datagram loop on
 * the input thread, N connection loops on threads of their own) and the
 * entry points each file provides. Not part of the plugin ABI: only
 * in_syslog.c exports a symbol. docs/internals/in_syslog.md describes the
 * threads and back-pressure.
 */
#ifndef SN_IN_SYSLOG_H
#define SN_IN_SYSLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <sentineld/plugin.h>

#include "syslog/framer.h"

struct event;
struct event_base;
struct is_tls;
struct is_conn;

/* Order matches the `choices` strings of the option table. */
enum is_framing { IS_FRAMING_AUTO = 0, IS_FRAMING_OCTET, IS_FRAMING_LF };
enum is_oversize { IS_OVERSIZE_TRUNCATE = 0, IS_OVERSIZE_REJECT };
enum is_on_error { IS_ON_ERROR_RESYNC = 0, IS_ON_ERROR_CLOSE };
enum is_verify { IS_VERIFY_NONE = 0, IS_VERIFY_OPTIONAL, IS_VERIFY_REQUIRED };
enum is_tls_version { IS_TLS_1_2 = 0, IS_TLS_1_3 };

struct is_conf {
    struct sn_strlist listen;
    int framing;
    uint64_t max_message_size;
    int oversize;
    int on_framing_error;
    int64_t max_connections;
    int64_t idle_timeout_ms;
    int64_t frame_timeout_ms;
    int64_t threads;
    int64_t udp_batch;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
    int tls_verify_client;
    struct sn_strlist tls_permitted_peers;
    int tls_min_version;
    uint64_t rcvbuf;
};

enum is_proto {
    IS_UDP = 0,
    IS_TCP,
    IS_TLS,
    IS_UNIX_DGRAM,  /* unix:///path, like /dev/log */
    IS_UNIX_STREAM, /* unix-stream:///path */
    IS_RELP,        /* relp://HOST:PORT: RELP sessions over TCP */
    IS_RELP_TLS,    /* relp+tls://HOST:PORT: the same over TLS */
};

static inline bool
is_proto_relp(enum is_proto p)
{
    return p == IS_RELP || p == IS_RELP_TLS;
}

/* One `listen` URL: parsed by init, bound by start, closed when run ends. */
struct is_listener {
    const char *url; /* as configured (borrowed from the config) */
    enum is_proto proto;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char path[108];  /* unix sockets: sizeof(sun_path) on Linux */
    char bound[128]; /* the address actually bound, for logs */
    int fd;
    bool owns_path; /* we bound l->path: unlink it on close */
    struct event *ev;
    struct is_state *s;
    /* Datagram sockets: receive buffers (udp_batch of them) and the last
     * SO_RXQ_OVFL value seen; owned by in_syslog_udp.c. */
    struct is_udp *udp;
};

/* A limit on how often one loop logs about bad peers (one line per
 * SN_LOG_RATE_MS-like period; the rest are counted and summarised). */
struct is_ratelimit {
    int64_t last_ns;
    uint64_t suppressed;
};

/* A connection loop: a libevent base on its own thread, its own emitter
 * (blocking: a full pipeline stops reading = TCP back-pressure). New
 * connections and the stop request arrive through a pipe, so nothing
 * depends on libevent's cross-thread notification. */
struct is_loop {
    struct is_state *s;
    unsigned index;
    struct event_base *base;
    struct event *ev_notify;
    int notify[2]; /* [0] read end (loop), [1] write end (others) */
    pthread_t thread;
    bool thread_started;
    struct sn_emitter *em;
    /* Doubly linked, most recently active first: close-all at stop, and
     * the tail is the connection to evict at max_connections. */
    struct is_conn *conns, *conns_tail;
    struct is_ratelimit rl;
    char *buf; /* READ_CHUNK bytes, shared by the loop's connections */
    bool busy; /* a connection stopped at its read cap: data is pending */
    /* RELP connections holding answers until the loop's next commit. */
    struct is_conn *acks;
    atomic_bool stop;
};

struct is_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct is_conf *c;
    struct is_listener *ls;
    size_t n_ls;
    bool have_stream; /* a tcp, tls or unix-stream listener */
    bool have_dgram;
    bool have_relp;
    struct is_tls *tls;                /* NULL without a tls:// listener */
    struct sn_framer_opts framer_opts; /* every connection's framer */

    /* The input thread's loop: accepts and datagrams. */
    struct event_base *base;
    struct event *ev_stop;
    int stop_pipe[2];
    struct sn_emitter *dgram_em; /* drops when full */
    uint64_t dgram_pending;      /* records emitted since the last flush */
    struct event *ev_linger;     /* flushes dgram_em DGRAM_LINGER_US later */
    struct is_ratelimit rl;

    struct is_loop *loops;
    unsigned n_loops;
    unsigned next_loop;
    atomic_uint n_conns; /* open connections over all loops */

    struct sn_counter *c_kernel_drops, *c_framing_errors, *c_oversize, *c_conns,
        *c_conns_rejected, *c_conns_closed, *c_idle, *c_frame_timeouts,
        *c_evicted, *c_tls_errors,
        *c_tls_rejected, *c_read_errors;
    /* relp:// only (NULL without): sessions opened, syslog commands
     * acknowledged, protocol errors and refused commands. */
    struct sn_counter *c_relp_sessions, *c_relp_msgs, *c_relp_errors;
};

/* in_syslog.c */
/* Log at most once per rate period per limiter; returns after counting a
 * suppressed line otherwise. Call from the thread owning rl. */
void is_log_limited(struct is_state *s, struct is_ratelimit *rl,
                    enum sn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t is_now_ns(void);
int64_t is_wall_ns(void);
/* "192.0.2.1:514", "[2001:db8::1]:514" (IPv4-mapped IPv6 shown as IPv4). */
void is_format_peer(const struct sockaddr *sa, socklen_t len, char *out,
                    size_t out_len);

/* in_syslog_listen.c */
/* Parse one URL into l (no socket yet). On error writes a sentence naming
 * the URL into err and returns SN_ECONFIG. */
enum sn_status is_listen_parse(const char *url, struct is_listener *l,
                               char *err, size_t err_len);
/* Create, configure and bind l->fd (listen() for stream sockets). */
enum sn_status is_listen_bind(struct is_state *s, struct is_listener *l,
                              char *err, size_t err_len);
/* Close l->fd (and unlink a unix socket path we created). */
void is_listen_close(struct is_listener *l);
const char *is_proto_name(enum is_proto p);

/* in_syslog_udp.c: datagram sockets on the input thread's loop. */
enum sn_status is_udp_setup(struct is_state *s, struct is_listener *l);
void is_udp_teardown(struct is_listener *l);

/* in_syslog_stream.c: accepting and reading stream connections. */
enum sn_status is_stream_loops_start(struct is_state *s, char *err,
                                     size_t err_len);
void is_stream_loops_stop(struct is_state *s);
/* The acceptor's event callback for a stream listener (input thread). */
void is_stream_on_accept(int fd, short what, void *arg);

/* in_syslog_relp.c: one RELP session's protocol (relp://, relp+tls://),
 * fed by stream.c from its connection, on that connection's loop thread.
 * Records go to em; answers are held until is_relp_commit(), which the
 * loop calls once the records read before it are in the journal
 * (flush_sync), then written from is_relp_output(). new: NULL on ENOMEM;
 * em, rl and peer are borrowed for the session's life. */
struct is_relp_sess;
struct is_relp_sess *is_relp_sess_new(struct is_state *s, struct sn_emitter *em,
                                      struct is_ratelimit *rl,
                                      const char *peer);
void is_relp_sess_free(struct is_relp_sess *r);
/* Parse n bytes read at recv_ns. SN_EPEER: a protocol error (counted,
 * logged): close at once. Other errors: out of memory, or emit() failed
 * (stopping): close without answering. */
enum sn_status is_relp_feed(struct is_relp_sess *r, const char *p, size_t n,
                            int64_t recv_ns);
/* A frame begun and not finished (frame_timeout). */
bool is_relp_in_frame(const struct is_relp_sess *r);
/* Answers wait for a commit. */
bool is_relp_has_held(const struct is_relp_sess *r);
/* Every held answer may go out (counts the acknowledged messages). */
void is_relp_commit(struct is_relp_sess *r);
/* Committed bytes not yet written, and how many were written. */
const char *is_relp_output(const struct is_relp_sess *r, size_t *len);
void is_relp_consumed(struct is_relp_sess *r, size_t n);
/* "close" answered, or a fatal "500": close once the output is written;
 * read nothing more. */
bool is_relp_closing(const struct is_relp_sess *r);
/* Drop held answers, queue the "serverclose" hint (at stop). */
void is_relp_serverclose(struct is_relp_sess *r);

/* in_syslog_tls.c: OpenSSL, wrapped so its types stay in that file. */
enum sn_status is_tls_new(struct is_state *s, struct is_tls **out, char *err,
                          size_t err_len);
void is_tls_free(struct is_tls *t);
struct is_tls_conn;
/* NULL on ENOMEM. */
struct is_tls_conn *is_tls_conn_new(struct is_tls *t, int fd);
void is_tls_conn_free(struct is_tls_conn *tc);
/* Results of the non-blocking TLS calls below. */
enum is_tls_io {
    IS_TLS_OK = 0,     /* done / n bytes read */
    IS_TLS_WANT_READ,  /* wait for EV_READ and call again */
    IS_TLS_WANT_WRITE, /* wait for EV_WRITE and call again */
    IS_TLS_EOF,        /* orderly close by the peer */
    IS_TLS_ERROR,      /* reason written */
};
/* Drive the handshake; on IS_TLS_OK the peer is verified and permitted. */
enum is_tls_io is_tls_handshake(struct is_tls_conn *tc, char *why,
                                size_t why_len);
/* Reads records until buf is full or OpenSSL would block; IS_TLS_OK with
 * *n > 0 when anything was read (a condition met after some bytes is
 * reported by the next call). */
enum is_tls_io is_tls_read(struct is_tls_conn *tc, char *buf, size_t cap,
                           size_t *n, char *why, size_t why_len);
/* True when decrypted bytes wait inside OpenSSL (no socket readiness). */
bool is_tls_pending(const struct is_tls_conn *tc);
/* Writes up to len bytes; IS_TLS_OK with *n written (maybe fewer). */
enum is_tls_io is_tls_write(struct is_tls_conn *tc, const char *buf, size_t len,
                            size_t *n, char *why, size_t why_len);
/* Best-effort close_notify (non-blocking, may not be sent). */
void is_tls_shutdown(struct is_tls_conn *tc);

#endif
