/*
 * HTTP POSTs through libcurl's multi interface; see http_post.h. Easy
 * handles are kept in a pool with their options set once, and connections
 * live in the multi handle's cache, so a steady stream of notifications
 * to one receiver reuses one TLS session instead of a handshake each.
 */
#include "http_post.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"

/* The start of an error answer kept for the log line. */
#define BODY_KEEP 120

/* Header lines every request has besides the caller's. */
static const char content_type[] = "Content-Type: application/json";
/* No "Expect: 100-continue" round trip for small bodies. */
static const char no_expect[] = "Expect:";

struct slot {
    CURL *easy;
    struct hp_req *r;
    /* The request's header list: nodes owned here, pointing at the
     * caller's lines (libcurl only reads the list while the request
     * runs), so a request costs no allocation and copy per header. */
    struct curl_slist *hdrs;
    size_t cap_hdrs;
    /* The URL parsed once (CURLOPT_CURLU), while requests go to it. */
    CURLU *uh;
    char *uh_url;
    size_t got;
    char body[BODY_KEEP];
    char errbuf[CURL_ERROR_SIZE];
};

/* The multi handle is driven by its sockets (curl_multi_socket_action):
 * libcurl names each socket it waits on and for what (on_socket), and
 * when it next needs a call (on_timer); one poll() waits on them all and
 * libcurl then runs only the transfers whose socket is ready, knowing
 * what it is ready for. curl_multi_perform instead ran every transfer
 * and each first polled its own socket (two poll() calls per request
 * besides the wait). */
struct hp_client {
    struct hp_conf c;
    CURLM *multi;
    struct slot *slots;
    size_t n_slots;
    struct pollfd *watch; /* the sockets libcurl waits on, and for what */
    struct pollfd *ready; /* those poll() found ready (cap_watch) */
    size_t n_watch, cap_watch;
    int64_t deadline_ms; /* when libcurl wants to be called; -1: never */
};

/* Longest wait in one poll(): a safety net should a timer be missed. */
#define WAIT_MAX_MS 100

static int64_t
mono_ms(void)
{
    return sn_clock_mono_ns() / SN_NS_PER_MS;
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sock_arg)
{
    struct hp_client *cl = arg;
    size_t i = 0;

    (void)easy;
    (void)sock_arg;
    while (i < cl->n_watch && cl->watch[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < cl->n_watch)
            cl->watch[i] = cl->watch[--cl->n_watch];
        return 0;
    }
    if (i == cl->n_watch) {
        if (cl->n_watch == cl->cap_watch) {
            size_t cap = cl->cap_watch ? cl->cap_watch * 2 : 8;
            struct pollfd *nw = realloc(cl->watch, cap * sizeof(*nw)), *nr;

            if (nw != NULL)
                cl->watch = nw;
            nr = nw != NULL ? realloc(cl->ready, cap * sizeof(*nr)) : NULL;
            if (nr == NULL)
                return -1; /* libcurl fails the transfer */
            cl->ready = nr;
            cl->cap_watch = cap;
        }
        cl->watch[cl->n_watch++].fd = fd;
    }
    cl->watch[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                                  ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

static int
on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct hp_client *cl = arg;

    (void)multi;
    cl->deadline_ms = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    return 0;
}

void
hp_global_init(void)
{
    /* Thread-safe in libcurl >= 7.84 and idempotent; never undone: a
     * cleanup while another instance still runs would break it. libcurl
     * (and its OpenSSL) stay loaded because the loader never unmaps a
     * plugin (RTLD_NODELETE, src/plugin/loader.c), and with it the
     * libraries it links. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct hp_client *
hp_client_new(const struct hp_conf *c)
{
    struct hp_client *cl = calloc(1, sizeof(*cl));

    if (cl == NULL)
        return NULL;
    cl->c = *c;
    cl->multi = curl_multi_init();
    if (cl->multi == NULL) {
        free(cl);
        return NULL;
    }
    curl_multi_setopt(cl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      c->max_parallel > 0 ? c->max_parallel : 8L);
    curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS,
                      c->max_parallel > 0 ? c->max_parallel : 8L);
    cl->deadline_ms = -1;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    return cl;
}

void
hp_client_free(struct hp_client *cl)
{
    if (cl == NULL)
        return;
    for (size_t i = 0; i < cl->n_slots; i++) {
        if (cl->slots[i].easy != NULL)
            curl_easy_cleanup(cl->slots[i].easy);
        free(cl->slots[i].hdrs);
        curl_url_cleanup(cl->slots[i].uh);
        free(cl->slots[i].uh_url);
    }
    free(cl->slots);
    curl_multi_cleanup(cl->multi);
    free(cl->watch);
    free(cl->ready);
    free(cl);
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct slot *s = arg;
    size_t len = size * nmemb, room = sizeof(s->body) - 1 - s->got;

    if (room > 0) {
        size_t k = len < room ? len : room;
        memcpy(s->body + s->got, p, k);
        s->got += k;
    }
    return len; /* the rest is read and dropped */
}

static bool
grow_slots(struct hp_client *cl, size_t n)
{
    struct slot *ns;

    if (n <= cl->n_slots)
        return true;
    ns = realloc(cl->slots, n * sizeof(*ns));
    if (ns == NULL)
        return false;
    memset(ns + cl->n_slots, 0, (n - cl->n_slots) * sizeof(*ns));
    cl->slots = ns;
    cl->n_slots = n;
    return true;
}

/* What every request of the client sets alike: once per easy handle,
 * which keeps its options between requests (no curl_easy_reset, whose
 * defaults would then be set again option by option, per request). */
static void
setup_once(struct hp_client *cl, struct slot *s)
{
    const struct hp_conf *c = &cl->c;

    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "sentineld");
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)c->connect_timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    /* Notifications go where they are configured to, never elsewhere. */
    curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
    curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
    if (c->ca != NULL)
        curl_easy_setopt(s->easy, CURLOPT_CAINFO, c->ca);
}

/* s->hdrs as Content-Type, r's lines, Expect:; false on ENOMEM. */
static bool
link_headers(struct slot *s, const struct hp_req *r)
{
    size_t n = 2, k = 0;

    for (const char *const *h = r->headers; h != NULL && *h != NULL; h++)
        n++;
    if (n > s->cap_hdrs) {
        struct curl_slist *nh = realloc(s->hdrs, n * sizeof(*nh));

        if (nh == NULL)
            return false;
        s->hdrs = nh;
        s->cap_hdrs = n;
    }
    /* curl_slist's data is not const; libcurl never writes through it. */
    s->hdrs[k++].data = (char *)content_type;
    for (const char *const *h = r->headers; h != NULL && *h != NULL; h++)
        s->hdrs[k++].data = (char *)*h;
    s->hdrs[k++].data = (char *)no_expect;
    for (size_t i = 0; i < n; i++)
        s->hdrs[i].next = i + 1 < n ? &s->hdrs[i + 1] : NULL;
    return true;
}

/* s->uh holds r's URL: parsed here once while the requests of the slot
 * go to one URL, instead of by libcurl per request (CURLOPT_URL). The
 * flags are those libcurl parses CURLOPT_URL with. False: ENOMEM, or a
 * URL libcurl refuses (r->err says why). */
static bool
parse_url(struct slot *s, struct hp_req *r)
{
    CURLUcode uc;

    if (s->uh_url != NULL && strcmp(s->uh_url, r->url) == 0)
        return true;
    free(s->uh_url);
    s->uh_url = NULL;
    if (s->uh == NULL && (s->uh = curl_url()) == NULL)
        return false;
    uc = curl_url_set(s->uh, CURLUPART_URL, r->url,
                      CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        snprintf(r->err, sizeof(r->err), "URL %.80s: %s", r->url,
                 curl_url_strerror(uc));
        return false;
    }
    return (s->uh_url = strdup(r->url)) != NULL;
}

static bool
setup(struct hp_client *cl, struct slot *s, struct hp_req *r)
{
    if (s->easy == NULL) {
        if ((s->easy = curl_easy_init()) == NULL)
            return false;
        setup_once(cl, s);
    }
    s->r = r;
    s->got = 0;
    s->errbuf[0] = '\0';
    if (!link_headers(s, r))
        return false;
    /* Per request: the slot may have moved (grow_slots). */
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    if (!parse_url(s, r))
        return false;
    curl_easy_setopt(s->easy, CURLOPT_CURLU, s->uh);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    return true;
}

static void
finish(struct slot *s, CURLcode rc)
{
    struct hp_req *r = s->r;

    r->status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME, &r->seconds);
    if (rc != CURLE_OK) {
        /* curl's message, cut to the room we have. */
        snprintf(r->err, sizeof(r->err), "%.150s",
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
        r->err[0] = '\0';
    }
    /* Only a refusal's answer is read: no formatting per 2xx. */
    if (rc == CURLE_OK && (r->status < 200 || r->status >= 300)) {
        s->body[s->got] = '\0';
        for (size_t i = 0; i < s->got; i++)
            if (s->body[i] == '\n' || s->body[i] == '\r')
                s->body[i] = ' ';
        snprintf(r->err, sizeof(r->err), "HTTP %ld%s%.100s", r->status,
                 s->got ? ": " : "", s->body);
    }
    s->r = NULL;
}

/* Tells libcurl which sockets are ready, and for what. */
static bool
act(struct hp_client *cl, const struct pollfd *ready, size_t n, int *running)
{
    for (size_t i = 0; i < n; i++) {
        int ev = 0;

        if (ready[i].revents & (POLLIN | POLLHUP))
            ev |= CURL_CSELECT_IN;
        if (ready[i].revents & POLLOUT)
            ev |= CURL_CSELECT_OUT;
        if (ready[i].revents & (POLLERR | POLLNVAL))
            ev |= CURL_CSELECT_ERR;
        if (curl_multi_socket_action(cl->multi, ready[i].fd, ev, running) !=
            CURLM_OK)
            return false;
    }
    return true;
}

/* One wait for the sockets libcurl named, or its timer, and the calls
 * that follow; false when libcurl fails as a whole. */
static bool
step(struct hp_client *cl, int *running)
{
    int64_t now = mono_ms(), wait = WAIT_MAX_MS;
    size_t n_ready = 0;
    int rc;

    if (cl->deadline_ms >= 0 && cl->deadline_ms - now < wait)
        wait = cl->deadline_ms > now ? cl->deadline_ms - now : 0;
    if (wait > 0) {
        rc = poll(cl->watch, (nfds_t)cl->n_watch, (int)wait);
        if (rc < 0 && errno != EINTR)
            return false;
        /* A copy: on_socket changes the list during the calls. */
        for (size_t i = 0; rc > 0 && i < cl->n_watch; i++)
            if (cl->watch[i].revents != 0)
                cl->ready[n_ready++] = cl->watch[i];
        if (!act(cl, cl->ready, n_ready, running))
            return false;
        if (rc != 0 && (cl->deadline_ms < 0 || mono_ms() < cl->deadline_ms))
            return true;
    }
    /* The timer is due (or the wait ran out: a missed timer costs at
     * most WAIT_MAX_MS). */
    return curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0,
                                    running) == CURLM_OK;
}

void
hp_perform(struct hp_client *cl, struct hp_req *reqs, size_t n)
{
    int running = 0;

    if (!grow_slots(cl, n)) {
        for (size_t i = 0; i < n; i++) {
            reqs[i].status = 0;
            snprintf(reqs[i].err, sizeof(reqs[i].err), "out of memory");
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &cl->slots[i];

        reqs[i].err[0] = '\0';
        if (!setup(cl, s, &reqs[i]) ||
            curl_multi_add_handle(cl->multi, s->easy) != CURLM_OK) {
            reqs[i].status = 0;
            if (reqs[i].err[0] == '\0')
                snprintf(reqs[i].err, sizeof(reqs[i].err),
                         "cannot set the request up");
            s->r = NULL;
        }
    }
    do {
        CURLMsg *m;
        int left;

        if (!step(cl, &running))
            break;
        while ((m = curl_multi_info_read(cl->multi, &left)) != NULL) {
            struct slot *s = NULL;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish(s, m->data.result);
            curl_multi_remove_handle(cl->multi, m->easy_handle);
        }
    } while (running > 0);
    /* Anything still attached failed inside libcurl: give it a reason. */
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &cl->slots[i];

        if (s->r != NULL) {
            curl_multi_remove_handle(cl->multi, s->easy);
            finish(s, CURLE_FAILED_INIT);
        }
    }
}

enum sn_status
hp_check_url(const char *url, const char *what, char *err, size_t err_len)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, err_len, "%s '%s' is not an http:// or https:// URL",
                 what, url);
        return SN_ECONFIG;
    }
    return SN_OK;
}

enum sn_status
hp_headers_new(const struct sn_kvlist *h, const char ***out, char *err,
               size_t err_len)
{
    const char **lines = calloc(h->n + 1, sizeof(char *));

    *out = lines;
    if (lines == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        size_t len = strlen(h->items[i].key) + strlen(h->items[i].value) + 3;
        char *line;

        /* A line break would smuggle in a header of the peer's choice. */
        if (strpbrk(h->items[i].key, ": \t\r\n") != NULL ||
            strpbrk(h->items[i].value, "\r\n") != NULL) {
            snprintf(err, err_len,
                     "header.%s: a header name has no ':' or blank and a "
                     "value no line break",
                     h->items[i].key);
            return SN_ECONFIG;
        }
        if ((line = malloc(len)) == NULL)
            return SN_ENOMEM;
        snprintf(line, len, "%s: %s", h->items[i].key, h->items[i].value);
        lines[i] = line;
    }
    return SN_OK;
}

void
hp_headers_free(const char **headers)
{
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        free((char *)headers[i]);
    free(headers);
}

enum hp_verdict
hp_verdict(const struct hp_req *r)
{
    if (r->status >= 200 && r->status < 300)
        return HP_OK;
    if (r->status == 0 || r->status == 408 || r->status == 425 ||
        r->status == 429 || r->status >= 500)
        return HP_RETRY;
    return HP_REFUSED;
}
