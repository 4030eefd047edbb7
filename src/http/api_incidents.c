/*
 * /api/v1/incidents: list, one incident, and the human actions, as thin
 * layers over incidents.h (the store does the work and the audit). This
 * file owns the HTTP contract: strict query and body validation (unknown
 * parameters and fields, wrong types: 400 with a stable code, nothing
 * changed), role rules for approvals, and who/correlation ID passed into
 * the audit entry. The store is opened on first use by the control
 * thread, which then keeps its own connection (incidents.h: one thread).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/time_parse.h"
#include "http/http_int.h"
#include "http/stream.h"
#include "incident/incidents.h"

struct sn_incidents *
sn_http_store(struct sn_http *h, struct sn_error *err)
{
    if (h->inc != NULL)
        return h->inc;
    if (h->env.db_path == NULL) {
        sn_error_set(err, "no state_dir for the incident store");
        return NULL;
    }
    if (sn_incidents_open(h->env.db_path, false, &h->inc, err) != SN_OK)
        h->inc = NULL;
    return h->inc;
}

struct sn_incidents *
sn_http_incidents(struct sn_req *rq)
{
    struct sn_error err;
    struct sn_incidents *inc;

    sn_error_clear(&err);
    inc = sn_http_store(rq->h, &err);
    if (inc == NULL)
        sn_reply_error(rq, 503, "store_unavailable",
                       "the incident store cannot be opened: %s", err.msg);
    return inc;
}

void
sn_http_incidents_close(struct sn_http *h)
{
    sn_incidents_close(h->inc);
    h->inc = NULL;
}

static bool
one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

/* ?source=configured: the page from the report source, which holds the
 * whole fleet's incidents (a shared store), with the same filters. */
static void
list_from_source(struct sn_req *rq, const struct sn_incident_query *q)
{
    struct sn_list_query lq = {
        .status = q->status,
        .min_severity = q->severity ? sn_severity_parse(q->severity) : -1,
        .rule_id = q->rule_id,
        .text = q->text,
        .since_ns = q->since_ns,
        .until_ns = q->until_ns,
        .limit = q->limit ? q->limit : SN_INCIDENT_LIST_DEFAULT,
    };
    char id[SN_UUID_LEN + 1] = "";

    if (q->cursor != NULL && q->cursor[0] &&
        !sn_incidents_cursor_parse(q->cursor, &lq.cursor_seen_ns, id)) {
        sn_reply_error(rq, 400, "bad_query", "invalid cursor '%s'", q->cursor);
        return;
    }
    lq.cursor_id = id;
    if (!sn_api_incidents_list_from_source(rq, &lq))
        sn_reply_error(rq, 400, "no_report_source",
                       "source=configured: this instance has no report "
                       "source (an incident output with reports: true, "
                       "docs/reports.md)");
}

void
sn_api_incidents_list(struct sn_req *rq)
{
    static const char *const keys[] = { "status", "severity", "rule",
                                        "q",      "since",    "until",
                                        "cursor", "limit",    "source",
                                        NULL };
    static const char *const statuses[] = { "open", "acknowledged", "resolved",
                                            "suppressed", NULL };
    static const char *const sevs[] = { "info", "low",      "medium",
                                        "high", "critical", NULL };
    struct sn_incident_query q;
    struct sn_incidents *inc;
    struct sn_buf b;
    struct sn_error err;
    const char *v;

    memset(&q, 0, sizeof(q));
    sn_req_query(rq, "status"); /* parses the query */
    for (struct evkeyval *kv = rq->query.tqh_first; kv; kv = kv->next.tqe_next)
        if (!one_of(kv->key, keys)) {
            sn_reply_error(rq, 400, "bad_query",
                           "unknown query parameter '%s' (known: status, "
                           "severity, rule, q, since, until, cursor, limit, "
                           "source)",
                           kv->key);
            return;
        }
    if ((v = sn_req_query(rq, "status")) && !one_of(v, statuses)) {
        sn_reply_error(rq, 400, "bad_query",
                       "status '%s': expected open, acknowledged, resolved "
                       "or suppressed",
                       v);
        return;
    }
    q.status = v;
    if ((v = sn_req_query(rq, "severity")) && !one_of(v, sevs)) {
        sn_reply_error(rq, 400, "bad_query",
                       "severity '%s': expected info, low, medium, high or "
                       "critical",
                       v);
        return;
    }
    q.severity = v;
    q.rule_id = sn_req_query(rq, "rule");
    q.text = sn_req_query(rq, "q");
    q.cursor = sn_req_query(rq, "cursor");
    if (((v = sn_req_query(rq, "since")) &&
         !sn_time_parse(v, &q.since_ns)) ||
        ((v = sn_req_query(rq, "until")) &&
         !sn_time_parse(v, &q.until_ns))) {
        sn_reply_error(rq, 400, "bad_query",
                       "time '%s': expected RFC 3339 UTC "
                       "(2026-01-02T03:04:05Z) or nanoseconds",
                       v);
        return;
    }
    if ((v = sn_req_query(rq, "limit"))) {
        int64_t n;
        if (!sn_time_parse_int(v, 1, 500, &n)) {
            sn_reply_error(rq, 400, "bad_query",
                           "limit '%s': expected 1 to 500", v);
            return;
        }
        q.limit = (unsigned)n;
    }
    if ((v = sn_req_query(rq, "source")) && strcmp(v, "local") != 0) {
        if (strcmp(v, "configured") != 0)
            sn_reply_error(rq, 400, "bad_query",
                           "source '%s': expected local or configured", v);
        else
            list_from_source(rq, &q);
        return;
    }
    if ((inc = sn_http_incidents(rq)) == NULL)
        return;
    sn_buf_init(&b, 64u << 20);
    sn_error_clear(&err);
    switch (sn_incidents_list_json(inc, &q, &b, &err)) {
    case SN_OK:
        sn_buf_putc(&b, '\n');
        sn_reply_json(rq, 200, &b);
        break;
    case SN_EINVAL:
        sn_reply_error(rq, 400, "bad_query", "%s", err.msg);
        break;
    default:
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    }
    sn_buf_fini(&b);
}

void
sn_api_incidents_get(struct sn_req *rq)
{
    struct sn_incidents *inc = sn_http_incidents(rq);
    struct sn_buf b;
    struct sn_error err;

    if (inc == NULL)
        return;
    sn_buf_init(&b, 64u << 20);
    sn_error_clear(&err);
    switch (sn_incidents_get_json(inc, rq->params[0], &b, &err)) {
    case SN_OK:
        sn_buf_putc(&b, '\n');
        sn_reply_json(rq, 200, &b);
        break;
    case SN_DECLINED:
        /* Another instance's incident: the configured report source (a
         * store the fleet shares) may hold it (docs/reports.md). */
        if (!sn_api_incident_from_source(rq))
            sn_reply_error(rq, 404, "not_found", "no incident with id %s",
                           rq->params[0]);
        break;
    default:
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    }
    sn_buf_fini(&b);
}

/* Validate the action body strictly; on error a reply was sent. */
static bool
parse_action_body(struct sn_req *rq, enum sn_incident_action act,
                  struct json_object **root, const char **reason,
                  const char **owner)
{
    struct sn_buf body;
    struct json_tokener *tok;
    struct json_object *o;
    size_t end;

    *root = NULL;
    *reason = *owner = NULL;
    sn_buf_init(&body, rq->h->conf.max_body + 1);
    if (sn_req_body(rq, &body) != SN_OK) {
        sn_buf_fini(&body);
        sn_reply_error(rq, 413, "body_too_large",
                       "the body exceeds http.max_body");
        return false;
    }
    tok = json_tokener_new_ex(8);
    o = tok ? json_tokener_parse_ex(tok, body.data ? body.data : "",
                                    (int)body.len)
            : NULL;
    end = tok ? json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    /* Trailing whitespace is fine; anything else after the value is not. */
    while (o && end < body.len && strchr(" \t\r\n", body.data[end]))
        end++;
    if (o == NULL || end != body.len) {
        json_object_put(o);
        sn_buf_fini(&body);
        sn_reply_error(rq, 400, "bad_json",
                       "the body must be one JSON object, e.g. "
                       "{\"reason\": \"...\"}");
        return false;
    }
    sn_buf_fini(&body);
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        sn_reply_error(rq, 400, "wrong_type", "the body must be a JSON object");
        return false;
    }
    json_object_object_foreach(o, key, val)
    {
        bool is_reason = strcmp(key, "reason") == 0;
        bool is_owner = strcmp(key, "owner") == 0;

        if (!is_reason && !is_owner) {
            sn_reply_error(rq, 400, "unknown_field",
                           "unknown field '%s' (expected reason%s)", key,
                           act == SN_ACT_ASSIGN ? " and owner" : "");
            json_object_put(o);
            return false;
        }
        if (is_owner && act != SN_ACT_ASSIGN) {
            sn_reply_error(rq, 400, "unknown_field",
                           "field 'owner' belongs to assign, not %s",
                           sn_incident_action_name(act));
            json_object_put(o);
            return false;
        }
        if (!json_object_is_type(val, json_type_string)) {
            sn_reply_error(rq, 400, "wrong_type", "field '%s' must be a string",
                           key);
            json_object_put(o);
            return false;
        }
        /* "al\u0000ice" would be stored, shown and audited as "al". */
        if ((size_t)json_object_get_string_len(val) !=
            strlen(json_object_get_string(val))) {
            sn_reply_error(rq, 400, "bad_value",
                           "field '%s' holds a NUL character (\\u0000)", key);
            json_object_put(o);
            return false;
        }
        if (is_reason)
            *reason = json_object_get_string(val);
        else
            *owner = json_object_get_string(val);
    }
    if (*reason == NULL || (*reason)[0] == '\0') {
        sn_reply_error(rq, 400, "missing_field",
                       "every action needs a non-empty 'reason'");
        json_object_put(o);
        return false;
    }
    if (act == SN_ACT_ASSIGN && (*owner == NULL || (*owner)[0] == '\0')) {
        sn_reply_error(rq, 400, "missing_field",
                       "assign needs a non-empty 'owner'");
        json_object_put(o);
        return false;
    }
    if (strlen(*reason) > SN_INCIDENT_REASON_MAX ||
        (*owner != NULL && strlen(*owner) > SN_INCIDENT_OWNER_MAX)) {
        sn_reply_error(rq, 400, "too_long",
                       "reason is limited to %d bytes, owner to %d", SN_INCIDENT_REASON_MAX,
                       SN_INCIDENT_OWNER_MAX);
        json_object_put(o);
        return false;
    }
    *root = o;
    return true;
}

void
sn_api_incidents_action(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    int act = sn_incident_action_parse(rq->params[1]);
    struct json_object *root;
    struct sn_incident_change ch;
    struct sn_incidents *inc;
    struct sn_buf b;
    struct sn_error err;
    const char *reason, *owner;
    enum sn_status rc;

    if (act < 0) {
        sn_reply_error(rq, 404, "unknown_action",
                       "unknown action '%s' (acknowledge, assign, comment, "
                       "resolve, reopen, suppress, approve, reject)",
                       rq->params[1]);
        return;
    }
    if ((act == SN_ACT_APPROVE || act == SN_ACT_REJECT) &&
        h->conf.approve_role == 1 && rq->role < SN_ROLE_ADMIN) {
        sn_reply_error(rq, 403, "forbidden",
                       "%s needs role admin here (http.approve_role); %s has "
                       "role %s",
                       rq->params[1], rq->actor, sn_role_name(rq->role));
        sn_http_audit(rq, rq->params[1], rq->params[0], "denied",
                      "needs role admin (http.approve_role)");
        return;
    }
    if (!parse_action_body(rq, (enum sn_incident_action)act, &root, &reason,
                           &owner))
        return;
    if ((inc = sn_http_incidents(rq)) == NULL) {
        json_object_put(root);
        return;
    }
    memset(&ch, 0, sizeof(ch));
    ch.action = (enum sn_incident_action)act;
    ch.actor = rq->actor;
    ch.reason = reason;
    ch.arg = owner;
    ch.correlation_id = rq->cid;
    ch.forbid_self_approval = h->env.four_eyes;
    sn_buf_init(&b, 64u << 20);
    sn_error_clear(&err);
    rc = sn_incidents_change(inc, rq->params[0], &ch, &b, &err);
    json_object_put(root);
    switch (rc) {
    case SN_OK:
        sn_req_log(rq, SN_LOG_INFO, "incident %s: %s by %s", rq->params[0],
                   rq->params[1], rq->actor);
        sn_buf_putc(&b, '\n');
        sn_reply_json(rq, 200, &b);
        /* Clients see the change at once, not at the next poll. */
        sn_stream_poll(h);
        break;
    case SN_DECLINED:
        sn_reply_error(rq, 404, "not_found", "no incident with id %s",
                       rq->params[0]);
        break;
    case SN_EINVAL:
        sn_reply_error(rq, 409, "conflict", "%s", err.msg);
        break;
    default:
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    }
    sn_buf_fini(&b);
}
