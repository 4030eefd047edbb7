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

#endif
