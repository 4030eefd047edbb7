/*
 * libFuzzer target for the HTTP request path: the real server
 * (src/http/, sn_http_start on 127.0.0.1) with auth off, so every route
 * and role is reachable, fed one request per input over a real socket.
 * Routing, path decoding, query parsing and every handler's parameter
 * checks run as in the daemon; the WebSocket frame parser too, when the
 * input upgrades and sends frames. A crash, a sanitizer report or a
 * daemon-side abort is a finding.
 *
 * Input: "METHOD TARGET" on the first line (just a target: GET), header
 * lines up to an empty line, then the body (sent with Content-Length,
 * except on GET, where it follows the request raw: WebSocket frames or a
 * pipelined request).
 *
 * Build: scripts/fuzz.sh (links the daemon's core with clang)
 * Seeds: tests/fuzz/corpus/http/
 */
/* _GNU_SOURCE: memmem(3). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "http/http.h"
#include "metrics/metrics.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct sn_http *srv;
static struct sn_pipeline *no_pipeline;
static int port;

static bool
no_reload(void *arg)
{
    (void)arg;
    return false;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port the kernel says is free now. */
static int
free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        abort();
    p = ntohs(a.sin_port);
    close(fd);
    return p;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/tmp/sentineld-fuzz-http.XXXXXX";
    static char listen[32], db[sizeof(dir) + 16];
    struct sn_http_conf conf;
    struct sn_http_env env;
    struct sn_error err;

    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    sn_log_setup(SN_LOG_ERROR, false);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(db, sizeof(db), "%s/sentineld.db", dir);
    port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    memset(&conf, 0, sizeof(conf));
    conf.enabled = true;
    conf.listen = listen;
    conf.auth = false; /* everyone is admin: every handler is reachable */
    conf.max_body = 1u << 20;
    conf.rate_limit = 1000000000;
    conf.web_root = "web";
    conf.max_connections = 64;
    conf.header_timeout_ms = 10000;
    conf.body_timeout_ms = 10000;
    conf.feed_clients_per_token = 1000;
    conf.feed_history = 1u << 20;
    memset(&env, 0, sizeof(env));
    env.metrics = sn_metrics_new();
    env.pl = &no_pipeline;
    env.reload = no_reload;
    env.state_dir = dir;
    env.db_path = db;
    env.four_eyes = true;
    base = event_base_new();
    sn_error_clear(&err);
    if (base == NULL || env.metrics == NULL ||
        sn_http_start(base, &conf, &env, &srv, &err) != SN_OK) {
        fprintf(stderr, "fuzz_http: %s\n", err.msg);
        abort();
    }
    return 0;
}

/* Frame the input as one HTTP/1.1 request into b. */
static void
build(const uint8_t *data, size_t size, struct sn_buf *b)
{
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    const char *line_end = nl ? nl : end, *sp;
    const char *body;
    bool is_get = true;

    sp = memchr(p, ' ', (size_t)(line_end - p));
    if (sp != NULL) {
        is_get = (size_t)(sp - p) == 3 && memcmp(p, "GET", 3) == 0;
        sn_buf_append(b, p, (size_t)(line_end - p));
    } else {
        SN_BUF_LIT(b, "GET ");
        sn_buf_append(b, p, (size_t)(line_end - p));
    }
    SN_BUF_LIT(b, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    p = nl ? nl + 1 : end;
    /* Header lines until an empty one. */
    while (p < end && *p != '\n') {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
        sn_buf_append(b, p, n);
        SN_BUF_LIT(b, "\r\n");
        p += n + (e != NULL);
    }
    body = p < end ? p + 1 : end;
    /* The server closes after answering, so an input ends at once; an
     * input with its own Connection (an upgrade) keeps it open. */
    if (memmem(b->data, b->len, "\nConnection:", 12) == NULL &&
        memmem(b->data, b->len, "\nconnection:", 12) == NULL)
        SN_BUF_LIT(b, "Connection: close\r\n");
    if (!is_get)
        sn_buf_printf(b, "Content-Length: %zu\r\n", (size_t)(end - body));
    SN_BUF_LIT(b, "\r\n");
    sn_buf_append(b, body, (size_t)(end - body));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    struct sn_buf req;
    char buf[65536];
    int fd;
    size_t off = 0;
    int64_t until;

    sn_buf_init(&req, 1u << 20);
    build(data, size, &req);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
                   errno != EINPROGRESS))
        abort();
    /* Serve until the server closes or goes quiet: 10 ms before the
     * first byte of the answer, 2 ms after the last (a stream stays open;
     * a closed connection's socket is released by the next sweep of
     * conns.c, up to 20 ms later). */
    until = mono_ms() + 10;
    while (mono_ms() < until) {
        ssize_t n;
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (off < req.len) {
            n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != ENOTCONN)
                break;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOTCONN))
            break;
        if (n > 0)
            until = mono_ms() + 2;
    }
    close(fd);
    for (int i = 0; i < 8; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    sn_buf_fini(&req);
    return 0;
}
