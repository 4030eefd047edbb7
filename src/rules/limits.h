/*
 * Hard limits of the rules engine, each with the reason for its number.
 * They belong with src/core/limits.h and can move there; they live here
 * while the engine is a library of its own. docs/rules.md lists them.
 */
#ifndef SN_RULES_LIMITS_H
#define SN_RULES_LIMITS_H

/* Bytes of one match expression: a hand-written condition is a few
 * hundred bytes; a generated one (Sigma import) a few KiB. */
#define SN_RULES_EXPR_MAX_BYTES (64 * 1024)

/* Nesting of parentheses/not in one expression: bounds the parser's and
 * the evaluator's recursion (each level costs one C stack frame). */
#define SN_RULES_EXPR_MAX_DEPTH 64

/* Predicates and operators in one expression; 4096 is far beyond any
 * hand-written rule and keeps a hostile rule file from costing much. */
#define SN_RULES_EXPR_MAX_NODES 4096

/* Distinct field names across a ruleset: each costs one cache slot per
 * worker thread, touched (not cleared) per event. */
#define SN_RULES_MAX_FIELDS 1024

/* Rules in one ruleset: the prefilter keeps one bit per rule per event. */
#define SN_RULES_MAX_RULES 65536

/* Items in one shared list or inline [..] list. */
#define SN_RULES_MAX_LIST_ITEMS 1000000

/* Fields one rule may extract (all its extract entries together). */
#define SN_RULES_MAX_EXTRACT_FIELDS 64

/* PCRE2 match limit (calls of its internal match function): stops
 * catastrophic backtracking on hostile lines after roughly a millisecond
 * instead of letting one line stall a worker. */
#define SN_RULES_PCRE_MATCH_LIMIT 100000

/* PCRE2 backtracking depth limit (interpreter only; JIT uses its stack). */
#define SN_RULES_PCRE_DEPTH_LIMIT 10000

/* JIT stack per worker: 32 KiB is PCRE2's default start; 512 KiB lets
 * deeply nested patterns run without falling back to an error. */
#define SN_RULES_JIT_STACK_MIN (32 * 1024)
#define SN_RULES_JIT_STACK_MAX (512 * 1024)

/* Aho-Corasick prefilter states: a 100-rule pack uses about 2,000; past
 * this the remaining rules are simply evaluated without a prefilter. */
#define SN_RULES_PREFILTER_MAX_STATES 65536

/* Trace entries kept per explained rule; deeper traces are truncated and
 * marked so (an explanation must stay readable anyway). */
#define SN_RULES_TRACE_MAX 256

_Static_assert(SN_RULES_MAX_RULES <= 1 << 20, "rule index must fit 20 bits");
_Static_assert(SN_RULES_EXPR_MAX_DEPTH >= 8, "expressions need some depth");

/* An address as text: INET6_ADDRSTRLEN (46) plus room to notice over-long
 * input. */
#define SN_RULES_IP_TEXT_MAX 64

/* Variants one Sigma value may expand to (windash x base64offset), and the
 * bytes of one. */
#define SN_RULES_SIGMA_MAX_VARIANTS 16
#define SN_RULES_SIGMA_VARIANT_MAX 1024

/* Rules one Sigma correlation refers to: real ones name two or three. */
#define SN_RULES_SIGMA_MAX_REFS 16

/* Bytes of an origin's input or topic name in a checkpoint (Kafka topics are
 * at most 249). */
#define SN_CORR_CKPT_NAME_MAX 1024

/* Rate buckets caught up for a quiet key: later ones are zeros that would
 * decay the baseline to (nearly) nothing anyway. */
#define SN_CORR_RATE_MAX_CATCHUP 4096

/* Prefilter literals per rule: a rule with more (a big `in` list on msg) is
 * cheaper to evaluate than to fill the automaton with. */
#define SN_RULES_PF_MAX_LITS 1024

/* Signal-fed sequences naming signal-fed sequences: a cycle (A names B names
 * A) must not loop forever. */
#define SN_CORR_CHAIN_MAX_DEPTH 4

/* Chained signals waiting at once: one feed emits a handful; the bound keeps
 * a pathological rule set from growing it. */
#define SN_CORR_CHAIN_MAX_ITEMS 4096

/* Default keys per rule and events per key (limits.max_keys, max_events):
 * 100k keys of 256 events is a few hundred MiB at worst. */
#define SN_CORR_DEFAULT_MAX_KEYS 100000
#define SN_CORR_DEFAULT_MAX_EVENTS 256

/* refire per_window: a fired window's absorbed matches go out as one
 * update signal once this much watermark time has passed since the
 * firing or the previous update (and at the close): an incident's hit
 * count is a few seconds behind a burst, not a window, at one signal per
 * key and interval (docs/rules.md "Firing once per window"). */
#define SN_CORR_UPDATE_INTERVAL_NS (5LL * 1000000000)

/* Longest duration a rule may give: a year; longer is a typo. */
#define SN_RULES_MAX_DURATION_MS (366LL * 86400 * 1000)
/* allowed_lateness when a rule does not say: two workers reorder lines of
 * one sender by a few ms, syslog timestamps often have whole seconds, and
 * fleets carry small clock skew; with 0 every event older than the newest
 * one seen was dropped as late (a brute force from logger lost 8 of its
 * 10 lines under load). It delays absence, resolve_after and rate buckets
 * by as much; thresholds and sequences still fire at the event. */
#define SN_RULES_LATENESS_DEFAULT_MS 5000LL

/* Largest count a threshold may ask for (per-key memory is bounded by
 * limits.max_events anyway). */
#define SN_RULES_MAX_COUNT 1000000

/* Evidence summary parts (sn_corr_summary_json): msg, host/app and field
 * values cut to these, so a summary fits SN_CORR_SUMMARY_JSON_MAX. */
#define SN_CORR_SUMMARY_MSG_MAX 240
#define SN_CORR_SUMMARY_HOST_MAX 64
#define SN_CORR_SUMMARY_FIELD_MAX 48
#define SN_CORR_SUMMARY_FIELDS 8

/* Longest literal run kept per regex alternative: longer adds nothing to the
 * prefilter's selectivity and only grows its automaton. */
#define SN_RULES_REQ_RUN_MAX 32

/* Top-level regex alternatives tracked; more means no requirement. */
#define SN_RULES_REQ_ALT_MAX 16

#endif
