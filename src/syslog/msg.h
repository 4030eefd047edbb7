/*
 * A parsed syslog message: the RFC 5424 header fields, structured data and
 * MSG as slices into the input (zero copy), plus what the parser had to
 * guess. Filled by the RFC 5424 and RFC 3164 parsers; the event embeds one
 * of these, and the JSON writer below defines the one event schema
 * (docs/events.md) for `sentineld parse`, out_file and out_kafka alike.
 */
#ifndef SN_SYSLOG_MSG_H
#define SN_SYSLOG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"

/* One PARAM of one SD-ELEMENT, in message order. A repeated SD-ID never
 * occurs (rejected); a repeated PARAM-NAME does and is kept. The value has
 * its RFC 5424 6.3.3 escapes removed (copied to the arena when it had any). */
struct sn_sd_param {
    struct sn_str id;
    struct sn_str name;
    struct sn_str value;
};

/* An SD-ELEMENT may have no params: such an element is recorded as one
 * entry with name.ptr == NULL so `[exampleSDID@32473]` still prints. */

#define SN_SYSLOG_MAX_NOTES 8

struct sn_syslog_msg {
    int pri;     /* 0..191; -1 when absent */
    int version; /* 1 for RFC 5424; -1 when absent */
    /* Header fields: ptr == NULL means absent or NILVALUE (JSON null). */
    struct sn_str timestamp; /* as written */
    struct sn_str hostname;
    struct sn_str appname;
    struct sn_str procid;
    struct sn_str msgid;
    struct sn_str msg; /* without a leading UTF-8 BOM */
    bool has_time;     /* time_ns is a full date-time converted to UTC */
    int64_t time_ns;
    bool has_sd; /* false: NILVALUE or no SD at all (JSON null) */
    bool msg_has_bom;
    struct sn_sd_param *sd; /* arena memory */
    size_t n_sd;
    const char *notes[SN_SYSLOG_MAX_NOTES]; /* static strings: guesses made */
    size_t n_notes;
};

/* Where and why a message was rejected. */
struct sn_parse_error {
    char reason[160];
    size_t offset; /* byte offset into the message */
};

/* Reset m to "everything absent". */
void sn_syslog_msg_init(struct sn_syslog_msg *m);
/* Record a guess (static string); silently ignores past the maximum. */
void sn_syslog_msg_note(struct sn_syslog_msg *m, const char *note);

/*
 * Append the schema's syslog keys, without braces, as
 * "pri":..,"facility":..,"severity":..,"version":..,"timestamp":..,
 * "timestamp_utc_ns":..,"hostname":..,"appname":..,"procid":..,"msgid":..,
 * "sd":..,"msg":.. (absent values are null; timestamp_utc_ns is omitted
 * when there is no full timestamp).
 */
enum sn_status sn_syslog_msg_json(const struct sn_syslog_msg *m,
                                  struct sn_buf *out);

#endif
