/*
 * The HTTP server: listener (plain or TLS through bufferevent_openssl),
 * the per-request frame (correlation ID, secure headers, routing, auth,
 * JSON errors) and the reply helpers every handler uses. Handlers live in
 * api_*.c, static.c and stream.c; the route table in router.c.
 */
#include "http/http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "core/json.h"
#include "core/log.h"
#include "http/conns.h"
#include "http/http_int.h"
#include "http/stream.h"

void
sn_http_secure_headers(struct evkeyvalq *h)
{
    /* The console loads only its own files: no inline script, no CDN. */
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'; form-action 'self'");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cache-Control", "no-store");
}

void
sn_reply(struct sn_req *rq, int code, const char *type, const void *body,
         size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(rq->r);

    rq->replied = true;
    if (code >= 500)
        sn_counter_add(rq->h->c_errors_5xx, 1);
    else if (code >= 400)
        sn_counter_add(rq->h->c_errors_4xx, 1);
    evhttp_add_header(h, "Content-Type", type);
    if (out == NULL) {
        evhttp_send_error(rq->r, 500, "out of memory");
        return;
    }
    evbuffer_add(out, body, len);
    evhttp_send_reply(rq->r, code, NULL, out);
    evbuffer_free(out);
}

void
sn_reply_json(struct sn_req *rq, int code, const struct sn_buf *b)
{
    sn_reply(rq, code, "application/json", b->data ? b->data : "", b->len);
}

/* Bytes a client chose (paths, query values) reach the log only escaped:
 * a control byte (ESC starts terminal sequences, CR/LF forge lines) is
 * written as \xHH. Returns dst. */
char *
sn_http_log_escape(const char *src, size_t len, char *dst, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c == 0x7f || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return dst;
}

static void log_str(enum sn_log_level level, const char *prefix,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
log_str(enum sn_log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sn_log_v(level, prefix, fmt, ap);
    va_end(ap);
}

void
sn_req_log(struct sn_req *rq, int level, const char *fmt, ...)
{
    char prefix[128], line[1024], esc[4 * sizeof(line) + 1];
    va_list ap;
    int n;

    if (!sn_log_enabled((enum sn_log_level)level))
        return;
    snprintf(prefix, sizeof(prefix), "http [cid=%s]", rq->cid);
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_str((enum sn_log_level)level, prefix, "%s",
            sn_http_log_escape(
                line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
                esc, sizeof(esc)));
}

void
sn_reply_error(struct sn_req *rq, int http_code, const char *code,
               const char *fmt, ...)
{
    char msg[512];
    struct sn_buf b;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sn_req_log(rq, http_code >= 500 ? SN_LOG_ERROR : SN_LOG_INFO,
               "%s %s: %d %s: %s", rq->method, rq->path, http_code, code, msg);
    sn_buf_init(&b, 4096);
    SN_BUF_LIT(&b, "{\"error\":{\"code\":");
    sn_json_str(&b, code, strlen(code));
    SN_BUF_LIT(&b, ",\"message\":");
    sn_json_str(&b, msg, strlen(msg));
    SN_BUF_LIT(&b, ",\"correlation_id\":");
    sn_json_str(&b, rq->cid, strlen(rq->cid));
    SN_BUF_LIT(&b, "}}\n");
    sn_reply_json(rq, http_code, &b);
    sn_buf_fini(&b);
}

/* Keys that may be given more than once: the events filters' field=. */
static bool
repeatable(const char *key)
{
    return strcmp(key, "field") == 0;
}

bool
sn_req_parse_query(struct sn_req *rq)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(rq->r);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;

    if (rq->query_parsed)
        return true;
    TAILQ_INIT(&rq->query);
    rq->query_parsed = true;
    if (q == NULL)
        return true;
    /* A value is a C string once decoded: "limit=10%00junk" would be read
     * as "10" here and as something else by whatever sits in front. */
    if (strstr(q, "%00") != NULL) {
        sn_reply_error(rq, 400, "bad_query",
                       "the query string holds an encoded NUL byte (%%00)");
        return false;
    }
    if (evhttp_parse_query_str(q, &rq->query) != 0) {
        sn_reply_error(rq, 400, "bad_query",
                       "the query string is malformed (expected "
                       "key=value pairs joined by &)");
        return false;
    }
    for (struct evkeyval *kv = rq->query.tqh_first; kv;
         kv = kv->next.tqe_next) {
        if (repeatable(kv->key))
            continue;
        /* Without regard to case, as sn_req_query looks keys up
         * (evhttp_find_header): since=1&SINCE=2 is a repeat too. */
        for (struct evkeyval *o = kv->next.tqe_next; o; o = o->next.tqe_next)
            if (evutil_ascii_strcasecmp(kv->key, o->key) == 0) {
                /* Taking the first (or the last) would let a proxy and
                 * the daemon read different filters from one URL. */
                sn_reply_error(rq, 400, "bad_query",
                               "query parameter '%s' is given more than "
                               "once",
                               kv->key);
                return false;
            }
    }
    return true;
}

const char *
sn_req_query(struct sn_req *rq, const char *key)
{
    if (!rq->query_parsed)
        sn_req_parse_query(rq);
    return evhttp_find_header(&rq->query, key);
}

enum sn_status
sn_req_body(struct sn_req *rq, struct sn_buf *b)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(rq->r);
    size_t len = evbuffer_get_length(in);

    if (len > rq->h->conf.max_body)
        return SN_ELIMIT;
    if (sn_buf_reserve(b, len + 1) != SN_OK)
        return SN_ENOMEM;
    evbuffer_copyout(in, b->data, len);
    b->len = len;
    b->data[len] = '\0';
    return SN_OK;
}

/* A client's correlation ID is echoed only when it is short printable
 * ASCII, so it cannot inject into logs or headers. */
static bool
cid_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
              s[i] == '.' || s[i] == ':'))
            return false;
    return true;
}

static void
set_cid(struct sn_req *rq)
{
    const char *in = evhttp_find_header(evhttp_request_get_input_headers(rq->r),
                                        "X-Correlation-ID");
    unsigned char raw[8];

    if (in != NULL && cid_ok(in)) {
        strcpy(rq->cid, in);
        return;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        memset(raw, 0, sizeof(raw));
    snprintf(rq->cid, sizeof(rq->cid), "%02x%02x%02x%02x%02x%02x%02x%02x-%llu",
             raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
             (unsigned long long)++rq->h->next_cid);
}

static const char *
method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

/* A decoded path is text: no NUL (%00 would cut "/app.js%00.html" to
 * "/app.js" for every C string function after us) and no other control
 * byte (%1b, %0a), which no route or file name has. */
static bool
path_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct sn_http *h = arg;
    struct sn_req rq;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *raw = u ? evhttp_uri_get_path(u) : NULL;
    char *dec;
    size_t dec_len = 0;
    const struct sn_route *rt;
    bool known = false;

    /* From here the connection has no request deadline until the
     * answer is complete (conns.c). */
    sn_http_conns_request(h->conns, req);
    memset(&rq, 0, sizeof(rq));
    rq.h = h;
    rq.r = req;
    rq.method = method_name(evhttp_request_get_command(req));
    set_cid(&rq);
    sn_counter_add(h->c_requests, 1);
    {
        struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
        sn_http_secure_headers(oh);
        evhttp_add_header(oh, "X-Correlation-ID", rq.cid);
    }
    dec = raw ? evhttp_uridecode(raw, 0, &dec_len) : NULL;
    if (dec == NULL || !path_ok(dec, dec_len) || dec_len >= sizeof(rq.path)) {
        const char *shown = dec ? dec : raw ? raw : "";
        /* The log line shows what was asked (escaped, truncated). */
        sn_http_log_escape(shown, dec ? dec_len : strlen(shown), rq.path,
                           sizeof(rq.path));
        free(dec);
        sn_reply_error(&rq, 400, "bad_path",
                       "the request path is invalid (control bytes, "
                       "NUL or too long)");
        goto out;
    }
    memcpy(rq.path, dec, dec_len + 1);
    free(dec);
    if (!sn_req_parse_query(&rq))
        goto out;
    /* evhttp read this body because its own limit sits above ours (see
     * body_hard_limit): refuse it here, in JSON, with the headers above. */
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
        h->conf.max_body) {
        sn_counter_add(h->c_body_too_large, 1);
        sn_reply_error(&rq, 413, "body_too_large",
                       "the body exceeds http.max_body (%llu bytes)",
                       (unsigned long long)h->conf.max_body);
        goto out;
    }
    rt = sn_route_match(&rq, &known);
    if (rt == NULL) {
        bool pknown = false;
        void *state = NULL;
        const char *inst = NULL;
        const struct sn_http_route *prt =
            sn_plugin_route_match(&rq, &state, &inst, &pknown);

        if (prt != NULL) {
            if (sn_auth_check(&rq, prt->role))
                sn_plugin_route_run(&rq, prt, state, inst);
            goto out;
        }
        known |= pknown;
    }
    if (rt == NULL) {
        if (known)
            sn_reply_error(&rq, 405, "method_not_allowed",
                           "%s is not allowed on %s", rq.method, rq.path);
        else if (strcmp(rq.method, "GET") == 0 &&
                 strncmp(rq.path, "/api/", 5) != 0)
            sn_static_serve(&rq);
        else
            sn_reply_error(&rq, 404, "not_found", "no route for %s %s",
                           rq.method, rq.path);
        goto out;
    }
    if (!sn_auth_check(&rq, rt->role))
        goto out;
    sn_req_log(&rq, SN_LOG_DEBUG, "%s %s by %s", rq.method, rq.path, rq.actor);
    rt->fn(&rq);
out:
    if (rq.query_parsed)
        evhttp_clear_headers(&rq.query);
}

/* libevent 2.1 answers a body over evhttp's limit itself, with a plain
 * HTML 413 and none of our headers, and offers no hook to change that
 * (evhttp_set_errorcb is 2.2). So evhttp's limit is set above http.max_body
 * and on_request refuses what lies between in JSON: a client that overshoots
 * by up to 4x (at least 1 MiB) gets our answer, at the price of reading
 * that much; only beyond that, to bound memory, libevent answers. */
static size_t
body_hard_limit(size_t max_body)
{
    size_t lim = max_body > SIZE_MAX / 4 ? SIZE_MAX / 4 : max_body * 4;

    return lim < max_body + (1u << 20) ? max_body + (1u << 20) : lim;
}

/* The listen(2) backlog: a burst of connections (a flood, a console
 * reloading) waits in the kernel instead of having SYNs dropped, which
 * would cost a /health probe a 1 s retransmission. evhttp_bind_socket
 * uses 128; the kernel caps this at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

static struct evconnlistener *
bind_listener(struct event_base *base, const char *host, int port)
{
    struct evutil_addrinfo hints, *ai = NULL;
    struct evconnlistener *lev;
    char ps[8];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_PASSIVE;
    snprintf(ps, sizeof(ps), "%d", port);
    if (evutil_getaddrinfo(*host ? host : NULL, ps, &hints, &ai) != 0)
        return NULL;
    lev = evconnlistener_new_bind(
        base, NULL, NULL,
        LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    return lev;
}

static enum sn_status
setup_tls(struct sn_http *h, struct sn_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        return SN_ENOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, h->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, h->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char e[200];
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        sn_error_set(err, "http tls_cert %s / tls_key %s: %s", h->tls_cert,
                     h->tls_key, e);
        SSL_CTX_free(ctx);
        return SN_ECONFIG;
    }
    h->ssl_ctx = ctx;
    return SN_OK;
}

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

enum sn_status
sn_http_start(struct event_base *base, const struct sn_http_conf *conf,
              const struct sn_http_env *env, struct sn_http **out,
              struct sn_error *err)
{
    struct sn_http *h;
    char host[256];
    const char *listen = conf->listen;
    const char *colon = strrchr(listen, ':');
    long port;
    size_t hlen;
    enum sn_status rc;
    struct evhttp_bound_socket *bound;
    struct evconnlistener *lev = NULL;

    *out = NULL;
    if (colon == NULL || (port = strtol(colon + 1, NULL, 10)) <= 0 ||
        port > 65535) {
        sn_error_set(err, "http listen '%s' is not host:port", listen);
        return SN_ECONFIG;
    }
    if ((conf->tls_cert == NULL) != (conf->tls_key == NULL)) {
        sn_error_set(err, "http: tls_cert and tls_key go together");
        return SN_ECONFIG;
    }
    hlen = (size_t)(colon - listen);
    if (hlen >= sizeof(host))
        hlen = sizeof(host) - 1;
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return SN_ENOMEM;
    h->base = base;
    h->env = *env;
    h->state_dir = dup_or_null(env->state_dir);
    h->db_path = dup_or_null(env->db_path);
    h->env.state_dir = h->state_dir;
    h->env.db_path = h->db_path;
    h->conf = *conf;
    h->listen = strdup(listen);
    h->tls_cert = dup_or_null(conf->tls_cert);
    h->tls_key = dup_or_null(conf->tls_key);
    h->web_root = sn_static_web_root(conf->web_root);
    if (conf->tokens != NULL)
        h->tokens_path = strdup(conf->tokens);
    else if (env->state_dir != NULL) {
        size_t n = strlen(env->state_dir) + sizeof("/tokens");
        h->tokens_path = malloc(n);
        if (h->tokens_path != NULL)
            snprintf(h->tokens_path, n, "%s/tokens", env->state_dir);
    }
    h->conf.listen = h->listen;
    h->conf.tls_cert = h->tls_cert;
    h->conf.tls_key = h->tls_key;
    h->conf.web_root = h->web_root;
    h->conf.tokens = h->tokens_path;
    h->http = evhttp_new(base);
    if (h->http == NULL || h->listen == NULL || h->tokens_path == NULL) {
        sn_http_free(h);
        return SN_ENOMEM;
    }
    {
        struct sn_metrics *m = env->metrics;
        h->c_requests = sn_metrics_counter(m, "sentineld_http_requests_total",
                                           NULL, "HTTP requests received");
        h->c_errors_4xx = sn_metrics_counter(m, "sentineld_http_errors_total",
                                             "class=\"4xx\"",
                                             "HTTP error responses by class");
        h->c_errors_5xx = sn_metrics_counter(m, "sentineld_http_errors_total",
                                             "class=\"5xx\"",
                                             "HTTP error responses by class");
        h->c_rate_limited =
            sn_metrics_counter(m, "sentineld_http_rate_limited_total", NULL,
                               "requests refused by the per-token rate limit");
        h->c_auth_failed =
            sn_metrics_counter(m, "sentineld_http_auth_failures_total", NULL,
                               "requests with a missing or unknown token");
    }
    h->c_body_too_large = sn_metrics_counter(
        env->metrics, "sentineld_http_body_too_large_total", NULL,
        "requests refused because the body exceeds http.max_body");
    h->c_report_timeouts = sn_metrics_counter(
        env->metrics, "sentineld_http_report_timeouts_total", NULL,
        "reports and reviews answered 504 because their source did not "
        "answer within http.report_timeout");
    h->c_report_abandoned = sn_metrics_counter(
        env->metrics, "sentineld_http_report_abandoned_total", NULL,
        "reports, reviews and lists from a report source whose client "
        "left before the answer (the source is asked to stop)");
    evhttp_set_max_body_size(h->http,
                             (ev_ssize_t)body_hard_limit(conf->max_body));
    /* Past that, read and discard the body before libevent's 413, so the
     * client sees the answer instead of a reset (libevent issue #321). */
    evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_max_headers_size(h->http, 16 * 1024);
    evhttp_set_timeout(h->http, 30);
    /* Every method reaches the router, which answers 405 in JSON. */
    evhttp_set_allowed_methods(
        h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    if (h->tls_cert != NULL && (rc = setup_tls(h, err)) != SN_OK) {
        sn_http_free(h);
        return rc;
    }
    h->stream = sn_stream_new(h);
    h->conns = sn_http_conns_new(h);
    if (h->stream == NULL || h->conns == NULL) {
        sn_http_free(h);
        return SN_ENOMEM;
    }
    /* Every connection's bufferevent comes from conns.c (TLS or not), so
     * it is counted and its deadlines kept. */
    evhttp_set_bevcb(h->http, sn_http_conns_bev, h);
    if ((lev = bind_listener(base, host, (int)port)) == NULL ||
        (bound = evhttp_bind_listener(h->http, lev)) == NULL) {
        if (lev != NULL)
            evconnlistener_free(lev);
        sn_error_set(err, "cannot listen for HTTP on %s", listen);
        sn_http_free(h);
        return SN_EIO;
    }
    sn_http_conns_listener(h->conns, lev);
    sn_log_info("http: listening on %s%s (auth %s)", listen,
                h->ssl_ctx ? " with TLS" : "", conf->auth ? "on" : "OFF");
    *out = h;
    return SN_OK;
}

void
sn_http_free(struct sn_http *h)
{
    if (h == NULL)
        return;
    sn_stream_free(h->stream);
    sn_http_reports_drop(h);
    if (h->http != NULL)
        evhttp_free(h->http);
    sn_http_conns_free(h->conns);
    if (h->ssl_ctx != NULL)
        SSL_CTX_free(h->ssl_ctx);
    sn_tokens_free(h->tokens);
    sn_http_incidents_close(h);
    free(h->listen);
    free(h->tls_cert);
    free(h->tls_key);
    free(h->web_root);
    free(h->tokens_path);
    free(h->state_dir);
    free(h->db_path);
    free(h);
}
