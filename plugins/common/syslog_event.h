/*
 * Shared by the syslog parser plugins (parse_rfc5424, parse_rfc3164,
 * parse_auto): run the library parsers of src/syslog on a record and move
 * the result into the event through the host API. Compiled into each
 * plugin; nothing here is exported.
 */
#ifndef SN_PLUGINS_SYSLOG_EVENT_H
#define SN_PLUGINS_SYSLOG_EVENT_H

#include <pthread.h>
#include <stdatomic.h>

#include <sentineld/plugin.h>

#include "syslog/msg.h"

enum syslog_mode { MODE_RFC5424, MODE_RFC3164, MODE_AUTO };

struct syslog_conf {
    const char *timezone; /* "local", "UTC", "+01:00" */
    bool fallback;        /* auto/5424: rejected 5424 goes to 3164 */
};

struct syslog_parser {
    const struct sn_host *host;
    enum syslog_mode mode;
    bool fallback;
    bool tz_local;
    int32_t tz_fixed;
    /* Per-thread scratch (workers run parsers concurrently): the arena
     * for unescaped SD values and the RFC 3164 timestamp memo; freed by
     * the key's destructor at thread exit. */
    pthread_key_t scratch;
    /* Local UTC offset, recomputed at most once a second. */
    _Atomic int64_t tz_second;
    _Atomic int32_t tz_offset;
    /* parse_auto only: how JSON records are parsed (NULL elsewhere, so the
     * other syslog parsers do not link json-c). */
    enum sn_status (*json_parse)(const struct sn_host *host, int max_depth,
                                 const struct sn_record *rec,
                                 struct sn_event *ev, char *why,
                                 size_t why_len, size_t *offset);
};

extern const struct sn_option syslog_parser_options[];

enum sn_status syslog_parser_init(const struct sn_host *host,
                                  enum syslog_mode mode,
                                  const struct syslog_conf *c, void **state,
                                  char *err, size_t err_len);
void syslog_parser_destroy(void *state);
enum sn_status syslog_parser_parse(void *state, const struct sn_record *rec,
                                   struct sn_event *ev, char *why,
                                   size_t why_len, size_t *offset);

#endif
