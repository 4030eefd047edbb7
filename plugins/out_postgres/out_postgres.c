/*
 * out_postgres: incident documents into PostgreSQL (the shared system of
 * record), as idempotent upserts that apply only a newer version, plus an
 * append-only audit row per version. This file owns the descriptor, the
 * options and the connection; the schema migrations live in
 * out_postgres_migrate.c and the batch writer in out_postgres_write.c.
 *
 * PostgreSQL being down is never fatal: start() logs it and deliver()
 * answers RETRY (the relay backs off) until a connection works, then
 * applies the migrations first. docs/out_postgres.md.
 */
#include "out_postgres.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SN_SQLDIR
#define SN_SQLDIR "/usr/local/share/sentineld/sql"
#endif

/* The JSON array of one batch: 500 documents of a few KiB each fit many
 * times over; a batch larger than this is written doc-group by doc-group
 * (out_postgres_write.c). */
#define BATCH_JSON_MAX (256u * 1024 * 1024)

static const struct sn_option opg_options[] = {
    { "dsn", SN_OPT_STRING, NULL, offsetof(struct opg_conf, dsn),
      "libpq connection string or postgresql:// URL (sslmode=require or "
      "verify-full for TLS)",
      0, 0, NULL, true },
    { "schema", SN_OPT_STRING, "public", offsetof(struct opg_conf, schema),
      "schema holding the tables (created when missing)", 0, 0, NULL, false },
    { "batch", SN_OPT_INT, "500", offsetof(struct opg_conf, batch),
      "incident versions written per transaction", 1, 10000, NULL, false },
    { "connect_timeout", SN_OPT_DURATION, "5s",
      offsetof(struct opg_conf, connect_timeout_ms),
      "give up a connection attempt after this long (the DSN's own "
      "connect_timeout wins)",
      1000, 3600000, NULL, false },
    { "statement_timeout", SN_OPT_DURATION, "30s",
      offsetof(struct opg_conf, statement_timeout_ms),
      "abort a batch (then retried) that runs longer than this", 100, 3600000,
      NULL, false },
    { "migrations_dir", SN_OPT_STRING, NULL,
      offsetof(struct opg_conf, migrations_dir),
      "directory of numbered NNN_name.sql migrations (default: "
      "$SENTINELD_SQL_DIR, else the installed one)",
      0, 0, NULL, false },
    { "reports", SN_OPT_BOOL, "false", offsetof(struct opg_conf, reports),
      "answer GET /api/v1/reports from these tables (every instance's "
      "incidents) instead of this instance's own store",
      0, 0, NULL, false },
    { 0 },
};

/* Schema names go into SQL as identifiers: keep them boring so they need
 * no quoting anywhere a human reads them (psql, logs). */
static bool
valid_schema(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 63 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static enum sn_status
opg_init(const struct sn_host *host, struct sn_instance *inst,
         const void *config, void **state, char *err, size_t err_len)
{
    struct opg_state *s = calloc(1, sizeof(*s));
    enum sn_status rc;
    const char *env;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = config;
    /* Parse the DSN now so a typo is a config error naming it, not an
     * endless RETRY later. */
    if ((rc = pg_dsn_check(s->c->dsn, err, err_len)) != SN_OK)
        return rc;
    if (!valid_schema(s->c->schema)) {
        snprintf(err, err_len,
                 "schema \"%s\": use lower-case letters, digits and '_' "
                 "(at most 63, not starting with a digit)",
                 s->c->schema);
        return SN_ECONFIG;
    }
    env = getenv("SENTINELD_SQL_DIR");
    if (s->c->migrations_dir != NULL)
        s->migrations_dir = s->c->migrations_dir;
    else if (env != NULL && env[0] != '\0')
        s->migrations_dir = env;
    else
        s->migrations_dir = SN_SQLDIR;
    /* Checked here, not at the first connection, so `sentineld check`
     * refuses what `run` would: the schema cannot be created without it. */
    if (access(s->migrations_dir, R_OK | X_OK) != 0) {
        snprintf(err, err_len,
                 "migrations directory %s: %s (set migrations_dir, or "
                 "install the package's sql files there)",
                 s->migrations_dir, strerror(errno));
        return SN_ECONFIG;
    }
    s->buf = host->buf_new(BATCH_JSON_MAX);
    if (s->buf == NULL)
        return SN_ENOMEM;
    s->c_upserts = host->counter(inst, "postgres_upserts_total",
                                 "incident rows inserted or updated");
    s->c_stale = host->counter(
        inst, "postgres_stale_total",
        "incident versions skipped: the table or the batch had a newer one");
    s->c_audit = host->counter(inst, "postgres_audit_rows_total",
                               "incident_audit rows appended");
    s->c_reconnect = host->counter(inst, "postgres_connects_total",
                                   "connections established (1 + reconnects)");
    s->c_errors =
        host->counter(inst, "postgres_errors_total",
                      "failed connection attempts, batches and statements");
    s->c_bad_docs = host->counter(inst, "postgres_rejected_docs_total",
                                  "incident documents the database refused");
    s->c_migrations = host->counter(inst, "postgres_migrations_applied_total",
                                    "migration files applied");
    s->c_reports = host->counter(inst, "postgres_reports_total",
                                 "GET /api/v1/reports answered from these "
                                 "tables");
    s->c_report_errors = host->counter(
        inst, "postgres_report_errors_total",
        "reports refused (queue full, stopping) or failed (connection, "
        "query)");
    s->c_report_cancels = host->counter(
        inst, "postgres_report_cancels_total",
        "reports, reviews and lists dropped from the queue or cancelled in "
        "PostgreSQL because their client left or their deadline passed");
    return SN_OK;
}

bool
opg_exec(struct opg_state *s, const char *sql, char *why, size_t why_len)
{
    return pg_exec(s->conn, sql, why, why_len);
}

/* One parameterised set_config(): session settings without building SQL. */
static bool
set_setting(PGconn *conn, const char *name, const char *value, char *why,
            size_t why_len)
{
    const char *params[2] = { name, value };
    PGresult *r =
        PQexecParams(conn, "SELECT pg_catalog.set_config($1, $2, false)", 2,
                     NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        pg_result_error(r, conn, why, why_len);
    PQclear(r);
    return ok;
}

bool
opg_session_setup(PGconn *conn, const struct opg_conf *c, char *why,
                  size_t why_len)
{
    char ms[32];
    char *ident = PQescapeIdentifier(conn, c->schema, strlen(c->schema));
    bool ok;

    if (ident == NULL) {
        snprintf(why, why_len, "%s", PQerrorMessage(conn));
        return false;
    }
    snprintf(ms, sizeof(ms), "%lld", (long long)c->statement_timeout_ms);
    ok = set_setting(conn, "statement_timeout", ms, why, why_len) &&
         set_setting(conn, "search_path", ident, why, why_len);
    PQfreemem(ident);
    return ok;
}

bool
opg_connect(struct opg_state *s, char *why, size_t why_len, bool *permanent)
{
    char err[512];

    *permanent = false;
    if (s->conn != NULL)
        return true;
    s->conn = pg_connect(s->c->dsn, s->c->connect_timeout_ms, why, why_len);
    if (s->conn == NULL) {
        s->host->counter_add(s->c_errors, 1);
        s->was_down = true;
        return false;
    }
    s->notices = (struct pg_notice_log){ s->host, s->inst, "" };
    pg_log_notices(s->conn, &s->notices);
    if (!opg_session_setup(s->conn, s->c, err, sizeof(err))) {
        snprintf(why, why_len, "PostgreSQL session setup failed: %s", err);
        opg_disconnect(s);
        s->host->counter_add(s->c_errors, 1);
        return false;
    }
    if (!s->migrated) {
        if (!opg_migrate(s, why, why_len)) {
            /* A refused or failing migration needs a human; it is
             * reported as such, and retried on the next attempt in case
             * it was the connection that broke. */
            *permanent = PQstatus(s->conn) == CONNECTION_OK;
            opg_disconnect(s);
            s->host->counter_add(s->c_errors, 1);
            return false;
        }
        s->migrated = true;
    }
    s->host->counter_add(s->c_reconnect, 1);
    s->host->log(
        s->inst, s->was_down ? SN_LOG_WARN : SN_LOG_INFO,
        "%s PostgreSQL %s:%s database %s as %s (%s)",
        s->was_down ? "reconnected to" : "connected to", PQhost(s->conn),
        PQport(s->conn), PQdb(s->conn), PQuser(s->conn),
        PQsslInUse(s->conn) ? PQsslAttribute(s->conn, "protocol") : "no TLS");
    s->was_down = false;
    return true;
}

void
opg_disconnect(struct opg_state *s)
{
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->conn = NULL;
}

static enum sn_status
opg_start(void *state, char *err, size_t err_len)
{
    struct opg_state *s = state;
    char why[768];
    bool permanent;
    enum sn_status rc;

    /* Its own connection, made at the first report: PostgreSQL being
     * down now does not stop it. */
    if ((rc = opg_reports_start(s, err, err_len)) != SN_OK)
        return rc;
    if (opg_connect(s, why, sizeof(why), &permanent))
        return SN_OK;
    if (permanent) {
        /* err is short (the core prefixes it): the whole story goes to
         * the log. */
        s->host->log(s->inst, SN_LOG_ERROR, "%s", why);
        snprintf(err, err_len, "%s", why);
        return SN_ECONFIG;
    }
    /* Not fatal: the incidents wait in the store's outbox. */
    s->host->log(s->inst, SN_LOG_WARN,
                 "%s; incidents wait in the outbox and are retried", why);
    return SN_OK;
}

static void
opg_stop(void *state)
{
    opg_reports_stop(state);
    opg_disconnect(state);
}

static void
opg_destroy(void *state)
{
    struct opg_state *s = state;

    if (s == NULL)
        return;
    opg_reports_stop(s);
    opg_disconnect(s);
    if (s->buf != NULL)
        s->host->buf_free(s->buf);
    free(s);
}

SN_PLUGIN_EXPORT
const struct sn_plugin sn_plugin_out_postgres = {
    SN_PLUGIN_HEADER,
    .name = "out_postgres",
    .kind = SN_KIND_OUTPUT,
    .description = "incidents into PostgreSQL: versioned upserts and an "
                   "audit trail, schema migrations on start",
    .version = "1.0",
    .options = opg_options,
    .config_size = sizeof(struct opg_conf),
    .init = opg_init,
    .start = opg_start,
    .stop = opg_stop,
    .destroy = opg_destroy,
    .deliver = opg_deliver,
    .report_load = opg_report_load,
    .review_load = opg_review_load,
    .list_load = opg_list_load,
    .load_cancel = opg_load_cancel,
};
