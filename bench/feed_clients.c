/*
 * Many live feed clients in one process (bench/live_feed_load.sh): N
 * connections to /api/v1/stream (SSE over HTTP/1.1, chunked) and
 * /api/v1/ws (WebSocket) on one libevent loop, so 200 clients cost one
 * process and little CPU next to the daemon they load. Each client checks
 * that the incident changes it receives are consecutive from its hello
 * position, and records whether it was told of a gap (SSE `gap`) or of
 * its drop (SSE `dropped`, WebSocket close 4001). On SIGTERM/SIGINT it
 * prints one summary line (key=value) and exits.
 *
 *   feed_clients -p port -t token [-n clients] [-w websocket_share_pct]
 *                [-r ready_file]
 *
 * ready_file is created once every client has its hello.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { SSE, WS };

struct client {
    struct feed *f;
    enum kind kind;
    struct bufferevent *bev;
    bool headers_done, hello, gone, told_drop, gap_pending;
    /* SSE: chunked transfer decoding, then the event being assembled. */
    size_t chunk_left; /* payload bytes left in the current chunk */
    bool chunk_crlf;   /* the CRLF after a chunk's payload is owed */
    struct evbuffer *body;
    long long ev_id;
    char ev_name[16];
    char *ev_data; /* first data line of the current event */
    long long last, msgs, holes, gaps;
};

struct feed {
    struct event_base *base;
    struct client *c;
    int n, port, n_hello;
    const char *token, *ready_file;
};

static void
hello_seen(struct client *c, long long seq)
{
    if (c->hello)
        return;
    c->hello = true;
    c->last = seq;
    if (++c->f->n_hello == c->f->n && c->f->ready_file != NULL) {
        FILE *fp = fopen(c->f->ready_file, "w");
        if (fp != NULL)
            fclose(fp);
    }
}

/* One incident change at seq: consecutive, or announced by a gap. */
static void
change(struct client *c, long long seq)
{
    if (seq != c->last + 1 && !c->gap_pending)
        c->holes++;
    c->gap_pending = false;
    c->last = seq;
    c->msgs++;
}

static long long
num_after(const char *s, const char *key)
{
    const char *p = s ? strstr(s, key) : NULL;

    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* --- SSE ------------------------------------------------------------- */

static void
sse_dispatch(struct client *c)
{
    if (strcmp(c->ev_name, "incident") == 0)
        change(c, c->ev_id);
    else if (strcmp(c->ev_name, "hello") == 0)
        hello_seen(c, num_after(c->ev_data, "\"seq\":"));
    else if (strcmp(c->ev_name, "gap") == 0) {
        c->gaps++;
        c->gap_pending = true;
    } else if (strcmp(c->ev_name, "dropped") == 0)
        c->told_drop = true;
    c->ev_id = -1;
    c->ev_name[0] = '\0';
    free(c->ev_data);
    c->ev_data = NULL;
}

static void
sse_lines(struct client *c)
{
    char *line;
    size_t len;

    while ((line = evbuffer_readln(c->body, &len, EVBUFFER_EOL_LF)) != NULL) {
        if (len == 0)
            sse_dispatch(c);
        else if (strncmp(line, "id: ", 4) == 0)
            c->ev_id = strtoll(line + 4, NULL, 10);
        else if (strncmp(line, "event: ", 7) == 0)
            snprintf(c->ev_name, sizeof(c->ev_name), "%s", line + 7);
        else if (strncmp(line, "data: ", 6) == 0 && c->ev_data == NULL)
            c->ev_data = strdup(line + 6);
        free(line);
    }
}

/* RFC 9112 7.1: chunk-size CRLF chunk-data CRLF ... 0 CRLF CRLF. */
static void
sse_read(struct client *c, struct evbuffer *in)
{
    for (;;) {
        if (c->chunk_left > 0) {
            size_t n = evbuffer_get_length(in);
            if (n == 0)
                break;
            if (n > c->chunk_left)
                n = c->chunk_left;
            evbuffer_remove_buffer(in, c->body, n);
            c->chunk_left -= n;
            if (c->chunk_left == 0)
                c->chunk_crlf = true;
            continue;
        }
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
        if (line == NULL)
            break;
        if (c->chunk_crlf)
            c->chunk_crlf = false; /* the empty line after the payload */
        else
            c->chunk_left = strtoul(line, NULL, 16);
        free(line);
    }
    sse_lines(c);
}

/* --- WebSocket ---------------------------------------------------------- */

static void
ws_message(struct client *c, const char *p, size_t len)
{
    char tmp[128];
    size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (strncmp(tmp, "{\"seq\":", 7) == 0)
        change(c, strtoll(tmp + 7, NULL, 10));
    else if (strncmp(tmp, "{\"event\":\"hello\"", 16) == 0)
        hello_seen(c, num_after(tmp, "\"data\":{\"seq\":"));
    else if (strncmp(tmp, "{\"event\":\"gap\"", 14) == 0) {
        c->gaps++;
        c->gap_pending = true;
    }
}

static void
ws_read(struct client *c, struct evbuffer *in)
{
    for (;;) {
        size_t n = evbuffer_get_length(in), hl = 2;
        unsigned char h[10];
        uint64_t len;

        if (n < 2)
            return;
        evbuffer_copyout(in, h, n < 10 ? n : 10);
        len = h[1] & 0x7f;
        if (len == 126) {
            hl = 4;
            if (n < hl)
                return;
            len = (uint64_t)h[2] << 8 | h[3];
        } else if (len == 127) {
            hl = 10;
            if (n < hl)
                return;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | h[i];
        }
        if (n < hl + len)
            return;
        evbuffer_drain(in, hl);
        unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)len);
        switch (h[0] & 0x0f) {
        case 1:
            ws_message(c, (const char *)p, (size_t)len);
            break;
        case 8:
            if (len >= 2 && (p[0] << 8 | p[1]) == 4001)
                c->told_drop = true;
            break;
        default:
            break; /* pings: the server does not require pongs */
        }
        evbuffer_drain(in, (size_t)len);
    }
}

/* --- connection --------------------------------------------------------- */

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (!c->headers_done) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        char status[16] = "";
        if (end.pos < 0)
            return;
        evbuffer_copyout(in, status, sizeof(status) - 1);
        if (strncmp(status + 9, c->kind == SSE ? "200" : "101", 3) != 0) {
            fprintf(stderr, "feed_clients: refused: %.12s\n", status);
            c->gone = true;
            bufferevent_free(bev);
            c->bev = NULL;
            return;
        }
        evbuffer_drain(in, (size_t)end.pos + 4);
        c->headers_done = true;
    }
    if (c->kind == SSE)
        sse_read(c, in);
    else
        ws_read(c, in);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    struct client *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        struct evbuffer *out = bufferevent_get_output(bev);
        if (c->kind == SSE)
            evbuffer_add_printf(out,
                                "GET /api/v1/stream HTTP/1.1\r\nHost: "
                                "127.0.0.1:%d\r\nAuthorization: Bearer "
                                "%s\r\nAccept: text/event-stream\r\n\r\n",
                                c->f->port, c->f->token);
        else
            evbuffer_add_printf(
                out,
                "GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Authorization: Bearer %s\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                c->f->port, c->f->token);
        return;
    }
    c->gone = true;
    bufferevent_free(bev);
    c->bev = NULL;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
    struct feed f = { .n = 200, .port = 0 };
    struct sockaddr_in sin;
    struct event *s1, *s2;
    int ws_pct = 50, ch;
    long long min_last = -1, max_last = -1, msgs = 0, holes = 0;
    int hello = 0, dropped = 0, gaps = 0, lost = 0, at_max = 0, n_ws = 0;

    while ((ch = getopt(argc, argv, "p:t:n:w:r:")) != -1) {
        switch (ch) {
        case 'p':
            f.port = atoi(optarg);
            break;
        case 't':
            f.token = optarg;
            break;
        case 'n':
            f.n = atoi(optarg);
            break;
        case 'w':
            ws_pct = atoi(optarg);
            break;
        case 'r':
            f.ready_file = optarg;
            break;
        default:
            fprintf(stderr, "usage: feed_clients -p port -t token [-n clients]"
                            " [-w ws_pct] [-r ready_file]\n");
            return 2;
        }
    }
    if (f.port <= 0 || f.token == NULL || f.n <= 0)
        return 2;
    f.base = event_base_new();
    f.c = calloc((size_t)f.n, sizeof(*f.c));
    if (f.base == NULL || f.c == NULL)
        return 1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x7f000001);
    sin.sin_port = htons((uint16_t)f.port);
    for (int i = 0; i < f.n; i++) {
        struct client *c = &f.c[i];
        c->f = &f;
        /* Spread the WebSocket share evenly over the clients. */
        c->kind = (i * ws_pct / 100 != (i + 1) * ws_pct / 100) ? WS : SSE;
        n_ws += c->kind == WS;
        c->body = evbuffer_new();
        c->ev_id = -1;
        c->bev = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin,
                                       sizeof(sin)) != 0) {
            fprintf(stderr, "feed_clients: connect: %s\n", strerror(errno));
            return 1;
        }
    }
    s1 = evsignal_new(f.base, SIGTERM, on_signal, f.base);
    s2 = evsignal_new(f.base, SIGINT, on_signal, f.base);
    evsignal_add(s1, NULL);
    evsignal_add(s2, NULL);
    event_base_dispatch(f.base);
    for (int i = 0; i < f.n; i++) {
        struct client *c = &f.c[i];
        if (c->last > max_last)
            max_last = c->last;
    }
    for (int i = 0; i < f.n; i++) {
        struct client *c = &f.c[i];
        hello += c->hello;
        dropped += c->told_drop;
        gaps += c->gaps > 0;
        /* Gone without being told: the server hung up on a client that
         * was neither dropped nor closed with 4001. */
        lost += c->gone && !c->told_drop;
        msgs += c->msgs;
        holes += c->holes;
        at_max += c->last == max_last && c->holes == 0;
        if (min_last < 0 || c->last < min_last)
            min_last = c->last;
        if (c->bev)
            bufferevent_free(c->bev);
        evbuffer_free(c->body);
        free(c->ev_data);
    }
    printf("clients=%d sse=%d ws=%d hello=%d complete=%d told_dropped=%d "
           "told_gap=%d untold_holes=%lld lost=%d changes_received=%lld "
           "min_last=%lld max_last=%lld\n",
           f.n, f.n - n_ws, n_ws, hello, at_max, dropped, gaps, holes, lost,
           msgs, min_last, max_last);
    event_free(s1);
    event_free(s2);
    free(f.c);
    event_base_free(f.base);
    return 0;
}
