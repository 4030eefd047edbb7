/*
 * out_kafka: events and incidents to messages, delivery reports to the
 * core's acknowledgements. Each write()/deliver() call gets one pending
 * record counting its messages without a report (+1 guard held while the
 * call still produces); the report that brings it to zero acknowledges the
 * token with the worst result seen: a retriable error (broker down,
 * timeout) is a RETRY, a permanent one (message too large, authorisation)
 * a FAIL. A full producer queue is waited out, never dropped.
 */
#include "out_kafka.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return true;
    default:
        /* Unknown means retry: a RETRY costs a duplicate at worst, a
         * wrong FAIL would lose the batch. */
        return false;
    }
}

static void
note_result(struct ok_pending *p, enum sn_out_result r, const char *reason)
{
    int cur = atomic_load(&p->result);

    while ((int)r > cur &&
           !atomic_compare_exchange_weak(&p->result, &cur, (int)r))
        ;
    if (reason != NULL && !atomic_exchange(&p->has_reason, true))
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
}

/* Drop one outstanding message; the last one acknowledges. Returns true
 * when it did. */
static bool
release(struct ok_pending *p)
{
    struct ok_state *s = p->s;

    if (atomic_fetch_sub(&p->outstanding, 1) != 1)
        return false;
    s->ctx.host->output_ack(s->ctx.inst, p->token,
                            (enum sn_out_result)atomic_load(&p->result),
                            atomic_load(&p->has_reason) ? p->reason : NULL);
    free(p);
    return true;
}

void
ok_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct ok_state *s = opaque;
    struct ok_pending *p = m->_private;

    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        s->ctx.host->counter_add(s->c_produced, 1);
    } else {
        char why[200];

        s->ctx.host->counter_add(s->c_errors, 1);
        snprintf(why, sizeof(why), "delivery to %s [%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition,
                 rd_kafka_err2str(m->err));
        note_result(p, is_permanent(m->err) ? SN_OUT_FAIL : SN_OUT_RETRY,
                    why);
    }
    if (p != NULL)
        release(p);
}

static struct ok_pending *
pending_new(struct ok_state *s, uint64_t token)
{
    struct ok_pending *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->s = s;
    p->token = token;
    atomic_store(&p->outstanding, 1); /* the guard */
    atomic_store(&p->result, SN_OUT_OK);
    return p;
}

/*
 * Produce one message, waiting while the producer queue is full (the poll
 * thread frees room as reports arrive). Returns the error that stopped it;
 * QUEUE_FULL only when it stayed full for the whole message timeout.
 */
static rd_kafka_resp_err_t
produce(struct ok_state *s, rd_kafka_topic_t *t, struct ok_pending *p,
        const void *val, size_t len, const void *key, size_t key_len,
        rd_kafka_headers_t *hdrs)
{
    int64_t deadline = 0;
    bool counted = false;

    atomic_fetch_add(&p->outstanding, 1);
    for (;;) {
        rd_kafka_resp_err_t e;

        if (hdrs != NULL) {
            /* produceva, not producev: the varargs macros use GNU
             * statement expressions, which -std=c11 builds refuse. */
            rd_kafka_vu_t vu[6];
            rd_kafka_error_t *err;

            vu[0].vtype = RD_KAFKA_VTYPE_RKT;
            vu[0].u.rkt = t;
            vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
            vu[1].u.i = RD_KAFKA_MSG_F_COPY;
            vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
            vu[2].u.mem.ptr = (void *)val;
            vu[2].u.mem.size = len;
            vu[3].vtype = RD_KAFKA_VTYPE_KEY;
            vu[3].u.mem.ptr = (void *)key;
            vu[3].u.mem.size = key_len;
            vu[4].vtype = RD_KAFKA_VTYPE_HEADERS;
            vu[4].u.headers = hdrs;
            vu[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
            vu[5].u.ptr = p;
            err = rd_kafka_produceva(s->rk, vu, 6);
            e = err == NULL ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(err);
            if (err != NULL)
                rd_kafka_error_destroy(err);
        }
        else
            e = rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                 (void *)val, len, key, key_len, p) == 0
                    ? RD_KAFKA_RESP_ERR_NO_ERROR
                    : rd_kafka_last_error();
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return e;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            atomic_fetch_sub(&p->outstanding, 1); /* no report will come */
            return e;
        }
        if (!counted) {
            s->ctx.host->counter_add(s->c_queue_full, 1);
            counted = true;
            deadline = mono_ms() + s->c->message_timeout_ms;
        } else if (mono_ms() > deadline) {
            atomic_fetch_sub(&p->outstanding, 1);
            return e;
        }
        sleep_ms(5);
    }
}

/* The event's key as text into out (size cap); false: no key. */
static bool
event_key(struct ok_state *s, const struct sn_event *ev, char *out,
          size_t cap, struct sn_str *key)
{
    const struct sn_host *h = s->ctx.host;
    struct sn_value v;

    if (s->key_kind == OK_KEY_HEADER) {
        *key = h->event_get(ev, s->key_header);
        return h->event_has(ev, s->key_header);
    }
    if (!h->event_field(ev, s->key_name, &v)) {
        if (s->key_name.len == 4 && memcmp(s->key_name.ptr, "peer", 4) == 0 &&
            h->event_record(ev)->peer != NULL) {
            key->ptr = h->event_record(ev)->peer;
            key->len = strlen(key->ptr);
            return true;
        }
        return false;
    }
    switch (v.type) {
    case SN_VAL_STR:
        *key = v.u.s;
        return true;
    case SN_VAL_INT:
        key->len = (size_t)snprintf(out, cap, "%lld", (long long)v.u.i);
        break;
    case SN_VAL_BOOL:
        key->len = (size_t)snprintf(out, cap, "%s", v.u.b ? "true" : "false");
        break;
    case SN_VAL_DOUBLE:
        key->len = (size_t)snprintf(out, cap, "%.17g", v.u.d);
        break;
    case SN_VAL_IP:
        if (inet_ntop(v.u.ip.family == 6 ? AF_INET6 : AF_INET, v.u.ip.addr,
                      out, (socklen_t)cap) == NULL)
            return false;
        key->len = strlen(out);
        break;
    case SN_VAL_TIME:
        key->len = (size_t)snprintf(out, cap, "%lld", (long long)v.u.time_ns);
        break;
    default:
        return false;
    }
    key->ptr = out;
    return true;
}

/* End of a call: drop the guard. When every report is already in, answer
 * directly; otherwise the last report acknowledges. */
static enum sn_out_result
finish(struct ok_pending *p, char *why, size_t why_len)
{
    enum sn_out_result r;

    if (atomic_fetch_sub(&p->outstanding, 1) != 1)
        return SN_OUT_PENDING;
    r = (enum sn_out_result)atomic_load(&p->result);
    if (atomic_load(&p->has_reason))
        snprintf(why, why_len, "%s", p->reason);
    free(p);
    return r;
}

enum sn_out_result
ok_write(void *state, struct sn_batch *b, uint64_t token, char *why,
         size_t why_len)
{
    struct ok_state *s = state;
    const struct sn_host *h = s->ctx.host;
    size_t n = h->batch_len(b);
    struct ok_pending *p = pending_new(s, token);
    uint64_t nokey = 0;

    if (p == NULL) {
        snprintf(why, why_len, "out of memory");
        return SN_OUT_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sn_event *ev = h->batch_event(b, i);
        struct sn_str json, key = { NULL, 0 };
        char keybuf[64];
        rd_kafka_resp_err_t e;

        h->buf_reset(s->scratch);
        if (h->event_to_json(ev, s->scratch) != SN_OK) {
            h->counter_add(s->c_errors, 1);
            note_result(p, SN_OUT_FAIL, "event too large to serialise");
            continue;
        }
        json = h->buf_str(s->scratch);
        if (s->key_kind != OK_KEY_NONE &&
            !event_key(s, ev, keybuf, sizeof(keybuf), &key)) {
            key.ptr = NULL;
            key.len = 0;
            nokey++;
        }
        e = produce(s, s->t_events, p, json.ptr, json.len, key.ptr, key.len,
                    NULL);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char reason[200];

            h->counter_add(s->c_errors, 1);
            snprintf(reason, sizeof(reason), "produce to %s: %s",
                     rd_kafka_topic_name(s->t_events), rd_kafka_err2str(e));
            note_result(p, is_permanent(e) ? SN_OUT_FAIL : SN_OUT_RETRY,
                        reason);
            if (!is_permanent(e))
                break; /* the whole batch comes again */
        }
    }
    if (nokey > 0)
        h->counter_add(s->c_nokey, nokey);
    return finish(p, why, why_len);
}

enum sn_out_result
ok_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
           char *why, size_t why_len)
{
    struct ok_state *s = state;
    struct ok_pending *p = pending_new(s, token);

    if (p == NULL) {
        snprintf(why, why_len, "out of memory");
        return SN_OUT_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sn_doc *d = &docs[i];
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(3);
        char version[24];
        rd_kafka_resp_err_t e;

        snprintf(version, sizeof(version), "%lld", (long long)d->version);
        rd_kafka_header_add(hdrs, "rule_id", 7, d->rule_id.ptr,
                            (ssize_t)d->rule_id.len);
        rd_kafka_header_add(hdrs, "severity", 8, d->severity.ptr,
                            (ssize_t)d->severity.len);
        rd_kafka_header_add(hdrs, "version", 7, version, -1);
        /* Keyed by incident id: every version of an incident lands on one
         * partition, in order, and compaction keeps the latest. */
        e = produce(s, s->t_incidents, p, d->json.ptr, d->json.len, d->id.ptr,
                    d->id.len, hdrs);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char reason[200];

            rd_kafka_headers_destroy(hdrs); /* not taken on failure */
            s->ctx.host->counter_add(s->c_errors, 1);
            snprintf(reason, sizeof(reason), "produce incident %.*s v%lld: %s",
                     (int)d->id.len, d->id.ptr, (long long)d->version,
                     rd_kafka_err2str(e));
            note_result(p, is_permanent(e) ? SN_OUT_FAIL : SN_OUT_RETRY,
                        reason);
            break; /* later versions must not overtake this one */
        }
    }
    return finish(p, why, why_len);
}
