/*
 * out_history's configuration and state, shared by the writer
 * (out_history.c, the output's thread) and the search and count routes
 * (out_history_api.c, the control thread). Schema and queries:
 * docs/internals/history.md.
 */
#ifndef SN_OUT_HISTORY_H
#define SN_OUT_HISTORY_H

#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include <sentineld/plugin.h>

struct oh_conf {
    int64_t max_age_ms;
    int64_t max_rows;
};

struct oh_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct oh_conf *c;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *ins_ev, *ins_field, *prune_age_f, *prune_age_e, *prune_rows_f,
        *prune_rows_e, *nth_id;
    int64_t n_rows; /* rows in events, tracked to avoid count(*) */
    dev_t dev;      /* the file the connection has open, to notice */
    ino_t ino;      /* it deleted or replaced under us */
    struct sn_buf *json;
    struct sn_counter *c_written, *c_pruned, *c_errors, *c_reopened;
    /* The routes' read-only connection (control thread only, opened on
     * the first query, reopened when the file is replaced). */
    sqlite3 *rd;
    dev_t rd_dev;
    ino_t rd_ino;
};

/* GET /api/v1/events and GET /api/v1/events/counts (out_history_api.c). */
void oh_api_search(void *state, struct sn_http_req *rq);
void oh_api_counts(void *state, struct sn_http_req *rq);
/* Close the routes' connection; control thread, or destroy(). */
void oh_api_close(struct oh_state *s);

#endif
