/*
 * Who is asking and may they: bearer tokens (tokens.c) mapped to roles,
 * and a token bucket per identity so one client cannot monopolise the
 * control thread. The tokens file is re-read when its mtime changes, so
 * `sentineld token create|revoke` take effect without a reload.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http_int.h"

const char *
sn_role_name(enum sn_role r)
{
    switch (r) {
    case SN_ROLE_NONE:
        return "public";
    case SN_ROLE_VIEWER:
        return "viewer";
    case SN_ROLE_OPERATOR:
        return "operator";
    case SN_ROLE_ADMIN:
        return "admin";
    }
    return "?";
}

int
sn_role_parse(const char *s)
{
    if (strcmp(s, "viewer") == 0)
        return SN_ROLE_VIEWER;
    if (strcmp(s, "operator") == 0)
        return SN_ROLE_OPERATOR;
    if (strcmp(s, "admin") == 0)
        return SN_ROLE_ADMIN;
    return -1;
}

bool
sn_auth_refresh(struct sn_http *h)
{
    struct stat st;
    int64_t m = 0;
    struct sn_tokens *t;
    struct sn_error err;

    if (stat(h->tokens_path, &st) == 0)
        m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec +
            (int64_t)st.st_size;
    if (h->tokens != NULL && m == h->tokens_mtime_ns)
        return false;
    sn_error_clear(&err);
    if (sn_tokens_load(h->tokens_path, &t, &err) != SN_OK) {
        /* Keep the previous set: a typo must not lock everyone out. */
        sn_log_error("http: tokens: %s", err.msg);
        return false;
    }
    sn_tokens_free(h->tokens);
    h->tokens = t;
    h->tokens_mtime_ns = m;
    sn_log_info("http: %zu API token(s) loaded from %s", t->n, h->tokens_path);
    return true;
}

bool
sn_auth_token_valid(struct sn_http *h, const char *name,
                    const unsigned char hash[32])
{
    for (size_t i = 0; h->tokens != NULL && i < h->tokens->n; i++) {
        const struct sn_token *t = &h->tokens->items[i];
        if (strcmp(t->name, name) == 0 && memcmp(t->hash, hash, 32) == 0)
            return true;
    }
    return false;
}

/* True when the identity may make one more request now. */
static bool
take(struct sn_http *h, const char *key)
{
    struct sn_bucket *b = NULL, *oldest = &h->buckets[0];
    double rate = (double)h->conf.rate_limit, burst = 2 * rate;
    int64_t now = sn_clock_mono_ns();

    for (size_t i = 0; i < SN_HTTP_BUCKETS; i++) {
        struct sn_bucket *c = &h->buckets[i];
        if (strcmp(c->key, key) == 0) {
            b = c;
            break;
        }
        if (c->last_ns < oldest->last_ns)
            oldest = c;
    }
    if (b == NULL) {
        /* The least recently seen identity gives up its slot; a fresh
         * bucket is full, so eviction can only be generous. */
        b = oldest;
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->tokens = burst;
        b->last_ns = now;
    }
    b->tokens =
        fmin(burst, b->tokens + (double)(now - b->last_ns) / 1e9 * rate);
    b->last_ns = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static const char *
bearer(struct sn_req *rq)
{
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(rq->r),
                                       "Authorization");

    if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7;
    /* Browsers cannot set headers on EventSource or WebSocket: the live
     * feed alone also takes the token from the query. */
    if (strcmp(rq->path, "/api/v1/stream") == 0 ||
        strcmp(rq->path, "/api/v1/ws") == 0)
        return sn_req_query(rq, "access_token");
    return NULL;
}

bool
sn_auth_check(struct sn_req *rq, enum sn_role need)
{
    struct sn_http *h = rq->h;
    const char *secret;
    const struct sn_token *tok = NULL;
    char key[80];

    if (need == SN_ROLE_NONE) {
        strcpy(rq->actor, "anonymous");
        return true;
    }
    if (!h->conf.auth) {
        rq->role = SN_ROLE_ADMIN;
        strcpy(rq->actor, "anonymous");
    } else {
        sn_auth_refresh(h);
        secret = bearer(rq);
        if (secret != NULL)
            tok = sn_tokens_find(h->tokens, secret, strlen(secret));
        if (tok == NULL) {
            sn_counter_add(h->c_auth_failed, 1);
            evhttp_add_header(evhttp_request_get_output_headers(rq->r),
                              "WWW-Authenticate", "Bearer");
            sn_reply_error(rq, 401, "unauthorized",
                           secret ? "unknown or revoked token"
                                  : "this route needs a bearer token");
            return false;
        }
        rq->role = (enum sn_role)sn_role_parse(tok->role);
        snprintf(rq->actor, sizeof(rq->actor), "%s", tok->name);
        memcpy(rq->tok_hash, tok->hash, sizeof(rq->tok_hash));
        rq->has_tok = true;
    }
    if (h->conf.auth)
        snprintf(key, sizeof(key), "%s", rq->actor);
    else {
        const char *addr = "?";
        ev_uint16_t port;
        evhttp_connection_get_peer(evhttp_request_get_connection(rq->r),
                                   (char **)&addr, &port);
        snprintf(key, sizeof(key), "peer:%s", addr);
    }
    snprintf(rq->ident, sizeof(rq->ident), "%s", key);
    if (!take(h, key)) {
        sn_counter_add(h->c_rate_limited, 1);
        evhttp_add_header(evhttp_request_get_output_headers(rq->r),
                          "Retry-After", "1");
        sn_reply_error(rq, 429, "rate_limited",
                       "more than %lld requests per second for %s",
                       (long long)h->conf.rate_limit, rq->actor);
        return false;
    }
    if (rq->role < need) {
        char target[600], why[128];
        snprintf(target, sizeof(target), "%s %s", rq->method, rq->path);
        snprintf(why, sizeof(why), "needs role %s; the token has role %s",
                 sn_role_name(need), sn_role_name(rq->role));
        sn_reply_error(rq, 403, "forbidden",
                       "%s %s needs role %s; %s has role %s", rq->method,
                       rq->path, sn_role_name(need), rq->actor,
                       sn_role_name(rq->role));
        sn_http_audit(rq, "request", target, "denied", why);
        return false;
    }
    return true;
}
