/*
 * The incident manager's thread and queue; see manager.h. The queue is a
 * ring of reusable slots (a slot's buffer grows to the largest signal it
 * held and is kept), so steady state allocates nothing per signal here.
 * The consumer folds the slots at the head without holding the lock and
 * frees them only after the batch committed: a failed commit keeps them,
 * which is what turns a broken store into back-pressure.
 */
#include "incident/manager.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "incident/escalate.h"
#include "incident/fold.h"
#include "incident/fold_scan.h"
#include "incident/scrub.h"
#include "incident/store.h"

#define HOUSEKEEP_MS 1000
#define PRUNE_MS 60000
/* At stop, a store that keeps failing is given this many more tries
 * before what is still queued is reported lost. */
#define STOP_RETRIES 20

/* Per emitting thread (a pthread key's value): parsing and scrubbing
 * state, freed when the thread exits. */
struct prep {
    struct json_tokener *tok;
    struct sn_scrub *scrub;
    struct sn_fold_scan scan;
};

struct slot {
    struct sn_fold_sig sig;
    int64_t queued; /* monotonic ns of its hand-off to the manager */
};

/* sn_manager_call: a function to run on the manager's thread once every
 * signal submitted before `target` is committed; on the caller's stack. */
struct call {
    sn_manager_fn fn;
    void *arg;
    uint64_t target;
    enum sn_status rc;
    bool done;
    struct call *next;
};

/* A relay's cursor waiting for the manager's next transaction. */
struct cursor {
    char *output;
    int64_t seq;
    bool dirty;
};

struct sn_manager {
    char *path;
    struct sn_store *store;
    struct sn_scrub *scrub;
    /* The scrub configuration, copied: the config it came from is freed
     * by a reload while the manager lives on. */
    char **patterns, **keep;
    struct sn_strlist pattern_list, keep_list;
    bool keep_set;
    pthread_key_t prep_key;
    bool prep_key_ok;
    struct sn_fold fold;
    size_t batch;
    int64_t retention_ms, keep_ms;

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty, progress;
    struct slot *ring;
    size_t cap, head, count;
    uint64_t submitted, done;
    bool stopping, exited;
    bool lost; /* signals dropped at shutdown: counted done, not stored */
    struct call *calls, **calls_tail; /* FIFO; progress signals done */

    pthread_mutex_t glock;
    pthread_cond_t gcond;
    uint64_t gen;

    pthread_mutex_t cur_lock;
    struct cursor cursors[SN_MANAGER_CURSORS_MAX];
    size_t n_cursors;

    /* incidents.escalation: replaced by a reload (any thread) while the
     * manager's housekeeping runs it. */
    pthread_mutex_t esc_lock;
    struct sn_escalation *esc;

    int64_t last_housekeep, last_prune;
    struct sn_fold_stats seen;
    struct sn_ratelimit rl_invalid, rl_store;
    struct sn_counter *c_received, *c_invalid, *c_opened, *c_versions,
        *c_resolved, *c_escalations, *c_held, *c_store_errors, *g_writable, *g_queue,
        *c_lost, *c_call_errors, *c_kept_hits, *c_kept_misses;
    /* From a signal's hand-off to its batch's start, and to its commit. */
    struct sn_histogram h_queued, h_stored;
};

static char **
copy_list(const struct sn_strlist *l, struct sn_strlist *out)
{
    char **v = calloc(l->n + 1, sizeof(char *));

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if ((v[i] = strdup(l->items[i])) == NULL)
            return v; /* freed by the caller's cleanup; n stays 0 */
    out->items = (const char *const *)v;
    out->n = l->n;
    return v;
}

static void
free_list(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static void
prep_free(void *arg)
{
    struct prep *p = arg;

    if (p == NULL)
        return;
    if (p->tok != NULL)
        json_tokener_free(p->tok);
    sn_scrub_free(p->scrub);
    sn_fold_scan_fini(&p->scan);
    free(p);
}

/* This thread's parser and scrubber, made on first use. */
static struct prep *
prep_get(struct sn_manager *m)
{
    struct prep *p = pthread_getspecific(m->prep_key);

    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    sn_fold_scan_init(&p->scan);
    p->tok = json_tokener_new_ex(32);
    if (p->tok == NULL ||
        sn_scrub_new(&m->pattern_list, m->keep_set ? &m->keep_list : NULL,
                     &p->scrub, NULL) != SN_OK ||
        pthread_setspecific(m->prep_key, p) != 0) {
        prep_free(p);
        return NULL;
    }
    return p;
}

enum sn_status
sn_manager_new(const char *path, const struct sn_incidents_conf *conf,
               struct sn_metrics *metrics, struct sn_manager **out,
               struct sn_error *err)
{
    struct sn_manager *m = calloc(1, sizeof(*m));
    enum sn_status rc;

    *out = NULL;
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        free(m);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    m->cap = (size_t)conf->queue;
    m->batch = (size_t)conf->batch;
    m->retention_ms = conf->retention_ms;
    m->keep_ms = conf->outbox_keep_ms;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->not_full, NULL);
    pthread_cond_init(&m->not_empty, NULL);
    pthread_cond_init(&m->progress, NULL);
    m->calls_tail = &m->calls;
    pthread_mutex_init(&m->glock, NULL);
    pthread_cond_init(&m->gcond, NULL);
    pthread_mutex_init(&m->cur_lock, NULL);
    pthread_mutex_init(&m->esc_lock, NULL);
    m->ring = calloc(m->cap, sizeof(*m->ring));
    if (m->ring == NULL) {
        sn_error_set(err, "out of memory for a queue of %zu signals", m->cap);
        rc = SN_ENOMEM;
        goto fail;
    }
    rc = sn_scrub_new(&conf->scrub_patterns,
                      conf->scrub_keep_set ? &conf->scrub_keep : NULL,
                      &m->scrub, err);
    if (rc != SN_OK)
        goto fail;
    m->patterns = copy_list(&conf->scrub_patterns, &m->pattern_list);
    m->keep = copy_list(&conf->scrub_keep, &m->keep_list);
    m->keep_set = conf->scrub_keep_set;
    if (m->patterns == NULL || m->keep == NULL ||
        m->pattern_list.n != conf->scrub_patterns.n ||
        m->keep_list.n != conf->scrub_keep.n ||
        pthread_key_create(&m->prep_key, prep_free) != 0) {
        sn_error_set(err, "out of memory");
        rc = SN_ENOMEM;
        goto fail;
    }
    m->prep_key_ok = true;
    rc = sn_store_open(path, false, &m->store, err);
    if (rc == SN_OK)
        rc = sn_store_checkpointer_start(m->store, err);
    if (rc != SN_OK)
        goto fail;
    rc = sn_fold_init(&m->fold, m->store, m->scrub, conf->auto_resolve_ms,
                      (size_t)conf->evidence_max);
    m->fold.update_ms = conf->update_interval_ms;
    m->fold.cache_max = (size_t)conf->cache;
    if (rc != SN_OK) {
        sn_error_set(err, "out of memory");
        goto fail;
    }
#define C(field, name, help)                                                   \
    m->field = sn_metrics_counter(metrics, name, NULL, help)
    C(c_received, "sentineld_signals_received_total",
      "signals detectors handed to the incident manager");
    C(c_invalid, "sentineld_signals_invalid_total",
      "signals refused as malformed (logged with the reason)");
    C(c_opened, "sentineld_incidents_opened_total", "incidents opened");
    C(c_versions, "sentineld_incident_versions_total",
      "incident versions committed (opens, updates, actions)");
    C(c_resolved, "sentineld_incidents_resolved_total",
      "incidents resolved by a signal or their quiet period");
    C(c_held, "sentineld_incident_versions_held_total",
      "versions that only added hits, stored and delivered later in one "
      "(incidents.update_interval)");
    C(c_escalations, "sentineld_incident_escalations_requested_total",
      "escalations to critical parked for an operator's approval");
    C(c_store_errors, "sentineld_incident_store_errors_total",
      "failed incident store transactions (retried; nothing dropped)");
    C(c_lost, "sentineld_signals_lost_total",
      "signals not stored at shutdown because the store kept failing");
    C(c_kept_hits, "sentineld_incident_cache_hits_total",
      "open incidents a batch found kept from an earlier batch (not read "
      "back from the store; incidents.cache)");
    C(c_kept_misses, "sentineld_incident_cache_misses_total",
      "open incidents a batch read back from the store");
    C(c_call_errors, "sentineld_incident_partition_errors_total",
      "partition state exports, imports and releases that failed "
      "(logged with the reason)");
#undef C
    m->g_writable = sn_metrics_gauge(metrics, "sentineld_incident_store_writable",
                                     NULL,
                                     "1 while the incident store accepts "
                                     "writes; 0: inputs are held back");
    m->g_queue = sn_metrics_gauge(metrics, "sentineld_incident_queue_length",
                                  NULL, "signals waiting for the manager");
    {
        static const uint64_t le[] = SN_LATENCY_LE_MS;
        const char *help = "time from a signal's hand-off to the incident "
                           "manager to its batch's start (stage=\"queued\") "
                           "and to its batch's commit (stage=\"stored\"), ms";
        if (sn_metrics_histogram(
                metrics, "sentineld_incident_signal_latency_milliseconds",
                "stage=\"queued\"", help, le, sizeof(le) / sizeof(le[0]),
                &m->h_queued) != SN_OK ||
            sn_metrics_histogram(
                metrics, "sentineld_incident_signal_latency_milliseconds",
                "stage=\"stored\"", help, le, sizeof(le) / sizeof(le[0]),
                &m->h_stored) != SN_OK) {
            sn_error_set(err, "out of memory");
            rc = SN_ENOMEM;
            goto fail;
        }
    }
    sn_gauge_set(m->g_writable, 1);
    *out = m;
    return SN_OK;
fail:
    sn_manager_free(m);
    return rc;
}

const char *
sn_manager_store_path(const struct sn_manager *m)
{
    return m->path;
}

enum sn_status
sn_manager_sink(void *arg, struct sn_instance *from, const char *json,
                size_t len)
{
    struct sn_manager *m = arg;
    struct prep *p = prep_get(m);
    struct sn_fold_sig sig;
    struct sn_error err;
    enum sn_status rc;
    int64_t queued;

    (void)from;
    if (p == NULL)
        return SN_ENOMEM;
    if (len > SN_SIGNAL_MAX) {
        sn_counter_add(m->c_invalid, 1);
        return SN_ELIMIT;
    }
    sn_error_clear(&err);
    /* One pass over the text; json-c for what that declines. */
    rc = sn_fold_scan(&p->scan, p->scrub, json, len, true, &sig);
    if (rc == SN_ENOMEM)
        sn_error_set(&err, "out of memory");
    else if (rc == SN_DECLINED)
        rc = sn_fold_prepare(p->tok, p->scrub, json, len, &sig, &err);
    if (rc != SN_OK) {
        uint64_t suppressed = 0;
        bool log;
        sn_counter_add(m->c_invalid, 1);
        pthread_mutex_lock(&m->lock);
        log = sn_ratelimit_pass(&m->rl_invalid, SN_LOG_RATE_MS, &suppressed);
        pthread_mutex_unlock(&m->lock);
        if (log)
            sn_log_warn("incident manager: signal refused: %s%s", err.msg,
                        suppressed ? " (more suppressed)" : "");
        return rc;
    }
    queued = sn_clock_mono_ns(); /* a full queue's wait counts */
    pthread_mutex_lock(&m->lock);
    while (m->count == m->cap && !m->exited)
        pthread_cond_wait(&m->not_full, &m->lock);
    if (m->exited) {
        pthread_mutex_unlock(&m->lock);
        sn_fold_sig_fini(&sig);
        return SN_EIO;
    }
    m->ring[(m->head + m->count) % m->cap].sig = sig;
    m->ring[(m->head + m->count) % m->cap].queued = queued;
    m->count++;
    m->submitted++;
    pthread_cond_signal(&m->not_empty);
    pthread_mutex_unlock(&m->lock);
    sn_counter_add(m->c_received, 1);
    return SN_OK;
}

enum sn_status
sn_manager_cursor(struct sn_manager *m, const char *output, int64_t seq)
{
    enum sn_status rc = SN_OK;
    size_t i;

    pthread_mutex_lock(&m->cur_lock);
    for (i = 0; i < m->n_cursors; i++)
        if (strcmp(m->cursors[i].output, output) == 0)
            break;
    if (i == m->n_cursors) {
        if (i == SN_MANAGER_CURSORS_MAX ||
            (m->cursors[i].output = strdup(output)) == NULL)
            rc = SN_ELIMIT;
        else
            m->n_cursors++;
    }
    if (rc == SN_OK) {
        m->cursors[i].seq = seq;
        m->cursors[i].dirty = true;
    }
    pthread_mutex_unlock(&m->cur_lock);
    return rc;
}

/* The relays' new cursors, inside the caller's transaction. They are
 * marked clean first; a failed write or a rolled-back transaction
 * marks them again (a cursor only moves forward, so an older value
 * written later cannot move one back: store.c). */
static enum sn_status
write_cursors(struct sn_manager *m)
{
    struct cursor todo[SN_MANAGER_CURSORS_MAX];
    size_t n = 0;
    enum sn_status rc = SN_OK;

    pthread_mutex_lock(&m->cur_lock);
    for (size_t i = 0; i < m->n_cursors; i++)
        if (m->cursors[i].dirty) {
            todo[n++] = m->cursors[i];
            m->cursors[i].dirty = false;
        }
    pthread_mutex_unlock(&m->cur_lock);
    for (size_t i = 0; i < n && rc == SN_OK; i++)
        rc = sn_store_cursor_set(m->store, todo[i].output, todo[i].seq);
    if (rc != SN_OK)
        for (size_t i = 0; i < n; i++)
            sn_manager_cursor(m, todo[i].output, todo[i].seq);
    return rc;
}

/* After a rollback: what write_cursors took is written next time. */
static void
redo_cursors(struct sn_manager *m)
{
    pthread_mutex_lock(&m->cur_lock);
    for (size_t i = 0; i < m->n_cursors; i++)
        m->cursors[i].dirty = true;
    pthread_mutex_unlock(&m->cur_lock);
}

static void
notify_commit(struct sn_manager *m)
{
    pthread_mutex_lock(&m->glock);
    m->gen++;
    pthread_cond_broadcast(&m->gcond);
    pthread_mutex_unlock(&m->glock);
}

uint64_t
sn_manager_wait_commit(struct sn_manager *m, uint64_t *seen, int timeout_ms)
{
    struct timespec ts;
    uint64_t g;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->glock);
    while (m->gen == *seen &&
           pthread_cond_timedwait(&m->gcond, &m->glock, &ts) != ETIMEDOUT)
        ;
    g = m->gen;
    pthread_mutex_unlock(&m->glock);
    *seen = g;
    return g;
}

static void
sync_stats(struct sn_manager *m)
{
    struct sn_fold_stats *s = &m->fold.st;

    sn_counter_add(m->c_opened, s->opened - m->seen.opened);
    sn_counter_add(m->c_versions, (s->opened + s->updated + s->resolved) -
                                      (m->seen.opened + m->seen.updated +
                                       m->seen.resolved));
    sn_counter_add(m->c_resolved, s->resolved - m->seen.resolved);
    sn_counter_add(m->c_escalations, s->escalations - m->seen.escalations);
    sn_counter_add(m->c_held, s->held - m->seen.held);
    sn_counter_add(m->c_invalid, s->invalid - m->seen.invalid);
    sn_counter_add(m->c_kept_hits, s->kept_hits - m->seen.kept_hits);
    sn_counter_add(m->c_kept_misses, s->kept_misses - m->seen.kept_misses);
    m->seen = *s;
}

static void
store_failed(struct sn_manager *m, const struct sn_error *err)
{
    uint64_t suppressed = 0;

    sn_counter_add(m->c_store_errors, 1);
    sn_gauge_set(m->g_writable, 0);
    if (sn_ratelimit_pass(&m->rl_store, 10 * SN_LOG_RATE_MS, &suppressed))
        sn_log_error("%s; holding signals back (inputs "
                     "wait) until it can be written%s",
                     err->msg, suppressed ? " (repeated)" : "");
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* A committed batch's signals in the latency histograms: taken from the
 * queue at taken (monotonic ns), committed now. */
static void
observe_batch(struct sn_manager *m, size_t k, int64_t taken)
{
    int64_t now = sn_clock_mono_ns();

    for (size_t i = 0; i < k; i++) {
        int64_t q = m->ring[(m->head + i) % m->cap].queued;
        sn_histogram_observe(&m->h_queued,
                             (uint64_t)(taken > q ? taken - q : 0) /
                                 SN_NS_PER_MS);
        sn_histogram_observe(&m->h_stored,
                             (uint64_t)(now > q ? now - q : 0) / SN_NS_PER_MS);
    }
}

/* One transaction over slots [head, head + k). */
static enum sn_status
fold_batch(struct sn_manager *m, size_t k, int64_t now, struct sn_error *err)
{
    if (sn_store_begin(m->store, err) != SN_OK)
        return SN_EIO;
    sn_fold_begin(&m->fold);
    for (size_t i = 0; i < k; i++) {
        struct slot *s = &m->ring[(m->head + i) % m->cap];
        struct sn_error e;
        enum sn_status rc;

        sn_error_clear(&e);
        rc = sn_fold_apply(&m->fold, &s->sig, now, &e);
        if (rc != SN_OK) {
            *err = e;
            sn_fold_discard(&m->fold);
            sn_store_rollback(m->store);
            return SN_EIO;
        }
    }
    if (sn_fold_flush(&m->fold, now, err) != SN_OK) {
        sn_fold_discard(&m->fold);
        sn_store_rollback(m->store);
        return SN_EIO;
    }
    /* A cursor that fails to write is not worth failing the batch for:
     * it is written next time, and a crash redelivers a little more. */
    if (write_cursors(m) != SN_OK)
        redo_cursors(m);
    if (sn_store_commit(m->store, err) != SN_OK) {
        /* The kept incidents hold what did not commit. */
        sn_fold_discard(&m->fold);
        redo_cursors(m);
        return SN_EIO;
    }
    return SN_OK;
}

void
sn_manager_set_escalation(struct sn_manager *m, const struct sn_esc_conf *conf)
{
    struct sn_escalation *e = sn_escalation_new(conf), *old;

    if (e == NULL && conf->n_policies > 0) {
        sn_log_error("incidents.escalation: out of memory; the previous "
                     "policy stays");
        return;
    }
    pthread_mutex_lock(&m->esc_lock);
    old = m->esc;
    m->esc = e;
    pthread_mutex_unlock(&m->esc_lock);
    sn_escalation_free(old);
}

bool
sn_manager_notifies(struct sn_manager *m, const char *output)
{
    bool r;

    pthread_mutex_lock(&m->esc_lock);
    r = sn_escalation_notifies(m->esc, output);
    pthread_mutex_unlock(&m->esc_lock);
    return r;
}

/* Escalation steps due now, inside housekeeping's transaction, under a
 * savepoint: a step that cannot be written (logged) is tried again next
 * time without holding back the quiet period and the held versions. */
static enum sn_status
escalate(struct sn_manager *m, int64_t now, size_t *sent)
{
    struct sqlite3 *db = sn_store_db(m->store);
    enum sn_status rc = SN_OK;

    *sent = 0;
    pthread_mutex_lock(&m->esc_lock);
    if (m->esc != NULL) {
        if (sqlite3_exec(db, "SAVEPOINT escalation", NULL, NULL, NULL) !=
            SQLITE_OK) {
            rc = SN_EIO;
        } else if (sn_escalation_run(m->esc, m->store, now, sent) != SN_OK) {
            uint64_t suppressed = 0;
            if (sn_ratelimit_pass(&m->rl_store, 10 * SN_LOG_RATE_MS,
                                  &suppressed))
                sn_log_error("incident store %s: escalation steps not "
                             "written (tried again in a second): %s",
                             m->path, sn_store_errmsg(m->store));
            *sent = 0;
            if (sqlite3_exec(db, "ROLLBACK TO escalation", NULL, NULL,
                             NULL) != SQLITE_OK)
                rc = SN_EIO;
        }
        if (rc == SN_OK && sqlite3_exec(db, "RELEASE escalation", NULL, NULL,
                                        NULL) != SQLITE_OK)
            rc = SN_EIO;
    }
    pthread_mutex_unlock(&m->esc_lock);
    return rc;
}

static void
housekeep(struct sn_manager *m, int64_t now)
{
    struct sn_error err;
    size_t n = 0;

    sn_error_clear(&err);
    if (sn_store_begin(m->store, &err) == SN_OK) {
        size_t released = 0, sent = 0;

        if (write_cursors(m) != SN_OK ||
            sn_fold_quiet(&m->fold, now, &n) != SN_OK ||
            sn_fold_release(&m->fold, now, &released) != SN_OK ||
            escalate(m, now, &sent) != SN_OK) {
            redo_cursors(m);
            sn_store_rollback(m->store);
            sn_error_set(&err, "incident store %s: auto-resolve: %s",
                         m->path, sn_store_errmsg(m->store));
            store_failed(m, &err);
        } else if (sn_store_commit(m->store, &err) != SN_OK) {
            redo_cursors(m);
            store_failed(m, &err);
        } else if (n + released + sent > 0) {
            notify_commit(m);
        }
        /* Escalation steps may have changed incidents behind the kept
         * copies (quiet and release forget theirs one by one). */
        if (sent > 0)
            sn_fold_discard(&m->fold);
    } else {
        store_failed(m, &err);
    }
    sync_stats(m);
    if (now - m->last_prune >= PRUNE_MS * SN_NS_PER_MS) {
        m->last_prune = now;
        if (sn_store_prune(m->store, now, m->keep_ms, m->retention_ms) < 0)
            sn_log_warn("incident store: retention pass failed: %s",
                        sn_store_errmsg(m->store));
    }
}

/* With the lock held; returns without it. The call's waiter owns it
 * again once done is set. */
static void
run_call(struct sn_manager *m)
{
    struct call *c = m->calls;

    m->calls = c->next;
    if (m->calls == NULL)
        m->calls_tail = &m->calls;
    pthread_mutex_unlock(&m->lock);
    c->rc = c->fn(c->arg, m->store, &m->fold);
    /* It may have written incidents (a partition's import or release)
     * behind the kept copies, and the outbox. */
    sn_fold_discard(&m->fold);
    notify_commit(m);
    pthread_mutex_lock(&m->lock);
    c->done = true;
    pthread_cond_broadcast(&m->progress);
    pthread_mutex_unlock(&m->lock);
}

static void *
manager_main(void *arg)
{
    struct sn_manager *m = arg;
    struct sn_backoff bo;
    int stop_tries = 0;

    sn_backoff_init(&bo, SN_STORE_RETRY_MIN_MS, SN_STORE_RETRY_MAX_MS);
    for (;;) {
        size_t k;
        int64_t now, taken;
        struct sn_error err;

        pthread_mutex_lock(&m->lock);
        if (m->calls != NULL && m->calls->target <= m->done) {
            run_call(m);
            continue;
        }
        if (m->count == 0 && !m->stopping && m->calls == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&m->not_empty, &m->lock, &ts);
        }
        if (m->count == 0 && m->stopping) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        k = m->count < m->batch ? m->count : m->batch;
        pthread_mutex_unlock(&m->lock);
        taken = sn_clock_mono_ns();
        now = sn_clock_wall_ns();
        if (now - m->last_housekeep >= HOUSEKEEP_MS * SN_NS_PER_MS) {
            m->last_housekeep = now;
            housekeep(m, now);
        }
        if (k == 0)
            continue;
        sn_error_clear(&err);
        if (fold_batch(m, k, now, &err) != SN_OK) {
            /* Undo what the failed batch counted; it will be redone. */
            m->fold.st = m->seen;
            store_failed(m, &err);
            if (m->stopping && ++stop_tries > STOP_RETRIES) {
                pthread_mutex_lock(&m->lock);
                sn_counter_add(m->c_lost, m->count);
                sn_log_error("incident store still failing at shutdown: "
                             "%zu signals were not stored",
                             m->count);
                m->done += m->count;
                m->lost = true;
                for (size_t i = 0; i < m->count; i++)
                    sn_fold_sig_fini(&m->ring[(m->head + i) % m->cap].sig);
                m->head = (m->head + m->count) % m->cap;
                m->count = 0;
                pthread_cond_broadcast(&m->progress);
                pthread_mutex_unlock(&m->lock);
                break;
            }
            sleep_ms(sn_backoff_next(&bo));
            continue;
        }
        if (!sn_backoff_is_first(&bo))
            sn_log_info("incident store writable again");
        sn_backoff_reset(&bo);
        sn_gauge_set(m->g_writable, 1);
        sync_stats(m);
        observe_batch(m, k, taken);
        for (size_t i = 0; i < k; i++)
            sn_fold_sig_fini(&m->ring[(m->head + i) % m->cap].sig);
        pthread_mutex_lock(&m->lock);
        m->head = (m->head + k) % m->cap;
        m->count -= k;
        m->done += k;
        sn_gauge_set(m->g_queue, m->count);
        pthread_cond_broadcast(&m->not_full);
        pthread_cond_broadcast(&m->progress);
        pthread_mutex_unlock(&m->lock);
        notify_commit(m);
    }
    pthread_mutex_lock(&m->lock);
    m->exited = true;
    pthread_cond_broadcast(&m->not_full);
    pthread_cond_broadcast(&m->progress);
    pthread_mutex_unlock(&m->lock);
    notify_commit(m);
    return NULL;
}

enum sn_status
sn_manager_start(struct sn_manager *m, struct sn_error *err)
{
    if (m->started)
        return SN_OK;
    m->last_prune = 0;
    if (pthread_create(&m->thread, NULL, manager_main, m) != 0) {
        sn_error_set(err, "cannot create the incident manager thread");
        return SN_ENOMEM;
    }
    sn_thread_name(m->thread, "incidents", "");
    m->started = true;
    return SN_OK;
}

enum sn_status
sn_manager_call(struct sn_manager *m, sn_manager_fn fn, void *arg)
{
    struct call c = { fn, arg, 0, SN_OK, false, NULL };

    pthread_mutex_lock(&m->lock);
    if (!m->started) {
        /* No thread owns the connection: the caller does (tests, the
         * oneshot's teardown). */
        pthread_mutex_unlock(&m->lock);
        c.rc = fn(arg, m->store, &m->fold);
        sn_fold_discard(&m->fold);
        notify_commit(m);
        if (c.rc != SN_OK)
            sn_counter_add(m->c_call_errors, 1);
        return c.rc;
    }
    c.target = m->submitted;
    *m->calls_tail = &c;
    m->calls_tail = &c.next;
    pthread_cond_signal(&m->not_empty);
    while (!c.done && !m->exited)
        pthread_cond_wait(&m->progress, &m->lock);
    if (!c.done) {
        /* The thread exited first: take the call out of the list. */
        struct call **pp = &m->calls;
        while (*pp != NULL && *pp != &c)
            pp = &(*pp)->next;
        if (*pp == &c)
            *pp = c.next;
        m->calls_tail = &m->calls;
        while (*m->calls_tail != NULL)
            m->calls_tail = &(*m->calls_tail)->next;
        c.rc = SN_EIO;
    }
    pthread_mutex_unlock(&m->lock);
    if (c.rc != SN_OK)
        sn_counter_add(m->c_call_errors, 1);
    return c.rc;
}

void
sn_manager_flush(struct sn_manager *m)
{
    uint64_t target;

    pthread_mutex_lock(&m->lock);
    target = m->submitted;
    while (m->done < target && !m->exited)
        pthread_cond_wait(&m->progress, &m->lock);
    pthread_mutex_unlock(&m->lock);
}

bool
sn_manager_stored(void *arg, int timeout_ms)
{
    struct sn_manager *m = arg;
    struct timespec ts;
    uint64_t target;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->lock);
    target = m->submitted;
    while (m->done < target && !m->exited && timeout_ms > 0 &&
           pthread_cond_timedwait(&m->progress, &m->lock, &ts) != ETIMEDOUT)
        ;
    ok = m->done >= target && !m->lost;
    pthread_mutex_unlock(&m->lock);
    return ok;
}

void
sn_manager_stop(struct sn_manager *m)
{
    if (m == NULL || !m->started)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_signal(&m->not_empty);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    m->started = false;
}

void
sn_manager_free(struct sn_manager *m)
{
    if (m == NULL)
        return;
    sn_manager_stop(m);
    sn_fold_fini(&m->fold);
    sn_store_close(m->store);
    sn_scrub_free(m->scrub);
    for (size_t i = 0; m->ring != NULL && i < m->cap; i++)
        sn_fold_sig_fini(&m->ring[i].sig);
    free(m->ring);
    free_list(m->patterns);
    free_list(m->keep);
    if (m->prep_key_ok) {
        /* The calling thread's own (the bench, tests) goes now; worker
         * threads freed theirs when they exited. */
        prep_free(pthread_getspecific(m->prep_key));
        pthread_key_delete(m->prep_key);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->not_full);
    pthread_cond_destroy(&m->not_empty);
    pthread_cond_destroy(&m->progress);
    pthread_mutex_destroy(&m->glock);
    pthread_cond_destroy(&m->gcond);
    for (size_t i = 0; i < m->n_cursors; i++)
        free(m->cursors[i].output);
    pthread_mutex_destroy(&m->cur_lock);
    sn_escalation_free(m->esc);
    pthread_mutex_destroy(&m->esc_lock);
    free(m->path);
    free(m);
}

/* On the manager's thread: every held version, in transactions of up to
 * 64 incidents (sn_fold_release's batch). */
static enum sn_status
release_all(void *arg, struct sn_store *store, struct sn_fold *fold)
{
    struct sn_error err;
    size_t n;

    (void)arg;
    do {
        n = 0;
        sn_error_clear(&err);
        if (sn_store_begin(store, &err) != SN_OK)
            return SN_EIO;
        if (sn_fold_release(fold, INT64_MAX / 2, &n) != SN_OK) {
            sn_store_rollback(store);
            return SN_EIO;
        }
        if (sn_store_commit(store, &err) != SN_OK)
            return SN_EIO;
    } while (n > 0);
    return SN_OK;
}

void
sn_manager_release_held(struct sn_manager *m)
{
    if (m->fold.update_ms > 0 &&
        sn_manager_call(m, release_all, NULL) != SN_OK)
        sn_log_warn("incident store %s: held versions not delivered at "
                    "stop: %s (the next start delivers them)",
                    m->path, sn_store_errmsg(m->store));
}
