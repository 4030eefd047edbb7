/*
 * out_postgres batch writer: deliver() turns up to `batch` incident
 * versions into one statement and one transaction. The documents travel as
 * a single jsonb parameter (binary, so no quoting and no size guessing);
 * the server unpacks them, appends one incident_audit row per version
 * (ignoring versions it already has) and upserts the newest version of each
 * incident, applying it only over an older one. Replays are therefore
 * harmless and out-of-order versions end with the newest.
 *
 * Errors: a broken connection or anything transient is RETRY (the relay
 * backs off; we reconnect on the next call). A data or constraint error is
 * caused by some document: the batch is then written again document by
 * document under savepoints, so the good ones land and the result is FAIL
 * naming the incident(s) the database refused.
 */
#include "out_postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_type OID of jsonb (catalog/pg_type.dat). */
#define JSONBOID 3802
/* jsonb binary input format version (jsonb_recv). */
#define JSONB_BINARY_VERSION 1

/* $1: a jsonb array of incident documents (docs/incidents.md), unpacked
 * once into typed columns by jsonb_to_recordset (a JSON null becomes SQL
 * NULL; unknown keys are ignored, so newer documents still load). The
 * audit CTE sees every version; the upsert only the newest per incident,
 * since one INSERT ... ON CONFLICT may not touch a row twice. The first
 * version of an incident is the one written when it was created (its
 * number is the count of signals that opened it, not always 1). The
 * change that made a version (who, what, why) is the document's
 * "change" member (the daemon's outbox, docs/incidents.md), or "audit"
 * (what this plugin read first; still accepted). */
static const char UPSERT_SQL[] =
    "WITH batch AS MATERIALIZED ("
    "  SELECT * FROM jsonb_to_recordset($1) AS r(id uuid, version integer,"
    "    rule_id text, title text, description text, severity text,"
    "    base_severity text, status text, pending_approval jsonb,"
    "    group_key jsonb, first_seen timestamptz, last_seen timestamptz,"
    "    hit_count bigint, signal_count bigint, owner text,"
    "    previous_id uuid, tags text[], explanation jsonb, evidence jsonb,"
    "    created_at timestamptz, updated_at timestamptz, audit jsonb,"
    "    change jsonb)"
    "), audit AS ("
    "  INSERT INTO incident_audit (incident_id, version, changed_at, action,"
    "    actor, reason, status, severity, owner, pending_approval, entry)"
    "  SELECT id, version,"
    "    COALESCE((a->>'at')::timestamptz, updated_at),"
    "    COALESCE(a->>'action',"
    "      CASE WHEN created_at = updated_at AND status <> 'resolved'"
    "        THEN 'opened' ELSE 'updated' END),"
    "    a->>'by', a->>'reason', status, severity, owner,"
    "    pending_approval, a"
    "  FROM (SELECT *, COALESCE(audit, change) AS a FROM batch) b"
    "  ON CONFLICT (incident_id, version) DO NOTHING"
    "  RETURNING 1"
    "), up AS ("
    "  INSERT INTO incidents AS i (id, version, rule_id, title, description,"
    "    severity, base_severity, status, pending_approval, group_key,"
    "    first_seen, last_seen, hit_count, signal_count, owner, previous_id,"
    "    tags, explanation, evidence, created_at, updated_at)"
    "  SELECT DISTINCT ON (id) id, version, rule_id, title, description,"
    "    severity, base_severity, status, pending_approval,"
    "    COALESCE(group_key, '{}'::jsonb), first_seen, last_seen,"
    "    COALESCE(hit_count, 0), COALESCE(signal_count, 0), owner,"
    "    previous_id, COALESCE(tags, '{}'::text[]), explanation, evidence,"
    "    created_at, updated_at"
    "  FROM batch ORDER BY id, version DESC"
    "  ON CONFLICT (id) DO UPDATE SET"
    "    version = EXCLUDED.version, rule_id = EXCLUDED.rule_id,"
    "    title = EXCLUDED.title, description = EXCLUDED.description,"
    "    severity = EXCLUDED.severity,"
    "    base_severity = EXCLUDED.base_severity, status = EXCLUDED.status,"
    "    pending_approval = EXCLUDED.pending_approval,"
    "    group_key = EXCLUDED.group_key, first_seen = EXCLUDED.first_seen,"
    "    last_seen = EXCLUDED.last_seen, hit_count = EXCLUDED.hit_count,"
    "    signal_count = EXCLUDED.signal_count, owner = EXCLUDED.owner,"
    "    previous_id = EXCLUDED.previous_id, tags = EXCLUDED.tags,"
    "    explanation = EXCLUDED.explanation, evidence = EXCLUDED.evidence,"
    "    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
    "    stored_at = now()"
    "  WHERE i.version < EXCLUDED.version"
    "  RETURNING 1"
    ")"
    " SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM up),"
    " (SELECT count(*) FROM audit)";

enum outcome { DONE, BAD_DOC, TRANSIENT };

/* SQLSTATE classes 22 (data exception) and 23 (integrity constraint
 * violation) come from a document's content; everything else (connection,
 * timeouts, permissions, a missing table) is retried as it is. */
static bool
is_data_error(const PGresult *r)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    return st != NULL &&
           (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0);
}

/* The documents as one binary jsonb array in s->buf. */
static bool
build_array(struct opg_state *s, const struct sn_doc *docs, size_t n)
{
    const struct sn_host *h = s->host;
    char v = JSONB_BINARY_VERSION;

    h->buf_reset(s->buf);
    if (h->buf_append(s->buf, &v, 1) != SN_OK ||
        h->buf_append(s->buf, "[", 1) != SN_OK)
        return false;
    for (size_t i = 0; i < n; i++) {
        /* An empty document would make the array invalid JSON for every
         * neighbour; "null" keeps it the one bad element. */
        struct sn_str j = docs[i].json;
        if (j.len == 0)
            j = (struct sn_str){ "null", 4 };
        if ((i > 0 && h->buf_append(s->buf, ",", 1) != SN_OK) ||
            h->buf_append(s->buf, j.ptr, j.len) != SN_OK)
            return false;
    }
    return h->buf_append(s->buf, "]", 1) == SN_OK;
}

/* Run UPSERT_SQL over docs. On DONE the counters are updated; otherwise
 * why says what the server said. */
static enum outcome
upsert(struct opg_state *s, const struct sn_doc *docs, size_t n, char *why,
       size_t why_len)
{
    struct sn_str a;
    const char *params[1];
    int lens[1], fmts[1] = { 1 };
    Oid types[1] = { JSONBOID };
    PGresult *r;
    enum outcome o;

    if (!build_array(s, docs, n)) {
        snprintf(why, why_len, "batch of %zu documents exceeds the buffer", n);
        return n == 1 ? BAD_DOC : TRANSIENT;
    }
    a = s->host->buf_str(s->buf);
    params[0] = a.ptr;
    lens[0] = (int)a.len;
    r = PQexecParams(s->conn, UPSERT_SQL, 1, types, params, lens, fmts, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        long long total = atoll(PQgetvalue(r, 0, 0));
        long long up = atoll(PQgetvalue(r, 0, 1));
        long long audit = atoll(PQgetvalue(r, 0, 2));
        s->host->counter_add(s->c_upserts, (uint64_t)up);
        s->host->counter_add(s->c_stale, (uint64_t)(total - up));
        s->host->counter_add(s->c_audit, (uint64_t)audit);
        o = DONE;
    } else {
        pg_result_error(r, s->conn, why, why_len);
        o = PQstatus(s->conn) == CONNECTION_OK && is_data_error(r) ? BAD_DOC
                                                                   : TRANSIENT;
    }
    PQclear(r);
    return o;
}

/* The batch again, one document per savepoint, in one transaction: the good
 * ones commit, the refused ones are named in why. */
static enum sn_out_result
isolate(struct opg_state *s, const struct sn_doc *docs, size_t n, char *why,
        size_t why_len)
{
    char err[512];
    size_t n_bad = 0;

    if (!opg_exec(s, "BEGIN", err, sizeof(err)))
        goto transient;
    for (size_t i = 0; i < n; i++) {
        enum outcome o;
        if (!opg_exec(s, "SAVEPOINT doc", err, sizeof(err)))
            goto transient;
        o = upsert(s, &docs[i], 1, err, sizeof(err));
        if (o == TRANSIENT)
            goto transient;
        if (o == DONE) {
            if (!opg_exec(s, "RELEASE SAVEPOINT doc", err, sizeof(err)))
                goto transient;
            continue;
        }
        if (!opg_exec(s, "ROLLBACK TO SAVEPOINT doc", err, sizeof(err)))
            goto transient;
        s->host->counter_add(s->c_bad_docs, 1);
        s->host->log(s->inst, SN_LOG_ERROR,
                     "incident %.*s version %lld refused by PostgreSQL: %s",
                     (int)docs[i].id.len, docs[i].id.ptr,
                     (long long)docs[i].version, err);
        if (n_bad++ == 0)
            snprintf(why, why_len, "incident %.*s version %lld: %s",
                     (int)docs[i].id.len, docs[i].id.ptr,
                     (long long)docs[i].version, err);
    }
    if (!opg_exec(s, "COMMIT", err, sizeof(err)))
        goto transient;
    if (n_bad > 1) {
        size_t l = strlen(why);
        snprintf(why + l, why_len - l, " (and %zu more)", n_bad - 1);
    }
    return n_bad > 0 ? SN_OUT_FAIL : SN_OUT_OK;
transient:
    snprintf(why, why_len, "%s", err);
    if (PQstatus(s->conn) == CONNECTION_OK)
        opg_exec(s, "ROLLBACK", err, sizeof(err));
    return SN_OUT_RETRY;
}

static enum sn_out_result
write_chunk(struct opg_state *s, const struct sn_doc *docs, size_t n, char *why,
            size_t why_len)
{
    switch (upsert(s, docs, n, why, why_len)) {
    case DONE:
        return SN_OUT_OK;
    case BAD_DOC:
        return isolate(s, docs, n, why, why_len);
    case TRANSIENT:
    default:
        return SN_OUT_RETRY;
    }
}

enum sn_out_result
opg_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
            char *why, size_t why_len)
{
    struct opg_state *s = state;
    size_t batch = (size_t)s->c->batch;
    char fail_why[512] = "";
    bool permanent;

    (void)token;
    if (n == 0)
        return SN_OUT_OK;
    if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK)
        opg_disconnect(s);
    if (s->conn == NULL && !opg_connect(s, why, why_len, &permanent)) {
        s->host->log(s->inst, permanent ? SN_LOG_ERROR : SN_LOG_WARN,
                     "%s; %zu incident versions wait for retry", why, n);
        return SN_OUT_RETRY;
    }
    for (size_t i = 0; i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        enum sn_out_result r = write_chunk(s, docs + i, m, why, why_len);

        if (r == SN_OUT_RETRY) {
            s->host->counter_add(s->c_errors, 1);
            s->host->log(s->inst, SN_LOG_WARN,
                         "writing %zu incident versions failed, will "
                         "retry: %s",
                         m, why);
            /* Whatever broke, start from a fresh session next time. */
            opg_disconnect(s);
            s->was_down = true;
            return SN_OUT_RETRY;
        }
        /* A refused document does not stop the chunks after it. */
        if (r == SN_OUT_FAIL && fail_why[0] == '\0') {
            s->host->counter_add(s->c_errors, 1);
            snprintf(fail_why, sizeof(fail_why), "%s", why);
        }
    }
    if (fail_why[0] != '\0') {
        snprintf(why, why_len, "%s", fail_why);
        return SN_OUT_FAIL;
    }
    return SN_OUT_OK;
}
