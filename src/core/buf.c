/* Bounded growable buffer; see buf.h. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sn_buf_init(struct sn_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
sn_buf_fini(struct sn_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

struct sn_buf *
sn_buf_new(size_t max)
{
    struct sn_buf *b = malloc(sizeof(*b));

    if (b != NULL)
        sn_buf_init(b, max);
    return b;
}

void
sn_buf_free(struct sn_buf *b)
{
    sn_buf_fini(b);
    free(b);
}

void
sn_buf_reset(struct sn_buf *b)
{
    b->len = 0;
}

enum sn_status
sn_buf_reserve(struct sn_buf *b, size_t n)
{
    size_t want = b->len + n + 1; /* +1: room for cstr's NUL */
    size_t cap;
    char *p;

    if (want < n || want - 1 > b->max)
        return SN_ELIMIT;
    if (want <= b->cap)
        return SN_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (p == NULL)
        return SN_ENOMEM;
    b->data = p;
    b->cap = cap;
    return SN_OK;
}

enum sn_status
sn_buf_append_slow(struct sn_buf *b, const void *p, size_t n)
{
    enum sn_status rc;

    if (b->len + n + 1 > b->cap && (rc = sn_buf_reserve(b, n)) != SN_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return SN_OK;
}

enum sn_status
sn_buf_putc_slow(struct sn_buf *b, char c)
{
    return sn_buf_append_slow(b, &c, 1);
}

enum sn_status
sn_buf_puts(struct sn_buf *b, const char *s)
{
    return sn_buf_append(b, s, strlen(s));
}

enum sn_status
sn_buf_printf(struct sn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    enum sn_status rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SN_EINVAL;
    rc = sn_buf_reserve(b, (size_t)n);
    if (rc != SN_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SN_OK;
}

const char *
sn_buf_cstr(struct sn_buf *b)
{
    if (sn_buf_reserve(b, 0) != SN_OK || b->data == NULL)
        return "";
    b->data[b->len] = '\0';
    return b->data;
}
