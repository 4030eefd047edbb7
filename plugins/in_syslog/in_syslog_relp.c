/*
 * in_syslog relp:// listeners, with librelp (the library of rsyslog's
 * imrelp and omrelp). librelp owns the sockets and runs its own epoll loop
 * (relpEngineRun), so it gets a thread of its own; the loop calls
 * on_syslog() for every `syslog` command and answers "200 OK" when it
 * returns. on_syslog() therefore returns only after host->emit() accepted
 * the record: while the pipeline is full emit() blocks, no response goes
 * out, the sender's RELP window fills and it stops sending (back-pressure,
 * never a drop). An emit() refused because the pipeline stops is answered
 * with an error, so the sender keeps the message and sends it again.
 *
 * The engine never goes idle visibly (epoll_wait without timeout, no
 * callback), so a partial batch is handed on by a flusher thread
 * FLUSH_LINGER_MS after its first record. The emitter is shared by the two
 * threads under `mu`: uncontended per message, as the flusher sleeps.
 */
#define _GNU_SOURCE
#include "in_syslog.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librelp.h>

/* Long enough to fill batches at high rates, short against alerting. */
#define FLUSH_LINGER_MS 2

struct is_relp {
    struct is_state *s;
    relpEngine_t *engine;
    pthread_t engine_thread, flush_thread;
    bool engine_started, flush_started;

    pthread_mutex_t mu; /* guards em, pending, msgs, stop */
    pthread_cond_t cv;  /* pending 0 -> 1, or stop */
    struct sn_emitter *em;
    uint64_t pending; /* records emitted since the last flush */
    uint64_t msgs;    /* not yet added to the counter */
    bool stop;
    bool journal_on; /* acknowledge only once in the ingest journal */
};

/* librelp's debug hook has no user pointer: the engine thread names its
 * instance here (one engine per thread). */
static _Thread_local struct is_relp *tl_relp;

/* The only notice librelp gives of a new session is a debug line; the
 * format string is compared, not formatted, so the hook costs a memcmp. */
static void
on_dbg(char *fmt, ...)
{
    static const char accept_fmt[] = "new connect on RELP socket";

    if (tl_relp != NULL &&
        strncmp(fmt, accept_fmt, sizeof(accept_fmt) - 1) == 0)
        tl_relp->s->host->counter_add(tl_relp->s->c_relp_sessions, 1);
}

static void
on_err(void *usr, char *objinfo, char *errmsg, relpRetVal code)
{
    struct is_relp *r = usr;
    struct is_state *s = r->s;

    s->host->counter_add(s->c_relp_errors, 1);
    is_log_limited(s, &s->relp_rl, SN_LOG_WARN, "relp: %s: %s (librelp %d)",
                   objinfo != NULL ? objinfo : "?",
                   errmsg != NULL ? errmsg : "?", (int)code);
}

static void
on_auth_err(void *usr, char *authinfo, char *errmsg, relpRetVal code)
{
    on_err(usr, authinfo, errmsg, code);
}

static relpRetVal
on_syslog(void *usr, unsigned char *host, unsigned char *ip, unsigned char *msg,
          size_t len)
{
    struct is_relp *r = usr;
    struct is_state *s = r->s;
    struct sn_record rec;
    enum sn_status rc;

    (void)host;
    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = (const char *)msg;
    rec.data.len = len;
    rec.recv_ns = is_wall_ns();
    rec.peer = (const char *)ip;
    rec.transport = "relp";
    rec.source_offset = -1;
    rec.source_part = -1;
    pthread_mutex_lock(&r->mu);
    /* Blocks while the pipeline is full: the RELP window closes. */
    rc = s->host->emit(r->em, &rec);
    if (rc == SN_OK && r->journal_on) {
        /* librelp sends "200 OK" when this returns, and gives no way to
         * answer later: the record goes to the journal now, alone or with
         * what the flusher had not handed on (docs/journal.md). */
        rc = s->host->flush_sync(r->em);
        r->pending = 0;
        if (rc == SN_OK)
            s->host->counter_add(s->c_relp_msgs, r->msgs + 1);
        r->msgs = 0;
    } else if (rc == SN_OK) {
        r->msgs++;
        if (r->pending++ == 0)
            pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc != SN_OK) {
        /* Stopping (or a record over the core's limit, counted by the
         * core): "500" to the sender, which keeps the message. */
        s->host->counter_add(s->c_relp_errors, 1);
        return RELP_RET_ERR_INTERNAL;
    }
    return RELP_RET_OK;
}

static void
flush_locked(struct is_relp *r)
{
    r->s->host->flush(r->em);
    r->pending = 0;
    r->s->host->counter_add(r->s->c_relp_msgs, r->msgs);
    r->msgs = 0;
}

static void *
flush_main(void *arg)
{
    struct is_relp *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec until;

        if (r->pending == 0) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FLUSH_LINGER_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!r->stop &&
               pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
            ;
        if (r->pending > 0)
            flush_locked(r);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void *
engine_main(void *arg)
{
    struct is_relp *r = arg;

    tl_relp = r;
    relpEngineRun(r->engine);
    tl_relp = NULL;
    return NULL;
}

/* NUMERICHOST/NUMERICSERV strings of l->addr, for librelp's API. */
static void
addr_strings(const struct is_listener *l, char *host, size_t host_len,
             char *port, size_t port_len)
{
    if (getnameinfo((const struct sockaddr *)&l->addr, l->addr_len, host,
                    (socklen_t)host_len, port, (socklen_t)port_len,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(host, host_len, "127.0.0.1");
        snprintf(port, port_len, "0");
    }
}

/* relp+tls://: the tls_* options, mapped onto librelp's (OpenSSL). The
 * librelp API takes char *, never writes through it. */
static relpRetVal
relp_tls(struct is_state *s, relpSrv_t *srv)
{
    const struct is_conf *c = s->c;
    relpRetVal rc = relpSrvEnableTLS2(srv);

    if (rc == RELP_RET_OK)
        rc = relpSrvSetOwnCert(srv, (char *)c->tls_cert);
    if (rc == RELP_RET_OK)
        rc = relpSrvSetPrivKey(srv, (char *)c->tls_key);
    if (rc == RELP_RET_OK && c->tls_ca != NULL)
        rc = relpSrvSetCACert(srv, (char *)c->tls_ca);
    if (rc == RELP_RET_OK && c->tls_min_version == IS_TLS_1_3)
        rc = relpSrvSetTlsConfigCmd(srv, (char *)"MinProtocol=TLSv1.3");
    if (rc == RELP_RET_OK && c->tls_verify_client == IS_VERIFY_REQUIRED) {
        /* "name": the certificate's names must be permitted peers;
         * "certvalid": any certificate the CA signed. */
        rc = relpSrvSetAuthMode(
            srv, (char *)(c->tls_permitted_peers.n > 0 ? "name" : "certvalid"));
        for (size_t i = 0; rc == RELP_RET_OK && i < c->tls_permitted_peers.n;
             i++)
            rc = relpSrvAddPermittedPeer(
                srv, (char *)c->tls_permitted_peers.items[i]);
    }
    return rc;
}

static void
relp_free(struct is_relp *r)
{
    if (r->engine != NULL)
        relpEngineDestruct(&r->engine); /* sessions get "serverclose" */
    if (r->em != NULL)
        r->s->host->emitter_free(r->em); /* flushes */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

enum sn_status
is_relp_bind(struct is_state *s, char *err, size_t err_len)
{
    struct is_relp *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return SN_ENOMEM;
    r->s = s;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    s->relp = r;
    if (relpEngineConstruct(&r->engine) != RELP_RET_OK) {
        snprintf(err, err_len, "cannot create the RELP engine");
        return SN_ENOMEM;
    }
    relpEngineSetDbgprint(r->engine, on_dbg);
    relpEngineSetOnErr(r->engine, on_err);
    relpEngineSetOnAuthErr(r->engine, on_auth_err);
    relpEngineSetSyslogRcv2(r->engine, on_syslog);
    /* The peer is logged by address: no reverse lookup per session. */
    relpEngineSetDnsLookupMode(r->engine, 0);
    if (s->have_relp_tls &&
        relpEngineSetTLSLibByName(r->engine, "openssl") != RELP_RET_OK) {
        snprintf(err, err_len, "librelp has no OpenSSL support for relp+tls");
        return SN_ECONFIG;
    }
    relpEngineSetEnableCmd(r->engine, (unsigned char *)"syslog",
                           eRelpCmdState_Required);
    for (size_t i = 0; i < s->n_ls; i++) {
        struct is_listener *l = &s->ls[i];
        relpSrv_t *srv = NULL;
        char host[INET6_ADDRSTRLEN], port[8];
        relpRetVal rc;

        if (!is_proto_relp(l->proto))
            continue;
        addr_strings(l, host, sizeof(host), port, sizeof(port));
        rc = relpEngineListnerConstruct(r->engine, &srv);
        if (rc == RELP_RET_OK)
            rc = relpSrvSetLstnPort(srv, (unsigned char *)port);
        if (rc == RELP_RET_OK)
            rc = relpSrvSetLstnAddr(srv, (unsigned char *)host);
        if (rc == RELP_RET_OK)
            rc = relpSrvSetUsrPtr(srv, r);
        if (rc == RELP_RET_OK)
            rc = relpSrvSetMaxDataSize(srv, (size_t)s->c->max_message_size);
        if (rc == RELP_RET_OK)
            rc =
                relpSrvSetOversizeMode(srv, s->c->oversize == IS_OVERSIZE_REJECT
                                                ? RELP_OVERSIZE_ABORT
                                                : RELP_OVERSIZE_TRUNCATE);
        if (rc == RELP_RET_OK && l->proto == IS_RELP_TLS)
            rc = relp_tls(s, srv);
        if (rc == RELP_RET_OK)
            rc = relpEngineListnerConstructFinalize(r->engine, srv);
        if (rc != RELP_RET_OK) {
            snprintf(err, err_len,
                     "cannot listen on %s (librelp error %d: address in use "
                     "or not available?)",
                     l->url, (int)rc);
            return SN_EIO;
        }
        snprintf(l->bound, sizeof(l->bound), "%s://%s%s%s:%s",
                 is_proto_name(l->proto), strchr(host, ':') != NULL ? "[" : "",
                 host, strchr(host, ':') != NULL ? "]" : "", port);
        s->host->log(s->inst, SN_LOG_INFO, "listening on %s", l->bound);
    }
    return SN_OK;
}

enum sn_status
is_relp_run(struct is_state *s, char *err, size_t err_len)
{
    struct is_relp *r = s->relp;

    if (r == NULL) {
        snprintf(err, err_len, "relp listeners are not bound");
        return SN_EINVAL;
    }
    r->em = s->host->emitter_new(s->inst, false);
    r->journal_on = s->host->journal_on(s->inst);
    if (r->em == NULL) {
        snprintf(err, err_len, "out of memory for the RELP emitter");
        return SN_ENOMEM;
    }
    if (pthread_create(&r->flush_thread, NULL, flush_main, r) != 0) {
        snprintf(err, err_len, "cannot start the RELP flusher thread");
        return SN_EIO;
    }
    r->flush_started = true;
    if (pthread_create(&r->engine_thread, NULL, engine_main, r) != 0) {
        snprintf(err, err_len, "cannot start the RELP engine thread");
        return SN_EIO;
    }
    r->engine_started = true;
    return SN_OK;
}

/* epoll_wait(-1) in librelp sees relpEngineSetStop only on its next
 * event: a connection to each listener is that event (a signal would
 * need a handler the daemon's threads do not have). */
static void
wake_engine(struct is_state *s)
{
    for (size_t i = 0; i < s->n_ls; i++) {
        struct is_listener *l = &s->ls[i];
        struct sockaddr_storage to;
        int fd;

        if (!is_proto_relp(l->proto))
            continue;
        memcpy(&to, &l->addr, sizeof(to));
        if (to.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&to;
            if (in->sin_addr.s_addr == htonl(INADDR_ANY))
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (to.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;
            if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
                in6->sin6_addr = in6addr_loopback;
        }
        fd = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        (void)connect(fd, (struct sockaddr *)&to, l->addr_len);
        close(fd);
        return; /* one event is enough: the loop checks the flag */
    }
}

void
is_relp_stop(struct is_state *s)
{
    struct is_relp *r = s->relp;

    if (r == NULL)
        return;
    s->relp = NULL;
    if (r->engine_started) {
        /* If on_syslog() waits in emit(), the stopping pipeline releases
         * it (SN_AGAIN: the sender gets an error and keeps the message). */
        struct timespec until;

        /* Retried: relpEngineRun clears the flag when it starts, so a
         * stop right after run() would otherwise be lost. */
        do {
            relpEngineSetStop(r->engine);
            wake_engine(s);
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
        } while (pthread_timedjoin_np(r->engine_thread, NULL, &until) ==
                 ETIMEDOUT);
    }
    if (r->flush_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        if (r->pending > 0)
            flush_locked(r);
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->flush_thread, NULL);
    }
    relp_free(r);
}
