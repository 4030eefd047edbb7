/*
 * Building, starting and stopping a pipeline. The per-batch work lives in
 * worker.c (parse, detect, fan out) and output.c (deliver, retry); the
 * input side in emitter.c.
 */
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/limits.h"
#include "config/options.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "journal/journal.h"
#include "core/status.h"
#include "plugin/http_req.h"

static void
labels_for(char *out, size_t len, const char *name)
{
    size_t j = 0;

    j += (size_t)snprintf(out, len, "instance=\"");
    /* Prometheus label values escape backslash, quote and newline. */
    for (const char *p = name; *p && j + 4 < len; p++) {
        if (*p == '\\' || *p == '"') {
            out[j++] = '\\';
            out[j++] = *p;
        } else if (*p == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = *p;
        }
    }
    if (j + 2 <= len) {
        out[j++] = '"';
        out[j] = '\0';
    }
}

static struct sn_instance *
find_instance(struct sn_pipeline *pl, const char *name)
{
    for (size_t i = 0; i < pl->n_insts; i++)
        if (strcmp(pl->insts[i].name, name) == 0)
            return &pl->insts[i];
    return NULL;
}

const struct sn_loss_metric sn_loss_metrics[SN_LOSS_N] = {
    [SN_LOSS_KEYS_EVICTED] = { "sentineld_detection_keys_evicted_total",
                               "correlation keys a detector evicted at a "
                               "bound (max_keys): state lost" },
    [SN_LOSS_EVENTS_DROPPED] = { "sentineld_detection_events_dropped_total",
                                 "events a detector dropped at a key's "
                                 "bound: state lost" },
    [SN_LOSS_LATE_DROPPED] = { "sentineld_detection_late_dropped_total",
                               "events a detector dropped as too late for "
                               "its watermark" },
};

static void
register_counters(struct sn_pipeline *pl, struct sn_instance *in)
{
    struct sn_metrics *m = pl->metrics;

    labels_for(in->labels, sizeof(in->labels), in->name);
    switch (in->kind) {
    case SN_KIND_INPUT:
        in->c_in = sn_metrics_counter(m, "sentineld_input_records_total",
                                      in->labels, "records received");
        in->c_parsed = sn_metrics_counter(m, "sentineld_input_parsed_total",
                                          in->labels,
                                          "records parsed into events");
        in->c_rejected = sn_metrics_counter(
            m, "sentineld_input_rejected_total", in->labels,
            "records no parser accepted (malformed)");
        in->c_dropped = sn_metrics_counter(
            m, "sentineld_input_dropped_total", in->labels,
            "records dropped because the pipeline was full or stopping");
        break;
    case SN_KIND_OUTPUT:
        in->c_out = sn_metrics_counter(m, "sentineld_output_events_total",
                                       in->labels, "events delivered");
        in->c_retry = sn_metrics_counter(m, "sentineld_output_retries_total",
                                         in->labels,
                                         "batch deliveries retried");
        in->c_failed = sn_metrics_counter(
            m, "sentineld_output_failed_total", in->labels,
            "events the output refused permanently (dead-lettered)");
        in->c_dropped = sn_metrics_counter(
            m, "sentineld_output_dropped_total", in->labels,
            "events not delivered: a stop timed out, or the output could "
            "not keep up (when_full: drop)");
        break;
    case SN_KIND_DETECTOR:
        in->c_detect_errors = sn_metrics_counter(
            m, "sentineld_detector_errors_total", in->labels,
            "batches a detector could not look at completely (detect() "
            "returned an error)");
        for (int w = 0; w < SN_LOSS_N; w++)
            in->c_lost[w] =
                sn_metrics_counter(m, sn_loss_metrics[w].name, in->labels,
                                   sn_loss_metrics[w].help);
        break;
    default:
        break;
    }
}

/* The routes in's plugin declares: each valid, and no claimed path
 * (method and path) claimed by an earlier instance as well. Relative
 * paths live under the instance's own name and cannot collide. */
static enum sn_status
check_routes(struct sn_pipeline *pl, struct sn_instance *in,
             struct sn_diags *d)
{
    const char *file = pl->cfg->path;

    for (const struct sn_http_route *r = in->p->routes; r && r->method; r++) {
        const char *why = sn_http_route_invalid(r);

        if (why != NULL) {
            sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line,
                         in->conf->col,
                         "plugin %s declares the HTTP route %s %s, which "
                         "cannot be served: %s",
                         in->p->name, r->method ? r->method : "(null)",
                         r->path ? r->path : "(null)", why);
            return SN_ECONFIG;
        }
        if (r->path[0] != '/')
            continue;
        for (struct sn_instance *o = pl->insts; o < in; o++)
            for (const struct sn_http_route *q = o->p ? o->p->routes : NULL;
                 q && q->method; q++)
                if (strcmp(q->method, r->method) == 0 &&
                    strcmp(q->path, r->path) == 0) {
                    sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line,
                                 in->conf->col,
                                 "%s '%s' would serve %s %s, which '%s' "
                                 "(line %d) serves already; keep one",
                                 sn_kind_name(in->kind), in->name, r->method,
                                 r->path, o->name, o->conf->line);
                    return SN_ECONFIG;
                }
    }
    return SN_OK;
}

/* Create an instance slot for a parser named by an input but not
 * configured: `rfc5424` means plugin parse_rfc5424 with defaults. */
static struct sn_instance *
implicit_parser(struct sn_pipeline *pl, const char *ref, struct sn_diags *d,
                const struct sn_inst_conf *from);

static enum sn_status
init_instance(struct sn_pipeline *pl, struct sn_instance *in,
              struct sn_diags *d)
{
    struct sn_error err;
    char owner[160];
    char why[256] = "";
    const char *file = pl->cfg->path;
    enum sn_status rc;

    sn_error_clear(&err);
    rc = sn_plugin_open(in->conf->plugin, pl->plugin_dirs, &in->lib, &err);
    if (rc != SN_OK) {
        sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line, in->conf->col,
                     "%s '%s': %s", sn_kind_name(in->kind), in->name, err.msg);
        return rc;
    }
    in->p = in->lib->desc;
    if (in->p->kind != in->kind) {
        sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line, in->conf->col,
                     "plugin %s is a %s plugin, not a %s", in->p->name,
                     sn_kind_name(in->p->kind), sn_kind_name(in->kind));
        return SN_ECONFIG;
    }
    if (in->p->flags & SN_PLUGIN_ONE_PER_STATE_DIR) {
        for (struct sn_instance *o = pl->insts; o < in; o++)
            /* By name: each instance reads its own copy of the
             * descriptor (plugin/loader.h). */
            if (o->p != NULL && strcmp(o->p->name, in->p->name) == 0) {
                sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line,
                             in->conf->col,
                             "%s '%s': a second %s instance (the first is "
                             "'%s', line %d) would write the same file "
                             "under daemon.state_dir; keep one",
                             sn_kind_name(in->kind), in->name, in->p->name,
                             o->name, o->conf->line);
                return SN_ECONFIG;
            }
    }
    if (check_routes(pl, in, d) != SN_OK)
        return SN_ECONFIG;
    in->config = calloc(1, in->p->config_size ? in->p->config_size : 1);
    if (in->config == NULL)
        return SN_ENOMEM;
    snprintf(owner, sizeof(owner), "plugin %s", in->p->name);
    rc = sn_options_fill(in->p->options, in->config, in->conf->node,
                         sn_instance_core_keys, owner, &in->conf_arena, d);
    if (rc != SN_OK)
        return rc;
    if (pl->cfg->daemon.state_dir != NULL) {
        size_t len = strlen(pl->cfg->daemon.state_dir) + strlen(in->name) + 2;
        in->state_path = malloc(len);
        if (in->state_path != NULL)
            snprintf(in->state_path, len, "%s/%s", pl->cfg->daemon.state_dir,
                     in->name);
    }
    register_counters(pl, in);
    if (in->p->init != NULL) {
        in->init_diags = d;
        rc = in->p->init(&sn_host_table, in, in->config, &in->state, why,
                         sizeof(why));
        in->init_diags = NULL;
        if (rc != SN_OK) {
            sn_diags_add(d, SN_DIAG_ERROR, file, in->conf->line, in->conf->col,
                         "%s '%s' (plugin %s) failed to initialise: %s",
                         sn_kind_name(in->kind), in->name, in->p->name,
                         why[0] ? why : sn_status_str(rc));
            return rc == SN_OK ? SN_EPLUGIN : rc;
        }
    }
    if (in->kind == SN_KIND_OUTPUT)
        sn_output_port_init(in);
    return SN_OK;
}

static struct sn_inst_conf *
implicit_conf(struct sn_pipeline *pl, const char *plugin,
              const struct sn_inst_conf *from)
{
    struct sn_inst_conf *ic = sn_arena_alloc(&pl->cfg->arena, sizeof(*ic));
    char *name;

    if (ic == NULL)
        return NULL;
    memset(ic, 0, sizeof(*ic));
    name = sn_arena_memdup(&pl->cfg->arena, plugin, strlen(plugin) + 1);
    ic->kind = SN_KIND_PARSER;
    ic->name = name;
    ic->plugin = name;
    ic->line = from->line;
    ic->col = from->col;
    return ic;
}

static struct sn_instance *
implicit_parser(struct sn_pipeline *pl, const char *ref, struct sn_diags *d,
                const struct sn_inst_conf *from)
{
    char plugin[96];
    struct sn_instance *in;

    if (strncmp(ref, "parse_", 6) == 0)
        snprintf(plugin, sizeof(plugin), "%s", ref);
    else
        snprintf(plugin, sizeof(plugin), "parse_%s", ref);
    in = find_instance(pl, plugin);
    if (in != NULL)
        return in;
    in = &pl->insts[pl->n_insts];
    memset(in, 0, sizeof(*in));
    in->pl = pl;
    in->kind = SN_KIND_PARSER;
    in->conf = implicit_conf(pl, plugin, from);
    if (in->conf == NULL)
        return NULL;
    in->name = in->conf->name;
    sn_arena_init(&in->conf_arena, 4096, 0);
    pl->n_insts++;
    if (init_instance(pl, in, d) != SN_OK)
        return NULL;
    return in;
}

static enum sn_status
resolve_parsers(struct sn_pipeline *pl, struct sn_instance *in,
                struct sn_diags *d)
{
    const struct sn_strlist *names = &in->conf->parsers;
    const char *dflt = in->p->default_parser ? in->p->default_parser : "raw";
    size_t n = names->n ? names->n : 1;

    in->input.parsers = calloc(n, sizeof(*in->input.parsers));
    if (in->input.parsers == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *ref = names->n ? names->items[i] : dflt;
        struct sn_instance *p = find_instance(pl, ref);

        if (p != NULL && p->kind != SN_KIND_PARSER) {
            sn_diags_add(d, SN_DIAG_ERROR, pl->cfg->path, in->conf->line,
                         in->conf->col,
                         "input '%s': '%s' is %s %s, not a parser", in->name,
                         ref, p->kind == SN_KIND_DETECTOR ? "a" : "an",
                         sn_kind_name(p->kind));
            return SN_ECONFIG;
        }
        if (p == NULL)
            p = implicit_parser(pl, ref, d, in->conf);
        if (p == NULL)
            return SN_ECONFIG;
        in->input.parsers[in->input.n_parsers++] = p;
    }
    return SN_OK;
}

static enum sn_status
resolve_only(struct sn_pipeline *pl, struct sn_instance *in,
             struct sn_diags *d)
{
    const struct sn_strlist *names = &in->conf->inputs;

    if (names->n == 0)
        return SN_OK;
    in->only = calloc(names->n, sizeof(*in->only));
    if (in->only == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < names->n; i++) {
        struct sn_instance *src = find_instance(pl, names->items[i]);
        if (src == NULL || src->kind != SN_KIND_INPUT) {
            sn_diags_add(d, SN_DIAG_ERROR, pl->cfg->path, in->conf->line,
                         in->conf->col,
                         "%s '%s' takes events from '%s', which is not a "
                         "configured input",
                         sn_kind_name(in->kind), in->name, names->items[i]);
            return SN_ECONFIG;
        }
        in->only[in->n_only++] = src;
    }
    return SN_OK;
}

/* An output takes events (write) or incidents (deliver): the config's
 * `take`, or what the plugin can do. */
static void
resolve_take(struct sn_instance *in, struct sn_diags *d)
{
    const struct sn_inst_conf *ic = in->conf;
    enum sn_take t = ic->take;

    if (in->p == NULL)
        return;
    if (t == SN_TAKE_DEFAULT)
        t = in->p->write != NULL ? SN_TAKE_EVENTS : SN_TAKE_INCIDENTS;
    if (t == SN_TAKE_EVENTS && in->p->write == NULL)
        sn_diags_add(d, SN_DIAG_ERROR, ic->node->file, ic->line, ic->col,
                     "output '%s': plugin %s cannot take events; use "
                     "'take: incidents'",
                     in->name, in->p->name);
    else if (t == SN_TAKE_INCIDENTS && in->p->deliver == NULL)
        sn_diags_add(d, SN_DIAG_ERROR, ic->node->file, ic->line, ic->col,
                     "output '%s': plugin %s cannot take incidents; use "
                     "'take: events'",
                     in->name, in->p->name);
    in->output.takes_incidents = t == SN_TAKE_INCIDENTS;
}

/* An output an escalation step notifies must take incidents: the
 * config's check sees only an explicit `take`, this one the plugin's
 * default too. */
static void
check_notified(struct sn_pipeline *pl, struct sn_diags *d)
{
    const struct sn_esc_conf *e = &pl->cfg->incidents.escalation;

    for (size_t i = 0; i < e->n_policies; i++)
        for (size_t j = 0; j < e->policies[i].n_steps; j++) {
            const struct sn_esc_step *s = &e->policies[i].steps[j];
            for (size_t k = 0; k < s->notify.n; k++) {
                const struct sn_node *at = s->notify_node->type == SN_NODE_SEQ
                                               ? s->notify_node->items[k]
                                               : s->notify_node;
                for (size_t x = 0; x < pl->n_insts; x++)
                    if (pl->insts[x].kind == SN_KIND_OUTPUT &&
                        strcmp(pl->insts[x].name, s->notify.items[k]) == 0 &&
                        !pl->insts[x].output.takes_incidents &&
                        pl->insts[x].conf->take == SN_TAKE_DEFAULT)
                        sn_diags_add(d, SN_DIAG_ERROR, at->file, at->line,
                                     at->col,
                                     "escalation notifies output '%s', "
                                     "which takes events; give it 'take: "
                                     "incidents'",
                                     s->notify.items[k]);
            }
        }
}

enum sn_status
sn_pipeline_build(struct sn_config *cfg, struct sn_metrics *metrics,
                  struct sn_pipeline **out, struct sn_diags *d)
{
    struct sn_pipeline *pl;
    size_t errors_before = d->n_errors;
    size_t cap;
    long ncpu;

    *out = NULL;
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        sn_config_free(cfg);
        return SN_ENOMEM;
    }
    pl->cfg = cfg;
    pl->metrics = metrics;
    /* Before any init(): plugins size per-worker state by host->n_workers. */
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pl->n_workers = cfg->daemon.workers > 0 ? (unsigned)cfg->daemon.workers
                                            : (unsigned)(ncpu > 0 ? ncpu : 1);
    pl->plugin_dirs = sn_plugin_search_path(&cfg->daemon.plugin_path);
    /* Room for every configured instance plus one implicit parser per
     * parser reference. */
    cap = cfg->n_insts;
    for (size_t i = 0; i < cfg->n_insts; i++)
        cap += cfg->insts[i].parsers.n + 1;
    pl->insts = calloc(cap + 1, sizeof(*pl->insts));
    if (pl->insts == NULL)
        goto fail;
    /* Parsers first so inputs can refer to them by name. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cfg->n_insts; i++) {
            struct sn_instance *in;
            bool is_parser = cfg->insts[i].kind == SN_KIND_PARSER;

            if ((pass == 0) != is_parser)
                continue;
            in = &pl->insts[pl->n_insts++];
            in->pl = pl;
            in->conf = &cfg->insts[i];
            in->name = cfg->insts[i].name;
            in->kind = cfg->insts[i].kind;
            /* For the pipeline's life, not the output thread's: /health
             * reads n_pending of every output, incident outputs (which
             * have no thread) and stopped ones included. */
            if (in->kind == SN_KIND_OUTPUT)
                pthread_mutex_init(&in->output.pending_lock, NULL);
            sn_arena_init(&in->conf_arena, 4096, 0);
            init_instance(pl, in, d);
        }
    }
    if (d->n_errors > errors_before)
        goto fail;
    for (size_t i = 0, n = pl->n_insts; i < n; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind == SN_KIND_INPUT)
            resolve_parsers(pl, in, d);
        if (in->kind == SN_KIND_OUTPUT || in->kind == SN_KIND_DETECTOR)
            resolve_only(pl, in, d);
    }
    if (d->n_errors > errors_before)
        goto fail;
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_OUTPUT)
            resolve_take(&pl->insts[i], d);
    check_notified(pl, d);
    if (d->n_errors > errors_before)
        goto fail;
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_OUTPUT &&
            !pl->insts[i].output.takes_incidents &&
            (pl->insts[i].p->flags & SN_PLUGIN_WANTS_JSON))
            pl->render_json = true;
    pl->c_signals_refused = sn_metrics_counter(
        metrics, "sentineld_signals_refused_total", NULL,
        "signals a detector emitted with no incident manager to take them");
    pl->c_pool_in_use = sn_metrics_gauge(
        metrics, "sentineld_pipeline_batches_in_use", NULL,
        "batches held by inputs, workers and outputs");
    *out = pl;
    return SN_OK;
fail:
    sn_pipeline_free(pl);
    return SN_ECONFIG;
}

static void *
input_main(void *arg)
{
    struct sn_instance *in = arg;
    struct sn_pipeline *pl = in->pl;
    bool all_done = true;

    /* Records replayed from the journal go first: windows rebuilt before
     * new records meet them, and what a sender retries is deduplicated
     * by nothing but order. */
    if (pl->journal != NULL)
        sn_journal_wait_replayed(pl->journal, &in->stopping);
    if (!atomic_load(&in->stopping))
        in->p->run(in->state);
    atomic_store(&in->input.finished, true);
    if (!atomic_load(&in->stopping))
        sn_log_info("input '%s' finished", in->name);
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_INPUT &&
            !atomic_load(&pl->insts[i].input.finished))
            all_done = false;
    if (all_done && !atomic_load(&in->stopping) && pl->on_inputs_done)
        pl->on_inputs_done(pl->on_inputs_done_arg);
    return NULL;
}

static enum sn_status
start_instance(struct sn_instance *in, struct sn_error *err)
{
    char why[256] = "";
    enum sn_status rc = SN_OK;

    if (in->p->start != NULL)
        rc = in->p->start(in->state, why, sizeof(why));
    if (rc != SN_OK) {
        sn_error_set(err, "%s '%s' (plugin %s) failed to start: %s",
                     sn_kind_name(in->kind), in->name, in->p->name,
                     why[0] ? why : sn_status_str(rc));
        return rc;
    }
    in->started = true;
    return SN_OK;
}

bool
sn_pipeline_partitions_checkpointed(const struct sn_pipeline *pl,
                                    const char *input, const char *topic)
{
    for (size_t i = 0; i < pl->n_ckpt_topics; i++)
        if (strcmp(pl->ckpt_topics[i].input, input) == 0 &&
            strcmp(pl->ckpt_topics[i].topic, topic) == 0)
            return true;
    return false;
}

/* This store's open incidents of partitions an input restores from its
 * checkpoints stop being folded into, resolved or exported until the
 * input is assigned them again (their import makes them live): another
 * instance may own them now (host->checkpoint_partitions). */
static void
release_checkpointed(struct sn_pipeline *pl)
{
    if (pl->incidents_partition_release == NULL)
        return;
    for (size_t i = 0; i < pl->n_ckpt_topics; i++) {
        struct sn_partition p = { pl->ckpt_topics[i].input,
                                  pl->ckpt_topics[i].topic, -1 };
        pl->incidents_partition_release(pl->signal_sink_arg, &p);
    }
}

enum sn_status
sn_pipeline_start(struct sn_pipeline *pl, struct sn_error *err)
{
    static const enum sn_kind order[] = { SN_KIND_OUTPUT, SN_KIND_DETECTOR,
                                          SN_KIND_PARSER };
    size_t n_pool;

    n_pool = (size_t)pl->cfg->daemon.batch_pool;
    /* A pipeline may be started again after a stop (a reload whose new
     * pipeline failed to start restarts the old one). */
    atomic_store(&pl->aborting, false);
    for (size_t i = 0; i < pl->n_insts; i++) {
        atomic_store(&pl->insts[i].stopping, false);
        if (pl->insts[i].kind == SN_KIND_INPUT)
            atomic_store(&pl->insts[i].input.finished, false);
    }
    pl->pool = sn_batch_pool_new(n_pool);
    if (pl->pool != NULL)
        pl->pool->in_use = pl->c_pool_in_use;
    pl->workers = calloc(pl->n_workers, sizeof(*pl->workers));
    if (pl->pool == NULL || pl->workers == NULL) {
        sn_error_set(err, "out of memory allocating %zu batches", n_pool);
        return SN_ENOMEM;
    }
    release_checkpointed(pl);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < pl->n_insts; i++) {
            struct sn_instance *in = &pl->insts[i];
            if (in->kind != order[k])
                continue;
            if (start_instance(in, err) != SN_OK)
                goto fail;
            if (in->kind == SN_KIND_OUTPUT && !in->output.takes_incidents) {
                /* A ring, not batch->next: every event output holds the
                 * same batches at once. */
                if (!sn_queue_init_ring(&in->output.q, n_pool)) {
                    sn_queue_fini(&in->output.q);
                    sn_error_set(err, "out of memory for output '%s'",
                                 in->name);
                    goto fail;
                }
                if (pthread_create(&in->output.othread, NULL, sn_output_main,
                                   in) != 0) {
                    sn_queue_fini(&in->output.q);
                    sn_error_set(err, "cannot create a thread for output '%s'",
                                 in->name);
                    goto fail;
                }
                in->output.othread_started = true;
            }
        }
    }
    for (unsigned w = 0; w < pl->n_workers; w++) {
        struct sn_worker *wk = &pl->workers[w];
        char labels[32];

        wk->pl = pl;
        wk->index = w;
        /* Shows how evenly the inputs' emitters spread the work. */
        snprintf(labels, sizeof(labels), "worker=\"%u\"", w);
        wk->c_records = sn_metrics_counter(
            pl->metrics, "sentineld_worker_records_total", labels,
            "records this worker thread parsed and ran through the "
            "detectors");
        sn_queue_init(&wk->q);
        sn_buf_init(&wk->json, SN_RECORD_MAX * 8u);
        if (pthread_create(&wk->thread, NULL, sn_worker_main, wk) != 0) {
            sn_error_set(err, "cannot create worker thread %u", w);
            goto fail;
        }
        {
            char num[12];
            snprintf(num, sizeof(num), "%u", w);
            sn_thread_name(wk->thread, "w:", num);
        }
        wk->started = true;
    }
    if (pl->after_outputs_start != NULL &&
        pl->after_outputs_start(pl->after_outputs_start_arg, pl) != SN_OK) {
        sn_error_set(err, "cannot start the incident relays");
        goto fail;
    }
    if (pl->journal != NULL && pl->journal_replay) {
        pl->journal_replay = false;
        if (sn_replay_start(pl, err) != SN_OK)
            goto fail;
    }
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind != SN_KIND_INPUT)
            continue;
        if (start_instance(in, err) != SN_OK)
            goto fail;
        if (in->p->run != NULL) {
            if (pthread_create(&in->input.thread, NULL, input_main, in) != 0) {
                sn_error_set(err, "cannot create a thread for input '%s'",
                             in->name);
                goto fail;
            }
            in->input.thread_started = true;
            sn_thread_name(in->input.thread, "i:", in->name);
        } else {
            atomic_store(&in->input.finished, true);
        }
    }
    sn_log_info("pipeline started: %u workers, %zu batches of %d records",
                pl->n_workers, n_pool, SN_BATCH_MAX_RECORDS);
    return SN_OK;
fail:
    sn_pipeline_stop(pl);
    return SN_EPLUGIN;
}

void
sn_pipeline_stop(struct sn_pipeline *pl)
{
    int64_t deadline;
    size_t stuck;

    if (pl == NULL || pl->pool == NULL)
        return;
    /* 1. Inputs: no new records. */
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind != SN_KIND_INPUT || !in->started)
            continue;
        atomic_store(&in->stopping, true);
        if (in->p->stop != NULL)
            in->p->stop(in->state);
    }
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind == SN_KIND_INPUT && in->input.thread_started) {
            pthread_join(in->input.thread, NULL);
            in->input.thread_started = false;
        }
    }
    sn_replay_join(pl);
    /* 2. Drain: every batch back in the pool, or the timeout. */
    deadline = sn_clock_mono_ns() +
               pl->cfg->daemon.shutdown_timeout_ms * SN_NS_PER_MS;
    if (!sn_batch_pool_wait_idle(pl->pool, deadline)) {
        stuck = sn_batch_pool_in_use(pl->pool);
        sn_log_error("stop: %zu batches still undelivered after %lld ms; "
                     "giving up on them (counted as dropped)",
                     stuck, (long long)pl->cfg->daemon.shutdown_timeout_ms);
        atomic_store(&pl->aborting, true);
        atomic_store(&pl->pool->aborting, true);
    }
    /* 3. Workers, then outputs (outputs drain what workers handed over). */
    for (unsigned w = 0; pl->workers != NULL && w < pl->n_workers; w++)
        if (pl->workers[w].started)
            sn_queue_close(&pl->workers[w].q);
    for (unsigned w = 0; pl->workers != NULL && w < pl->n_workers; w++) {
        if (pl->workers[w].started) {
            pthread_join(pl->workers[w].thread, NULL);
            pl->workers[w].started = false;
            sn_queue_fini(&pl->workers[w].q);
            sn_buf_fini(&pl->workers[w].json);
        }
    }
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind == SN_KIND_OUTPUT && in->output.othread_started)
            sn_queue_close(&in->output.q);
    }
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind == SN_KIND_OUTPUT && in->output.othread_started) {
            pthread_join(in->output.othread, NULL);
            in->output.othread_started = false;
            sn_queue_fini(&in->output.q);
        }
    }
    if (pl->before_outputs_stop != NULL)
        pl->before_outputs_stop(pl->before_outputs_stop_arg, pl);
    /* 4. Everyone else. */
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->started && in->kind != SN_KIND_INPUT && in->p->stop != NULL)
            in->p->stop(in->state);
        in->started = false;
    }
    sn_batch_pool_free(pl->pool);
    pl->pool = NULL;
    free(pl->workers);
    pl->workers = NULL;
}

void
sn_pipeline_free(struct sn_pipeline *pl)
{
    if (pl == NULL)
        return;
    sn_pipeline_stop(pl);
    for (size_t i = 0; i < pl->n_ckpt_topics; i++) {
        free(pl->ckpt_topics[i].input);
        free(pl->ckpt_topics[i].topic);
    }
    free(pl->ckpt_topics);
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->p != NULL && in->p->destroy != NULL && in->state != NULL)
            in->p->destroy(in->state);
        /* Stopped before the output's stop(), freed only now: an
         * acknowledgement may reach it until the output stopped. */
        if (in->kind == SN_KIND_OUTPUT && in->output.port.release != NULL)
            in->output.port.release(&in->output.port);
        sn_plugin_close(in->lib);
        sn_arena_fini(&in->conf_arena);
        free(in->config);
        if (in->kind == SN_KIND_INPUT)
            free(in->input.parsers);
        if (in->kind == SN_KIND_OUTPUT) {
            free(in->output.pending);
            pthread_mutex_destroy(&in->output.pending_lock);
        }
        free(in->only);
        free(in->state_path);
    }
    free(pl->insts);
    sn_plugin_search_path_free(pl->plugin_dirs);
    sn_config_free(pl->cfg);
    free(pl);
}

void
sn_pipeline_reopen(struct sn_pipeline *pl)
{
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->started && in->p->reopen != NULL)
            in->p->reopen(in->state);
    }
}
