/*
 * out_alertmanager: incidents (`take: incidents`) as alerts to a
 * Prometheus Alertmanager (POST /api/v2/alerts), so its routing,
 * grouping, silences, inhibition and receivers (e-mail, Slack, PagerDuty,
 * on-call tools) apply. Fed by the outbox relay like every incident
 * output. This file: options, life cycle and the thread that re-sends
 * firing alerts; out_alertmanager_alert.c builds and posts them.
 * docs/notifications.md.
 */
#include "out_alertmanager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct sn_option oa_options[] = {
    { "url", SN_OPT_STRING, NULL, offsetof(struct oa_conf, url),
      "Alertmanager base URL (http://alertmanager:9093); alerts go to "
      "<url>/api/v2/alerts",
      0, 0, NULL, true },
    { "console_url", SN_OPT_STRING, NULL, offsetof(struct oa_conf, console_url),
      "base URL of the console, for the alert's console annotation and "
      "generatorURL",
      0, 0, NULL, false },
    { "resend_interval", SN_OPT_DURATION, "1m",
      offsetof(struct oa_conf, resend_ms),
      "how often firing alerts are sent again; each carries endsAt four "
      "intervals ahead, so keep it well under Alertmanager's "
      "resolve_timeout",
      1000, 3600000, NULL, false },
    HP_OPTIONS(struct oa_conf, http, "Alertmanager's"),
    { "header.", SN_OPT_MAP, NULL, offsetof(struct oa_conf, header),
      "extra request headers (header.Authorization: Basic ${AM_AUTH})", 0, 0,
      NULL, false },
    { 0 },
};

static enum sn_status
oa_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct oa_state *s = calloc(1, sizeof(*s));
    size_t len;
    enum sn_status rc;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    hp_global_init();
    s->host = host;
    s->inst = inst;
    s->c = config;
    pthread_mutex_init(&s->lock, NULL);
    if ((rc = hp_check_url(s->c->url, "url", err, err_len)) != SN_OK)
        return rc;
    if (s->c->console_url != NULL &&
        (rc = hp_check_url(s->c->console_url, "console_url", err, err_len)) !=
            SN_OK)
        return rc;
    len = strlen(s->c->url);
    while (len > 0 && s->c->url[len - 1] == '/')
        len--;
    if ((s->alerts_url = malloc(len + sizeof("/api/v2/alerts"))) == NULL)
        return SN_ENOMEM;
    snprintf(s->alerts_url, len + sizeof("/api/v2/alerts"),
             "%.*s/api/v2/alerts", (int)len, s->c->url);
    if ((rc = hp_headers_new(&s->c->header, &s->headers, err, err_len)) !=
        SN_OK)
        return rc;
    if ((s->firing = json_object_new_object()) == NULL)
        return SN_ENOMEM;
    s->c_sent = host->counter(inst, "alertmanager_sent_total",
                              "alerts Alertmanager accepted (firing, "
                              "resolved and ended ones)");
    s->c_failed = host->counter(inst, "alertmanager_failed_total",
                                "requests Alertmanager refused (4xx): "
                                "dead-lettered");
    s->c_retries = host->counter(inst, "alertmanager_retries_total",
                                 "requests that failed transiently and are "
                                 "sent again");
    s->c_resent = host->counter(inst, "alertmanager_resent_total",
                                "firing alerts re-sent so Alertmanager keeps "
                                "them firing");
    s->c_latency_ms = host->counter(inst, "alertmanager_latency_ms_total",
                                    "sum of request times in ms");
    s->g_firing = host->gauge(inst, "alertmanager_firing", NULL,
                              "incidents this output keeps firing");
    return SN_OK;
}

static void *
resend_main(void *arg)
{
    struct oa_state *s = arg;
    int64_t waited = 0;

    while (!atomic_load(&s->resender_stop)) {
        struct timespec ts = { 0, 100 * 1000000L };

        nanosleep(&ts, NULL);
        waited += 100;
        if (waited >= s->c->resend_ms) {
            waited = 0;
            oa_resend(s);
        }
    }
    return NULL;
}

static enum sn_status
oa_start(void *state, char *err, size_t err_len)
{
    struct oa_state *s = state;
    struct hp_conf hc = hp_conf_from(&s->c->http, 2);

    if ((s->http == NULL && (s->http = hp_client_new(&hc)) == NULL) ||
        (s->http_r == NULL && (s->http_r = hp_client_new(&hc)) == NULL)) {
        snprintf(err, err_len, "cannot create the HTTP client");
        return SN_ENOMEM;
    }
    atomic_store(&s->resender_stop, false);
    if (pthread_create(&s->resender, NULL, resend_main, s) != 0) {
        snprintf(err, err_len, "cannot create the re-send thread");
        return SN_EPLUGIN;
    }
    s->resender_started = true;
    return SN_OK;
}

static void
oa_stop(void *state)
{
    struct oa_state *s = state;

    if (s->resender_started) {
        atomic_store(&s->resender_stop, true);
        pthread_join(s->resender, NULL);
        s->resender_started = false;
    }
    hp_client_free(s->http);
    hp_client_free(s->http_r);
    s->http = s->http_r = NULL;
}

static void
oa_destroy(void *state)
{
    struct oa_state *s = state;

    if (s == NULL)
        return;
    oa_stop(s);
    json_object_put(s->firing);
    hp_headers_free(s->headers);
    free(s->alerts_url);
    free(s->scratch);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

SN_PLUGIN_EXPORT const struct sn_plugin sn_plugin_out_alertmanager = {
    SN_PLUGIN_HEADER,
    .name = "out_alertmanager",
    .kind = SN_KIND_OUTPUT,
    .description = "incidents as Prometheus Alertmanager alerts (labels "
                   "for routing and grouping, resolved with the incident)",
    .version = "1",
    .options = oa_options,
    .config_size = sizeof(struct oa_conf),
    .init = oa_init,
    .start = oa_start,
    .stop = oa_stop,
    .destroy = oa_destroy,
    .deliver = oa_deliver,
};
