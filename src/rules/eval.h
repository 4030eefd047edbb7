/*
 * Evaluating a compiled ruleset against one event. The event is reached
 * through an accessor (struct sn_rule_event) so the same code serves the
 * CLI (core events) and the det_rules plugin (the host API). Per-thread
 * state lives in a scratch object: one per worker, never shared; the
 * ruleset itself is read-only and shared.
 *
 * Semantics (docs/rules.md): a rule's `extract` runs lazily, the first
 * time its match reads a field the rule extracts, and otherwise once the
 * match has passed, so match may test extracted fields (`source.ip cidr
 * @internal`) without every event paying for the regex. Extracted fields
 * are visible to their own rule only. Any comparison on an absent field is
 * false (`!=` too); `not` turns that around explicitly.
 */
#ifndef SN_RULES_EVAL_H
#define SN_RULES_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "rules/load.h"
#include "rules/repeat.h"

/*
 * How the engine reads an event. get() fills *out and returns true when
 * the field exists; field_id is the ruleset's id (ids below SN_RF_COUNT_
 * are the header fields, so an accessor can switch on them) and name is
 * its name. Strings returned must stay valid while the results that
 * point at them are used (for core events: until batch release).
 */
struct sn_rule_event {
    void *ctx;
    bool (*get)(void *ctx, int field_id, const char *name, size_t name_len,
                struct sn_value *out);
};

/* One extracted field of a match. Strings are slices of the source
 * field's value (no copy). */
struct sn_rule_field_value {
    const char *name;
    size_t name_len;
    struct sn_value v;
};

struct sn_rule_match {
    const struct sn_rule *rule;
    const struct sn_rule_field_value *fields;
    size_t n_fields;
};

enum sn_trace_kind {
    SN_TRACE_GROUP = 0, /* and/or/not: result of the whole group */
    SN_TRACE_PRED,      /* a comparison or exists */
    SN_TRACE_CONST,     /* true/false */
    SN_TRACE_SKIP,      /* operands not evaluated (short-circuit) */
    SN_TRACE_EXTRACT,   /* an extract regex ran */
};

struct sn_trace_entry {
    enum sn_trace_kind kind;
    unsigned depth;                   /* nesting, for indentation */
    const struct sn_cnode *node;      /* GROUP/PRED/CONST; SKIP: first one */
    const struct sn_extract *extract; /* EXTRACT */
    bool result;                      /* pass / fail; EXTRACT: matched */
    bool present;                     /* PRED: the field existed */
    bool from_extract;                /* PRED: value came from extract */
    struct sn_value actual;           /* PRED: the value seen */
    size_t n_skipped;                 /* SKIP */
    const char *note; /* static text: "match limit exceeded", ... */
};

/* Everything about one rule on one event, for explanations. */
struct sn_rule_explain {
    const struct sn_rule *rule;
    bool matched;
    bool prefiltered;   /* the rule has required literals */
    bool prefilter_hit; /* ...and msg contained one (else eval skips it) */
    const struct sn_trace_entry *trace;
    size_t n_trace;
    bool truncated; /* more than SN_RULES_TRACE_MAX entries */
    const struct sn_rule_field_value *fields;
    size_t n_fields;
};

/* Counters a scratch accumulates (read them from the owning thread). */
struct sn_rules_stats {
    uint64_t events;
    uint64_t rules_evaluated;
    uint64_t rules_skipped; /* by the prefilter */
    uint64_t matches;
    uint64_t regex_errors; /* match/depth limit or other PCRE2 errors */
    uint64_t type_errors;  /* captures not convertible to int/ip */
};

struct sn_rules_scratch;

/* Per-thread state sized for rs (which must outlive it). NULL on ENOMEM. */
struct sn_rules_scratch *sn_rules_scratch_new(const struct sn_ruleset *rs);
void sn_rules_scratch_free(struct sn_rules_scratch *sc);
const struct sn_rules_stats *
sn_rules_scratch_stats(const struct sn_rules_scratch *sc);

/* Evaluate every rule without the prefilter (for tests and `--slow`). */
#define SN_RULES_NO_PREFILTER 0x1u
/* Time each rule evaluated (CLOCK_MONOTONIC, one read after each rule:
 * its evaluation and extraction, and the candidate scan since the rule
 * before) into the scratch's per-rule nanoseconds: callers sample it, one
 * event in many, to show which rules cost (a clock read per rule on every
 * event would be a visible share of a cheap rule). */
#define SN_RULES_TIME_RULES 0x2u

/* The scratch's per-rule nanoseconds (indexed by rule index) that
 * SN_RULES_TIME_RULES evaluations added; the caller reads and zeroes
 * them. */
uint64_t *sn_rules_scratch_rule_ns(struct sn_rules_scratch *sc);

/*
 * Evaluate every enabled rule of rs against ev (every rule sees every
 * event; one event may match several). Returns the number of matches,
 * stored in *matches in rule order: valid until the next eval on sc.
 */
size_t sn_rules_eval(const struct sn_ruleset *rs, struct sn_rules_scratch *sc,
                     const struct sn_rule_event *ev, unsigned flags,
                     const struct sn_rule_match **matches);

/*
 * Evaluate one rule (enabled or not, prefilter or not) with a condition
 * trace into *out: valid until the next explain on sc (an explain does
 * not disturb the matches of the last eval).
 */
void sn_rules_explain(const struct sn_ruleset *rs, struct sn_rules_scratch *sc,
                      const struct sn_rule_event *ev, const struct sn_rule *r,
                      struct sn_rule_explain *out);

/* Render an explanation as indented text lines (for `sentineld test` and
 * `sentineld explain`). Values are quoted and truncated to 80 bytes. */
enum sn_status sn_rules_explain_format(const struct sn_rule_explain *x,
                                       struct sn_buf *out);

/* The same as one JSON object (explain_json.c; docs/correlation.md,
 * "trace"): {"rule","matched","prefilter","steps":[...],"truncated",
 * "fields"}. Values are not truncated; SN_ELIMIT when out is full. */
enum sn_status sn_rules_explain_json(const struct sn_rule_explain *x,
                                     struct sn_buf *out);

/* Blanks a relay left around a message: rsyslog's %msg% keeps the space
 * after an RFC 3164 "tag:" and some senders end lines with CR/LF inside
 * the frame. */
static inline struct sn_str
sn_rule_msg_trim(struct sn_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == '\n' || s.ptr[s.len - 1] == '\r' ||
                         s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/*
 * The message as rules see it: trimmed (sn_rule_msg_trim), so
 * " Failed password\n" still matches `msg startswith "Failed "`, and a
 * relay's repeat summary ("message repeated 3 times: [ Failed ...]",
 * rules/repeat.h) replaced by the message it repeats. Parsers keep MSG
 * exact (RFC 5424 6.4); only rule evaluation uses this view. Every
 * accessor of SN_RF_MSG goes through it, so the CLI and the daemon agree.
 * The repeat check costs one byte compare for other messages.
 */
static inline struct sn_str
sn_rule_msg_view(struct sn_str s)
{
    struct sn_str inner;
    uint32_t n;

    s = sn_rule_msg_trim(s);
    if (s.len > 0 && (s.ptr[0] == 'm' || s.ptr[0] == 'L') &&
        sn_repeat_unwrap(s, &inner, &n))
        s = sn_rule_msg_trim(inner);
    return s;
}

#endif
