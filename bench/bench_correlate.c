/*
 * Micro-benchmark of the correlation engine (run by hand, like the other
 * bench/ programs): N matched events spread over K source addresses fed
 * into one threshold rule (10 in 2m) with bounded state, in event-time
 * order with a little jitter. Prints events/s on one core, signals, keys
 * kept and evicted, and the checkpoint size. A second pass over a fresh
 * engine times every event from its arrival in the feed to the return,
 * and every signal from its event's arrival to its JSON being rendered
 * (what det_rules does under the shard lock), and prints p50/p99/p99.9.
 * A third pair of passes prints the cost of one signal on the engine's
 * thread: every feed is timed in the stream with every signal captured as
 * compact data (as det_rules does under the shard's lock) and in the same
 * stream into a rule whose window count (1000) no key reaches; the cost
 * is the median over the feeds that signalled of (that feed's time minus
 * the same event's feed time without signals) per signal it raised (a
 * median of paired differences: the whole-pass CPU difference moved by
 * 5x between runs on a shared machine). Apart: the CPU cost of rendering
 * each captured signal's JSON, which det_rules does after the lock, every
 * 256 events here (a batch). The same figure with the JSON rendered in
 * the callback (what det_rules did before captures) is printed first.
 * Usage: _build/bench/bench_correlate [events [keys [max_keys]]]
 * (defaults: 1,000,000 events, 100,000 keys, max_keys = keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "rules/correlate.h"
#include "rules/load.h"

/* The rule, with the threshold count as COUNT. */
#define RULES(COUNT)                                                           \
    "rules:\n"                                                                 \
    "  - id: brute\n"                                                          \
    "    title: brute force\n"                                                 \
    "    severity: medium\n"                                                   \
    "    match: msg contains \"Failed\"\n"                                     \
    "    group_by: [source.ip]\n"                                              \
    "    window: 2m\n"                                                         \
    "    threshold: {count: " COUNT "}\n"                                      \
    "    suppress: 10m\n"

static const char rules[] = RULES("10");
/* The same rule with a count no key reaches in the stream (about 10
 * events per key): the baseline of the per-signal cost (same keys, same
 * feeds, the same windows held, no signals). */
static const char rules_quiet[] = RULES("1000");

static uint64_t n_signals;
/* The per-signal pass: capture every signal, as det_rules does, and
 * render the captured ones every 256 events (CPU time apart). */
static bool capture_all;
static struct sn_buf captured;
static double render_cpu;
/* The same pass as before captures: JSON rendered in the callback. */
static bool json_in_callback;
/* Per event of the per-signal passes: signals its feed raised. */
static uint8_t *sig_at;

/* The latency pass. */
static bool timing;
static int64_t t_arrival;
static int64_t *sig_lat;
static size_t n_sig_lat, cap_sig_lat;
static struct sn_buf sig_json;

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
on_signal(void *arg, const struct sn_signal *sig)
{
    (void)arg;
    n_signals++;
    if (capture_all)
        sn_signal_capture(sig, &captured);
    if (json_in_callback) {
        sn_buf_reset(&sig_json);
        sn_signal_json(sig, &sig_json);
    }
    if (!timing)
        return;
    sn_buf_reset(&sig_json);
    sn_signal_json(sig, &sig_json);
    if (n_sig_lat < cap_sig_lat)
        sig_lat[n_sig_lat++] = mono_ns() - t_arrival;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: on a shared machine wall time mostly measures
 * the neighbours, so both are printed. */
static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Render what was captured since the last call, as det_rules does once
 * its locks are released; its CPU time goes to render_cpu. */
static void
render_captured(void)
{
    struct sn_signal_view v;
    size_t off = 0;
    double t0;

    if (captured.len == 0)
        return;
    t0 = cpu_s();
    while (sn_signal_captured(captured.data, captured.len, &off, &v)) {
        sn_buf_reset(&sig_json);
        sn_signal_json(&v.sig, &sig_json);
    }
    sn_buf_reset(&captured);
    render_cpu += cpu_s() - t0;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void
percentiles(const char *what, int64_t *v, size_t n)
{
    if (n == 0) {
        printf("  %s: none\n", what);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    printf("  %s (%zu): p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.2f "
           "us\n",
           what, n, (double)v[n / 2] / 1e3, (double)v[n * 99 / 100] / 1e3,
           (double)v[n * 999 / 1000] / 1e3, (double)v[n - 1] / 1e3);
}

/* Feed events [0, n) into c (the throughput and the latency pass). */
static void
run(struct sn_corr *c, const struct sn_ruleset *rs, char (*ips)[16],
    const uint32_t *order, size_t n, int64_t t0, int64_t *ev_lat)
{
    for (size_t i = 0; i < n; i++) {
        struct sn_rule_field_value fv;
        struct sn_corr_input in = { 0 };
        char summary[64];
        int len;

        if (ev_lat != NULL)
            t_arrival = mono_ns();
        fv.name = "source.ip";
        fv.name_len = 9;
        fv.v.type = SN_VAL_STR;
        fv.v.u.s.ptr = ips[order[i]];
        fv.v.u.s.len = strlen(ips[order[i]]);
        len = snprintf(summary, sizeof(summary),
                       "Failed password for root from %s", ips[order[i]]);
        in.rule = &rs->rules[0];
        in.fields = &fv;
        in.n_fields = 1;
        /* 10,000 events per second of event time, a little jitter */
        in.time_ns = t0 + (int64_t)i * 100000 - (int64_t)(i % 7) * 1000;
        in.arrival_ns = in.time_ns;
        in.summary = summary;
        in.summary_len = (size_t)len;
        {
            uint64_t before = n_signals;
            sn_corr_feed(c, &in);
            if (ev_lat != NULL)
                ev_lat[i] = mono_ns() - t_arrival;
            if (sig_at != NULL)
                sig_at[i] = (uint8_t)(n_signals - before);
        }
        if (i % 10000 == 0)
            sn_corr_advance(c, in.time_ns);
        if (capture_all && i % 256 == 255)
            render_captured();
    }
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t keys = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t max_keys = argc > 3 ? strtoul(argv[3], NULL, 10) : keys;
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_corr_set *set = NULL;
    struct sn_corr *c;
    struct sn_diags d;
    struct sn_corr_config cfg = { 0 };
    struct sn_corr_rule_stats st;
    struct sn_buf ck;
    char(*ips)[16];
    uint32_t *order;
    int64_t t0 = 1700000000LL * 1000000000LL;
    double t_start, dt, c_start, dc;

    sn_diags_init(&d);
    if (sn_rules_src_add_mem(src, "bench", rules, sizeof(rules) - 1, &d) ||
        sn_ruleset_build(src, &rs, &d) || sn_corr_set_build(rs, &set, &d)) {
        sn_diags_print(&d, stderr);
        return 1;
    }
    cfg.max_keys = (uint32_t)max_keys;
    cfg.emit = on_signal;
    c = sn_corr_new(set, &cfg);
    ips = malloc(keys * sizeof(*ips));
    order = malloc(n * sizeof(*order));
    if (c == NULL || ips == NULL || order == NULL)
        return 1;
    for (size_t i = 0; i < keys; i++)
        snprintf(ips[i], sizeof(ips[i]), "10.%zu.%zu.%zu", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
    srand(1);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)(rand() % (int)keys);

    t_start = now_s();
    c_start = cpu_s();
    run(c, rs, ips, order, n, t0, NULL);
    dt = now_s() - t_start;
    dc = cpu_s() - c_start;
    sn_corr_rule_stats(c, 0, &st);
    sn_buf_init(&ck, (size_t)1 << 31);
    sn_corr_checkpoint(c, NULL, NULL, &ck);
    printf("correlate threshold: %zu events over %zu keys (max_keys %zu): "
           "%.0f events/s, %.1f ns/event; CPU %.3f s: %.0f events/s per "
           "CPU s\n",
           n, keys, max_keys, (double)n / dt, dt * 1e9 / (double)n, dc,
           (double)n / dc);
    printf("  signals %llu, hits %llu, suppressed %llu, keys kept %llu, "
           "evicted %llu, reclaimed %llu, degraded signals %llu, "
           "checkpoint %zu bytes\n",
           (unsigned long long)n_signals, (unsigned long long)st.hits,
           (unsigned long long)st.suppressed, (unsigned long long)st.keys,
           (unsigned long long)st.keys_evicted,
           (unsigned long long)st.keys_reclaimed,
           (unsigned long long)st.degraded_signals, ck.len);
    sn_buf_fini(&ck);
    sn_corr_free(c);

    /* Latency pass on a fresh engine. */
    {
        int64_t *ev_lat = malloc(n * sizeof(*ev_lat));

        cap_sig_lat = n;
        sig_lat = malloc(n * sizeof(*sig_lat));
        sn_buf_init(&sig_json, (size_t)1 << 20);
        c = sn_corr_new(set, &cfg);
        if (ev_lat == NULL || sig_lat == NULL || c == NULL)
            return 1;
        timing = true;
        run(c, rs, ips, order, n, t0, ev_lat);
        printf("latency, arrival in the engine to:\n");
        percentiles("feed returned, every event", ev_lat, n);
        percentiles("signal JSON rendered, events that signalled", sig_lat,
                    n_sig_lat);
        sn_corr_free(c);
        sn_buf_fini(&sig_json);
        free(ev_lat);
        free(sig_lat);
    }
    /* Per-signal cost: the same stream with every signal captured, minus
     * a rule that never fires; three alternated pairs, medians. */
    {
        struct sn_rules_src *qsrc = sn_rules_src_new();
        struct sn_ruleset *qrs = NULL;
        struct sn_corr_set *qset = NULL;
        int64_t *dq = malloc(n * sizeof(*dq)), *df = malloc(n * sizeof(*df));
        int64_t *diff = malloc(n * sizeof(*diff));
        uint8_t *at = malloc(n);
        uint64_t sigs = 0;

        if (dq == NULL || df == NULL || diff == NULL || at == NULL ||
            sn_rules_src_add_mem(qsrc, "quiet", rules_quiet,
                                 sizeof(rules_quiet) - 1, &d) ||
            sn_ruleset_build(qsrc, &qrs, &d) ||
            sn_corr_set_build(qrs, &qset, &d)) {
            sn_diags_print(&d, stderr);
            return 1;
        }
        sn_buf_init(&sig_json, (size_t)1 << 20);
        sn_buf_init(&captured, (size_t)1 << 28);
        timing = false;
        n_signals = 0;
        c = sn_corr_new(qset, &cfg);
        run(c, qrs, ips, order, n, t0, dq);
        sn_corr_free(c);
        if (n_signals != 0)
            printf("  (the baseline rule signalled %llu times)\n",
                   (unsigned long long)n_signals);
        for (int mode = 0; mode < 2; mode++) {
            size_t nd = 0;
            double mean99;

            capture_all = mode == 1;
            json_in_callback = mode == 0;
            n_signals = 0;
            render_cpu = 0;
            sig_at = at;
            c = sn_corr_new(set, &cfg);
            run(c, rs, ips, order, n, t0, df);
            render_captured();
            sig_at = NULL;
            sigs = n_signals;
            sn_corr_free(c);
            for (size_t i = 0; i < n; i++)
                if (at[i] > 0)
                    diff[nd++] = (df[i] - dq[i]) / at[i];
            qsort(diff, nd, sizeof(*diff), cmp_i64);
            {
                /* The mean of p1..p99 too: the median hides the signals
                 * that miss the cache more than most (the ends are
                 * either pass being preempted). */
                double sum = 0;
                size_t lo = nd / 100, hi = nd * 99 / 100;
                for (size_t i = lo; i < hi; i++)
                    sum += (double)diff[i];
                mean99 = hi > lo ? sum / (double)(hi - lo) / 1e3 : 0;
            }
            printf("per signal on the engine's thread (built, evidence, "
                   "%s): %.2f us (median of %zu feeds' paired "
                   "differences; p25 %.2f, p75 %.2f, mean p1-p99 "
                   "%.2f; %llu signals)\n",
                   mode ? "captured" : "JSON rendered in the callback",
                   nd ? (double)diff[nd / 2] / 1e3 : 0.0, nd,
                   nd ? (double)diff[nd / 4] / 1e3 : 0.0,
                   nd ? (double)diff[nd * 3 / 4] / 1e3 : 0.0, mean99,
                   (unsigned long long)sigs);
            if (mode == 1)
                printf("per signal rendered to JSON from its capture "
                       "(after the lock): %.2f us CPU\n",
                       sigs ? render_cpu * 1e6 / (double)sigs : 0.0);
        }
        free(dq);
        free(df);
        free(diff);
        free(at);
        sn_buf_fini(&sig_json);
        sn_buf_fini(&captured);
        sn_corr_set_free(qset);
        sn_ruleset_free(qrs);
        sn_rules_src_free(qsrc);
    }
    sn_corr_set_free(set);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
    free(ips);
    free(order);
    return 0;
}
