/*
 * libpq helpers shared by the PostgreSQL-using plugins (pg_conn.h).
 */
#include "pg_conn.h"

#include <stdio.h>
#include <string.h>

enum sn_status
pg_dsn_check(const char *dsn, char *err, size_t err_len)
{
    char *perr = NULL;
    PQconninfoOption *ci = PQconninfoParse(dsn, &perr);
    size_t l;

    if (ci != NULL) {
        PQconninfoFree(ci);
        return SN_OK;
    }
    if (perr == NULL) {
        snprintf(err, err_len, "dsn: out of memory");
        return SN_ENOMEM;
    }
    l = strlen(perr);
    while (l > 0 && perr[l - 1] == '\n')
        perr[--l] = '\0';
    snprintf(err, err_len, "dsn is not a valid libpq connection string: %s",
             perr);
    PQfreemem(perr);
    return SN_ECONFIG;
}

void
pg_dsn_where(const char *dsn, char *out, size_t out_len)
{
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL;
    PQconninfoOption *ci = PQconninfoParse(dsn, NULL);

    if (ci == NULL) {
        snprintf(out, out_len, "(invalid dsn)");
        return;
    }
    for (PQconninfoOption *o = ci; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
    }
    snprintf(out, out_len, "%s:%s/%s",
             host       ? host
             : hostaddr ? hostaddr
                        : "localhost",
             port ? port : "5432", db ? db : "(default)");
    PQconninfoFree(ci);
}

PGconn *
pg_connect(const char *dsn, int64_t connect_timeout_ms, char *why,
           size_t why_len)
{
    char timeout[24], err[512];
    /* Our defaults first: the expanded dsn (dbname, expand_dbname=1)
     * overrides them, so a connect_timeout in the DSN wins. */
    const char *keys[] = { "connect_timeout", "fallback_application_name",
                           "dbname", NULL };
    const char *vals[] = { timeout, "sentineld", dsn, NULL };
    PGconn *conn;

    /* libpq counts whole seconds. */
    snprintf(timeout, sizeof(timeout), "%lld",
             (long long)((connect_timeout_ms + 999) / 1000));
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        snprintf(why, why_len, "cannot connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        pg_result_error(NULL, conn, err, sizeof(err));
        snprintf(why, why_len, "cannot connect to PostgreSQL: %s", err);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

void
pg_result_error(const PGresult *r, const PGconn *conn, char *out,
                size_t out_len)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail =
        r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    size_t l;

    if (msg == NULL) {
        snprintf(out, out_len, "%s", conn ? PQerrorMessage(conn) : "no result");
    } else if (detail != NULL) {
        snprintf(out, out_len, "%s: %s (%s)", state ? state : "?", msg, detail);
    } else {
        snprintf(out, out_len, "%s: %s", state ? state : "?", msg);
    }
    /* libpq's own messages end in newlines; one log line each. */
    l = strlen(out);
    while (l > 0 && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

bool
pg_exec(PGconn *conn, const char *sql, char *why, size_t why_len)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        pg_result_error(r, conn, why, why_len);
    PQclear(r);
    return ok;
}

bool
pg_lock(PGconn *conn, const char *name, char *why, size_t why_len)
{
    const char *params[1] = { name };
    PGresult *r = PQexecParams(conn, "SELECT pg_advisory_lock(hashtext($1))", 1,
                               NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        pg_result_error(r, conn, why, why_len);
    PQclear(r);
    return ok;
}

void
pg_unlock(PGconn *conn, const char *name)
{
    const char *params[1] = { name };

    PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock(hashtext($1))", 1,
                         NULL, params, NULL, NULL, 0));
}

static void
notice_to_log(void *arg, const char *message)
{
    struct pg_notice_log *to = arg;
    size_t l = strlen(message);

    if (l > 0 && message[l - 1] == '\n')
        l--;
    if (to->host->log_enabled(to->inst, SN_LOG_DEBUG))
        to->host->log(to->inst, SN_LOG_DEBUG, "%sserver: %.*s", to->prefix,
                      (int)l, message);
}

void
pg_log_notices(PGconn *conn, struct pg_notice_log *to)
{
    PQsetNoticeProcessor(conn, notice_to_log, to);
}
