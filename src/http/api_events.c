/*
 * POST /api/v1/events: JSON events (one object, or an array of objects)
 * pushed into the pipeline through the in_http input instance, so they
 * take its parser chain (json by default) and counters like any input.
 * The control thread never waits for the pipeline: the emitter drops
 * when the pool is full and the client is told (503, how many were
 * taken). Each request is flushed as its own batch.
 */
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "http/http_int.h"
#include "pipeline/emitter.h"
#include "pipeline/pipeline.h"

/* More than this per request is a client bug or an attack; batch
 * producers send several requests. */
#define EVENTS_PER_REQUEST_MAX 10000
/* Deeper nesting than this is no event we map into fields. */
#define JSON_DEPTH_MAX 32

void
sn_http_events_fini(struct sn_http *h)
{
    /* Flushed after every request, so this never submits a batch to a
     * pipeline that may be gone. */
    sn_emitter_free(h->em);
    h->em = NULL;
    h->em_pipeline = NULL;
}

static struct sn_instance *
http_input(struct sn_pipeline *pl)
{
    for (size_t i = 0; pl != NULL && i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_INPUT &&
            strcmp(pl->insts[i].conf->plugin, "in_http") == 0 &&
            pl->insts[i].started)
            return &pl->insts[i];
    return NULL;
}

static int64_t
wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
sn_api_events_post(struct sn_req *rq)
{
    struct sn_http *h = rq->h;
    struct sn_pipeline *pl = *h->env.pl;
    struct sn_instance *in = http_input(pl);
    struct sn_buf body, out;
    struct json_tokener *tok;
    struct json_object *root;
    size_t n, taken = 0;
    char peer[80];
    int64_t now = wall_ns();

    if (in == NULL) {
        sn_reply_error(rq, 409, "no_http_input",
                       "no input with plugin in_http is configured; add "
                       "one under inputs to accept posted events");
        return;
    }
    sn_buf_init(&body, h->conf.max_body + 1);
    if (sn_req_body(rq, &body) != SN_OK) {
        sn_buf_fini(&body);
        sn_counter_add(h->c_events_rejected, 1);
        sn_reply_error(rq, 413, "body_too_large",
                       "the body exceeds http.max_body (%llu bytes)",
                       (unsigned long long)h->conf.max_body);
        return;
    }
    tok = json_tokener_new_ex(JSON_DEPTH_MAX);
    root = tok ? json_tokener_parse_ex(tok, body.data ? body.data : "",
                                       (int)body.len)
               : NULL;
    if (root == NULL || json_tokener_get_parse_end(tok) != body.len) {
        size_t at = tok ? json_tokener_get_parse_end(tok) : 0;
        json_object_put(root);
        json_tokener_free(tok);
        sn_buf_fini(&body);
        sn_counter_add(h->c_events_rejected, 1);
        sn_reply_error(rq, 400, "bad_json",
                       "the body is not one JSON value (error near byte %zu)",
                       at);
        return;
    }
    json_tokener_free(tok);
    n = json_object_is_type(root, json_type_array)
            ? json_object_array_length(root)
            : 1;
    if (!json_object_is_type(root, json_type_array) &&
        !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        sn_buf_fini(&body);
        sn_counter_add(h->c_events_rejected, 1);
        sn_reply_error(rq, 400, "wrong_type",
                       "expected an event object or an array of them");
        return;
    }
    if (n > EVENTS_PER_REQUEST_MAX || n == 0) {
        json_object_put(root);
        sn_buf_fini(&body);
        sn_counter_add(h->c_events_rejected, 1);
        sn_reply_error(rq, n ? 413 : 400, n ? "too_many_events" : "empty",
                       "send 1 to %d events per request",
                       EVENTS_PER_REQUEST_MAX);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_is_type(root, json_type_array)
                                    ? json_object_array_get_idx(root, i)
                                    : root;
        if (!json_object_is_type(o, json_type_object)) {
            json_object_put(root);
            sn_buf_fini(&body);
            sn_counter_add(h->c_events_rejected, 1);
            sn_reply_error(rq, 400, "wrong_type",
                           "element %zu of the array is not an object", i);
            return;
        }
    }
    if (h->em == NULL || h->em_pipeline != pl) {
        sn_http_events_fini(h);
        h->em = sn_emitter_new(in, true);
        h->em_pipeline = pl;
        if (h->em == NULL) {
            json_object_put(root);
            sn_buf_fini(&body);
            sn_reply_error(rq, 500, "internal", "out of memory");
            return;
        }
    }
    snprintf(peer, sizeof(peer), "api:%s", rq->actor);
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_is_type(root, json_type_array)
                                    ? json_object_array_get_idx(root, i)
                                    : root;
        size_t len;
        const char *s =
            json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        struct sn_record rec = { .data = { s, len },
                                 .recv_ns = now,
                                 .input = in->name,
                                 .peer = peer,
                                 .transport = "http",
                                 .source_offset = -1,
                                 .source_part = -1 };
        if (sn_emitter_emit(h->em, &rec) != SN_OK)
            break;
        taken++;
    }
    sn_emitter_flush(h->em);
    json_object_put(root);
    sn_buf_fini(&body);
    sn_counter_add(h->c_events_in, taken);
    {
        char what[96];
        snprintf(what, sizeof(what), "%zu of %zu events accepted", taken, n);
        sn_http_audit(rq, "events.post", in->name, taken < n ? "failed" : "ok",
                      what);
    }
    if (taken < n) {
        sn_counter_add(h->c_events_rejected, n - taken);
        sn_reply_error(rq, 503, "pipeline_full",
                       "accepted %zu of %zu events; the pipeline is full or "
                       "an event is too large; retry the rest",
                       taken, n);
        return;
    }
    sn_buf_init(&out, 256);
    sn_buf_printf(&out, "{\"accepted\":%zu}\n", taken);
    sn_reply_json(rq, 202, &out);
    sn_buf_fini(&out);
}
