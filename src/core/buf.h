/*
 * Growable byte buffer with a maximum fixed at creation (curl dynbuf):
 * appending past the maximum fails with SN_ELIMIT instead of growing on
 * peer input. This is the struct sn_buf plugins see through the host.
 */
#ifndef SN_CORE_BUF_H
#define SN_CORE_BUF_H

#include <stddef.h>
#include <string.h>

#include <sentineld/plugin.h>

struct sn_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void sn_buf_init(struct sn_buf *b, size_t max);
void sn_buf_fini(struct sn_buf *b);
struct sn_buf *sn_buf_new(size_t max);
void sn_buf_free(struct sn_buf *b);
void sn_buf_reset(struct sn_buf *b);
/* Make room for n more bytes. */
enum sn_status sn_buf_reserve(struct sn_buf *b, size_t n);
enum sn_status sn_buf_append_slow(struct sn_buf *b, const void *p, size_t n);
/* Append n bytes; inline when they fit (the JSON writer's common case). */
static inline enum sn_status
sn_buf_append(struct sn_buf *b, const void *p, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return SN_OK;
    }
    return sn_buf_append_slow(b, p, n);
}
/* Append a string literal without strlen. */
#define SN_BUF_LIT(b, lit) sn_buf_append((b), (lit), sizeof(lit) - 1)
enum sn_status sn_buf_putc_slow(struct sn_buf *b, char c);
/* Append one byte; the common case is inline (JSON writing calls this
 * for every separator). */
static inline enum sn_status
sn_buf_putc(struct sn_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        return SN_OK;
    }
    return sn_buf_putc_slow(b, c);
}
enum sn_status sn_buf_puts(struct sn_buf *b, const char *s);
enum sn_status sn_buf_printf(struct sn_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* NUL-terminate without counting the NUL in len; returns data. */
const char *sn_buf_cstr(struct sn_buf *b);

#endif
