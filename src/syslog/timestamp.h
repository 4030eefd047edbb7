/*
 * RFC 3339 date-time parsing for the syslog parsers: the strict RFC 5424
 * TIMESTAMP (6.2.3) for the RFC 5424 parser and a lenient variant for the
 * RFC 3164 parser, both converting to UTC nanoseconds since the epoch. It
 * does not know about BSD "Mmm dd hh:mm:ss" stamps or local time zones; the
 * RFC 3164 parser owns those and uses sn_days_from_civil() from here.
 */
#ifndef SN_SYSLOG_TIMESTAMP_H
#define SN_SYSLOG_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "syslog/msg.h"

/* Flags reported by sn_rfc3339_parse_lenient(): what it had to tolerate. */
#define SN_TS_NO_OFFSET      0x01u /* no TIME-OFFSET; time read as UTC */
#define SN_TS_LOWERCASE      0x02u /* 't' or 'z' in lower case */
#define SN_TS_SPACE_SEP      0x04u /* ' ' between date and time, not 'T' */
#define SN_TS_LONG_FRAC      0x08u /* more than 6 fraction digits */
#define SN_TS_LEAP_SECOND    0x10u /* second 60, counted as the next one */
#define SN_TS_OFFSET_NOCOLON 0x20u /* "+hhmm" instead of "+hh:mm" */

/*
 * Parse a strict RFC 5424 6.2.3 TIMESTAMP (not the NILVALUE) at the start
 * of p[0..len): FULL-DATE "T" PARTIAL-TIME TIME-OFFSET with upper-case 'T'
 * and 'Z', 1..6 fraction digits, month/day checked against the calendar
 * (proleptic Gregorian, leap years included), hour 00..23, minute 00..59,
 * second 00..59 (6.2.3: "Leap seconds MUST NOT be used"), offset hour
 * 00..23 and minute 00..59. Parsing stops at the end of TIME-OFFSET; the
 * caller checks what follows. On SN_OK *ns_utc is the instant in UTC
 * nanoseconds since 1970-01-01T00:00:00Z (negative before it) and
 * *consumed the number of bytes of the timestamp.
 *
 * Returns SN_EINVAL when the text is not a valid TIMESTAMP: err->reason
 * says why and err->offset is the offset of the offending byte relative to
 * p (len when the text is truncated). Returns SN_ELIMIT when the timestamp
 * is valid but the instant does not fit int64_t nanoseconds (years before
 * 1677-09-21 or after 2262-04-11); *consumed is then set, *ns_utc is not.
 * err may be NULL. Pure function; thread-safe.
 */
enum sn_status sn_rfc3339_parse(const char *p, size_t len, int64_t *ns_utc,
                                size_t *consumed, struct sn_parse_error *err);

/*
 * Like sn_rfc3339_parse() but also accepting what RFC 3339 and real
 * senders allow beyond RFC 5424 (for the RFC 3164 parser): lower-case 't'
 * and 'z' (RFC 3339 5.6 note), a space instead of 'T', any number of
 * fraction digits (digits past the 9th are truncated, not rounded),
 * second 60 (RFC 3339 5.7; counted as second 0 of the next minute), an
 * offset written "+hhmm", and a missing offset: then *ns_utc is the wall
 * clock read as if it were UTC and the caller applies its own zone.
 * *flags (may be NULL) receives the SN_TS_* flags of what was tolerated.
 * Everything else (return values, consumed, err) as sn_rfc3339_parse().
 */
enum sn_status sn_rfc3339_parse_lenient(const char *p, size_t len,
                                        int64_t *ns_utc, size_t *consumed,
                                        unsigned *flags,
                                        struct sn_parse_error *err);

/*
 * Days from 1970-01-01 to the proleptic Gregorian date y-m-d (negative
 * before it), for any y representable without overflow (|y| < 2^55).
 * m is 1..12 and d 1..31; the date is not validated (day 31 of a 30-day
 * month is the 1st of the next). Howard Hinnant's days_from_civil method.
 */
int64_t sn_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The inverse: the proleptic Gregorian date of day `days` (0 is
 * 1970-01-01), for |days| < 2^50. Hinnant's civil_from_days. */
void sn_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/*
 * ns since the epoch as RFC 3339 UTC text with nanoseconds,
 * "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ": 30 characters and a NUL, always (an
 * int64 of nanoseconds spans the years 1677..2262).
 */
#define SN_RFC3339_NS_LEN 30
void sn_rfc3339_format(int64_t ns, char out[SN_RFC3339_NS_LEN + 1]);

/* Days in month m (1..12) of year y, leap years included; 0 when m is out
 * of range. */
unsigned sn_days_in_month(int64_t y, unsigned m);

#endif
