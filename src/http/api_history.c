/*
 * GET /api/v1/events (search) and GET /api/v1/events/counts (counts over
 * time, grouped by host, app, severity, rule or any extracted field) over
 * the event history that out_history keeps in <state_dir>/events.db. The
 * control thread opens the file read-only on first use; every query is
 * bounded: a time range (defaulted to the last 24 h), a row limit, and a
 * deadline enforced by sqlite3_progress_handler. The schema is owned by
 * plugins/out_history; docs/internals/history.md describes both sides.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/json.h"
#include "http/http_int.h"

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
sn_http_history_close(struct sn_http *h)
{
    sqlite3_close(h->hist);
    h->hist = NULL;
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
history(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    char path[4096];
    sqlite3 *db = NULL;

    struct stat st;

    if (h->env.state_dir == NULL ||
        (size_t)snprintf(path, sizeof(path), "%s/events.db",
                         h->env.state_dir) >= sizeof(path)) {
        sn_reply_error(rq, 503, "history_unavailable",
                       "no daemon.state_dir: there is no event history");
        return NULL;
    }
    if (h->hist != NULL) {
        /* out_history opens a deleted or replaced file afresh; follow it
         * rather than answer from the old one (one stat per query). */
        if (stat(path, &st) == 0 && (uint64_t)st.st_dev == h->hist_dev &&
            (uint64_t)st.st_ino == h->hist_ino)
            return h->hist;
        sn_req_log(rq, SN_LOG_INFO, "%s was deleted or replaced: reopening",
                   path);
        sn_http_history_close(h);
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT 1 FROM events LIMIT 0", NULL, NULL, NULL) !=
            SQLITE_OK) {
        sn_reply_error(rq, 503, "history_unavailable",
                       "cannot read the event history %s: %s (is an "
                       "out_history output configured?)",
                       path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    /* A reader never checkpoints or deletes the WAL when it closes: after
     * a deletion the names belong to out_history's new file. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (stat(path, &st) == 0) {
        h->hist_dev = (uint64_t)st.st_dev;
        h->hist_ino = (uint64_t)st.st_ino;
    }
    h->hist = db;
    return db;
}

static bool
known_keys(struct sn_req *rq, const char *const *keys, const char *list)
{
    sn_req_query(rq, "since"); /* parses the query */
    for (struct evkeyval *kv = rq->query.tqh_first; kv; kv = kv->next.tqe_next)
        for (size_t i = 0;; i++) {
            if (keys[i] == NULL) {
                sn_reply_error(rq, 400, "bad_query",
                               "unknown query parameter '%s' (known: %s)",
                               kv->key, list);
                return false;
            }
            if (strcmp(kv->key, keys[i]) == 0)
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
filter_parse(struct sn_req *rq, struct filter *f)
{
    const char *v;

    memset(f, 0, sizeof(*f));
    f->severity = -1;
    f->until = now_ns(CLOCK_REALTIME) + 1;
    if ((v = sn_req_query(rq, "until")) && !sn_http_parse_time(v, &f->until)) {
        sn_reply_error(rq, 400, "bad_query",
                       "until '%s': expected a real RFC 3339 UTC time "
                       "or ns since the epoch, before year 2200",
                       v);
        return false;
    }
    f->since = f->until - DAY_NS;
    if ((v = sn_req_query(rq, "since")) && !sn_http_parse_time(v, &f->since)) {
        sn_reply_error(rq, 400, "bad_query",
                       "since '%s': expected a real RFC 3339 UTC time "
                       "or ns since the epoch, before year 2200",
                       v);
        return false;
    }
    if (f->since >= f->until) {
        sn_reply_error(rq, 400, "bad_query", "since must be before until");
        return false;
    }
    f->host = sn_req_query(rq, "host");
    f->app = sn_req_query(rq, "app");
    f->rule = sn_req_query(rq, "rule");
    f->q = sn_req_query(rq, "q");
    if ((v = sn_req_query(rq, "severity")) &&
        (f->severity = severity_parse(v)) < 0) {
        sn_reply_error(rq, 400, "bad_query",
                       "severity '%s': expected 0-7 or emerg, alert, crit, "
                       "err, warning, notice, info, debug",
                       v);
        return false;
    }
    for (struct evkeyval *kv = rq->query.tqh_first; kv;
         kv = kv->next.tqe_next) {
        const char *eq;

        if (strcmp(kv->key, "field") != 0)
            continue;
        eq = strchr(kv->value, '=');
        if (eq == NULL || eq == kv->value) {
            sn_reply_error(rq, 400, "bad_query",
                           "field '%s': expected name=value, e.g. "
                           "field=source.ip=192.0.2.7",
                           kv->value);
            return false;
        }
        if (f->n_fields == FIELD_FILTERS_MAX) {
            sn_reply_error(rq, 400, "bad_query", "at most %d field filters",
                           FIELD_FILTERS_MAX);
            return false;
        }
        f->fk[f->n_fields] = kv->value;
        f->fv_len[f->n_fields] = (size_t)(eq - kv->value); /* key length */
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
int_param(struct sn_req *rq, const char *key, long lo, long hi, long *out)
{
    const char *v = sn_req_query(rq, key);
    char *end;
    long n;

    if (v == NULL)
        return true;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
        sn_reply_error(rq, 400, "bad_query", "%s '%s': expected %ld-%ld", key,
                       v, lo, hi);
        return false;
    }
    *out = n;
    return true;
}

/* Prepare with the deadline armed; false when a reply was sent. */
static bool
prepare(struct sn_req *rq, sqlite3 *db, const struct sn_buf *sql,
        int64_t *deadline, sqlite3_stmt **st)
{
    *deadline = now_ns(CLOCK_MONOTONIC) + QUERY_DEADLINE_NS;
    sqlite3_progress_handler(db, 1000, deadline_hit, deadline);
    if (sqlite3_prepare_v2(db, sql->data, (int)sql->len, st, NULL) !=
        SQLITE_OK) {
        sn_reply_error(rq, 500, "history_error", "history query: %s",
                       sqlite3_errmsg(db));
        return false;
    }
    return true;
}

/* After the last step: reply with the error when it was not DONE. */
static bool
finish(struct sn_req *rq, sqlite3 *db, sqlite3_stmt *st, int rc)
{
    sqlite3_finalize(st);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_INTERRUPT)
        sn_reply_error(rq, 503, "query_timeout",
                       "the query ran past %lld s; narrow the time range "
                       "or add filters",
                       QUERY_DEADLINE_NS / 1000000000);
    else
        sn_reply_error(rq, 500, "history_error", "history query: %s",
                       sqlite3_errstr(rc));
    return false;
}

void
sn_api_events_search(struct sn_req *rq)
{
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

    if (!known_keys(rq, keys,
                    "since, until, host, app, rule, q, severity, field, "
                    "limit, cursor") ||
        !filter_parse(rq, &f) ||
        !int_param(rq, "limit", 1, SEARCH_LIMIT_MAX, &limit))
        return;
    if ((v = sn_req_query(rq, "cursor")) &&
        sscanf(v, "%lld.%lld", (long long *)&cur_ts, (long long *)&cur_id) !=
            2) {
        sn_reply_error(rq, 400, "bad_query",
                       "cursor '%s': pass next_cursor of the previous page", v);
        return;
    }
    if ((db = history(rq)) == NULL)
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
    if (!prepare(rq, db, &sql, &deadline, &st)) {
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
    if (!finish(rq, db, st, rc)) {
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
    sn_reply_json(rq, 200, &b);
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
sn_api_events_counts(struct sn_req *rq)
{
    static const char *const keys[] = { "since",    "until", "host",
                                        "app",      "rule",  "q",
                                        "severity", "field", "bucket",
                                        "group_by", "top",   NULL };
    struct filter f;
    struct sn_buf sql, b;
    struct group groups[GROUPS_MAX];
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    const char *gb = sn_req_query(rq, "group_by"), *gexpr = "NULL", *v;
    long top = GROUPS_DEFAULT;
    int64_t bucket, deadline, n_buckets, total = 0;
    size_t n_groups = 0;
    int rc, i;

    if (!known_keys(rq, keys,
                    "since, until, host, app, rule, q, severity, field, "
                    "bucket, group_by, top") ||
        !filter_parse(rq, &f) || !int_param(rq, "top", 1, GROUPS_MAX, &top))
        return;
    /* Default: about 60 bars over the range, whole seconds. since and
     * until lie within [0, SN_HTTP_TIME_MAX_NS] (until's default is now,
     * since's a day before until), so the range cannot overflow and the
     * bucket is at least one second. */
    bucket = ((f.until - f.since) / 60 / 1000000000 + 1) * 1000000000;
    if ((v = sn_req_query(rq, "bucket")) && (bucket = bucket_parse(v)) == 0) {
        sn_reply_error(rq, 400, "bad_query",
                       "bucket '%s': expected a duration like 60s, 5m, 1h, "
                       "1d, at most 366d",
                       v);
        return;
    }
    n_buckets = (f.until - f.since + bucket - 1) / bucket;
    if (n_buckets > BUCKETS_MAX) {
        sn_reply_error(rq, 400, "bad_query",
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
        sn_reply_error(rq, 400, "bad_query",
                       "group_by '%s': expected host, app, severity, rule "
                       "or a field name such as source.ip",
                       gb);
        return;
    } else
        gexpr = "(SELECT value FROM event_fields WHERE event_id = events.id "
                "AND key = ?)";
    if ((db = history(rq)) == NULL)
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
    if (!prepare(rq, db, &sql, &deadline, &st)) {
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
    if (!finish(rq, db, st, rc) || other_counts == NULL) {
        if (other_counts == NULL && rc == SQLITE_DONE)
            sn_reply_error(rq, 500, "out_of_memory", "out of memory");
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
    sn_reply_json(rq, 200, &b);
    sn_buf_fini(&b);
out:
    for (size_t g = 0; g < n_groups; g++)
        free(groups[g].counts);
    free(other_counts);
}
