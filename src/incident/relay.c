/*
 * The outbox relay's thread; see relay.h. A batch is copied out of
 * SQLite into one buffer (the statement's memory does not survive the
 * next step) and handed to deliver() as an array of struct sn_doc.
 */
#include "incident/relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "incident/manager.h"
#include "incident/store.h"
#include "pipeline/outport.h"

#define POLL_MS 200
/* One batch of documents; a single bigger document still goes alone. */
#define BATCH_BYTES (64u * 1024 * 1024)

struct sn_relay {
    struct sn_outport *out; /* the output, as the pipeline shows it */
    struct sn_manager *m;
    struct sn_store *store;
    pthread_t thread;
    _Atomic bool stopping; /* drain what is committed, then exit */
    _Atomic bool aborting; /* exit now (drain deadline passed) */
    _Atomic bool exited;
    bool joined; /* sn_relay_stop done; sn_relay_free frees */
    /* Seq to reach when stopping: read by the relay's own thread when it
     * first sees stopping (its store connection is not shared). */
    _Atomic int64_t drain_until;
    bool drain_set;

    struct sn_doc docs[SN_RELAY_BATCH_MAX];
    int64_t at[SN_RELAY_BATCH_MAX];
    size_t n;
    struct sn_buf data;
    bool full; /* a row did not fit: the batch ends before it */
    bool notified_only; /* named by escalation steps (manager.h) */
    int64_t cursor;     /* delivered up to here */
    int64_t saved;      /* the cursor as last handed to the manager */
    int64_t written;    /* as last written by the relay itself */
    int64_t saved_at;   /* monotonic ns of the last save */
    uint64_t seen_gen;
    /* The outbox's last seq (sn_store_last_seq), for the backlog gauge
     * and to tell whether a read would find anything: as of commit
     * generation end_gen (taken with an outbox read that looked at a row,
     * or read alone), at monotonic end_ns. The manager's commits move the
     * generation; other connections' (the CLI, the HTTP API) do not, and
     * are found by the timed-out wait, which reads regardless. */
    int64_t end;
    uint64_t end_gen;
    int64_t end_ns;
    int64_t last; /* the last row the batch's read looked at */
    uint64_t next_token;

    pthread_mutex_t lock; /* the pending acknowledgement */
    pthread_cond_t cond;
    bool stopped; /* late acknowledgements are ignored */
    uint64_t pending_token;
    bool ack_ready;
    enum sn_out_result ack_result;
    char ack_reason[256];

    _Atomic(sn_relay_observer) observer;
    void *_Atomic observer_arg;

    struct sn_ratelimit rl;
    struct sn_counter *g_backlog, *c_delivered, *c_retries, *c_dead,
        *c_latency_ms, *g_latency_ms;
    struct sn_histogram h_latency;
};

/* Commit-to-acknowledgement buckets (ms). */
static const uint64_t latency_le[] = SN_LATENCY_LE_MS;

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Offsets while copying (the buffer may move), pointers afterwards. */
static void
copy_doc(void *arg, const struct sn_doc *d, int64_t at)
{
    struct sn_relay *r = arg;
    struct sn_doc *o = &r->docs[r->n];
    struct sn_str *f[5] = { &o->id, &o->rule_id, &o->severity, &o->status,
                            &o->json };
    const struct sn_str *in[5] = { &d->id, &d->rule_id, &d->severity,
                                   &d->status, &d->json };

    /* A row left out ends the batch there: taking a smaller one after
     * it would deliver out of order and move the cursor past it. */
    if (r->full || (r->n > 0 && r->data.len + d->json.len > BATCH_BYTES)) {
        r->full = true;
        return;
    }
    o->seq = d->seq;
    o->version = d->version;
    for (int i = 0; i < 5; i++) {
        f[i]->ptr = (const char *)(uintptr_t)r->data.len;
        f[i]->len = in[i]->len;
        if (sn_buf_append(&r->data, in[i]->ptr, in[i]->len) != SN_OK ||
            sn_buf_putc(&r->data, '\0') != SN_OK) {
            r->full = true;
            return;
        }
    }
    r->at[r->n] = at;
    r->n++;
}

static bool advance(struct sn_relay *r, int64_t seq);

static long
read_batch(struct sn_relay *r)
{
    long got;
    int64_t end = -1;

    /* Rows that are not for this output (another's notifications, or
     * versions of incidents no step sent it) are passed over. */
    do {
        r->n = 0;
        r->full = false;
        sn_buf_reset(&r->data);
        got = sn_store_outbox_read_for(r->store, r->out->name, r->notified_only,
                                       r->cursor, SN_RELAY_BATCH_MAX, copy_doc,
                                       r, &r->last, &end);
        if (got < 0)
            return -1;
        if (end >= 0) {
            /* Read after the wait that saw seen_gen: at least as new. */
            r->end = end;
            r->end_gen = r->seen_gen;
            r->end_ns = sn_clock_mono_ns();
        }
        if (r->n == 0 && !r->full && r->last > r->cursor)
            advance(r, r->last);
        else
            break;
        /* Passed over up to the end, another read would find nothing. */
    } while (r->cursor < r->end && !atomic_load(&r->aborting));
    for (size_t i = 0; i < r->n; i++) {
        struct sn_doc *o = &r->docs[i];
        struct sn_str *f[5] = { &o->id, &o->rule_id, &o->severity, &o->status,
                                &o->json };
        for (int k = 0; k < 5; k++)
            f[k]->ptr = r->data.data + (uintptr_t)f[k]->ptr;
    }
    return (long)r->n;
}

/* The backlog gauge from the cached end, read afresh only when forced,
 * when the cache is from before the commit generation seen, or when it
 * is POLL_MS old (other connections' rows do not move the generation). */
static void
update_backlog(struct sn_relay *r, bool force)
{
    int64_t now = sn_clock_mono_ns();

    if (force || r->end_gen != r->seen_gen ||
        now - r->end_ns >= POLL_MS * SN_NS_PER_MS) {
        int64_t end = sn_store_last_seq(r->store);
        if (end >= 0) {
            r->end = end;
            r->end_gen = r->seen_gen;
            r->end_ns = now;
        }
    }
    sn_gauge_set(r->g_backlog,
                 r->end > r->cursor ? (uint64_t)(r->end - r->cursor) : 0);
}

/* Save the cursor. A write transaction of the relay's own would wait for
 * the manager's batch (busy naps) and fsync once more, so the manager
 * writes it in its next transaction: a batch's, or housekeeping's within
 * a second; a crash redelivers at most that much, which idempotent
 * outputs absorb. At stop (force) the relay writes it itself. */
static void
save_cursor(struct sn_relay *r, bool force)
{
    int64_t now = sn_clock_mono_ns();

    /* At stop the manager may not have another transaction: write. */
    if (force ? r->written == r->cursor : r->saved == r->cursor)
        return;
    if (!force && sn_manager_cursor(r->m, r->out->name, r->cursor) == SN_OK) {
        r->saved = r->cursor;
        r->saved_at = now;
        return;
    }
    if (sn_store_cursor_set(r->store, r->out->name, r->cursor) != SN_OK) {
        uint64_t suppressed = 0;
        if (sn_ratelimit_pass(&r->rl, SN_LOG_RATE_MS, &suppressed))
            sn_log_error("output '%s': cannot save the delivery cursor: %s",
                         r->out->name, sn_store_errmsg(r->store));
        return;
    }
    r->saved = r->written = r->cursor;
    r->saved_at = now;
}

static bool
advance(struct sn_relay *r, int64_t seq)
{
    r->cursor = seq;
    save_cursor(r, false);
    return true;
}

/* Wait for host->output_ack of token; false when aborting first. */
static bool
wait_ack(struct sn_relay *r, enum sn_out_result *res, char *why, size_t why_len)
{
    bool ok = false;

    pthread_mutex_lock(&r->lock);
    while (!r->ack_ready && !atomic_load(&r->aborting)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    if (r->ack_ready) {
        *res = r->ack_result;
        snprintf(why, why_len, "%s", r->ack_reason);
        ok = true;
    }
    r->pending_token = 0;
    r->ack_ready = false;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* The port's ack: host->output_ack for an output that takes incidents. */
static void
relay_ack(void *feeder, uint64_t token, enum sn_out_result result,
          const char *reason)
{
    struct sn_relay *r = feeder;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    if (!r->stopped && token == r->pending_token && !r->ack_ready) {
        r->ack_ready = true;
        r->ack_result = result;
        snprintf(r->ack_reason, sizeof(r->ack_reason), "%s",
                 reason ? reason : "");
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

/* One call of deliver(), PENDING resolved into its final result. */
static enum sn_out_result
call_deliver(struct sn_relay *r, const struct sn_doc *docs, size_t n, char *why,
             size_t why_len)
{
    enum sn_out_result res;
    uint64_t token = ++r->next_token;

    pthread_mutex_lock(&r->lock);
    r->pending_token = token;
    r->ack_ready = false;
    pthread_mutex_unlock(&r->lock);
    why[0] = '\0';
    res = r->out->deliver(r->out->state, docs, n, token, why, why_len);
    if (res != SN_OUT_PENDING) {
        pthread_mutex_lock(&r->lock);
        r->pending_token = 0;
        pthread_mutex_unlock(&r->lock);
        return res;
    }
    if (!wait_ack(r, &res, why, why_len)) {
        snprintf(why, why_len, "stopped before the acknowledgement");
        return SN_OUT_RETRY;
    }
    return res;
}

static void
dead_letter(struct sn_relay *r, const struct sn_doc *d, const char *why)
{
    uint64_t suppressed = 0;

    if (sn_store_dead_letter(r->store, r->out->name, d,
                             why[0] ? why : "no reason given") != SN_OK)
        sn_log_error("output '%s': cannot dead-letter %.*s v%lld: %s",
                     r->out->name, (int)d->id.len, d->id.ptr,
                     (long long)d->version, sn_store_errmsg(r->store));
    sn_counter_add(r->c_dead, 1);
    sn_counter_add(r->out->c_failed, 1);
    if (sn_ratelimit_pass(&r->rl, SN_LOG_RATE_MS, &suppressed))
        sn_log_error("output '%s': incident %.*s version %lld failed "
                     "permanently (dead-lettered): %s%s",
                     r->out->name, (int)d->id.len, d->id.ptr,
                     (long long)d->version, why[0] ? why : "no reason given",
                     suppressed ? " (more suppressed)" : "");
}

void
sn_relay_observe(struct sn_relay *r, sn_relay_observer fn, void *arg)
{
    atomic_store(&r->observer_arg, arg);
    atomic_store(&r->observer, fn);
}

static void
delivered(struct sn_relay *r, size_t from, size_t n)
{
    int64_t now = sn_clock_wall_ns(), worst = 0;
    sn_relay_observer obs = atomic_load(&r->observer);

    if (obs != NULL)
        obs(atomic_load(&r->observer_arg), &r->docs[from], n);

    for (size_t i = from; i < from + n; i++) {
        int64_t lat = (now - r->at[i]) / SN_NS_PER_MS;
        if (lat > worst)
            worst = lat;
        sn_counter_add(r->c_latency_ms, lat > 0 ? (uint64_t)lat : 0);
        sn_histogram_observe(&r->h_latency, lat > 0 ? (uint64_t)lat : 0);
    }
    sn_counter_add(r->c_delivered, n);
    sn_counter_add(r->out->c_out, n); /* the output's own summary */
    sn_gauge_set(r->g_latency_ms, worst > 0 ? (uint64_t)worst : 0);
}

/* Deliver docs [from, from + n) until done; false when aborted. */
static bool
deliver_range(struct sn_relay *r, size_t from, size_t n)
{
    struct sn_backoff bo;
    char why[256];

    sn_backoff_init(&bo, SN_OUTPUT_BACKOFF_MIN_MS, SN_OUTPUT_BACKOFF_MAX_MS);
    for (;;) {
        enum sn_out_result res;

        if (atomic_load(&r->aborting))
            return false;
        res = call_deliver(r, &r->docs[from], n, why, sizeof(why));
        if (res == SN_OUT_OK) {
            delivered(r, from, n);
            return advance(r, r->docs[from + n - 1].seq);
        }
        if (res == SN_OUT_FAIL) {
            if (n > 1) {
                /* Find the bad one(s): the rest still gets through. */
                for (size_t i = 0; i < n; i++)
                    if (!deliver_range(r, from + i, 1))
                        return false;
                return true;
            }
            dead_letter(r, &r->docs[from], why);
            return advance(r, r->docs[from].seq);
        }
        sn_counter_add(r->c_retries, 1);
        sn_counter_add(r->out->c_retry, 1);
        update_backlog(r, false); /* it grows while the output is down */
        if (sn_backoff_is_first(&bo))
            sn_log_warn("output '%s': incident delivery failed (%s); "
                        "retrying with backoff",
                        r->out->name, why[0] ? why : "transient");
        /* Jittered (core/backoff.h) so outputs do not retry in
         * lockstep; slept in steps so a stop is noticed. */
        for (int64_t left = sn_backoff_next(&bo);
             left > 0 && !atomic_load(&r->aborting); left -= 50) {
            sleep_ms(left < 50 ? left : 50);
            update_backlog(r, false);
        }
    }
}

static void *
relay_main(void *arg)
{
    struct sn_relay *r = arg;
    /* false: the last read reached the outbox's end (r->end) and the
     * batch is delivered, so the next read waits for a commit or the
     * timeout (reading now would find nothing). */
    bool read = true;

    while (!atomic_load(&r->aborting)) {
        long n = 0;

        if (atomic_load(&r->stopping) && !r->drain_set) {
            /* What is committed now is delivered before the output stops.
             * Read here, not by the stopping thread: two threads stepping
             * one connection's statements crashed the daemon at stop. */
            atomic_store(&r->drain_until, sn_store_last_seq(r->store));
            r->drain_set = true;
        }
        if (read)
            n = read_batch(r);
        read = true;

        if (n < 0) {
            uint64_t suppressed = 0;
            if (sn_ratelimit_pass(&r->rl, SN_LOG_RATE_MS, &suppressed))
                sn_log_error("output '%s': cannot read the outbox: %s",
                             r->out->name, sn_store_errmsg(r->store));
            sleep_ms(POLL_MS);
            continue;
        }
        if (n == 0) {
            int timeout = POLL_MS;

            save_cursor(r, atomic_load(&r->stopping));
            update_backlog(r, false);
            if (atomic_load(&r->stopping) && r->cursor >= r->drain_until)
                break;
            if (atomic_load(&r->stopping))
                timeout = 20;
            /* Woken by the manager's commits (at once if one came
             * after the read: seen_gen is from before it); the timeout
             * finds rows the CLI or another connection appended. */
            sn_manager_wait_commit(r->m, &r->seen_gen, timeout);
            continue;
        }
        update_backlog(r, false);
        if (!deliver_range(r, 0, r->n))
            break;
        /* The rows the read passed over after the batch are not this
         * output's either (all of them, unless it was cut short). */
        if (!r->full && r->last > r->cursor)
            advance(r, r->last);
        update_backlog(r, false);
        read = r->full || r->cursor < r->end;
    }
    save_cursor(r, true);
    atomic_store(&r->exited, true);
    return NULL;
}

enum sn_status
sn_relay_start(struct sn_outport *out, struct sn_manager *m,
               struct sn_metrics *metrics, struct sn_error *err)
{
    struct sn_relay *r = calloc(1, sizeof(*r));
    char labels[200];

    if (r == NULL) {
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    r->out = out;
    r->m = m;
    sn_buf_init(&r->data, BATCH_BYTES + 16u * 1024 * 1024);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (sn_store_open(sn_manager_store_path(m), false, &r->store, err) !=
            SN_OK ||
        sn_store_cursor(r->store, out->name, &r->cursor) != SN_OK) {
        if (r->store != NULL)
            sn_error_set(err, "output '%s': incident store: %s", out->name,
                         sn_store_errmsg(r->store));
        goto fail;
    }
    snprintf(labels, sizeof(labels), "instance=\"%s\"", out->name);
#define M(kind, field, name, help)                                             \
    r->field = sn_metrics_##kind(metrics, name, labels, help)
    M(gauge, g_backlog, "sentineld_outbox_backlog",
      "incident versions committed but not yet delivered to this output");
    M(counter, c_delivered, "sentineld_outbox_delivered_total",
      "incident versions this output acknowledged");
    M(counter, c_retries, "sentineld_outbox_retries_total",
      "incident deliveries retried after a transient failure");
    M(counter, c_dead, "sentineld_outbox_dead_lettered_total",
      "incident versions this output refused permanently");
    M(counter, c_latency_ms, "sentineld_outbox_delivery_latency_ms_total",
      "sum of commit-to-acknowledgement times (ms; divide by delivered)");
    M(gauge, g_latency_ms, "sentineld_outbox_delivery_latency_ms",
      "commit-to-acknowledgement time of the last batch's slowest (ms)");
#undef M
    if (sn_metrics_histogram(
            metrics, "sentineld_outbox_ack_latency_milliseconds", labels,
            "time from an incident version's commit to this output's "
            "acknowledgement (ms)",
            latency_le, sizeof(latency_le) / sizeof(latency_le[0]),
            &r->h_latency) != SN_OK) {
        sn_error_set(err, "out of memory");
        goto fail;
    }
    r->saved = r->written = r->cursor;
    r->notified_only = sn_manager_notifies(m, out->name);
    update_backlog(r, true);
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        sn_error_set(err, "cannot create the relay thread for '%s'", out->name);
        goto fail;
    }
    /* "o:<output>": each output's own cost, by thread. */
    sn_thread_name(r->thread, "o:", out->name);
    out->ack = relay_ack;
    out->release = sn_relay_free;
    out->feeder = r;
    return SN_OK;
fail:
    sn_store_close(r->store);
    sn_buf_fini(&r->data);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    return SN_EIO;
}

void
sn_relay_stop(struct sn_outport *out, int64_t drain_ms)
{
    struct sn_relay *r = out->feeder;
    int64_t deadline = sn_clock_mono_ns() + drain_ms * SN_NS_PER_MS;

    if (r == NULL || r->joined)
        return;
    /* The relay's thread reads what to drain to (relay_main). */
    atomic_store(&r->stopping, true);
    for (;;) {
        struct timespec ts = { 0, 20 * 1000000L };
        if (atomic_load(&r->exited))
            break;
        if (sn_clock_mono_ns() > deadline && !atomic_load(&r->aborting)) {
            sn_log_warn("output '%s': stopping with %lld incident versions "
                        "undelivered (delivered after the restart)",
                        out->name,
                        (long long)(atomic_load(&r->drain_until) - r->cursor));
            atomic_store(&r->aborting, true);
        }
        nanosleep(&ts, NULL);
    }
    pthread_join(r->thread, NULL);
    r->joined = true;
    /* The struct stays: the output may still acknowledge the batch the
     * relay gave up on (an abort at the drain deadline), from its own
     * thread, which read out->feeder before this. Until the output has
     * stopped, only the lock and this flag are touched. */
    pthread_mutex_lock(&r->lock);
    r->stopped = true;
    pthread_mutex_unlock(&r->lock);
    sn_store_close(r->store);
    r->store = NULL;
    sn_buf_fini(&r->data);
}

void
sn_relay_free(struct sn_outport *out)
{
    struct sn_relay *r = out->feeder;

    if (r == NULL)
        return;
    sn_relay_stop(out, 0);
    out->feeder = NULL; /* ack stays: it ignores a NULL feeder */
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
