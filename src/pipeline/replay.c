/*
 * Journal replay at start (docs/journal.md): every record from the
 * journal's oldest needed position is emitted again, on a thread of its
 * own, through the input it came from (its parser chain and detectors);
 * records before the output position are marked detect_only, so they
 * rebuild correlation windows without reaching event outputs twice.
 * Inputs wait in input_main until this finished; /health says
 * "replaying" meanwhile.
 */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/status.h"
#include "journal/journal.h"
#include "pipeline/emitter.h"
#include "pipeline/pipeline.h"

struct replay {
    struct sn_pipeline *pl;
    struct sn_emitter **ems; /* one per instance index, made on demand */
    struct sn_emitter *cur;  /* the one the last record went into */
    bool detect_only;
    uint64_t unknown; /* records of inputs no longer configured */
};

static struct sn_instance *
find_input(struct sn_pipeline *pl, const char *name, size_t *idx)
{
    for (size_t i = 0; i < pl->n_insts; i++)
        if (pl->insts[i].kind == SN_KIND_INPUT &&
            strcmp(pl->insts[i].name, name) == 0) {
            *idx = i;
            return &pl->insts[i];
        }
    return NULL;
}

static enum sn_status
on_rec(void *arg, const struct sn_journal_rec *jr)
{
    struct replay *r = arg;
    struct sn_instance *in;
    struct sn_emitter *em;
    struct sn_record rec;
    size_t idx = 0;
    enum sn_status rc;

    if (atomic_load(&r->pl->replay_stop))
        return SN_AGAIN;
    in = find_input(r->pl, jr->input, &idx);
    if (in == NULL) {
        if (r->unknown++ == 0)
            sn_log_warn("journal replay: input '%s' is no longer "
                        "configured; its records are skipped (counted at "
                        "the end)",
                        jr->input);
        return SN_OK;
    }
    if (r->ems[idx] == NULL) {
        r->ems[idx] = sn_emitter_new(in, false);
        if (r->ems[idx] == NULL)
            return SN_ENOMEM;
        r->ems[idx]->replay = true;
    }
    em = r->ems[idx];
    /* Batches are tracked in journal order: one emitter holds records at
     * a time, and a batch never mixes detect_only with new records. */
    if ((r->cur != NULL && r->cur != em) || r->detect_only != jr->detect_only) {
        if (r->cur != NULL)
            sn_emitter_flush(r->cur);
    }
    r->cur = em;
    r->detect_only = jr->detect_only;
    em->detect_only = jr->detect_only;
    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = jr->data;
    rec.data.len = jr->len;
    rec.recv_ns = jr->recv_ns;
    rec.peer = jr->peer[0] != '\0' ? jr->peer : NULL;
    rec.transport = jr->transport[0] != '\0' ? jr->transport : NULL;
    rec.source_offset = jr->source_offset;
    rec.source_part = -1;
    /* A full batch flushes inside emit with the previous end, which is
     * where that batch's last record ended. */
    if (em->cur != NULL && em->cur->n == SN_BATCH_MAX_RECORDS)
        sn_emitter_flush(em);
    rc = sn_emitter_emit(em, &rec);
    em->replay_end = jr->end;
    return rc;
}

static void *
replay_main(void *arg)
{
    struct sn_pipeline *pl = arg;
    struct replay r = { .pl = pl };
    struct sn_error err;
    enum sn_status rc;

    sn_error_clear(&err);
    r.ems = calloc(pl->n_insts, sizeof(*r.ems));
    if (r.ems == NULL)
        rc = SN_ENOMEM;
    else
        rc = sn_journal_replay(pl->journal, on_rec, &r, &err);
    for (size_t i = 0; r.ems != NULL && i < pl->n_insts; i++)
        sn_emitter_free(r.ems[i]);
    free(r.ems);
    if (rc != SN_OK && rc != SN_AGAIN)
        sn_log_error("journal replay stopped: %s",
                     err.msg[0] ? err.msg : sn_status_str(rc));
    if (r.unknown > 0)
        sn_log_warn("journal replay: %llu records of inputs no longer "
                    "configured were skipped",
                    (unsigned long long)r.unknown);
    sn_log_info("journal replay done");
    sn_journal_set_replaying(pl->journal, false);
    return NULL;
}

enum sn_status
sn_replay_start(struct sn_pipeline *pl, struct sn_error *err)
{
    atomic_store(&pl->replay_stop, false);
    sn_journal_set_replaying(pl->journal, true);
    if (pthread_create(&pl->replay_thread, NULL, replay_main, pl) != 0) {
        sn_journal_set_replaying(pl->journal, false);
        sn_error_set(err, "cannot create the journal replay thread");
        return SN_EIO;
    }
    pl->replay_started = true;
    return SN_OK;
}

void
sn_replay_join(struct sn_pipeline *pl)
{
    if (!pl->replay_started)
        return;
    atomic_store(&pl->replay_stop, true);
    pthread_join(pl->replay_thread, NULL);
    pl->replay_started = false;
}
