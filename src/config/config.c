/*
 * Top-level config structure: daemon and http sections through option
 * tables, plugin instances under inputs/parsers/detectors/outputs. Names are
 * unique across all instances so logs and metrics are unambiguous.
 */
#include "config/config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/options.h"
#include "core/limits.h"

#ifndef SN_STATEDIR
#define SN_STATEDIR "/var/lib/sentineld"
#endif

#define D_OFF(f) offsetof(struct sn_daemon_conf, f)
const struct sn_option sn_daemon_options[] = {
    { "workers", SN_OPT_INT, "0", D_OFF(workers),
      "worker threads that parse and detect; 0 means one per core", 0,
      SN_WORKERS_MAX, NULL, false },
    { "batch_pool", SN_OPT_INT, "64", D_OFF(batch_pool),
      "batches in flight; when all are in use inputs wait (back-pressure)", 4,
      65536, NULL, false },
    { "log_level", SN_OPT_ENUM, "info", D_OFF(log_level), "lowest level logged",
      0, 0, "error|warn|info|debug", false },
    { "log_target", SN_OPT_ENUM, "stderr", D_OFF(log_target),
      "where the daemon logs", 0, 0, "stderr|syslog", false },
    { "shutdown_timeout", SN_OPT_DURATION, "10s", D_OFF(shutdown_timeout_ms),
      "how long a stop waits for queues to drain", 0, 3600000, NULL, false },
    { "plugin_path", SN_OPT_LIST, NULL, D_OFF(plugin_path),
      "directories searched for plugins before the built-in one", 0, 0, NULL,
      false },
    { "state_dir", SN_OPT_STRING, SN_STATEDIR, D_OFF(state_dir),
      "where inputs keep positions and the store keeps its files", 0, 0, NULL,
      false },
    { 0 },
};
static const char *const daemon_extra[] = { "journal", NULL };

#define J_OFF(f) offsetof(struct sn_journal_conf, f)
const struct sn_option sn_journal_options[] = {
    { "enabled", SN_OPT_BOOL, "false", J_OFF(enabled),
      "append every received batch to the durable ingest journal before "
      "processing (and before a RELP acknowledgement)", 0, 0, NULL, false },
    { "dir", SN_OPT_STRING, NULL, J_OFF(dir),
      "the journal's directory; default <state_dir>/journal", 0, 0, NULL,
      false },
    { "segment_size", SN_OPT_SIZE, "64MiB", J_OFF(segment_size),
      "a segment file is closed and a new one begun past this size", 1 << 20,
      1ULL << 32, NULL, false },
    { "max_size", SN_OPT_SIZE, "4GiB", J_OFF(max_size),
      "above this the inputs wait until outputs catch up (back-pressure, "
      "never a drop); 0: no limit",
      0, 1ULL << 50, NULL, false },
    { "fsync_interval", SN_OPT_DURATION, "0", J_OFF(fsync_interval_ms),
      "0: fdatasync before every batch is acknowledged; more: at most this "
      "often (a power loss may lose that much; a crash of the daemon "
      "alone loses nothing)",
      0, 60000, NULL, false },
    { "replay_window", SN_OPT_DURATION, "15m", J_OFF(replay_window_ms),
      "history replayed through the detectors at start so correlation "
      "windows come back; at least the longest rule window",
      0, 7LL * 86400000, NULL, false },
    { 0 },
};

#define H_OFF(f) offsetof(struct sn_http_conf, f)
const struct sn_option sn_http_options[] = {
    { "enabled", SN_OPT_BOOL, "true", H_OFF(enabled),
      "serve /health and /metrics", 0, 0, NULL, false },
    { "listen", SN_OPT_STRING, "127.0.0.1:8514", H_OFF(listen),
      "address:port of the HTTP listener", 0, 0, NULL, false },
    { "tls_cert", SN_OPT_STRING, NULL, H_OFF(tls_cert),
      "PEM certificate chain; with tls_key the listener serves HTTPS only",
      0, 0, NULL, false },
    { "tls_key", SN_OPT_STRING, NULL, H_OFF(tls_key),
      "PEM private key for tls_cert", 0, 0, NULL, false },
    { "auth", SN_OPT_BOOL, "true", H_OFF(auth),
      "require a bearer token on /api/v1 (roles viewer, operator, admin)", 0,
      0, NULL, false },
    { "approve_role", SN_OPT_ENUM, "operator", H_OFF(approve_role),
      "lowest role that may approve or reject pending requests", 0, 0,
      "operator|admin", false },
    { "max_body", SN_OPT_SIZE, "1MiB", H_OFF(max_body),
      "largest request body accepted (larger: 413)", 64, 64u << 20, NULL,
      false },
    { "rate_limit", SN_OPT_INT, "50", H_OFF(rate_limit),
      "requests per second per token (unauthenticated: per peer address); "
      "bursts of twice that pass",
      1, 100000, NULL, false },
    { "web_root", SN_OPT_STRING, SN_WEBDIR, H_OFF(web_root),
      "directory of the web console served under /", 0, 0, NULL, false },
    { "tokens", SN_OPT_STRING, NULL, H_OFF(tokens),
      "API tokens file (name role sha256); default <state_dir>/tokens", 0,
      0, NULL, false },
    { "max_connections", SN_OPT_INT, "512", H_OFF(max_connections),
      "open HTTP connections at most (also at most half the descriptor "
      "limit); at the cap the oldest connection still sending its request "
      "is closed for the new one",
      8, 65536, NULL, false },
    { "header_timeout", SN_OPT_DURATION, "10s", H_OFF(header_timeout_ms),
      "a request line and headers must arrive whole within this (from the "
      "connection or the previous answer); bytes trickled in do not extend "
      "it",
      100, 3600000, NULL, false },
    { "body_timeout", SN_OPT_DURATION, "30s", H_OFF(body_timeout_ms),
      "a request body must arrive whole within this of the headers' end",
      100, 3600000, NULL, false },
    { "feed_clients_per_token", SN_OPT_INT, "16",
      H_OFF(feed_clients_per_token),
      "live feed connections (SSE and WebSocket) one token may hold open "
      "(auth off: one peer address)",
      1, 1024, NULL, false },
    { "feed_history", SN_OPT_SIZE, "32MiB", H_OFF(feed_history),
      "recent live feed changes kept, rendered, for clients that fall "
      "behind in a burst (shared by all; at ~2 KB a change, 32MiB holds "
      "some 8,000); a client further behind is sent a gap and reloads",
      1u << 20, 1u << 30, NULL, false },
    { "report_timeout", SN_OPT_DURATION, "60s", H_OFF(report_timeout_ms),
      "a report or review another store answers (out_postgres `reports`) "
      "gets 504 report_timeout when it has not answered within this",
      100, 3600000, NULL, false },
    { "report_max_incidents", SN_OPT_INT, "200000",
      H_OFF(report_max_incidents),
      "a report covers at most this many incidents opened in its period "
      "(more: 400, report on a shorter period); each is held in memory "
      "while the report is built",
      1, 200000, NULL, false },
    { 0 },
};

#define I_OFF(f) offsetof(struct sn_incidents_conf, f)
const struct sn_option sn_incidents_options[] = {
    { "store", SN_OPT_STRING, NULL, I_OFF(store),
      "the incident database (SQLite); default <state_dir>/sentineld.db", 0,
      0, NULL, false },
    { "retention", SN_OPT_DURATION, "30d", I_OFF(retention_ms),
      "resolved incidents and dead letters older than this are deleted",
      60000, 3650LL * 86400000, NULL, false },
    { "outbox_keep", SN_OPT_DURATION, "10m", I_OFF(outbox_keep_ms),
      "delivered outbox rows stay this long (for the live feed)", 0,
      86400000, NULL, false },
    { "auto_resolve", SN_OPT_DURATION, "1h", I_OFF(auto_resolve_ms),
      "an incident with no signal for this long resolves itself (0: "
      "never), unless the signal names its own quiet period",
      0, 3650LL * 86400000, NULL, false },
    { "update_interval", SN_OPT_DURATION, "1m", I_OFF(update_interval_ms),
      "a version that only adds hits is delivered to the outputs at most "
      "this often per incident (opened, severity, status, owner, approval, "
      "escalation and resolution go out at once; 0: every version)",
      0, 86400000, NULL, false },
    { "queue", SN_OPT_INT, "4096", I_OFF(queue),
      "signals waiting for the manager; when full, detectors wait", 16,
      1048576, NULL, false },
    { "batch", SN_OPT_INT, "2048", I_OFF(batch),
      "signals folded per store transaction at most (a batch is what is "
      "queued: at a low rate one signal)", 1, 65536, NULL, false },
    { "evidence_max", SN_OPT_INT, "10", I_OFF(evidence_max),
      "evidence entries kept per incident (first and latest)", 1, 1000,
      NULL, false },
    { "cache", SN_OPT_INT, "4096", I_OFF(cache),
      "open incidents the manager keeps in memory between batches, the "
      "most recently signalled (0: read each one back per batch)",
      0, 1048576, NULL, false },
    { "four_eyes", SN_OPT_BOOL, "true", I_OFF(four_eyes),
      "an approval must come from someone other than the requester", 0, 0,
      NULL, false },
    { 0 },
};

const struct sn_option sn_scrub_options[] = {
    { "patterns", SN_OPT_LIST, NULL, I_OFF(scrub_patterns),
      "extra PCRE2 patterns whose matches are replaced by [redacted]", 0, 0,
      NULL, false },
    { "keep", SN_OPT_LIST, NULL, I_OFF(scrub_keep),
      "fields kept as they are (default: source.ip destination.ip "
      "client.ip server.ip host.name host.ip user.name rule.id "
      "event.action)",
      0, 0, NULL, false },
    { 0 },
};

/* Scrub patterns are compiled here too, so `sentineld check` reports a
 * bad one at its position rather than the daemon at start. */
static void
check_patterns(const struct sn_node *l, struct sn_diags *d)
{
    for (size_t i = 0; l != NULL && l->type == SN_NODE_SEQ && i < l->n; i++) {
        const struct sn_node *p = l->items[i];
        PCRE2_UCHAR msg[128];
        PCRE2_SIZE off;
        pcre2_code *re;
        int ec;

        if (p->type != SN_NODE_SCALAR)
            continue;
        re = pcre2_compile((PCRE2_SPTR)p->str, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF, &ec, &off, NULL);
        if (re != NULL) {
            pcre2_code_free(re);
            continue;
        }
        pcre2_get_error_message(ec, msg, sizeof(msg));
        sn_diags_add(d, SN_DIAG_ERROR, p->file, p->line, p->col,
                     "scrub pattern '%s': %s at offset %zu", p->str,
                     (const char *)msg, (size_t)off);
    }
}

static void
load_journal(struct sn_config *c, const struct sn_node *n, struct sn_diags *d)
{
    struct sn_journal_conf *j = &c->daemon.journal;

    if (n != NULL && n->type != SN_NODE_MAP) {
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "'journal' must be a mapping (enabled:, segment_size:, "
                     "fsync_interval: ...)");
        return;
    }
    if (sn_options_fill(sn_journal_options, j, n, NULL,
                        "section daemon.journal", &c->arena, d) != SN_OK)
        return;
    if (j->max_size != 0 && j->max_size < 2 * j->segment_size) {
        const struct sn_node *v = sn_node_get(n, "max_size");

        if (v == NULL)
            v = sn_node_get(n, "segment_size");
        sn_diags_add(d, SN_DIAG_ERROR, v->file, v->line, v->col,
                     "daemon.journal.max_size (%llu bytes) must be 0 or at "
                     "least twice segment_size (%llu bytes): the segment "
                     "being written is never deleted",
                     (unsigned long long)j->max_size,
                     (unsigned long long)j->segment_size);
    }
}

static void
load_incidents(struct sn_config *c, const struct sn_node *n,
               struct sn_diags *d)
{
    static const char *const extra[] = { "scrub", "escalation", NULL };
    const struct sn_node *sc;

    if (n != NULL && n->type != SN_NODE_MAP) {
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "'incidents' must be a mapping");
        return;
    }
    sn_options_fill(sn_incidents_options, &c->incidents, n, extra,
                    "section incidents", &c->arena, d);
    sc = n != NULL ? sn_node_get(n, "scrub") : NULL;
    if (sc != NULL && sc->type != SN_NODE_MAP) {
        sn_diags_add(d, SN_DIAG_ERROR, sc->file, sc->line, sc->col,
                     "'scrub' must be a mapping (patterns:, keep:)");
        return;
    }
    if (sc != NULL) {
        sn_options_fill(sn_scrub_options, &c->incidents, sc, NULL,
                        "section incidents.scrub", &c->arena, d);
        c->incidents.scrub_keep_set = sn_node_get(sc, "keep") != NULL;
        check_patterns(sn_node_get(sc, "patterns"), d);
    }
}

const char *const sn_instance_core_keys[] = { "name", "plugin", "parser",
                                              "inputs", "take", "when_full",
                                              NULL };

static const char *const top_keys[] = { "daemon",    "http",    "inputs",
                                        "parsers",   "detectors", "outputs",
                                        "incidents", NULL };

const char *
sn_kind_name(enum sn_kind k)
{
    switch (k) {
    case SN_KIND_INPUT: return "input";
    case SN_KIND_PARSER: return "parser";
    case SN_KIND_DETECTOR: return "detector";
    case SN_KIND_OUTPUT: return "output";
    }
    return "?";
}

const char *
sn_kind_prefix(enum sn_kind k)
{
    switch (k) {
    case SN_KIND_INPUT: return "in_";
    case SN_KIND_PARSER: return "parse_";
    case SN_KIND_DETECTOR: return "det_";
    case SN_KIND_OUTPUT: return "out_";
    }
    return "";
}

static char *
arena_str(struct sn_arena *a, const char *s)
{
    return sn_arena_memdup(a, s, strlen(s) + 1);
}

static void
str_list(struct sn_config *c, const struct sn_node *n, const char *what,
         struct sn_strlist *out, struct sn_diags *d)
{
    const char **items;

    if (n == NULL)
        return;
    if (n->type == SN_NODE_SCALAR) {
        items = sn_arena_alloc(&c->arena, sizeof(char *));
        items[0] = arena_str(&c->arena, n->str);
        out->items = items;
        out->n = 1;
        return;
    }
    if (n->type != SN_NODE_SEQ) {
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "'%s' expects a name or a list of names, got %s", what,
                     sn_node_type_name(n->type));
        return;
    }
    items = sn_arena_alloc(&c->arena, (n->n + 1) * sizeof(char *));
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->type != SN_NODE_SCALAR) {
            sn_diags_add(d, SN_DIAG_ERROR, n->items[i]->file,
                         n->items[i]->line, n->items[i]->col,
                         "'%s' expects names, got %s", what,
                         sn_node_type_name(n->items[i]->type));
            return;
        }
        items[i] = arena_str(&c->arena, n->items[i]->str);
    }
    out->items = items;
    out->n = n->n;
}

/* `when_full: drop` lets an event output that cannot keep up lose events
 * (counted) instead of slowing every input down: for best-effort sinks
 * such as the event history, never for delivery that must not lose. */
static void
when_full_key(struct sn_inst_conf *ic, const struct sn_node *t,
              struct sn_diags *d)
{
    if (t == NULL)
        return;
    if (ic->kind != SN_KIND_OUTPUT) {
        sn_diags_add(d, SN_DIAG_ERROR, t->file, t->line, t->col,
                     "'when_full' is only valid for outputs");
        return;
    }
    if (t->type == SN_NODE_SCALAR && strcmp(t->str, "block") == 0)
        ic->drop_when_full = false;
    else if (t->type == SN_NODE_SCALAR && strcmp(t->str, "drop") == 0)
        ic->drop_when_full = true;
    else
        sn_diags_add(d, SN_DIAG_ERROR, t->file, t->line, t->col,
                     "'when_full' must be 'block' (slow the inputs down) or "
                     "'drop' (lose and count events this output cannot "
                     "keep up with)");
}

static void
take_key(struct sn_inst_conf *ic, const struct sn_node *t, struct sn_diags *d)
{
    if (t == NULL)
        return;
    if (ic->kind != SN_KIND_OUTPUT) {
        sn_diags_add(d, SN_DIAG_ERROR, t->file, t->line, t->col,
                     "'take' is only valid for outputs");
        return;
    }
    if (t->type == SN_NODE_SCALAR && strcmp(t->str, "events") == 0)
        ic->take = SN_TAKE_EVENTS;
    else if (t->type == SN_NODE_SCALAR && strcmp(t->str, "incidents") == 0)
        ic->take = SN_TAKE_INCIDENTS;
    else
        sn_diags_add(d, SN_DIAG_ERROR, t->file, t->line, t->col,
                     "'take' must be 'events' or 'incidents'");
}

static void
load_instances(struct sn_config *c, const struct sn_node *list,
               enum sn_kind kind, struct sn_diags *d)
{
    if (list->type != SN_NODE_SEQ) {
        sn_diags_add(d, SN_DIAG_ERROR, list->file, list->line, list->col,
                     "'%ss' expects a list of instances (\"- plugin: ...\"), "
                     "got %s",
                     sn_kind_name(kind), sn_node_type_name(list->type));
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sn_node *n = list->items[i];
        const struct sn_node *plugin, *name;
        struct sn_inst_conf *ic;
        const char *prefix = sn_kind_prefix(kind);
        size_t plen = strlen(prefix);

        if (n->type != SN_NODE_MAP) {
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "%s entry must be a mapping with a 'plugin' key, got "
                         "%s",
                         sn_kind_name(kind), sn_node_type_name(n->type));
            continue;
        }
        plugin = sn_node_get(n, "plugin");
        if (plugin == NULL || plugin->type != SN_NODE_SCALAR ||
            plugin->str[0] == '\0') {
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "%s entry has no 'plugin' (e.g. plugin: %sfile)",
                         sn_kind_name(kind), prefix);
            continue;
        }
        if (c->n_insts >= SN_INSTANCES_MAX * 4) {
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "too many plugin instances (limit %d)",
                         SN_INSTANCES_MAX * 4);
            return;
        }
        ic = &c->insts[c->n_insts];
        memset(ic, 0, sizeof(*ic));
        ic->kind = kind;
        ic->node = n;
        ic->line = n->line;
        ic->col = n->col;
        /* "syslog" and "in_syslog" both name the in_syslog plugin. */
        if (strncmp(plugin->str, prefix, plen) == 0) {
            ic->plugin = arena_str(&c->arena, plugin->str);
        } else {
            size_t len = plen + strlen(plugin->str) + 1;
            char *full = sn_arena_alloc(&c->arena, len);
            snprintf(full, len, "%s%s", prefix, plugin->str);
            ic->plugin = full;
        }
        name = sn_node_get(n, "name");
        if (name != NULL && (name->type != SN_NODE_SCALAR || name->str[0] == 0)) {
            sn_diags_add(d, SN_DIAG_ERROR, name->file, name->line, name->col,
                         "'name' must be a non-empty string");
            continue;
        }
        ic->name = name ? arena_str(&c->arena, name->str) : ic->plugin;
        for (size_t j = 0; j < c->n_insts; j++) {
            if (strcmp(c->insts[j].name, ic->name) == 0) {
                const struct sn_node *at = name ? name : n;
                sn_diags_add(d, SN_DIAG_ERROR, at->file, at->line, at->col,
                             "duplicate instance name '%s' (first at line "
                             "%d); give each instance a unique 'name'",
                             ic->name, c->insts[j].line);
                break;
            }
        }
        if (kind == SN_KIND_INPUT)
            str_list(c, sn_node_get(n, "parser"), "parser", &ic->parsers, d);
        else if (sn_node_get(n, "parser") != NULL) {
            const struct sn_node *p = sn_node_get(n, "parser");
            sn_diags_add(d, SN_DIAG_ERROR, p->file, p->line, p->col,
                         "'parser' is only valid for inputs");
        }
        if (kind == SN_KIND_OUTPUT || kind == SN_KIND_DETECTOR)
            str_list(c, sn_node_get(n, "inputs"), "inputs", &ic->inputs, d);
        else if (sn_node_get(n, "inputs") != NULL) {
            const struct sn_node *p = sn_node_get(n, "inputs");
            sn_diags_add(d, SN_DIAG_ERROR, p->file, p->line, p->col,
                         "'inputs' is only valid for detectors and outputs");
        }
        take_key(ic, sn_node_get(n, "take"), d);
        when_full_key(ic, sn_node_get(n, "when_full"), d);
        c->n_insts++;
    }
}

static size_t
count_instances(const struct sn_node *root)
{
    size_t n = 0;
    const char *keys[] = { "inputs", "parsers", "detectors", "outputs" };

    for (int i = 0; i < 4; i++) {
        const struct sn_node *l = sn_node_get(root, keys[i]);
        if (l != NULL && l->type == SN_NODE_SEQ)
            n += l->n;
    }
    return n;
}

/* The http section as the listener will use it, so `check` refuses what
 * sn_http_start would: an address that is not host:port with a port in
 * 1..65535, half a TLS pair, key or certificate files that cannot be read,
 * a web_root set to something that is not a directory. */
static void
check_http(const struct sn_http_conf *h, const struct sn_node *hn,
           struct sn_diags *d)
{
    const struct sn_node *n;
    const char *colon;
    char *end;
    long port;
    struct stat st;

    if (hn == NULL || !h->enabled)
        return;
    n = sn_node_get(hn, "listen");
    colon = strrchr(h->listen, ':');
    port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (n != NULL && (colon == NULL || colon == h->listen || *end != '\0' ||
                      colon[1] == '\0' || port < 1 || port > 65535))
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "http.listen \"%s\": expected HOST:PORT with PORT in "
                     "1..65535 (e.g. 127.0.0.1:8514, [::1]:8514)",
                     h->listen);
    if ((h->tls_cert == NULL) != (h->tls_key == NULL)) {
        n = sn_node_get(hn, h->tls_cert ? "tls_cert" : "tls_key");
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "http.%s without http.%s: give both to serve HTTPS",
                     h->tls_cert ? "tls_cert" : "tls_key",
                     h->tls_cert ? "tls_key" : "tls_cert");
    }
    for (int i = 0; i < 2; i++) {
        const char *key = i == 0 ? "tls_cert" : "tls_key";
        const char *file = i == 0 ? h->tls_cert : h->tls_key;

        n = sn_node_get(hn, key);
        if (file != NULL && n != NULL && access(file, R_OK) != 0)
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "http.%s %s: %s", key, file, strerror(errno));
    }
    /* The default web_root may be absent (a build without the console
     * installed): the API works, / answers 404. One set by hand must be
     * there. */
    n = sn_node_get(hn, "web_root");
    if (n != NULL && h->web_root != NULL) {
        if (stat(h->web_root, &st) != 0)
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "http.web_root %s: %s", h->web_root, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "http.web_root %s: not a directory", h->web_root);
    }
}

/* run creates state_dir (one level, as mkdir does) when it is missing:
 * refuse here what that mkdir would fail on, a missing parent or a file
 * in the way. */
static void
check_state_dir(const struct sn_daemon_conf *dc, const struct sn_node *dn,
                struct sn_diags *d)
{
    const struct sn_node *n = sn_node_get(dn, "state_dir");
    const char *dir = dc->state_dir;
    char parent[4096];
    const char *slash;
    struct stat st;

    if (n == NULL || dir == NULL || dir[0] == '\0')
        return;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                         "daemon.state_dir %s: not a directory", dir);
        return;
    }
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir ||
        (size_t)(slash - dir) >= sizeof(parent))
        return;
    memcpy(parent, dir, (size_t)(slash - dir));
    parent[slash - dir] = '\0';
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
        sn_diags_add(d, SN_DIAG_ERROR, n->file, n->line, n->col,
                     "daemon.state_dir %s cannot be created: %s is not a "
                     "directory (create it, or choose another state_dir)",
                     dir, parent);
}

static enum sn_status
load(const char *path, struct sn_config **out, struct sn_diags *d,
     bool keep_partial)
{
    struct sn_config *c;
    const struct sn_node *root;
    size_t errors_before = d->n_errors;
    static const enum sn_kind kinds[] = { SN_KIND_INPUT, SN_KIND_PARSER,
                                          SN_KIND_DETECTOR, SN_KIND_OUTPUT };
    static const char *const kind_keys[] = { "inputs", "parsers", "detectors",
                                             "outputs" };

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SN_ENOMEM;
    sn_arena_init(&c->arena, 16 * 1024, 0);
    c->path = strdup(path);
    /* An unset ${VAR} is an error, but the document still loads: go on so
     * the rest of the file's errors are reported with it. */
    if (sn_yaml_load(path, true, &c->yaml, d) != SN_OK &&
        (c->yaml == NULL || c->yaml->n_docs == 0))
        goto fail;
    if (c->yaml->n_docs != 1) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 1, 1,
                     c->yaml->n_docs == 0
                         ? "the file is empty; see conf/sentineld.yaml for a "
                           "working example"
                         : "expected one YAML document, found %zu",
                     c->yaml->n_docs);
        goto fail;
    }
    root = c->yaml->docs[0];
    if (root->type != SN_NODE_MAP) {
        sn_diags_add(d, SN_DIAG_ERROR, path, root->line, root->col,
                     "the top level must be a mapping (daemon:, inputs:, "
                     "outputs: ...), got %s",
                     sn_node_type_name(root->type));
        goto fail;
    }
    for (size_t i = 0; i < root->n; i++) {
        const struct sn_node *k = root->pairs[i].key;
        bool known = false;

        for (size_t j = 0; top_keys[j] != NULL; j++)
            if (strcmp(k->str, top_keys[j]) == 0)
                known = true;
        if (!known) {
            const char *best = sn_suggest(k->str, top_keys, 6);
            if (best != NULL)
                sn_diags_add(d, SN_DIAG_ERROR, k->file, k->line, k->col,
                             "unknown section '%s'; did you mean '%s'?",
                             k->str, best);
            else
                sn_diags_add(d, SN_DIAG_ERROR, k->file, k->line, k->col,
                             "unknown section '%s' (expected one of: daemon, "
                             "http, inputs, parsers, detectors, outputs, "
                             "incidents)",
                             k->str);
        }
    }
    {
        const struct sn_node *dn = sn_node_get(root, "daemon");
        const struct sn_node *hn = sn_node_get(root, "http");

        if (dn != NULL && dn->type != SN_NODE_MAP)
            sn_diags_add(d, SN_DIAG_ERROR, dn->file, dn->line, dn->col,
                         "'daemon' must be a mapping");
        else if (sn_options_fill(sn_daemon_options, &c->daemon, dn,
                                 daemon_extra, "section daemon", &c->arena,
                                 d) == SN_OK)
            check_state_dir(&c->daemon, dn, d);
        load_journal(c, dn != NULL && dn->type == SN_NODE_MAP
                            ? sn_node_get(dn, "journal")
                            : NULL,
                     d);
        if (hn != NULL && hn->type != SN_NODE_MAP)
            sn_diags_add(d, SN_DIAG_ERROR, hn->file, hn->line, hn->col,
                         "'http' must be a mapping");
        else if (sn_options_fill(sn_http_options, &c->http, hn, NULL,
                                 "section http", &c->arena, d) == SN_OK)
            check_http(&c->http, hn, d);
        load_incidents(c, sn_node_get(root, "incidents"), d);
    }
    c->insts = calloc(count_instances(root) + 1, sizeof(*c->insts));
    if (c->insts == NULL)
        goto fail;
    for (int k = 0; k < 4; k++) {
        const struct sn_node *l = sn_node_get(root, kind_keys[k]);
        if (l != NULL)
            load_instances(c, l, kinds[k], d);
    }
    /* After the instances: a step names outputs. */
    {
        const struct sn_node *in = sn_node_get(root, "incidents");
        if (in != NULL && in->type == SN_NODE_MAP)
            sn_esc_conf_load(c, sn_node_get(in, "escalation"), d);
    }
    if (d->n_errors == errors_before) {
        bool has_input = false;
        for (size_t i = 0; i < c->n_insts; i++)
            if (c->insts[i].kind == SN_KIND_INPUT)
                has_input = true;
        if (!has_input)
            sn_diags_add(d, SN_DIAG_WARNING, path, root->line, root->col,
                         "no inputs configured: nothing will be received");
    }
    if (d->n_errors > errors_before) {
        if (keep_partial) {
            *out = c;
            return SN_ECONFIG;
        }
        goto fail;
    }
    *out = c;
    return SN_OK;
fail:
    sn_config_free(c);
    return SN_ECONFIG;
}

enum sn_status
sn_config_load(const char *path, struct sn_config **out, struct sn_diags *d)
{
    return load(path, out, d, false);
}

enum sn_status
sn_config_load_all(const char *path, struct sn_config **out, struct sn_diags *d)
{
    return load(path, out, d, true);
}

void
sn_config_free(struct sn_config *c)
{
    if (c == NULL)
        return;
    sn_yaml_free(c->yaml);
    sn_arena_fini(&c->arena);
    free(c->insts);
    free(c->path);
    free(c);
}
