/* Correlation for `sentineld test`; see test_corr.h. */
#include "cli/test_corr.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/explain_render.h"
#include "core/buf.h"
#include "core/limits.h"
#include "rules/correlate.h"

/* A kept signal: its JSON at off in the store (NUL-terminated), and
 * where its line was. Signals are kept whole for the end of the run, so
 * they are appended to one growing store, and file names are copied once
 * per file: a malloc per signal was a fifth of a replay's time. */
struct tc_signal {
    size_t off;
    const char *file; /* one of files */
    int line;
};

struct sn_test_corr {
    const struct sn_ruleset *rs;
    struct sn_corr_set *set;
    struct sn_corr *c;
    struct tc_signal *sigs;
    size_t n_sigs, cap_sigs;
    char *store;
    size_t store_len, store_cap;
    char **files;
    size_t n_files;
    FILE *stream; /* sn_test_corr_stream */
    /* the line being fed */
    const char *file;
    int line;
    const struct sn_rule_event *rev;
    struct sn_rules_scratch *sc;
    const struct sn_rule *cur;
    const char *fired[SN_CLI_LINE_FIRED_MAX];
    size_t n_fired;
    struct sn_buf json, trace;
    int64_t now_ns; /* arrival time of lines without a timestamp */
};

/* Append json to the store and fill the next sigs slot (room for it is
 * the caller's); false on ENOMEM (the signal is not kept). */
static bool
keep_signal(struct sn_test_corr *tc, const char *json, size_t len)
{
    struct tc_signal *s = &tc->sigs[tc->n_sigs];
    const char *file = tc->file ? tc->file : "-";

    if (tc->store_len + len + 1 > tc->store_cap) {
        size_t cap = tc->store_cap ? tc->store_cap : 1 << 16;
        char *n;
        while (cap < tc->store_len + len + 1)
            cap *= 2;
        if ((n = realloc(tc->store, cap)) == NULL)
            return false;
        tc->store = n;
        tc->store_cap = cap;
    }
    if (tc->n_files == 0 || strcmp(tc->files[tc->n_files - 1], file) != 0) {
        char **f = realloc(tc->files, (tc->n_files + 1) * sizeof(*f));
        if (f == NULL)
            return false;
        tc->files = f;
        if ((f[tc->n_files] = strdup(file)) == NULL)
            return false;
        tc->n_files++;
    }
    memcpy(tc->store + tc->store_len, json, len);
    tc->store[tc->store_len + len] = '\0';
    s->off = tc->store_len;
    s->file = tc->files[tc->n_files - 1];
    s->line = tc->line;
    tc->store_len += len + 1;
    return true;
}

static void
on_signal(void *arg, const struct sn_signal *sig)
{
    struct sn_test_corr *tc = arg;
    struct sn_signal x = *sig;

    x.rule = sig->spec->rule;
    sn_buf_reset(&tc->trace);
    /* An update counts matches of a closed window: the line being fed
     * did not cause it, so it has no trace. */
    if (tc->cur != NULL && tc->rev != NULL &&
        sig->state != SN_SIGNAL_DEGRADED && sig->state != SN_SIGNAL_UPDATE) {
        struct sn_rule_explain ex;

        sn_rules_explain(tc->rs, tc->sc, tc->rev, tc->cur, &ex);
        if (sn_rules_explain_json(&ex, &tc->trace) == SN_OK) {
            x.trace.ptr = tc->trace.data;
            x.trace.len = tc->trace.len;
        }
    }
    sn_buf_reset(&tc->json);
    if (sn_signal_json(&x, &tc->json) != SN_OK)
        return;
    if (tc->stream != NULL) {
        sn_buf_putc(&tc->json, '\n');
        fwrite(tc->json.data, 1, tc->json.len, tc->stream);
        tc->n_sigs++;
        goto fired;
    }
    if (tc->n_sigs == tc->cap_sigs) {
        size_t cap = tc->cap_sigs ? tc->cap_sigs * 2 : 16;
        struct tc_signal *n = realloc(tc->sigs, cap * sizeof(*n));
        if (n == NULL)
            return;
        tc->sigs = n;
        tc->cap_sigs = cap;
    }
    if (!keep_signal(tc, tc->json.data, tc->json.len))
        return;
    tc->n_sigs++;
fired:
    if (sig->state == SN_SIGNAL_FIRING && tc->n_fired < SN_CLI_LINE_FIRED_MAX)
        tc->fired[tc->n_fired++] = sig->rule_id;
}

struct sn_test_corr *
sn_test_corr_new(const struct sn_ruleset *rs, struct sn_diags *d)
{
    struct sn_test_corr *tc = calloc(1, sizeof(*tc));

    if (tc == NULL)
        return NULL;
    tc->rs = rs;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        tc->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    sn_buf_init(&tc->json, (size_t)16 << 20);
    sn_buf_init(&tc->trace, (size_t)4 << 20);
    if (sn_corr_set_build(rs, &tc->set, d) != SN_OK) {
        sn_test_corr_free(tc);
        return NULL;
    }
    return tc;
}

void
sn_test_corr_free(struct sn_test_corr *tc)
{
    if (tc == NULL)
        return;
    for (size_t i = 0; i < tc->n_files; i++)
        free(tc->files[i]);
    free(tc->files);
    free(tc->store);
    free(tc->sigs);
    sn_corr_free(tc->c);
    sn_corr_set_free(tc->set);
    sn_buf_fini(&tc->json);
    sn_buf_fini(&tc->trace);
    free(tc);
}

bool
sn_test_corr_file(struct sn_test_corr *tc)
{
    struct sn_corr_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.summary_max = SN_CORR_SUMMARY_JSON_MAX;
    cfg.emit = on_signal;
    cfg.emit_arg = tc;
    sn_corr_free(tc->c);
    tc->c = sn_corr_new(tc->set, &cfg);
    return tc->c != NULL;
}

/* The evidence summary of the line being fed, when the engine keeps it
 * (sn_corr_input.summary_fn). */
static enum sn_status
line_summary(const struct sn_corr_input *in, void *arg, struct sn_buf *out)
{
    const struct sn_syslog_msg *msg = arg;

    return sn_corr_summary_json(out, msg->hostname, msg->appname, msg->msg,
                                in->rule, in->fields, in->n_fields);
}

void
sn_test_corr_feed(struct sn_test_corr *tc, const char *file, int line,
                  const struct sn_syslog_msg *msg,
                  const struct sn_rule_event *rev,
                  struct sn_rules_scratch *sc, const struct sn_rule_match *m,
                  size_t n)
{
    tc->n_fired = 0;
    if (tc->c == NULL)
        return;
    tc->file = file;
    tc->line = line;
    tc->rev = rev;
    tc->sc = sc;
    for (size_t i = 0; i < n; i++) {
        struct sn_corr_input in;

        if (tc->set->n_targets[m[i].rule->index] == 0)
            continue;
        memset(&in, 0, sizeof(in));
        in.rule = m[i].rule;
        in.fields = m[i].fields;
        in.n_fields = m[i].n_fields;
        in.ev = rev;
        in.time_ns = msg->has_time ? msg->time_ns : 0;
        in.arrival_ns = tc->now_ns;
        in.weight = sn_repeat_count(msg->msg);
        in.summary_fn = line_summary;
        in.summary_arg = (void *)msg;
        in.summary_is_json = true;
        tc->cur = m[i].rule;
        sn_corr_feed(tc->c, &in);
    }
    tc->cur = NULL;
    tc->rev = NULL;
}

bool
sn_test_corr_line_fired(const struct sn_test_corr *tc, const char *id)
{
    for (size_t i = 0; i < tc->n_fired; i++)
        if (strcmp(tc->fired[i], id) == 0)
            return true;
    return false;
}

size_t
sn_test_corr_count(const struct sn_test_corr *tc)
{
    return tc->n_sigs;
}

void
sn_test_corr_stream(struct sn_test_corr *tc, FILE *out)
{
    tc->stream = out;
}

void
sn_test_corr_print(const struct sn_test_corr *tc, bool json, FILE *out)
{
    if (json && tc->stream != NULL)
        return; /* written as they came */
    struct sn_buf b;

    if (!json)
        fprintf(out, "%zu signals\n", tc->n_sigs);
    sn_buf_init(&b, (size_t)16 << 20);
    for (size_t i = 0; i < tc->n_sigs; i++) {
        json_object *o;

        if (json) {
            fprintf(out, "%s\n", tc->store + tc->sigs[i].off);
            continue;
        }
        o = json_tokener_parse(tc->store + tc->sigs[i].off);
        sn_buf_reset(&b);
        sn_buf_printf(&b, "%s:%d: ", tc->sigs[i].file, tc->sigs[i].line);
        sn_explain_render(o, &b);
        fwrite(b.data, 1, b.len, out);
        json_object_put(o);
    }
    sn_buf_fini(&b);
}
