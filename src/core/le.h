/*
 * Little-endian integers in byte buffers, for the formats that leave the
 * process: the correlation engine's checkpoints (src/rules/correlate_ckpt.c)
 * and det_rules' compact matches and replay marks (det_rules_hop.c). Writing
 * appends the n low bytes of a uint64_t; reading is a cursor that fails once
 * and stays failed (every later read gives 0 or NULL), so a parser reads a
 * whole record and checks once. Signed values are written as their two's
 * complement bits and read back with a cast to the signed type of the same
 * width: (int32_t)(uint32_t)sn_le_get(r, 4), never (int64_t) of 4 bytes.
 */
#ifndef SN_CORE_LE_H
#define SN_CORE_LE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Append the n (1..8) low bytes of v, least significant first. */
static inline enum sn_status
sn_le_put(struct sn_buf *b, uint64_t v, size_t n)
{
    unsigned char x[8];

    for (size_t i = 0; i < n && i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return sn_buf_append(b, x, n < 8 ? n : 8);
}

/* Overwrite the 4 bytes at `at` (a count written as 0 before it was
 * known); at + 4 <= b->len. */
static inline void
sn_le_patch32(struct sn_buf *b, size_t at, uint32_t v)
{
    for (size_t i = 0; i < 4; i++)
        ((unsigned char *)b->data)[at + i] = (unsigned char)(v >> (8 * i));
}

struct sn_le_rd {
    const unsigned char *p, *end;
    bool failed; /* a read ran past the end */
};

static inline void
sn_le_rd_init(struct sn_le_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->end = r->p + len;
    r->failed = false;
}

/* The next n bytes (borrowed from the buffer), or NULL when fewer are
 * left: the cursor has failed. */
static inline const unsigned char *
sn_le_take(struct sn_le_rd *r, size_t n)
{
    const unsigned char *p = r->p;

    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return NULL;
    }
    r->p += n;
    return p;
}

/* The next n (1..8) bytes as an unsigned integer; 0 when fewer are left. */
static inline uint64_t
sn_le_get(struct sn_le_rd *r, size_t n)
{
    const unsigned char *x = sn_le_take(r, n);
    uint64_t v = 0;

    for (size_t i = 0; x != NULL && i < n && i < 8; i++)
        v |= (uint64_t)x[i] << (8 * i);
    return v;
}

#endif
