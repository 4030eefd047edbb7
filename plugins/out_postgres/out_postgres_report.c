/*
 * out_postgres as the report source (option `reports: true`): GET
 * /api/v1/reports, reviews, another instance's incident and the fleet's
 * incident list answered from the shared tables, for a fleet whose
 * incidents all land in one PostgreSQL. report_load() only queues (it is
 * called on the control thread); a thread of its own runs the query on
 * its own connection, so reports and the writer never wait on each
 * other, and hands the rows to the core's done() callback. stop()
 * answers what is queued, cancels what runs, and joins.
 * docs/reports.md ("Which store"), docs/out_postgres.md.
 */
#include "out_postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reports waiting for the thread; more are refused (503), since each is
 * a whole-period scan. */
#define QUEUE_MAX 8

struct opg_report_req {
    int64_t since_ns, until_ns;
    size_t max;
    sn_report_done_fn done;
    sn_review_done_fn review_done; /* a review of id rather than a report */
    sn_list_done_fn list_done;     /* a page of the list (list below) */
    char id[40];
    struct {
        char status[16], cursor_id[40];
        int min_severity;
        const char *rule_id, *text; /* NULL, or after the struct */
        int64_t since_ns, until_ns, cursor_seen_ns;
        unsigned limit;
    } list;
    void *arg;
    struct opg_report_req *next;
};

struct opg_reports {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct opg_report_req *head, *tail;
    size_t n;
    bool stopping;
    bool running; /* the thread was created (join it) */
    pthread_t th;
    PGcancel *cancel; /* of the thread's connection, while connected */
    PGconn *conn;     /* the thread's own */
    /* load_cancel() of the request being run: running_arg is its done()
     * argument; cancel_running asks the thread (woken through wake[1])
     * to cancel its query, which it does itself (exec_params), since
     * PQcancel blocks and load_cancel() runs on the control thread. */
    void *running_arg;
    bool cancel_running;
    int wake[2];
    struct pg_notice_log notices;
};

/* One row per incident opened in [$1, $2) (µs since the epoch): the
 * first acknowledgement, the first resolution (by time, then version)
 * and who made it, from incident_audit (out_postgres_write.c writes the
 * outbox's "change" of every version there), aggregated in one pass over
 * those incidents' rows rather than looked up per incident. Times come
 * back as µs since the epoch. The group key is rebuilt as compact JSON
 * ({"k":"v"}), the text the embedded store holds, so top sources read
 * and tie-break the same; jsonb orders the keys of a multi-key group key
 * by length, then bytes. */
static const char REPORT_SQL[] =
    "WITH i AS MATERIALIZED ("
    "  SELECT id, rule_id, severity, owner, group_key, created_at, status"
    "  FROM incidents"
    "  WHERE created_at >= timestamptz 'epoch' + $1::bigint * interval "
    "'1 microsecond'"
    "  AND created_at < timestamptz 'epoch' + $2::bigint * interval "
    "'1 microsecond'"
    "  LIMIT $3::bigint"
    "), a AS ("
    "  SELECT incident_id,"
    "   min(changed_at) FILTER (WHERE action = 'acknowledge') AS acked,"
    "   (array_agg(changed_at ORDER BY changed_at, version)"
    "     FILTER (WHERE action <> 'acknowledge'))[1] AS resolved,"
    "   (array_agg(actor ORDER BY changed_at, version)"
    "     FILTER (WHERE action <> 'acknowledge'))[1] AS resolved_by"
    "  FROM incident_audit"
    "  WHERE incident_id IN (SELECT id FROM i)"
    "  AND action IN ('acknowledge', 'resolve', 'auto-resolve')"
    "  GROUP BY incident_id"
    ")"
    " SELECT i.rule_id, i.severity, i.owner,"
    " COALESCE((SELECT '{' || string_agg(to_json(e.k)::text || ':' ||"
    "   e.v::text, ',') || '}' FROM jsonb_each(i.group_key) AS e(k, v)),"
    "   '{}'),"
    " (extract(epoch FROM i.created_at) * 1000000)::bigint, i.status,"
    " (extract(epoch FROM a.acked) * 1000000)::bigint,"
    " (extract(epoch FROM a.resolved) * 1000000)::bigint, a.resolved_by"
    " FROM i LEFT JOIN a ON a.incident_id = i.id";

/* A time as the daemon writes it (RFC 3339 UTC, nine digits); PostgreSQL
 * keeps µs, so the last three are 0. */
#define PG_TS(x)                                                             \
    "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"000Z\"')"

/* One incident ($1) as the document GET /api/v1/incidents/{id} returns,
 * its history from incident_audit: one "versions" entry per row, and one
 * successful "audit" entry per row that a person or the daemon caused
 * (the row's change: who, what, why). No row: no incident. */
static const char REVIEW_SQL[] =
    "SELECT jsonb_build_object("
    " 'id', i.id, 'version', i.version, 'rule_id', i.rule_id,"
    " 'title', i.title, 'description', i.description,"
    " 'severity', i.severity, 'base_severity', i.base_severity,"
    " 'status', i.status, 'owner', i.owner, 'group_key', i.group_key,"
    " 'tags', to_jsonb(i.tags), 'first_seen', " PG_TS("i.first_seen") ","
    " 'last_seen', " PG_TS("i.last_seen") ", 'hit_count', i.hit_count,"
    " 'signal_count', i.signal_count, 'previous_id', i.previous_id,"
    " 'created_at', " PG_TS("i.created_at") ","
    " 'updated_at', " PG_TS("i.updated_at") ","
    " 'explanation', i.explanation, 'evidence', i.evidence,"
    " 'versions', COALESCE((SELECT jsonb_agg(jsonb_build_object("
    "   'version', a.version, 'at', " PG_TS("a.changed_at") ","
    "   'actor', COALESCE(a.actor, 'sentineld'), 'change', a.action,"
    "   'status', a.status, 'severity', a.severity) ORDER BY a.version)"
    "   FROM incident_audit a WHERE a.incident_id = i.id), '[]'),"
    " 'audit', COALESCE((SELECT jsonb_agg(jsonb_build_object("
    "   'version', a.version, 'at', " PG_TS("a.changed_at") ","
    "   'actor', COALESCE(a.actor, 'sentineld'), 'action', a.action,"
    "   'reason', a.reason, 'result', 'ok', 'target', NULL)"
    "   ORDER BY a.changed_at, a.version)"
    "   FROM incident_audit a WHERE a.incident_id = i.id), '[]'))::text"
    " FROM incidents i WHERE i.id = $1::uuid";

/* What incident_audit does not hold, stated in every review read from
 * it: only versions are written there (out_postgres_write.c). */
static const char REVIEW_LACKS[] =
    "PostgreSQL records one row per incident version only: refused "
    "actions and the escalation's notification (notify) entries are kept "
    "only in the embedded store of the instance that handled the incident";

/* A page of the incident list ($1 status, $2 lowest severity's rank, $3
 * rule id, $4 ILIKE pattern, $5 and $6 last_seen's bounds and $7 the
 * cursor's, all in µs since the epoch, $8 the cursor's id, $9 the page's
 * rows; NULL: no such filter), each row as the document GET
 * /api/v1/incidents lists (no evidence, no explanation), with its
 * last_seen (µs) and id for the next cursor. As the embedded store's
 * listing: newest last_seen first, then id; the text is matched without
 * case (SQLite's LIKE is, for ASCII) against the title, the rule id and
 * the group key's jsonb text ("k": "v"). */
static const char LIST_SQL[] =
    "SELECT jsonb_build_object("
    " 'type', 'incident', 'id', i.id, 'version', i.version,"
    " 'rule_id', i.rule_id, 'title', i.title, 'description', i.description,"
    " 'tags', to_jsonb(i.tags), 'severity', i.severity,"
    " 'base_severity', i.base_severity, 'status', i.status,"
    " 'pending_approval', i.pending_approval, 'group_key', i.group_key,"
    " 'first_seen', " PG_TS("i.first_seen") ","
    " 'last_seen', " PG_TS("i.last_seen") ", 'hit_count', i.hit_count,"
    " 'signal_count', i.signal_count, 'owner', i.owner,"
    " 'previous_id', i.previous_id,"
    " 'created_at', " PG_TS("i.created_at") ","
    " 'updated_at', " PG_TS("i.updated_at") ")::text,"
    " (extract(epoch FROM i.last_seen) * 1000000)::bigint, i.id::text"
    " FROM incidents i"
    " WHERE ($1::text IS NULL OR i.status = $1)"
    " AND ($2::int IS NULL OR array_position(ARRAY['info', 'low', 'medium',"
    "   'high', 'critical'], i.severity) - 1 >= $2)"
    " AND ($3::text IS NULL OR i.rule_id = $3)"
    " AND ($4::text IS NULL OR i.title ILIKE $4 OR i.rule_id ILIKE $4"
    "   OR i.group_key::text ILIKE $4)"
    " AND ($5::bigint IS NULL OR i.last_seen >= timestamptz 'epoch' +"
    "   $5::bigint * interval '1 microsecond')"
    " AND ($6::bigint IS NULL OR i.last_seen < timestamptz 'epoch' +"
    "   $6::bigint * interval '1 microsecond')"
    " AND ($8::uuid IS NULL OR i.last_seen < timestamptz 'epoch' +"
    "   $7::bigint * interval '1 microsecond' OR (i.last_seen ="
    "   timestamptz 'epoch' + $7::bigint * interval '1 microsecond'"
    "   AND i.id < $8::uuid))"
    " ORDER BY i.last_seen DESC NULLS LAST, i.id DESC"
    " LIMIT $9::bigint";

static void
drop_conn(struct opg_reports *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->cancel != NULL)
        PQfreeCancel(r->cancel);
    r->cancel = NULL;
    pthread_mutex_unlock(&r->mu);
    if (r->conn != NULL)
        PQfinish(r->conn);
    r->conn = NULL;
}

static bool
ensure_conn(struct opg_state *s, char *why, size_t why_len)
{
    struct opg_reports *r = s->reports;

    if (r->conn != NULL && PQstatus(r->conn) == CONNECTION_OK)
        return true;
    drop_conn(r);
    r->conn = pg_connect(s->c->dsn, s->c->connect_timeout_ms, why, why_len);
    if (r->conn == NULL)
        return false;
    r->notices = (struct pg_notice_log){ s->host, s->inst, "reports: " };
    pg_log_notices(r->conn, &r->notices);
    if (!opg_session_setup(r->conn, s->c, why, why_len)) {
        drop_conn(r);
        return false;
    }
    pthread_mutex_lock(&r->mu);
    r->cancel = PQgetCancel(r->conn);
    pthread_mutex_unlock(&r->mu);
    return true;
}

static int64_t
col_us_ns(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col)
               ? 0
               : (int64_t)strtoll(PQgetvalue(res, row, col), NULL, 10) * 1000;
}

/* Answer q with an error, whichever kind it is. */
static void
answer_error(struct opg_report_req *q, enum sn_status rc, const char *why)
{
    if (q->review_done != NULL)
        q->review_done(q->arg, rc, NULL, NULL, why);
    else if (q->list_done != NULL)
        q->list_done(q->arg, rc, NULL, why);
    else
        q->done(q->arg, rc, NULL, 0, why);
}

/* Whether load_cancel() asked to stop the running request. */
static bool
cancel_wanted(struct opg_reports *r)
{
    bool want;

    pthread_mutex_lock(&r->mu);
    want = r->cancel_running;
    pthread_mutex_unlock(&r->mu);
    return want;
}

/* PQexecParams, but waiting in poll() on the connection and r->wake, so
 * load_cancel() can stop it: the last result, or NULL. A cancel that
 * reaches the server before the query has started is ignored there, so
 * while one is wanted it is sent again every CANCEL_RETRY_MS until the
 * query ends. Only this thread frees r->cancel (drop_conn). */
#define CANCEL_RETRY_MS 100
static PGresult *
exec_params(struct opg_reports *r, const char *sql, int n_params,
            const char *const *params)
{
    PGresult *res, *last = NULL;

    if (!PQsendQueryParams(r->conn, sql, n_params, NULL, params, NULL, NULL,
                           0))
        return NULL;
    while (PQisBusy(r->conn)) {
        struct pollfd fds[2] = { { PQsocket(r->conn), POLLIN, 0 },
                                 { r->wake[0], POLLIN, 0 } };
        bool want = cancel_wanted(r);
        char buf[64], why[256];
        int n = poll(fds, 2, want ? CANCEL_RETRY_MS : -1);

        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN)
            while (read(r->wake[0], buf, sizeof(buf)) > 0)
                ;
        if ((n == 0 || (fds[1].revents & POLLIN)) && cancel_wanted(r) &&
            r->cancel != NULL)
            (void)PQcancel(r->cancel, why, sizeof(why));
        if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) &&
            !PQconsumeInput(r->conn))
            break;
    }
    while ((res = PQgetResult(r->conn)) != NULL) {
        PQclear(last);
        last = res;
    }
    return last;
}

/* Run sql on the thread's connection: its rows, or NULL when it failed
 * (then q is answered, counted and logged). */
static PGresult *
query(struct opg_state *s, struct opg_report_req *q, const char *sql,
      int n_params, const char *const *params)
{
    struct opg_reports *r = s->reports;
    PGresult *res;
    char why[512];

    res = exec_params(r, sql, n_params, params);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    pg_result_error(res, r->conn, why, sizeof(why));
    PQclear(res);
    if (PQstatus(r->conn) != CONNECTION_OK)
        drop_conn(r);
    if (cancel_wanted(r)) {
        s->host->counter_add(s->c_report_cancels, 1);
        answer_error(q, SN_EIO, "cancelled: nobody waits for the answer");
        return NULL;
    }
    s->host->counter_add(s->c_report_errors, 1);
    s->host->log(s->inst, SN_LOG_WARN, "%s query failed: %s",
                 q->review_done ? "review"
                 : q->list_done ? "incident list"
                                : "report",
                 why);
    answer_error(q, SN_EIO, why);
    return NULL;
}

/* One review's document (the connection is up). */
static void
run_review(struct opg_state *s, struct opg_report_req *q)
{
    const char *params[1] = { q->id };
    PGresult *res;

    if ((res = query(s, q, REVIEW_SQL, 1, params)) == NULL)
        return;
    s->host->counter_add(s->c_reports, 1);
    if (PQntuples(res) == 0)
        q->review_done(q->arg, SN_DECLINED, NULL, NULL, "no such incident");
    else
        q->review_done(q->arg, SN_OK, PQgetvalue(res, 0, 0), REVIEW_LACKS,
                       NULL);
    PQclear(res);
}

/* One page of the list (the connection is up). */
static void
run_list(struct opg_state *s, struct opg_report_req *q)
{
    char p2[16], p5[24], p6[24], p7[24], p9[16];
    const char *params[9] = { NULL };
    PGresult *res;
    char *out;
    size_t len, at;
    int n;

    if (q->list.status[0])
        params[0] = q->list.status;
    if (q->list.min_severity >= 0) {
        snprintf(p2, sizeof(p2), "%d", q->list.min_severity);
        params[1] = p2;
    }
    params[2] = q->list.rule_id;
    params[3] = q->list.text;
    if (q->list.since_ns) {
        snprintf(p5, sizeof(p5), "%lld", (long long)(q->list.since_ns / 1000));
        params[4] = p5;
    }
    if (q->list.until_ns) {
        snprintf(p6, sizeof(p6), "%lld", (long long)(q->list.until_ns / 1000));
        params[5] = p6;
    }
    if (q->list.cursor_id[0]) {
        snprintf(p7, sizeof(p7), "%lld",
                 (long long)(q->list.cursor_seen_ns / 1000));
        params[6] = p7;
        params[7] = q->list.cursor_id;
    }
    snprintf(p9, sizeof(p9), "%u", q->list.limit);
    params[8] = p9;
    if ((res = query(s, q, LIST_SQL, 9, params)) == NULL)
        return;
    s->host->counter_add(s->c_reports, 1);
    n = PQntuples(res);
    /* The rows' JSON between the page's frame: its size is known. */
    len = sizeof("{\"incidents\":[],\"next_cursor\":\"\"}") + 24 + 40;
    for (int i = 0; i < n; i++)
        len += (size_t)PQgetlength(res, i, 0) + 1;
    if ((out = malloc(len)) == NULL) {
        PQclear(res);
        q->list_done(q->arg, SN_ENOMEM, NULL,
                     "out of memory reading the incident list");
        return;
    }
    at = (size_t)snprintf(out, len, "{\"incidents\":[");
    for (int i = 0; i < n; i++) {
        size_t l = (size_t)PQgetlength(res, i, 0);

        if (i > 0)
            out[at++] = ',';
        memcpy(out + at, PQgetvalue(res, i, 0), l);
        at += l;
    }
    if (n > 0 && (unsigned)n == q->list.limit)
        snprintf(out + at, len - at, "],\"next_cursor\":\"%lld:%.36s\"}",
                 strtoll(PQgetvalue(res, n - 1, 1), NULL, 10) * 1000,
                 PQgetvalue(res, n - 1, 2));
    else
        snprintf(out + at, len - at, "],\"next_cursor\":null}");
    q->list_done(q->arg, SN_OK, out, NULL);
    free(out);
    PQclear(res);
}

/* Run one report and answer it: done() exactly once. */
static void
run_one(struct opg_state *s, struct opg_report_req *q)
{
    struct opg_reports *r = s->reports;
    char why[512], p1[24], p2[24], p3[24];
    const char *params[3] = { p1, p2, p3 };
    struct sn_report_row *rows = NULL;
    PGresult *res = NULL;
    bool stopping;
    int n;

    if (!ensure_conn(s, why, sizeof(why))) {
        s->host->counter_add(s->c_report_errors, 1);
        answer_error(q, SN_EIO, why);
        return;
    }
    /* stop() came while connecting: it found nothing to cancel, so do
     * not start a query it would wait for. */
    pthread_mutex_lock(&r->mu);
    stopping = r->stopping;
    pthread_mutex_unlock(&r->mu);
    if (stopping) {
        s->host->counter_add(s->c_report_errors, 1);
        answer_error(q, SN_EIO, "out_postgres is stopping");
        return;
    }
    if (q->review_done != NULL) {
        run_review(s, q);
        return;
    }
    if (q->list_done != NULL) {
        run_list(s, q);
        return;
    }
    /* Floor to µs, as PostgreSQL keeps the times. */
    snprintf(p1, sizeof(p1), "%lld", (long long)(q->since_ns / 1000));
    snprintf(p2, sizeof(p2), "%lld", (long long)(q->until_ns / 1000));
    snprintf(p3, sizeof(p3), "%zu", q->max + 1);
    if ((res = query(s, q, REPORT_SQL, 3, params)) == NULL)
        return;
    n = PQntuples(res);
    if ((size_t)n > q->max) {
        PQclear(res);
        snprintf(why, sizeof(why),
                 "more than %zu incidents were opened between since and "
                 "until; report on a shorter period",
                 q->max);
        q->done(q->arg, SN_ELIMIT, NULL, 0, why);
        return;
    }
    rows = calloc(n > 0 ? (size_t)n : 1, sizeof(*rows));
    if (rows == NULL) {
        PQclear(res);
        q->done(q->arg, SN_ENOMEM, NULL, 0,
                "out of memory reading the report's incidents");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *actor = PQgetvalue(res, i, 8);

        rows[i].rule_id = PQgetvalue(res, i, 0);
        rows[i].severity = PQgetvalue(res, i, 1);
        rows[i].owner = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        rows[i].source = PQgetvalue(res, i, 3);
        rows[i].opened_at = col_us_ns(res, i, 4);
        rows[i].suppressed = strcmp(PQgetvalue(res, i, 5), "suppressed") == 0;
        rows[i].acked_at = col_us_ns(res, i, 6);
        rows[i].resolved_at = col_us_ns(res, i, 7);
        /* As the embedded store's loader: the daemon resolves as
         * "sentineld". */
        rows[i].auto_resolved = rows[i].resolved_at != 0 &&
                                !PQgetisnull(res, i, 8) &&
                                strcmp(actor, "sentineld") == 0;
    }
    s->host->counter_add(s->c_reports, 1);
    q->done(q->arg, SN_OK, rows, (size_t)n, NULL);
    free(rows);
    PQclear(res);
}

static void *
report_thread(void *arg)
{
    struct opg_state *s = arg;
    struct opg_reports *r = s->reports;

    for (;;) {
        struct opg_report_req *q;

        pthread_mutex_lock(&r->mu);
        while (r->head == NULL && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        q = r->head;
        r->head = q->next;
        if (r->head == NULL)
            r->tail = NULL;
        r->n--;
        r->running_arg = q->arg;
        r->cancel_running = false;
        pthread_mutex_unlock(&r->mu);
        run_one(s, q);
        pthread_mutex_lock(&r->mu);
        r->running_arg = NULL;
        pthread_mutex_unlock(&r->mu);
        free(q);
    }
    drop_conn(r);
    return NULL;
}

/* Queue q for the thread (control thread): takes q. */
static enum sn_status
enqueue(struct opg_state *s, struct opg_report_req *q)
{
    struct opg_reports *r = s->reports;
    enum sn_status rc = SN_OK;

    pthread_mutex_lock(&r->mu);
    if (r->stopping || !r->running)
        rc = SN_EIO;
    else if (r->n >= QUEUE_MAX)
        rc = SN_ELIMIT;
    if (rc == SN_OK) {
        if (r->tail != NULL)
            r->tail->next = q;
        else
            r->head = q;
        r->tail = q;
        r->n++;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc != SN_OK) {
        free(q);
        s->host->counter_add(s->c_report_errors, 1);
    }
    return rc;
}

/* A request to fill in, when this instance is the source and running;
 * extra bytes after it for what it must copy (one free()). */
static enum sn_status
new_req(struct opg_state *s, size_t extra, struct opg_report_req **out)
{
    *out = NULL;
    if (!s->c->reports)
        return SN_DECLINED;
    if (s->reports == NULL)
        return SN_EIO;
    return (*out = calloc(1, sizeof(**out) + extra)) != NULL ? SN_OK
                                                             : SN_ENOMEM;
}

enum sn_status
opg_report_load(void *state, int64_t since_ns, int64_t until_ns, size_t max,
                sn_report_done_fn done, void *arg)
{
    struct opg_state *s = state;
    struct opg_report_req *q;
    enum sn_status rc = new_req(s, 0, &q);

    if (rc != SN_OK)
        return rc;
    q->since_ns = since_ns;
    q->until_ns = until_ns;
    q->max = max;
    q->done = done;
    q->arg = arg;
    return enqueue(s, q);
}

enum sn_status
opg_review_load(void *state, const char *id, sn_review_done_fn done,
                void *arg)
{
    struct opg_state *s = state;
    struct opg_report_req *q;
    enum sn_status rc = new_req(s, 0, &q);

    if (rc != SN_OK)
        return rc;
    snprintf(q->id, sizeof(q->id), "%s", id);
    q->review_done = done;
    q->arg = arg;
    return enqueue(s, q);
}

enum sn_status
opg_list_load(void *state, const struct sn_list_query *lq,
              sn_list_done_fn done, void *arg)
{
    struct opg_state *s = state;
    size_t rl = lq->rule_id ? strlen(lq->rule_id) + 1 : 0;
    size_t tl = lq->text ? strlen(lq->text) + 3 : 0; /* %text% */
    struct opg_report_req *q;
    enum sn_status rc = new_req(s, rl + tl, &q);
    char *tail;

    if (rc != SN_OK)
        return rc;
    tail = (char *)(q + 1);
    snprintf(q->list.status, sizeof(q->list.status), "%s",
             lq->status ? lq->status : "");
    snprintf(q->list.cursor_id, sizeof(q->list.cursor_id), "%s",
             lq->cursor_id ? lq->cursor_id : "");
    q->list.min_severity = lq->min_severity;
    if (lq->rule_id != NULL) {
        memcpy(tail, lq->rule_id, rl);
        q->list.rule_id = tail;
        tail += rl;
    }
    if (lq->text != NULL) {
        snprintf(tail, tl, "%%%s%%", lq->text);
        q->list.text = tail;
    }
    q->list.since_ns = lq->since_ns;
    q->list.until_ns = lq->until_ns;
    q->list.cursor_seen_ns = lq->cursor_seen_ns;
    q->list.limit = lq->limit;
    q->list_done = done;
    q->arg = arg;
    return enqueue(s, q);
}

void
opg_load_cancel(void *state, void *arg)
{
    struct opg_state *s = state;
    struct opg_reports *r = s->reports;
    struct opg_report_req *q, *prev = NULL;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    for (q = r->head; q != NULL && q->arg != arg; q = q->next)
        prev = q;
    if (q != NULL) {
        if (prev != NULL)
            prev->next = q->next;
        else
            r->head = q->next;
        if (r->tail == q)
            r->tail = prev;
        r->n--;
    } else if (r->running_arg == arg) {
        r->cancel_running = true;
        (void)!write(r->wake[1], "c", 1);
    }
    pthread_mutex_unlock(&r->mu);
    if (q != NULL) {
        s->host->counter_add(s->c_report_cancels, 1);
        answer_error(q, SN_EIO, "cancelled: nobody waits for the answer");
        free(q);
    }
}

enum sn_status
opg_reports_start(struct opg_state *s, char *err, size_t err_len)
{
    struct opg_reports *r;

    if (!s->c->reports || s->reports != NULL)
        return SN_OK;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return SN_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    s->reports = r;
    if (pipe(r->wake) != 0) {
        r->wake[0] = r->wake[1] = -1;
        snprintf(err, err_len, "cannot create the report thread's pipe: %s",
                 strerror(errno));
        return SN_EIO;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(r->wake[i], F_SETFL, fcntl(r->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(r->wake[i], F_SETFD, FD_CLOEXEC);
    }
    if (pthread_create(&r->th, NULL, report_thread, s) != 0) {
        snprintf(err, err_len, "cannot start the report thread");
        return SN_ENOMEM;
    }
    r->running = true;
    return SN_OK;
}

void
opg_reports_stop(struct opg_state *s)
{
    struct opg_reports *r = s->reports;
    struct opg_report_req *q;
    char why[256];

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    q = r->head;
    r->head = r->tail = NULL;
    r->n = 0;
    /* The one running, if any, fails now and is answered by its thread. */
    if (r->cancel != NULL)
        PQcancel(r->cancel, why, sizeof(why));
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    while (q != NULL) {
        struct opg_report_req *next = q->next;
        answer_error(q, SN_EIO, "out_postgres is stopping");
        free(q);
        q = next;
    }
    if (r->running)
        pthread_join(r->th, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    for (int i = 0; i < 2; i++)
        if (r->wake[i] >= 0)
            close(r->wake[i]);
    free(r);
    s->reports = NULL;
}
