/*
 * One JSON object per record into an event (json-c), shared by parse_json
 * and parse_auto. Keys of the event schema (docs/events.md: pri, hostname,
 * appname, procid, msgid, msg, timestamp; host/app/message as aliases) fill
 * the header; every other key becomes a field, nested objects flattened
 * with dots ("source": {"ip": ..} -> "source.ip") down to max_depth.
 */
#ifndef SN_PLUGINS_JSON_EVENT_H
#define SN_PLUGINS_JSON_EVENT_H

#include <sentineld/plugin.h>

/* Parser contract of plugin.h: SN_OK, or SN_EINVAL with why and offset. */
enum sn_status json_event_parse(const struct sn_host *host, int max_depth,
                                const struct sn_record *rec,
                                struct sn_event *ev, char *why, size_t why_len,
                                size_t *offset);

/* The same with json-c only: the reference the fast path is tested
 * against (tests/unit/test_json_event.c). */
enum sn_status json_event_parse_jsonc(const struct sn_host *host,
                                      int max_depth,
                                      const struct sn_record *rec,
                                      struct sn_event *ev, char *why,
                                      size_t why_len, size_t *offset);

#endif
