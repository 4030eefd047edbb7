/*
 * Parser throughput on one core: builds an in-memory corpus of ~100k
 * realistic RFC 5424 messages (sshd, sudo, cron, kernel; with and without
 * STRUCTURED-DATA; 150-400 bytes), parses it repeatedly for about two
 * seconds with a per-batch arena, and prints messages and megabytes per
 * second. Deterministic corpus (fixed LCG seed) so runs compare.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/limits.h"
#include "syslog/rfc5424.h"

#define N_MSGS   100000
#define RUN_SECS 2.0
#define MSG_MAX  512

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

static const char *const hosts[] = { "web-01.prod.example.com",
                                     "db-primary.eu-west-1.example.net",
                                     "bastion", "10.20.30.40",
                                     "k8s-node-17.cluster.local" };
static const char *const users[] = { "alice", "bob",        "deploy",
                                     "root",  "svc-backup", "mallory" };
static const char *const cmds[] = {
    "/usr/bin/systemctl restart nginx.service php8.2-fpm.service",
    "/usr/bin/apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade",
    "/usr/bin/rsync -aHAX --delete --numeric-ids /srv/data/ "
    "backup@vault.example.net:/backups/srv-data/",
    "/bin/journalctl -u postgresql@15-main --since 2024-01-01 --no-pager",
    "/usr/sbin/iptables -A INPUT -p tcp --dport 5432 -s 10.0.0.0/8 -j ACCEPT",
    "/usr/bin/docker run --rm -v /var/lib/app:/data registry.example.com/"
    "tools/migrate:2024.05.1 --dry-run=false --batch-size=500 "
    "--log-level=info",
};

/* One message into buf; returns its length. */
static size_t
make_msg(char *buf, size_t cap)
{
    char ts[64];
    const char *host = hosts[rnd(5)], *user = users[rnd(6)];
    unsigned ip3 = rnd(255), ip4 = rnd(255), port = 1024 + rnd(60000);
    unsigned pid = 100 + rnd(60000);
    int n;

    snprintf(ts, sizeof(ts), "2024-%02u-%02uT%02u:%02u:%02u.%06u%s",
             1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(1000000),
             rnd(2) ? "Z" : "+02:00");
    switch (rnd(8)) {
    case 0:
        n = snprintf(buf, cap,
                     "<38>1 %s %s sshd %u - - Accepted publickey for %s "
                     "from 198.51.%u.%u port %u ssh2: ED25519 "
                     "SHA256:q6Vb0mN3rX1u9cTz8kLwE4yH2sPfA7dG5jR0iUoQeW",
                     ts, host, pid, user, ip3, ip4, port);
        break;
    case 1:
        n = snprintf(buf, cap,
                     "<38>1 %s %s sshd %u AUTHFAIL [origin ip=\"198.51.%u.%u\" "
                     "software=\"OpenSSH\" swVersion=\"9.6p1\"][meta "
                     "sequenceId=\"%u\"] Failed password for invalid user %s "
                     "from 198.51.%u.%u port %u ssh2",
                     ts, host, pid, ip3, ip4, rnd(1000000), user, ip3, ip4,
                     port);
        break;
    case 2:
        n = snprintf(buf, cap,
                     "<85>1 %s %s sudo - - - %s : TTY=pts/%u ; "
                     "PWD=/home/%s ; USER=root ; COMMAND=%s",
                     ts, host, user, rnd(10), user, cmds[rnd(6)]);
        break;
    case 3:
        n = snprintf(buf, cap,
                     "<85>1 %s %s sudo %u CMD [sudo@32473 user=\"%s\" "
                     "tty=\"pts/%u\" cwd=\"/home/%s\" runas=\"root\" "
                     "cmd=\"/bin/grep -r \\\"password\\\" /etc\"] %s : "
                     "COMMAND=%s",
                     ts, host, pid, user, rnd(10), user, user, cmds[rnd(6)]);
        break;
    case 4:
        n = snprintf(buf, cap, "<78>1 %s %s CRON %u - - (%s) CMD (%s)", ts,
                     host, pid, user,
                     rnd(2) ? "test -x /usr/sbin/anacron || ( cd / && "
                              "run-parts --report /etc/cron.daily )"
                            : "[ -x /usr/lib/php/sessionclean ] && if [ ! "
                              "-d /run/systemd/system ]; then "
                              "/usr/lib/php/sessionclean; fi");
        break;
    case 5:
        n = snprintf(buf, cap,
                     "<78>1 %s %s CRON %u JOB [timeQuality tzKnown=\"1\" "
                     "isSynced=\"1\" syncAccuracy=\"%u\"] pam_unix(cron:"
                     "session): session opened for user %s(uid=%u) by "
                     "(uid=0)",
                     ts, host, pid, rnd(100000), user, rnd(2000));
        break;
    case 6:
        n = snprintf(buf, cap,
                     "<4>1 %s %s kernel - - - [%u.%06u] [UFW BLOCK] IN=eth0 "
                     "OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.%u "
                     "DST=192.0.2.%u LEN=60 TOS=0x00 PREC=0x00 TTL=52 "
                     "ID=%u DF PROTO=TCP SPT=%u DPT=22 WINDOW=64240 RES=0x00 "
                     "SYN URGP=0",
                     ts, host, rnd(9999999), rnd(1000000), ip3, ip4, rnd(65535),
                     port);
        break;
    default:
        n = snprintf(buf, cap,
                     "<6>1 %s %s kernel - - [meta sequenceId=\"%u\"] "
                     "\xEF\xBB\xBFusb 1-1.%u: new high-speed USB device "
                     "number %u using xhci_hcd, idVendor=0781, "
                     "idProduct=5581, bcdDevice= 1.00, Product: Ultra Fit",
                     ts, host, rnd(1000000), rnd(4), rnd(127));
        break;
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int
main(void)
{
    char *corpus = malloc((size_t)N_MSGS * MSG_MAX);
    size_t *off = malloc((N_MSGS + 1) * sizeof(*off));
    struct sn_arena arena;
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    size_t total = 0, n_bad = 0, min = SIZE_MAX, max = 0;
    uint64_t n_parsed = 0, bytes = 0;
    double t0, t;

    if (corpus == NULL || off == NULL)
        return 1;
    for (size_t i = 0; i < N_MSGS; i++) {
        size_t len = make_msg(corpus + total, MSG_MAX);

        off[i] = total;
        total += len;
        min = len < min ? len : min;
        max = len > max ? len : max;
    }
    off[N_MSGS] = total;
    sn_arena_init(&arena, SN_BATCH_ARENA_CHUNK, 0);

    /* Validate once: the corpus must be all valid. */
    for (size_t i = 0; i < N_MSGS; i++) {
        if (i % SN_BATCH_MAX_RECORDS == 0)
            sn_arena_reset(&arena);
        if (sn_rfc5424_parse(corpus + off[i], off[i + 1] - off[i], &arena, &m,
                             &err) != SN_OK) {
            if (n_bad++ == 0)
                fprintf(stderr, "bench: message %zu rejected: %s at %zu\n", i,
                        err.reason, err.offset);
        }
    }
    if (n_bad > 0) {
        fprintf(stderr, "bench: %zu invalid messages in corpus\n", n_bad);
        return 1;
    }

    t0 = now();
    do {
        for (size_t i = 0; i < N_MSGS; i++) {
            if (i % SN_BATCH_MAX_RECORDS == 0)
                sn_arena_reset(&arena);
            n_bad += sn_rfc5424_parse(corpus + off[i], off[i + 1] - off[i],
                                      &arena, &m, &err) != SN_OK;
        }
        n_parsed += N_MSGS;
        bytes += total;
        t = now() - t0;
    } while (t < RUN_SECS);

    printf("corpus: %d msgs, %zu bytes (%zu..%zu per msg, mean %zu)\n", N_MSGS,
           total, min, max, total / N_MSGS);
    printf("rfc5424: %.0f msgs/s, %.0f MB/s per core\n", (double)n_parsed / t,
           (double)bytes / t / 1e6);
    sn_arena_fini(&arena);
    free(corpus);
    free(off);
    return n_bad == 0 ? 0 : 1;
}
