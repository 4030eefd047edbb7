/*
 * The route table of the HTTP API and its matcher. The table is the one
 * source of truth for what is served: the OpenAPI document
 * (docs/openapi.json) is checked against it by tests/unit/test_http.c.
 * Matching is a linear scan; the table is small and requests are
 * control-plane traffic.
 */
#include <string.h>

#include "http/http_int.h"
#include "http/stream.h"

const struct sn_route sn_routes[] = {
    { "GET", "/health", SN_ROLE_NONE, sn_api_health },
    { "GET", "/health/ready", SN_ROLE_NONE, sn_api_ready },
    { "GET", "/metrics", SN_ROLE_NONE, sn_api_metrics },
    { "GET", "/api/v1/openapi.json", SN_ROLE_NONE, sn_api_openapi },
    { "GET", "/api/v1/whoami", SN_ROLE_VIEWER, sn_api_whoami },
    { "POST", "/api/v1/rules/reload", SN_ROLE_ADMIN, sn_api_rules_reload },
    { "GET", "/api/v1/incidents", SN_ROLE_VIEWER, sn_api_incidents_list },
    /* Before {id}, which would take "summary" for an id. */
    { "GET", "/api/v1/incidents/summary", SN_ROLE_VIEWER,
      sn_api_incidents_summary },
    { "GET", "/api/v1/incidents/{id}", SN_ROLE_VIEWER, sn_api_incidents_get },
    { "GET", "/api/v1/incidents/{id}/report", SN_ROLE_VIEWER,
      sn_api_incident_report },
    { "GET", "/api/v1/reports", SN_ROLE_VIEWER, sn_api_reports },
    /* Approve/reject may need admin (http.approve_role): the handler
     * checks that on top of this. */
    { "POST", "/api/v1/incidents/{id}/{action}", SN_ROLE_OPERATOR,
      sn_api_incidents_action },
    { "GET", "/api/v1/audit", SN_ROLE_ADMIN, sn_api_audit_list },
    { "GET", "/api/v1/plugins", SN_ROLE_VIEWER, sn_api_plugins_list },
    { "GET", "/api/v1/stream", SN_ROLE_VIEWER, sn_stream_sse },
    { "GET", "/api/v1/ws", SN_ROLE_VIEWER, sn_stream_ws },
    { NULL, NULL, 0, NULL },
};

/* Match path against pattern, capturing {x} segments into rq->params. */
bool
sn_route_path_match(const char *pattern, const char *path, struct sn_req *rq)
{
    const char *p = pattern, *s = path;
    size_t n = 0;

    while (*p != '\0' && *s != '\0') {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t len = strcspn(s, "/");

            if (pe == NULL || len == 0 || len >= sizeof(rq->params[0]) ||
                n == SN_ROUTE_MAX_PARAMS)
                return false;
            memcpy(rq->params[n], s, len);
            rq->params[n][len] = '\0';
            n++;
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p != '\0' || *s != '\0')
        return false;
    rq->n_params = n;
    return true;
}

const struct sn_route *
sn_route_match(struct sn_req *rq, bool *path_known)
{
    *path_known = false;
    for (const struct sn_route *r = sn_routes; r->method != NULL; r++) {
        if (!sn_route_path_match(r->pattern, rq->path, rq))
            continue;
        if (strcmp(r->method, rq->method) == 0)
            return r;
        *path_known = true;
    }
    return NULL;
}
