/*
 * Caller-owned error detail: a message plus the config position it is
 * about, printed like a compiler diagnostic so editors can jump to it.
 */
#ifndef SN_CORE_ERROR_H
#define SN_CORE_ERROR_H

#include <stddef.h>

struct sn_error {
    char msg[256];
    const char *file; /* borrowed; NULL when not about a file */
    int line;         /* 1-based; 0 when unknown */
    int col;          /* 1-based; 0 when unknown */
};

/* Clear err (NULL accepted). */
void sn_error_clear(struct sn_error *err);
/* Format the message into err->msg; position fields are left alone. */
void sn_error_set(struct sn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Format the message and set its position. */
void sn_error_at(struct sn_error *err, const char *file, int line, int col,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
