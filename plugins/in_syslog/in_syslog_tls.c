/*
 * in_syslog TLS (RFC 5425) through OpenSSL: the server context (TLS 1.2
 * or newer, certificate, key, client verification), non-blocking
 * handshake and reads for stream.c, and the tls_permitted_peers check.
 * OpenSSL types stay in this file (STYLE.md 4); stream.c sees opaque
 * handles and enum is_tls_io.
 */
#include "in_syslog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct is_tls {
    struct is_state *s;
    SSL_CTX *ctx;
};

struct is_tls_conn {
    struct is_tls *t;
    SSL *ssl;
    bool checked; /* permitted peers checked after the handshake */
    /* EOF or an error met after bytes were read in the same call: held
     * for the next call. It must not wait for a socket event: a peer that
     * sent close_notify and waits for ours (Python's unwrap(), rsyslog's
     * gtls) sends nothing more, so the socket never becomes readable. */
    enum is_tls_io deferred;
    bool has_deferred;
    char deferred_why[160];
};

/* The oldest OpenSSL error in the queue, as text; the queue is cleared. */
static void
ssl_reason(char *why, size_t why_len, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (e == 0) {
        snprintf(why, why_len, "%s failed", what);
        return;
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(why, why_len, "%s: %s", what, buf);
    ERR_clear_error();
}

void
is_tls_free(struct is_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

enum sn_status
is_tls_new(struct is_state *s, struct is_tls **out, char *err, size_t err_len)
{
    const struct is_conf *c = s->c;
    struct is_tls *t;
    int mode;
    /* Any fixed bytes will do: with client certificates OpenSSL refuses
     * to resume sessions without a session id context. */
    static const unsigned char sid_ctx[] = "sentineld-in_syslog";

    *out = NULL;
    if (c->tls_cert == NULL || c->tls_key == NULL) {
        snprintf(err, err_len,
                 "a tls:// or relp+tls:// listener needs tls_cert and "
                 "tls_key");
        return SN_ECONFIG;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SN_ENOMEM;
    *out = t;
    t->s = s;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (t->ctx == NULL) {
        ssl_reason(err, err_len, "SSL_CTX_new");
        return SN_ENOMEM;
    }
    if (SSL_CTX_set_min_proto_version(t->ctx, c->tls_min_version == IS_TLS_1_3
                                                  ? TLS1_3_VERSION
                                                  : TLS1_2_VERSION) != 1) {
        ssl_reason(err, err_len, "tls_min_version");
        return SN_ECONFIG;
    }
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
                                    /* Forwarders often close the TCP
                                     * connection without close_notify;
                                     * that is an EOF, not an error. */
                                    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
    );
    /* Read ahead: one read(2) takes in as many records as the socket
     * holds instead of two per record (header, then body), which matters
     * for forwarders sending one small record per message. The bytes it
     * buffers raise no socket event, so the connection loop must check
     * is_tls_pending() whenever it stops reading early. */
    SSL_CTX_set_read_ahead(t->ctx, 1);
    /* RELP answers (relp+tls://) are written from a buffer that may have
     * moved or grown when a write that wanted to wait is retried. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, c->tls_cert) != 1) {
        char why[300];
        ssl_reason(why, sizeof(why), "cannot load");
        snprintf(err, err_len, "tls_cert %s: %s", c->tls_cert, why);
        return SN_ECONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, c->tls_key, SSL_FILETYPE_PEM) !=
        1) {
        char why[300];
        ssl_reason(why, sizeof(why), "cannot load");
        snprintf(err, err_len, "tls_key %s: %s", c->tls_key, why);
        return SN_ECONFIG;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(err, err_len, "tls_key %s does not match tls_cert %s",
                 c->tls_key, c->tls_cert);
        ERR_clear_error();
        return SN_ECONFIG;
    }
    if (c->tls_ca != NULL) {
        STACK_OF(X509_NAME) * names;

        if (SSL_CTX_load_verify_locations(t->ctx, c->tls_ca, NULL) != 1) {
            char why[300];
            ssl_reason(why, sizeof(why), "cannot load");
            snprintf(err, err_len, "tls_ca %s: %s", c->tls_ca, why);
            return SN_ECONFIG;
        }
        /* Tell clients which CAs we accept, so one with several
         * certificates picks the right one. */
        names = SSL_load_client_CA_file(c->tls_ca);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(t->ctx, names);
        ERR_clear_error();
    } else if (c->tls_verify_client != IS_VERIFY_NONE) {
        SSL_CTX_set_default_verify_paths(t->ctx);
    }
    switch (c->tls_verify_client) {
    case IS_VERIFY_OPTIONAL:
        /* A certificate that is sent must verify; none is fine. */
        mode = SSL_VERIFY_PEER;
        break;
    case IS_VERIFY_REQUIRED:
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    default:
        mode = SSL_VERIFY_NONE;
        break;
    }
    SSL_CTX_set_verify(t->ctx, mode, NULL);
    SSL_CTX_set_session_id_context(t->ctx, sid_ctx, sizeof(sid_ctx) - 1);
    return SN_OK;
}

struct is_tls_conn *
is_tls_conn_new(struct is_tls *t, int fd)
{
    struct is_tls_conn *tc = calloc(1, sizeof(*tc));

    if (tc == NULL)
        return NULL;
    tc->t = t;
    tc->ssl = SSL_new(t->ctx);
    if (tc->ssl == NULL || SSL_set_fd(tc->ssl, fd) != 1) {
        ERR_clear_error();
        is_tls_conn_free(tc);
        return NULL;
    }
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void
is_tls_conn_free(struct is_tls_conn *tc)
{
    if (tc == NULL)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

/* RFC 5425 5.2 / RFC 6125: an exact name (case-insensitive), or "*." and
 * a suffix, where '*' stands for exactly one non-empty label. */
static bool
name_matches(const char *pattern, const char *name, size_t name_len)
{
    size_t plen = strlen(pattern);

    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = memchr(name, '.', name_len);
        size_t rest;

        if (dot == NULL || dot == name)
            return false;
        rest = name_len - (size_t)(dot - name);
        return rest == plen - 1 && strncasecmp(dot, pattern + 1, rest) == 0;
    }
    return plen == name_len && strncasecmp(pattern, name, name_len) == 0;
}

static bool
permitted_name(const struct is_conf *c, const unsigned char *p, int len)
{
    if (len <= 0 || memchr(p, '\0', (size_t)len) != NULL)
        return false; /* embedded NUL: a classic certificate forgery */
    for (size_t i = 0; i < c->tls_permitted_peers.n; i++)
        if (name_matches(c->tls_permitted_peers.items[i], (const char *)p,
                         (size_t)len))
            return true;
    return false;
}

static void
append_name(char *names, size_t names_len, const unsigned char *p, int len)
{
    size_t used = strlen(names);

    if (used + 4 >= names_len)
        return;
    snprintf(names + used, names_len - used, "%s%.*s", used ? ", " : "",
             len > 64 ? 64 : len, (const char *)p);
}

/* SAN DNS names when the certificate has any, else the subject CN (the
 * order RFC 6125 6.4.4 gives). */
static bool
peer_permitted(struct is_tls_conn *tc, char *why, size_t why_len)
{
    const struct is_conf *c = tc->t->s->c;
    X509 *cert;
    GENERAL_NAMES *sans;
    bool ok = false, any_dns = false;
    char names[200] = "";

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    cert = SSL_get1_peer_certificate(tc->ssl);
#else
    cert = SSL_get_peer_certificate(tc->ssl);
#endif
    if (cert == NULL) {
        snprintf(why, why_len,
                 "no client certificate, but tls_permitted_peers is set");
        return false;
    }
    sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        const unsigned char *p;
        int len;

        if (gn->type != GEN_DNS)
            continue;
        any_dns = true;
        p = ASN1_STRING_get0_data(gn->d.dNSName);
        len = ASN1_STRING_length(gn->d.dNSName);
        append_name(names, sizeof(names), p, len);
        if (permitted_name(c, p, len))
            ok = true;
    }
    GENERAL_NAMES_free(sans);
    if (!any_dns) {
        X509_NAME *subj = X509_get_subject_name(cert);
        int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);

        if (idx >= 0) {
            ASN1_STRING *cn =
                X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
            const unsigned char *p = ASN1_STRING_get0_data(cn);
            int len = ASN1_STRING_length(cn);

            append_name(names, sizeof(names), p, len);
            ok = permitted_name(c, p, len);
        }
    }
    X509_free(cert);
    if (!ok)
        snprintf(why, why_len,
                 "certificate names (%s) not in tls_permitted_peers",
                 names[0] ? names : "none");
    return ok;
}

/* Map an OpenSSL failure to enum is_tls_io with a reason. */
static enum is_tls_io
io_result(struct is_tls_conn *tc, int rc, const char *what, char *why,
          size_t why_len)
{
    int e = SSL_get_error(tc->ssl, rc);

    switch (e) {
    case SSL_ERROR_WANT_READ:
        return IS_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return IS_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return IS_TLS_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (errno == 0 || rc == 0)
                return IS_TLS_EOF; /* TCP closed without close_notify */
            snprintf(why, why_len, "%s: %s", what, strerror(errno));
            return IS_TLS_ERROR;
        }
        ssl_reason(why, why_len, what);
        return IS_TLS_ERROR;
    default: {
        long v = SSL_get_verify_result(tc->ssl);

        if (v != X509_V_OK) {
            snprintf(why, why_len, "%s: client certificate: %s", what,
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else {
            ssl_reason(why, why_len, what);
        }
        return IS_TLS_ERROR;
    }
    }
}

enum is_tls_io
is_tls_handshake(struct is_tls_conn *tc, char *why, size_t why_len)
{
    int rc;

    ERR_clear_error();
    errno = 0;
    rc = SSL_do_handshake(tc->ssl);
    if (rc != 1) {
        enum is_tls_io r = io_result(tc, rc, "handshake", why, why_len);
        if (r == IS_TLS_EOF) {
            snprintf(why, why_len, "handshake: connection closed by peer");
            return IS_TLS_ERROR;
        }
        return r;
    }
    if (!tc->checked) {
        tc->checked = true;
        if (tc->t->s->c->tls_permitted_peers.n > 0 &&
            !peer_permitted(tc, why, why_len)) {
            tc->t->s->host->counter_add(tc->t->s->c_tls_rejected, 1);
            return IS_TLS_ERROR;
        }
    }
    return IS_TLS_OK;
}

enum is_tls_io
is_tls_read(struct is_tls_conn *tc, char *buf, size_t cap, size_t *n, char *why,
            size_t why_len)
{
    *n = 0;
    if (why_len > 0)
        why[0] = '\0';
    if (tc->has_deferred) {
        tc->has_deferred = false;
        snprintf(why, why_len, "%s", tc->deferred_why);
        return tc->deferred;
    }
    if (cap > 1 << 30)
        cap = 1 << 30;
    /* SSL_read returns at most one record (often one small message):
     * fill the buffer so the framer and the caller's loop run once per
     * buffer, not once per record. */
    while (*n < cap) {
        int rc;

        ERR_clear_error();
        errno = 0;
        rc = SSL_read(tc->ssl, buf + *n, (int)(cap - *n));
        if (rc <= 0) {
            enum is_tls_io io = io_result(tc, rc, "read", why, why_len);
            /* Deliver what was read first; EOF and errors come back on
             * the next call (is_tls_pending says there is one). */
            if (*n > 0 && (io == IS_TLS_EOF || io == IS_TLS_ERROR)) {
                tc->deferred = io;
                tc->has_deferred = true;
                snprintf(tc->deferred_why, sizeof(tc->deferred_why), "%s",
                         why);
            }
            return *n > 0 ? IS_TLS_OK : io;
        }
        *n += (size_t)rc;
    }
    return IS_TLS_OK;
}

enum is_tls_io
is_tls_write(struct is_tls_conn *tc, const char *buf, size_t len, size_t *n,
             char *why, size_t why_len)
{
    int rc;

    *n = 0;
    if (len > 1 << 30)
        len = 1 << 30;
    ERR_clear_error();
    errno = 0;
    rc = SSL_write(tc->ssl, buf, (int)len);
    if (rc <= 0)
        return io_result(tc, rc, "write", why, why_len);
    *n = (size_t)rc;
    return IS_TLS_OK;
}

bool
is_tls_pending(const struct is_tls_conn *tc)
{
    /* SSL_has_pending also counts records read but not yet processed. */
    return tc->has_deferred || SSL_has_pending(tc->ssl) == 1;
}

void
is_tls_shutdown(struct is_tls_conn *tc)
{
    ERR_clear_error();
    /* One non-blocking attempt: the peer is going away either way. */
    if (SSL_is_init_finished(tc->ssl))
        (void)SSL_shutdown(tc->ssl);
    ERR_clear_error();
}
