/* Input-side record batching; see emitter.c and plugin.h (emit). */
#ifndef SN_PIPELINE_EMITTER_H
#define SN_PIPELINE_EMITTER_H

#include "pipeline/pipeline.h"

struct sn_emitter {
    struct sn_instance *in;
    struct sn_batch *cur;
    struct sn_batch_owner *owner; /* its share of the pool (batch.h) */
    unsigned worker;
    bool drop_when_full;
    uint64_t last_seq; /* seq of the batch the last emit went into */
    /* Journal replay (pipeline/replay.c): batches are not appended again
     * but tracked at replay_end, the journal position after their last
     * record, and detect_only is copied into each batch. */
    bool replay;
    bool detect_only;
    uint64_t replay_end;
    /* Journal position after the last batch this emitter appended:
     * flush_sync waits until it is on disk, also when the batches were
     * appended by plain flushes (a full batch flushed by emit()). */
    uint64_t jend;
};

struct sn_emitter *sn_emitter_new(struct sn_instance *in, bool drop_when_full);
/* Copy rec into the current batch; see host->emit for the contract. */
enum sn_status sn_emitter_emit(struct sn_emitter *em,
                               const struct sn_record *rec);
void sn_emitter_flush(struct sn_emitter *em);
/* flush(); with the ingest journal on, SN_OK means the records are in it.
 * A journal that cannot be written is retried until the input stops; then
 * the records are dropped and counted, and SN_EIO/SN_AGAIN returned. */
enum sn_status sn_emitter_flush_sync(struct sn_emitter *em);
/* Flushes, then frees (NULL accepted). */
void sn_emitter_free(struct sn_emitter *em);

#endif
