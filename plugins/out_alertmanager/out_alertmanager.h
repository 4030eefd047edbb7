/*
 * out_alertmanager internals: out_alertmanager.c (options, life cycle,
 * the re-send thread), out_alertmanager_alert.c (incident version ->
 * Alertmanager alert, deliver()). docs/notifications.md.
 */
#ifndef SN_PLUGINS_OUT_ALERTMANAGER_H
#define SN_PLUGINS_OUT_ALERTMANAGER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include <sentineld/plugin.h>

#include "../common/http_post.h"

struct oa_conf {
    const char *url;
    const char *console_url;
    int64_t resend_ms;
    struct hp_options http;
    struct sn_kvlist header;
};

struct oa_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct oa_conf *c;
    char *alerts_url;         /* url + /api/v2/alerts */
    const char **headers;     /* "Name: value", NULL-terminated */
    struct hp_client *http;   /* deliver(): the relay thread */
    struct hp_client *http_r; /* the re-send thread */
    char *scratch;            /* deliver(): decoded strings of a version */
    size_t scratch_len;

    /* The alert last sent for each incident still firing, keyed by
     * incident id, re-sent every resend interval with a new endsAt so
     * Alertmanager never resolves a live incident by timeout. */
    pthread_mutex_t lock;
    struct json_object *firing;
    pthread_t resender;
    bool resender_started;
    atomic_bool resender_stop;

    struct sn_counter *c_sent, *c_failed, *c_retries, *c_resent, *c_latency_ms,
        *g_firing;
};

enum sn_out_result oa_deliver(void *state, const struct sn_doc *docs, size_t n,
                              uint64_t token, char *why, size_t why_len);
/* Re-sends every firing alert once (the re-send thread). */
void oa_resend(struct oa_state *s);

#endif
