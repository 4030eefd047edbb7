/*
 * deliver_docs: drive one incident output (`take: incidents`) the way the
 * daemon's relay does, without the incident manager or the store, so
 * out_postgres (or any incident output) is tested and benchmarked against
 * the real service. The config is loaded and the plugin built by the same
 * code as `sentineld run` (config/, pipeline/, the real host table);
 * incident documents (docs/incidents.md) come as JSON lines on stdin and
 * go to deliver() in batches. RETRY backs off and redelivers the batch,
 * as the relay does; every RETRY/FAIL is printed.
 *
 * A test tool rather than a `sentineld` subcommand: it needs no store and
 * would let an operator bypass the outbox's ordering and dead-lettering,
 * which the daemon must never do.
 *
 * Exit: 0 all delivered; 1 some batch FAILed (dead-lettered by a daemon);
 * 2 usage/config error; 3 RETRY for longer than --retry-for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "pipeline/pipeline.h"

struct opts {
    const char *config;
    const char *output;
    const char *metrics;
    size_t batch;
    double retry_for_s;
    bool verbose;
};

struct line {
    char *p;
    size_t cap;
    ssize_t len;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: deliver_docs -c CONFIG [-o OUTPUT] [-b BATCH] "
            "[--retry-for SECONDS] [--metrics FILE] [-v] < docs.jsonl\n"
            "  -o OUTPUT        the output instance (default: the first "
            "taking incidents)\n"
            "  -b BATCH         documents per deliver() call (default 500)\n"
            "  --retry-for S    give up after S seconds of RETRY (default "
            "60)\n"
            "  --metrics FILE   write the Prometheus metrics there at the "
            "end\n"
            "  -v               print every batch's result\n");
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The end of the JSON string starting at p (on the opening quote), or
 * NULL. */
static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p;
    }
    return NULL;
}

/*
 * The struct sn_doc the relay would build from a stored document: the
 * top-level "id", "version", "rule_id", "severity" and "status", found by
 * one pass that tracks nesting (nested keys of the same name are not
 * taken). No JSON tree: the relay reads these from store columns, and
 * parsing every document here would dominate the benchmark. A line that
 * is not JSON still goes through (as a corrupt row would): the output has
 * to cope. String values keep their escapes (ids and enums have none).
 */
static void
make_doc(struct line *l, int64_t seq, struct sn_doc *d)
{
    const char *p = l->p, *end = l->p + l->len;
    int depth = 0;
    bool want_key = false;

    memset(d, 0, sizeof(*d));
    d->seq = seq;
    d->json = (struct sn_str){ l->p, (size_t)l->len };
    for (; p < end; p++) {
        const char *q, *v;
        struct sn_str key;

        switch (*p) {
        case '{':
        case '[':
            depth++;
            want_key = *p == '{' && depth == 1;
            continue;
        case '}':
        case ']':
            depth--;
            continue;
        case ',':
            want_key = depth == 1;
            continue;
        case '"':
            break;
        default:
            continue;
        }
        q = skip_string(p, end);
        if (q == NULL)
            return;
        if (!want_key) {
            p = q;
            continue;
        }
        want_key = false;
        key = (struct sn_str){ p + 1, (size_t)(q - p - 1) };
        for (v = q + 1; v < end && (*v == ' ' || *v == ':'); v++)
            ;
        if (key.len == 7 && memcmp(key.ptr, "version", 7) == 0) {
            d->version = strtoll(v, NULL, 10);
        } else if (v < end && *v == '"') {
            const char *ve = skip_string(v, end);
            struct sn_str val;
            if (ve == NULL)
                return;
            val = (struct sn_str){ v + 1, (size_t)(ve - v - 1) };
            if (key.len == 2 && memcmp(key.ptr, "id", 2) == 0)
                d->id = val;
            else if (key.len == 7 && memcmp(key.ptr, "rule_id", 7) == 0)
                d->rule_id = val;
            else if (key.len == 8 && memcmp(key.ptr, "severity", 8) == 0)
                d->severity = val;
            else if (key.len == 6 && memcmp(key.ptr, "status", 6) == 0)
                d->status = val;
            p = ve;
            continue;
        }
        p = q;
    }
}

struct totals {
    size_t docs, batches, retries, failed;
    double deliver_s;
};

/* deliver() one batch until it is not RETRY; false when we gave up. */
static bool
deliver_batch(struct sn_instance *out, const struct sn_doc *docs, size_t n,
              uint64_t token, const struct opts *o, struct totals *t)
{
    char why[1024];
    double start = now_s();
    long backoff = 50;

    for (;;) {
        double t0 = now_s();
        enum sn_out_result r;

        why[0] = '\0';
        r = out->p->deliver(out->state, docs, n, token, why, sizeof(why));
        t->deliver_s += now_s() - t0;
        switch (r) {
        case SN_OUT_OK:
            if (o->verbose)
                printf("batch %llu: %zu docs: OK\n", (unsigned long long)token,
                       n);
            return true;
        case SN_OUT_FAIL:
            printf("batch %llu: %zu docs: FAIL: %s\n",
                   (unsigned long long)token, n, why);
            t->failed++;
            return true;
        case SN_OUT_PENDING:
            printf("batch %llu: PENDING: this driver waits for no "
                   "acknowledgements\n",
                   (unsigned long long)token);
            t->failed++;
            return true;
        case SN_OUT_RETRY:
        default:
            t->retries++;
            if (now_s() - start > o->retry_for_s) {
                printf("batch %llu: %zu docs: RETRY for %.0fs, giving up: "
                       "%s\n",
                       (unsigned long long)token, n, o->retry_for_s, why);
                return false;
            }
            printf("batch %llu: %zu docs: RETRY in %ldms: %s\n",
                   (unsigned long long)token, n, backoff, why);
            fflush(stdout);
            sleep_ms(backoff);
            backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
        }
    }
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;

        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has)
            o->config = argv[++i];
        else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has)
            o->output = argv[++i];
        else if ((strcmp(a, "-b") == 0 || strcmp(a, "--batch") == 0) && has)
            o->batch = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--retry-for") == 0 && has)
            o->retry_for_s = strtod(argv[++i], NULL);
        else if (strcmp(a, "--metrics") == 0 && has)
            o->metrics = argv[++i];
        else if (strcmp(a, "-v") == 0)
            o->verbose = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "deliver_docs: unknown argument '%s'\n", a);
            return -1;
        }
    }
    if (o->config == NULL || o->batch == 0 || o->batch > 100000) {
        fprintf(stderr, "deliver_docs: -c CONFIG is required and -b must "
                        "be 1..100000\n");
        return -1;
    }
    return 0;
}

static struct sn_instance *
find_output(struct sn_pipeline *pl, const char *name)
{
    for (size_t i = 0; i < pl->n_insts; i++) {
        struct sn_instance *in = &pl->insts[i];
        if (in->kind != SN_KIND_OUTPUT)
            continue;
        if (name != NULL ? strcmp(in->name, name) == 0
                         : in->output.takes_incidents)
            return in;
    }
    return NULL;
}

static void
write_metrics(struct sn_metrics *m, const char *path)
{
    struct sn_buf b;
    FILE *f;

    sn_buf_init(&b, 16u * 1024 * 1024);
    if (sn_metrics_render(m, &b) == SN_OK && (f = fopen(path, "w")) != NULL) {
        fwrite(b.data, 1, b.len, f);
        fclose(f);
    } else
        fprintf(stderr, "deliver_docs: cannot write metrics to %s\n", path);
    sn_buf_fini(&b);
}

static int
run(struct sn_instance *out, const struct opts *o)
{
    struct line *lines = calloc(o->batch, sizeof(*lines));
    struct sn_doc *docs = calloc(o->batch, sizeof(*docs));
    struct totals t = { 0 };
    uint64_t token = 1;
    int64_t seq = 0;
    double t0 = now_s(), wall;
    bool eof = false, gave_up = false;

    if (lines == NULL || docs == NULL) {
        fprintf(stderr, "deliver_docs: out of memory\n");
        return 2;
    }
    while (!eof && !gave_up) {
        size_t n = 0;
        while (n < o->batch) {
            struct line *l = &lines[n];
            l->len = getline(&l->p, &l->cap, stdin);
            if (l->len < 0) {
                eof = true;
                break;
            }
            while (l->len > 0 &&
                   (l->p[l->len - 1] == '\n' || l->p[l->len - 1] == '\r'))
                l->p[--l->len] = '\0';
            if (l->len == 0)
                continue;
            make_doc(l, ++seq, &docs[n]);
            n++;
        }
        if (n > 0) {
            gave_up = !deliver_batch(out, docs, n, token++, o, &t);
            t.batches++;
            t.docs += n;
        }
    }
    wall = now_s() - t0;
    printf("delivered %zu docs in %zu batches: %zu retries, %zu failed "
           "batches; %.3fs (%.0f docs/s), in deliver %.3fs (%.0f docs/s)\n",
           t.docs, t.batches, t.retries, t.failed, wall,
           wall > 0 ? (double)t.docs / wall : 0.0, t.deliver_s,
           t.deliver_s > 0 ? (double)t.docs / t.deliver_s : 0.0);
    for (size_t i = 0; i < o->batch; i++)
        free(lines[i].p);
    free(lines);
    free(docs);
    if (gave_up)
        return 3;
    return t.failed > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
    struct opts o = { NULL, NULL, NULL, 500, 60.0, false };
    struct sn_diags d;
    struct sn_config *cfg = NULL;
    struct sn_pipeline *pl = NULL;
    struct sn_metrics *m;
    struct sn_instance *out;
    struct sn_error err = { 0 };
    int rc = 2;

    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    sn_log_setup(SN_LOG_INFO, false);
    sn_diags_init(&d);
    m = sn_metrics_new();
    if (sn_config_load(o.config, &cfg, &d) == SN_OK)
        sn_pipeline_build(cfg, m, &pl, &d);
    sn_diags_print(&d, stderr);
    if (pl == NULL)
        goto out;
    out = find_output(pl, o.output);
    if (out == NULL || !out->output.takes_incidents) {
        fprintf(stderr, "deliver_docs: %s: no output %s%s%s taking incidents\n",
                o.config, o.output ? "'" : "", o.output ? o.output : "",
                o.output ? "'" : "");
        goto out;
    }
    if (sn_pipeline_start(pl, &err) != SN_OK) {
        fprintf(stderr, "deliver_docs: %s\n", err.msg);
        goto out;
    }
    rc = run(out, &o);
    sn_pipeline_stop(pl);
out:
    if (o.metrics != NULL)
        write_metrics(m, o.metrics);
    sn_pipeline_free(pl);
    sn_metrics_free(m);
    sn_diags_fini(&d);
    return rc;
}
