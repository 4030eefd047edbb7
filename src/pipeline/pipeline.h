/*
 * The running pipeline built from one config: plugin instances, worker
 * threads, output threads and the batch pool. A reload builds a complete
 * new pipeline (validated and initialised) before the old one is stopped,
 * so a bad config never interrupts the running one. Thread model and
 * back-pressure: docs/internals/pipeline.md.
 */
#ifndef SN_PIPELINE_PIPELINE_H
#define SN_PIPELINE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <sentineld/plugin.h>

#include "config/config.h"
#include "config/diag.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "pipeline/batch.h"
#include "pipeline/outport.h"
#include "pipeline/queue.h"
#include "plugin/loader.h"

struct sn_pipeline;

struct sn_pending {
    uint64_t token;
    struct sn_batch *b;
};

struct sn_journal;

/* What only an input has: the thread running its run(), and the parser
 * chain its records go through. */
struct sn_input_rt {
    pthread_t thread;
    bool thread_started;
    _Atomic bool finished;
    struct sn_instance **parsers;
    size_t n_parsers;
    struct sn_ratelimit rl_reject;
    struct sn_ratelimit rl_drop;
};

/* What only a detector has. */
struct sn_detector_rt {
    struct sn_ratelimit rl_detect; /* detect() failures */
};

/* What only an output has. takes_incidents: fed by a feeder outside the
 * pipeline (the incident relay) through port, never by the workers;
 * otherwise fed by the workers through q, on its own thread. */
struct sn_output_rt {
    bool takes_incidents;
    struct sn_outport port; /* filled for every output; see outport.h */
    struct sn_queue q;
    pthread_t othread;
    bool othread_started;
    pthread_mutex_t pending_lock;
    struct sn_pending *pending;
    size_t n_pending, cap_pending;
    uint64_t next_token;
    struct sn_ratelimit rl_fail;
    struct sn_ratelimit rl_drop; /* when_full: drop */
};

/* One configured plugin instance as the core runs it: a head every kind
 * has, then the runtime of its kind (the member named by kind; the others
 * alias it and must not be read). */
struct sn_instance {
    struct sn_pipeline *pl;
    const struct sn_inst_conf *conf;
    struct sn_plugin_lib *lib;
    const struct sn_plugin *p;
    const char *name;
    enum sn_kind kind;
    void *config; /* filled from the plugin's option table */
    struct sn_arena conf_arena;
    void *state;
    bool started;
    char *state_path;
    char labels[160];      /* instance="name" for metrics */
    _Atomic bool stopping; /* host->stopping(), asked by any kind */
    /* Where host->config_diag adds while init() runs; NULL otherwise
     * (then it logs). */
    struct sn_diags *init_diags;

    /* Detectors and outputs: the inputs they take events from (all when
     * n_only == 0). */
    struct sn_instance **only;
    size_t n_only;

    /* Stage counters (NULL where the kind has none). */
    struct sn_counter *c_in;       /* records received (inputs) */
    struct sn_counter *c_parsed;   /* events parsed (inputs) */
    struct sn_counter *c_rejected; /* records rejected by parsers */
    struct sn_counter *c_dropped;  /* records dropped (full, shutdown) */
    struct sn_counter *c_out;      /* events delivered (outputs) */
    struct sn_counter *c_retry;    /* delivery retries (outputs) */
    struct sn_counter *c_failed;   /* events dead-lettered (outputs) */
    struct sn_counter *c_detect_errors; /* detect() not OK (detectors) */
    /* host->detection_lost (detectors), by enum sn_loss */
    struct sn_counter *c_lost[SN_LOSS_N];

    union {
        struct sn_input_rt input;
        struct sn_detector_rt detector;
        struct sn_output_rt output;
    };
};

struct sn_worker {
    struct sn_pipeline *pl;
    unsigned index;
    pthread_t thread;
    bool started;
    struct sn_queue q;
    struct sn_buf json; /* scratch for rendering event JSON */
    struct sn_counter *c_records; /* records this worker processed */
};

struct sn_pipeline {
    struct sn_config *cfg; /* owned */
    struct sn_metrics *metrics; /* borrowed: outlives reloads */
    char **plugin_dirs;
    struct sn_instance *insts;
    size_t n_insts;
    struct sn_worker *workers;
    unsigned n_workers;
    _Atomic unsigned next_worker;
    _Atomic uint64_t next_batch_seq; /* batch sequence numbers (emit_seq) */
    struct sn_batch_pool *pool;
    /* The ingest journal (borrowed from the daemon; NULL: off). With
     * journal_replay, start replays it on a thread before inputs run. */
    struct sn_journal *journal;
    bool journal_replay;
    pthread_t replay_thread;
    bool replay_started;
    _Atomic bool replay_stop;
    _Atomic bool aborting;
    /* Called (from an input thread) when every input has finished. */
    void (*on_inputs_done)(void *arg);
    void *on_inputs_done_arg;
    struct sn_counter *c_pool_in_use;
    bool render_json; /* an output wants JSON: workers render it */
    /* Where host->signal_emit goes (the incident manager); set by the
     * daemon before start. NULL: signals are counted and refused. */
    enum sn_status (*signal_sink)(void *arg, struct sn_instance *from,
                                  const char *json, size_t len);
    void *signal_sink_arg;
    /* host->signals_stored(); NULL: no incident store (always true). */
    bool (*signals_stored)(void *arg, int timeout_ms);
    struct sn_counter *c_signals_refused;
    /* host->unprompted_signals(): signals emitted outside detect(). */
    _Atomic uint64_t unprompted_signals;
    /* host->checkpoint_partitions(): (input, topic) pairs whose
     * partitions' state comes from the input's checkpoints; set during
     * the inputs' init, read-only once started. */
    struct sn_ckpt_topic {
        char *input, *topic;
    } *ckpt_topics;
    size_t n_ckpt_topics;
    /* The incident side of host->partition_*() (the incident manager,
     * called with signal_sink_arg); NULL: no incidents kept. */
    enum sn_status (*incidents_partition_export)(void *arg,
                                                 const struct sn_partition *p,
                                                 struct sn_buf *out);
    enum sn_status (*incidents_partition_import)(void *arg,
                                                 const struct sn_partition *p,
                                                 const void *data, size_t len,
                                                 char *err, size_t err_len);
    void (*incidents_partition_release)(void *arg,
                                        const struct sn_partition *p);
    /* Called by sn_pipeline_stop once the workers (hence the detectors)
     * stopped and before the outputs stop: the daemon drains the
     * incident manager and the relays here. */
    void (*before_outputs_stop)(void *arg, struct sn_pipeline *pl);
    /* Called once outputs and workers run, before any input starts (the
     * incident relays: a relay that started after the inputs could take
     * "the current end" of the outbox as its start and skip incidents a
     * fast input already caused). Non-OK fails the start. */
    enum sn_status (*after_outputs_start)(void *arg, struct sn_pipeline *pl);
    void *after_outputs_start_arg;
    void *before_outputs_stop_arg;
};

/*
 * Build a pipeline from cfg (taking ownership of it): load plugins, apply
 * their options, resolve parser chains and filters, and call every init.
 * Nothing is started. Problems go to d; on error returns SN_ECONFIG (or
 * the init failure) and *out is NULL.
 */
enum sn_status sn_pipeline_build(struct sn_config *cfg,
                                 struct sn_metrics *metrics,
                                 struct sn_pipeline **out, struct sn_diags *d);
/* Start outputs, workers, then inputs. On failure everything started is
 * stopped again and err says which instance failed and why. */
enum sn_status sn_pipeline_start(struct sn_pipeline *pl, struct sn_error *err);
/*
 * Stop inputs, drain queues (up to the daemon's shutdown_timeout; what is
 * still queued after that is counted as dropped and logged), then stop
 * workers and outputs.
 */
void sn_pipeline_stop(struct sn_pipeline *pl);
void sn_pipeline_free(struct sn_pipeline *pl);
/* True when input declared topic's partitions checkpointed
 * (host->checkpoint_partitions). */
bool sn_pipeline_partitions_checkpointed(const struct sn_pipeline *pl,
                                         const char *input, const char *topic);
/* SIGHUP without config change: outputs reopen their files. */
void sn_pipeline_reopen(struct sn_pipeline *pl);

/* Internal between pipeline files. */
/* replay.c: replay the journal on a thread of its own (inputs wait for
 * it in input_main); sn_replay_join stops and joins it. */
enum sn_status sn_replay_start(struct sn_pipeline *pl, struct sn_error *err);
void sn_replay_join(struct sn_pipeline *pl);
void *sn_worker_main(void *arg);
/* True on a worker thread while it runs the detectors over a batch: a
 * signal emitted then was prompted by a record (host.c counts the
 * others for host->unprompted_signals). */
bool sn_worker_detecting(void);
void *sn_output_main(void *arg);
void sn_worker_submit(struct sn_pipeline *pl, unsigned worker,
                      struct sn_batch *b);
void sn_output_ack(struct sn_instance *out, uint64_t token,
                   enum sn_out_result result, const char *reason);
/* Fill out->output.port from the output instance (its name, plugin,
 * state and counters): once its init() ran, before a feeder plugs in. */
void sn_output_port_init(struct sn_instance *out);

extern const struct sn_host sn_host_table;

/* The core's detection-loss counters, by enum sn_loss: registered per
 * detector instance, added to by host->detection_lost, summed by
 * GET /api/v1/health. */
struct sn_loss_metric {
    const char *name;
    const char *help;
};
extern const struct sn_loss_metric sn_loss_metrics[SN_LOSS_N];

#endif
