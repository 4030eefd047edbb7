/*
 * in_http: events posted to POST /api/v1/events. The plugin claims the
 * route in its descriptor; the core's HTTP server authenticates the
 * caller (operator), applies its limits and hands the request to
 * in_http_post.c, which emits the events into the pipeline like any
 * input's records (this instance's name, parser chain, default json, and
 * counters). The input thread only waits for stop: the records come from
 * the control thread's handler.
 */
#include "in_http.h"

#include <stdlib.h>

static enum sn_status
ih_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ih_state *s = calloc(1, sizeof(*s));

    (void)config;
    (void)err;
    (void)err_len;
    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->c_events = host->counter(inst, "http_events_total",
                                "events accepted from POST /api/v1/events");
    s->c_rejected = host->counter(
        inst, "http_events_rejected_total",
        "events POST /api/v1/events refused (bad JSON, too many, pipeline "
        "full)");
    if (s->c_events == NULL || s->c_rejected == NULL)
        return SN_ENOMEM;
    return SN_OK;
}

static enum sn_status
ih_start(void *state, char *err, size_t err_len)
{
    struct ih_state *s = state;

    (void)err;
    (void)err_len;
    pthread_mutex_lock(&s->lock);
    s->stop = false;
    pthread_mutex_unlock(&s->lock);
    return SN_OK;
}

static void
ih_run(void *state)
{
    struct ih_state *s = state;

    pthread_mutex_lock(&s->lock);
    while (!s->stop)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void
ih_stop(void *state)
{
    struct ih_state *s = state;

    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    /* Flushed after every request, so nothing is pending; freed while the
     * pipeline it belongs to is still whole. */
    s->host->emitter_free(s->em);
    s->em = NULL;
}

static void
ih_destroy(void *state)
{
    struct ih_state *s = state;

    if (s == NULL)
        return;
    if (s->em != NULL)
        s->host->emitter_free(s->em);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

static const struct sn_http_route routes[] = {
    { .method = "POST",
      .path = "/api/v1/events",
      .role = SN_ROLE_OPERATOR,
      .handler = ih_post_events },
    { 0 },
};

SN_PLUGIN_EXPORT const struct sn_plugin sn_plugin_in_http = {
    SN_PLUGIN_HEADER,
    .name = "in_http",
    .kind = SN_KIND_INPUT,
    .description = "events posted to POST /api/v1/events",
    .version = "2",
    .init = ih_init,
    .start = ih_start,
    .stop = ih_stop,
    .destroy = ih_destroy,
    .run = ih_run,
    .default_parser = "json",
    .routes = routes,
};
