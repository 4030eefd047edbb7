/*
 * Parsing the times (and plain integers) API clients write: shared by the
 * core's routes and the plugins that serve their own (out_history's event
 * search), which link it from libsnsyslog.
 */
#ifndef SN_CORE_TIME_PARSE_H
#define SN_CORE_TIME_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* 2200-01-01T00:00:00Z in ns: the latest time a query may name. Far
 * enough from INT64_MAX that the difference of two valid times, plus a
 * bucket, never overflows. */
#define SN_TIME_PARSE_MAX_NS (7258118400LL * 1000000000)

/* RFC 3339 UTC ("2026-01-02T03:04:05Z", fraction allowed) or integer ns
 * since the epoch, 1970 to 2199, real dates only (no month 13, no 31
 * April). False for anything else; *out is set only on success. */
bool sn_time_parse(const char *s, int64_t *out);

/* A count, limit or cursor as API clients write it: decimal digits only
 * (no sign, blank, exponent or trailing byte, which strtoll would take or
 * stop at) whose value lies in [lo, hi] (lo >= 0). False for anything
 * else, overflow included; *out is set only on success. */
bool sn_time_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

#endif
