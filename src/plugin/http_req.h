/*
 * The request a plugin's HTTP route handler receives (struct sn_http_req,
 * opaque in plugin.h) and the host functions that read and answer it. The
 * HTTP server (src/http/plugin_routes.c) owns the request and fills ops;
 * the host table (host.c) only forwards to them, so this layer never
 * includes the HTTP server's headers. Control thread only.
 */
#ifndef SN_PLUGIN_HTTP_REQ_H
#define SN_PLUGIN_HTTP_REQ_H

#include <stddef.h>

#include <sentineld/plugin.h>

/* What the HTTP server implements for one request; the fields mirror the
 * http_* entries of struct sn_host (same contracts), with messages
 * already formatted. */
struct sn_http_req_ops {
    const char *(*method)(const struct sn_http_req *rq);
    const char *(*param)(const struct sn_http_req *rq, size_t i);
    const char *(*query)(struct sn_http_req *rq, const char *key);
    const char *(*header)(const struct sn_http_req *rq, const char *name);
    enum sn_status (*body)(struct sn_http_req *rq, struct sn_str *out);
    const char *(*actor)(const struct sn_http_req *rq);
    void (*reply)(struct sn_http_req *rq, int status, const char *type,
                  const void *body, size_t len);
    void (*reply_error)(struct sn_http_req *rq, int status, const char *code,
                        const char *msg);
    void (*log)(struct sn_http_req *rq, enum sn_log_level level,
                const char *msg);
};

/* The head of the server's request object: the server embeds it first
 * and hands plugins a pointer to it. */
struct sn_http_req {
    const struct sn_http_req_ops *ops;
};

/* The host table's http_* entries (host_http.c). */
const char *sn_host_http_method(const struct sn_http_req *rq);
const char *sn_host_http_param(const struct sn_http_req *rq, size_t i);
const char *sn_host_http_query(struct sn_http_req *rq, const char *key);
const char *sn_host_http_header(const struct sn_http_req *rq, const char *name);
enum sn_status sn_host_http_body(struct sn_http_req *rq, struct sn_str *out);
const char *sn_host_http_actor(const struct sn_http_req *rq);
void sn_host_http_reply(struct sn_http_req *rq, int status, const char *type,
                        const void *body, size_t len);
void sn_host_http_reply_error(struct sn_http_req *rq, int status,
                              const char *code, const char *fmt, ...)
    SN_PRINTF(4, 5);
void sn_host_http_log(struct sn_http_req *rq, enum sn_log_level level,
                      const char *fmt, ...) SN_PRINTF(3, 4);

/* Why r cannot be served (a sentence for a config error), or NULL when it
 * is a valid route: method one of GET POST PUT DELETE, a handler, and a
 * path that is either relative (served under /api/v1/plugins/<instance>/)
 * or claims a path under /api/v1/ outside /api/v1/plugins/, made of
 * segments of [A-Za-z0-9._-] or a whole {name}. */
const char *sn_http_route_invalid(const struct sn_http_route *r);

#endif
