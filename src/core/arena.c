/* Chunked bump allocator; see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sn_arena_chunk {
    struct sn_arena_chunk *prev;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

void
sn_arena_init(struct sn_arena *a, size_t chunk_size, size_t max_bytes)
{
    a->head = NULL;
    a->spare = NULL;
    a->chunk_size = chunk_size;
    a->max_bytes = max_bytes;
    a->total = 0;
}

void
sn_arena_fini(struct sn_arena *a)
{
    struct sn_arena_chunk *c, *prev;

    if (a == NULL)
        return;
    for (c = a->head; c != NULL; c = prev) {
        prev = c->prev;
        free(c);
    }
    for (c = a->spare; c != NULL; c = prev) {
        prev = c->prev;
        free(c);
    }
    a->head = NULL;
    a->spare = NULL;
    a->total = 0;
}

static struct sn_arena_chunk *
chunk_new(struct sn_arena *a, size_t need)
{
    size_t size = need > a->chunk_size ? need : a->chunk_size;
    struct sn_arena_chunk *c;

    if (a->max_bytes != 0 && a->total + size > a->max_bytes)
        return NULL;
    if (size == a->chunk_size && a->spare != NULL) {
        c = a->spare;
        a->spare = c->prev;
        c->prev = a->head;
        c->used = 0;
        a->head = c;
        a->total += size;
        return c;
    }
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->prev = a->head;
    c->size = size;
    c->used = 0;
    a->head = c;
    a->total += size;
    return c;
}

void *
sn_arena_alloc(struct sn_arena *a, size_t len)
{
    struct sn_arena_chunk *c = a->head;
    size_t need = ALIGN16(len == 0 ? 1 : len);
    void *p;

    if (need < len)
        return NULL;
    if (c == NULL || c->size - c->used < need) {
        c = chunk_new(a, need);
        if (c == NULL)
            return NULL;
    }
    p = c->data + c->used;
    c->used += need;
    return p;
}

void *
sn_arena_memdup(struct sn_arena *a, const void *p, size_t len)
{
    void *q = sn_arena_alloc(a, len);

    if (q != NULL && len > 0)
        memcpy(q, p, len);
    return q;
}

void
sn_arena_reset(struct sn_arena *a)
{
    struct sn_arena_chunk *c, *next, *oldest = NULL;
    size_t n_keep = 0;

    for (c = a->spare; c != NULL; c = c->prev)
        n_keep++;
    /* Reverse the chain (head is the newest) to walk oldest first: the
     * oldest regular chunk becomes the head again, the next regular ones
     * spares up to the limit; the rest, and oversized chunks (one huge
     * record), are freed so they do not pin memory forever. */
    for (c = a->head; c != NULL; c = next) {
        next = c->prev;
        c->prev = oldest;
        oldest = c;
    }
    a->head = NULL;
    a->total = 0;
    for (c = oldest; c != NULL; c = next) {
        next = c->prev;
        if (c->size != a->chunk_size || n_keep >= SN_ARENA_KEEP_CHUNKS) {
            free(c);
            continue;
        }
        c->used = 0;
        if (a->head == NULL) {
            c->prev = NULL;
            a->head = c;
            a->total = c->size;
            n_keep++;
            continue;
        }
        c->prev = a->spare;
        a->spare = c;
        n_keep++;
    }
}
