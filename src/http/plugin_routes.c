/*
 * Routes plugins declare in their descriptors (struct sn_http_route):
 * matched after the core's own table against the started instances of
 * the running pipeline, and served through the request accessors of the
 * host table (plugin/http_req.h). The core has authenticated the caller,
 * rate-limited and set the correlation ID before a handler runs; the
 * handler only reads the request and answers. Design: docs/plugins.md,
 * "HTTP routes".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/json.h"
#include "core/log.h"
#include "http/http_int.h"
#include "pipeline/pipeline.h"

/* The request a handler sees is the head of struct sn_req. */
static struct sn_req *
req_of(const struct sn_http_req *rq)
{
    return (struct sn_req *)(uintptr_t)rq;
}

static const char *
op_method(const struct sn_http_req *rq)
{
    return req_of(rq)->method;
}

static const char *
op_param(const struct sn_http_req *rq, size_t i)
{
    struct sn_req *r = req_of(rq);

    return i < r->n_params ? r->params[i] : NULL;
}

static const char *
op_query(struct sn_http_req *rq, const char *key)
{
    return sn_req_query(req_of(rq), key);
}

static bool
op_query_at(struct sn_http_req *rq, size_t i, const char **key,
            const char **value)
{
    struct sn_req *r = req_of(rq);
    struct evkeyval *kv;

    sn_req_query(r, ""); /* parses the query (http.c did, before routing) */
    for (kv = r->query.tqh_first; kv != NULL && i > 0; kv = kv->next.tqe_next)
        i--;
    if (kv == NULL)
        return false;
    *key = kv->key;
    *value = kv->value;
    return true;
}

static const char *
op_header(const struct sn_http_req *rq, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req_of(rq)->r),
                              name);
}

static enum sn_status
op_body(struct sn_http_req *rq, struct sn_str *out)
{
    struct sn_req *r = req_of(rq);
    struct evbuffer *in = evhttp_request_get_input_buffer(r->r);
    size_t len = evbuffer_get_length(in);

    out->ptr = "";
    out->len = 0;
    /* http.c refused larger bodies before routing; kept for the
     * contract (SN_ELIMIT means answered). */
    if (len > r->h->conf.max_body) {
        sn_reply_error(r, 413, "body_too_large",
                       "the body exceeds http.max_body (%llu bytes)",
                       (unsigned long long)r->h->conf.max_body);
        return SN_ELIMIT;
    }
    if (len == 0)
        return SN_OK;
    /* Made contiguous in libevent's own buffer: no copy, valid until the
     * request is answered and freed, after the handler returns. */
    out->ptr = (const char *)evbuffer_pullup(in, -1);
    if (out->ptr == NULL) {
        out->ptr = "";
        return SN_ENOMEM;
    }
    out->len = len;
    return SN_OK;
}

static const char *
op_actor(const struct sn_http_req *rq)
{
    return req_of(rq)->actor;
}

/* One answer per request: a second would make evhttp send garbage. */
static bool
first_reply(struct sn_req *r)
{
    if (!r->replied)
        return true;
    sn_req_log(r, SN_LOG_ERROR, "plugin '%s' answered %s %s twice",
               r->inst ? r->inst : "?", r->method, r->path);
    return false;
}

static void
op_reply(struct sn_http_req *rq, int status, const char *type, const void *body,
         size_t len)
{
    struct sn_req *r = req_of(rq);

    r->reply_status = status;
    if (first_reply(r))
        sn_reply(r, status, type ? type : "application/octet-stream", body,
                 len);
}

static void
op_reply_error(struct sn_http_req *rq, int status, const char *code,
               const char *msg)
{
    struct sn_req *r = req_of(rq);

    r->reply_status = status;
    if (first_reply(r))
        sn_reply_error(r, status, code ? code : "error", "%s", msg);
}

static void log_prefixed(enum sn_log_level level, const char *prefix,
                         const char *fmt, ...) SN_PRINTF(3, 4);

static void
log_prefixed(enum sn_log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sn_log_v(level, prefix, fmt, ap);
    va_end(ap);
}

static void
op_log(struct sn_http_req *rq, enum sn_log_level level, const char *msg)
{
    struct sn_req *r = req_of(rq);
    char prefix[160];

    snprintf(prefix, sizeof(prefix), "%s [cid=%s]", r->inst ? r->inst : "?",
             r->cid);
    log_prefixed(level, prefix, "%s", msg);
}

static const struct sn_http_req_ops ops = {
    .method = op_method,
    .param = op_param,
    .query = op_query,
    .query_at = op_query_at,
    .header = op_header,
    .body = op_body,
    .actor = op_actor,
    .reply = op_reply,
    .reply_error = op_reply_error,
    .log = op_log,
};

/* Whether r serves rq->path for instance name; fills rq->params. */
static bool
path_matches(const struct sn_http_route *r, const char *name, struct sn_req *rq)
{
    char full[600];

    if (r->path[0] == '/')
        return sn_route_path_match(r->path, rq->path, rq);
    if (snprintf(full, sizeof(full), "/api/v1/plugins/%s/%s", name, r->path) >=
        (int)sizeof(full))
        return false;
    return sn_route_path_match(full, rq->path, rq);
}

const struct sn_http_route *
sn_plugin_route_match(struct sn_req *rq, void **state, const char **inst,
                      bool *path_known)
{
    struct sn_pipeline *pl = *rq->h->env.pl;

    *path_known = false;
    for (size_t i = 0; pl != NULL && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];

        if (!in->started || in->p == NULL || in->p->routes == NULL)
            continue;
        for (const struct sn_http_route *r = in->p->routes; r->method != NULL;
             r++) {
            if (!path_matches(r, in->name, rq))
                continue;
            if (strcmp(r->method, rq->method) != 0) {
                *path_known = true;
                continue;
            }
            *state = in->state;
            *inst = in->name;
            return r;
        }
    }
    return NULL;
}

/* A plugin route that may change something (any method but GET and HEAD)
 * is audited by the core, so a plugin cannot forget it (issue #14): action
 * "request" as for a denied request, target "METHOD /path", and which
 * instance answered with which status. */
static void
audit_change(struct sn_req *rq, const char *inst)
{
    char target[600];
    char details[160];

    if (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0)
        return;
    snprintf(target, sizeof(target), "%s %s", rq->method, rq->path);
    snprintf(details, sizeof(details), "plugin '%s' answered %d", inst,
             rq->reply_status);
    sn_http_audit(rq, "request", target,
                  rq->reply_status < 400 ? "ok" : "failed", details);
}

void
sn_plugin_route_run(struct sn_req *rq, const struct sn_http_route *rt,
                    void *state, const char *inst)
{
    rq->base.ops = &ops;
    rq->inst = inst;
    sn_req_log(rq, SN_LOG_DEBUG, "%s %s by %s (plugin '%s')", rq->method,
               rq->path, rq->actor, inst);
    rt->handler(state, &rq->base);
    if (!rq->replied) {
        rq->reply_status = 500;
        sn_reply_error(rq, 500, "internal", "plugin '%s' did not answer %s %s",
                       inst, rq->method, rq->path);
    }
    audit_change(rq, inst);
}

/* GET /api/v1/plugins: every running instance that serves routes, with
 * its plugin and its routes as full paths, so a client (the console's
 * rules page) finds what a configuration serves without the core naming
 * any plugin. */
void
sn_api_plugins_list(struct sn_req *rq)
{
    struct sn_pipeline *pl = *rq->h->env.pl;
    struct sn_buf b;
    bool first = true;

    sn_buf_init(&b, 1u << 20);
    SN_BUF_LIT(&b, "{\"plugins\":[");
    for (size_t i = 0; pl != NULL && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];

        if (!in->started || in->p == NULL || in->p->routes == NULL)
            continue;
        sn_buf_puts(&b, first ? "{" : ",{");
        first = false;
        sn_json_key(&b, "instance");
        sn_json_str(&b, in->name, strlen(in->name));
        sn_buf_putc(&b, ',');
        sn_json_key(&b, "plugin");
        sn_json_str(&b, in->conf->plugin, strlen(in->conf->plugin));
        SN_BUF_LIT(&b, ",\"routes\":[");
        for (const struct sn_http_route *r = in->p->routes; r->method != NULL;
             r++) {
            char full[600];

            if (r->path[0] == '/')
                snprintf(full, sizeof(full), "%s", r->path);
            else
                snprintf(full, sizeof(full), "/api/v1/plugins/%s/%s", in->name,
                         r->path);
            if (r != in->p->routes)
                sn_buf_putc(&b, ',');
            sn_buf_putc(&b, '{');
            sn_json_key(&b, "method");
            sn_json_str(&b, r->method, strlen(r->method));
            sn_buf_putc(&b, ',');
            sn_json_key(&b, "path");
            sn_json_str(&b, full, strlen(full));
            sn_buf_putc(&b, ',');
            sn_json_key(&b, "role");
            sn_json_str(&b, sn_role_name(r->role),
                        strlen(sn_role_name(r->role)));
            sn_buf_putc(&b, '}');
        }
        SN_BUF_LIT(&b, "]}");
    }
    SN_BUF_LIT(&b, "]}\n");
    sn_reply_json(rq, 200, &b);
    sn_buf_fini(&b);
}
