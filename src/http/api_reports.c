/*
 * GET /api/v1/reports (incident analytics over a period) and GET
 * /api/v1/incidents/{id}/report (one incident's post-incident review,
 * Markdown or JSON, as a download). This file owns the HTTP contract:
 * strict parameters (400 bad_query naming the parameter and what it
 * accepts; counted in sentineld_http_errors_total{class="4xx"}); the
 * arithmetic is incident/report.c, the review incident/review.c.
 * docs/reports.md.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/time_parse.h"
#include "http/http_int.h"
#include "incident/incidents.h"
#include "incident/report.h"
#include "incident/review.h"
#include "incident/store.h"

/* Without since: the 30 days before until. */
#define DEFAULT_SPAN_NS (30LL * 86400 * SN_NS_PER_SEC)

/* Only the listed keys; false (a 400 was sent) otherwise. */
static bool
known_keys(struct sn_req *rq, const char *const *keys, const char *list)
{
    sn_req_query(rq, ""); /* parses the query */
    for (struct evkeyval *kv = rq->query.tqh_first; kv;
         kv = kv->next.tqe_next) {
        bool ok = false;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = strcmp(kv->key, *k) == 0;
        if (!ok) {
            sn_reply_error(rq, 400, "bad_query",
                           "unknown query parameter '%s' (known: %s)", kv->key,
                           list);
            return false;
        }
    }
    return true;
}

static bool
time_param(struct sn_req *rq, const char *key, int64_t *out)
{
    const char *v = sn_req_query(rq, key);

    if (v == NULL)
        return true;
    if (!sn_time_parse(v, out)) {
        sn_reply_error(rq, 400, "bad_query",
                       "%s '%s': expected RFC 3339 (2026-01-02T03:04:05Z) or "
                       "nanoseconds since the epoch",
                       key, v);
        return false;
    }
    return true;
}

void
sn_api_reports(struct sn_req *rq)
{
    static const char *const keys[] = { "since", "until", "group", NULL };
    struct sn_report_query q = { 0 };
    struct sn_report_life *v = NULL;
    struct sn_incidents *inc;
    struct sn_error err;
    struct sn_buf b;
    const char *g;
    char t1[40], t2[40];
    size_t n = 0;
    enum sn_status rc;

    if (!known_keys(rq, keys, "since, until, group"))
        return;
    q.until_ns = sn_clock_wall_ns();
    q.since_ns = 0;
    if (!time_param(rq, "until", &q.until_ns))
        return;
    q.since_ns = q.until_ns - DEFAULT_SPAN_NS;
    if (!time_param(rq, "since", &q.since_ns))
        return;
    if (q.since_ns >= q.until_ns) {
        sn_time_rfc3339(q.since_ns, t1);
        sn_time_rfc3339(q.until_ns, t2);
        sn_reply_error(rq, 400, "bad_query",
                       "since (%s) must be before until (%s)", t1, t2);
        return;
    }
    if (q.until_ns - q.since_ns > SN_REPORT_MAX_SPAN_NS) {
        sn_reply_error(rq, 400, "bad_query",
                       "since to until spans more than 366 days; report on "
                       "a shorter period");
        return;
    }
    if ((g = sn_req_query(rq, "group")) != NULL) {
        if (strcmp(g, "week") != 0 && strcmp(g, "day") != 0) {
            sn_reply_error(rq, 400, "bad_query",
                           "group '%s': expected day or week", g);
            return;
        }
        q.weekly = strcmp(g, "week") == 0;
    }
    if ((inc = sn_http_incidents(rq)) == NULL)
        return;
    sn_error_clear(&err);
    rc = sn_report_load_sqlite(sn_store_db(sn_incidents_store(inc)), &q, &v, &n,
                               &err);
    if (rc == SN_ELIMIT) {
        sn_reply_error(rq, 400, "bad_query", "%s", err.msg);
        return;
    }
    if (rc != SN_OK) {
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
        return;
    }
    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    rc = sn_report_json(&q, v, n, &b);
    sn_report_lives_free(v, n);
    if (rc == SN_OK && sn_buf_putc(&b, '\n') == SN_OK)
        sn_reply_json(rq, 200, &b);
    else
        sn_reply_error(rq, 500, "report_error",
                       "the report does not fit in %u bytes", SN_HTTP_REPORT_MAX);
    sn_buf_fini(&b);
}

void
sn_api_incident_report(struct sn_req *rq)
{
    static const char *const keys[] = { "format", NULL };
    enum sn_review_format fmt = SN_REVIEW_MD;
    struct sn_incidents *inc;
    struct sn_error err;
    struct sn_buf b;
    const char *f;
    char disp[128];
    enum sn_status rc;

    if (!known_keys(rq, keys, "format"))
        return;
    if ((f = sn_req_query(rq, "format")) != NULL &&
        !sn_review_format_parse(f, &fmt)) {
        sn_reply_error(rq, 400, "bad_query", "format '%s': expected md or json",
                       f);
        return;
    }
    if ((inc = sn_http_incidents(rq)) == NULL)
        return;
    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    sn_error_clear(&err);
    rc = sn_review_render(inc, rq->params[0], fmt, &b, &err);
    if (rc == SN_DECLINED) {
        sn_reply_error(rq, 404, "not_found", "no incident with id %s",
                       rq->params[0]);
    } else if (rc != SN_OK) {
        sn_reply_error(rq, 500, "store_error", "%s", err.msg);
    } else {
        /* A download named after the incident: the id is a UUID the
         * store knew, so it is safe in the header. */
        snprintf(disp, sizeof(disp),
                 "attachment; filename=\"incident-%.36s.%s\"", rq->params[0],
                 fmt == SN_REVIEW_MD ? "md" : "json");
        evhttp_add_header(evhttp_request_get_output_headers(rq->r),
                          "Content-Disposition", disp);
        sn_reply(rq, 200,
                 fmt == SN_REVIEW_MD ? "text/markdown; charset=utf-8"
                                     : "application/json",
                 b.data ? b.data : "", b.len);
    }
    sn_buf_fini(&b);
}
