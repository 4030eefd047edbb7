/*
 * in_http: the configured home of events posted to POST /api/v1/events.
 * The HTTP server (control thread, src/http/api_events.c) finds this
 * instance by plugin name and emits into it, so posted events get a name,
 * a parser chain (default json) and counters like any other input. The
 * plugin itself only waits for stop: it has no socket of its own.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <sentineld/plugin.h>

struct ih_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static enum sn_status
ih_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ih_state *s = calloc(1, sizeof(*s));

    (void)host;
    (void)inst;
    (void)config;
    (void)err;
    (void)err_len;
    if (s == NULL)
        return SN_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    *state = s;
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
}

static void
ih_destroy(void *state)
{
    struct ih_state *s = state;

    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

__attribute__((visibility("default")))
const struct sn_plugin sn_plugin_in_http = {
    SN_PLUGIN_HEADER,
    .name = "in_http",
    .kind = SN_KIND_INPUT,
    .description = "events posted to POST /api/v1/events",
    .version = "1",
    .init = ih_init,
    .start = ih_start,
    .stop = ih_stop,
    .destroy = ih_destroy,
    .run = ih_run,
    .default_parser = "json",
};
