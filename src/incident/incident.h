/*
 * One incident as the incident layer holds it in memory between reading
 * its row and writing it back, and its JSON document (docs/incidents.md).
 * Strings are heap copies owned by the struct; sn_incident_fini frees
 * them. Shared by the store, the manager and the CLI/API functions.
 */
#ifndef SN_INCIDENT_INCIDENT_H
#define SN_INCIDENT_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"

#define SN_UUID_LEN 36

enum sn_severity {
    SN_SEV_INFO = 0,
    SN_SEV_LOW,
    SN_SEV_MEDIUM,
    SN_SEV_HIGH,
    SN_SEV_CRITICAL,
};

struct sn_incident {
    char id[SN_UUID_LEN + 1];
    char previous_id[SN_UUID_LEN + 1]; /* "" when none */
    int64_t version;
    char *rule_id;
    char *title;
    char *description;
    char *tags;      /* JSON array text */
    char *group_key; /* JSON object text, as the detector keyed it */
    enum sn_severity severity, base_severity;
    char status[16]; /* open|acknowledged|resolved|suppressed */
    char *pending;   /* JSON object text; NULL when nothing waits */
    char *owner;     /* NULL: unassigned */
    int64_t first_seen, last_seen; /* event time, ns */
    int64_t hit_count, signal_count;
    int64_t created_at, updated_at; /* wall clock, ns */
    int64_t touched_at;             /* wall clock of the last signal */
    int64_t quiet_ms;               /* auto-resolve after this; 0 never */
    bool esc_rejected;              /* an escalation was rejected: ask once */
    bool degraded;                  /* a detection-degraded incident */
    char *explanation;              /* JSON text (scrubbed) */
    char *evidence;                 /* JSON array text (scrubbed) */
    /* The source partition of the signals that feed it (the latest
     * signal's "source"; NULL part_input: none, and sn_store_put keeps
     * what the row has). */
    char *part_input, *part_topic;
    int32_t part_partition;
    bool fresh; /* not stored yet: sn_store_put inserts (replacing) */
};

void sn_incident_init(struct sn_incident *inc);
void sn_incident_fini(struct sn_incident *inc);
/* Replace *field with a copy of s (len bytes; NULL s sets NULL).
 * SN_ENOMEM on failure (the field is left unchanged). */
enum sn_status sn_incident_set(char **field, const char *s, size_t len);

const char *sn_severity_name(enum sn_severity s);
/* -1 when unknown. */
int sn_severity_parse(const char *s);

/* A random (version 4) UUID in canonical text form. */
void sn_uuid4(char out[SN_UUID_LEN + 1]);
/* A name-based UUID (RFC 4122 version 5 layout: SHA-1 of namespace and
 * name) in canonical text form. */
void sn_uuid5(const unsigned char ns[16], const void *name, size_t len,
              char out[SN_UUID_LEN + 1]);

/* RFC 3339 UTC with nanoseconds: "2026-11-23T10:00:01.000000000Z". */
void sn_time_rfc3339(int64_t ns, char out[40]);

/*
 * The incident document (docs/incidents.md) appended to out. full=false
 * leaves out explanation and evidence (listings).
 */
enum sn_status sn_incident_json(const struct sn_incident *inc, bool full,
                                struct sn_buf *out);

#endif
