/*
 * Emitters: how inputs push records. Each emitter fills one batch at a time
 * (copying record bytes into the batch arena) and hands full batches to
 * the worker it was bound to at creation, so records of one emitter (one
 * connection thread, one file) stay in order. An empty pool blocks the
 * input (back-pressure) unless the emitter drops when full (UDP).
 */
#include "pipeline/emitter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "core/log.h"
#include "journal/journal.h"

/* Flush a batch early once its records hold this many bytes, so one batch
 * of large records does not grow the arena past its first chunk. */
#define BATCH_SOFT_BYTES (SN_BATCH_ARENA_CHUNK / 2)

struct sn_emitter *
sn_emitter_new(struct sn_instance *in, bool drop_when_full)
{
    struct sn_emitter *em = calloc(1, sizeof(*em));

    if (em == NULL)
        return NULL;
    em->owner = sn_batch_owner_new();
    if (em->owner == NULL) {
        free(em);
        return NULL;
    }
    em->in = in;
    em->drop_when_full = drop_when_full;
    em->worker = atomic_fetch_add(&in->pl->next_worker, 1);
    return em;
}

/* Append b (NULL: nothing, only wait for what this emitter appended
 * before) to the journal before anyone processes it, on disk first when
 * durable; retried while the disk fails (the input waits: back-pressure),
 * given up at stop. */
static enum sn_status
journal_batch(struct sn_emitter *em, struct sn_batch *b, bool durable)
{
    struct sn_pipeline *pl = em->in->pl;
    struct sn_error err;
    enum sn_status rc;

    if (em->replay) {
        if (b != NULL)
            sn_journal_track(pl->journal, b, em->replay_end);
        return SN_OK;
    }
    for (;;) {
        uint64_t suppressed = 0;

        sn_error_clear(&err);
        /* Written but not synced (jseq set): only the sync is retried,
         * or the batch would be in the journal twice. */
        if (b != NULL && b->jseq == 0)
            rc = sn_journal_append(pl->journal, b, em->in->name,
                                   &em->in->stopping, durable, &em->jend, &err);
        else
            rc = sn_journal_sync(pl->journal, em->jend, &err);
        if (rc == SN_OK || rc == SN_AGAIN || atomic_load(&em->in->stopping) ||
            atomic_load(&pl->aborting))
            break;
        if (sn_ratelimit_pass(&em->in->input.rl_drop, SN_LOG_RATE_MS, &suppressed))
            sn_log_error("input '%s': %s; retrying (the input waits)",
                         em->in->name, err.msg);
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* durable: the records are on disk in the journal when this returns OK
 * (an input acknowledges them next); otherwise only written. */
static enum sn_status
flush(struct sn_emitter *em, bool durable)
{
    struct sn_batch *b = em->cur;
    enum sn_status rc = SN_OK;

    if (b != NULL && b->n == 0) {
        em->cur = NULL;
        sn_batch_unref(b);
        b = NULL;
    }
    if (b == NULL) {
        /* Full batches emit() flushed may be written, not synced. */
        if (durable && em->in->pl->journal != NULL && em->jend > 0)
            return journal_batch(em, NULL, true);
        return SN_OK;
    }
    em->cur = NULL;
    if (em->in->pl->journal != NULL) {
        b->detect_only = em->detect_only;
        rc = journal_batch(em, b, durable);
        if (rc != SN_OK) {
            sn_counter_add(em->in->c_dropped, b->n);
            sn_log_error("input '%s': %zu records dropped: not in the "
                         "journal at stop", em->in->name, b->n);
            sn_batch_unref(b);
            return rc;
        }
    }
    sn_counter_add(em->in->c_in, b->n);
    sn_worker_submit(em->in->pl, em->worker, b);
    return SN_OK;
}

enum sn_status
sn_emitter_flush_sync(struct sn_emitter *em)
{
    return flush(em, true);
}

void
sn_emitter_flush(struct sn_emitter *em)
{
    (void)flush(em, false);
}

void
sn_emitter_free(struct sn_emitter *em)
{
    if (em == NULL)
        return;
    sn_emitter_flush(em);
    sn_batch_owner_unref(em->owner);
    free(em);
}

static void
count_drop(struct sn_emitter *em, const char *why)
{
    uint64_t suppressed = 0;

    sn_counter_add(em->in->c_dropped, 1);
    if (sn_ratelimit_pass(&em->in->input.rl_drop, SN_LOG_RATE_MS, &suppressed))
        sn_log_warn("input '%s': dropping records: %s", em->in->name, why);
}

static const char *
copy_str(struct sn_batch *b, const char *s)
{
    if (s == NULL)
        return NULL;
    return sn_arena_memdup(&b->arena, s, strlen(s) + 1);
}

enum sn_status
sn_emitter_emit(struct sn_emitter *em, const struct sn_record *rec)
{
    struct sn_batch *b = em->cur;
    struct sn_event *ev;
    char *data;

    if (rec->data.len > SN_RECORD_MAX) {
        count_drop(em, "record larger than the core's limit");
        return SN_ELIMIT;
    }
    if (b != NULL && (b->n == SN_BATCH_MAX_RECORDS ||
                      b->bytes + rec->data.len > BATCH_SOFT_BYTES)) {
        sn_emitter_flush(em);
        b = NULL;
    }
    if (b == NULL) {
        b = sn_batch_get_for(em->in->pl->pool, em->owner,
                             em->drop_when_full);
        if (b == NULL) {
            count_drop(em, em->drop_when_full
                               ? "pipeline full (this input drops when full)"
                               : "pipeline is stopping");
            return SN_AGAIN;
        }
        b->input = em->in;
        b->seq = atomic_fetch_add(&em->in->pl->next_batch_seq, 1) + 1;
        em->cur = b;
    }
    data = sn_arena_alloc(&b->arena, rec->data.len + 1);
    if (data == NULL) {
        count_drop(em, "out of memory");
        return SN_ENOMEM;
    }
    memcpy(data, rec->data.ptr, rec->data.len);
    /* NUL after the data helps parsers that use C string functions on a
     * copy; it is not part of the record. */
    data[rec->data.len] = '\0';
    ev = &b->events[b->n];
    ev->rec = *rec;
    ev->rec.data.ptr = data;
    ev->rec.input = em->in->name;
    if (rec->peer != b->peer_src || b->peer_copy == NULL ||
        (rec->peer && strcmp(rec->peer, b->peer_copy) != 0)) {
        b->peer_src = rec->peer;
        b->peer_copy = copy_str(b, rec->peer);
    }
    ev->rec.peer = b->peer_copy;
    /* Transport names are string literals in every input we ship, but a
     * plugin may pass a buffer: copy once per batch and pointer. */
    if (rec->transport != b->transport_src || b->transport_copy == NULL) {
        b->transport_src = rec->transport;
        b->transport_copy = copy_str(b, rec->transport);
    }
    ev->rec.transport = b->transport_copy;
    b->n++;
    b->bytes += rec->data.len;
    em->last_seq = b->seq;
    return SN_OK;
}
