/*
 * Framer throughput on one core: builds an in-memory stream of 1M syslog
 * messages of 200 bytes each, once octet-counted and once LF-terminated,
 * and frames it in auto mode as a TCP input would (64 KiB reads, so some
 * frames straddle two feeds and take the copy path) and as one big feed
 * (every frame in place). Prints megabytes and messages per second, best
 * of five runs. Deterministic stream (fixed LCG seed) so runs compare.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syslog/framer.h"

#define N_MSGS  1000000
#define MSG_LEN 200
#define RUNS    5
/* A typical recv() size on a busy TCP connection. */
#define READ_CHUNK (64 * 1024)

static uint64_t rng = 0x9E3779B97F4A7C15u;

static unsigned
rnd(unsigned n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (unsigned)((rng >> 33) % n);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink {
    uint64_t n_frames;
    uint64_t n_bytes;
    uint64_t n_errors;
};

static void
on_frame(void *ctx, const char *ptr, size_t len, bool truncated)
{
    struct sink *s = ctx;

    (void)ptr;
    (void)truncated;
    s->n_frames++;
    s->n_bytes += len;
}

static void
on_error(void *ctx, const char *reason, uint64_t offset)
{
    struct sink *s = ctx;

    (void)reason;
    (void)offset;
    s->n_errors++;
}

/* One RFC 5424 message of exactly MSG_LEN bytes into p. */
static void
make_msg(char *p, unsigned i)
{
    int n = snprintf(p, MSG_LEN + 1,
                     "<%u>1 2026-11-23T12:%02u:%02u.%03uZ host-%02u.example.com"
                     " sshd %u - - Accepted publickey for user%u from "
                     "10.%u.%u.%u port %u ssh2: ",
                     rnd(192), rnd(60), rnd(60), rnd(1000), rnd(50),
                     1000 + rnd(60000), rnd(100), rnd(256), rnd(256), rnd(256),
                     1024 + rnd(60000));

    for (int k = n < 0 ? 0 : n; k < MSG_LEN; k++)
        p[k] = (char)('a' + (i + (unsigned)k) % 26);
}

static char *
build(bool octet, size_t *len)
{
    size_t per = MSG_LEN + (octet ? 4 : 1); /* "200 " or "\n" */
    char *s = malloc(per * N_MSGS + 1), *p = s;
    char msg[MSG_LEN + 1];

    if (s == NULL)
        return NULL;
    for (unsigned i = 0; i < N_MSGS; i++) {
        make_msg(msg, i);
        if (octet) {
            memcpy(p, "200 ", 4);
            p += 4;
        }
        memcpy(p, msg, MSG_LEN);
        p += MSG_LEN;
        if (!octet)
            *p++ = '\n';
    }
    *len = (size_t)(p - s);
    return s;
}

static double
frame_once(const char *s, size_t len, size_t chunk, struct sink *sink)
{
    static const struct sn_framer_cb cb = { on_frame, on_error };
    struct sn_framer f;
    double t0;

    memset(sink, 0, sizeof(*sink));
    if (sn_framer_init(&f, NULL) != SN_OK)
        return -1;
    t0 = now();
    for (size_t i = 0; i < len; i += chunk)
        sn_framer_feed(&f, s + i, len - i < chunk ? len - i : chunk, &cb, sink);
    sn_framer_finish(&f, &cb, sink);
    t0 = now() - t0;
    sn_framer_fini(&f);
    return t0;
}

static int
bench(const char *name, const char *s, size_t len, size_t chunk)
{
    struct sink sink;
    double best = 1e9;

    for (int r = 0; r < RUNS; r++) {
        double t = frame_once(s, len, chunk, &sink);

        if (t < 0)
            return 1;
        if (t < best)
            best = t;
    }
    if (sink.n_frames != N_MSGS || sink.n_errors != 0 ||
        sink.n_bytes != (uint64_t)N_MSGS * MSG_LEN) {
        fprintf(stderr, "%s: framed %llu messages, %llu errors\n", name,
                (unsigned long long)sink.n_frames,
                (unsigned long long)sink.n_errors);
        return 1;
    }
    printf("%-34s %9.0f MB/s %12.0f msgs/s\n", name, (double)len / best / 1e6,
           (double)N_MSGS / best);
    return 0;
}

int
main(void)
{
    size_t oc_len, lf_len;
    char *oc = build(true, &oc_len);
    char *lf = build(false, &lf_len);
    int rc = 0;

    if (oc == NULL || lf == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("%d messages of %d bytes, auto framing, best of %d\n", N_MSGS,
           MSG_LEN, RUNS);
    rc |= bench("octet-counting, 64 KiB reads", oc, oc_len, READ_CHUNK);
    rc |= bench("octet-counting, one feed", oc, oc_len, oc_len);
    rc |= bench("non-transparent (LF), 64 KiB reads", lf, lf_len, READ_CHUNK);
    rc |= bench("non-transparent (LF), one feed", lf, lf_len, lf_len);
    free(oc);
    free(lf);
    return rc;
}
