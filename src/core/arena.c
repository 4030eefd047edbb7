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
    a->head = NULL;
    a->total = 0;
}

static struct sn_arena_chunk *
chunk_new(struct sn_arena *a, size_t need)
{
    size_t size = need > a->chunk_size ? need : a->chunk_size;
    struct sn_arena_chunk *c;

    if (a->max_bytes != 0 && a->total + size > a->max_bytes)
        return NULL;
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
    struct sn_arena_chunk *c = a->head, *prev;

    if (c == NULL)
        return;
    /* Keep the oldest chunk (the regular-sized one) and free the rest, so
     * one oversized batch does not pin memory forever. */
    while (c->prev != NULL) {
        prev = c->prev;
        a->total -= c->size;
        free(c);
        c = prev;
    }
    c->used = 0;
    a->head = c;
}
