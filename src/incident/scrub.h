/*
 * PII scrubbing of incident evidence and explanations before they are
 * stored or leave the process: e-mail addresses, phone numbers, card-like
 * numbers (Luhn-checked), JWTs, bearer tokens, and secrets in key=value
 * or "key":"value" forms, plus configurable PCRE2 patterns. Fields on the
 * allow-list (by JSON key, e.g. source.ip) are kept as they are. What is
 * matched and why: docs/incidents.md, "PII scrubbing".
 *
 * One struct sn_scrub per thread (it owns PCRE2 match data).
 */
#ifndef SN_INCIDENT_SCRUB_H
#define SN_INCIDENT_SCRUB_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"

struct sn_scrub;
struct json_object;

/* The fields kept as they are when the configuration names none. */
extern const char *const sn_scrub_default_keep[];

/*
 * patterns: extra PCRE2 patterns (matches become "[redacted]"); keep:
 * JSON keys whose string values are not scrubbed (NULL: the defaults).
 * SN_ECONFIG with err naming the bad pattern and offset.
 */
enum sn_status sn_scrub_new(const struct sn_strlist *patterns,
                            const struct sn_strlist *keep,
                            struct sn_scrub **out, struct sn_error *err);
void sn_scrub_free(struct sn_scrub *s);

/* Append the scrubbed text of in[0..len) to out; returns how many
 * replacements were made (0: out got the text unchanged), or -1 when
 * out hit its limit. */
long sn_scrub_text(struct sn_scrub *s, const char *in, size_t len,
                   struct sn_buf *out);

/* True when the key is on the allow-list. */
bool sn_scrub_keeps(const struct sn_scrub *s, const char *key);

/* True when a string under this JSON key (its last dotted component,
 * case-insensitively) is a secret: its whole value is replaced. */
bool sn_scrub_secret_key(const char *key, size_t len);

/* Scrub every string in the tree in place (keys whose name is a secret,
 * such as "password", get their whole value replaced). Returns the number
 * of replacements. */
long sn_scrub_json(struct sn_scrub *s, struct json_object *o);

#endif
