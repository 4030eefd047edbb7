/*
 * Shared by out_postgres and in_kafka (partition checkpoints): the libpq
 * parts that do not depend on what a plugin stores — checking a DSN at
 * init, connecting with sentineld's defaults, one-line server errors,
 * naming the server in messages without the password, and session
 * advisory locks that serialise schema changes between instances. libpq
 * types stay inside the plugins that include this (STYLE.md 4).
 */
#ifndef SN_PLUGINS_PG_CONN_H
#define SN_PLUGINS_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <sentineld/plugin.h>

/* SN_OK when dsn parses as a libpq connection string or URL; otherwise
 * SN_ECONFIG (SN_ENOMEM) with libpq's reason in err. */
enum sn_status pg_dsn_check(const char *dsn, char *err, size_t err_len);

/* "host:port/dbname" of dsn for log lines and errors: never the password.
 * Missing parts read as libpq's defaults would ("localhost", "5432"). */
void pg_dsn_where(const char *dsn, char *out, size_t out_len);

/* Connect (blocking, up to connect_timeout_ms rounded up to seconds; a
 * connect_timeout in the DSN wins). NULL with the reason in why. */
PGconn *pg_connect(const char *dsn, int64_t connect_timeout_ms, char *why,
                   size_t why_len);

/* Where a connection's server notices ("relation already exists,
 * skipping") go: the instance's debug log, not every start's log. Must
 * outlive the connection (keep it in the plugin's state). */
struct pg_notice_log {
    const struct sn_host *host;
    struct sn_instance *inst;
    const char *prefix; /* e.g. "checkpoints: " or "" */
};
void pg_log_notices(PGconn *conn, struct pg_notice_log *to);

/* One line of the server's error: "SQLSTATE: message (detail)", or
 * libpq's connection message when r holds none. */
void pg_result_error(const PGresult *r, const PGconn *conn, char *out,
                     size_t out_len);

/* Run one statement without parameters or results; false with why. */
bool pg_exec(PGconn *conn, const char *sql, char *why, size_t why_len);

/* Session advisory lock on hashtext(name), held until pg_unlock or the
 * connection closes (so a failure in between cannot leave it held). */
bool pg_lock(PGconn *conn, const char *name, char *why, size_t why_len);
void pg_unlock(PGconn *conn, const char *name);

#endif
