/*
 * out_webhook's deliver(): one POST per incident version that passes the
 * filter, concurrent across incidents and in order within one (a
 * version is sent only once every earlier version of its incident in
 * the call got a 2xx). Any transient failure makes the call a retry; the
 * relay then hands the same versions again and the ones already sent are
 * skipped (ow_state.done), so a receiver that was down for a while gets
 * every version, in order per incident.
 */
#include "out_webhook.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Extra headers per request besides the configured ones. */
#define OWN_HEADERS 5

struct item {
    const struct sn_doc *d;
    const char *body, *url; /* what is sent: own_*, or borrowed */
    char *own_body, *own_url;
    size_t len;
    const char **headers;
    char hdr_buf[OWN_HEADERS][160];
    char err[160]; /* why it failed */
    enum { PENDING, SENT, SKIPPED, FAILED, REFUSED } state;
};

static bool
was_done(const struct ow_state *s, int64_t seq)
{
    for (size_t i = 0; i < s->n_done; i++)
        if (s->done[i] == seq)
            return true;
    return false;
}

static void
mark_done(struct ow_state *s, int64_t seq)
{
    if (s->n_done == s->cap_done) {
        size_t cap = s->cap_done ? s->cap_done * 2 : 64;
        int64_t *n = realloc(s->done, cap * sizeof(*n));

        if (n == NULL)
            return; /* only costs a duplicate on the retry */
        s->done = n;
        s->cap_done = cap;
    }
    s->done[s->n_done++] = seq;
}

/* The relay only moves forward: versions before this call are behind it. */
static void
prune_done(struct ow_state *s, int64_t first_seq)
{
    size_t k = 0;

    for (size_t i = 0; i < s->n_done; i++)
        if (s->done[i] >= first_seq)
            s->done[k++] = s->done[i];
    s->n_done = k;
}

static bool
passes(const struct ow_state *s, const struct sn_doc *d, enum ow_event ev)
{
    const struct ow_conf *c = s->c;
    char rule[256];

    if (!(s->on_mask & (1u << ev)))
        return false;
    if (ow_severity_rank(d->severity.ptr, d->severity.len) < c->min_severity)
        return false;
    if (c->rules.n == 0)
        return true;
    snprintf(rule, sizeof(rule), "%.*s", (int)d->rule_id.len, d->rule_id.ptr);
    for (size_t i = 0; i < c->rules.n; i++)
        if (fnmatch(c->rules.items[i], rule, 0) == 0)
            return true;
    return false;
}

/* Body, URL and headers of one version; false on ENOMEM. */
static bool
prepare(struct ow_state *s, struct item *it, struct json_object *doc,
        enum ow_event ev)
{
    const struct sn_doc *d = it->d;
    size_t n_conf = s->c->header.n, k = 0;
    char *suffix = NULL;

    if (!ow_body_uses_doc(s->body)) {
        /* The document as the store wrote it, to the URL as configured:
         * borrowed (the relay's batch outlives the call), not copied. */
        it->body = d->json.ptr;
        it->len = d->json.len;
        it->url = s->c->url;
    } else {
        if (!ow_body_render(s->body, d, doc, ev, &it->own_body, &it->len,
                            &suffix))
            goto fail;
        it->url = it->own_url = malloc(strlen(s->c->url) + strlen(suffix) + 1);
        if (it->own_url == NULL)
            goto fail;
        strcpy(it->own_url, s->c->url);
        strcat(it->own_url, suffix);
        free(suffix);
        suffix = NULL;
        it->body = it->own_body;
    }
    it->headers = calloc(n_conf + OWN_HEADERS + 1, sizeof(char *));
    if (it->headers == NULL)
        goto fail;
    for (size_t i = 0; i < n_conf; i++)
        it->headers[k++] = s->headers[i];
    snprintf(it->hdr_buf[0], sizeof(it->hdr_buf[0]), "X-Sentineld-Event: %s",
             ow_event_names[ev]);
    snprintf(it->hdr_buf[1], sizeof(it->hdr_buf[1]),
             "X-Sentineld-Incident: %.*s", (int)d->id.len, d->id.ptr);
    snprintf(it->hdr_buf[2], sizeof(it->hdr_buf[2]),
             "X-Sentineld-Version: %lld", (long long)d->version);
    /* Receivers deduplicate on this: a version may come again after a
     * crash (at-least-once). */
    snprintf(it->hdr_buf[3], sizeof(it->hdr_buf[3]),
             "X-Sentineld-Delivery: %.*s/%lld", (int)d->id.len, d->id.ptr,
             (long long)d->version);
    for (int i = 0; i < 4; i++)
        it->headers[k++] = it->hdr_buf[i];
    if (s->signer != NULL) {
        char sig[80];

        if (!ow_sign(s->signer, it->body, it->len, sig, sizeof(sig)))
            goto fail;
        snprintf(it->hdr_buf[4], sizeof(it->hdr_buf[4]),
                 "X-Sentineld-Signature: %s", sig);
        it->headers[k++] = it->hdr_buf[4];
    }
    return true;
fail:
    free(suffix);
    return false;
}

static void
item_fini(struct item *it)
{
    free(it->own_body);
    free(it->own_url);
    free(it->headers);
}

static bool
same_incident(const struct sn_doc *a, const struct sn_doc *b)
{
    return a->id.len == b->id.len &&
           memcmp(a->id.ptr, b->id.ptr, a->id.len) == 0;
}

/* Sends the next wave: for each incident, its earliest unsent version,
 * unless an earlier one failed in this call. Returns how many went. */
static size_t
send_wave(struct ow_state *s, struct item *items, size_t n, struct hp_req *reqs,
          size_t *which)
{
    size_t k = 0;
    uint64_t sent = 0, retries = 0, refused = 0, lat_sum = 0, lat_max = 0;

    for (size_t i = 0; i < n; i++) {
        bool blocked = false;

        if (items[i].state != PENDING)
            continue;
        for (size_t j = 0; j < i && !blocked; j++)
            blocked = (items[j].state == PENDING || items[j].state == FAILED ||
                       items[j].state == REFUSED) &&
                      same_incident(items[j].d, items[i].d);
        if (blocked)
            continue;
        memset(&reqs[k], 0, sizeof(reqs[k]));
        reqs[k].url = items[i].url;
        reqs[k].body = items[i].body;
        reqs[k].len = items[i].len;
        reqs[k].headers = items[i].headers;
        which[k++] = i;
    }
    if (k == 0)
        return 0;
    hp_perform(s->http, reqs, k);
    for (size_t j = 0; j < k; j++) {
        struct item *it = &items[which[j]];
        uint64_t ms = (uint64_t)(reqs[j].seconds * 1000.0);

        lat_sum += ms;
        if (ms > lat_max)
            lat_max = ms;
        switch (hp_verdict(&reqs[j])) {
        case HP_OK:
            it->state = SENT;
            mark_done(s, it->d->seq);
            sent++;
            break;
        case HP_RETRY:
            it->state = FAILED;
            memcpy(it->err, reqs[j].err, sizeof(it->err));
            retries++;
            break;
        case HP_REFUSED:
            it->state = REFUSED;
            memcpy(it->err, reqs[j].err, sizeof(it->err));
            refused++;
            break;
        }
    }
    s->host->counter_add(s->c_sent, sent);
    s->host->counter_add(s->c_retries, retries);
    s->host->counter_add(s->c_failed, refused);
    s->host->counter_add(s->c_latency_ms, lat_sum);
    s->host->gauge_set(s->g_latency_ms, lat_max);
    return k;
}

enum sn_out_result
ow_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
           char *why, size_t why_len)
{
    struct ow_state *s = state;
    struct item *items = calloc(n, sizeof(*items));
    struct hp_req *reqs = calloc(n, sizeof(*reqs));
    size_t *which = calloc(n, sizeof(*which));
    enum sn_out_result res = SN_OUT_OK;
    uint64_t filtered = 0;

    (void)token;
    if (items == NULL || reqs == NULL || which == NULL) {
        snprintf(why, why_len, "out of memory");
        res = SN_OUT_RETRY;
        goto out;
    }
    prune_done(s, docs[0].seq);
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        struct json_object *doc;
        enum ow_event ev;

        it->d = &docs[i];
        if (was_done(s, docs[i].seq)) {
            it->state = SKIPPED;
            continue;
        }
        /* The tree only for a template; the incident preset sends the
         * text as it is and classifying reads three members of it. */
        doc = ow_body_uses_doc(s->body) ? json_tokener_parse(docs[i].json.ptr)
                                        : NULL;
        if ((doc == NULL && ow_body_uses_doc(s->body)) ||
            !ow_classify(s->seen, &docs[i], doc, &ev)) {
            /* The store wrote it: not JSON means memory trouble here. */
            json_object_put(doc);
            snprintf(why, why_len, "cannot parse incident %.*s v%lld",
                     (int)docs[i].id.len, docs[i].id.ptr,
                     (long long)docs[i].version);
            res = SN_OUT_RETRY;
            goto out;
        }
        if (!passes(s, &docs[i], ev)) {
            it->state = SKIPPED;
            filtered++;
        } else if (!prepare(s, it, doc, ev)) {
            json_object_put(doc);
            snprintf(why, why_len, "out of memory");
            res = SN_OUT_RETRY;
            goto out;
        }
        json_object_put(doc);
    }
    s->host->counter_add(s->c_filtered, filtered);
    while (send_wave(s, items, n, reqs, which) > 0)
        ;
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &items[i];
        const char *err = it->err[0] ? it->err : NULL;

        if (it->state == FAILED && res != SN_OUT_RETRY) {
            snprintf(why, why_len, "POST %s (incident %.*s v%lld): %s", it->url,
                     (int)it->d->id.len, it->d->id.ptr,
                     (long long)it->d->version, err ? err : "failed");
            res = SN_OUT_RETRY;
        } else if ((it->state == REFUSED || it->state == PENDING) &&
                   res == SN_OUT_OK) {
            /* PENDING: blocked behind a refused version of its incident;
             * the relay splits the call and tries it alone. */
            snprintf(why, why_len, "POST %s (incident %.*s v%lld): %s", it->url,
                     (int)it->d->id.len, it->d->id.ptr,
                     (long long)it->d->version,
                     err ? err : "refused earlier version");
            res = SN_OUT_FAIL;
        }
    }
out:
    for (size_t i = 0; items != NULL && i < n; i++)
        item_fini(&items[i]);
    free(items);
    free(reqs);
    free(which);
    return res;
}
