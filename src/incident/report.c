/*
 * Incident analytics: the SQLite loader of lifecycles and the
 * aggregation (report.h). The aggregation sorts copies of the lifecycles
 * per dimension and walks the runs, so it costs O(n log n) with no
 * per-group allocation; it knows nothing of SQL. docs/reports.md.
 */
#include "incident/report.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "incident/incident.h"

#define NS_PER_DAY (86400LL * SN_NS_PER_SEC)
/* Top sources listed, as on the overview. */
#define TOP_SOURCES 10

/* --- loading from the SQLite store -------------------------------------- */

/* The first successful acknowledgement and resolution of each incident,
 * by audit sequence (the order they were committed in). */
static const char LOAD_SQL[] =
    "SELECT i.rule_id, i.severity, i.owner, i.group_key, i.created_at,"
    " i.status,"
    " (SELECT min(a.at) FROM audit a WHERE a.incident_id = i.id"
    "  AND a.action = 'acknowledge' AND a.result = 'ok'),"
    " (SELECT a.at FROM audit a WHERE a.incident_id = i.id"
    "  AND a.action IN ('resolve', 'auto-resolve') AND a.result = 'ok'"
    "  ORDER BY a.seq LIMIT 1),"
    " (SELECT a.actor FROM audit a WHERE a.incident_id = i.id"
    "  AND a.action IN ('resolve', 'auto-resolve') AND a.result = 'ok'"
    "  ORDER BY a.seq LIMIT 1)"
    " FROM incidents i WHERE i.created_at >= ?1 AND i.created_at < ?2"
    " LIMIT ?3";

static char *
dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? strdup((const char *)t) : NULL;
}

void
sn_report_lives_free(struct sn_report_life *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].rule_id);
        free(v[i].severity);
        free(v[i].owner);
        free(v[i].source);
    }
    free(v);
}

enum sn_status
sn_report_load_sqlite(struct sqlite3 *db, const struct sn_report_query *q,
                      struct sn_report_life **out, size_t *n,
                      struct sn_error *err)
{
    struct sn_report_life *v = NULL;
    size_t len = 0, cap = 0;
    size_t max = q->max ? q->max : SN_REPORT_MAX_INCIDENTS;
    sqlite3_stmt *st;
    int r;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, LOAD_SQL, -1, &st, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    sqlite3_bind_int64(st, 1, q->since_ns);
    sqlite3_bind_int64(st, 2, q->until_ns);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max + 1);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct sn_report_life *l;
        const char *actor, *status;

        if (len == max) {
            sqlite3_finalize(st);
            sn_report_lives_free(v, len);
            sn_error_set(err,
                         "more than %zu incidents were opened between since "
                         "and until; report on a shorter period",
                         max);
            return SN_ELIMIT;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct sn_report_life *nv = realloc(v, ncap * sizeof(*v));
            if (nv == NULL)
                goto nomem;
            v = nv;
            cap = ncap;
        }
        l = &v[len++];
        memset(l, 0, sizeof(*l));
        l->rule_id = dup_col(st, 0);
        l->severity = strdup(
            sn_severity_name((enum sn_severity)sqlite3_column_int(st, 1)));
        l->owner = dup_col(st, 2);
        l->source = dup_col(st, 3);
        if (l->rule_id == NULL || l->severity == NULL || l->source == NULL ||
            (sqlite3_column_type(st, 2) != SQLITE_NULL && l->owner == NULL))
            goto nomem;
        l->opened_at = sqlite3_column_int64(st, 4);
        status = (const char *)sqlite3_column_text(st, 5);
        l->suppressed = status != NULL && strcmp(status, "suppressed") == 0;
        l->acked_at = sqlite3_column_int64(st, 6);
        l->resolved_at = sqlite3_column_int64(st, 7);
        actor = (const char *)sqlite3_column_text(st, 8);
        /* The daemon resolves as "sentineld" (a resolved signal or the
         * quiet period); anyone else is a person or their token. */
        l->auto_resolved = l->resolved_at != 0 && actor != NULL &&
                           strcmp(actor, "sentineld") == 0;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        sn_report_lives_free(v, len);
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    *out = v;
    *n = len;
    return SN_OK;
nomem:
    sqlite3_finalize(st);
    sn_report_lives_free(v, len);
    sn_error_set(err, "out of memory reading the report's incidents");
    return SN_ENOMEM;
}

/* --- aggregation -----------------------------------------------------------
 */

int64_t
sn_report_percentile(const int64_t *x, size_t n, int pct)
{
    /* Nearest rank: the smallest value with at least pct% of the values
     * at or below it, so the figure is always an observed duration. */
    size_t rank = ((size_t)pct * n + 99) / 100;

    return x[rank > 0 ? rank - 1 : 0];
}

/* NULL (unassigned) sorts first. */
static int
key_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

struct pair {
    const char *key;
    int64_t ms;
};

static int
pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = key_cmp(x->key, y->key);

    if (c != 0)
        return c;
    return (x->ms > y->ms) - (x->ms < y->ms);
}

enum dim { DIM_ALL, DIM_SEVERITY, DIM_RULE, DIM_OWNER };

static const char *
dim_key(const struct sn_report_life *l, enum dim d)
{
    switch (d) {
    case DIM_SEVERITY:
        return l->severity;
    case DIM_RULE:
        return l->rule_id;
    case DIM_OWNER:
        return l->owner;
    case DIM_ALL:
        break;
    }
    return NULL;
}

static enum sn_status
put_stats(struct sn_buf *out, const int64_t *ms, size_t n)
{
    if (n == 0)
        return SN_BUF_LIT(out, "\"n\":0,\"median_ms\":null,\"p90_ms\":null");
    return sn_buf_printf(out, "\"n\":%zu,\"median_ms\":%lld,\"p90_ms\":%lld", n,
                         (long long)sn_report_percentile(ms, n, 50),
                         (long long)sn_report_percentile(ms, n, 90));
}

/* Durations (ms from opening to the first acknowledgement or resolution)
 * grouped by one dimension: an object for DIM_ALL, else an array of
 * {key, n, median_ms, p90_ms} by key. p and ms are scratch of n each. */
static enum sn_status
durations(struct sn_buf *out, const struct sn_report_life *v, size_t n,
          bool resolve, enum dim d, struct pair *p, int64_t *ms)
{
    size_t k = 0;
    enum sn_status rc;

    for (size_t i = 0; i < n; i++) {
        int64_t at = resolve ? v[i].resolved_at : v[i].acked_at;
        if (at == 0)
            continue;
        p[k].key = dim_key(&v[i], d);
        /* Whole milliseconds, truncated: what the docs promise. */
        p[k].ms =
            at > v[i].opened_at ? (at - v[i].opened_at) / SN_NS_PER_MS : 0;
        k++;
    }
    qsort(p, k, sizeof(*p), pair_cmp);
    if (d == DIM_ALL) {
        for (size_t i = 0; i < k; i++)
            ms[i] = p[i].ms;
        SN_JSON_TRY(sn_buf_putc(out, '{'));
        SN_JSON_TRY(put_stats(out, ms, k));
        return sn_buf_putc(out, '}');
    }
    SN_JSON_TRY(sn_buf_putc(out, '['));
    for (size_t i = 0; i < k;) {
        size_t j = i, m = 0;
        while (j < k && key_cmp(p[j].key, p[i].key) == 0)
            ms[m++] = p[j++].ms;
        SN_JSON_TRY(sn_buf_puts(out, i ? ",{\"key\":" : "{\"key\":"));
        SN_JSON_TRY(sn_json_str_or_null(out, p[i].key,
                                        p[i].key ? strlen(p[i].key) : 0));
        SN_JSON_TRY(sn_buf_putc(out, ','));
        SN_JSON_TRY(put_stats(out, ms, m));
        SN_JSON_TRY(sn_buf_putc(out, '}'));
        i = j;
    }
    return sn_buf_putc(out, ']');
}

static enum sn_status
duration_block(struct sn_buf *out, const char *name,
               const struct sn_report_life *v, size_t n, bool resolve,
               struct pair *p, int64_t *ms)
{
    static const char *const keys[] = { "\"overall\":", ",\"by_severity\":",
                                        ",\"by_rule\":", ",\"by_owner\":" };
    enum sn_status rc;

    SN_JSON_TRY(sn_json_key(out, name));
    SN_JSON_TRY(sn_buf_putc(out, '{'));
    for (int d = DIM_ALL; d <= DIM_OWNER; d++) {
        SN_JSON_TRY(sn_buf_append(out, keys[d], strlen(keys[d])));
        SN_JSON_TRY(durations(out, v, n, resolve, (enum dim)d, p, ms));
    }
    return sn_buf_putc(out, '}');
}

/* The UTC date of a bucket's first day, "YYYY-MM-DD". */
static void
bucket_name(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int64_t
bucket_of(int64_t at, bool weekly)
{
    int64_t day = at / NS_PER_DAY;

    if (at < 0 && at % NS_PER_DAY != 0)
        day--;
    /* 1970-01-01 was a Thursday: ISO weeks start on the Monday before. */
    if (weekly)
        day -= ((day % 7) + 7 + 3) % 7;
    return day;
}

struct vol {
    int64_t bucket;
    const char *rule, *severity;
};

static int
vol_cmp(const void *a, const void *b)
{
    const struct vol *x = a, *y = b;
    int c;

    if (x->bucket != y->bucket)
        return (x->bucket > y->bucket) - (x->bucket < y->bucket);
    if ((c = strcmp(x->rule, y->rule)) != 0)
        return c;
    return strcmp(x->severity, y->severity);
}

static enum sn_status
volume(struct sn_buf *out, const struct sn_report_life *v, size_t n,
       bool weekly)
{
    struct vol *w = malloc((n ? n : 1) * sizeof(*w));
    enum sn_status rc = SN_OK;
    char name[16];

    if (w == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        w[i] = (struct vol){ bucket_of(v[i].opened_at, weekly), v[i].rule_id,
                             v[i].severity };
    qsort(w, n, sizeof(*w), vol_cmp);
    rc = SN_BUF_LIT(out, ",\"volume\":[");
    for (size_t i = 0; i < n && rc == SN_OK;) {
        size_t j = i;
        while (j < n && vol_cmp(&w[j], &w[i]) == 0)
            j++;
        bucket_name(w[i].bucket, name);
        rc = sn_buf_printf(
            out, "%s{\"bucket\":\"%s\",\"rule_id\":", i ? "," : "", name);
        if (rc == SN_OK)
            rc = sn_json_str(out, w[i].rule, strlen(w[i].rule));
        if (rc == SN_OK)
            rc = sn_buf_printf(out, ",\"severity\":\"%s\",\"n\":%zu}",
                               w[i].severity, j - i);
        i = j;
    }
    free(w);
    return rc == SN_OK ? sn_buf_putc(out, ']') : rc;
}

static int
src_cmp(const void *a, const void *b)
{
    return key_cmp(((const struct pair *)a)->key,
                   ((const struct pair *)b)->key);
}

/* By count, descending; ties by key, so the list is stable. */
static int
top_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;

    if (x->ms != y->ms)
        return (x->ms < y->ms) - (x->ms > y->ms);
    return key_cmp(x->key, y->key);
}

static enum sn_status
top_sources(struct sn_buf *out, const struct sn_report_life *v, size_t n,
            struct pair *p)
{
    size_t k = 0, m = 0;
    enum sn_status rc;

    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].source, "{}") != 0)
            p[k++] = (struct pair){ v[i].source, 0 };
    qsort(p, k, sizeof(*p), src_cmp);
    /* Collapse runs in place: p[m] = (key, count). */
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && strcmp(p[j].key, p[i].key) == 0)
            j++;
        p[m++] = (struct pair){ p[i].key, (int64_t)(j - i) };
        i = j;
    }
    qsort(p, m, sizeof(*p), top_cmp);
    SN_JSON_TRY(SN_BUF_LIT(out, ",\"top_sources\":["));
    for (size_t i = 0; i < m && i < TOP_SOURCES; i++) {
        /* group_key is the JSON object text the store holds. */
        SN_JSON_TRY(
            sn_buf_puts(out, i ? ",{\"group_key\":" : "{\"group_key\":"));
        SN_JSON_TRY(sn_buf_append(out, p[i].key, strlen(p[i].key)));
        SN_JSON_TRY(sn_buf_printf(out, ",\"n\":%lld}", (long long)p[i].ms));
    }
    return sn_buf_putc(out, ']');
}

static double
share(size_t part, size_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

enum sn_status
sn_report_json(const struct sn_report_query *q, const struct sn_report_life *v,
               size_t n, struct sn_buf *out)
{
    size_t acked = 0, resolved = 0, autores = 0, suppressed = 0;
    struct pair *p = malloc((n ? n : 1) * sizeof(*p));
    int64_t *ms = malloc((n ? n : 1) * sizeof(*ms));
    char since[40], until[40];
    enum sn_status rc = SN_ENOMEM;

    if (p == NULL || ms == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        acked += v[i].acked_at != 0;
        resolved += v[i].resolved_at != 0;
        autores += v[i].auto_resolved;
        suppressed += v[i].suppressed;
    }
    sn_time_rfc3339(q->since_ns, since);
    sn_time_rfc3339(q->until_ns, until);
    rc = sn_buf_printf(
        out,
        "{\"since\":\"%s\",\"until\":\"%s\",\"group\":\"%s\","
        "\"totals\":{\"incidents\":%zu,\"acknowledged\":%zu,"
        "\"resolved\":%zu,\"auto_resolved\":%zu,\"suppressed\":%zu,"
        "\"auto_resolved_share\":%.4f,\"suppressed_share\":%.4f},",
        since, until, q->weekly ? "week" : "day", n, acked, resolved, autores,
        suppressed, share(autores, resolved), share(suppressed, n));
    if (rc == SN_OK)
        rc = duration_block(out, "time_to_acknowledge", v, n, false, p, ms);
    if (rc == SN_OK)
        rc = sn_buf_putc(out, ',');
    if (rc == SN_OK)
        rc = duration_block(out, "time_to_resolve", v, n, true, p, ms);
    if (rc == SN_OK)
        rc = volume(out, v, n, q->weekly);
    if (rc == SN_OK)
        rc = top_sources(out, v, n, p);
    if (rc == SN_OK)
        rc = sn_buf_putc(out, '}');
done:
    free(p);
    free(ms);
    return rc;
}
