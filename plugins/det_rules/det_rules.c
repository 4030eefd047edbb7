/*
 * det_rules: evaluate the rule files (docs/rules.md) against every event,
 * on the worker threads, with the rules library of src/rules (the same
 * code `sentineld test` runs). Matching events are annotated: `rule.id`
 * lists the matching rules (space-separated), `rule.severity` the highest
 * severity, and each rule's extracted fields are set on the event, so
 * event outputs carry the detections. Matches then feed the correlation
 * engines and become signals for the incident manager (det_rules_corr.c),
 * whose state survives restarts and reloads (det_rules_ckpt.c).
 */
#include "det_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sn_option dr_options[] = {
    { "rules", SN_OPT_LIST, NULL, offsetof(struct dr_conf, rules),
      "rule files, or directories of *.yaml rule files", 0, 0, NULL, true },
    { "annotate", SN_OPT_BOOL, "true", offsetof(struct dr_conf, annotate),
      "set rule.id, rule.severity and extracted fields on matching events",
      0, 0, NULL, false },
    { "signals_file", SN_OPT_STRING, NULL,
      offsetof(struct dr_conf, signals_file),
      "also append every signal, one JSON object per line, to this file "
      "(for debugging rules)",
      0, 0, NULL, false },
    { "match_signals", SN_OPT_ENUM, "medium",
      offsetof(struct dr_conf, match_signals),
      "lowest severity at which a rule without a correlation signals every "
      "match (none: never)",
      0, 0, "info|low|medium|high|critical|none", false },
    { "coalesce", SN_OPT_BOOL, "true", offsetof(struct dr_conf, coalesce),
      "a batch's matches of one (rule, group key) of a rule without a "
      "correlation become one signal counting them (the incident is the "
      "same; false: a signal per match)",
      0, 0, NULL, false },
    { "max_keys", SN_OPT_INT, "100000", offsetof(struct dr_conf, max_keys),
      "correlation keys per rule (a rule's limits.max_keys overrides)",
      1, 100000000, NULL, false },
    { "max_events", SN_OPT_INT, "256", offsetof(struct dr_conf, max_events),
      "events kept per correlation key (a rule's limits.max_events "
      "overrides)",
      1, 1000000, NULL, false },
    { "evidence", SN_OPT_INT, "3", offsetof(struct dr_conf, evidence),
      "first and last K events kept as a signal's evidence (0: none)",
      0, 16, NULL, false },
    { "tick", SN_OPT_DURATION, "1s", offsetof(struct dr_conf, tick_ms),
      "how often time-driven checks run (absence, resolve_after)",
      10, 60000, NULL, false },
    { "repartition_topic", SN_OPT_STRING, NULL,
      offsetof(struct dr_conf, hop_topic),
      "the repartition hop's topic (docs/scaling.md): correlations not "
      "grouped by topic_key are fed where this topic's partition of their "
      "key is read (unset: no hop, every correlation is fed here)",
      0, 0, NULL, false },
    { "repartition_brokers", SN_OPT_STRING, NULL,
      offsetof(struct dr_conf, hop_brokers),
      "bootstrap brokers of the repartition topic", 0, 0, NULL, false },
    { "repartition_input", SN_OPT_STRING, "repartition",
      offsetof(struct dr_conf, hop_input),
      "the in_kafka input reading the repartition topic", 0, 0, NULL,
      false },
    { "repartition_events_topic", SN_OPT_STRING, NULL,
      offsetof(struct dr_conf, hop_like),
      "the events topic: a missing repartition topic is created at start "
      "with as many partitions (unset: sentineld does not create it)",
      0, 0, NULL, false },
    { "repartition_replication", SN_OPT_INT, "-1",
      offsetof(struct dr_conf, hop_replication),
      "replication factor of the repartition topic sentineld creates "
      "(-1: the broker's default.replication.factor)",
      -1, 32767, NULL, false },
    { "repartition_linger", SN_OPT_DURATION, "1ms",
      offsetof(struct dr_conf, hop_linger_ms),
      "how long the repartition producer waits to fill a request", 0,
      1000, NULL, false },
    { "repartition_ack", SN_OPT_ENUM, "batch",
      offsetof(struct dr_conf, hop_ack),
      "when the hop's matches must be acknowledged: before their batch is "
      "released (batch: safe with any input), or before a partition "
      "checkpoint is written (checkpoint: faster; only with in_kafka "
      "checkpoints on every input feeding this detector)",
      0, 0, "batch|checkpoint", false },
    { "topic_key", SN_OPT_LIST, NULL, offsetof(struct dr_conf, topic_key),
      "fields the events topic is keyed by: correlations grouped by all of "
      "them (or finer) skip the repartition hop",
      0, 0, NULL, false },
    { 0 },
};

static void
tls_free(void *p)
{
    dr_tls_free(p);
}

/* Per-rule matches and signals as labelled counters (the API's rule list
 * reads them back by the same labels). A daemon older than the
 * counter_labels entry gets no per-rule counts. */
static enum sn_status
rule_counters(struct dr_state *s)
{
    const struct sn_host *h = s->host;
    size_t n = s->rs->n_rules;

    if (!SN_HOST_HAS(h, counter_labels))
        return SN_OK;
    s->rule_matches = calloc(n + 1, sizeof(*s->rule_matches));
    s->rule_signals = calloc(n + 1, sizeof(*s->rule_signals));
    s->rule_eval_ns = calloc(n + 1, sizeof(*s->rule_eval_ns));
    if (s->rule_matches == NULL || s->rule_signals == NULL ||
        s->rule_eval_ns == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char labels[160];
        /* Rule ids are letters, digits, '-', '_' and '.' (rules/load.c):
         * nothing to escape in a label value. */
        snprintf(labels, sizeof(labels), "rule=\"%s\"", s->rs->rules[i].id);
        s->rule_matches[i] = h->counter_labels(s->inst, "rule_matches_total",
                                               labels, "matches of the rule");
        s->rule_signals[i] = h->counter_labels(s->inst, "rule_signals_total",
                                               labels, "signals of the rule");
        s->rule_eval_ns[i] = h->counter_labels(
            s->inst, "rule_eval_ns_total", labels,
            "time evaluating the rule (extraction included), in ns, "
            "estimated from one event in 64");
    }
    return SN_OK;
}

static enum sn_status
dr_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct dr_state *s = calloc(1, sizeof(*s));
    struct sn_rules_src *src;
    struct sn_diags d;

    if (s == NULL)
        return SN_ENOMEM;
    *state = s;
    s->host = host;
    s->inst = inst;
    s->c = config;
    if (pthread_key_create(&s->tls_key, tls_free) != 0)
        return SN_ENOMEM;
    s->key_made = true;
    src = sn_rules_src_new();
    if (src == NULL)
        return SN_ENOMEM;
    sn_diags_init(&d);
    for (size_t i = 0; i < s->c->rules.n; i++)
        sn_rules_src_add_path(src, s->c->rules.items[i], &d);
    if (d.n_errors == 0)
        sn_ruleset_build(src, &s->rs, &d);
    sn_rules_src_free(src);
    /* Every diagnostic reaches the user at its position: through
     * config_diag they join `sentineld check`'s own list (all of them in
     * one pass); an older daemon logs them and gets the first error as
     * the init failure. */
    bool joined = SN_HOST_HAS(host, config_diag);
    for (size_t i = 0; i < d.n; i++) {
        const struct sn_diag *it = &d.items[i];
        if (joined)
            host->config_diag(inst, it->level == SN_DIAG_ERROR, it->file,
                              it->line, it->col, it->msg);
        else
            host->log(inst,
                      it->level == SN_DIAG_ERROR ? SN_LOG_ERROR : SN_LOG_WARN,
                      "%s:%d:%d: %s", it->file ? it->file : "-", it->line,
                      it->col, it->msg);
    }
    if (d.n_errors > 0 || s->rs == NULL) {
        if (joined && d.n_errors > 0)
            snprintf(err, err_len, "%zu error%s in its rule files (each "
                     "listed at its position)", d.n_errors,
                     d.n_errors > 1 ? "s" : "");
        for (size_t i = 0; !joined && i < d.n; i++) {
            const struct sn_diag *it = &d.items[i];
            if (it->level != SN_DIAG_ERROR)
                continue;
            snprintf(err, err_len, "%s:%d:%d: %s%s", it->file ? it->file : "-",
                     it->line, it->col, it->msg,
                     d.n_errors > 1 ? " (and more errors, logged above)" : "");
            break;
        }
        if (err[0] == '\0')
            snprintf(err, err_len, "the rules could not be built");
        sn_diags_fini(&d);
        return SN_ECONFIG;
    }
    if (dr_api_keep_diags(s, &d) != SN_OK) {
        sn_diags_fini(&d);
        return SN_ENOMEM;
    }
    sn_diags_fini(&d);
    s->c_matches = host->counter(inst, "rules_matches_total",
                                 "rule matches over all rules");
    s->c_regex_errors = host->counter(
        inst, "rules_regex_errors_total",
        "regex evaluations stopped by the match limit or failing");
    s->c_signals = host->counter(inst, "signals_total",
                                 "signals emitted (correlations and matches)");
    s->c_signal_failures = host->counter(
        inst, "signal_emit_failures_total",
        "signals lost: refused by the incident manager or too large");
    s->c_signals_file_errors = host->counter(
        inst, "signals_file_errors_total", "failed writes to signals_file");
    s->c_ckpt_errors = host->counter(
        inst, "checkpoint_errors_total",
        "correlation checkpoints that could not be written or read");
    if (rule_counters(s) != SN_OK)
        return SN_ENOMEM;
    {
        enum sn_status rc = dr_corr_init(s, err, err_len);
        if (rc == SN_OK)
            rc = dr_hop_init(s, err, err_len);
        if (rc != SN_OK)
            return rc;
    }
    host->log(inst, SN_LOG_INFO, "%zu rules loaded, %zu correlations, %zu "
              "shards", s->rs->n_rules, s->set->n_specs, s->n_shards);
    return SN_OK;
}

static enum sn_status
dr_start(void *state, char *err, size_t err_len)
{
    enum sn_status rc = dr_hop_start(state, err, err_len);

    return rc == SN_OK ? dr_corr_start(state, err, err_len) : rc;
}

static void
dr_stop(void *state)
{
    dr_corr_stop(state);
    dr_hop_stop(state);
}

static void
dr_destroy(void *state)
{
    struct dr_state *s = state;

    if (s == NULL)
        return;
    if (s->key_made) {
        /* The worker threads have exited; their scratch was freed by the
         * key destructor. */
        pthread_key_delete(s->tls_key);
    }
    dr_hop_fini(s);
    dr_corr_fini(s);
    sn_ruleset_free(s->rs);
    free(s->rule_matches);
    free(s->rule_signals);
    free(s->rule_eval_ns);
    free(s->diags_json);
    free(s);
}

static const struct sn_http_route dr_routes[] = {
    { .method = "GET",
      .path = "rules",
      .role = SN_ROLE_VIEWER,
      .handler = dr_api_rules },
    { 0 },
};

/* ---- the engine reads events through the host API ------------------------ */

static const enum sn_field header_of[] = {
    [SN_RF_HOSTNAME] = SN_F_HOSTNAME, [SN_RF_APPNAME] = SN_F_APPNAME,
    [SN_RF_PROCID] = SN_F_PROCID,     [SN_RF_MSGID] = SN_F_MSGID,
    [SN_RF_MSG] = SN_F_MSG,
};

bool
dr_get(void *ctx, int field_id, const char *name, size_t name_len,
       struct sn_value *out)
{
    struct dr_event *e = ctx;
    const struct sn_host *h = e->host;
    int pri;

    switch (field_id) {
    case SN_RF_HOSTNAME:
    case SN_RF_APPNAME:
    case SN_RF_PROCID:
    case SN_RF_MSGID:
    case SN_RF_MSG:
        out->type = SN_VAL_STR;
        out->u.s = h->event_get(e->ev, header_of[field_id]);
        if (field_id == SN_RF_MSG)
            out->u.s = sn_rule_msg_view(out->u.s);
        return out->u.s.ptr != NULL;
    case SN_RF_SEVERITY:
    case SN_RF_FACILITY:
    case SN_RF_PRI:
        pri = h->event_pri(e->ev);
        if (pri < 0)
            return false;
        out->type = SN_VAL_INT;
        out->u.i = field_id == SN_RF_PRI        ? pri
                   : field_id == SN_RF_SEVERITY ? pri % 8
                                                : pri / 8;
        return true;
    default: {
        struct sn_str key = { name, name_len };
        return h->event_field(e->ev, key, out);
    }
    }
}

static struct dr_tls *
tls(struct dr_state *s)
{
    struct dr_tls *t = pthread_getspecific(s->tls_key);

    if (t == NULL) {
        t = dr_tls_new(s);
        if (t != NULL)
            pthread_setspecific(s->tls_key, t);
    }
    return t;
}

/* Extracted fields set per event at most: beyond, set_extracted falls
 * back to one set per match field. */
#define DR_SET_MAX 64

/* Set the extracted fields of the matches m[0..n) on ev as if each match,
 * from the last to the first, set all of its fields (so the first rule
 * that extracts a field wins, and a field takes its place in the event
 * when it is first set), but with one host call per field name: rules
 * sharing an extraction set the same names (three times each for a
 * failed sshd password), and every call searched the event's fields. */
static void
set_extracted(const struct sn_host *h, struct sn_event *ev,
              const struct sn_rule_match *m, size_t n)
{
    const struct sn_rule_field_value *set[DR_SET_MAX];
    size_t n_set = 0;
    bool fits = true;

    for (size_t i = n; i-- > 0 && fits;)
        for (size_t k = 0; k < m[i].n_fields && fits; k++) {
            const struct sn_rule_field_value *f = &m[i].fields[k];
            size_t j;

            for (j = 0; j < n_set; j++)
                if (set[j]->name_len == f->name_len &&
                    (set[j]->name == f->name ||
                     (f->name_len > 0 && set[j]->name[0] == f->name[0] &&
                      memcmp(set[j]->name, f->name, f->name_len) == 0)))
                    break;
            if (j < n_set)
                set[j] = f; /* set again later: its value wins */
            else if (n_set < DR_SET_MAX)
                set[n_set++] = f;
            else
                fits = false;
        }
    if (fits) {
        for (size_t j = 0; j < n_set; j++)
            h->event_set_field(
                ev, (struct sn_str){ set[j]->name, set[j]->name_len },
                &set[j]->v);
        return;
    }
    for (size_t i = n; i-- > 0;)
        for (size_t k = 0; k < m[i].n_fields; k++)
            h->event_set_field(
                ev,
                (struct sn_str){ m[i].fields[k].name, m[i].fields[k].name_len },
                &m[i].fields[k].v);
}

static void
annotate(struct dr_state *s, struct sn_event *ev,
         const struct sn_rule_match *m, size_t n)
{
    const struct sn_host *h = s->host;
    static const char key_id[] = "rule.id", key_sev[] = "rule.severity";
    struct sn_value v;
    size_t len = 0;
    enum sn_rule_severity sev = SN_SEV_INFO;
    char *ids = NULL;

    size_t n_tag = 0;

    /* Rate and absence watchers take every event they see: not a match
     * of the event (an SSH failure is not a "log volume spike"). */
    for (size_t i = 0; i < n; i++)
        if (!m[i].rule->aggregate) {
            len += m[i].rule->id_len + 1;
            n_tag++;
        }
    if (n_tag > 0) {
        ids = h->event_alloc(ev, len);
        if (ids == NULL)
            return;
    }
    len = 0;
    for (size_t i = 0; i < n && n_tag > 0; i++) {
        size_t l = m[i].rule->id_len;

        if (m[i].rule->aggregate)
            continue;
        if (len > 0)
            ids[len++] = ' ';
        memcpy(ids + len, m[i].rule->id, l);
        len += l;
        if (m[i].rule->severity > sev)
            sev = m[i].rule->severity;
    }
    if (n_tag == 0)
        goto extracted;
    memset(&v, 0, sizeof(v));
    v.type = SN_VAL_STR;
    v.u.s.ptr = ids;
    v.u.s.len = len;
    h->event_set_field(ev, (struct sn_str){ key_id, sizeof(key_id) - 1 }, &v);
    v.u.s.ptr = sn_rule_severity_name(sev);
    v.u.s.len = strlen(v.u.s.ptr);
    h->event_set_field(ev, (struct sn_str){ key_sev, sizeof(key_sev) - 1 },
                       &v);
    /* Extracted values are slices of the event's own fields and the names
     * belong to the ruleset, which outlives every batch. The first rule
     * that extracts a field wins (rules are in file order). */
extracted:
    set_extracted(h, ev, m, n);
}

static enum sn_status
dr_detect(void *state, struct sn_batch *b)
{
    struct dr_state *s = state;
    struct dr_tls *t = tls(s);
    size_t n = s->host->batch_len(b);
    uint64_t matches = 0;
    int64_t newest = 0;
    bool ok = true, timed = false;

    if (t == NULL)
        return SN_ENOMEM;
    /* Compact matches from the repartition topic: correlation only. */
    if (dr_hop_is_hop_batch(s, b))
        return dr_hop_consume(s, t, b);
    for (size_t i = 0; i < n; i++) {
        struct dr_event e = { s->host, s->host->batch_event(b, i) };
        struct sn_rule_event rev = { &e, dr_get };
        const struct sn_rule_match *m;
        unsigned flags =
            t->n_evals++ % DR_TIME_EVERY == 0 && s->rule_eval_ns != NULL
                ? SN_RULES_TIME_RULES
                : 0;
        size_t k = sn_rules_eval(s->rs, t->sc, &rev, flags, &m);
        int64_t ts;

        timed |= flags != 0;
        if (s->host->event_time(e.ev, &ts) && ts > newest)
            newest = ts;
        else if (!s->host->event_time(e.ev, &ts) &&
                 s->host->event_record(e.ev) != NULL &&
                 s->host->event_record(e.ev)->recv_ns > newest)
            newest = s->host->event_record(e.ev)->recv_ns;
        matches += k;
        for (size_t j = 0; j < k; j++) {
            uint32_t r = m[j].rule->index;
            if (t->rule_hits[r]++ == 0)
                t->touched[t->n_touched++] = r;
            ok &= dr_corr_collect(s, t, b, (uint32_t)i, &m[j]);
        }
        if (k > 0 && s->c->annotate)
            annotate(s, (struct sn_event *)e.ev, m, k);
    }
    dr_note_times(s, newest);
    /* Feed after the whole batch was evaluated: one lock per shard. */
    dr_corr_flush(s, t, b);
    /* Before the batch is released (and its offsets can be committed):
     * the matches of correlations keyed elsewhere are on their way. */
    if (t->n_hop > 0)
        ok &= dr_hop_send(s, t);
    s->host->counter_add(s->c_matches, matches);
    /* Per rule: one atomic add per rule that matched in this batch. */
    for (size_t i = 0; i < t->n_touched; i++) {
        uint32_t r = t->touched[i];
        if (s->rule_matches != NULL)
            s->host->counter_add(s->rule_matches[r], t->rule_hits[r]);
        t->rule_hits[r] = 0;
    }
    t->n_touched = 0;
    if (timed) {
        uint64_t *ns = sn_rules_scratch_rule_ns(t->sc);
        for (size_t r = 0; r < s->rs->n_rules; r++)
            if (ns[r] != 0) {
                s->host->counter_add(s->rule_eval_ns[r], ns[r] * DR_TIME_EVERY);
                ns[r] = 0;
            }
    }
    return ok ? SN_OK : SN_ENOMEM;
}

SN_PLUGIN_EXPORT const struct sn_plugin
    sn_plugin_det_rules = {
        SN_PLUGIN_HEADER,
        .name = "det_rules",
        .kind = SN_KIND_DETECTOR,
        .description = "evaluate rule files on every event: match, extract, "
                       "correlate, signal",
        .version = "1",
        .options = dr_options,
        .routes = dr_routes,
        .config_size = sizeof(struct dr_conf),
        .init = dr_init,
        .start = dr_start,
        .stop = dr_stop,
        .destroy = dr_destroy,
        .detect = dr_detect,
        .partition_checkpoint = dr_partition_checkpoint,
        .partition_restore = dr_partition_restore,
        .partition_release = dr_partition_release,
    };
