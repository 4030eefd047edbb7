/*
 * out_webhook internals shared by its files: out_webhook.c (options, life
 * cycle), out_webhook_body.c (presets, templates, the HMAC signature),
 * out_webhook_event.c (what a version means: opened, escalated, ...; the
 * filter), out_webhook_send.c (deliver(): requests per incident in order).
 * docs/notifications.md.
 */
#ifndef SN_PLUGINS_OUT_WEBHOOK_H
#define SN_PLUGINS_OUT_WEBHOOK_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include <sentineld/plugin.h>

#include "../common/http_post.h"

struct ow_conf {
    const char *url;
    int preset;
    const char *template_text;
    const char *secret;
    struct hp_options http;
    int64_t parallel;
    const char *console_url;
    int min_severity;
    struct sn_strlist rules;
    struct sn_strlist on;
    struct sn_kvlist header;
    struct sn_kvlist var;
};

/* What an incident version means to a notification channel. */
enum ow_event {
    OW_EV_OPENED = 0,
    OW_EV_UPDATED,
    OW_EV_ESCALATED,
    OW_EV_ACKNOWLEDGED,
    OW_EV_RESOLVED,
    OW_EV_SUPPRESSED,
    OW_EV_REOPENED,
    OW_EV_COUNT_
};
extern const char *const ow_event_names[OW_EV_COUNT_];

/* Severity rank 0 (info) .. 4 (critical); -1 when unknown. */
int ow_severity_rank(const char *s, size_t len);

/* The last version seen per incident (a bounded cache: an evicted or
 * never-seen incident is judged from its document alone). */
struct ow_seen;
struct ow_seen *ow_seen_new(void);
void ow_seen_free(struct ow_seen *sn);
/* What d means, into *ev; doc is its parsed JSON, or NULL when the
 * caller has no tree (the few members needed are then read from the
 * text). The same version asked again (a retry) gets the same answer.
 * False: d's text is not JSON. */
bool ow_classify(struct ow_seen *sn, const struct sn_doc *d,
                 struct json_object *doc, enum ow_event *ev);

/* A body template: a preset's or the configured one, compiled. */
struct ow_body;
/* preset: index into ow_preset_names; template_text overrides its body.
 * Errors (bad JSON, an unknown placeholder) go to err. */
struct ow_body *ow_body_new(int preset, const char *template_text,
                            const struct sn_kvlist *vars,
                            const char *console_url, char *err, size_t err_len);
void ow_body_free(struct ow_body *b);
/* Whether rendering reads the parsed document (a template); false for
 * the incident preset, whose body is the document's text as it is. */
bool ow_body_uses_doc(const struct ow_body *b);
/* Renders the body and the URL suffix for doc (malloc'd, NUL-terminated;
 * the suffix may be ""); false on ENOMEM. */
bool ow_body_render(const struct ow_body *b, const struct sn_doc *d,
                    struct json_object *doc, enum ow_event ev, char **body,
                    size_t *len, char **suffix);

/* HMAC-SHA256 keyed once with a secret. NULL on ENOMEM (or OpenSSL's
 * refusal). */
struct ow_signer;
struct ow_signer *ow_signer_new(const char *secret);
void ow_signer_free(struct ow_signer *sg);
/* "sha256=<hex>" of HMAC-SHA256(secret, body) into out (>= 72 bytes);
 * false when OpenSSL fails (memory). */
bool ow_sign(struct ow_signer *sg, const char *body, size_t len, char *out,
             size_t out_len);

struct ow_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    const struct ow_conf *c;
    struct hp_client *http;
    struct ow_body *body;
    struct ow_seen *seen;
    struct ow_signer *signer; /* NULL: unsigned */
    const char **headers;     /* "Name: value" per header.NAME, then NULL */
    uint32_t on_mask;         /* 1 << enum ow_event */
    /* Versions (outbox seq) sent during a call that did not finish: a
     * retry of the same range skips them, so a receiver sees each
     * version once per retry cycle, in order per incident. */
    int64_t *done;
    size_t n_done, cap_done;
    struct sn_counter *c_sent, *c_failed, *c_retries, *c_filtered,
        *c_latency_ms, *g_latency_ms;
};

enum sn_out_result ow_deliver(void *state, const struct sn_doc *docs, size_t n,
                              uint64_t token, char *why, size_t why_len);

#endif
