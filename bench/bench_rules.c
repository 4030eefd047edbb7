/*
 * Micro-benchmark of the rules engine (not a test: run by hand, like
 * bench/): the sample rule files plus generated rules up to 100, over an
 * in-memory corpus of realistic syslog events of which about 1% match
 * anything. Prints events/s on one core with and without the prefilter.
 * Usage: _build/bench/bench_rules [events] (SRCDIR locates tests/data/rules).
 *
 * _build/bench/bench_rules --sigma [events]: 300 Sigma rules (with
 * conf/sigma/linux.yaml) against the same 300 written natively, on the
 * same corpus: the per-event cost of Sigma's translation (docs/sigma.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "rules/eval.h"
#include "rules/load.h"

#define N_CORPUS 8192

struct bev {
    struct sn_str hdr[SN_RF_COUNT_];
    int pri;
};

static bool
bev_get(void *ctx, int id, const char *name, size_t name_len,
        struct sn_value *out)
{
    const struct bev *e = ctx;

    (void)name;
    (void)name_len;
    if (id >= SN_RF_SEVERITY && id <= SN_RF_PRI) {
        out->type = SN_VAL_INT;
        out->u.i = id == SN_RF_SEVERITY   ? e->pri % 8
                   : id == SN_RF_FACILITY ? e->pri / 8
                                          : e->pri;
        return true;
    }
    if (id >= SN_RF_COUNT_ || e->hdr[id].ptr == NULL)
        return false;
    out->type = SN_VAL_STR;
    out->u.s = e->hdr[id];
    return true;
}

static const char *const apps[] = { "CRON",   "systemd",       "kernel",
                                    "nginx",  "postfix/smtpd", "dhclient",
                                    "sshd",   "sudo",          "dockerd",
                                    "chronyd" };

static uint32_t
rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void
gen_rules(struct sn_buf *y)
{
    for (int i = 0; i < 92; i++) {
        sn_buf_printf(y,
                      "---\nid: gen-%d\ntitle: generated %d\n"
                      "severity: medium\nmatch: |\n  ",
                      i, i);
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
            sn_buf_printf(y,
                          "appname == \"svc%d\" and msg contains "
                          "\"failure code F%04d\"\n",
                          i, i);
            break;
        case 4:
        case 5:
            sn_buf_printf(y, "msg =~ /worker %d crashed \\(signal \\d+\\)/\n",
                          i);
            break;
        case 6:
        case 7:
            sn_buf_printf(y, "msg startswith \"ALERT-%d:\" and severity <= 4\n",
                          i);
            break;
        case 8:
            sn_buf_printf(y,
                          "appname in [\"nginx\", \"apache2\"] and msg "
                          "contains i\"Blocked URI /admin%d\"\n",
                          i);
            break;
        default:
            /* No literal on msg: always evaluated (cheap header tests). */
            sn_buf_printf(y, "appname == \"svc%d\" and severity <= 2\n", i);
            break;
        }
    }
}

/* Rule i as Sigma (sig) and as the native rule a user would write for
 * the same detection (nat), in three shapes: sshd keywords, a wildcard
 * keyword on any Linux line, a sudo command line (extracted). */
static void
gen_pair(int i, struct sn_buf *sig, struct sn_buf *nat)
{
    switch (i % 3) {
    case 0:
        sn_buf_printf(sig,
                      "---\ntitle: s%d\nid: s-%d\nlevel: medium\n"
                      "logsource: {product: linux, service: sshd}\n"
                      "detection:\n  kw: ['failure code F%04d']\n"
                      "  condition: kw\n",
                      i, i, i);
        sn_buf_printf(nat,
                      "---\nid: n-%d\ntitle: n%d\nseverity: medium\n"
                      "match: (appname == \"sshd\" or appname == "
                      "\"sshd-session\") and msg contains i\"failure code "
                      "F%04d\"\n",
                      i, i, i);
        break;
    case 1:
        sn_buf_printf(sig,
                      "---\ntitle: s%d\nid: s-%d\nlevel: medium\n"
                      "logsource: {product: linux}\n"
                      "detection:\n  kw: ['worker %d crashed*signal']\n"
                      "  condition: kw\n",
                      i, i, i);
        sn_buf_printf(nat,
                      "---\nid: n-%d\ntitle: n%d\nseverity: medium\n"
                      "match: msg =~ i\"worker %d crashed.*signal\"\n",
                      i, i, i);
        break;
    default:
        sn_buf_printf(sig,
                      "---\ntitle: s%d\nid: s-%d\nlevel: medium\n"
                      "logsource: {product: linux, service: sudo}\n"
                      "detection:\n  sel: {CommandLine|contains: "
                      "'/opt/tool%d'}\n  condition: sel\n",
                      i, i, i);
        sn_buf_printf(nat,
                      "---\nid: n-%d\ntitle: n%d\nseverity: medium\n"
                      "match: appname == \"sudo\" and process.command_line "
                      "contains i\"/opt/tool%d\"\n"
                      "extract:\n  - regex: '^(?<user>\\S+) : (?:[^;]* ; )*"
                      "USER=(?<target>[^ ;]+) ; COMMAND=(?<cmd>.*)$'\n"
                      "    fields: {user: user.name, target: "
                      "user.target.name, cmd: process.command_line}\n",
                      i, i, i);
        break;
    }
}

static char *
gen_msg(uint32_t *s, const char **app, int *pri)
{
    char buf[256];
    unsigned a = rnd(s) % 10, n = rnd(s) % 100000;

    *app = apps[a];
    *pri = 8 * 3 + 6;
    switch (a) {
    case 0:
        snprintf(buf, sizeof(buf), "(root) CMD (/usr/lib/job-%u --quiet)", n);
        break;
    case 1:
        snprintf(buf, sizeof(buf), "Started Session %u of User alice.", n);
        break;
    case 2:
        snprintf(buf, sizeof(buf),
                 "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:"
                 "34:56 SRC=198.51.100.%u DST=192.0.2.1 LEN=60 PROTO=TCP "
                 "SPT=%u DPT=22",
                 n % 256, n);
        break;
    case 3:
        snprintf(buf, sizeof(buf),
                 "192.0.2.%u - - \"GET /static/app.%u.js "
                 "HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"",
                 n % 256, n);
        break;
    case 4:
        snprintf(buf, sizeof(buf), "connect from unknown[203.0.113.%u]",
                 n % 256);
        break;
    case 5:
        snprintf(buf, sizeof(buf), "DHCPACK of 10.0.%u.%u from 10.0.0.1",
                 n % 256, n / 256 % 256);
        break;
    case 6:
        if (n % 10 == 0) { /* 1% of all events: an attack line */
            snprintf(buf, sizeof(buf),
                     "Failed password for invalid user "
                     "u%u from 203.0.113.%u port %u ssh2",
                     n, n % 256, 1024 + n % 60000);
            *pri = 8 * 4 + 6;
        } else {
            snprintf(buf, sizeof(buf),
                     "Connection closed by 192.0.2.%u port "
                     "%u [preauth]",
                     n % 256, 1024 + n % 60000);
        }
        break;
    case 7:
        snprintf(buf, sizeof(buf),
                 "alice : TTY=pts/0 ; PWD=/home/alice ; "
                 "USER=root ; COMMAND=/usr/bin/apt update");
        break;
    case 8:
        snprintf(buf, sizeof(buf),
                 "time=\"2024-05-01T10:00:00Z\" level=info "
                 "msg=\"container %x started\"",
                 n);
        break;
    default:
        snprintf(buf, sizeof(buf), "Selected source 192.0.2.%u (pool)",
                 n % 256);
        break;
    }
    return strdup(buf);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: on a shared machine wall time mostly measures
 * the neighbours, so both are printed. */
static double
cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The in-memory corpus, the same every run (seed 42). */
static void
fill_corpus(struct bev *corpus)
{
    uint32_t seed = 42;

    for (size_t i = 0; i < N_CORPUS; i++) {
        const char *app;
        char *msg = gen_msg(&seed, &app, &corpus[i].pri);
        corpus[i].hdr[SN_RF_HOSTNAME] = (struct sn_str){ "web1", 4 };
        corpus[i].hdr[SN_RF_APPNAME] = (struct sn_str){ app, strlen(app) };
        corpus[i].hdr[SN_RF_PROCID] = (struct sn_str){ "4242", 4 };
        corpus[i].hdr[SN_RF_MSG] = (struct sn_str){ msg, strlen(msg) };
    }
}

static double
run_set(struct sn_ruleset *rs, struct bev *corpus, long n, const char *what)
{
    struct sn_rules_scratch *sc = sn_rules_scratch_new(rs);
    const struct sn_rule_match *m;
    size_t matched = 0;
    double c0 = cpu_now(), dc;

    for (long i = 0; i < n; i++) {
        struct sn_rule_event ev = { &corpus[i % N_CORPUS], bev_get };
        matched += sn_rules_eval(rs, sc, &ev, 0, &m) != 0;
    }
    dc = cpu_now() - c0;
    printf("%-8s %zu rules: %ld events, CPU %.3f s: %.0f ns/event, "
           "%.2f%% matched, %.2f rules evaluated per event\n",
           what, rs->n_rules, n, dc, dc / n * 1e9, 100.0 * matched / n,
           (double)sn_rules_scratch_stats(sc)->rules_evaluated /
               (double)sn_rules_scratch_stats(sc)->events);
    sn_rules_scratch_free(sc);
    return dc / n * 1e9;
}

/* --sigma: 300 Sigma rules vs the same 300 native ones. */
static int
bench_sigma(const char *dir, long n_events, struct bev *corpus)
{
    struct sn_buf sig, nat;
    struct sn_rules_src *ss = sn_rules_src_new(), *ns = sn_rules_src_new();
    struct sn_ruleset *srs = NULL, *nrs = NULL;
    struct sn_diags d;
    char path[1024];
    double a, b;

    sn_diags_init(&d);
    sn_buf_init(&sig, 1 << 22);
    sn_buf_init(&nat, 1 << 22);
    for (int i = 0; i < 300; i++)
        gen_pair(i, &sig, &nat);
    snprintf(path, sizeof(path), "%s/conf/sigma/linux.yaml", dir);
    sn_rules_src_add_file(ss, path, &d);
    sn_rules_src_add_mem(ss, "sigma.yml", sig.data, sig.len, &d);
    sn_rules_src_add_mem(ns, "native.yaml", nat.data, nat.len, &d);
    if (sn_ruleset_build(ss, &srs, &d) != SN_OK ||
        sn_ruleset_build(ns, &nrs, &d) != SN_OK || srs->n_rules != 300 ||
        nrs->n_rules != 300) {
        sn_diags_print(&d, stderr);
        return 1;
    }
    /* Twice, alternating, so neither set gets the warm cache alone. */
    for (int k = 0; k < 2; k++) {
        a = run_set(nrs, corpus, n_events, "native:");
        b = run_set(srs, corpus, n_events, "sigma:");
    }
    printf("sigma/native per event: %.2f\n", b / a);
    sn_ruleset_free(srs);
    sn_ruleset_free(nrs);
    sn_rules_src_free(ss);
    sn_rules_src_free(ns);
    sn_buf_fini(&sig);
    sn_buf_fini(&nat);
    sn_diags_fini(&d);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *dir = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
    bool sigma = argc > 1 && strcmp(argv[1], "--sigma") == 0;
    long n_events = argc > 1 + sigma ? atol(argv[1 + sigma]) : 5000000;
    static struct bev corpus[N_CORPUS];
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_rules_scratch *sc;
    struct sn_diags d;
    struct sn_buf y;
    char path[1024];
    size_t matched = 0;

    if (sigma) {
        int rc;
        fill_corpus(corpus);
        rc = bench_sigma(dir, n_events, corpus);
        for (size_t i = 0; i < N_CORPUS; i++)
            free((char *)corpus[i].hdr[SN_RF_MSG].ptr);
        sn_rules_src_free(src);
        return rc;
    }
    sn_diags_init(&d);
    snprintf(path, sizeof(path), "%s/tests/data/rules/sshd.yaml", dir);
    sn_rules_src_add_file(src, path, &d);
    snprintf(path, sizeof(path), "%s/tests/data/rules/system.yaml", dir);
    sn_rules_src_add_file(src, path, &d);
    sn_buf_init(&y, 1 << 20);
    gen_rules(&y);
    sn_rules_src_add_mem(src, "generated.yaml", y.data, y.len, &d);
    if (sn_ruleset_build(src, &rs, &d) != SN_OK) {
        sn_diags_print(&d, stderr);
        return 1;
    }
    fill_corpus(corpus);
    sc = sn_rules_scratch_new(rs);
    printf("rules: %zu (prefilter: %zu automaton states)\n", rs->n_rules,
           sn_prefilter_states(rs->pf));
    /* Pass 2: with the prefilter and det_rules' per-rule timing (one
     * event in 16 timed), to show what the timing costs next to pass 0. */
    for (int pass = 0; pass < 3; pass++) {
        unsigned flags = pass == 1 ? SN_RULES_NO_PREFILTER : 0;
        long n = pass == 1 ? n_events / 10 : n_events;
        const struct sn_rule_match *m;
        double t0 = now(), c0 = cpu_now(), dt, dc;

        matched = 0;
        for (long i = 0; i < n; i++) {
            struct bev *e = &corpus[i % N_CORPUS];
            struct sn_rule_event ev = { e, bev_get };
            unsigned f = flags;
            if (pass == 2 && i % 64 == 0)
                f |= SN_RULES_TIME_RULES;
            matched += sn_rules_eval(rs, sc, &ev, f, &m) != 0;
        }
        dt = now() - t0;
        dc = cpu_now() - c0;
        printf("%-17s %ld events in %.3f s: %.2f M events/s, %.0f ns/event, "
               "%.2f%% matched; CPU %.3f s: %.2f M events/s per CPU s\n",
               pass == 0   ? "with prefilter:"
               : pass == 1 ? "without prefilter:"
                           : "timed 1 in 64:",
               n, dt, n / dt / 1e6, dt / n * 1e9, 100.0 * matched / n, dc,
               n / dc / 1e6);
        if (pass == 0)
            printf("rules evaluated per event with prefilter: %.2f\n",
                   (double)sn_rules_scratch_stats(sc)->rules_evaluated /
                       (double)sn_rules_scratch_stats(sc)->events);
    }
    for (size_t i = 0; i < N_CORPUS; i++)
        free((char *)corpus[i].hdr[SN_RF_MSG].ptr);
    sn_rules_scratch_free(sc);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_buf_fini(&y);
    sn_diags_fini(&d);
    return 0;
}
