/*
 * POST /api/v1/events: one JSON event object, or an array of them, each
 * emitted as one record (its compact JSON text) into the pipeline, so
 * posted events take this input's parser chain and counters. The control
 * thread never waits for the pipeline: the emitter drops when the pool is
 * full and the client is told (503, how many were taken). Each request
 * is flushed as its own batch.
 */
#include "in_http.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* More than this per request is a client bug or an attack; batch
 * producers send several requests. */
#define EVENTS_PER_REQUEST_MAX 10000
/* Deeper nesting than this is no event we map into fields. */
#define JSON_DEPTH_MAX 32

static int64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The body as one JSON object or array of objects, or NULL after an
 * error answer. */
static struct json_object *
parse_body(struct ih_state *s, struct sn_http_req *rq, size_t *n)
{
    const struct sn_host *h = s->host;
    struct sn_str body;
    struct json_tokener *tok;
    struct json_object *root;
    bool is_array;

    if (h->http_body(rq, &body) != SN_OK)
        return NULL; /* answered by the core */
    if (body.len > (size_t)INT32_MAX) {
        h->http_reply_error(rq, 413, "body_too_large", "the body is too large");
        return NULL;
    }
    tok = json_tokener_new_ex(JSON_DEPTH_MAX);
    root = tok ? json_tokener_parse_ex(tok, body.ptr, (int)body.len) : NULL;
    if (root == NULL || json_tokener_get_parse_end(tok) != body.len) {
        size_t at = tok ? json_tokener_get_parse_end(tok) : 0;
        json_object_put(root);
        json_tokener_free(tok);
        h->http_reply_error(
            rq, 400, "bad_json",
            "the body is not one JSON value (error near byte %zu)", at);
        return NULL;
    }
    json_tokener_free(tok);
    is_array = json_object_is_type(root, json_type_array);
    if (!is_array && !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        h->http_reply_error(rq, 400, "wrong_type",
                            "expected an event object or an array of them");
        return NULL;
    }
    *n = is_array ? json_object_array_length(root) : 1;
    if (*n > EVENTS_PER_REQUEST_MAX || *n == 0) {
        json_object_put(root);
        h->http_reply_error(
            rq, *n ? 413 : 400, *n ? "too_many_events" : "empty",
            "send 1 to %d events per request", EVENTS_PER_REQUEST_MAX);
        return NULL;
    }
    for (size_t i = 0; is_array && i < *n; i++)
        if (!json_object_is_type(json_object_array_get_idx(root, i),
                                 json_type_object)) {
            json_object_put(root);
            h->http_reply_error(rq, 400, "wrong_type",
                                "element %zu of the array is not an object", i);
            return NULL;
        }
    return root;
}

void
ih_post_events(void *state, struct sn_http_req *rq)
{
    struct ih_state *s = state;
    const struct sn_host *h = s->host;
    struct json_object *root;
    size_t n = 0, taken = 0;
    char peer[96], reply[64];
    int64_t now = wall_ns();
    bool stopping;
    int len;

    pthread_mutex_lock(&s->lock);
    stopping = s->stop;
    pthread_mutex_unlock(&s->lock);
    if (stopping) {
        h->http_reply_error(rq, 503, "stopping",
                            "the input is stopping; retry shortly");
        return;
    }
    root = parse_body(s, rq, &n);
    if (root == NULL) {
        h->counter_add(s->c_rejected, 1);
        return;
    }
    if (s->em == NULL)
        s->em = h->emitter_new(s->inst, true);
    if (s->em == NULL) {
        json_object_put(root);
        h->http_reply_error(rq, 500, "internal", "out of memory");
        return;
    }
    snprintf(peer, sizeof(peer), "api:%s", h->http_actor(rq));
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_is_type(root, json_type_array)
                                    ? json_object_array_get_idx(root, i)
                                    : root;
        size_t olen;
        const char *text =
            json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &olen);
        struct sn_record rec = { .data = { text, olen },
                                 .recv_ns = now,
                                 .peer = peer,
                                 .transport = "http",
                                 .source_offset = -1,
                                 .source_part = -1 };
        if (h->emit(s->em, &rec) != SN_OK)
            break;
        taken++;
    }
    h->flush(s->em);
    json_object_put(root);
    h->counter_add(s->c_events, taken);
    if (taken < n) {
        h->counter_add(s->c_rejected, n - taken);
        h->http_reply_error(rq, 503, "pipeline_full",
                            "accepted %zu of %zu events; the pipeline is "
                            "full or an event is too large; retry the rest",
                            taken, n);
        return;
    }
    len = snprintf(reply, sizeof(reply), "{\"accepted\":%zu}\n", taken);
    h->http_reply(rq, 202, "application/json", reply, (size_t)len);
}
