/*
 * The HTTP side of the audit trail (incident/audit.h): sn_http_audit
 * records what a request changed or was refused, with the token's name
 * and the correlation ID; GET /api/v1/audit (admin) lists the trail,
 * newest first, filtered by actor, action and time, paged by cursor.
 */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/time_parse.h"
#include "http/http_int.h"
#include "incident/audit.h"
#include "incident/incidents.h"

void
sn_http_audit(struct sn_req *rq, const char *action, const char *target,
              const char *result, const char *details)
{
    struct sn_error err;
    struct sn_incidents *inc;

    sn_error_clear(&err);
    inc = sn_http_store(rq->h, &err);
    if (inc == NULL || sn_incidents_audit(inc,
                                          &(struct sn_audit_entry){
                                              .actor = rq->actor,
                                              .action = action,
                                              .target = target,
                                              .result = result,
                                              .details = details,
                                              .correlation_id = rq->cid },
                                          &err) != SN_OK)
        /* The request's outcome stands; the gap is logged. */
        sn_req_log(rq, SN_LOG_ERROR, "not audited (%s %s by %s): %s", action,
                   target ? target : "-", rq->actor, err.msg);
}

void
sn_api_audit_list(struct sn_req *rq)
{
    static const char *const keys[] = { "actor",  "action", "since", "until",
                                        "cursor", "limit",  NULL };
    struct sn_audit_query q;
    struct sn_incidents *inc;
    struct sn_error err;
    struct sn_buf b;
    const char *v;

    memset(&q, 0, sizeof(q));
    sn_req_query(rq, "actor"); /* parses the query */
    for (struct evkeyval *kv = rq->query.tqh_first; kv;
         kv = kv->next.tqe_next) {
        bool known = false;
        for (const char *const *k = keys; *k; k++)
            known = known || strcmp(kv->key, *k) == 0;
        if (!known) {
            sn_reply_error(rq, 400, "bad_query",
                           "unknown query parameter '%s' (known: actor, "
                           "action, since, until, cursor, limit)",
                           kv->key);
            return;
        }
    }
    q.actor = sn_req_query(rq, "actor");
    q.action = sn_req_query(rq, "action");
    if (((v = sn_req_query(rq, "since")) && !sn_time_parse(v, &q.since_ns)) ||
        ((v = sn_req_query(rq, "until")) && !sn_time_parse(v, &q.until_ns))) {
        sn_reply_error(
            rq, 400, "bad_query",
            "since/until '%s': expected RFC 3339 UTC "
            "(2026-01-02T03:04:05Z, a real date before 2200) or nanoseconds",
            v);
        return;
    }
    if ((v = sn_req_query(rq, "cursor")) != NULL) {
        int64_t id;
        if (!sn_time_parse_int(v, 1, INT64_MAX, &id)) {
            sn_reply_error(rq, 400, "bad_query",
                           "cursor '%s': use next_cursor of the previous "
                           "page",
                           v);
            return;
        }
        q.before_id = id;
    }
    if ((v = sn_req_query(rq, "limit")) != NULL) {
        int64_t n;
        if (!sn_time_parse_int(v, 1, 500, &n)) {
            sn_reply_error(rq, 400, "bad_query",
                           "limit '%s': expected 1 to 500", v);
            return;
        }
        q.limit = (unsigned)n;
    }
    sn_error_clear(&err);
    if ((inc = sn_http_store(rq->h, &err)) == NULL) {
        sn_reply_error(rq, 503, "store_unavailable",
                       "the incident store cannot be opened: %s", err.msg);
        return;
    }
    sn_buf_init(&b, SN_HTTP_AUDIT_PAGE_MAX);
    if (sn_incidents_audit_json(inc, &q, &b, &err) != SN_OK)
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    else {
        sn_buf_putc(&b, '\n');
        sn_reply_json(rq, 200, &b);
    }
    sn_buf_fini(&b);
}
