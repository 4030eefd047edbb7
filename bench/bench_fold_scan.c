/*
 * A signal's preparation for the incident fold on the emitting thread
 * (issue #21): sn_fold_scan (one pass over the text, as the manager
 * runs it: explanation deferred, the default scrubber) beside the
 * json-c path it stands in for (sn_fold_prepare), over the same signals,
 * in the same run. Prints ns per signal and per KB of each, and what the
 * scan declined (those go to json-c in the manager too).
 *
 *   bench/bench_fold_scan FILE [ROUNDS]
 *
 * FILE: signals, one JSON object per line, as a detector emits them;
 * other lines are skipped. `sentineld test -r ../conf/rules --json -q
 * LOG` prints the pack's correlation signals over LOG in that form
 * (bench/README.md). Under `valgrind --tool=callgrind` with ROUNDS 1,
 * sn_fold_scan's inclusive instructions over the signal count give the
 * deterministic figure.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "incident/fold.h"
#include "incident/fold_scan.h"
#include "incident/scrub.h"

struct line {
    char *p;
    size_t len;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every line of path that is a signal; *n of them, *bytes in all. */
static struct line *
read_signals(const char *path, size_t *n, size_t *bytes)
{
    FILE *f = fopen(path, "r");
    struct line *v = NULL;
    size_t cap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t got;

    *n = *bytes = 0;
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    while ((got = getline(&buf, &bcap, f)) > 0) {
        size_t len = (size_t)got;
        if (buf[len - 1] == '\n')
            len--;
        if (strncmp(buf, "{\"type\":\"signal\"", 16) != 0)
            continue;
        if (*n == cap) {
            struct line *t;
            cap = cap ? cap * 2 : 1024;
            if ((t = realloc(v, cap * sizeof(*v))) == NULL)
                break;
            v = t;
        }
        if ((v[*n].p = malloc(len)) == NULL)
            break;
        memcpy(v[*n].p, buf, len);
        v[*n].len = len;
        *bytes += len;
        (*n)++;
    }
    free(buf);
    fclose(f);
    return v;
}

int
main(int argc, char **argv)
{
    struct sn_fold_scan fs;
    struct sn_scrub *scan_scrub = NULL, *prep_scrub = NULL;
    struct json_tokener *tok = json_tokener_new_ex(32);
    struct sn_error err;
    struct line *sig;
    size_t n, bytes, declined = 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    double t_scan = 0, t_prep = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_fold_scan FILE [ROUNDS]\n");
        return 2;
    }
    if ((sig = read_signals(argv[1], &n, &bytes)) == NULL || n == 0) {
        fprintf(stderr, "%s: no signals\n", argv[1]);
        return 1;
    }
    if (tok == NULL || sn_scrub_new(NULL, NULL, &scan_scrub, &err) != SN_OK ||
        sn_scrub_new(NULL, NULL, &prep_scrub, &err) != SN_OK) {
        fprintf(stderr, "bench_fold_scan: setup failed\n");
        return 1;
    }
    sn_fold_scan_init(&fs);
    /* Interleaved rounds: both see the same load on a shared machine. */
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            struct sn_fold_sig s;
            enum sn_status rc =
                sn_fold_scan(&fs, scan_scrub, sig[i].p, sig[i].len, true, &s);
            if (rc == SN_OK)
                sn_fold_sig_fini(&s);
            else if (r == 0)
                declined++;
        }
        t_scan += now_s() - t0;
        t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            struct sn_fold_sig s;
            if (sn_fold_prepare(tok, prep_scrub, sig[i].p, sig[i].len, &s,
                                &err) == SN_OK)
                sn_fold_sig_fini(&s);
        }
        t_prep += now_s() - t0;
    }
    {
        double per = (double)n * rounds;
        printf("# %zu signals, %.0f bytes each on average, %d rounds\n", n,
               (double)bytes / (double)n, rounds);
        printf("sn_fold_scan:    %8.0f ns/signal  %6.0f ns/KB  (%zu declined "
               "to json-c)\n",
               t_scan * 1e9 / per, t_scan * 1e9 / per / ((double)bytes / n / 1024),
               declined);
        printf("sn_fold_prepare: %8.0f ns/signal  %6.0f ns/KB  (json-c)\n",
               t_prep * 1e9 / per, t_prep * 1e9 / per / ((double)bytes / n / 1024));
        printf("scan is %.2fx faster than json-c\n", t_prep / t_scan);
    }
    for (size_t i = 0; i < n; i++)
        free(sig[i].p);
    free(sig);
    sn_fold_scan_fini(&fs);
    sn_scrub_free(scan_scrub);
    sn_scrub_free(prep_scrub);
    json_tokener_free(tok);
    return 0;
}
