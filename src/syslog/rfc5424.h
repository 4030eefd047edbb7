/*
 * RFC 5424 syslog message parser: one message (already de-framed by the
 * transport) into struct sn_syslog_msg, exactly by the ABNF of RFC 5424
 * section 6 plus the MUSTs of its prose. It does not de-frame (octet
 * counting, LF trailers: RFC 6587 is the input's job), guess, or repair;
 * RFC 3164 and other formats are the business of their own parsers.
 */
#ifndef SN_SYSLOG_RFC5424_H
#define SN_SYSLOG_RFC5424_H

#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/arena.h"
#include "syslog/msg.h"

/*
 * Parse the exact bytes p[0..len) as one RFC 5424 SYSLOG-MSG into *out.
 *
 * Zero copy: header fields, SD-IDs, PARAM-NAMEs, PARAM-VALUEs without
 * escapes and MSG are slices of p, so p must outlive *out. The arena holds
 * only the SD param array (when there is STRUCTURED-DATA) and PARAM-VALUEs
 * that had escapes; both live until the arena is reset. No malloc happens
 * unless the arena needs a new chunk.
 *
 * What *out holds on SN_OK:
 * - NILVALUE header fields have ptr == NULL (JSON null).
 * - has_time/time_ns: the TIMESTAMP in UTC nanoseconds. A valid TIMESTAMP
 *   outside int64 nanoseconds (before 1677 or after 2262) is accepted with
 *   has_time false, the text kept, and a note.
 * - sd/n_sd: params in message order; an SD-ELEMENT without params is one
 *   entry with name.ptr == NULL. has_sd is false for the NILVALUE.
 * - msg: ptr == NULL when the message ends right after STRUCTURED-DATA;
 *   a zero-length non-NULL slice (JSON "") when an SP follows it and
 *   nothing else (the ABNF's [SP MSG] is then present with an empty
 *   MSG). A leading UTF-8 BOM is removed and msg_has_bom set. MSG bytes
 *   are otherwise exact: a trailing LF, CR or NUL is part of MSG.
 *
 * Returns SN_EINVAL when the bytes are not a valid RFC 5424 message, with
 * err->reason (short lowercase English, e.g. "PRI value 192 out of range
 * 0..191") and err->offset (offset of the offending byte; len when the
 * message is truncated). Returns SN_ELIMIT past SN_EVENT_MAX_SD_PARAMS SD
 * entries and SN_ENOMEM when the arena refuses memory, also with err set.
 * *out is unspecified after an error. err may be NULL.
 *
 * Thread-safe for distinct arenas/outputs; no global state.
 */
enum sn_status sn_rfc5424_parse(const char *p, size_t len,
                                struct sn_arena *arena,
                                struct sn_syslog_msg *out,
                                struct sn_parse_error *err);

#endif
