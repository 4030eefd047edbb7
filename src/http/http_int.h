/*
 * Internals shared by the files of src/http/: the server object, one
 * request's context, the route table and the reply helpers. Everything
 * here runs on the control thread's event base; nothing is locked.
 * Design: docs/internals/http.md.
 */
#ifndef SN_HTTP_HTTP_INT_H
#define SN_HTTP_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/buf.h"
#include "http/http.h"
#include "http/tokens.h"
#include "plugin/http_req.h"

struct sn_stream;
struct sn_incidents;
struct sn_http_conns;

/* Per-identity token bucket (auth.c). */
struct sn_bucket {
    char key[80]; /* token name, or "peer:<addr>" */
    double tokens;
    int64_t last_ns;
};

#define SN_HTTP_BUCKETS 256

struct sn_http {
    struct event_base *base;
    struct evhttp *http;
    struct sn_http_env env;
    struct sn_http_conf conf; /* strings copied below */
    char *listen, *tls_cert, *tls_key, *web_root, *tokens_path, *state_dir,
        *db_path;
    void *ssl_ctx; /* SSL_CTX *, when TLS is on */
    struct sn_tokens *tokens;
    int64_t tokens_mtime_ns; /* reloaded when the file changes */
    struct sn_bucket buckets[SN_HTTP_BUCKETS];
    struct sn_incidents *inc; /* opened lazily: NULL until the store exists */
    struct sn_stream *stream; /* live feed clients (stream.c) */
    struct sn_http_conns *conns; /* connection cap, deadlines (conns.c) */
    /* Reports a plugin's store answers later (api_reports.c). */
    struct sn_report_pending *reports;
    uint64_t next_cid;
    struct sn_counter *c_requests, *c_errors_4xx, *c_errors_5xx,
        *c_rate_limited, *c_auth_failed, *c_body_too_large,
        *c_report_timeouts, *c_report_abandoned;
};

/* Roles: enum sn_role in <sentineld/plugin.h> (plugin routes have them
 * too). */
const char *sn_role_name(enum sn_role r);
/* -1 when unknown. */
int sn_role_parse(const char *s);

#define SN_ROUTE_MAX_PARAMS 2

struct sn_req {
    /* First: what a plugin route's handler is given (plugin_routes.c). */
    struct sn_http_req base;
    struct sn_http *h;
    struct evhttp_request *r;
    const char *method;
    char path[512]; /* decoded path, without the query */
    struct evkeyvalq query;
    bool query_parsed;
    char cid[65];      /* X-Correlation-ID */
    enum sn_role role; /* of the token (admin when auth is off) */
    char actor[64];    /* token name, or "anonymous" */
    char ident[80];    /* rate-limit identity: token name or "peer:addr" */
    bool has_tok;      /* a token authenticated the request */
    unsigned char tok_hash[32]; /* its hash: the live feed checks it */
    char params[SN_ROUTE_MAX_PARAMS][128]; /* {id}, {action}, in order */
    size_t n_params;
    bool replied;         /* sn_reply ran */
    int reply_status;     /* plugin routes: the status they answered */
    const char *inst;     /* plugin routes: the instance serving it */
};

typedef void (*sn_route_fn)(struct sn_req *rq);

struct sn_route {
    const char *method;  /* GET, POST */
    const char *pattern; /* /api/v1/incidents/{id}; {x} is one segment */
    enum sn_role role;   /* lowest role allowed */
    sn_route_fn fn;
};

/* The route table, terminated by a zero entry (router.c). */
extern const struct sn_route sn_routes[];

/* Match method and path; fills rq->params. *path_known is set when some
 * route has this path with another method (405 rather than 404). */
const struct sn_route *sn_route_match(struct sn_req *rq, bool *path_known);
/* Whether path matches pattern ({x} is one segment), capturing the {x}
 * segments into rq->params. */
bool sn_route_path_match(const char *pattern, const char *path,
                         struct sn_req *rq);

/* Plugin routes (plugin_routes.c): the route of a started instance of
 * the running pipeline matching rq's method and path, or NULL (then
 * *path_known as for sn_route_match). *inst gets the instance. */
const struct sn_http_route *sn_plugin_route_match(struct sn_req *rq,
                                                  void **state,
                                                  const char **inst,
                                                  bool *path_known);
/* Run a matched plugin route's handler (auth already passed); answers
 * 500 when the handler did not. */
void sn_plugin_route_run(struct sn_req *rq, const struct sn_http_route *rt,
                         void *state, const char *inst);

/* Replies. Every reply carries the secure headers and the correlation ID
 * (set up by http.c before the handler runs). */
void sn_reply(struct sn_req *rq, int code, const char *type, const void *body,
              size_t len);
void sn_reply_json(struct sn_req *rq, int code, const struct sn_buf *b);
/* {"error":{"code":code,"message":...}}; logged with the correlation ID. */
void sn_reply_error(struct sn_req *rq, int http_code, const char *code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Log a line tagged with the request's correlation ID. */
void sn_req_log(struct sn_req *rq, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parse the query once: false (a 400 bad_query was sent) when it is
 * malformed or a key other than `field` is repeated. http.c calls it
 * before routing, so handlers see a checked query. */
bool sn_req_parse_query(struct sn_req *rq);
/* Escape control bytes and backslashes of src[0..len) as \xHH into dst
 * (cap bytes, NUL-terminated, truncated to fit); returns dst. */
char *sn_http_log_escape(const char *src, size_t len, char *dst, size_t cap);
/* Query parameter (decoded) or NULL. */
const char *sn_req_query(struct sn_req *rq, const char *key);
/* The request body as a NUL-terminated copy in b (max_body bounded). */
enum sn_status sn_req_body(struct sn_req *rq, struct sn_buf *b);

/* auth.c: re-read the tokens file when it changed; true when a new set
 * was loaded (then h->tokens is another object). */
bool sn_auth_refresh(struct sn_http *h);
/* Is a token with this name and hash still in the set? */
bool sn_auth_token_valid(struct sn_http *h, const char *name,
                         const unsigned char hash[32]);
/* auth.c: authenticate and rate-limit; false when a reply was sent. */
bool sn_auth_check(struct sn_req *rq, enum sn_role need);
/* Add the headers every response carries. */
void sn_http_secure_headers(struct evkeyvalq *h);

/* Handlers. */
void sn_api_health(struct sn_req *rq);
void sn_api_ready(struct sn_req *rq);
void sn_api_metrics(struct sn_req *rq);
void sn_api_whoami(struct sn_req *rq);
void sn_api_rules_reload(struct sn_req *rq);
void sn_api_openapi(struct sn_req *rq);
void sn_static_serve(struct sn_req *rq);
/* The console directory to serve for http.web_root `configured`: it, or,
 * when it is the compiled-in install path and not installed, the web/
 * of the build tree the binary runs from. Logs a warning naming the path
 * when no console is found (it is served as configured: 404s). Returns a
 * malloc'd path (NULL on ENOMEM or when configured is NULL). */
char *sn_static_web_root(const char *configured);
void sn_api_incidents_list(struct sn_req *rq);
void sn_api_incidents_get(struct sn_req *rq);
/* GET /api/v1/incidents/summary (api_overview.c). */
void sn_api_incidents_summary(struct sn_req *rq);
void sn_api_incidents_action(struct sn_req *rq);
/* GET /api/v1/plugins: running instances and the routes they serve
 * (plugin_routes.c). */
void sn_api_plugins_list(struct sn_req *rq);
/* GET /api/v1/reports and GET /api/v1/incidents/{id}/report
 * (api_reports.c). */
void sn_api_reports(struct sn_req *rq);
void sn_api_incident_report(struct sn_req *rq);
/* GET /api/v1/incidents/{id} for an incident this store lacks: true when
 * the configured report source took it (it answers, 200 with its
 * document, 404, 503 or 504); false when there is none or the id is no
 * UUID, and nothing was sent. */
bool sn_api_incident_from_source(struct sn_req *rq);
/* GET /api/v1/incidents?source=configured: true when the configured
 * report source took lq (it answers, 200 with its page and "read_from",
 * 400, 503 or 504); false when there is none, and nothing was sent. */
struct sn_list_query;
bool sn_api_incidents_list_from_source(struct sn_req *rq,
                                       const struct sn_list_query *lq);
/* Let go of the reports still waiting for their source (sn_http_free,
 * before evhttp_free). */
void sn_http_reports_drop(struct sn_http *h);
/* GET /api/v1/audit (api_audit.c). */
void sn_api_audit_list(struct sn_req *rq);
/* Record what this request changed or was refused in the audit trail
 * (actor: the token's name; result "ok", "denied", "refused" or
 * "failed"); a store failure is logged, the reply stands. */
void sn_http_audit(struct sn_req *rq, const char *action, const char *target,
                   const char *result, const char *details);
/* The control thread's incident store connection, opened on first use
 * (api_incidents.c); NULL with err set when it cannot be opened. */
struct sn_incidents *sn_http_store(struct sn_http *h, struct sn_error *err);
/* The same for a handler: NULL after answering 503 store_unavailable. */
struct sn_incidents *sn_http_incidents(struct sn_req *rq);
void sn_http_incidents_close(struct sn_http *h);

#endif
