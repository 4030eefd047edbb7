/*
 * Bump allocator owning all per-batch memory (records, parsed fields).
 * Freed as a whole: sn_arena_reset keeps the first chunk for reuse, so a
 * recycled batch allocates nothing in steady state (nginx pools).
 * docs/internals/memory.md explains the ownership rules.
 */
#ifndef SN_CORE_ARENA_H
#define SN_CORE_ARENA_H

#include <stddef.h>

struct sn_arena_chunk;

struct sn_arena {
    struct sn_arena_chunk *head; /* current chunk; older ones chained */
    size_t chunk_size;
    size_t max_bytes; /* total cap; 0 = unlimited */
    size_t total;     /* bytes in all chunks */
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
/* Forget all allocations; the first chunk is kept, the others freed. */
void sn_arena_reset(struct sn_arena *a);

#endif
