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
};

struct sn_emitter *sn_emitter_new(struct sn_instance *in, bool drop_when_full);
/* Copy rec into the current batch; see host->emit for the contract. */
enum sn_status sn_emitter_emit(struct sn_emitter *em,
                               const struct sn_record *rec);
void sn_emitter_flush(struct sn_emitter *em);
/* Flushes, then frees (NULL accepted). */
void sn_emitter_free(struct sn_emitter *em);

#endif
