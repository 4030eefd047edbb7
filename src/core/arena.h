/*
 * Bump allocator owning all per-batch memory (records, parsed fields).
 * Freed as a whole: sn_arena_reset keeps the first chunk for reuse, so a
 * recycled batch allocates nothing in steady state (nginx pools).
 * docs/internals/memory.md explains the ownership rules.
 */
#ifndef SN_CORE_ARENA_H
#define SN_CORE_ARENA_H

#include <stddef.h>

/* Chunks an arena keeps across resets. A batch of 1024 typical events
 * needs two 512 KiB chunks (the records, their fields and their rendered
 * JSON); freeing the second one on every reset cost a malloc and free of
 * 512 KiB per batch, spread over the threads' malloc arenas, and showed
 * as RSS spikes of several MB under a flood (bench/rss_flood.sh). */
#define SN_ARENA_KEEP_CHUNKS 2

struct sn_arena_chunk;

struct sn_arena {
    struct sn_arena_chunk *head; /* current chunk; older ones chained */
    size_t chunk_size;
    size_t max_bytes; /* total cap; 0 = unlimited */
    size_t total;     /* bytes in all chunks */
    struct sn_arena_chunk *spare; /* regular chunks kept by reset */
};

/* Caller storage; no memory is taken until the first allocation. */
void sn_arena_init(struct sn_arena *a, size_t chunk_size, size_t max_bytes);
/* Release everything (NULL accepted). */
void sn_arena_fini(struct sn_arena *a);
/* Allocate len bytes aligned to 16; NULL when the cap is hit or ENOMEM.
 * Valid until reset/fini. */
void *sn_arena_alloc(struct sn_arena *a, size_t len);
/* Copy len bytes into the arena. */
void *sn_arena_memdup(struct sn_arena *a, const void *p, size_t len);
/* Forget all allocations. Regular-sized chunks are kept for reuse (the
 * oldest SN_ARENA_KEEP_CHUNKS, counting the first); the rest and oversized
 * ones are freed. */
void sn_arena_reset(struct sn_arena *a);

#endif
