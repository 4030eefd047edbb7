/*
 * in_syslog listeners: parse the `listen` URLs (init, so `sentineld check`
 * names a bad one) and create, configure and bind their sockets (start, so
 * "address in use" is reported with the URL before the pipeline runs).
 * Reading them is udp.c's and stream.c's business.
 */
/* _GNU_SOURCE: SO_RXQ_OVFL and SO_RCVBUFFORCE (Linux) are hidden by
 * strict POSIX. */
#define _GNU_SOURCE
#include "in_syslog.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Accept queue length: bursts of reconnecting forwarders (every rsyslog
 * in a fleet after a restart of ours) must not be refused by the kernel. */
#define LISTEN_BACKLOG 1024

const char *
is_proto_name(enum is_proto p)
{
    switch (p) {
    case IS_UDP:
        return "udp";
    case IS_TCP:
        return "tcp";
    case IS_TLS:
        return "tls";
    case IS_UNIX_DGRAM:
        return "unix";
    case IS_UNIX_STREAM:
        return "unix-stream";
    case IS_RELP:
        return "relp";
    case IS_RELP_TLS:
        return "relp+tls";
    }
    return "?";
}

static enum sn_status
bad_url(const char *url, const char *why, char *err, size_t err_len)
{
    snprintf(err, err_len,
             "listen URL \"%s\": %s (expected udp://HOST:PORT, "
             "tcp://HOST:PORT, tls://HOST:PORT, relp[+tls]://HOST:PORT, "
             "unix:///path or unix-stream:///path; IPv6 hosts in brackets: "
             "[::1]:514)",
             url, why);
    return SN_ECONFIG;
}

static enum sn_status
parse_inet(const char *url, const char *rest, struct is_listener *l, char *err,
           size_t err_len)
{
    char host[256];
    const char *colon, *port_s;
    size_t host_len;
    char *end;
    long port;
    struct addrinfo hints, *res = NULL;
    int gai;

    if (rest[0] == '[') {
        const char *rb = strchr(rest, ']');
        if (rb == NULL)
            return bad_url(url, "unclosed '[' around the IPv6 address", err,
                           err_len);
        host_len = (size_t)(rb - rest - 1);
        if (host_len == 0 || host_len >= sizeof(host))
            return bad_url(url, "bad IPv6 address", err, err_len);
        memcpy(host, rest + 1, host_len);
        host[host_len] = '\0';
        if (rb[1] != ':')
            return bad_url(url, "missing :PORT after the address", err,
                           err_len);
        port_s = rb + 2;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL)
            return bad_url(url, "missing :PORT", err, err_len);
        host_len = (size_t)(colon - rest);
        if (memchr(rest, ':', host_len) != NULL)
            return bad_url(url, "IPv6 addresses need brackets", err, err_len);
        if (host_len == 0 || host_len >= sizeof(host))
            return bad_url(url, "missing or too long host", err, err_len);
        memcpy(host, rest, host_len);
        host[host_len] = '\0';
        port_s = colon + 1;
    }
    errno = 0;
    port = strtol(port_s, &end, 10);
    /* Port 0 asks the kernel for a free port (tests); the bound address
     * is logged at start. */
    if (port_s[0] < '0' || port_s[0] > '9' || *end != '\0' || errno != 0 ||
        port < 0 || port > 65535)
        return bad_url(url, "PORT must be a number in 0..65535", err, err_len);
    if (strchr(host, '/') != NULL)
        return bad_url(url, "a path is not allowed after HOST:PORT", err,
                       err_len);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = l->proto == IS_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    /* "*" is every IPv4 address, like rsyslog's default; "[::]" every
     * address of both families (Linux bindv6only=0). */
    gai = getaddrinfo(strcmp(host, "*") == 0 ? "0.0.0.0" : host, port_s, &hints,
                      &res);
    if (gai != 0 || res == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve \"%s\": %s", host,
                 gai_strerror(gai));
        return bad_url(url, why, err, err_len);
    }
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return SN_OK;
}

enum sn_status
is_listen_parse(const char *url, struct is_listener *l, char *err,
                size_t err_len)
{
    static const struct {
        const char *scheme;
        enum is_proto proto;
    } schemes[] = {
        { "udp://", IS_UDP },
        { "tcp://", IS_TCP },
        { "tls://", IS_TLS },
        { "relp://", IS_RELP },
        { "relp+tls://", IS_RELP_TLS },
        { "unix://", IS_UNIX_DGRAM },
        { "unix-stream://", IS_UNIX_STREAM },
    };
    const char *rest = NULL;

    l->url = url;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].scheme);
        if (strncmp(url, schemes[i].scheme, n) == 0) {
            l->proto = schemes[i].proto;
            rest = url + n;
            break;
        }
    }
    if (rest == NULL)
        return bad_url(url, "unknown or missing scheme", err, err_len);
    if (l->proto == IS_UNIX_DGRAM || l->proto == IS_UNIX_STREAM) {
        struct sockaddr_un sun;

        if (rest[0] != '/')
            return bad_url(url, "the path must be absolute (unix:///path)", err,
                           err_len);
        if (strlen(rest) >= sizeof(sun.sun_path) ||
            strlen(rest) >= sizeof(l->path))
            return bad_url(url, "the path is too long for a unix socket", err,
                           err_len);
        snprintf(l->path, sizeof(l->path), "%s", rest);
        return SN_OK;
    }
    return parse_inet(url, rest, l, err, err_len);
}

static void
set_rcvbuf(struct is_state *s, struct is_listener *l)
{
    int want = (int)s->c->rcvbuf, got = 0;
    socklen_t len = sizeof(got);

    if (want <= 0)
        return;
    /* SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN),
     * as rsyslog's imudp does; otherwise the capped SO_RCVBUF. */
    if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) !=
            0 &&
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) != 0)
        return;
    if (getsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0)
        return;
    /* Linux doubles the value for bookkeeping: report what is usable. */
    if (got / 2 < want)
        s->host->log(s->inst, SN_LOG_WARN,
                     "%s: rcvbuf %d asked, the kernel gave %d; raise "
                     "net.core.rmem_max",
                     l->url, want, got / 2);
}

/* Remove a stale socket left by a crash, but never anything else. */
static enum sn_status
unlink_stale(struct is_listener *l, char *err, size_t err_len)
{
    struct stat st;

    if (lstat(l->path, &st) != 0)
        return SN_OK;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len, "cannot bind %s: %s exists and is not a socket",
                 l->url, l->path);
        return SN_EIO;
    }
    unlink(l->path);
    return SN_OK;
}

enum sn_status
is_listen_bind(struct is_state *s, struct is_listener *l, char *err,
               size_t err_len)
{
    bool is_unix = l->proto == IS_UNIX_DGRAM || l->proto == IS_UNIX_STREAM;
    bool is_dgram = l->proto == IS_UDP || l->proto == IS_UNIX_DGRAM;
    int type =
        (is_dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int one = 1;

    if (is_unix) {
        struct sockaddr_un sun;

        if (unlink_stale(l, err, err_len) != SN_OK)
            return SN_EIO;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, l->path, strlen(l->path) + 1);
        l->fd = socket(AF_UNIX, type, 0);
        if (l->fd < 0)
            goto fail;
        set_rcvbuf(s, l);
        if (bind(l->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
            goto fail;
        l->owns_path = true;
        /* Like /dev/log: every local program may write to it. */
        if (chmod(l->path, 0666) != 0)
            goto fail;
        snprintf(l->bound, sizeof(l->bound), "%s://%s", is_proto_name(l->proto),
                 l->path);
    } else {
        struct sockaddr_storage ss;
        socklen_t ss_len = sizeof(ss);
        char addr[INET6_ADDRSTRLEN + 16];

        l->fd = socket(l->addr.ss_family, type, 0);
        if (l->fd < 0)
            goto fail;
        /* Restart and reload rebind at once despite TIME_WAIT. */
        if (!is_dgram)
            setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        set_rcvbuf(s, l);
        if (bind(l->fd, (struct sockaddr *)&l->addr, l->addr_len) != 0)
            goto fail;
        if (getsockname(l->fd, (struct sockaddr *)&ss, &ss_len) == 0)
            is_format_peer((struct sockaddr *)&ss, ss_len, addr, sizeof(addr));
        else
            snprintf(addr, sizeof(addr), "?");
        snprintf(l->bound, sizeof(l->bound), "%s://%s", is_proto_name(l->proto),
                 addr);
    }
    if (is_dgram) {
        /* Kernel drops (receive buffer full) arrive as ancillary data;
         * not every kernel or family supports it, which is no error. */
        setsockopt(l->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    } else if (listen(l->fd, LISTEN_BACKLOG) != 0) {
        goto fail;
    }
    return SN_OK;
fail:
    snprintf(err, err_len, "cannot bind %s: %s", l->url, strerror(errno));
    is_listen_close(l);
    return SN_EIO;
}

void
is_listen_close(struct is_listener *l)
{
    if (l->fd < 0)
        return;
    close(l->fd);
    l->fd = -1;
    if (l->owns_path)
        unlink(l->path);
    l->owns_path = false;
}
