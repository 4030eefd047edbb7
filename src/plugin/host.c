/*
 * The host function table handed to every plugin (struct sn_host in
 * plugin.h): thin adapters from the public ABI to core internals, so
 * plugins never link against daemon symbols.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "pipeline/emitter.h"
#include "pipeline/partition.h"
#include "pipeline/pipeline.h"
#include "plugin/http_req.h"

static void
h_log(struct sn_instance *in, enum sn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
h_log(struct sn_instance *in, enum sn_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sn_log_v(level, in ? in->name : NULL, fmt, ap);
    va_end(ap);
}

static bool
h_log_enabled(struct sn_instance *in, enum sn_log_level level)
{
    (void)in;
    return sn_log_enabled(level);
}

static struct sn_counter *
h_counter(struct sn_instance *in, const char *name, const char *help)
{
    char full[160];

    snprintf(full, sizeof(full), "sentineld_plugin_%s", name);
    return sn_metrics_counter(in->pl->metrics, full, in->labels, help);
}

static struct sn_counter *
h_gauge(struct sn_instance *in, const char *name, const char *labels,
        const char *help)
{
    char full[160], all[512];

    snprintf(full, sizeof(full), "sentineld_plugin_%s", name);
    if (labels == NULL || labels[0] == '\0')
        return sn_metrics_gauge(in->pl->metrics, full, in->labels, help);
    snprintf(all, sizeof(all), "%s,%s", in->labels, labels);
    return sn_metrics_gauge(in->pl->metrics, full, all, help);
}

static struct sn_counter *
h_counter_labels(struct sn_instance *in, const char *name, const char *labels,
                 const char *help)
{
    char full[160], all[512];

    snprintf(full, sizeof(full), "sentineld_plugin_%s", name);
    if (labels == NULL || labels[0] == '\0')
        return sn_metrics_counter(in->pl->metrics, full, in->labels, help);
    snprintf(all, sizeof(all), "%s,%s", in->labels, labels);
    return sn_metrics_counter(in->pl->metrics, full, all, help);
}

static void
h_detection_lost(struct sn_instance *in, enum sn_loss what, uint64_t n)
{
    if ((unsigned)what < SN_LOSS_N)
        sn_counter_add(in->c_lost[what], n);
}

static void
h_gauge_set(struct sn_counter *c, uint64_t v)
{
    sn_gauge_set(c, v);
}

static uint64_t
h_emit_seq(const struct sn_emitter *em)
{
    return em->last_seq;
}

static bool
h_journal_on(struct sn_instance *inst)
{
    return inst->pl->journal != NULL;
}

static void
h_config_diag(struct sn_instance *inst, bool is_error, const char *file,
              int line, int col, const char *msg)
{
    if (inst->init_diags != NULL) {
        sn_diags_add(inst->init_diags,
                     is_error ? SN_DIAG_ERROR : SN_DIAG_WARNING, file, line,
                     col, "%s", msg);
        return;
    }
    h_log(inst, is_error ? SN_LOG_ERROR : SN_LOG_WARN, "%s:%d:%d: %s",
          file != NULL ? file : "-", line, col, msg);
}

static void
h_counter_add(struct sn_counter *c, uint64_t n)
{
    sn_counter_add(c, n);
}

static uint64_t
h_counter_value(const struct sn_counter *c)
{
    return c != NULL ? sn_counter_get(c) : 0;
}

static const char *
h_instance_name(struct sn_instance *in)
{
    return in->name;
}

static unsigned
h_n_workers(struct sn_instance *in)
{
    return in->pl->n_workers;
}

static struct sn_emitter *
h_emitter_new(struct sn_instance *in, bool drop_when_full)
{
    return sn_emitter_new(in, drop_when_full);
}

static bool
h_stopping(struct sn_instance *in)
{
    return atomic_load_explicit(&in->stopping, memory_order_relaxed);
}

static const char *
h_state_dir(struct sn_instance *in)
{
    return in->state_path;
}

static bool
h_event_has(const struct sn_event *ev, enum sn_field f)
{
    return sn_event_get(ev, f).ptr != NULL;
}

static void
h_set_pri(struct sn_event *ev, int pri)
{
    ev->hdr.pri = pri;
}

static int
h_pri(const struct sn_event *ev)
{
    return ev->hdr.pri;
}

static void
h_set_version(struct sn_event *ev, int v)
{
    ev->hdr.version = v;
}

static void
h_set_time(struct sn_event *ev, int64_t ns)
{
    ev->hdr.has_time = true;
    ev->hdr.time_ns = ns;
}

static bool
h_time(const struct sn_event *ev, int64_t *ns)
{
    if (!ev->hdr.has_time)
        return false;
    *ns = ev->hdr.time_ns;
    return true;
}

static const struct sn_record *
h_record(const struct sn_event *ev)
{
    return &ev->rec;
}

static void
h_set_has_sd(struct sn_event *ev, bool has_sd)
{
    ev->hdr.has_sd = has_sd;
}

static bool
h_field(const struct sn_event *ev, struct sn_str key, struct sn_value *out)
{
    const struct sn_value *v = sn_event_field(ev, key);

    if (v == NULL)
        return false;
    *out = *v;
    return true;
}

static size_t
h_n_fields(const struct sn_event *ev)
{
    return ev->n_fields;
}

static void
h_field_at(const struct sn_event *ev, size_t i, struct sn_str *key,
           struct sn_value *out)
{
    *key = ev->fields[i].key;
    *out = ev->fields[i].val;
}

static void
h_note(struct sn_event *ev, const char *text)
{
    sn_syslog_msg_note(&ev->hdr, text);
}

static size_t
h_batch_len(const struct sn_batch *b)
{
    return b->n;
}

static struct sn_event *
h_batch_event(const struct sn_batch *b, size_t i)
{
    return i < b->n ? &b->events[i] : NULL;
}

static struct sn_str
h_buf_str(const struct sn_buf *b)
{
    struct sn_str s = { b->data, b->len };
    return s;
}

static void
h_output_ack(struct sn_instance *in, uint64_t token, enum sn_out_result r,
             const char *reason)
{
    sn_output_ack(in, token, r, reason);
}

static enum sn_status
h_signal_emit(struct sn_instance *in, const char *json, size_t len)
{
    struct sn_pipeline *pl = in->pl;

    /* Counted before it is submitted: an input that reads the count
     * before taking a checkpoint sees this signal's change in the
     * checkpoint or saves the partition again at its next one. */
    if (!sn_worker_detecting())
        atomic_fetch_add_explicit(&pl->unprompted_signals, 1,
                                  memory_order_relaxed);
    if (pl->signal_sink == NULL) {
        sn_counter_add(pl->c_signals_refused, 1);
        return SN_DECLINED;
    }
    return pl->signal_sink(pl->signal_sink_arg, in, json, len);
}

static uint64_t
h_unprompted_signals(struct sn_instance *in)
{
    return atomic_load_explicit(&in->pl->unprompted_signals,
                                memory_order_relaxed);
}

static void
h_checkpoint_partitions(struct sn_instance *in, const char *topic)
{
    struct sn_pipeline *pl = in->pl;
    struct sn_ckpt_topic *t;

    if (sn_pipeline_partitions_checkpointed(pl, in->name, topic))
        return;
    t = realloc(pl->ckpt_topics, (pl->n_ckpt_topics + 1) * sizeof(*t));
    if (t == NULL)
        return; /* state kept as before: correct, only less safe */
    pl->ckpt_topics = t;
    t[pl->n_ckpt_topics].input = strdup(in->name);
    t[pl->n_ckpt_topics].topic = strdup(topic);
    if (t[pl->n_ckpt_topics].input == NULL ||
        t[pl->n_ckpt_topics].topic == NULL) {
        free(t[pl->n_ckpt_topics].input);
        free(t[pl->n_ckpt_topics].topic);
        return;
    }
    pl->n_ckpt_topics++;
}

static bool
h_partitions_checkpointed(struct sn_instance *in, const char *input,
                          const char *topic)
{
    return sn_pipeline_partitions_checkpointed(in->pl, input, topic);
}

static bool
h_signals_stored(struct sn_instance *in, int timeout_ms)
{
    struct sn_pipeline *pl = in->pl;

    if (pl->signals_stored == NULL)
        return true;
    return pl->signals_stored(pl->signal_sink_arg, timeout_ms);
}

const struct sn_host sn_host_table = {
    .abi = SN_PLUGIN_ABI,
    .struct_size = sizeof(struct sn_host),
    .log = h_log,
    .log_enabled = h_log_enabled,
    .counter = h_counter,
    .counter_add = h_counter_add,
    .n_workers = h_n_workers,
    .emitter_new = h_emitter_new,
    .emit = sn_emitter_emit,
    .flush = sn_emitter_flush,
    .emitter_free = sn_emitter_free,
    .stopping = h_stopping,
    .state_dir = h_state_dir,
    .event_alloc = sn_event_alloc,
    .event_set = sn_event_set,
    .event_get = sn_event_get,
    .event_has = h_event_has,
    .event_set_pri = h_set_pri,
    .event_pri = h_pri,
    .event_set_version = h_set_version,
    .event_set_time = h_set_time,
    .event_time = h_time,
    .event_record = h_record,
    .event_set_has_sd = h_set_has_sd,
    .event_add_sd = sn_event_add_sd,
    .event_set_field = sn_event_set_field,
    .event_field = h_field,
    .event_n_fields = h_n_fields,
    .event_field_at = h_field_at,
    .event_note = h_note,
    .batch_len = h_batch_len,
    .batch_event = h_batch_event,
    .buf_new = sn_buf_new,
    .buf_free = sn_buf_free,
    .buf_reset = sn_buf_reset,
    .buf_str = h_buf_str,
    .buf_append = sn_buf_append,
    .event_to_json = sn_event_to_json,
    .output_ack = h_output_ack,
    .signal_emit = h_signal_emit,
    .gauge = h_gauge,
    .gauge_set = h_gauge_set,
    .emit_seq = h_emit_seq,
    .signals_stored = h_signals_stored,
    .partition_checkpoint = sn_partition_checkpoint,
    .counter_labels = h_counter_labels,
    .partition_restore = sn_partition_restore,
    .partition_release = sn_partition_release,
    .http_method = sn_host_http_method,
    .http_param = sn_host_http_param,
    .http_query = sn_host_http_query,
    .http_header = sn_host_http_header,
    .http_body = sn_host_http_body,
    .http_actor = sn_host_http_actor,
    .http_reply = sn_host_http_reply,
    .http_reply_error = sn_host_http_reply_error,
    .http_log = sn_host_http_log,
    .counter_value = h_counter_value,
    .instance_name = h_instance_name,
    .http_query_at = sn_host_http_query_at,
    .detection_lost = h_detection_lost,
    .journal_on = h_journal_on,
    .flush_sync = sn_emitter_flush_sync,
    .config_diag = h_config_diag,
    .unprompted_signals = h_unprompted_signals,
    .checkpoint_partitions = h_checkpoint_partitions,
    .partitions_checkpointed = h_partitions_checkpointed,
};
