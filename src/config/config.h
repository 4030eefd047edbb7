/*
 * The daemon configuration model: the YAML file checked against the daemon's
 * own option tables, and the list of plugin instances with their raw option
 * nodes. Plugin options are validated later, against each plugin's declared
 * table, when the pipeline is built (pipeline/pipeline.c).
 */
#ifndef SN_CONFIG_CONFIG_H
#define SN_CONFIG_CONFIG_H

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "config/escalation.h"
#include "config/yaml.h"
#include "core/arena.h"

/* daemon.journal: the durable ingest journal (src/journal, docs/journal.md). */
struct sn_journal_conf {
    bool enabled;
    const char *dir;           /* NULL: <state_dir>/journal */
    uint64_t segment_size;     /* a segment is closed past this many bytes */
    uint64_t max_size;         /* appends wait (back-pressure) above this */
    int64_t fsync_interval_ms; /* 0: fdatasync before every append returns */
    int64_t replay_window_ms;  /* detectors get this much history back */
};

struct sn_daemon_conf {
    int64_t workers; /* 0: number of cores */
    int64_t batch_pool; /* batches in flight: bounds memory and queues */
    int log_level;      /* enum sn_log_level */
    int log_target;     /* 0 stderr, 1 syslog */
    int64_t shutdown_timeout_ms;
    struct sn_strlist plugin_path;
    const char *state_dir;
    struct sn_journal_conf journal;
};

struct sn_http_conf {
    bool enabled;
    const char *listen;   /* host:port */
    const char *tls_cert; /* both set: the listener speaks HTTPS only */
    const char *tls_key;
    bool auth;            /* bearer tokens required on /api/v1 */
    int approve_role;     /* 0 operator, 1 admin: who may approve/reject */
    uint64_t max_body;    /* bytes */
    int64_t rate_limit;   /* requests per second per token (or peer) */
    const char *web_root; /* the console's static files */
    const char *tokens;   /* tokens file; default <state_dir>/tokens */
    int64_t max_connections;     /* open connections at most (listen.c) */
    int64_t header_timeout_ms;   /* request line + headers, whole */
    int64_t body_timeout_ms;     /* body, from the end of the headers */
    int64_t feed_clients_per_token; /* live feed connections per token */
    uint64_t feed_history; /* bytes of recent feed changes (stream_ring) */
    int64_t report_timeout_ms;    /* a report source's answer, at most */
    int64_t report_max_incidents; /* incidents one report reads, at most */
};

/* The incident manager and its store (section `incidents`, #6). */
struct sn_incidents_conf {
    const char *store;     /* NULL: <state_dir>/sentineld.db */
    int64_t retention_ms;  /* resolved incidents, dead letters */
    int64_t outbox_keep_ms; /* delivered outbox rows (live feed) */
    int64_t auto_resolve_ms; /* quiet period when the signal names none */
    int64_t update_interval_ms; /* hit-only versions delivered this often */
    int64_t queue;         /* signals waiting for the manager */
    int64_t batch;         /* signals per transaction at most */
    int64_t evidence_max;  /* evidence entries kept per incident */
    int64_t cache;         /* open incidents kept between batches */
    bool four_eyes;        /* approver must differ from the requester */
    struct sn_strlist scrub_patterns;
    struct sn_strlist scrub_keep;
    bool scrub_keep_set;   /* scrub.keep given (even empty) */
    struct sn_esc_conf escalation; /* who is notified when */
};

/* What an output instance receives (core key `take`). */
enum sn_take {
    SN_TAKE_DEFAULT = 0, /* events when the plugin has write(), else incidents */
    SN_TAKE_EVENTS,
    SN_TAKE_INCIDENTS,
};

/* One configured plugin instance. */
struct sn_inst_conf {
    enum sn_kind kind;
    const char *name;
    const char *plugin; /* full plugin name, kind prefix included */
    const struct sn_node *node; /* the instance's mapping */
    int line, col;
    struct sn_strlist parsers; /* inputs: parser chain (names) */
    struct sn_strlist inputs;  /* outputs/detectors: only these inputs */
    enum sn_take take;         /* outputs: events or incidents */
    bool drop_when_full;       /* outputs: `when_full: drop` (default block) */
};

struct sn_config {
    char *path;
    struct sn_yaml *yaml;
    struct sn_arena arena;
    struct sn_daemon_conf daemon;
    struct sn_http_conf http;
    struct sn_incidents_conf incidents;
    struct sn_inst_conf *insts;
    size_t n_insts;
};

/* Keys every instance mapping may have besides its plugin's options. */
extern const char *const sn_instance_core_keys[];

/* Load and check the file. On errors (in d) returns SN_ECONFIG and *out is
 * NULL. */
enum sn_status sn_config_load(const char *path, struct sn_config **out,
                              struct sn_diags *d);
/* For `sentineld check`: like sn_config_load, but when the file is one
 * YAML mapping with errors in it (options, instances, unset variables),
 * *out still gets the config as far as it loaded, with every instance that
 * names its plugin, so the caller can validate plugins and rules too and
 * report all of the file's errors at once. Returns SN_ECONFIG then; the
 * caller owns *out whenever it is not NULL. */
enum sn_status sn_config_load_all(const char *path, struct sn_config **out,
                                  struct sn_diags *d);
void sn_config_free(struct sn_config *c);

/* "input", "parser", ... */
const char *sn_kind_name(enum sn_kind k);
/* The directory-name prefix of a kind: "in_", "parse_", "det_", "out_". */
const char *sn_kind_prefix(enum sn_kind k);

/* The daemon option tables, for `sentineld plugins --daemon` and docs. */
extern const struct sn_option sn_daemon_options[];
extern const struct sn_option sn_http_options[];
extern const struct sn_option sn_journal_options[];
extern const struct sn_option sn_incidents_options[];
extern const struct sn_option sn_scrub_options[];

#endif
