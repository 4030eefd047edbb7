/*
 * RFC 3164 ("BSD syslog") parsing as rsyslog's pmrfc3164 and syslog-ng
 * accept it in practice: optional PRI, BSD or RFC 3339 timestamps, optional
 * hostname, TAG[PID]: and the Cisco/ASA variants. It never copies: every
 * field is a slice of the input. It does not frame (one message in, no
 * octet counting) and does not do RFC 5424; see rfc5424.h and detect.h.
 * Every guess it makes is recorded with sn_syslog_msg_note().
 */
#ifndef SN_SYSLOG_RFC3164_H
#define SN_SYSLOG_RFC3164_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/arena.h"
#include "syslog/msg.h"

struct sn_rfc3164_opts {
    /* Reference time (UTC nanoseconds since the epoch) for the year of
     * timestamps that carry none: usually the receive time. */
    int64_t now_ns;
    /* Offset from UTC, seconds east, of BSD timestamps that name no zone
     * (the sender's local time; RFC 3164 4.1.2 says nothing about it). */
    int32_t tz_offset_sec;
};

/*
 * Parse the len bytes at p (one message, not NUL-terminated, trailing
 * CR/LF kept in msg) into out, which is reset first. opts may be NULL: the
 * current wall clock and UTC are used. arena is not used today (every
 * field is a slice of p, valid as long as p is) but is part of the parser
 * contract shared with sn_rfc5424_parse.
 *
 * Returns SN_OK for everything rsyslog would accept, which is everything
 * but an empty message: then SN_EINVAL with err->reason and err->offset
 * filled (err may be NULL). Missing parts are reported as absent fields
 * plus notes, e.g. "pri absent", "no timestamp", "year inferred",
 * "timezone assumed", "no hostname". Thread-safe; no allocation.
 */
enum sn_status sn_rfc3164_parse(const char *p, size_t len,
                                const struct sn_rfc3164_opts *opts,
                                struct sn_arena *arena,
                                struct sn_syslog_msg *out,
                                struct sn_parse_error *err);

/*
 * What the parser remembers of the last BSD timestamp it read, for a
 * stream of lines that share it (a log file has one stamp per second of
 * its time; a thousand lines may carry it): the text from the month to
 * the end of the seconds and the fields read from it, and the last year
 * inference (its inputs and result). Caller storage, zeroed before first
 * use (sn_rfc3164_memo_init); one per thread. The results are exactly
 * those without it: a hit needs the same bytes, or the same inputs (the
 * reference time in whole seconds: all the inference reads of it).
 */
#define SN_RFC3164_MEMO_TEXT   32
#define SN_RFC3164_MEMO_FIELDS 48

struct sn_rfc3164_memo {
    char text[SN_RFC3164_MEMO_TEXT];
    size_t text_len; /* 0: nothing remembered */
    unsigned char fields[SN_RFC3164_MEMO_FIELDS]; /* the parser's, as read */
    /* infer_year's inputs and its answer */
    bool infer_valid, infer_ok;
    unsigned i_mon, i_day, i_hour, i_min, i_sec;
    uint32_t i_nsec;
    int32_t i_off;
    int64_t i_now_secs, i_ns; /* the reference time, whole seconds */
};

void sn_rfc3164_memo_init(struct sn_rfc3164_memo *memo);

/* sn_rfc3164_parse with a memo (NULL: none); the same results. */
enum sn_status sn_rfc3164_parse_memo(const char *p, size_t len,
                                     const struct sn_rfc3164_opts *opts,
                                     struct sn_rfc3164_memo *memo,
                                     struct sn_arena *arena,
                                     struct sn_syslog_msg *out,
                                     struct sn_parse_error *err);

#endif
