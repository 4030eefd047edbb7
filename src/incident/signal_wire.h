/*
 * A signal's fixed fields read back from its JSON (the incident side of
 * rules/signal_fields.h, which lists them once for both directions). The
 * open parts (key, evidence, title, tags, source) are read by fold.c and
 * partition.c.
 */
#ifndef SN_INCIDENT_SIGNAL_WIRE_H
#define SN_INCIDENT_SIGNAL_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/signal_fields.h"

struct json_object;

#define SN_SIGNAL_WIRE_STR const char *
#define SN_SIGNAL_WIRE_INT int64_t

/* One member per field, plus has_<name>: present with its JSON type. */
struct sn_signal_wire {
#define SN_SIGNAL_WIRE_MEMBER(name, type, value)                               \
    SN_SIGNAL_WIRE_##type name;                                                \
    bool has_##name;
    SN_SIGNAL_HEAD_FIELDS(SN_SIGNAL_WIRE_MEMBER)
    SN_SIGNAL_COUNT_FIELDS(SN_SIGNAL_WIRE_MEMBER)
    SN_SIGNAL_WINDOW_FIELDS(SN_SIGNAL_WIRE_MEMBER)
#undef SN_SIGNAL_WIRE_MEMBER
};

/* Fill w from the signal object o (zeros and has_* false for what is
 * absent or of another type). Strings are borrowed from o. */
void sn_signal_wire_read(struct json_object *o, struct sn_signal_wire *w);

#endif
