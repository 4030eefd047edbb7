/* struct sn_error helpers; see error.h. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
sn_error_clear(struct sn_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}

void
sn_error_set(struct sn_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

void
sn_error_at(struct sn_error *err, const char *file, int line, int col,
            const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    err->file = file;
    err->line = line;
    err->col = col;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}
