/*
 * The http_* entries of the host table: forward a plugin route handler's
 * calls to the HTTP server that owns the request (plugin/http_req.h).
 * The printf-like ones format here, so the server sees plain messages.
 */
#include "plugin/http_req.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
sn_host_http_method(const struct sn_http_req *rq)
{
    return rq->ops->method(rq);
}

const char *
sn_host_http_param(const struct sn_http_req *rq, size_t i)
{
    return rq->ops->param(rq, i);
}

const char *
sn_host_http_query(struct sn_http_req *rq, const char *key)
{
    return rq->ops->query(rq, key);
}

const char *
sn_host_http_header(const struct sn_http_req *rq, const char *name)
{
    return rq->ops->header(rq, name);
}

enum sn_status
sn_host_http_body(struct sn_http_req *rq, struct sn_str *out)
{
    return rq->ops->body(rq, out);
}

const char *
sn_host_http_actor(const struct sn_http_req *rq)
{
    return rq->ops->actor(rq);
}

void
sn_host_http_reply(struct sn_http_req *rq, int status, const char *type,
                   const void *body, size_t len)
{
    rq->ops->reply(rq, status, type, body, len);
}

void
sn_host_http_reply_error(struct sn_http_req *rq, int status, const char *code,
                         const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rq->ops->reply_error(rq, status, code, msg);
}

void
sn_host_http_log(struct sn_http_req *rq, enum sn_log_level level,
                 const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rq->ops->log(rq, level, msg);
}

static bool
segment_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (s[0] == '{')
        return len > 2 && s[len - 1] == '}' && strcspn(s + 1, "{}/") == len - 2;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

const char *
sn_http_route_invalid(const struct sn_http_route *r)
{
    static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
    const char *p = r->path;
    bool method_ok = false;

    for (size_t i = 0; r->method && i < sizeof(methods) / sizeof(*methods); i++)
        method_ok |= strcmp(r->method, methods[i]) == 0;
    if (!method_ok)
        return "the method is not one of GET, POST, PUT, DELETE";
    if (r->handler == NULL)
        return "it has no handler";
    if (p == NULL || *p == '\0')
        return "it has no path";
    if (*p == '/') {
        if (strncmp(p, "/api/v1/", 8) != 0 ||
            strncmp(p, "/api/v1/plugins/", 16) == 0)
            return "a claimed path must be under /api/v1/ and outside "
                   "/api/v1/plugins/ (or relative, to be served there)";
        p += 8;
    }
    if ((unsigned)r->role > SN_ROLE_ADMIN)
        return "the role is not one of none, viewer, operator, admin";
    for (;;) {
        size_t len = strcspn(p, "/");
        if (!segment_ok(p, len))
            return "a path segment is empty or has characters other than "
                   "letters, digits, '.', '_', '-' (or is not a whole "
                   "{name})";
        if (p[len] == '\0')
            return NULL;
        p += len + 1;
    }
}
