/*
 * out_example: a complete out-of-tree output plugin. It writes one line
 * "HOST APP: MSG" per event to a file, counts the events it wrote as
 * sentineld_plugin_example_lines_total, and answers
 * GET /api/v1/plugins/<instance>/lines (viewer) with {"lines":N}. Build it
 * with the Makefile beside it; it needs only the installed
 * <sentineld/plugin.h>.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sentineld/plugin.h>

struct example_conf {
    const char *path;
    const char *prefix;
};

struct example {
    const struct sn_host *host;
    const struct example_conf *conf;
    struct sn_counter *lines;
    /* Written by the output thread, read by the route on the control
     * thread. */
    _Atomic unsigned long long n_lines;
    FILE *f;
};

static const struct sn_option options[] = {
    { .name = "path",
      .type = SN_OPT_STRING,
      .offset = offsetof(struct example_conf, path),
      .help = "file the lines are appended to",
      .required = true },
    { .name = "prefix",
      .type = SN_OPT_STRING,
      .def = "",
      .offset = offsetof(struct example_conf, prefix),
      .help = "text written before every line" },
    { 0 },
};

static enum sn_status
ex_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct example *ex = calloc(1, sizeof(*ex));

    if (ex == NULL)
        return SN_ENOMEM;
    *state = ex;
    ex->host = host;
    ex->conf = config;
    if (host->abi != SN_PLUGIN_ABI) {
        snprintf(err, err_len, "host ABI %u, plugin ABI %d", host->abi,
                 SN_PLUGIN_ABI);
        return SN_EPLUGIN;
    }
    ex->lines = host->counter(inst, "example_lines_total",
                              "lines written by out_example");
    return SN_OK;
}

static enum sn_status
ex_start(void *state, char *err, size_t err_len)
{
    struct example *ex = state;

    ex->f = fopen(ex->conf->path, "a");
    if (ex->f == NULL) {
        snprintf(err, err_len, "cannot open %s: %s", ex->conf->path,
                 strerror(errno));
        return SN_EIO;
    }
    return SN_OK;
}

static void
ex_stop(void *state)
{
    struct example *ex = state;

    if (ex->f != NULL)
        fclose(ex->f);
    ex->f = NULL;
}

static void
ex_destroy(void *state)
{
    free(state);
}

static void
put(FILE *f, struct sn_str s, const char *absent)
{
    if (s.ptr == NULL)
        fputs(absent, f);
    else
        fwrite(s.ptr, 1, s.len, f);
}

static enum sn_out_result
ex_write(void *state, struct sn_batch *b, uint64_t token, char *why,
         size_t why_len)
{
    struct example *ex = state;
    const struct sn_host *h = ex->host;
    size_t n = h->batch_len(b);

    (void)token;
    for (size_t i = 0; i < n; i++) {
        struct sn_event *ev = h->batch_event(b, i);

        fputs(ex->conf->prefix, ex->f);
        put(ex->f, h->event_get(ev, SN_F_HOSTNAME), "-");
        fputc(' ', ex->f);
        put(ex->f, h->event_get(ev, SN_F_APPNAME), "-");
        fputs(": ", ex->f);
        put(ex->f, h->event_get(ev, SN_F_MSG), "");
        fputc('\n', ex->f);
    }
    if (fflush(ex->f) != 0) {
        snprintf(why, why_len, "write %s: %s", ex->conf->path,
                 strerror(errno));
        return SN_OUT_RETRY;
    }
    h->counter_add(ex->lines, n);
    atomic_fetch_add(&ex->n_lines, n);
    return SN_OUT_OK;
}

/* GET /api/v1/plugins/<instance>/lines: the core checked the token's
 * role before this runs, on the control thread. */
static void
ex_lines(void *state, struct sn_http_req *rq)
{
    struct example *ex = state;
    char body[64];
    int len = snprintf(body, sizeof(body), "{\"lines\":%llu}\n",
                       (unsigned long long)atomic_load(&ex->n_lines));

    ex->host->http_reply(rq, 200, "application/json", body, (size_t)len);
}

static const struct sn_http_route routes[] = {
    { .method = "GET",
      .path = "lines",
      .role = SN_ROLE_VIEWER,
      .handler = ex_lines },
    { 0 },
};

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_out_example = {
        SN_PLUGIN_HEADER,
        .name = "out_example",
        .kind = SN_KIND_OUTPUT,
        .description = "example: one 'HOST APP: MSG' line per event",
        .version = "1",
        .options = options,
        .config_size = sizeof(struct example_conf),
        .init = ex_init,
        .start = ex_start,
        .stop = ex_stop,
        .destroy = ex_destroy,
        .write = ex_write,
        .routes = routes,
    };
