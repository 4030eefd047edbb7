/*
 * Latency from a detector's signal_emit to out_kafka's delivery report,
 * at a fixed rate of new incidents. The daemon's own path: the config is
 * loaded and the pipeline built as `sentineld run` does (out_kafka with
 * `take: incidents`, acks=all, idempotent), signals go through the host's
 * signal_emit into the incident manager (parse, scrub, batched fold,
 * SQLite commit with synchronous=FULL), the outbox relay wakes on the
 * commit, hands the document to out_kafka and waits for the delivery
 * report (the outbox's acknowledgement). The clock stops when the relay
 * sees that acknowledgement. Run by bench/bench_incident_latency.sh,
 * which starts tests/tools/kafka_broker:
 *   bench_incident_latency BROKERS [rate/s [seconds [linger]]]
 * Each signal opens its own incident (unique group key), so every signal
 * is one outbox document, found again by its key.
 */
/* _GNU_SOURCE: memmem(3); usleep(3). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/diag.h"
#include "core/clock.h"
#include "core/log.h"
#include "incident/manager.h"
#include "incident/relay.h"
#include "pipeline/pipeline.h"

#define WARMUP 200 /* first signals: connections, topic metadata */

static int64_t *emit_ns, *ack_ns;
static long n_total;
static _Atomic long n_acked;


/* Relay thread: the documents out_kafka just acknowledged. */
static void
on_acked(void *arg, const struct sn_doc *docs, size_t n)
{
    int64_t now = sn_clock_mono_ns();

    (void)arg;
    for (size_t i = 0; i < n; i++) {
        const char *p = memmem(docs[i].json.ptr, docs[i].json.len, "bn-", 3);
        long k;

        if (p == NULL)
            continue;
        k = strtol(p + 3, NULL, 10);
        if (k >= 0 && k < n_total && ack_ns[k] == 0) {
            ack_ns[k] = now;
            atomic_fetch_add(&n_acked, 1);
        }
    }
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    const char *brokers = argc > 1 ? argv[1] : NULL;
    long rate = argc > 2 ? atol(argv[2]) : 1000;
    long secs = argc > 3 ? atol(argv[3]) : 10;
    const char *linger = argc > 4 ? argv[4] : "5ms";
    char dir[] = "/tmp/sn-bench-latency.XXXXXX", path[300], json[1024];
    struct sn_metrics *metrics = sn_metrics_new();
    struct sn_config *cfg;
    struct sn_pipeline *pl;
    struct sn_manager *m;
    struct sn_instance det, *out = NULL;
    struct sn_diags diags;
    struct sn_error err;
    struct timespec next;
    int64_t *lat, deadline;
    long n_lat = 0;
    FILE *f;

    if (brokers == NULL || rate <= 0 || secs <= 0) {
        fprintf(stderr, "usage: bench_incident_latency BROKERS [rate/s "
                        "[seconds [linger]]]\n");
        return 2;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    sn_log_setup(SN_LOG_WARN, false);
    snprintf(path, sizeof(path), "%s/bench.yaml", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f,
            "daemon:\n  state_dir: %s\n  log_level: warn\n"
            "incidents:\n  batch: 512\n"
            "outputs:\n  - name: alerts\n    plugin: out_kafka\n"
            "    take: incidents\n    brokers: \"%s\"\n"
            "    topic: sentineld.alerts\n    linger: %s\n"
            "    kafka.enable.idempotence: \"true\"\n"
            "    kafka.acks: all\n",
            dir, brokers, linger);
    fclose(f);

    n_total = WARMUP + rate * secs;
    emit_ns = calloc((size_t)n_total, sizeof(int64_t));
    ack_ns = calloc((size_t)n_total, sizeof(int64_t));
    lat = calloc((size_t)n_total, sizeof(int64_t));
    if (emit_ns == NULL || ack_ns == NULL || lat == NULL)
        return 1;

    sn_diags_init(&diags);
    if (sn_config_load(path, &cfg, &diags) != SN_OK ||
        sn_pipeline_build(cfg, metrics, &pl, &diags) != SN_OK) {
        fprintf(stderr, "bench: the configuration failed (see above)\n");
        return 1;
    }
    sn_diags_fini(&diags);
    snprintf(path, sizeof(path), "%s/sentineld.db", dir);
    sn_error_clear(&err);
    if (sn_manager_new(path, &pl->cfg->incidents, metrics, &m, &err) !=
            SN_OK ||
        sn_manager_start(m, &err) != SN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    pl->signal_sink = sn_manager_sink;
    pl->signal_sink_arg = m;
    if (sn_pipeline_start(pl, &err) != SN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_OUTPUT &&
            pl->insts[i].output.takes_incidents)
            out = &pl->insts[i];
    if (out == NULL ||
        sn_relay_start(&out->output.port, m, metrics, &err) != SN_OK) {
        fprintf(stderr, "bench: relay: %s\n", out ? err.msg : "no output");
        return 1;
    }
    sn_relay_observe(out->output.port.feeder, on_acked, NULL);

    /* A detector instance of this pipeline, as det_rules would be. */
    memset(&det, 0, sizeof(det));
    det.pl = pl;
    det.name = "bench";
    det.kind = SN_KIND_DETECTOR;

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long i = 0; i < n_total; i++) {
        int64_t wall = sn_clock_wall_ns();
        int len;

        /* Fixed schedule: a late signal does not push the next ones. */
        next.tv_nsec += 1000000000L / rate;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        len = snprintf(
            json, sizeof(json),
            "{\"type\":\"signal\",\"rule\":\"bench-latency\",\"kind\":"
            "\"threshold\",\"state\":\"firing\",\"severity\":\"high\","
            "\"base_severity\":\"high\",\"time_ns\":%lld,\"key\":"
            "{\"bench.n\":\"bn-%ld\"},\"repeat\":0,\"suppressed\":0,"
            "\"window\":{\"length_ns\":60000000000,\"count\":10,"
            "\"threshold\":10,\"first_ns\":%lld,\"last_ns\":%lld},"
            "\"evidence\":{\"first\":[{\"time_ns\":%lld,\"summary\":"
            "\"Failed password for root from 10.0.0.1 port 22 ssh2\"}],"
            "\"last\":[{\"time_ns\":%lld,\"summary\":\"Failed password "
            "for admin from 10.0.0.1 port 22 ssh2\"}]}}",
            (long long)wall, i, (long long)(wall - 1000000000LL),
            (long long)wall, (long long)(wall - 1000000000LL),
            (long long)wall);
        emit_ns[i] = sn_clock_mono_ns();
        if (sn_host_table.signal_emit(&det, json, (size_t)len) != SN_OK) {
            fprintf(stderr, "bench: signal refused\n");
            return 1;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    deadline = sn_clock_mono_ns() + 30 * SN_NS_PER_SEC;
    while (atomic_load(&n_acked) < n_total && sn_clock_mono_ns() < deadline)
        usleep(1000);

    for (long i = WARMUP; i < n_total; i++)
        if (ack_ns[i] != 0)
            lat[n_lat++] = ack_ns[i] - emit_ns[i];
    qsort(lat, (size_t)n_lat, sizeof(int64_t), cmp64);
#define PCT(p) ((double)lat[(size_t)((double)(n_lat - 1) * (p))] / 1e6)
    printf("bench_incident_latency: %ld new incidents/s for %ld s (after "
           "%d warm-up), out_kafka acks=all idempotent, linger %s\n",
           rate, secs, WARMUP, linger);
    if (n_lat == 0) {
        printf("  nothing acknowledged\n");
        return 1;
    }
    printf("  signal_emit -> delivery report: p50 %.2f ms  p90 %.2f ms  "
           "p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  (%ld of %ld "
           "acknowledged)\n",
           PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999),
           (double)lat[n_lat - 1] / 1e6, n_lat, n_total - WARMUP);
    {
        uint64_t d = sn_metrics_value(metrics,
                                      "sentineld_outbox_delivered_total",
                                      "instance=\"alerts\"");
        printf("  of which commit -> delivery report (relay, mean): %.1f "
               "ms\n",
               d ? (double)sn_metrics_value(
                       metrics, "sentineld_outbox_delivery_latency_ms_total",
                       "instance=\"alerts\"") /
                       (double)d
                 : 0.0);
    }
    sn_relay_stop(&out->output.port, 10000);
    pl->before_outputs_stop = NULL;
    sn_pipeline_stop(pl);
    sn_pipeline_free(pl);
    sn_manager_stop(m);
    sn_manager_free(m);
    sn_metrics_free(metrics);
    free(emit_ns);
    free(ack_ns);
    free(lat);
    snprintf(json, sizeof(json), "rm -rf '%s'", dir);
    return system(json) == 0 && n_lat == n_total - WARMUP ? 0 : 1;
}
