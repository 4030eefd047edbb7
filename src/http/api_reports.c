/*
 * GET /api/v1/reports (incident analytics over a period) and GET
 * /api/v1/incidents/{id}/report (one incident's post-incident review,
 * Markdown or JSON, as a download), and what else a report source
 * answers: another instance's incident, the fleet's incident list
 * (api_incidents.c asks). This file owns the HTTP contract:
 * strict parameters (400 bad_query naming the parameter and what it
 * accepts; counted in sentineld_http_errors_total{class="4xx"}); the
 * arithmetic is incident/report.c, the review incident/review.c.
 * docs/reports.md.
 */
#include <ctype.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time_parse.h"
#include "http/http_int.h"
#include "incident/incidents.h"
#include "incident/report.h"
#include "incident/review.h"
#include "incident/store.h"
#include "pipeline/pipeline.h"

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

/* source=local: this instance's own store even when a plugin is
 * configured as the report source (docs/reports.md). *local: NULL for the
 * configured source, else "local"; false (a 400 was sent) otherwise. */
static bool
source_param(struct sn_req *rq, const char **local)
{
    const char *src = sn_req_query(rq, "source");

    *local = NULL;
    if (src == NULL || strcmp(src, "configured") == 0)
        return true;
    if (strcmp(src, "local") != 0) {
        sn_reply_error(rq, 400, "bad_query",
                       "source '%s': expected configured or local", src);
        return false;
    }
    *local = src;
    return true;
}

/* --- a report another store answers (report_load) ------------------------
 *
 * The source answers on its own thread; the control thread never waits.
 * One `pending` per request, shared by two owners under its mutex: the
 * source (until done() ran) and the HTTP side (until it replied or let
 * go). done() copies the rows and wakes the control thread through the
 * pending's event, which is also the deadline's timer; the event is freed
 * by the HTTP side under the mutex, so a late done() never touches it.
 * A client that leaves meanwhile is seen by a read watch on its socket
 * (evhttp 2.1 reads nothing while a request is being answered): at its
 * EOF the connection is closed and the source asked to stop
 * (load_cancel), so a slow query stops when nobody waits for it.
 */

/* What a pending request asks its source for. */
enum pending_kind {
    PENDING_REPORT,   /* report_load: GET /api/v1/reports */
    PENDING_REVIEW,   /* review_load: GET /api/v1/incidents/{id}/report */
    PENDING_INCIDENT, /* review_load: GET /api/v1/incidents/{id} */
    PENDING_LIST,     /* list_load: GET /api/v1/incidents?source=configured */
};

struct sn_report_pending {
    pthread_mutex_t mu;
    int refs;                 /* source + HTTP side */
    struct sn_http *h;        /* NULL once the HTTP side let go */
    struct evhttp_request *r; /* NULL: the client left */
    struct event *ev;         /* wake-up and deadline */
    struct event *watch;      /* the client's socket: did it leave? */
    struct sn_instance *src;  /* the source (valid until answered) */
    struct sn_report_query q;
    char cid[65], path[512], inst[128];
    bool answered;
    enum sn_status rc;
    struct sn_report_life *v;
    size_t n;
    /* A review, incident or list rather than a report: its format, the
     * incident, and the source's document and what it lacks. */
    enum pending_kind kind;
    enum sn_review_format fmt;
    int64_t timeout_ms; /* the deadline, for its 504 */
    char id[40];
    char *doc, *lacks;
    char err[512];
    struct sn_report_pending *prev, *next; /* h->reports */
};

static void
pending_unref(struct sn_report_pending *p)
{
    bool last;

    pthread_mutex_lock(&p->mu);
    last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last)
        return;
    sn_report_lives_free(p->v, p->n);
    free(p->doc);
    free(p->lacks);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Copy the borrowed rows (on the source's thread). */
static enum sn_status
copy_rows(const struct sn_report_row *v, size_t n, struct sn_report_life **out)
{
    struct sn_report_life *c = calloc(n ? n : 1, sizeof(*c));

    *out = c;
    if (c == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i].rule_id = strdup(v[i].rule_id ? v[i].rule_id : "");
        c[i].severity = strdup(v[i].severity ? v[i].severity : "");
        c[i].owner = v[i].owner ? strdup(v[i].owner) : NULL;
        c[i].source = strdup(v[i].source ? v[i].source : "{}");
        c[i].opened_at = v[i].opened_at;
        c[i].acked_at = v[i].acked_at;
        c[i].resolved_at = v[i].resolved_at;
        c[i].auto_resolved = v[i].auto_resolved;
        c[i].suppressed = v[i].suppressed;
        if (c[i].rule_id == NULL || c[i].severity == NULL ||
            c[i].source == NULL || (v[i].owner && c[i].owner == NULL)) {
            sn_report_lives_free(c, n);
            *out = NULL;
            return SN_ENOMEM;
        }
    }
    return SN_OK;
}

/* sn_report_done_fn: any thread, exactly once. */
static void
report_done(void *arg, enum sn_status rc, const struct sn_report_row *v,
            size_t n, const char *err)
{
    struct sn_report_pending *p = arg;
    struct sn_report_life *c = NULL;

    if (rc == SN_OK && copy_rows(v, n, &c) != SN_OK) {
        rc = SN_ENOMEM;
        err = "out of memory copying the report's incidents";
        n = 0;
    }
    pthread_mutex_lock(&p->mu);
    p->answered = true;
    p->rc = rc;
    p->v = c;
    p->n = rc == SN_OK ? n : 0;
    snprintf(p->err, sizeof(p->err), "%s", err ? err : sn_status_str(rc));
    if (p->ev != NULL)
        event_active(p->ev, EV_READ, 0);
    pthread_mutex_unlock(&p->mu);
    pending_unref(p);
}

/* sn_review_done_fn: any thread, exactly once. */
static void
review_done(void *arg, enum sn_status rc, const char *doc, const char *lacks,
            const char *err)
{
    struct sn_report_pending *p = arg;
    char *d = NULL, *l = NULL;

    if (rc == SN_OK && ((d = strdup(doc ? doc : "")) == NULL ||
                        (lacks && (l = strdup(lacks)) == NULL))) {
        free(d);
        d = NULL;
        rc = SN_ENOMEM;
        err = "out of memory copying the incident's document";
    }
    pthread_mutex_lock(&p->mu);
    p->answered = true;
    p->rc = rc;
    p->doc = d;
    p->lacks = l;
    snprintf(p->err, sizeof(p->err), "%s", err ? err : sn_status_str(rc));
    if (p->ev != NULL)
        event_active(p->ev, EV_READ, 0);
    pthread_mutex_unlock(&p->mu);
    pending_unref(p);
}

/* sn_list_done_fn: any thread, exactly once. */
static void
list_done(void *arg, enum sn_status rc, const char *doc, const char *err)
{
    review_done(arg, rc, doc, NULL, err);
}

/* The HTTP side lets go (control thread): no reply after this. */
static void
pending_release(struct sn_report_pending *p)
{
    struct evhttp_connection *evcon;

    if (p->r != NULL && (evcon = evhttp_request_get_connection(p->r)) != NULL)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (p->prev != NULL)
        p->prev->next = p->next;
    else if (p->h != NULL)
        p->h->reports = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    if (p->watch != NULL)
        event_free(p->watch);
    p->watch = NULL;
    pthread_mutex_lock(&p->mu);
    event_free(p->ev);
    p->ev = NULL;
    p->h = NULL;
    pthread_mutex_unlock(&p->mu);
    pending_unref(p);
}

/* The client's connection is going away before the answer: libevent
 * frees a request still on the connection; one it detached (the peer
 * closed, EOF) is ours to free. libevent 2.1 does not read a connection
 * while its request is being answered, so a client that merely left is
 * usually seen only when the answer is written; this covers the rest. */
/* The client is gone (control thread): the source is asked to stop
 * what it does for it, unless it answered already (the source may be
 * stopped and freed since: a reload answers everything first). */
static void
client_gone(struct sn_report_pending *p, const char *how)
{
    bool answered;

    if (p->watch != NULL)
        event_free(p->watch); /* its descriptor is being closed */
    p->watch = NULL;
    pthread_mutex_lock(&p->mu);
    answered = p->answered;
    pthread_mutex_unlock(&p->mu);
    if (p->h != NULL)
        sn_counter_add(p->h->c_report_abandoned, 1);
    sn_log_info("http [cid=%s]: the client %s before the answer from '%s' "
                "was ready; %s",
                p->cid, how, p->inst,
                answered || p->src->p->load_cancel == NULL
                    ? "its answer will be dropped"
                    : "asked it to stop");
    if (!answered && p->src->p->load_cancel != NULL)
        p->src->p->load_cancel(p->src->state, p);
}

static void
report_client_closed(struct evhttp_connection *evcon, void *arg)
{
    struct sn_report_pending *p = arg;

    (void)evcon;
    if (p->r != NULL && evhttp_request_get_connection(p->r) == NULL)
        evhttp_request_free(p->r);
    p->r = NULL;
    client_gone(p, "connection closed");
}

/* The client's socket is readable while its answer is pending: EOF or
 * an error means it left (or shut its sending side, which HTTP clients
 * waiting for an answer do not do): close the connection and stop the
 * source's work. Bytes (a pipelined request, TLS records such as
 * close_notify) say nothing either way: the watch ends, and the answer's
 * write finds out. */
static void
report_client_readable(evutil_socket_t fd, short what, void *arg)
{
    struct sn_report_pending *p = arg;
    struct evhttp_connection *evcon;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        event_add(p->watch, NULL);
        return;
    }
    if (n > 0 || p->r == NULL ||
        (evcon = evhttp_request_get_connection(p->r)) == NULL) {
        event_free(p->watch);
        p->watch = NULL;
        return;
    }
    client_gone(p, "left");
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    p->r = NULL;
    evhttp_connection_free(evcon); /* and the request on it */
    pending_release(p);
}

static void
report_reply(struct sn_req *rq, const struct sn_report_query *q,
             const struct sn_report_life *v, size_t n)
{
    struct sn_buf b;
    enum sn_status rc;

    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    rc = sn_report_json(q, v, n, &b);
    if (rc == SN_OK && sn_buf_putc(&b, '\n') == SN_OK)
        sn_reply_json(rq, 200, &b);
    else
        sn_reply_error(rq, 500, "report_error",
                       "the report does not fit in %u bytes",
                       SN_HTTP_REPORT_MAX);
    sn_buf_fini(&b);
}

static void review_reply(struct sn_req *rq, const char *id,
                         enum sn_review_format fmt, enum sn_status rc,
                         struct sn_buf *b, const char *why);

/* The review from this instance's store (control thread). */
static void
review_local(struct sn_req *rq, const char *id, enum sn_review_format fmt)
{
    struct sn_incidents *inc;
    struct sn_error err;
    struct sn_buf b;
    enum sn_status rc;

    if ((inc = sn_http_incidents(rq)) == NULL)
        return;
    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    sn_error_clear(&err);
    rc = sn_review_render(inc, id, fmt, &b, &err);
    review_reply(rq, id, fmt, rc, &b, err.msg);
    sn_buf_fini(&b);
}

/* The review from the source's document (control thread). */
static void
review_from_doc(struct sn_req *rq, struct sn_report_pending *p)
{
    struct sn_error err;
    struct sn_buf b;
    enum sn_status rc;

    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    sn_error_clear(&err);
    rc = sn_review_render_doc(p->id, p->doc, p->lacks, p->fmt, &b, &err);
    review_reply(rq, p->id, p->fmt, rc, &b, err.msg);
    sn_buf_fini(&b);
}

/* The incident's document from the source, as GET /api/v1/incidents/{id}
 * answers it, with what that store lacks and who answered (control
 * thread). */
static void
incident_from_doc(struct sn_req *rq, struct sn_report_pending *p)
{
    struct json_object *o = json_tokener_parse(p->doc ? p->doc : "");
    struct sn_buf b;

    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        sn_reply_error(rq, 502, "report_source_invalid",
                       "report source '%s' answered incident %s with no JSON "
                       "object",
                       p->inst, p->id);
        return;
    }
    if (!json_object_object_get_ex(o, "type", NULL))
        json_object_object_add(o, "type", json_object_new_string("incident"));
    json_object_object_add(o, "read_from", json_object_new_string(p->inst));
    json_object_object_add(o, "not_recorded",
                           p->lacks ? json_object_new_string(p->lacks)
                                    : NULL);
    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    if (sn_buf_puts(&b, json_object_to_json_string_ext(
                            o, JSON_C_TO_STRING_PLAIN |
                                   JSON_C_TO_STRING_NOSLASHESCAPE)) == SN_OK &&
        sn_buf_putc(&b, '\n') == SN_OK)
        sn_reply_json(rq, 200, &b);
    else
        sn_reply_error(rq, 500, "report_error",
                       "incident %s does not fit in %u bytes", p->id,
                       SN_HTTP_REPORT_MAX);
    sn_buf_fini(&b);
    json_object_put(o);
}

/* The source's page of the list, as GET /api/v1/incidents answers, with
 * who answered (control thread). */
static void
list_from_doc(struct sn_req *rq, struct sn_report_pending *p)
{
    const char *d = p->doc ? p->doc : "";
    size_t n = strlen(d);
    struct sn_buf b;

    if (n < 2 || d[0] != '{' || d[n - 1] != '}') {
        sn_reply_error(rq, 502, "report_source_invalid",
                       "report source '%s' answered the incident list with "
                       "no JSON object",
                       p->inst);
        return;
    }
    sn_buf_init(&b, SN_HTTP_REPORT_MAX);
    if (SN_BUF_LIT(&b, "{\"read_from\":") == SN_OK &&
        sn_json_str(&b, p->inst, strlen(p->inst)) == SN_OK &&
        (n == 2 || sn_buf_putc(&b, ',') == SN_OK) &&
        sn_buf_append(&b, d + 1, n - 1) == SN_OK &&
        sn_buf_putc(&b, '\n') == SN_OK)
        sn_reply_json(rq, 200, &b);
    else
        sn_reply_error(rq, 500, "report_error",
                       "the incident list does not fit in %u bytes",
                       SN_HTTP_REPORT_MAX);
    sn_buf_fini(&b);
}

/* The source answered, or the deadline passed (control thread). */
static void
report_wake(evutil_socket_t fd, short what, void *arg)
{
    struct sn_report_pending *p = arg;
    struct sn_req rq;
    bool answered;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&p->mu);
    answered = p->answered;
    pthread_mutex_unlock(&p->mu);
    if (p->r == NULL) {
        pending_release(p);
        return;
    }
    memset(&rq, 0, sizeof(rq));
    rq.h = p->h;
    rq.r = p->r;
    rq.method = "GET";
    memcpy(rq.cid, p->cid, sizeof(rq.cid));
    memcpy(rq.path, p->path, sizeof(rq.path));
    /* No reply may reach the connection's close callback. */
    if (evhttp_request_get_connection(p->r) != NULL)
        evhttp_connection_set_closecb(evhttp_request_get_connection(p->r), NULL,
                                      NULL);
    if (!answered) {
        sn_counter_add(p->h->c_report_timeouts, 1);
        sn_reply_error(&rq, 504, "report_timeout",
                       "report source '%s' did not answer within %lld ms "
                       "(http.report_timeout)",
                       p->inst, (long long)p->timeout_ms);
        /* Nobody reads a later answer: the source may stop (it is
         * alive: a reload, on this thread, answers everything first). */
        if (p->src->p->load_cancel != NULL)
            p->src->p->load_cancel(p->src->state, p);
    } else if (p->kind == PENDING_REVIEW && p->rc == SN_DECLINED)
        review_local(&rq, p->id, p->fmt);
    else if (p->kind == PENDING_INCIDENT && p->rc == SN_DECLINED)
        sn_reply_error(&rq, 404, "not_found",
                       "no incident with id %s (neither in this store nor "
                       "in report source '%s')",
                       p->id, p->inst);
    else if (p->rc == SN_ELIMIT)
        sn_reply_error(&rq, 400, "bad_query", "%s", p->err);
    else if (p->rc != SN_OK)
        sn_reply_error(&rq, 503, "report_source_unavailable",
                       "report source '%s': %s", p->inst, p->err);
    else if (p->kind == PENDING_REVIEW)
        review_from_doc(&rq, p);
    else if (p->kind == PENDING_INCIDENT)
        incident_from_doc(&rq, p);
    else if (p->kind == PENDING_LIST)
        list_from_doc(&rq, p);
    else
        report_reply(&rq, &p->q, p->v, p->n);
    p->r = NULL;
    pending_release(p);
}

void
sn_http_reports_drop(struct sn_http *h)
{
    while (h->reports != NULL)
        pending_release(h->reports);
}

/* Whether instance in answers kind. */
static bool
answers(const struct sn_instance *in, enum pending_kind kind)
{
    if (!in->started || in->p == NULL)
        return false;
    switch (kind) {
    case PENDING_REPORT:
        return in->p->report_load != NULL;
    case PENDING_LIST:
        return in->p->list_load != NULL;
    default:
        return in->p->review_load != NULL;
    }
}

/* Ask the running pipeline's report source, if one is configured:
 * true when it took the request (answered later, or now on an error).
 * By kind: q a report; rq->params[0]'s review in format fmt, or its
 * document; lq a page of the list. */
static bool
report_deferred(struct sn_req *rq, const struct sn_report_query *q,
                const struct sn_list_query *lq, enum pending_kind kind,
                enum sn_review_format fmt)
{
    struct sn_pipeline *pl = *rq->h->env.pl;
    struct evhttp_connection *evcon = evhttp_request_get_connection(rq->r);
    struct sn_report_pending *p;
    /* A conf not from the option table (tests) may leave it 0. */
    int64_t ms = rq->h->conf.report_timeout_ms > 0
                     ? rq->h->conf.report_timeout_ms
                     : 60000;
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

    for (size_t i = 0; pl != NULL && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        enum sn_status rc;

        if (!answers(in, kind))
            continue;
        if ((p = calloc(1, sizeof(*p))) == NULL ||
            pthread_mutex_init(&p->mu, NULL) != 0) {
            free(p);
            sn_reply_error(rq, 500, "internal", "out of memory");
            return true;
        }
        p->refs = 2;
        p->h = rq->h;
        p->r = rq->r;
        if (q != NULL)
            p->q = *q;
        p->kind = kind;
        p->fmt = fmt;
        p->timeout_ms = ms;
        if (kind == PENDING_REVIEW || kind == PENDING_INCIDENT)
            snprintf(p->id, sizeof(p->id), "%.36s", rq->params[0]);
        memcpy(p->cid, rq->cid, sizeof(p->cid));
        memcpy(p->path, rq->path, sizeof(p->path));
        snprintf(p->inst, sizeof(p->inst), "%s", in->name);
        p->src = in;
        p->ev = event_new(rq->h->base, -1, 0, report_wake, p);
        if (p->ev == NULL) {
            pthread_mutex_destroy(&p->mu);
            free(p);
            sn_reply_error(rq, 500, "internal", "out of memory");
            return true;
        }
        if (kind == PENDING_REPORT)
            rc = in->p->report_load(in->state, q->since_ns, q->until_ns,
                                    q->max, report_done, p);
        else if (kind == PENDING_LIST)
            rc = in->p->list_load(in->state, lq, list_done, p);
        else
            rc = in->p->review_load(in->state, p->id, review_done, p);
        if (rc != SN_OK) {
            event_free(p->ev);
            pthread_mutex_destroy(&p->mu);
            free(p);
            if (rc == SN_DECLINED)
                continue;
            sn_reply_error(rq, 503, "report_source_unavailable",
                           "report source '%s': %s", in->name,
                           sn_status_str(rc));
            return true;
        }
        p->next = rq->h->reports;
        if (p->next != NULL)
            p->next->prev = p;
        rq->h->reports = p;
        if (evcon != NULL) {
            struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
            evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

            evhttp_connection_set_closecb(evcon, report_client_closed, p);
            if (fd >= 0 &&
                (p->watch = event_new(rq->h->base, fd, EV_READ,
                                      report_client_readable, p)) != NULL)
                event_add(p->watch, NULL);
        }
        event_add(p->ev, &tv);
        rq->replied = true; /* answered by report_wake */
        sn_req_log(rq, SN_LOG_DEBUG, "%s from %s's store",
                   kind == PENDING_REPORT ? "report"
                   : kind == PENDING_LIST ? "incident list"
                                          : "review",
                   in->name);
        return true;
    }
    return false;
}

void
sn_api_reports(struct sn_req *rq)
{
    static const char *const keys[] = { "since", "until", "group", "source",
                                        NULL };
    struct sn_report_query q = { 0 };
    struct sn_report_life *v = NULL;
    struct sn_incidents *inc;
    struct sn_error err;
    const char *g, *src;
    char t1[40], t2[40];
    size_t n = 0;
    enum sn_status rc;

    if (!known_keys(rq, keys, "since, until, group, source"))
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
    if (!source_param(rq, &src))
        return;
    q.max = rq->h->conf.report_max_incidents > 0
                ? (size_t)rq->h->conf.report_max_incidents
                : SN_REPORT_MAX_INCIDENTS;
    if (src == NULL &&
        report_deferred(rq, &q, NULL, PENDING_REPORT, SN_REVIEW_MD))
        return;
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
    report_reply(rq, &q, v, n);
    sn_report_lives_free(v, n);
}

/* 8-4-4-4-12 hex digits: the only ids a report source is asked for
 * (anything else is no incident anywhere; the local store says 404). */
static bool
uuid_shaped(const char *id)
{
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? id[i] != '-' : !isxdigit((unsigned char)id[i]))
            return false;
    }
    return id[36] == '\0';
}

/* Answer a rendered review: the download, or the error rc says. */
static void
review_reply(struct sn_req *rq, const char *id, enum sn_review_format fmt,
             enum sn_status rc, struct sn_buf *b, const char *why)
{
    char disp[128];

    if (rc == SN_DECLINED) {
        sn_reply_error(rq, 404, "not_found", "no incident with id %s", id);
    } else if (rc != SN_OK) {
        sn_reply_error(rq, 500, "store_error", "%s", why);
    } else {
        /* A download named after the incident: the id is a UUID the
         * store knew, so it is safe in the header. */
        snprintf(disp, sizeof(disp),
                 "attachment; filename=\"incident-%.36s.%s\"", id,
                 fmt == SN_REVIEW_MD ? "md" : "json");
        evhttp_add_header(evhttp_request_get_output_headers(rq->r),
                          "Content-Disposition", disp);
        sn_reply(rq, 200,
                 fmt == SN_REVIEW_MD ? "text/markdown; charset=utf-8"
                                     : "application/json",
                 b->data ? b->data : "", b->len);
    }
}

void
sn_api_incident_report(struct sn_req *rq)
{
    static const char *const keys[] = { "format", "source", NULL };
    enum sn_review_format fmt = SN_REVIEW_MD;
    const char *f, *src;

    if (!known_keys(rq, keys, "format, source"))
        return;
    if ((f = sn_req_query(rq, "format")) != NULL &&
        !sn_review_format_parse(f, &fmt)) {
        sn_reply_error(rq, 400, "bad_query", "format '%s': expected md or json",
                       f);
        return;
    }
    if (!source_param(rq, &src))
        return;
    /* The report source (a plugin's shared store) holds the whole
     * fleet's incidents, also those another instance opened; one it does
     * not hold yet (the relay is behind) comes from this store. */
    if (src == NULL && uuid_shaped(rq->params[0]) &&
        report_deferred(rq, NULL, NULL, PENDING_REVIEW, fmt))
        return;
    review_local(rq, rq->params[0], fmt);
}

bool
sn_api_incident_from_source(struct sn_req *rq)
{
    return uuid_shaped(rq->params[0]) &&
           report_deferred(rq, NULL, NULL, PENDING_INCIDENT, SN_REVIEW_JSON);
}

bool
sn_api_incidents_list_from_source(struct sn_req *rq,
                                  const struct sn_list_query *lq)
{
    return report_deferred(rq, NULL, lq, PENDING_LIST, SN_REVIEW_JSON);
}
