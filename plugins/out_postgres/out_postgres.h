/*
 * out_postgres internals shared by its files: the config the core fills,
 * the connection state, and the entry points of the migrator
 * (out_postgres_migrate.c) and the writer (out_postgres_write.c). Not part
 * of the plugin ABI: only out_postgres.c exports a symbol. libpq types stay
 * inside this plugin (STYLE.md 4). docs/out_postgres.md describes the
 * schema, the migrations and the delivery semantics.
 */
#ifndef SN_OUT_POSTGRES_H
#define SN_OUT_POSTGRES_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <sentineld/plugin.h>

#include "../common/pg_conn.h"

struct opg_conf {
    const char *dsn;
    const char *schema;
    int64_t batch;
    int64_t connect_timeout_ms;
    int64_t statement_timeout_ms;
    const char *migrations_dir;
    bool reports; /* answer GET /api/v1/reports (out_postgres_report.c) */
};

struct opg_reports;

struct opg_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct opg_conf *c;
    const char *migrations_dir; /* option, else $SENTINELD_SQL_DIR, else
                                   the installed directory */
    PGconn *conn;               /* NULL while disconnected */
    struct pg_notice_log notices;
    bool migrated;      /* migrations checked on this process */
    bool was_down;      /* the last attempt failed: log recovery */
    struct sn_buf *buf; /* the batch as one JSON array */

    struct sn_counter *c_upserts;       /* incident rows written */
    struct sn_counter *c_stale;         /* versions not newer than the row's */
    struct sn_counter *c_audit;         /* audit rows appended */
    struct sn_counter *c_reconnect;     /* connections (re)established */
    struct sn_counter *c_errors;        /* failed attempts of any kind */
    struct sn_counter *c_bad_docs;      /* documents refused by the database */
    struct sn_counter *c_migrations;    /* migration files applied */
    struct sn_counter *c_reports;       /* reports answered */
    struct sn_counter *c_report_errors; /* reports refused or failed */
    struct sn_counter *c_report_cancels; /* dropped: their client left */

    struct opg_reports *reports; /* NULL unless reports: true and started */
};

/* Connect (and on the first success migrate). false: not usable now;
 * why says what failed, *permanent tells a configuration problem (bad
 * DSN, changed migration) from an outage. */
bool opg_connect(struct opg_state *s, char *why, size_t why_len,
                 bool *permanent);
/* Drop the connection (after an error that may have broken it). */
void opg_disconnect(struct opg_state *s);

/* Apply the migrations of s->migrations_dir that schema_migrations does
 * not list, under an advisory lock. false with why on any error. */
bool opg_migrate(struct opg_state *s, char *why, size_t why_len);

/* The deliver() callback. */
enum sn_out_result opg_deliver(void *state, const struct sn_doc *docs, size_t n,
                               uint64_t token, char *why, size_t why_len);

/* Session setup of a new connection: statement_timeout and the schema
 * on the search path. false with why. */
bool opg_session_setup(PGconn *conn, const struct opg_conf *c, char *why,
                       size_t why_len);

/* Run a statement without results; false with why on error. */
bool opg_exec(struct opg_state *s, const char *sql, char *why, size_t why_len);

/* The report source (out_postgres_report.c): report_load() queues for
 * a thread of its own, with its own connection; start creates it when
 * the `reports` option is on, stop answers what is queued and joins. */
enum sn_status opg_report_load(void *state, int64_t since_ns, int64_t until_ns,
                               size_t max, sn_report_done_fn done, void *arg);
/* The post-incident review's document from the shared tables, on the
 * same queue and thread as the reports (SN_DECLINED unless reports). */
/* A page of the incident list from the shared tables (list_load). */
enum sn_status opg_list_load(void *state, const struct sn_list_query *q,
                             sn_list_done_fn done, void *arg);
enum sn_status opg_review_load(void *state, const char *id,
                               sn_review_done_fn done, void *arg);
/* load_cancel: a queued request is answered at once, a running query
 * cancelled by the report thread. */
void opg_load_cancel(void *state, void *arg);
enum sn_status opg_reports_start(struct opg_state *s, char *err,
                                 size_t err_len);
void opg_reports_stop(struct opg_state *s);

#endif
