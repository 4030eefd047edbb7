/*
 * Liveness, readiness, metrics and whoami. Readiness reports what the
 * pipeline actually knows: whether each input's thread runs (inputs do
 * not report their sockets to the core), each output's queue depth and
 * failures, and whether the store directory is writable. It says 503 when
 * any part is not ready so a load balancer can act on it.
 */
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "http/http_int.h"
#include "pipeline/pipeline.h"

/* Liveness stays 200 ("the process serves"), but says when detection
 * lost state: correlation keys evicted at the rules' max_keys, events
 * dropped by a key's bound, events too late for the watermark (what
 * detectors report through host->detection_lost, summed over detector
 * instances). Lost state is health, not an incident
 * under a rule's title (docs/incidents.md "Detection degraded"). */
void
sn_api_health(struct sn_req *rq)
{
    struct sn_metrics *m = rq->h->env.metrics;
    uint64_t evicted, dropped, late;
    struct sn_buf b;

    evicted = sn_metrics_sum(m, sn_loss_metrics[SN_LOSS_KEYS_EVICTED].name, "");
    dropped =
        sn_metrics_sum(m, sn_loss_metrics[SN_LOSS_EVENTS_DROPPED].name, "");
    late = sn_metrics_sum(m, sn_loss_metrics[SN_LOSS_LATE_DROPPED].name, "");
    sn_buf_init(&b, 4096);
    /* "replaying": the ingest journal is being replayed at start; inputs
     * accept nothing until it is done (docs/journal.md). */
    sn_buf_printf(&b,
                  "{\"status\":\"%s\",\"detection\":{\"degraded\":%s,"
                  "\"keys_evicted\":%llu,\"events_dropped\":%llu,"
                  "\"late_dropped\":%llu}}\n",
                  sn_metrics_value(m, "sentineld_journal_replaying", NULL) != 0
                      ? "replaying"
                      : "ok",
                  evicted + dropped > 0 ? "true" : "false",
                  (unsigned long long)evicted, (unsigned long long)dropped,
                  (unsigned long long)late);
    sn_reply_json(rq, 200, &b);
    sn_buf_fini(&b);
}

static bool
store_writable(struct sn_http *h)
{
    if (h->env.db_path != NULL && access(h->env.db_path, F_OK) == 0)
        return access(h->env.db_path, W_OK) == 0;
    return h->env.state_dir != NULL && access(h->env.state_dir, W_OK) == 0;
}

void
sn_api_ready(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    struct sn_pipeline *pl = *h->env.pl;
    struct sn_buf b;
    bool ready = true, store = store_writable(h), first;

    ready = store;
    sn_buf_init(&b, 1u << 20);
    SN_BUF_LIT(&b, "{\"store\":{\"path\":");
    sn_json_str_or_null(&b, h->env.db_path,
                        h->env.db_path ? strlen(h->env.db_path) : 0);
    sn_buf_printf(&b, ",\"writable\":%s},\"inputs\":[",
                  store ? "true" : "false");
    first = true;
    for (size_t i = 0; pl && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        bool running;
        if (in->kind != SN_KIND_INPUT)
            continue;
        running = in->input.thread_started && !atomic_load(&in->input.finished);
        ready = ready && running;
        sn_buf_puts(&b, first ? "{" : ",{");
        first = false;
        sn_json_key(&b, "name");
        sn_json_str(&b, in->name, strlen(in->name));
        sn_buf_putc(&b, ',');
        sn_json_key(&b, "plugin");
        sn_json_str(&b, in->conf->plugin, strlen(in->conf->plugin));
        sn_buf_printf(&b, ",\"state\":\"%s\",\"received\":%llu}",
                      running ? "running" : "stopped",
                      (unsigned long long)sn_counter_get(in->c_in));
    }
    SN_BUF_LIT(&b, "],\"outputs\":[");
    first = true;
    for (size_t i = 0; pl && i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        bool running;
        size_t pending;
        if (in->kind != SN_KIND_OUTPUT)
            continue;
        running = in->output.takes_incidents ? in->started
                                             : in->output.othread_started;
        ready = ready && running;
        pthread_mutex_lock(&in->output.pending_lock);
        pending = in->output.n_pending;
        pthread_mutex_unlock(&in->output.pending_lock);
        sn_buf_puts(&b, first ? "{" : ",{");
        first = false;
        sn_json_key(&b, "name");
        sn_json_str(&b, in->name, strlen(in->name));
        sn_buf_putc(&b, ',');
        sn_json_key(&b, "plugin");
        sn_json_str(&b, in->conf->plugin, strlen(in->conf->plugin));
        sn_buf_printf(
            &b,
            ",\"state\":\"%s\",\"takes\":\"%s\",\"queued_batches\":%zu,"
            "\"pending_batches\":%zu,\"delivered\":%llu,\"failed\":%llu}",
            running ? "running" : "stopped",
            in->output.takes_incidents ? "incidents" : "events",
            in->output.takes_incidents ? (size_t)0
                                       : sn_queue_len(&in->output.q),
            pending, (unsigned long long)sn_counter_get(in->c_out),
            (unsigned long long)sn_counter_get(in->c_failed));
    }
    sn_buf_printf(&b, "],\"ready\":%s}\n", ready ? "true" : "false");
    sn_reply_json(rq, ready ? 200 : 503, &b);
    sn_buf_fini(&b);
}

void
sn_api_metrics(struct sn_req *rq)
{
    struct sn_buf b;

    sn_buf_init(&b, 64u * 1024 * 1024);
    if (sn_metrics_render(rq->h->env.metrics, &b) != SN_OK) {
        sn_buf_fini(&b);
        sn_reply_error(rq, 500, "internal", "metrics too large");
        return;
    }
    sn_reply(rq, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    sn_buf_fini(&b);
}

void
sn_api_whoami(struct sn_req *rq)
{
    struct sn_buf b;

    sn_buf_init(&b, 4096);
    SN_BUF_LIT(&b, "{\"name\":");
    sn_json_str(&b, rq->actor, strlen(rq->actor));
    sn_buf_printf(&b,
                  ",\"role\":\"%s\",\"auth\":%s,\"approve_role\":\"%s\","
                  "\"self_approval\":%s}\n",
                  sn_role_name(rq->role), rq->h->conf.auth ? "true" : "false",
                  rq->h->conf.approve_role ? "admin" : "operator",
                  rq->h->env.four_eyes ? "false" : "true");
    sn_reply_json(rq, 200, &b);
    sn_buf_fini(&b);
}
