/*
 * Minimal JSON writing for the hot path (events out to files, Kafka and
 * the CLI). Reading JSON uses json-c; writing by hand avoids building a
 * json-c tree per event, which costs more than the event itself.
 */
#ifndef SN_CORE_JSON_H
#define SN_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The value of one hex digit, or -1. */
static inline int
sn_json_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Append s as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD,
 * control characters \uXXXX escapes; valid UTF-8 passes through. */
enum sn_status sn_json_str(struct sn_buf *b, const char *s, size_t len);
/* A quoted string, or null when s is NULL. */
enum sn_status sn_json_str_or_null(struct sn_buf *b, const char *s,
                                   size_t len);
/* "key": (quoted key and colon; keys are trusted ASCII). */
enum sn_status sn_json_key(struct sn_buf *b, const char *key);
enum sn_status sn_json_int(struct sn_buf *b, int64_t v);
/* v in decimal into out, unterminated; returns its length (at most 20). */
#define SN_INT_TEXT_MAX 24
size_t sn_int_text(int64_t v, char out[SN_INT_TEXT_MAX]);
/* ,"key":"s" (or null when s is NULL): the next member of an object. */
enum sn_status sn_json_member_str(struct sn_buf *b, const char *key,
                                  const char *s);

/* Return from the calling function when a JSON append fails (the
 * writers' idiom; expects an `enum sn_status rc` in scope). */
#define SN_JSON_TRY(x)                                                         \
    do {                                                                       \
        if ((rc = (x)) != SN_OK)                                               \
            return rc;                                                         \
    } while (0)
/* True when the bytes are valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool sn_utf8_valid(const char *s, size_t len);

#endif
