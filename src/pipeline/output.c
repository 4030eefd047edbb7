/*
 * Output threads: one per output instance, delivering batches in order.
 * The core owns retry: RETRY backs off exponentially (100 ms doubling to
 * 30 s, with jitter) and redelivers the same batch; FAIL counts the
 * events as dead-lettered with the reason; PENDING parks the batch until
 * the plugin calls host->output_ack (asynchronous delivery reports).
 */
#include "pipeline/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/backoff.h"
#include "core/limits.h"
#include "core/log.h"

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Sleep up to ms in small steps, returning early when the stop timed out. */
static void
backoff(struct sn_pipeline *pl, int64_t ms)
{
    while (ms > 0 && !atomic_load(&pl->aborting)) {
        int64_t step = ms < 50 ? ms : 50;
        sleep_ms(step);
        ms -= step;
    }
}

static void
log_fail(struct sn_instance *o, size_t n, const char *why)
{
    uint64_t suppressed = 0;

    if (sn_ratelimit_pass(&o->output.rl_fail, SN_LOG_RATE_MS, &suppressed))
        sn_log_error("output '%s': %zu events failed permanently: %s%s",
                     o->name, n, why,
                     suppressed ? " (more failures suppressed)" : "");
}

static bool
park(struct sn_instance *o, uint64_t token, struct sn_batch *b)
{
    bool ok = true;

    pthread_mutex_lock(&o->output.pending_lock);
    if (o->output.n_pending == o->output.cap_pending) {
        size_t cap = o->output.cap_pending ? o->output.cap_pending * 2 : 16;
        struct sn_pending *p = realloc(o->output.pending, cap * sizeof(*p));
        if (p == NULL)
            ok = false;
        else {
            o->output.pending = p;
            o->output.cap_pending = cap;
        }
    }
    if (ok) {
        o->output.pending[o->output.n_pending].token = token;
        o->output.pending[o->output.n_pending].b = b;
        o->output.n_pending++;
    }
    pthread_mutex_unlock(&o->output.pending_lock);
    return ok;
}

/* Take token's batch back out of the pending list; false when an
 * acknowledgement already took it. */
static bool
unpark(struct sn_instance *o, uint64_t token)
{
    bool found = false;

    pthread_mutex_lock(&o->output.pending_lock);
    for (size_t i = 0; i < o->output.n_pending; i++) {
        if (o->output.pending[i].token == token) {
            o->output.pending[i] = o->output.pending[--o->output.n_pending];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&o->output.pending_lock);
    return found;
}

void
sn_output_port_init(struct sn_instance *o)
{
    struct sn_outport *port = &o->output.port;

    port->name = o->name;
    port->deliver = o->p->deliver;
    port->state = o->state;
    port->c_out = o->c_out;
    port->c_retry = o->c_retry;
    port->c_failed = o->c_failed;
}

void
sn_output_ack(struct sn_instance *o, uint64_t token, enum sn_out_result result,
              const char *reason)
{
    struct sn_batch *b = NULL;

    if (o->output.takes_incidents) {
        /* Incident outputs are fed by their relay, which waits for this. */
        if (o->output.port.ack != NULL)
            o->output.port.ack(o->output.port.feeder, token, result, reason);
        return;
    }
    pthread_mutex_lock(&o->output.pending_lock);
    for (size_t i = 0; i < o->output.n_pending; i++) {
        if (o->output.pending[i].token == token) {
            b = o->output.pending[i].b;
            o->output.pending[i] = o->output.pending[--o->output.n_pending];
            break;
        }
    }
    pthread_mutex_unlock(&o->output.pending_lock);
    if (b == NULL)
        return;
    switch (result) {
    case SN_OUT_OK:
        sn_counter_add(o->c_out, b->n);
        sn_batch_unref(b);
        break;
    case SN_OUT_RETRY:
        sn_counter_add(o->c_retry, 1);
        sn_queue_push_front(&o->output.q, b);
        break;
    default:
        sn_counter_add(o->c_failed, b->n);
        log_fail(o, b->n, reason ? reason : "no reason given");
        sn_batch_unref(b);
        break;
    }
}

static void
deliver(struct sn_instance *o, struct sn_batch *b)
{
    struct sn_pipeline *pl = o->pl;
    struct sn_backoff bo;

    sn_backoff_init(&bo, SN_OUTPUT_BACKOFF_MIN_MS, SN_OUTPUT_BACKOFF_MAX_MS);
    for (;;) {
        char why[256] = "";
        uint64_t token = ++o->output.next_token;
        enum sn_out_result r;

        if (atomic_load(&pl->aborting)) {
            sn_counter_add(o->c_dropped, b->n);
            sn_batch_unref(b);
            return;
        }
        /* Parked before write(): a delivery report may acknowledge the
         * token on another thread before write() has even returned. */
        if (!park(o, token, b)) {
            r = SN_OUT_RETRY; /* no memory to park */
            snprintf(why, sizeof(why), "out of memory");
        } else {
            r = o->p->write(o->state, b, token, why, sizeof(why));
            if (r == SN_OUT_PENDING || !unpark(o, token))
                return; /* the acknowledgement owns the batch now */
        }
        switch (r) {
        case SN_OUT_OK:
            sn_counter_add(o->c_out, b->n);
            sn_batch_unref(b);
            return;
        case SN_OUT_FAIL:
            sn_counter_add(o->c_failed, b->n);
            log_fail(o, b->n, why[0] ? why : "no reason given");
            sn_batch_unref(b);
            return;
        case SN_OUT_RETRY:
        default:
            break;
        }
        sn_counter_add(o->c_retry, 1);
        if (sn_backoff_is_first(&bo))
            sn_log_warn("output '%s': delivery failed (%s); retrying with "
                        "backoff",
                        o->name, why[0] ? why : "transient");
        /* Jittered (core/backoff.h) so outputs that failed together do
         * not retry in lockstep. */
        backoff(pl, sn_backoff_next(&bo));
    }
}

void *
sn_output_main(void *arg)
{
    struct sn_instance *o = arg;
    struct sn_batch *b;

    while ((b = sn_queue_pop(&o->output.q)) != NULL)
        deliver(o, b);
    /* Wait for outstanding asynchronous acknowledgements. */
    while (!atomic_load(&o->pl->aborting)) {
        size_t n;

        /* An acknowledgement that asked for a retry re-queued its batch. */
        if (sn_queue_len(&o->output.q) > 0 &&
            (b = sn_queue_pop(&o->output.q)) != NULL) {
            deliver(o, b);
            continue;
        }
        pthread_mutex_lock(&o->output.pending_lock);
        n = o->output.n_pending;
        pthread_mutex_unlock(&o->output.pending_lock);
        if (n == 0)
            break;
        sleep_ms(10);
    }
    pthread_mutex_lock(&o->output.pending_lock);
    for (size_t i = 0; i < o->output.n_pending; i++) {
        sn_counter_add(o->c_dropped, o->output.pending[i].b->n);
        sn_batch_unref(o->output.pending[i].b);
    }
    o->output.n_pending = 0;
    pthread_mutex_unlock(&o->output.pending_lock);
    return NULL;
}
