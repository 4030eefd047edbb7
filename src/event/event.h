/*
 * The event: one parsed record. Lives inside a batch and points into the
 * batch arena (the record's bytes and anything parsers allocate), so it is
 * valid until the batch is released. Plugins see it only through the host
 * accessors (plugin/host.c); the core uses the struct directly.
 * docs/events.md documents the JSON schema written by sn_event_to_json.
 */
#ifndef SN_EVENT_EVENT_H
#define SN_EVENT_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/arena.h"
#include "core/buf.h"
#include "syslog/msg.h"

struct sn_field_entry {
    struct sn_str key;
    struct sn_value val;
};

struct sn_event {
    struct sn_record rec;     /* data in the batch arena */
    struct sn_syslog_msg hdr; /* header fields, SD, MSG */
    struct sn_field_entry *fields;
    uint32_t n_fields;
    uint32_t cap_fields;
    uint32_t cap_sd;
    struct sn_arena *arena; /* the owning batch's arena */
    struct sn_str json;     /* rendered by a worker, or ptr NULL */
};

/* Prepare ev for parsing rec (which must outlive the event). */
void sn_event_reset(struct sn_event *ev, struct sn_arena *arena);

void *sn_event_alloc(struct sn_event *ev, size_t len);
void sn_event_set(struct sn_event *ev, enum sn_field f, const char *s,
                  size_t len);
struct sn_str sn_event_get(const struct sn_event *ev, enum sn_field f);
enum sn_status sn_event_add_sd(struct sn_event *ev, struct sn_str id,
                               struct sn_str name, struct sn_str value);
/* Set or replace a field; SN_ELIMIT past SN_EVENT_MAX_FIELDS. The key and
 * string values must live as long as the event. */
enum sn_status sn_event_set_field(struct sn_event *ev, struct sn_str key,
                                  const struct sn_value *v);
const struct sn_value *sn_event_field(const struct sn_event *ev,
                                      struct sn_str key);

/* Append the event as one JSON object (no newline); copies the worker's
 * rendering when there is one. */
enum sn_status sn_event_to_json(const struct sn_event *ev, struct sn_buf *out);
/* Render the event's JSON into its arena (ev->json), using scratch. */
enum sn_status sn_event_render_json(struct sn_event *ev, struct sn_buf *scratch);
/* Append a typed value as JSON (IPs and times as strings). */
enum sn_status sn_value_to_json(const struct sn_value *v, struct sn_buf *out);

#endif
