/*
 * Incident updates per second through the whole incident path: signals
 * into the manager's queue (as detectors call host->signal_emit), folded
 * in batches into the SQLite store (WAL, synchronous=FULL), and
 * delivered by an outbox relay to an out_null-like deliver(). Run by hand
 * (bench/README.md):
 *   bench/bench_incidents [signals] [keys] [batch]
 * Defaults: 200000 signals over 2000 keys, batch 2048 (the daemon's).
 * Environment: BENCH_CACHE (incidents.cache, default 4096 as the
 * daemon's; 0 reads every incident back per batch, as before h21c),
 * BENCH_UPDATE (set: each key's signals after its first are `update`
 * signals, as a refire: per_window rule sends), BENCH_UPDATE_MS
 * (incidents.update_interval in ms, default 0: every version recorded),
 * BENCH_AUTO_RESOLVE_MS (incidents.auto_resolve, default 3600000 as
 * the daemon's), BENCH_NO_RELAY.
 * Then times housekeeping's two lookups (once a second on the manager's
 * thread: held versions, quiet periods) on the store the run left,
 * beside the queries they replaced (migration 9) on the same store.
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "incident/manager.h"
#include "incident/relay.h"
#include "incident/store.h"
#include "pipeline/outport.h"

static _Atomic uint64_t n_delivered;

/* The process's CPU seconds (every thread): on a shared machine the wall
 * figure moves with the neighbours' load, this one much less. */
static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static enum sn_out_result
null_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
             char *why, size_t why_len)
{
    size_t bytes = 0;

    (void)state;
    (void)token;
    (void)why;
    (void)why_len;
    for (size_t i = 0; i < n; i++)
        bytes += docs[i].json.len;
    atomic_fetch_add(&n_delivered, n);
    return bytes > 0 ? SN_OUT_OK : SN_OUT_FAIL;
}

/* The lookups before migration 9, which read every open incident, kept
 * as the peer (the quiet one as it ran on incidents_status: status = ?,
 * then each row). */
static const char *const old_held =
    "SELECT i.id FROM incidents i WHERE i.status IN ('open',"
    " 'acknowledged') AND i.version > (SELECT max(v.version)"
    " FROM incident_versions v WHERE v.incident_id = i.id) AND"
    " (SELECT max(v.at) FROM incident_versions v"
    " WHERE v.incident_id = i.id) <= ?1 LIMIT ?2";
static const char *const old_quiet =
    "SELECT id FROM incidents INDEXED BY incidents_quiet WHERE status IN"
    " ('open', 'acknowledged') AND quiet_ms > 0 AND released = 0 AND"
    " touched_at + quiet_ms * 1000000 < ?1 LIMIT ?2";

/* Milliseconds one run of a lookup takes (sql: the old text; NULL: the
 * store's function, held or quiet), the fastest of 5; *n its rows. */
static double
lookup_ms(struct sn_store *s, const char *sql, bool held, int64_t arg,
          size_t *n)
{
    char ids[64][SN_UUID_LEN + 1];
    double best = 1e9;

    for (int r = 0; r < 5; r++) {
        int64_t t = sn_clock_mono_ns();
        sqlite3_stmt *q;
        if (sql == NULL) {
            *n = held ? sn_store_held(s, arg, ids, 64)
                      : sn_store_quiet(s, arg, ids, 64);
        } else {
            if (sqlite3_prepare_v2(sn_store_db(s), sql, -1, &q, NULL) !=
                SQLITE_OK)
                return -1;
            sqlite3_bind_int64(q, 1, arg);
            sqlite3_bind_int64(q, 2, 64);
            for (*n = 0; sqlite3_step(q) == SQLITE_ROW;)
                (*n)++;
            sqlite3_finalize(q);
        }
        t = sn_clock_mono_ns() - t;
        best = (double)t / 1e6 < best ? (double)t / 1e6 : best;
    }
    return best;
}

static void
time_housekeeping(const char *path, int64_t update_ms)
{
    struct sn_store *s;
    struct sn_error err;
    int64_t now = sn_clock_wall_ns();
    int64_t before = now - (update_ms > 0 ? update_ms : 1000) * SN_NS_PER_MS;
    size_t n_new, n_old;
    double ms_new, ms_old;

    if (sn_store_open(path, true, &s, &err) != SN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return;
    }
    ms_new = lookup_ms(s, NULL, true, before, &n_new);
    ms_old = lookup_ms(s, old_held, true, before, &n_old);
    printf("  housekeeping, held versions due: %.3f ms (%zu found); before "
           "migration 9: %.3f ms (%zu)\n",
           ms_new, n_new, ms_old, n_old);
    ms_new = lookup_ms(s, NULL, false, now, &n_new);
    ms_old = lookup_ms(s, old_quiet, false, now, &n_old);
    printf("  housekeeping, quiet periods over: %.3f ms (%zu found); before "
           "migration 9: %.3f ms (%zu)\n",
           ms_new, n_new, ms_old, n_old);
    sn_store_close(s);
}

/* CPU seconds of the busiest thread so far (/proc/self/task): on two
 * cores the manager's thread is what bounds the rate. */
static double
busiest_thread_s(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    double best = 0;
    long hz = sysconf(_SC_CLK_TCK);

    while (d != NULL && (de = readdir(d)) != NULL) {
        char p[300], line[1024], *c;
        unsigned long ut = 0, st = 0;
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/proc/self/task/%s/stat", de->d_name);
        if ((f = fopen(p, "r")) == NULL)
            continue;
        if (fgets(line, sizeof(line), f) != NULL &&
            (c = strrchr(line, ')')) != NULL &&
            sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &st) == 2 &&
            (double)(ut + st) / (double)hz > best)
            best = (double)(ut + st) / (double)hz;
        fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return best;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long keys = argc > 2 ? atol(argv[2]) : 2000;
    long batch = argc > 3 ? atol(argv[3]) : 2048;
    char dir[] = "/tmp/sn-bench-incidents.XXXXXX", path[256], json[2048];
    struct sn_incidents_conf conf = { 0 };
    struct sn_metrics *metrics = sn_metrics_new();
    struct sn_manager *m;
    struct sn_error err;
    struct sn_outport out;
    int64_t t0, t_stored, t_done;
    double cpu0, cpu_done, busiest;
    uint64_t versions;
    int len;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    conf.retention_ms = 86400000;
    conf.outbox_keep_ms = 600000;
    conf.queue = 8192;
    conf.batch = batch;
    conf.evidence_max = 10;
    conf.four_eyes = true;
    conf.auto_resolve_ms = getenv("BENCH_AUTO_RESOLVE_MS")
                               ? atol(getenv("BENCH_AUTO_RESOLVE_MS"))
                               : 3600000;
    conf.cache = getenv("BENCH_CACHE") ? atol(getenv("BENCH_CACHE")) : 4096;
    conf.update_interval_ms =
        getenv("BENCH_UPDATE_MS") ? atol(getenv("BENCH_UPDATE_MS")) : 0;
    sn_error_clear(&err);
    if (sn_manager_new(path, &conf, metrics, &m, &err) != SN_OK ||
        sn_manager_start(m, &err) != SN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    memset(&out, 0, sizeof(out));
    out.name = "null";
    out.deliver = null_deliver; /* an out_null-like output */
    if (getenv("BENCH_NO_RELAY") == NULL &&
        sn_relay_start(&out, m, metrics, &err) != SN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    t0 = sn_clock_mono_ns();
    cpu0 = cpu_s();
    for (long i = 0; i < n; i++) {
        long k = i % keys;
        int64_t t = 1700000000000000000LL + i * 1000000LL;
        /* A det_rules threshold signal with 3 + 3 evidence summaries. */
        len = snprintf(
            json, sizeof(json),
            "{\"type\":\"signal\",\"rule\":\"ssh-brute-force-%ld\","
            "\"kind\":\"threshold\",\"state\":\"%s\",\"severity\":"
            "\"high\",\"base_severity\":\"high\",\"time_ns\":%lld,\"key\":"
            "{\"source.ip\":\"10.%ld.%ld.%ld\"},\"key_hash\":"
            "\"0a77eb81a2bf0dce\",\"repeat\":%ld,\"suppressed\":0,"
            "\"window\":{\"length_ns\":120000000000,\"count\":10,"
            "\"threshold\":10,\"first_ns\":%lld,\"last_ns\":%lld},"
            "\"evidence\":{\"first\":[{\"time_ns\":%lld,\"summary\":\"Failed "
            "password for root from 10.0.0.%ld port 22 ssh2\"},{\"time_ns\":"
            "%lld,\"summary\":\"Failed password for admin from 10.0.0.%ld "
            "port 22 ssh2\"},{\"time_ns\":%lld,\"summary\":\"Failed password "
            "for user bob@example.com\"}],\"last\":[{\"time_ns\":%lld,"
            "\"summary\":\"Failed password for root from 10.0.0.%ld port "
            "4022 ssh2\"}]}}",
            k % 7, getenv("BENCH_UPDATE") && i >= keys ? "update" : "firing",
            (long long)t, k / 65536, (k / 256) % 256, k % 256,
            i / keys, (long long)(t - 60000000000LL), (long long)t,
            (long long)(t - 60000000000LL), k, (long long)(t - 1000), k,
            (long long)(t - 500), (long long)t, k);
        if (sn_manager_sink(m, NULL, json, (size_t)len) != SN_OK) {
            fprintf(stderr, "bench: signal refused\n");
            return 1;
        }
    }
    sn_manager_flush(m);
    t_stored = sn_clock_mono_ns();
    /* Held versions (BENCH_UPDATE_MS) are stored, not delivered. */
    versions = sn_metrics_value(metrics, "sentineld_incident_versions_total",
                                NULL) -
               sn_metrics_value(metrics,
                                "sentineld_incident_versions_held_total", NULL);
    if (getenv("BENCH_NO_RELAY") != NULL)
        atomic_store(&n_delivered, versions);
    while (atomic_load(&n_delivered) < versions) {
        struct timespec ts = { 0, 1000000L };
        nanosleep(&ts, NULL);
    }
    t_done = sn_clock_mono_ns();
    cpu_done = cpu_s();
    busiest = busiest_thread_s();
    printf("bench_incidents: %ld signals over %ld keys, batch %ld, cache %lld"
           "%s\n",
           n, keys, batch, (long long)conf.cache,
           getenv("BENCH_UPDATE") ? ", update signals after the first" : "");
    printf("  stored:    %.0f incident updates (signals folded) per s, "
           "committed as %llu versions delivered, %llu held (%.2f s)\n",
           (double)n / ((double)(t_stored - t0) / 1e9),
           (unsigned long long)versions,
           (unsigned long long)sn_metrics_value(
               metrics, "sentineld_incident_versions_held_total", NULL),
           (double)(t_stored - t0) / 1e9);
    printf("  delivered: every version through the relay to deliver() in "
           "%.2f s: %.0f updates/s end to end\n",
           (double)(t_done - t0) / 1e9,
           (double)n / ((double)(t_done - t0) / 1e9));
    printf("  CPU:       %.1f us per update (all threads: signal parse and "
           "scrub, manager, relay; %.2f s)\n",
           (cpu_done - cpu0) * 1e6 / (double)n, cpu_done - cpu0);
    printf("             %.1f us per update on the busiest thread (the "
           "manager's: bounds the rate on an idle machine to %.0f/s)\n",
           busiest * 1e6 / (double)n, busiest > 0 ? (double)n / busiest : 0.0);
    printf("  opened %llu incidents; mean commit-to-delivery %.1f ms\n",
           (unsigned long long)sn_metrics_value(
               metrics, "sentineld_incidents_opened_total", NULL),
           versions ? (double)sn_metrics_value(
                          metrics,
                          "sentineld_outbox_delivery_latency_ms_total",
                          "instance=\"null\"") /
                          (double)versions
                    : 0.0);
    /* Before the manager stops: stopping delivers every held version. */
    time_housekeeping(path, conf.update_interval_ms);
    if (out.feeder != NULL) {
        sn_relay_stop(&out, 10000);
        sn_relay_free(&out);
    }
    sn_manager_free(m);
    sn_metrics_free(metrics);
    snprintf(json, sizeof(json), "rm -rf '%s'", dir);
    return system(json) == 0 ? 0 : 1;
}
