/*
 * TCP syslog load generator: COUNT RFC 5424 messages of a busy bastion
 * host's mix (sshd failed/accepted logins, sudo, cron, kernel firewall,
 * systemd; some with STRUCTURED-DATA, 150-300 bytes), octet-counted or
 * LF-framed (RFC 6587), over C connections (one thread each). Every
 * message carries its sequence number N (unique over all connections,
 * increasing on each) so a receiver can check completeness and order:
 * sshd's lines in MSGID ("seqN"), where it leaves the text exactly as sshd
 * writes it (the rule pack anchors on sshd's fixed suffix "port N ssh2"),
 * the others as a trailing "seq=N". Timestamps are live: the time the
 * stream is built plus 10 µs per message of its connection, so the
 * connections' event times advance together and correlations see what a
 * live fleet sends (-F: the fixed 2024-05-01 stamps of earlier figures,
 * whose connections are minutes apart, so a detector drops most of them
 * as late). The whole stream
 * is built in memory before the first byte is sent and written in large
 * chunks that end on frame boundaries, so the sender costs little CPU next
 * to the daemon it measures (bench/syslog_tcp_load.py tops out near 170k
 * msgs/s). Used by bench/bench_vs_rsyslog.sh, bench/rss_flood.sh and
 * tests/integration/backpressure.sh.
 *
 *   loadgen [-H host] [-p port] [-n count] [-f octet|lf] [-c connections]
 *           [-d seconds] [-r msgs_per_s] [-w write_bytes] [-s seed] [-F] [-q]
 *
 * -r paces the offered load: the connections together send that many
 * messages per second (each chunk waits for its due time; pick -w small,
 * e.g. 16384, so a chunk is a few milliseconds of traffic) instead of as
 * fast as the receiver takes them. A paced run prints how far it fell
 * behind its schedule, which is the receiver pushing back.
 * -d sends each connection's stream over and over for that many seconds
 * (a flood; sequence numbers repeat on every pass). Prints to stderr what
 * it built, the CLOCK_MONOTONIC time of the first byte sent (to time
 * end-to-end from the first byte) and the send rate.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Default bytes per write(2): a few socket buffers' worth, so the sender
 * makes a handful of syscalls per millisecond at full speed. */
#define WRITE_CHUNK (256 * 1024)

/* Room for one formatted message: the longest template is ~300 bytes. */
#define MSG_MAX 512

struct opts {
    const char *host;
    const char *port;
    uint64_t count;
    bool octet;
    unsigned conns;
    double seconds; /* > 0: flood for this long */
    double rate;    /* > 0: messages per second over all connections */
    size_t chunk;
    uint64_t seed;
    bool fixed_time; /* -F: the 2024-05-01 stamps */
    time_t base;     /* live stamps start here */
    bool quiet;
};

/* A write boundary: the stream offset a chunk ends at (always the end of
 * a frame) and how many messages precede it. */
struct cut {
    size_t off;
    uint64_t n_msgs;
};

struct conn {
    const struct opts *o;
    unsigned index;
    uint64_t first_seq, n_msgs;
    char *buf;
    size_t len;
    struct cut *cuts;
    size_t n_cuts;
    size_t min_len, max_len;
    int fd;
    uint64_t sent_msgs, sent_bytes;
    double t_first, t_last;
    double max_late; /* paced: worst lateness of a chunk, seconds */
    int err;         /* errno of a failed connect/write, 0 when fine */
    pthread_t thread;
};

static pthread_barrier_t start_line;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: fast, and the same stream for the same seed everywhere. */
static uint64_t
next_rand(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15u);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static unsigned
rnd(uint64_t *st, unsigned n)
{
    return (unsigned)(next_rand(st) % n);
}

static const char *const hosts[] = { "web1",    "web2",   "db1",
                                     "bastion", "cache3", "mail.example.net" };
static const char *const users[] = { "root",  "admin",  "deploy",
                                     "alice", "bob",    "oracle",
                                     "test",  "ubuntu", "postgres" };
static const char *const units[] = { "nginx.service", "sshd.service",
                                     "cron.service", "logrotate.service",
                                     "apt-daily.service" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 5424 6.2.3 timestamp of message i of its connection into ts: RFC
 * 3339, UTC or with an offset, fractions of varying length. */
static void
format_time(char *ts, size_t len, const struct opts *o, uint64_t seq,
            uint64_t i)
{
    uint64_t us;
    time_t t;
    struct tm tm;

    if (o->fixed_time) {
        if (seq % 4 == 3)
            snprintf(ts, len, "2024-05-01T12:%02u:%02u.%03u+02:00",
                     (unsigned)(seq / 60000 % 60), (unsigned)(seq / 1000 % 60),
                     (unsigned)(seq % 1000));
        else
            snprintf(ts, len, "2024-05-01T10:%02u:%02u.%06uZ",
                     (unsigned)(seq / 60000 % 60), (unsigned)(seq / 1000 % 60),
                     (unsigned)(seq % 1000000));
        return;
    }
    us = i * 10;
    t = o->base + (time_t)(us / 1000000);
    us %= 1000000;
    if (seq % 4 == 3) { /* the same instant at +02:00, milliseconds */
        t += 2 * 3600;
        gmtime_r(&t, &tm);
        snprintf(ts, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03u+02:00",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (unsigned)(us / 1000));
    } else {
        gmtime_r(&t, &tm);
        snprintf(ts, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (unsigned)us);
    }
}

/* One message, without framing, into out (MSG_MAX bytes); returns its
 * length. Weights follow a bastion host: mostly sshd noise. i: the
 * message's index on its connection. */
static size_t
format_msg(char *out, uint64_t *st, const struct opts *o, uint64_t seq,
           uint64_t i)
{
    const char *host = hosts[seq % NELEM(hosts)];
    const char *user = users[rnd(st, NELEM(users))];
    unsigned ip3 = rnd(st, 4), ip4 = 1 + rnd(st, 254);
    unsigned k = rnd(st, 100);
    unsigned pid = 1000 + rnd(st, 59000);
    char ts[48];
    int n;

    format_time(ts, sizeof(ts), o, seq, i);
    if (k < 35) /* authpriv.info */
        n = snprintf(out, MSG_MAX,
                     "<38>1 %s %s sshd %u seq%llu - Failed password for "
                     "invalid user %s from 203.0.%u.%u port %u ssh2",
                     ts, host, pid, (unsigned long long)seq, user, 113 + ip3,
                     ip4, 1024 + rnd(st, 64000));
    else if (k < 45)
        n = snprintf(out, MSG_MAX,
                     "<38>1 %s %s sshd %u seq%llu - Accepted publickey for "
                     "%s from 198.51.%u.%u port %u ssh2: ED25519 SHA256:"
                     "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
                     ts, host, pid, (unsigned long long)seq, user, 100 + ip3,
                     ip4, 1024 + rnd(st, 64000));
    else if (k < 50)
        n = snprintf(out, MSG_MAX,
                     "<38>1 %s %s sshd %u seq%llu [timeQuality tzKnown=\"1\" "
                     "isSynced=\"1\" syncAccuracy=\"60000\"] Accepted "
                     "password for %s from 192.0.2.%u port %u ssh2",
                     ts, host, pid, (unsigned long long)seq, user, ip4,
                     1024 + rnd(st, 64000));
    else if (k < 62) /* authpriv.notice, with SD */
        n = snprintf(out, MSG_MAX,
                     "<85>1 %s %s sudo - - [origin ip=\"10.0.%u.%u\" "
                     "software=\"sudo\"][meta sequenceId=\"%llu\"] %s : "
                     "TTY=pts/%u ; PWD=/home/%s ; USER=root ; "
                     "COMMAND=/usr/bin/systemctl restart nginx seq=%llu",
                     ts, host, ip3, ip4, (unsigned long long)(seq % 2147483647),
                     user, rnd(st, 9), user, (unsigned long long)seq);
    else if (k < 77) /* cron.info */
        n = snprintf(out, MSG_MAX,
                     "<78>1 %s %s CRON %u - - (root) CMD (test -x "
                     "/usr/sbin/anacron || ( cd / && run-parts --report "
                     "/etc/cron.daily )) seq=%llu",
                     ts, host, pid, (unsigned long long)seq);
    else if (k < 87) /* kern.warning */
        n = snprintf(out, MSG_MAX,
                     "<4>1 %s %s kernel - - - [UFW BLOCK] IN=eth0 OUT= "
                     "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 "
                     "SRC=203.0.%u.%u DST=192.0.2.10 LEN=60 TOS=0x00 "
                     "PREC=0x00 TTL=52 ID=%u DF PROTO=TCP SPT=%u DPT=22 "
                     "WINDOW=64240 RES=0x00 SYN URGP=0 seq=%llu",
                     ts, host, 113 + ip3, ip4, rnd(st, 65536),
                     1024 + rnd(st, 64000), (unsigned long long)seq);
    else /* daemon.info, with SD and a MSGID */
        n = snprintf(out, MSG_MAX,
                     "<30>1 %s %s systemd 1 unit-start "
                     "[systemd@32473 unit=\"%s\" invocation=\"%016llx\"] "
                     "Started %s - session %u of user %s. seq=%llu",
                     ts, host, units[rnd(st, NELEM(units))],
                     (unsigned long long)next_rand(st),
                     units[rnd(st, NELEM(units))], rnd(st, 9000), user,
                     (unsigned long long)seq);
    if (n < 0 || n >= MSG_MAX)
        n = 0; /* cannot happen with these templates */
    return (size_t)n;
}

/* Build the connection's whole stream and its write boundaries. */
static int
build(struct conn *c)
{
    const struct opts *o = c->o;
    /* Upper bound: every frame fits MSG_MAX plus "NNN " or LF. */
    size_t cap = (size_t)c->n_msgs * (MSG_MAX + 8);
    /* Cuts are at least one chunk apart, plus the final one. */
    size_t n_cuts_max = cap / o->chunk + 2;
    uint64_t st = o->seed * 1000003u + c->index;
    char msg[MSG_MAX];
    size_t next_cut;

    /* Only the pages written are ever touched, so the upper bound costs
     * address space, not memory. */
    c->buf = malloc(cap ? cap : 1);
    c->cuts = malloc(n_cuts_max * sizeof(*c->cuts));
    if (c->buf == NULL || c->cuts == NULL)
        return ENOMEM;
    c->len = 0;
    c->n_cuts = 0;
    c->min_len = SIZE_MAX;
    c->max_len = 0;
    next_cut = o->chunk;
    for (uint64_t i = 0; i < c->n_msgs; i++) {
        size_t len = format_msg(msg, &st, o, c->first_seq + i, i);

        if (len < c->min_len)
            c->min_len = len;
        if (len > c->max_len)
            c->max_len = len;
        if (o->octet) {
            /* RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG. */
            c->len += (size_t)sprintf(c->buf + c->len, "%zu ", len);
            memcpy(c->buf + c->len, msg, len);
            c->len += len;
        } else {
            /* RFC 6587 3.4.2: SYSLOG-MSG TRAILER (LF). */
            memcpy(c->buf + c->len, msg, len);
            c->len += len;
            c->buf[c->len++] = '\n';
        }
        if (c->len >= next_cut || i + 1 == c->n_msgs) {
            c->cuts[c->n_cuts].off = c->len;
            c->cuts[c->n_cuts].n_msgs = i + 1;
            c->n_cuts++;
            next_cut = c->len + o->chunk;
        }
    }
    return 0;
}

static int
connect_to(const struct opts *o)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, gai, one = 1, sndbuf = 4 << 20;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    gai = getaddrinfo(o->host, o->port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", o->host, o->port,
                gai_strerror(gai));
        errno = EINVAL;
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* A large send buffer keeps the pipe full between our writes. */
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Write buf[0..len) completely; returns 0 or an errno. */
static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Paced mode: wait until the first of the next chunk's messages is due
 * (this connection's share of -r), or note how late it already is. */
static void
pace(struct conn *c, uint64_t n_sent)
{
    double per_conn = c->o->rate / c->o->conns;
    double due = c->t_first + (double)n_sent / per_conn;
    double t = now();

    if (t < due) {
        struct timespec ts;
        ts.tv_sec = (time_t)due;
        ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
               EINTR)
            ;
    } else if (t - due > c->max_late)
        c->max_late = t - due;
}

static void *
sender(void *arg)
{
    struct conn *c = arg;
    const struct opts *o = c->o;
    double deadline = 0;
    bool flood = o->seconds > 0;

    pthread_barrier_wait(&start_line);
    if (c->fd < 0)
        return NULL;
    c->t_first = now();
    if (flood)
        deadline = c->t_first + o->seconds;
    do {
        size_t off = 0;
        uint64_t base = c->sent_msgs;

        for (size_t i = 0; i < c->n_cuts; i++) {
            if (o->rate > 0)
                pace(c, c->sent_msgs);
            c->err = write_all(c->fd, c->buf + off, c->cuts[i].off - off);
            if (c->err != 0)
                goto out;
            c->sent_bytes += c->cuts[i].off - off;
            c->sent_msgs = base + c->cuts[i].n_msgs;
            off = c->cuts[i].off;
            if (flood && (i & 15) == 15 && now() >= deadline)
                goto out;
        }
    } while (flood && now() < deadline);
out:
    c->t_last = now();
    /* FIN after the last byte: the receiver frames what it holds. */
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    c->fd = -1;
    return NULL;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: loadgen [-H host] [-p port] [-n count] "
               "[-f octet|lf] [-c connections]\n"
               "               [-d seconds] [-r msgs_per_s] [-w write_bytes] "
               "[-s seed] [-F] [-q]\n"
               "  -F: fixed 2024-05-01 timestamps (default: live, from now)\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    int ch;
    char *end;

    o->base = time(NULL);
    o->host = "127.0.0.1";
    o->port = "5514";
    o->count = 100000;
    o->octet = true;
    o->conns = 1;
    o->seconds = 0;
    o->rate = 0;
    o->chunk = WRITE_CHUNK;
    o->seed = 1;
    o->quiet = false;
    while ((ch = getopt(argc, argv, "H:p:n:f:c:d:r:w:s:Fqh")) != -1) {
        errno = 0;
        end = NULL;
        switch (ch) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            o->port = optarg;
            break;
        case 'n':
            o->count = strtoull(optarg, &end, 10);
            break;
        case 'f':
            if (strcmp(optarg, "octet") == 0 ||
                strcmp(optarg, "octet-counting") == 0)
                o->octet = true;
            else if (strcmp(optarg, "lf") == 0 ||
                     strcmp(optarg, "non-transparent") == 0)
                o->octet = false;
            else {
                fprintf(stderr, "loadgen: -f takes octet or lf\n");
                return -1;
            }
            break;
        case 'c':
            o->conns = (unsigned)strtoul(optarg, &end, 10);
            break;
        case 'd':
            o->seconds = strtod(optarg, &end);
            break;
        case 'r':
            o->rate = strtod(optarg, &end);
            break;
        case 'w':
            o->chunk = (size_t)strtoull(optarg, &end, 10);
            break;
        case 's':
            o->seed = strtoull(optarg, &end, 10);
            break;
        case 'F':
            o->fixed_time = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (end != NULL && (*end != '\0' || errno != 0 || end == optarg)) {
            fprintf(stderr, "loadgen: bad number for -%c: %s\n", ch, optarg);
            return -1;
        }
    }
    if (optind != argc || o->count == 0 || o->conns == 0 || o->conns > 1024 ||
        o->chunk < 1024 || o->seconds < 0 || o->rate < 0) {
        usage(stderr);
        return -1;
    }
    if (o->count < o->conns)
        o->conns = (unsigned)o->count;
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct conn *cs;
    uint64_t per, seq = 0, msgs = 0, bytes = 0, built_bytes = 0;
    size_t min_len = SIZE_MAX, max_len = 0;
    double t0, t_first = 0, t_last = 0, max_late = 0;
    int rc = 0;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    cs = calloc(o.conns, sizeof(*cs));
    if (cs == NULL)
        return 1;
    per = o.count / o.conns;
    t0 = now();
    for (unsigned i = 0; i < o.conns; i++) {
        struct conn *c = &cs[i];

        c->o = &o;
        c->index = i;
        c->first_seq = seq;
        c->n_msgs = per + (i == 0 ? o.count % o.conns : 0);
        seq += c->n_msgs;
        c->fd = -1;
        if (build(c) != 0) {
            fprintf(stderr, "loadgen: out of memory building %llu messages\n",
                    (unsigned long long)c->n_msgs);
            return 1;
        }
        built_bytes += c->len;
        if (c->min_len < min_len)
            min_len = c->min_len;
        if (c->max_len > max_len)
            max_len = c->max_len;
    }
    if (!o.quiet)
        fprintf(stderr,
                "loadgen: built %llu messages (%.1f MB, %zu..%zu bytes, %s "
                "framing) in %.2fs\n",
                (unsigned long long)o.count, (double)built_bytes / 1e6, min_len,
                max_len, o.octet ? "octet" : "lf", now() - t0);
    /* Connect everything first: the clock starts at the first byte. */
    for (unsigned i = 0; i < o.conns; i++) {
        cs[i].fd = connect_to(&o);
        if (cs[i].fd < 0) {
            fprintf(stderr, "loadgen: cannot connect to %s:%s: %s\n", o.host,
                    o.port, strerror(errno));
            for (unsigned j = 0; j < i; j++)
                close(cs[j].fd);
            return 1;
        }
    }
    pthread_barrier_init(&start_line, NULL, o.conns + 1);
    for (unsigned i = 0; i < o.conns; i++) {
        if (pthread_create(&cs[i].thread, NULL, sender, &cs[i]) != 0) {
            fprintf(stderr, "loadgen: cannot create a thread\n");
            return 1;
        }
    }
    pthread_barrier_wait(&start_line);
    for (unsigned i = 0; i < o.conns; i++) {
        struct conn *c = &cs[i];

        pthread_join(c->thread, NULL);
        if (c->err != 0) {
            fprintf(stderr, "loadgen: connection %u: write: %s\n", i,
                    strerror(c->err));
            rc = 1;
        }
        msgs += c->sent_msgs;
        bytes += c->sent_bytes;
        if (t_first == 0 || c->t_first < t_first)
            t_first = c->t_first;
        if (c->t_last > t_last)
            t_last = c->t_last;
        if (c->max_late > max_late)
            max_late = c->max_late;
        free(c->buf);
        free(c->cuts);
    }
    if (!o.quiet) {
        double dt = t_last - t_first;

        if (dt <= 0)
            dt = 1e-9;
        fprintf(stderr, "loadgen: first byte at monotonic %.6f\n", t_first);
        fprintf(stderr,
                "sent %llu messages (%.1f MB) in %.2fs: %.0f msgs/s "
                "(%.1f MB/s, %u connection(s))\n",
                (unsigned long long)msgs, (double)bytes / 1e6, dt,
                (double)msgs / dt, (double)bytes / 1e6 / dt, o.conns);
        if (o.rate > 0)
            fprintf(stderr,
                    "loadgen: paced at %.0f msgs/s; latest chunk %.3fs "
                    "behind schedule\n",
                    o.rate, max_late);
    }
    free(cs);
    return rc;
}
