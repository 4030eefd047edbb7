/* Minimal evhttp server for health and metrics; see http.h. */
#include "http/http.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct sn_http {
    struct evhttp *http;
    struct sn_metrics *metrics;
};

static void
reply(struct evhttp_request *req, int code, const char *reason,
      const char *type, const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (out == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct sn_http *h = arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri, "?");

    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        static const char body[] =
            "{\"error\":\"method_not_allowed\",\"message\":\"use GET\"}\n";
        reply(req, 405, "Method Not Allowed", "application/json", body,
              sizeof(body) - 1);
        return;
    }
    if (plen == 7 && strncmp(uri, "/health", 7) == 0) {
        static const char body[] = "{\"status\":\"ok\"}\n";
        reply(req, 200, "OK", "application/json", body, sizeof(body) - 1);
        return;
    }
    if (plen == 8 && strncmp(uri, "/metrics", 8) == 0) {
        struct sn_buf b;

        sn_buf_init(&b, 64u * 1024 * 1024);
        if (sn_metrics_render(h->metrics, &b) != SN_OK) {
            sn_buf_fini(&b);
            evhttp_send_error(req, 500, "metrics too large");
            return;
        }
        reply(req, 200, "OK", "text/plain; version=0.0.4", b.data ? b.data : "",
              b.len);
        sn_buf_fini(&b);
        return;
    }
    {
        static const char body[] =
            "{\"error\":\"not_found\",\"message\":\"no such route\"}\n";
        reply(req, 404, "Not Found", "application/json", body,
              sizeof(body) - 1);
    }
}

enum sn_status
sn_http_start(struct event_base *base, const char *listen,
              struct sn_metrics *metrics, struct sn_http **out,
              struct sn_error *err)
{
    struct sn_http *h;
    char host[256];
    const char *colon = strrchr(listen, ':');
    long port;
    size_t hlen;

    *out = NULL;
    if (colon == NULL || (port = strtol(colon + 1, NULL, 10)) <= 0 ||
        port > 65535) {
        sn_error_set(err, "http listen '%s' is not host:port", listen);
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
    h->metrics = metrics;
    h->http = evhttp_new(base);
    if (h->http == NULL) {
        free(h);
        return SN_ENOMEM;
    }
    evhttp_set_max_body_size(h->http, 1 << 20);
    evhttp_set_gencb(h->http, on_request, h);
    if (evhttp_bind_socket(h->http, host, (ev_uint16_t)port) != 0) {
        sn_error_set(err, "cannot listen for HTTP on %s", listen);
        sn_http_free(h);
        return SN_EIO;
    }
    *out = h;
    return SN_OK;
}

void
sn_http_free(struct sn_http *h)
{
    if (h == NULL)
        return;
    evhttp_free(h->http);
    free(h);
}
