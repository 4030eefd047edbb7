/*
 * Incident analytics (GET /api/v1/reports, the console's Reports page):
 * time to acknowledge and time to resolve per severity, rule and owner,
 * volume per day or week, top sources, suppressed and auto-resolved
 * shares. Two halves: a loader that reads each incident's lifecycle from
 * a store's incident and audit rows, and sn_report_json, which only
 * aggregates lifecycles, so another store's loader feeds the same
 * arithmetic. Definitions (what "acknowledged" and "auto-resolved" mean,
 * which percentile): docs/reports.md.
 */
#ifndef SN_INCIDENT_REPORT_H
#define SN_INCIDENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"

/* The widest window one report covers, and the most incidents it reads:
 * a report is one request on the control thread. */
#define SN_REPORT_MAX_SPAN_NS   (366LL * 86400 * 1000000000)
#define SN_REPORT_MAX_INCIDENTS 200000

/* One incident's lifecycle. Strings are owned by the array that holds it
 * (sn_report_lives_free). Times are wall clock ns; 0: never. */
struct sn_report_life {
    char *rule_id, *severity, *owner, *source; /* owner NULL: unassigned */
    int64_t opened_at, acked_at, resolved_at;
    bool auto_resolved; /* first resolution by the daemon, not a person */
    bool suppressed;    /* status suppressed now */
};

struct sn_report_query {
    int64_t since_ns, until_ns; /* incidents opened in [since, until) */
    bool weekly;                /* volume per ISO week, else per UTC day */
    size_t max;                 /* incidents at most; 0: the default cap */
};

/*
 * The lifecycles of the incidents of an incident store (store.h, SQLite
 * connection db) opened in [since, until): acknowledged = the first
 * successful `acknowledge` audit row, resolved = the first successful
 * `resolve` or `auto-resolve` row (auto when its actor is the daemon).
 * *out is malloc'ed (free with sn_report_lives_free). SN_ELIMIT when more
 * than q->max (0: SN_REPORT_MAX_INCIDENTS) match; SN_EIO with err on a
 * store error.
 */
struct sqlite3;
enum sn_status sn_report_load_sqlite(struct sqlite3 *db,
                                     const struct sn_report_query *q,
                                     struct sn_report_life **out, size_t *n,
                                     struct sn_error *err);
void sn_report_lives_free(struct sn_report_life *v, size_t n);

/*
 * The report document (web/openapi.json, components.schemas.Report) over
 * v[0..n) appended to out.
 */
enum sn_status sn_report_json(const struct sn_report_query *q,
                              const struct sn_report_life *v, size_t n,
                              struct sn_buf *out);

/* Nearest-rank percentile (pct in 1..100) of sorted x[0..n), n > 0. */
int64_t sn_report_percentile(const int64_t *x, size_t n, int pct);

#endif
