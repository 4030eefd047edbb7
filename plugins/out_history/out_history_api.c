/*
 * out_history's routes: GET /api/v1/events (search) and GET
 * /api/v1/events/counts (counts over time, grouped by host, app,
 * severity, rule or any extracted field) over the history this plugin
 * keeps in <state_dir>/events.db. The core has checked the token (viewer)
 * and refused repeated keys other than field before a handler runs. The
 * control thread opens the file read-only on first use; every query is
 * bounded: a time range (defaulted to the last 24 h), a row limit, and a
 * deadline enforced by sqlite3_progress_handler. The schema is in
 * out_history.c; docs/internals/history.md describes both sides.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/time_parse.h"
#include "out_history.h"

#define DAY_NS            (86400LL * 1000000000)
#define SEARCH_LIMIT      100 /* default page */
#define SEARCH_LIMIT_MAX  1000
#define BUCKETS_MAX       1000 /* a chart wider than this is no chart */
#define GROUPS_DEFAULT    10
#define GROUPS_MAX        50
#define FIELD_FILTERS_MAX 4
/* One request may keep the control thread this long; past it the query
 * is interrupted and the client asked to narrow the range. */
#define QUERY_DEADLINE_NS (2LL * 1000000000)

struct filter {
    int64_t since, until;
    const char *host, *app, *rule, *q;
    int severity; /* -1: any */
    const char *fk[FIELD_FILTERS_MAX], *fv[FIELD_FILTERS_MAX];
    size_t fv_len[FIELD_FILTERS_MAX];
    size_t n_fields;
};

void
oh_api_close(struct oh_state *s)
{
    sqlite3_close(s->rd);
    s->rd = NULL;
}

static int64_t
now_ns(int clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
deadline_hit(void *arg)
{
    return now_ns(CLOCK_MONOTONIC) > *(int64_t *)arg;
}

static sqlite3 *
history(struct oh_state *s, struct sn_http_req *rq)
{
    const struct sn_host *h = s->host;
    sqlite3 *db = NULL;
    struct stat st;

    if (s->rd != NULL) {
        /* The writer opens a deleted or replaced file afresh; follow it
         * rather than answer from the old one (one stat per query). */
        if (stat(s->path, &st) == 0 && st.st_dev == s->rd_dev &&
            st.st_ino == s->rd_ino)
            return s->rd;
        h->http_log(rq, SN_LOG_INFO, "%s was deleted or replaced: reopening",
                    s->path);
        oh_api_close(s);
    }
    if (sqlite3_open_v2(s->path, &db,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT 1 FROM events LIMIT 0", NULL, NULL, NULL) !=
            SQLITE_OK) {
        h->http_reply_error(rq, 503, "history_unavailable",
                            "cannot read the event history %s: %s", s->path,
                            db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    /* A reader never checkpoints or deletes the WAL when it closes: after
     * a deletion the names belong to the writer's new file. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (stat(s->path, &st) == 0) {
        s->rd_dev = st.st_dev;
        s->rd_ino = st.st_ino;
    }
    s->rd = db;
    return db;
}

static bool
known_keys(struct oh_state *s, struct sn_http_req *rq, const char *const *keys,
           const char *list)
{
    const char *key, *value;

    for (size_t n = 0; s->host->http_query_at(rq, n, &key, &value); n++)
        for (size_t i = 0;; i++) {
            if (keys[i] == NULL) {
                s->host->http_reply_error(
                    rq, 400, "bad_query",
                    "unknown query parameter '%s' (known: %s)", key, list);
                return false;
            }
            if (strcmp(key, keys[i]) == 0)
                break;
        }
    return true;
}

static int
severity_parse(const char *s)
{
    static const char *const names[] = { "emerg",   "alert",  "crit", "err",
                                         "warning", "notice", "info", "debug" };

    for (int i = 0; i < 8; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    return -1;
}

/* The filters both routes share; false when a 400 was sent. */
static bool
filter_parse(struct oh_state *s, struct sn_http_req *rq, struct filter *f)
{
    const char *v, *key, *value;

    memset(f, 0, sizeof(*f));
    f->severity = -1;
    f->until = now_ns(CLOCK_REALTIME) + 1;
    if ((v = s->host->http_query(rq, "until")) &&
        !sn_time_parse(v, &f->until)) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "until '%s': expected a real RFC 3339 UTC time "
            "or ns since the epoch, before year 2200",
            v);
        return false;
    }
    f->since = f->until - DAY_NS;
    if ((v = s->host->http_query(rq, "since")) &&
        !sn_time_parse(v, &f->since)) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "since '%s': expected a real RFC 3339 UTC time "
            "or ns since the epoch, before year 2200",
            v);
        return false;
    }
    if (f->since >= f->until) {
        s->host->http_reply_error(rq, 400, "bad_query",
                                  "since must be before until");
        return false;
    }
    f->host = s->host->http_query(rq, "host");
    f->app = s->host->http_query(rq, "app");
    f->rule = s->host->http_query(rq, "rule");
    f->q = s->host->http_query(rq, "q");
    if ((v = s->host->http_query(rq, "severity")) &&
        (f->severity = severity_parse(v)) < 0) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "severity '%s': expected 0-7 or emerg, alert, crit, "
            "err, warning, notice, info, debug",
            v);
        return false;
    }
    for (size_t n = 0; s->host->http_query_at(rq, n, &key, &value); n++) {
        const char *eq;

        if (strcmp(key, "field") != 0)
            continue;
        eq = strchr(value, '=');
        if (eq == NULL || eq == value) {
            s->host->http_reply_error(rq, 400, "bad_query",
                                      "field '%s': expected name=value, e.g. "
                                      "field=source.ip=192.0.2.7",
                                      value);
            return false;
        }
        if (f->n_fields == FIELD_FILTERS_MAX) {
            s->host->http_reply_error(rq, 400, "bad_query",
                                      "at most %d field filters",
                                      FIELD_FILTERS_MAX);
            return false;
        }
        f->fk[f->n_fields] = value;
        f->fv_len[f->n_fields] = (size_t)(eq - value); /* key length */
        f->fv[f->n_fields++] = eq + 1;
    }
    return true;
}

/* WHERE clause text for f; bind_filter() binds it in the same order. */
static void
where_sql(struct sn_buf *sql, const struct filter *f)
{
    sn_buf_printf(sql, " WHERE ts >= ? AND ts < ?");
    if (f->host)
        sn_buf_printf(sql, " AND host = ?");
    if (f->app)
        sn_buf_printf(sql, " AND app = ?");
    if (f->rule)
        sn_buf_printf(sql, " AND rule = ?");
    if (f->severity >= 0)
        sn_buf_printf(sql, " AND severity = ?");
    if (f->q)
        sn_buf_printf(sql, " AND instr(msg, ?) > 0");
    for (size_t i = 0; i < f->n_fields; i++)
        sn_buf_printf(sql, " AND id IN (SELECT event_id FROM event_fields "
                           "WHERE key = ? AND value = ?)");
}

/* Bind from parameter i on; returns the next free index. */
static int
bind_filter(sqlite3_stmt *st, int i, const struct filter *f)
{

    sqlite3_bind_int64(st, i++, f->since);
    sqlite3_bind_int64(st, i++, f->until);
    if (f->host)
        sqlite3_bind_text(st, i++, f->host, -1, SQLITE_STATIC);
    if (f->app)
        sqlite3_bind_text(st, i++, f->app, -1, SQLITE_STATIC);
    if (f->rule)
        sqlite3_bind_text(st, i++, f->rule, -1, SQLITE_STATIC);
    if (f->severity >= 0)
        sqlite3_bind_int(st, i++, f->severity);
    if (f->q)
        sqlite3_bind_text(st, i++, f->q, -1, SQLITE_STATIC);
    for (size_t k = 0; k < f->n_fields; k++) {
        sqlite3_bind_text(st, i++, f->fk[k], (int)f->fv_len[k], SQLITE_STATIC);
        sqlite3_bind_text(st, i++, f->fv[k], -1, SQLITE_STATIC);
    }
    return i;
}

static bool
int_param(struct oh_state *s, struct sn_http_req *rq, const char *key, long lo,
          long hi, long *out)
{
    const char *v = s->host->http_query(rq, key);
    int64_t n;

    if (v == NULL)
        return true;
    if (!sn_time_parse_int(v, lo, hi, &n)) {
        s->host->http_reply_error(rq, 400, "bad_query",
                                  "%s '%s': expected %ld-%ld", key, v, lo, hi);
        return false;
    }
    *out = (long)n;
    return true;
}

/* next_cursor as this route writes it, "TS.ID", both non-negative and
 * in range: sscanf's %lld took signs and blanks, clamped overflow and
 * ignored what followed. */
static bool
cursor_parse(const char *v, int64_t *ts, int64_t *id)
{
    const char *dot = strchr(v, '.');
    char head[24];

    if (dot == NULL || (size_t)(dot - v) >= sizeof(head))
        return false;
    memcpy(head, v, (size_t)(dot - v));
    head[dot - v] = '\0';
    return sn_time_parse_int(head, 0, INT64_MAX, ts) &&
           sn_time_parse_int(dot + 1, 0, INT64_MAX, id);
}

/* Prepare with the deadline armed; false when a reply was sent. */
static bool
prepare(struct oh_state *s, struct sn_http_req *rq, sqlite3 *db,
        const struct sn_buf *sql, int64_t *deadline, sqlite3_stmt **st)
{
    *deadline = now_ns(CLOCK_MONOTONIC) + QUERY_DEADLINE_NS;
    sqlite3_progress_handler(db, 1000, deadline_hit, deadline);
    if (sqlite3_prepare_v2(db, sql->data, (int)sql->len, st, NULL) !=
        SQLITE_OK) {
        s->host->http_reply_error(rq, 500, "history_error", "history query: %s",
                                  sqlite3_errmsg(db));
        return false;
    }
    return true;
}

/* After the last step: reply with the error when it was not DONE. */
static bool
finish(struct oh_state *s, struct sn_http_req *rq, sqlite3 *db,
       sqlite3_stmt *st, int rc)
{
    sqlite3_finalize(st);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_INTERRUPT)
        s->host->http_reply_error(
            rq, 503, "query_timeout",
            "the query ran past %lld s; narrow the time range "
            "or add filters",
            QUERY_DEADLINE_NS / 1000000000);
    else
        s->host->http_reply_error(rq, 500, "history_error", "history query: %s",
                                  sqlite3_errstr(rc));
    return false;
}

void
oh_api_search(void *state, struct sn_http_req *rq)
{
    struct oh_state *s = state;
    static const char *const keys[] = { "since", "until",  "host",     "app",
                                        "rule",  "q",      "severity", "field",
                                        "limit", "cursor", NULL };
    struct filter f;
    struct sn_buf sql, b;
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    long limit = SEARCH_LIMIT;
    int64_t deadline, cur_ts = 0, cur_id = 0, last_ts = 0, last_id = 0;
    const char *v;
    size_t n = 0;
    int rc, i;

    if (!known_keys(s, rq, keys,
                    "since, until, host, app, rule, q, severity, field, "
                    "limit, cursor") ||
        !filter_parse(s, rq, &f) ||
        !int_param(s, rq, "limit", 1, SEARCH_LIMIT_MAX, &limit))
        return;
    if ((v = s->host->http_query(rq, "cursor")) &&
        !cursor_parse(v, &cur_ts, &cur_id)) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "cursor '%s': pass next_cursor of the previous page", v);
        return;
    }
    if ((db = history(s, rq)) == NULL)
        return;
    sn_buf_init(&sql, 64 * 1024);
    sn_buf_printf(&sql, "SELECT id, ts, doc FROM events");
    where_sql(&sql, &f);
    if (v != NULL)
        sn_buf_printf(&sql, " AND (ts < ? OR (ts = ? AND id < ?))");
    /* Newest first; the cursor (ts, id) of the last row resumes. */
    sn_buf_printf(&sql, " ORDER BY ts DESC, id DESC LIMIT ?");
    sn_buf_putc(&sql, '\0');
    sql.len--;
    if (!prepare(s, rq, db, &sql, &deadline, &st)) {
        sn_buf_fini(&sql);
        return;
    }
    sn_buf_fini(&sql);
    i = bind_filter(st, 1, &f);
    if (v != NULL) {
        sqlite3_bind_int64(st, i++, cur_ts);
        sqlite3_bind_int64(st, i++, cur_ts);
        sqlite3_bind_int64(st, i++, cur_id);
    }
    sqlite3_bind_int64(st, i, limit);
    sn_buf_init(&b, 64u << 20);
    sn_buf_printf(&b, "{\"events\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        last_id = sqlite3_column_int64(st, 0);
        last_ts = sqlite3_column_int64(st, 1);
        sn_buf_printf(&b, "%s{\"id\":%lld,\"time_ns\":%lld,\"event\":",
                      n ? "," : "", (long long)last_id, (long long)last_ts);
        sn_buf_append(&b, sqlite3_column_text(st, 2),
                      (size_t)sqlite3_column_bytes(st, 2));
        sn_buf_putc(&b, '}');
        n++;
    }
    if (!finish(s, rq, db, st, rc)) {
        sn_buf_fini(&b);
        return;
    }
    sn_buf_printf(&b, "],\"count\":%zu,\"since\":%lld,\"until\":%lld,", n,
                  (long long)f.since, (long long)f.until);
    if (n == (size_t)limit)
        sn_buf_printf(&b, "\"next_cursor\":\"%lld.%lld\"}\n",
                      (long long)last_ts, (long long)last_id);
    else
        sn_buf_printf(&b, "\"next_cursor\":null}\n");
    s->host->http_reply(rq, 200, "application/json", b.data, b.len);
    sn_buf_fini(&b);
}

/* The widest bucket: a year of bars is one bar. */
#define BUCKET_MAX_NS (366LL * 86400 * 1000000000)

/* "60s", "5m", "1h", "1d" or plain seconds, to ns; 0 when malformed or
 * wider than BUCKET_MAX_NS. The bound is checked in the value's own unit
 * ("400000d" is refused, not multiplied past int64). */
static int64_t
bucket_parse(const char *s)
{
    char *end;
    long long n;
    int64_t unit = 1000000000;

    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || n <= 0)
        return 0;
    if (strcmp(end, "m") == 0)
        unit *= 60;
    else if (strcmp(end, "h") == 0)
        unit *= 3600;
    else if (strcmp(end, "d") == 0)
        unit *= 86400;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        return 0;
    if (n > BUCKET_MAX_NS / unit)
        return 0;
    return n * unit;
}

struct group {
    char key[256];
    bool is_null;
    int64_t total;
    int64_t *counts;
};

void
oh_api_counts(void *state, struct sn_http_req *rq)
{
    struct oh_state *s = state;
    static const char *const keys[] = { "since",    "until", "host",
                                        "app",      "rule",  "q",
                                        "severity", "field", "bucket",
                                        "group_by", "top",   NULL };
    struct filter f;
    struct sn_buf sql, b;
    struct group groups[GROUPS_MAX];
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    const char *gb = s->host->http_query(rq, "group_by"), *gexpr = "NULL", *v;
    long top = GROUPS_DEFAULT;
    int64_t bucket, deadline, n_buckets, total = 0;
    size_t n_groups = 0;
    int rc, i;

    if (!known_keys(s, rq, keys,
                    "since, until, host, app, rule, q, severity, field, "
                    "bucket, group_by, top") ||
        !filter_parse(s, rq, &f) ||
        !int_param(s, rq, "top", 1, GROUPS_MAX, &top))
        return;
    /* Default: about 60 bars over the range, whole seconds. since and
     * until lie within [0, SN_TIME_PARSE_MAX_NS] (until's default is now,
     * since's a day before until), so the range cannot overflow and the
     * bucket is at least one second. */
    bucket = ((f.until - f.since) / 60 / 1000000000 + 1) * 1000000000;
    if ((v = s->host->http_query(rq, "bucket")) &&
        (bucket = bucket_parse(v)) == 0) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "bucket '%s': expected a duration like 60s, 5m, 1h, "
            "1d, at most 366d",
            v);
        return;
    }
    n_buckets = (f.until - f.since + bucket - 1) / bucket;
    if (n_buckets > BUCKETS_MAX) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "%lld buckets: at most %d; widen bucket or narrow "
            "the range",
            (long long)n_buckets, BUCKETS_MAX);
        return;
    }
    if (gb == NULL || strcmp(gb, "none") == 0)
        gb = NULL;
    else if (strcmp(gb, "host") == 0 || strcmp(gb, "app") == 0 ||
             strcmp(gb, "rule") == 0 || strcmp(gb, "severity") == 0)
        gexpr = gb;
    else if (strspn(gb, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") != strlen(gb) ||
             strlen(gb) > 128) {
        s->host->http_reply_error(
            rq, 400, "bad_query",
            "group_by '%s': expected host, app, severity, rule "
            "or a field name such as source.ip",
            gb);
        return;
    } else
        gexpr = "(SELECT value FROM event_fields WHERE event_id = events.id "
                "AND key = ?)";
    if ((db = history(s, rq)) == NULL)
        return;
    /* One pass: (group, bucket) counts, biggest groups first; the top
     * groups are kept, the rest summed into "other". */
    sn_buf_init(&sql, 64 * 1024);
    sn_buf_printf(&sql,
                  "WITH m AS (SELECT %s AS g, (ts - ?) / ? AS bk FROM events",
                  gexpr);
    where_sql(&sql, &f);
    sn_buf_printf(&sql, "), t AS (SELECT g, count(*) AS n FROM m GROUP BY g) "
                        "SELECT m.g, m.bk, count(*), t.n FROM m JOIN t ON "
                        "t.g IS m.g GROUP BY m.g, m.bk ORDER BY t.n DESC, "
                        "m.g, m.bk");
    sn_buf_putc(&sql, '\0');
    sql.len--;
    if (!prepare(s, rq, db, &sql, &deadline, &st)) {
        sn_buf_fini(&sql);
        return;
    }
    sn_buf_fini(&sql);
    i = 1;
    if (gb != NULL && gexpr != gb)
        sqlite3_bind_text(st, i++, gb, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, f.since);
    sqlite3_bind_int64(st, i++, bucket);
    bind_filter(st, i, &f);
    int64_t other = 0,
            *other_counts = calloc((size_t)n_buckets, sizeof(int64_t));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool is_null = sqlite3_column_type(st, 0) == SQLITE_NULL;
        const char *key = (const char *)sqlite3_column_text(st, 0);
        int64_t bk = sqlite3_column_int64(st, 1),
                cnt = sqlite3_column_int64(st, 2);
        struct group *g = n_groups ? &groups[n_groups - 1] : NULL;

        if (bk < 0 || bk >= n_buckets || other_counts == NULL)
            continue;
        total += cnt;
        if (g == NULL || g->is_null != is_null ||
            (!is_null && strncmp(g->key, key, sizeof(g->key) - 1) != 0)) {
            if (n_groups == (size_t)top) {
                other += cnt;
                other_counts[bk] += cnt;
                continue;
            }
            g = &groups[n_groups++];
            memset(g, 0, sizeof(*g));
            g->is_null = is_null;
            if (!is_null)
                snprintf(g->key, sizeof(g->key), "%s", key);
            g->counts = calloc((size_t)n_buckets, sizeof(int64_t));
            if (g->counts == NULL) {
                n_groups--;
                continue;
            }
        }
        g->total += cnt;
        g->counts[bk] += cnt;
    }
    if (!finish(s, rq, db, st, rc) || other_counts == NULL) {
        if (other_counts == NULL && rc == SQLITE_DONE)
            s->host->http_reply_error(rq, 500, "out_of_memory",
                                      "out of memory");
        goto out;
    }
    sn_buf_init(&b, 16u << 20);
    sn_buf_printf(&b, "{\"since\":%lld,\"until\":%lld,\"bucket_ns\":%lld,",
                  (long long)f.since, (long long)f.until, (long long)bucket);
    sn_json_key(&b, "group_by");
    sn_json_str_or_null(&b, gb, gb ? strlen(gb) : 0);
    sn_buf_printf(&b, ",\"total\":%lld,\"buckets\":[", (long long)total);
    for (int64_t k = 0; k < n_buckets; k++)
        sn_buf_printf(&b, "%s%lld", k ? "," : "",
                      (long long)(f.since + k * bucket));
    sn_buf_printf(&b, "],\"series\":[");
    for (size_t g = 0; g < n_groups; g++) {
        sn_buf_printf(&b, "%s{", g ? "," : "");
        sn_json_key(&b, "key");
        sn_json_str_or_null(&b, groups[g].is_null ? NULL : groups[g].key,
                            strlen(groups[g].key));
        sn_buf_printf(&b, ",\"total\":%lld,\"counts\":[",
                      (long long)groups[g].total);
        for (int64_t k = 0; k < n_buckets; k++)
            sn_buf_printf(&b, "%s%lld", k ? "," : "",
                          (long long)groups[g].counts[k]);
        sn_buf_printf(&b, "]}");
    }
    sn_buf_printf(&b, "],\"other\":%lld}\n", (long long)other);
    s->host->http_reply(rq, 200, "application/json", b.data, b.len);
    sn_buf_fini(&b);
out:
    for (size_t g = 0; g < n_groups; g++)
        free(groups[g].counts);
    free(other_counts);
}
