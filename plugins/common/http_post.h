/*
 * A small HTTP POST client for notification outputs (out_webhook,
 * out_alertmanager): a set of requests performed concurrently with
 * libcurl's multi interface on the calling thread (the output's relay
 * thread), over connections kept between calls. TLS is verified against
 * the system store or a configured CA file; every request is bounded by a
 * connect and a total timeout. libcurl types stay in http_post.c.
 */
#ifndef SN_PLUGINS_COMMON_HTTP_POST_H
#define SN_PLUGINS_COMMON_HTTP_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

struct hp_conf {
    const char *ca;  /* CA file for TLS; NULL: system store */
    bool tls_verify; /* false only for tests and lab setups */
    int64_t connect_timeout_ms;
    int64_t timeout_ms; /* whole request */
    long max_parallel;  /* connections at once */
};

/* The options every POSTing output takes, a member of its config struct
 * filled by HP_OPTIONS entries in its option table. */
struct hp_options {
    const char *ca;
    bool tls_verify;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
};

/* The option table entries of struct hp_options member `m` of config
 * struct `type`; peer names the receiver in the help ("Alertmanager's"). */
#define HP_OPTIONS(type, m, peer)                                              \
    { "ca", SN_OPT_STRING, NULL, offsetof(type, m.ca),                          \
      "CA file that verifies " peer " certificate; unset: the system's store", \
      0, 0, NULL, false },                                                     \
    { "tls_verify", SN_OPT_BOOL, "true", offsetof(type, m.tls_verify),         \
      "verify " peer " certificate and name (false only in a lab)", 0, 0,      \
      NULL, false },                                                           \
    { "connect_timeout", SN_OPT_DURATION, "5s",                                \
      offsetof(type, m.connect_timeout_ms), "how long a connection may take",  \
      100, 120000, NULL, false },                                              \
    { "timeout", SN_OPT_DURATION, "10s", offsetof(type, m.timeout_ms),         \
      "how long a whole request may take before it is retried", 100, 600000,   \
      NULL, false }

/* The client settings of options o, with max_parallel connections. */
static inline struct hp_conf
hp_conf_from(const struct hp_options *o, long max_parallel)
{
    struct hp_conf c = {
        .ca = o->ca,
        .tls_verify = o->tls_verify,
        .connect_timeout_ms = o->connect_timeout_ms,
        .timeout_ms = o->timeout_ms,
        .max_parallel = max_parallel,
    };

    return c;
}

/* One request: the caller fills url, body, len and headers ("Name: v",
 * NULL-terminated; read in place, valid until hp_perform returns);
 * hp_perform fills the rest. */
struct hp_req {
    const char *url;
    const char *body;
    size_t len;
    const char *const *headers;
    /* results */
    long status;    /* HTTP status; 0: no answer (err says why) */
    double seconds; /* time to the whole answer */
    char err[160];  /* transport error, or the start of a non-2xx body;
                     * "" after a 2xx */
};

struct hp_client;

/* SN_ECONFIG with a reason naming `what` unless url is http(s)://. */
enum sn_status hp_check_url(const char *url, const char *what, char *err,
                            size_t err_len);
/* "Name: value" lines from an output's `header.NAME: value` options,
 * NULL-terminated, into *out (free with hp_headers_free). SN_ECONFIG for a
 * name with ':' or blanks, or a value with a line break. */
enum sn_status hp_headers_new(const struct sn_kvlist *h, const char ***out,
                              char *err, size_t err_len);
void hp_headers_free(const char **headers);

/* Once per plugin init (control thread): libcurl's global state. */
void hp_global_init(void);

/* NULL only on ENOMEM. */
struct hp_client *hp_client_new(const struct hp_conf *c);
void hp_client_free(struct hp_client *cl);

/* Performs every request, concurrently (up to max_parallel connections),
 * and returns when each has an answer or failed. */
void hp_perform(struct hp_client *cl, struct hp_req *reqs, size_t n);

/* What a result means for delivery: 2xx delivered; 408, 425, 429, 5xx
 * and transport errors are worth retrying; any other status is a
 * permanent refusal of this body. */
enum hp_verdict { HP_OK, HP_RETRY, HP_REFUSED };
enum hp_verdict hp_verdict(const struct hp_req *r);

#endif
