/*
 * The signal's fixed fields, listed once (docs/correlation.md, "Signal
 * JSON"): the encoder (rules/correlate_json.c), the incident layer's
 * decoder (incident/signal_wire.c) and their round-trip test expand these
 * lists, so a field is added here and nowhere else. The variable parts
 * (key, evidence, trace, source, rule text) are not scalars and are
 * written by hand.
 *
 * X(name, TYPE, value): name is the JSON key and the decoded member;
 * TYPE is STR or INT (the JSON type); value is how the encoder reads it
 * from `const struct sn_signal *s` (only expanded in the encoder).
 */
#ifndef SN_RULES_SIGNAL_FIELDS_H
#define SN_RULES_SIGNAL_FIELDS_H

/* First, right after "type":"signal". */
#define SN_SIGNAL_HEAD_FIELDS(X)                                               \
    X(rule, STR, s->rule_id)                                                   \
    X(kind, STR, sn_corr_kind_name(s->kind))                                   \
    X(state, STR, sn_signal_state_name(s->state))                              \
    X(severity, STR, sn_rule_severity_name(s->severity))                       \
    X(base_severity, STR, sn_rule_severity_name(s->base_severity))             \
    X(time_ns, INT, s->time_ns)

/* After the group key (absent from degraded signals). */
#define SN_SIGNAL_COUNT_FIELDS(X)                                              \
    X(repeat, INT, (int64_t)s->repeat)                                         \
    X(suppressed, INT, (int64_t)s->suppressed)

/* Inside "window":{...}. */
#define SN_SIGNAL_WINDOW_FIELDS(X)                                             \
    X(length_ns, INT, s->window_ns)                                            \
    X(count, INT, (int64_t)s->count)                                           \
    X(threshold, INT, (int64_t)s->threshold)                                   \
    X(first_ns, INT, s->first_ns)                                              \
    X(last_ns, INT, s->last_ns)

#endif
