/*
 * sentineld plugin ABI: the whole contract between the daemon and its input,
 * parser, detector and output plugins. Plugins compile against this header
 * alone and never link against daemon symbols: everything they may call is
 * in the struct sn_host function table handed to init(). docs/plugins.md
 * walks through writing one; contrib/plugin-example/ is a complete one.
 *
 * Self-contained C11: only <stddef.h>, <stdint.h> and <stdbool.h>.
 */
#ifndef SENTINELD_PLUGIN_H
#define SENTINELD_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bumped on every incompatible change of anything in this file. The loader
 * refuses a plugin whose abi differs, naming both numbers and the file.
 * Compatible growth does not bump it: struct sn_host and struct sn_plugin
 * only ever get fields appended, each carries its struct_size, and a
 * reader treats a field past the other side's struct_size as absent
 * (zero). ABI 3: the descriptor may be shorter than the daemon's, kinds'
 * required callbacks are checked at load, detect() returns a status the
 * core counts, plugins declare HTTP routes.
 */
#define SN_PLUGIN_ABI 3

/* printf-format checking where the compiler has it (GCC, Clang). */
#if defined(__GNUC__) || defined(__clang__)
#define SN_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#define SN_PLUGIN_EXPORT      __attribute__((visibility("default")))
#else
#define SN_PRINTF(fmt, first)
#define SN_PLUGIN_EXPORT
#endif

/* Status codes shared by the daemon and plugins (libuv-style X-macro). */
#define SN_STATUS_MAP(X)                                                       \
    X(OK, "success")                                                           \
    X(AGAIN, "would block; try again after the next event")                    \
    X(DECLINED, "not handled here; try the next plugin")                       \
    X(ENOMEM, "out of memory")                                                 \
    X(EINVAL, "invalid input")                                                 \
    X(ELIMIT, "limit exceeded")                                                \
    X(EIO, "input/output error")                                               \
    X(ECONFIG, "configuration error")                                          \
    X(EPLUGIN, "plugin error")                                                 \
    X(EPEER, "peer error")

enum sn_status {
#define SN_STATUS_ENUM_(name, text) SN_##name,
    SN_STATUS_MAP(SN_STATUS_ENUM_)
#undef SN_STATUS_ENUM_
        SN_STATUS_COUNT_
};

/* What an output says about a batch it was given. */
enum sn_out_result {
    SN_OUT_OK = 0,  /* delivered; the core releases the batch for this output */
    SN_OUT_RETRY,   /* transient: the core backs off and delivers it again */
    SN_OUT_FAIL,    /* permanent: dead-lettered with the reason given */
    SN_OUT_PENDING, /* accepted; host->output_ack() will report later */
};

enum sn_kind {
    SN_KIND_INPUT = 0,
    SN_KIND_PARSER,
    SN_KIND_DETECTOR,
    SN_KIND_OUTPUT,
};

enum sn_log_level {
    SN_LOG_ERROR = 0,
    SN_LOG_WARN,
    SN_LOG_INFO,
    SN_LOG_DEBUG,
};

/* ------------------------------------------------------------------------ */
/* Declared options: the core validates config against this table, fills  */
/* the plugin's config struct, and prints it for `sentineld plugins`.      */
/* ------------------------------------------------------------------------ */

enum sn_opt_type {
    SN_OPT_STRING = 0, /* const char * (NULL when no default and unset) */
    SN_OPT_INT,        /* int64_t, checked against [min, max] */
    SN_OPT_BOOL,       /* bool */
    SN_OPT_DOUBLE,     /* double */
    SN_OPT_SIZE,       /* uint64_t bytes; accepts 512, 64KiB, 1MiB, 2GiB */
    SN_OPT_DURATION,   /* int64_t milliseconds; accepts 250ms, 5s, 2m, 1h */
    SN_OPT_ENUM,       /* int: index into the '|'-separated `choices` */
    SN_OPT_LIST,       /* struct sn_strlist: a YAML sequence of scalars */
    SN_OPT_MAP,        /* struct sn_kvlist: every key starting with `name`
                          (e.g. "kafka.") is collected, prefix removed */
};

struct sn_strlist {
    size_t n;
    const char *const *items;
};

struct sn_kv {
    const char *key;
    const char *value;
};

struct sn_kvlist {
    size_t n;
    const struct sn_kv *items;
};

struct sn_option {
    const char *name;
    enum sn_opt_type type;
    const char *def;     /* default as it would be written in YAML; NULL: none */
    size_t offset;       /* offsetof(the plugin's config struct, field) */
    const char *help;    /* one sentence, shown by `sentineld plugins` */
    int64_t min, max;    /* range for INT/SIZE/DURATION when min < max */
    const char *choices; /* SN_OPT_ENUM: "a|b|c" */
    bool required;       /* an error when absent and def is NULL */
};

/* ------------------------------------------------------------------------ */
/* Data the core hands to plugins. All pointers are borrowed: valid until  */
/* the callback returns unless said otherwise.                             */
/* ------------------------------------------------------------------------ */

/* A slice of bytes, not NUL-terminated. */
struct sn_str {
    const char *ptr;
    size_t len;
};

enum sn_value_type {
    SN_VAL_NULL = 0,
    SN_VAL_STR,
    SN_VAL_INT,
    SN_VAL_DOUBLE,
    SN_VAL_BOOL,
    SN_VAL_IP,   /* ip.family 4 or 6, ip.addr network order */
    SN_VAL_TIME, /* nanoseconds since the epoch, UTC */
};

struct sn_value {
    enum sn_value_type type;
    union {
        struct sn_str s;
        int64_t i;
        double d;
        bool b;
        int64_t time_ns;
        struct {
            uint8_t family;
            uint8_t addr[16];
        } ip;
    } u;
};

/* The header fields every event has (syslog's, named after ECS in JSON). */
enum sn_field {
    SN_F_TIMESTAMP = 0, /* text of the timestamp as written */
    SN_F_HOSTNAME,
    SN_F_APPNAME,
    SN_F_PROCID,
    SN_F_MSGID,
    SN_F_MSG,
    SN_F_COUNT_
};

/* A raw record as an input delivered it, before parsing. */
struct sn_record {
    struct sn_str data;
    int64_t recv_ns;        /* wall clock at receipt */
    const char *input;      /* input instance name */
    const char *peer;       /* "192.0.2.1:514", "[::1]:601", path, or NULL */
    const char *transport;  /* "udp", "tcp", "tls", "unix", "file", ... */
    int64_t source_offset;  /* byte or Kafka offset in the source; -1: none */
    int32_t source_part;    /* Kafka partition; -1: none */
};

/*
 * One source partition (Kafka): the records one input instance read from
 * one partition of one topic. The detector and incident state built from
 * them moves with the partition when the consumer group hands it to
 * another instance (docs/scaling.md, "Partition state").
 */
struct sn_partition {
    const char *input; /* input instance name (sn_record.input) */
    const char *topic; /* sn_record.peer of the input's records */
    int32_t partition; /* sn_record.source_part */
};

/* Opaque daemon objects. */
struct sn_event;
struct sn_batch;
struct sn_instance; /* one configured plugin instance, as the core sees it */

/* What a stateful detector lost (host->detection_lost). */
enum sn_loss {
    SN_LOSS_KEYS_EVICTED,   /* keys evicted at a bound (max_keys) */
    SN_LOSS_EVENTS_DROPPED, /* events dropped by a key's bound */
    SN_LOSS_LATE_DROPPED,   /* events too late for the watermark */
    SN_LOSS_N
};
struct sn_emitter;  /* an input's handle for pushing records */
struct sn_counter;  /* a monotonically increasing metric */
struct sn_buf;      /* a bounded growable byte buffer */
struct sn_http_req; /* one HTTP request to a plugin route (control thread) */

/* Who may call an HTTP route, in increasing power (docs/api.md, "Roles"):
 * the core authenticates the bearer token before the handler runs. */
enum sn_role {
    SN_ROLE_NONE = 0, /* public (health, metrics, console files) */
    SN_ROLE_VIEWER,
    SN_ROLE_OPERATOR,
    SN_ROLE_ADMIN,
};

/* ------------------------------------------------------------------------ */
/* The host: every function a plugin may call. Given to init(); valid      */
/* until destroy() returns. Thread-safe unless said otherwise.             */
/* ------------------------------------------------------------------------ */

struct sn_host {
    uint32_t abi;         /* SN_PLUGIN_ABI of the daemon */
    uint32_t struct_size; /* sizeof(struct sn_host) of the daemon */

    /* Logging, prefixed with the instance name. */
    void (*log)(struct sn_instance *inst, enum sn_log_level level,
                const char *fmt, ...) SN_PRINTF(3, 4);
    bool (*log_enabled)(struct sn_instance *inst, enum sn_log_level level);

    /* Metrics. The name is appended to "sentineld_plugin_" with the
     * instance as a label. Returns NULL only on ENOMEM. Adding is lock-free. */
    struct sn_counter *(*counter)(struct sn_instance *inst, const char *name,
                                  const char *help);
    void (*counter_add)(struct sn_counter *c, uint64_t n);

    /* Worker thread count the daemon runs with (inputs size pools by it). */
    unsigned (*n_workers)(struct sn_instance *inst);

    /* Inputs. An emitter belongs to one thread at a time. emit() copies
     * the record into the current batch; when the pipeline is full it
     * blocks until there is room (back-pressure) or, for an emitter made
     * with `drop_when_full`, returns SN_AGAIN at once and the record is
     * counted as dropped by the core. flush() hands a partial batch over;
     * call it whenever the input goes idle. `rec->input` may be NULL: the
     * core fills the instance name. */
    struct sn_emitter *(*emitter_new)(struct sn_instance *inst,
                                      bool drop_when_full);
    enum sn_status (*emit)(struct sn_emitter *em, const struct sn_record *rec);
    void (*flush)(struct sn_emitter *em);
    void (*emitter_free)(struct sn_emitter *em);
    /* True once stop was requested: run() loops check it. */
    bool (*stopping)(struct sn_instance *inst);
    /* State that survives restarts (e.g. a file position), in the store
     * directory: returns a path under it named after the instance. */
    const char *(*state_dir)(struct sn_instance *inst);

    /* Events (parsers write, everyone reads). Strings passed to the
     * setters must live as long as the event: slices of the record or
     * memory from event_alloc(). */
    void *(*event_alloc)(struct sn_event *ev, size_t len);
    void (*event_set)(struct sn_event *ev, enum sn_field f, const char *s,
                      size_t len);
    struct sn_str (*event_get)(const struct sn_event *ev, enum sn_field f);
    bool (*event_has)(const struct sn_event *ev, enum sn_field f);
    /* PRI; -1 when absent. facility = pri / 8, severity = pri % 8. */
    void (*event_set_pri)(struct sn_event *ev, int pri);
    int (*event_pri)(const struct sn_event *ev);
    /* Syslog protocol version (1 for RFC 5424); -1 when absent. */
    void (*event_set_version)(struct sn_event *ev, int version);
    /* Event time in UTC nanoseconds, when the message had a full one. */
    void (*event_set_time)(struct sn_event *ev, int64_t ns);
    bool (*event_time)(const struct sn_event *ev, int64_t *ns);
    const struct sn_record *(*event_record)(const struct sn_event *ev);
    /* Structured data (RFC 5424 6.3): has_sd=false prints as null. */
    void (*event_set_has_sd)(struct sn_event *ev, bool has_sd);
    enum sn_status (*event_add_sd)(struct sn_event *ev, struct sn_str sd_id,
                                   struct sn_str name, struct sn_str value);
    /* Extracted fields, key -> typed value; a later set replaces. */
    enum sn_status (*event_set_field)(struct sn_event *ev, struct sn_str key,
                                      const struct sn_value *v);
    bool (*event_field)(const struct sn_event *ev, struct sn_str key,
                        struct sn_value *out);
    size_t (*event_n_fields)(const struct sn_event *ev);
    void (*event_field_at)(const struct sn_event *ev, size_t i,
                           struct sn_str *key, struct sn_value *out);
    /* A note on what the parser guessed (e.g. "year inferred"). */
    void (*event_note)(struct sn_event *ev, const char *static_text);

    /* Batches (detectors and outputs). */
    size_t (*batch_len)(const struct sn_batch *b);
    struct sn_event *(*batch_event)(const struct sn_batch *b, size_t i);

    /* Serialisation in the one event JSON schema (docs/events.md). */
    struct sn_buf *(*buf_new)(size_t max_len);
    void (*buf_free)(struct sn_buf *buf);
    void (*buf_reset)(struct sn_buf *buf);
    struct sn_str (*buf_str)(const struct sn_buf *buf);
    enum sn_status (*buf_append)(struct sn_buf *buf, const void *p,
                                 size_t len);
    enum sn_status (*event_to_json)(const struct sn_event *ev,
                                    struct sn_buf *out);

    /* Outputs that answered SN_OUT_PENDING report here, from any thread;
     * `token` is the one write() was given. The report may come before
     * write() has returned (a fast delivery report on another thread). */
    void (*output_ack)(struct sn_instance *inst, uint64_t token,
                       enum sn_out_result result, const char *reason);

    /* Detectors: hand one signal to the incident manager. json is one
     * signal object (docs/correlation.md, "Signal JSON"); it is copied.
     * Blocks while the manager's queue is full (back-pressure on the
     * workers, never a drop); SN_EINVAL when json is not a signal. */
    enum sn_status (*signal_emit)(struct sn_instance *inst, const char *json,
                                  size_t len);

    /* Gauges: like counter(), set rather than added; `labels` (may be
     * NULL) are extra Prometheus labels, e.g. "topic=\"t\",partition=\"3\"",
     * after the instance label. */
    struct sn_counter *(*gauge)(struct sn_instance *inst, const char *name,
                                const char *labels, const char *help);
    void (*gauge_set)(struct sn_counter *c, uint64_t v);
    /* Inputs that acknowledge their source (Kafka offsets): the sequence
     * number of the batch the last successful emit() on em went into,
     * 0 before any. Numbers grow per emitter and are unique per pipeline;
     * the input's batch_done() callback receives them. */
    uint64_t (*emit_seq)(const struct sn_emitter *em);
    /* Inputs that acknowledge their source: true once every signal the
     * detectors handed to the incident manager before this call is
     * committed to the incident store, waiting up to timeout_ms for it
     * (0: only look). The signals of every batch batch_done() reported
     * before the call are covered (a batch is released only after its
     * detectors returned). False when signals were lost (the store still
     * failing at shutdown). True when the daemon keeps no incidents.
     * Check SN_HOST_HAS(host, signals_stored) before calling. */
    bool (*signals_stored)(struct sn_instance *inst, int timeout_ms);

    /* Inputs that own partitions (in_kafka with shared checkpoints): the
     * detector and incident state built from one partition's records
     * (records with this input, rec->peer == topic and rec->source_part ==
     * partition). Call only while no record of the partition is in
     * flight: every batch holding one was reported by batch_done() and
     * signals_stored() returned true since.
     * checkpoint: append that state to out as an opaque blob.
     * restore: replace that state with a blob checkpoint() made, on this
     *   or another instance, or with nothing (data NULL); call it before
     *   the first record of a newly assigned partition is emitted. Errors
     *   (a blob from an incompatible version) go to err.
     * release: forget that state (the partition went to another owner).
     * Check SN_HOST_HAS(host, partition_release) before calling. */
    enum sn_status (*partition_checkpoint)(struct sn_instance *inst,
                                           const char *topic,
                                           int32_t partition,
                                           struct sn_buf *out);
    enum sn_status (*partition_restore)(struct sn_instance *inst,
                                        const char *topic, int32_t partition,
                                        const void *data, size_t len,
                                        char *err, size_t err_len);
    void (*partition_release)(struct sn_instance *inst, const char *topic,
                              int32_t partition);

    /* Counters with extra Prometheus labels after the instance label,
     * e.g. "rule=\"ssh-brute-force\"" (label values escaped by the
     * caller: backslash, double quote and newline). Like counter(): the
     * name gets "sentineld_plugin_", NULL only on ENOMEM, adding is one
     * lock-free atomic add. Check SN_HOST_HAS(host, counter_labels). */
    struct sn_counter *(*counter_labels)(struct sn_instance *inst,
                                         const char *name, const char *labels,
                                         const char *help);

    /* HTTP routes (struct sn_http_route in the descriptor): the request a
     * handler was given, valid until the handler returns. Control thread
     * only; handlers must not block (no waiting on the pipeline).
     * http_method: "GET", "POST", ...
     * http_param: the i-th {x} segment of the route's path, or NULL.
     * http_query: a decoded query parameter, or NULL.
     * http_header: a request header (case-insensitive), or NULL.
     * http_body: the body, bounded by http.max_body, borrowed until the
     *   handler returns. SN_ELIMIT: over the limit, and the core has
     *   already answered 413 body_too_large: return without replying.
     * http_actor: the token's name, or "anonymous" when auth is off.
     * http_reply: the one answer (status, Content-Type, body); the core
     *   adds the correlation ID and the secure headers.
     * http_reply_error: the error envelope every route uses,
     *   {"error":{"code":code,"message":...}}, logged with the
     *   correlation ID.
     * http_log: a log line tagged with the instance and correlation ID.
     * A handler that returns without replying gets a 500 from the core. */
    const char *(*http_method)(const struct sn_http_req *rq);
    const char *(*http_param)(const struct sn_http_req *rq, size_t i);
    const char *(*http_query)(struct sn_http_req *rq, const char *key);
    const char *(*http_header)(const struct sn_http_req *rq,
                               const char *name);
    enum sn_status (*http_body)(struct sn_http_req *rq, struct sn_str *out);
    const char *(*http_actor)(const struct sn_http_req *rq);
    void (*http_reply)(struct sn_http_req *rq, int status,
                       const char *content_type, const void *body,
                       size_t len);
    void (*http_reply_error)(struct sn_http_req *rq, int status,
                             const char *code, const char *fmt, ...)
        SN_PRINTF(4, 5);
    void (*http_log)(struct sn_http_req *rq, enum sn_log_level level,
                     const char *fmt, ...) SN_PRINTF(3, 4);

    /* The current value of a counter or gauge this plugin registered
     * (for its own HTTP answers: the same figure /metrics shows, kept
     * across reloads like the series). Any thread. */
    uint64_t (*counter_value)(const struct sn_counter *c);
    /* The instance's configured name (valid until destroy()). */
    const char *(*instance_name)(struct sn_instance *inst);
    /* The i-th query parameter, decoded, in URL order (for repeated keys
     * and for refusing unknown ones); false past the last. Only keys the
     * core allows to repeat (field) appear more than once: any other
     * repeated key was answered 400 before the handler ran. */
    bool (*http_query_at)(struct sn_http_req *rq, size_t i, const char **key,
                          const char **value);

    /* Detectors that keep state: n more of `what` were lost. Adds to the
     * core's sentineld_detection_<what>_total counters, which
     * GET /api/v1/health reports as "detection degraded" without knowing
     * any plugin's own metric names. Lock-free; any thread. Check
     * SN_HOST_HAS(host, detection_lost). */
    void (*detection_lost)(struct sn_instance *inst, enum sn_loss what,
                           uint64_t n);
    /* The ingest journal (docs/journal.md). journal_on: the daemon
     * appends every flushed batch to it before processing. flush_sync:
     * flush(), and with the journal on return SN_OK only once the records
     * are in it; an input that acknowledges its sender (RELP) does so
     * after this returned. Non-OK: the records were dropped and counted
     * (the input is stopping). */
    bool (*journal_on)(struct sn_instance *inst);
    enum sn_status (*flush_sync)(struct sn_emitter *em);
    /* A configuration error or warning of a file the plugin reads itself
     * (a rule file, a template), at its position. Called from init(), it
     * joins the config's own diagnostics: `sentineld check` prints it as
     * FILE:LINE:COL like any other and counts it, --json included, so
     * init() then fails with a summary rather than the first error.
     * Elsewhere (a reload) it is logged. file may be NULL; line/col 0
     * mean unknown. Check SN_HOST_HAS(host, config_diag). */
    void (*config_diag)(struct sn_instance *inst, bool is_error,
                        const char *file, int line, int col, const char *msg);
    /* Inputs that checkpoint partitions: a count that grows whenever a
     * detector emitted a signal on its own, not while processing a
     * record (an update or close the clock made due, an absence): the
     * state of a partition whose position did not move may have changed
     * since its last checkpoint, so it must be saved again, or its next
     * owner would deliver different incident versions under numbers the
     * old owner already used. Lock-free; any thread. Check
     * SN_HOST_HAS(host, unprompted_signals). */
    uint64_t (*unprompted_signals)(struct sn_instance *inst);
    /* Inputs whose partitions' state comes back from their own
     * checkpoints on assignment (in_kafka with checkpoints): declare
     * each such topic from init(). State kept elsewhere for those
     * partitions is then stale: at start the core releases this store's
     * incidents of them, and detectors drop what their own files kept
     * (partitions_checkpointed() from start()), so that state for a
     * partition another instance owns now raises no signal here (a fired
     * window's update, its close, a quiet-period resolve). Check
     * SN_HOST_HAS(host, checkpoint_partitions). */
    void (*checkpoint_partitions)(struct sn_instance *inst, const char *topic);
    bool (*partitions_checkpointed)(struct sn_instance *inst,
                                    const char *input, const char *topic);
};

/* True when the running daemon's host table has fn: a plugin built
 * against a newer plugin.h may run in an older daemon of the same ABI,
 * whose table ends earlier (struct_size). Use before calling any host
 * function documented as "check SN_HOST_HAS". */
#define SN_HOST_HAS(host, fn)                                                  \
    ((host)->struct_size >=                                                    \
         offsetof(struct sn_host, fn) + sizeof((host)->fn) &&                  \
     (host)->fn != NULL)

/* One incident version as incident outputs receive it, in order per
 * incident (docs/incidents.md has the JSON). */
struct sn_doc {
    int64_t seq;             /* outbox position: increasing, unique */
    struct sn_str id;        /* incident UUID, canonical text */
    int64_t version;         /* grows with every change: by the number
                              * of signals folded, by 1 for any other
                              * change (docs/incidents.md) */
    struct sn_str rule_id;
    struct sn_str severity;  /* info|low|medium|high|critical */
    struct sn_str status;    /* open|acknowledged|resolved|suppressed */
    struct sn_str json;      /* the whole incident document */
};

/* ------------------------------------------------------------------------ */
/* HTTP routes a plugin serves (docs/plugins.md, "HTTP routes").            */
/* ------------------------------------------------------------------------ */

/*
 * One route. path either starts with "/api/v1/" and claims that path for
 * the instance (e.g. in_http's "/api/v1/events"), or is relative ("rules",
 * "{id}/notes") and is served under /api/v1/plugins/<instance>/. A {x}
 * segment matches one path segment (host->http_param). The core refuses a
 * configuration where two instances claim the same method and path, or a
 * claim collides with the core's own routes. Before the handler runs the
 * core has authenticated the caller with at least `role`, applied the
 * rate limit and assigned the correlation ID; the handler answers with
 * host->http_reply or host->http_reply_error exactly once.
 */
struct sn_http_route {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *path;
    enum sn_role role;
    void (*handler)(void *state, struct sn_http_req *rq);
};

/* ------------------------------------------------------------------------ */
/* Incident reports from another store (docs/reports.md, "Which store").    */
/* ------------------------------------------------------------------------ */

/* One incident's lifecycle, as a report source hands it to the core.
 * Times are wall clock ns since the epoch; 0: never. Borrowed: valid
 * only during the done() call, which copies what it keeps. */
struct sn_report_row {
    const char *rule_id;
    const char *severity; /* info|low|medium|high|critical */
    const char *owner;    /* NULL: unassigned */
    const char *source;   /* the group key as compact JSON object text */
    int64_t opened_at, acked_at, resolved_at;
    bool auto_resolved; /* first resolution by the daemon, not a person */
    bool suppressed;    /* status suppressed now */
};

/* The answer to one report_load(): called exactly once per accepted
 * request, from any thread. rc SN_OK: v[0..n) are the incidents opened
 * in the period; SN_ELIMIT: more than max were; anything else: the
 * source failed, err says why. */
typedef void (*sn_report_done_fn)(void *arg, enum sn_status rc,
                                  const struct sn_report_row *v, size_t n,
                                  const char *err);

/* The answer to one review_load(): called exactly once per accepted
 * request, from any thread. rc SN_OK: doc is the incident's document
 * with its history, NUL-terminated JSON in the shape GET
 * /api/v1/incidents/{id} returns (members "versions" and "audit" as
 * there), and lacks a sentence naming what this store does not record
 * (the review states it), or NULL; SN_DECLINED: no such incident;
 * anything else: the source failed, err says why. All borrowed: valid
 * only during the call. */
typedef void (*sn_review_done_fn)(void *arg, enum sn_status rc,
                                  const char *doc, const char *lacks,
                                  const char *err);

/* One page of the incident list the report source holds, for GET
 * /api/v1/incidents?source=configured: the filters of the instance's own
 * list (incidents.h, sn_incident_query), checked by the core. Borrowed:
 * valid only during the list_load() call, which copies what it keeps. */
struct sn_list_query {
    const char *status;        /* NULL: any */
    int min_severity;          /* 0 info .. 4 critical; -1: any */
    const char *rule_id;       /* NULL: any */
    const char *text;          /* substring of title, rule id or group key */
    int64_t since_ns, until_ns; /* last_seen within [since, until); 0: open */
    int64_t cursor_seen_ns;    /* after (last_seen, id) of the previous */
    const char *cursor_id;     /* page's last incident; "" on the first */
    unsigned limit;            /* 1 .. 500 */
};

/* The answer to one list_load(): called exactly once per accepted
 * request, from any thread. rc SN_OK: doc is NUL-terminated JSON in the
 * shape GET /api/v1/incidents returns ({"incidents": [...],
 * "next_cursor": "..." | null}, newest last_seen first); anything else:
 * the source failed, err says why. Borrowed: valid only during the call. */
typedef void (*sn_list_done_fn)(void *arg, enum sn_status rc, const char *doc,
                                const char *err);

/* ------------------------------------------------------------------------ */
/* The descriptor a plugin exports as `sn_plugin_<name>`.                   */
/* ------------------------------------------------------------------------ */

#define SN_PLUGIN_HEADER .abi = SN_PLUGIN_ABI, .struct_size = sizeof(struct sn_plugin)

struct sn_plugin {
    uint32_t abi;         /* SN_PLUGIN_ABI, checked before anything runs */
    uint32_t struct_size; /* sizeof(struct sn_plugin) the plugin saw */
    const char *name;     /* equals the .so name and the symbol suffix */
    enum sn_kind kind;
    const char *description;
    const char *version;
    const struct sn_option *options; /* terminated by a {0} entry */
    size_t config_size;              /* the struct options fill */

    /*
     * Validate the filled config and build state; no sockets, no threads
     * yet (a reload builds the new pipeline while the old one still runs).
     * On failure write a reason into err and return non-OK.
     */
    enum sn_status (*init)(const struct sn_host *host, struct sn_instance *inst,
                           const void *config, void **state, char *err,
                           size_t err_len);
    /* Acquire resources (bind, open, connect). */
    enum sn_status (*start)(void *state, char *err, size_t err_len);
    /* Stop producing/consuming; for inputs, make run() return soon. */
    void (*stop)(void *state);
    /* Free everything; state may be half-built when init failed. */
    void (*destroy)(void *state);

    /* SN_KIND_INPUT: runs on a thread of its own until stopping(). */
    void (*run)(void *state);
    /* Back-pressure hints for inputs that can pause a source (Kafka). */
    void (*pause)(void *state);
    void (*resume)(void *state);
    /* Parser used when the input's config names none (e.g. "auto"). */
    const char *default_parser;

    /* SN_KIND_PARSER: fill ev from rec. SN_DECLINED lets the next parser
     * try; SN_EINVAL rejects with a reason and the byte offset. */
    enum sn_status (*parse)(void *state, const struct sn_record *rec,
                            struct sn_event *ev, char *why, size_t why_len,
                            size_t *offset);

    /* SN_KIND_DETECTOR: look at a batch; called from worker threads.
     * SN_OK: the batch was looked at. Anything else: part of the batch
     * was not (e.g. SN_ENOMEM for a window that could not grow); the
     * core counts it in sentineld_detector_errors_total{instance=...},
     * logs the status (rate-limited) and goes on: the batch still
     * reaches the outputs and the other detectors. */
    enum sn_status (*detect)(void *state, struct sn_batch *b);

    /* SN_KIND_OUTPUT: deliver a batch; called from the output's thread.
     * On SN_OUT_FAIL write the reason into why. */
    enum sn_out_result (*write)(void *state, struct sn_batch *b,
                                uint64_t token, char *why, size_t why_len);
    /* Flush buffers, reopen files (SIGHUP / logrotate). */
    void (*reopen)(void *state);

    /* SN_KIND_OUTPUT taking incidents (config `take: incidents`): deliver
     * n incident versions, oldest first, from the store's outbox; called
     * from the output's relay thread. Results as for write(); an output
     * must be idempotent (the same version may come again after a crash,
     * or from another instance when a partition's incidents move). */
    enum sn_out_result (*deliver)(void *state, const struct sn_doc *docs,
                                  size_t n, uint64_t token, char *why,
                                  size_t why_len);

    /* SN_PLUGIN_* flags. */
    uint32_t flags;

    /* SN_KIND_INPUT, optional: the batch host->emit_seq() named was
     * released by every detector and output (delivered, or dead-lettered
     * by an output that failed it), so every record in it is processed.
     * Called from whichever worker or output thread released it, in no
     * particular order across batches; must be quick and thread-safe. */
    void (*batch_done)(void *state, uint64_t seq);
    /* SN_KIND_INPUT, optional: the input's parser chain rejected rec
     * (counted and logged by the core as well), so the input can
     * dead-letter it at its source. Called from worker threads before
     * batch_done() of the batch holding it; rec is borrowed. */
    void (*rejected)(void *state, const struct sn_record *rec,
                     const char *why);

    /* SN_KIND_DETECTOR, optional: the state this detector keeps for the
     * records of one partition, for host->partition_checkpoint() and its
     * siblings (same contract). Called from the input's thread while no
     * record of p is in flight; detect() may run meanwhile on other
     * partitions' records. restore replaces p's state (data NULL: none)
     * and must also drop state of p this instance kept from earlier. */
    enum sn_status (*partition_checkpoint)(void *state,
                                           const struct sn_partition *p,
                                           struct sn_buf *out);
    enum sn_status (*partition_restore)(void *state,
                                        const struct sn_partition *p,
                                        const void *data, size_t len,
                                        char *err, size_t err_len);
    void (*partition_release)(void *state, const struct sn_partition *p);

    /* Optional: HTTP routes this instance serves, terminated by a {0}
     * entry (struct sn_http_route). Any kind may have them. */
    const struct sn_http_route *routes;

    /* Optional, any kind: serve GET /api/v1/reports from this instance's
     * store. SN_DECLINED: this instance is not the report source (the
     * core asks the next one, then reads its own store). SN_OK: the
     * request is queued, and done(arg, ...) will be called exactly once,
     * from any thread, also when stop() comes first (then with an
     * error). Must not block: called on the control thread. */
    enum sn_status (*report_load)(void *state, int64_t since_ns,
                                  int64_t until_ns, size_t max,
                                  sn_report_done_fn done, void *arg);
    /* Optional, any kind: the document of incident id (a UUID) with its
     * history, for GET /api/v1/incidents/{id}/report (the post-incident
     * review). Same contract as report_load: SN_DECLINED, not the
     * source; SN_OK, done() exactly once from any thread; never blocks. */
    enum sn_status (*review_load)(void *state, const char *id,
                                  sn_review_done_fn done, void *arg);
    /* Optional, any kind: a page of every incident this source holds
     * (the fleet's, for a shared store), for GET
     * /api/v1/incidents?source=configured. Same contract as report_load:
     * SN_DECLINED, not the source; SN_OK, done() exactly once from any
     * thread; never blocks. */
    enum sn_status (*list_load)(void *state, const struct sn_list_query *q,
                                sn_list_done_fn done, void *arg);
    /* Optional, with the three above: the request whose done() argument
     * is arg is no longer wanted (its client left, or its deadline
     * passed): drop it if queued, stop its query if running. done() is
     * still called exactly once (with an error when stopped; maybe from
     * inside this call). Called on the control thread; done() may have
     * run meanwhile on another thread (then: nothing to do; arg is only
     * compared, never read). Never blocks. */
    void (*load_cancel)(void *state, void *arg);
};

/*
 * Required callbacks per kind, checked by the loader (a plugin missing
 * one is refused with its name and the callback's):
 *   input: run;          parser: parse;
 *   detector: detect;    output: write or deliver.
 */

/* An output that writes every event with host->event_to_json: the core
 * renders the JSON on the worker threads, in parallel, after the
 * detectors ran, and event_to_json then only copies it. */
#define SN_PLUGIN_WANTS_JSON 0x1u
/* The plugin keeps a file at a fixed name under daemon.state_dir (e.g.
 * out_history's events.db): two instances would write one file, so the
 * core refuses a second instance of the plugin at config check. */
#define SN_PLUGIN_ONE_PER_STATE_DIR 0x2u

#ifdef __cplusplus
}
#endif

#endif /* SENTINELD_PLUGIN_H */
