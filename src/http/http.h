/*
 * The control thread's HTTP listener (libevent evhttp, optionally over
 * TLS): /health, /health/ready, /metrics, the JSON API under /api/v1 with
 * bearer-token roles, the live feed (SSE, WebSocket) and the web console's
 * static files. Runs on the control thread's event base only; the
 * listener and its settings are fixed at start (a reload keeps them).
 * Design and routes: docs/internals/http.md, docs/api.md.
 */
#ifndef SN_HTTP_HTTP_H
#define SN_HTTP_HTTP_H

#include <event2/event.h>

#include "config/config.h"
#include "core/error.h"
#include "metrics/metrics.h"

struct sn_http;
struct sn_pipeline;

/* What the daemon lends the HTTP side; everything outlives the server. */
struct sn_http_env {
    struct sn_metrics *metrics;
    struct sn_pipeline **pl; /* the running pipeline (changes on reload) */
    /* POST /api/v1/rules/reload: the SIGHUP path. Returns true when the
     * new configuration was applied. */
    bool (*reload)(void *arg);
    void *reload_arg;
    const char *state_dir;
    const char *db_path; /* the incident store */
    bool four_eyes;      /* incidents.four_eyes: no self-approval */
};

/* Bind conf->listen ("host:port", IPv6 as "[::1]:8514") on base. conf's
 * strings are copied. */
enum sn_status sn_http_start(struct event_base *base,
                             const struct sn_http_conf *conf,
                             const struct sn_http_env *env,
                             struct sn_http **out, struct sn_error *err);
void sn_http_free(struct sn_http *h);

#endif
