/*
 * The text of a typed value, as rules compare and group it: strings as
 * they are, integers and times in decimal, doubles with full precision,
 * booleans as true/false, addresses in canonical form.
 */
#ifndef SN_RULES_VALUE_H
#define SN_RULES_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/buf.h"

/* *out is v's own string, or the text written into tmp (64 bytes are
 * enough for every non-string type). False for null values. */
bool sn_value_text(const struct sn_value *v, char *tmp, size_t tmp_len,
                   struct sn_str *out);

/* v as a JSON value: numbers and booleans bare, strings and addresses
 * quoted, times as integer nanoseconds, null for null. */
enum sn_status sn_value_json(const struct sn_value *v, struct sn_buf *out);

#endif
