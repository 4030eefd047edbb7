/*
 * out_webhook: incidents (`take: incidents`) as HTTP POSTs to a URL, one
 * per incident version that passes the filter, with a body from a preset
 * (the incident document, Slack, Microsoft Teams, PagerDuty Events v2,
 * Opsgenie) or a template, custom headers, and an HMAC-SHA256 signature.
 * Fed by the outbox relay, so outages, retries and kill -9 lose nothing.
 * This file: options and life cycle. docs/notifications.md.
 */
#include "out_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sn_option ow_options[] = {
    { "url", SN_OPT_STRING, NULL, offsetof(struct ow_conf, url),
      "http:// or https:// URL each version is POSTed to", 0, 0, NULL, true },
    { "preset", SN_OPT_ENUM, "incident", offsetof(struct ow_conf, preset),
      "body shape: the incident document, or a channel's payload", 0, 0,
      "incident|slack|teams|pagerduty|opsgenie", false },
    { "template", SN_OPT_STRING, NULL, offsetof(struct ow_conf, template_text),
      "JSON body with {{/pointer}}, {{event}}, {{var.NAME}}... "
      "placeholders; replaces the preset's body",
      0, 0, NULL, false },
    { "secret", SN_OPT_STRING, NULL, offsetof(struct ow_conf, secret),
      "key of the X-Sentineld-Signature: sha256=<hex> HMAC over the body "
      "(usually ${VAR}); unset: unsigned",
      0, 0, NULL, false },
    HP_OPTIONS(struct ow_conf, http, "the receiver's"),
    { "parallel", SN_OPT_INT, "8", offsetof(struct ow_conf, parallel),
      "requests at once (to distinct incidents)", 1, 256, NULL, false },
    { "console_url", SN_OPT_STRING, NULL, offsetof(struct ow_conf, console_url),
      "base URL of the console, for {{console_url}} links "
      "(https://sentineld.example.com)",
      0, 0, NULL, false },
    { "min_severity", SN_OPT_ENUM, "info",
      offsetof(struct ow_conf, min_severity),
      "versions below this severity are not sent", 0, 0,
      "info|low|medium|high|critical", false },
    { "rules", SN_OPT_LIST, NULL, offsetof(struct ow_conf, rules),
      "rule ids (shell globs) whose incidents are sent; unset: all", 0, 0, NULL,
      false },
    { "on", SN_OPT_LIST, NULL, offsetof(struct ow_conf, on),
      "which versions are sent: opened, updated, escalated, acknowledged, "
      "resolved, suppressed, reopened; unset: all",
      0, 0, NULL, false },
    { "header.", SN_OPT_MAP, NULL, offsetof(struct ow_conf, header),
      "extra request headers (header.Authorization: GenieKey ${KEY})", 0, 0,
      NULL, false },
    { "var.", SN_OPT_MAP, NULL, offsetof(struct ow_conf, var),
      "values for {{var.NAME}} placeholders (var.routing_key: ${PD_KEY})", 0, 0,
      NULL, false },
    { 0 },
};

static enum sn_status
parse_on(struct ow_state *s, char *err, size_t err_len)
{
    if (s->c->on.n == 0) {
        s->on_mask = (1u << OW_EV_COUNT_) - 1;
        return SN_OK;
    }
    for (size_t i = 0; i < s->c->on.n; i++) {
        const char *w = s->c->on.items[i];
        int k = 0;

        while (k < OW_EV_COUNT_ && strcmp(ow_event_names[k], w) != 0)
            k++;
        if (k == OW_EV_COUNT_) {
            snprintf(err, err_len,
                     "on: unknown event '%s' (opened, updated, escalated, "
                     "acknowledged, resolved, suppressed, reopened)",
                     w);
            return SN_ECONFIG;
        }
        s->on_mask |= 1u << k;
    }
    return SN_OK;
}

static enum sn_status
ow_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ow_state *s = calloc(1, sizeof(*s));
    enum sn_status rc;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    hp_global_init();
    s->host = host;
    s->inst = inst;
    s->c = config;
    if ((rc = hp_check_url(s->c->url, "url", err, err_len)) != SN_OK)
        return rc;
    if (s->c->console_url != NULL &&
        (rc = hp_check_url(s->c->console_url, "console_url", err, err_len)) !=
            SN_OK)
        return rc;
    if (s->c->secret != NULL && s->c->secret[0] == '\0') {
        snprintf(err, err_len, "secret is empty (unset it to send unsigned)");
        return SN_ECONFIG;
    }
    if ((rc = parse_on(s, err, err_len)) != SN_OK ||
        (rc = hp_headers_new(&s->c->header, &s->headers, err, err_len)) !=
            SN_OK)
        return rc;
    s->body = ow_body_new(s->c->preset, s->c->template_text, &s->c->var,
                          s->c->console_url, err, err_len);
    if (s->body == NULL)
        return SN_ECONFIG;
    if ((s->seen = ow_seen_new()) == NULL ||
        (s->c->secret != NULL &&
         (s->signer = ow_signer_new(s->c->secret)) == NULL))
        return SN_ENOMEM;
    s->c_sent = host->counter(inst, "webhook_sent_total",
                              "incident versions the receiver accepted (2xx)");
    s->c_failed = host->counter(inst, "webhook_failed_total",
                                "versions the receiver refused (4xx other "
                                "than 408/425/429): dead-lettered");
    s->c_retries = host->counter(inst, "webhook_retries_total",
                                 "requests that failed transiently (no "
                                 "answer, timeout, 408/425/429/5xx) and are "
                                 "sent again");
    s->c_filtered = host->counter(inst, "webhook_filtered_total",
                                  "versions not sent because of min_severity, "
                                  "rules or on");
    s->c_latency_ms = host->counter(inst, "webhook_latency_ms_total",
                                    "sum of request times in ms (divide by "
                                    "sent + failed + retries)");
    s->g_latency_ms = host->gauge(inst, "webhook_latency_ms", NULL,
                                  "slowest request of the last batch (ms)");
    return SN_OK;
}

static enum sn_status
ow_start(void *state, char *err, size_t err_len)
{
    struct ow_state *s = state;
    struct hp_conf hc = hp_conf_from(&s->c->http, (long)s->c->parallel);

    if (s->http == NULL && (s->http = hp_client_new(&hc)) == NULL) {
        snprintf(err, err_len, "cannot create the HTTP client");
        return SN_ENOMEM;
    }
    return SN_OK;
}

static void
ow_stop(void *state)
{
    struct ow_state *s = state;

    /* Connections close; a later start opens new ones. */
    hp_client_free(s->http);
    s->http = NULL;
}

static void
ow_destroy(void *state)
{
    struct ow_state *s = state;

    if (s == NULL)
        return;
    hp_client_free(s->http);
    ow_body_free(s->body);
    ow_seen_free(s->seen);
    ow_signer_free(s->signer);
    hp_headers_free(s->headers);
    free(s->done);
    free(s);
}

SN_PLUGIN_EXPORT const struct sn_plugin sn_plugin_out_webhook = {
    SN_PLUGIN_HEADER,
    .name = "out_webhook",
    .kind = SN_KIND_OUTPUT,
    .description = "incidents as signed JSON POSTs to a URL (presets for "
                   "Slack, Teams, PagerDuty, Opsgenie; libcurl)",
    .version = "1",
    .options = ow_options,
    .config_size = sizeof(struct ow_conf),
    .init = ow_init,
    .start = ow_start,
    .stop = ow_stop,
    .destroy = ow_destroy,
    .deliver = ow_deliver,
};
