/* The CLI's reads through a daemon's HTTP API; see remote.h. */
#include "cli/remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/common.h"
#include "cli/identity.h"
#include "config/config.h"
#include "core/limits.h"

/* Headers of an answer, at most (the daemon sends a handful). */
#define HEAD_MAX (64u * 1024)

/* http.listen's host:port as a place to connect to: a wildcard address
 * means this host. */
static int
from_listen(struct sn_cli_remote *r, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    size_t hl;

    if (colon == NULL || colon[1] == '\0') {
        fprintf(stderr, "sentineld: http.listen '%s' names no port\n", listen);
        return 1;
    }
    hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']')
        snprintf(r->host, sizeof(r->host), "%.*s", (int)hl - 2, listen + 1);
    else
        snprintf(r->host, sizeof(r->host), "%.*s", (int)hl, listen);
    if (r->host[0] == '\0' || strcmp(r->host, "0.0.0.0") == 0 ||
        strcmp(r->host, "*") == 0)
        snprintf(r->host, sizeof(r->host), "127.0.0.1");
    else if (strcmp(r->host, "::") == 0)
        snprintf(r->host, sizeof(r->host), "::1");
    snprintf(r->port, sizeof(r->port), "%s", colon + 1);
    return 0;
}

static int
from_config(struct sn_cli_remote *r, const char *config)
{
    const char *path = config ? config : sn_cli_default_config();
    struct sn_config *cfg = NULL;
    struct sn_diags d;
    int rc;

    sn_diags_init(&d);
    if (sn_config_load(path, &cfg, &d) != SN_OK) {
        sn_diags_print(&d, stderr);
        fprintf(stderr,
                "sentineld: cannot read %s (use --url URL to name "
                "the daemon's API)\n",
                path);
        sn_diags_fini(&d);
        return 2;
    }
    sn_diags_fini(&d);
    if (!cfg->http.enabled) {
        fprintf(stderr, "sentineld: %s: the HTTP API is off (http.enabled)\n",
                path);
        sn_config_free(cfg);
        return 1;
    }
    r->tls = cfg->http.tls_cert != NULL;
    rc = from_listen(r, cfg->http.listen);
    sn_config_free(cfg);
    return rc;
}

static int
from_url(struct sn_cli_remote *r, const char *url)
{
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    int port = u ? evhttp_uri_get_port(u) : -1;

    if (u == NULL || scheme == NULL || host == NULL || host[0] == '\0' ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        evhttp_uri_get_query(u) != NULL) {
        fprintf(stderr,
                "sentineld: --url '%s': expected http://HOST[:PORT] or "
                "https://HOST[:PORT] (the daemon's http.listen)\n",
                url);
        if (u != NULL)
            evhttp_uri_free(u);
        return 2;
    }
    r->tls = strcmp(scheme, "https") == 0;
    snprintf(r->host, sizeof(r->host), "%s", host);
    snprintf(r->port, sizeof(r->port), "%d",
             port >= 0 ? port
             : r->tls  ? 443
                       : 80);
    snprintf(r->prefix, sizeof(r->prefix), "%s", path ? path : "");
    while (r->prefix[0] != '\0' && r->prefix[strlen(r->prefix) - 1] == '/')
        r->prefix[strlen(r->prefix) - 1] = '\0';
    evhttp_uri_free(u);
    return 0;
}

int
sn_cli_remote_open(struct sn_cli_remote *r, const char *url, const char *config,
                   const char *token_file, const char *cacert)
{
    bool v6;
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = url ? from_url(r, url) : from_config(r, config)) != 0)
        return rc;
    if (cacert != NULL && !r->tls) {
        fprintf(stderr, "sentineld: --cacert is for an https:// daemon\n");
        return 2;
    }
    r->cacert = cacert;
    v6 = strchr(r->host, ':') != NULL;
    snprintf(r->url, sizeof(r->url), "%s://%s%s%s:%s%s",
             r->tls ? "https" : "http", v6 ? "[" : "", r->host, v6 ? "]" : "",
             r->port, r->prefix);
    return sn_cli_token(token_file, r->token, sizeof(r->token));
}

/* A connected socket, or -1 with errno's text in why. */
static int
dial(const struct sn_cli_remote *r, char *why, size_t len)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    struct timeval tv = { SN_CLI_REMOTE_TIMEOUT_S, 0 };
    int fd = -1, gai, e = 0;

    hints.ai_socktype = SOCK_STREAM;
    if ((gai = getaddrinfo(r->host, r->port, &hints, &res)) != 0) {
        snprintf(why, len, "%s", gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        if ((fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol)) < 0) {
            e = errno;
            continue;
        }
        /* SO_SNDTIMEO bounds connect() too (Linux socket(7)). */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, len, "%s", strerror(e));
    return fd;
}

/* One connection: a socket, with TLS over it for https://. */
struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static void
conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
}

/* OpenSSL's reason for the last failure: the certificate check's when
 * that failed, else the error queue's. */
static void
tls_why(SSL *ssl, const char *what, char *why, size_t len)
{
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();

    if (v != X509_V_OK)
        snprintf(why, len, "%s: certificate: %s", what,
                 X509_verify_cert_error_string(v));
    else
        snprintf(why, len, "%s: %s", what,
                 e ? ERR_reason_error_string(e) : "connection closed");
    ERR_clear_error();
}

/* TLS over c->fd, the daemon's certificate checked against cacert (or
 * the system's CAs) and r->host: 0, or -1 with why. */
static int
tls_start(const struct sn_cli_remote *r, struct conn *c, char *why, size_t len)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, r->host, ip) == 1 ||
                 inet_pton(AF_INET6, r->host, ip) == 1;

    if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1) {
        tls_why(NULL, "TLS", why, len);
        return -1;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* libevent closes without close_notify: that is the answer's end. */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (r->cacert != NULL
            ? SSL_CTX_load_verify_locations(c->ctx, r->cacert, NULL) != 1
            : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        tls_why(NULL, r->cacert ? r->cacert : "the system's CAs", why, len);
        return -1;
    }
    if ((c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
                                               r->host) != 1
               : SSL_set1_host(c->ssl, r->host) != 1 ||
                     SSL_set_tlsext_host_name(c->ssl, r->host) != 1)) {
        tls_why(NULL, "TLS", why, len);
        return -1;
    }
    if (SSL_connect(c->ssl) != 1) {
        tls_why(c->ssl, "TLS handshake", why, len);
        return -1;
    }
    return 0;
}

static ssize_t
conn_send(struct conn *c, const char *p, size_t n)
{
    return c->ssl ? SSL_write(c->ssl, p, (int)n)
                  : send(c->fd, p, n, MSG_NOSIGNAL);
}

/* Bytes read, 0 at the end of the answer, -1 with errno. The daemon may
 * close without TLS's close_notify: the end all the same (a short answer
 * is caught by its Content-Length). */
static ssize_t
conn_recv(struct conn *c, char *p, size_t n)
{
    int k, e;

    if (c->ssl == NULL)
        return recv(c->fd, p, n, 0);
    if ((k = SSL_read(c->ssl, p, (int)n)) > 0)
        return k;
    e = SSL_get_error(c->ssl, k);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
        return 0;
    if (e == SSL_ERROR_SSL)
        errno = EPROTO;
    return -1;
}

/* Send the request and read the whole answer (HTTP/1.0: the daemon
 * closes after it, and never chunks it) into raw: 0, or -1 with why. */
static int
exchange(const struct sn_cli_remote *r, const char *path, struct sn_buf *raw,
         char *why, size_t len)
{
    struct conn c = { dial(r, why, len), NULL, NULL };
    struct sn_buf req;
    size_t off = 0;
    int rc = -1;

    if (c.fd < 0)
        return -1;
    if (r->tls && tls_start(r, &c, why, len) != 0) {
        conn_close(&c);
        return -1;
    }
    sn_buf_init(&req, 16 * 1024);
    if (sn_buf_printf(&req,
                      "GET %s%s HTTP/1.0\r\nHost: %s:%s\r\n"
                      "Accept: */*\r\nUser-Agent: sentineld-cli\r\n",
                      r->prefix, path, r->host, r->port) != SN_OK ||
        (r->token[0] != '\0' &&
         sn_buf_printf(&req, "Authorization: Bearer %s\r\n", r->token) !=
             SN_OK) ||
        SN_BUF_LIT(&req, "\r\n") != SN_OK) {
        snprintf(why, len, "the request does not fit in 16 KiB");
        goto out;
    }
    while (off < req.len) {
        ssize_t n = conn_send(&c, req.data + off, req.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, len, "sending the request: %s", strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    for (;;) {
        char chunk[16384];
        ssize_t n = conn_recv(&c, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, len, "%s",
                     errno == EAGAIN || errno == EWOULDBLOCK
                         ? "no answer within the CLI's timeout"
                         : strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (sn_buf_append(raw, chunk, (size_t)n) != SN_OK) {
            snprintf(why, len, "the answer exceeds %u bytes",
                     SN_CLI_INCIDENTS_OUT_MAX);
            goto out;
        }
    }
    rc = 0;
out:
    sn_buf_fini(&req);
    conn_close(&c);
    return rc;
}

/* The daemon's error message ({"error":{"message":...}}), or the body. */
static void
error_message(const char *body, char *out, size_t len)
{
    struct json_object *o = json_tokener_parse(body), *e, *m;

    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_object_get_ex(e, "message", &m))
        snprintf(out, len, "%s", json_object_get_string(m));
    else
        snprintf(out, len, "%.200s", body);
    json_object_put(o);
}

int
sn_cli_remote_get(const struct sn_cli_remote *r, const char *path,
                  struct sn_buf *body)
{
    struct sn_buf raw;
    const char *end, *cl;
    char why[512], msg[600];
    int status = 0, rc = 1;

    sn_buf_init(&raw, SN_CLI_INCIDENTS_OUT_MAX + HEAD_MAX);
    if (exchange(r, path, &raw, why, sizeof(why)) != 0) {
        fprintf(stderr, "sentineld: cannot reach the daemon at %s: %s\n",
                r->url, why);
        goto out;
    }
    end = raw.data ? strstr(sn_buf_cstr(&raw), "\r\n\r\n") : NULL;
    if (end == NULL || sscanf(raw.data, "HTTP/1.%*d %d", &status) != 1) {
        fprintf(stderr, "sentineld: %s answered something that is not HTTP\n",
                r->url);
        goto out;
    }
    end += 4;
    /* An answer cut short (the daemon stopped while sending it). */
    cl = strstr(raw.data, "\r\nContent-Length:");
    if (cl != NULL && cl < end &&
        strtoull(cl + 17, NULL, 10) != raw.len - (size_t)(end - raw.data)) {
        fprintf(stderr, "sentineld: the answer from %s was cut short\n",
                r->url);
        goto out;
    }
    if (status == 200) {
        if (sn_buf_append(body, end, raw.len - (size_t)(end - raw.data)) ==
            SN_OK)
            rc = 0;
        else
            fprintf(stderr, "sentineld: the answer exceeds %u bytes\n",
                    SN_CLI_INCIDENTS_OUT_MAX);
        goto out;
    }
    error_message(end, msg, sizeof(msg));
    if (status == 401)
        fprintf(stderr,
                "sentineld: %s refused the request (401): %s; present an API "
                "token with --token-file FILE or $SENTINELD_TOKEN (sentineld "
                "token create)\n",
                r->url, msg);
    else if (status == 403)
        fprintf(stderr, "sentineld: %s refused the token (403): %s\n", r->url,
                msg);
    else
        fprintf(stderr, "sentineld: %s answered %d: %s\n", r->url, status, msg);
out:
    sn_buf_fini(&raw);
    return rc;
}
