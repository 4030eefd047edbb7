/*
 * Everything the rules engine knows about PCRE2 patterns before matching:
 * compiling (with JIT when the platform has it), the literals a pattern
 * cannot match without (fed to the prefilter), and the log-injection lint.
 * Matching itself happens in eval.c with per-thread match data.
 */
#ifndef SN_RULES_REGEX_H
#define SN_RULES_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sentineld/plugin.h>

#include "core/arena.h"

/*
 * Compile pat[0..len) in byte mode (log lines are not guaranteed UTF-8),
 * caseless when ci, then JIT-compile it (falling back to the interpreter
 * when JIT is unavailable; *jit tells which). On failure returns
 * SN_EINVAL with PCRE2's message in err and the offset of the problem in
 * pat in *erroff. The caller owns *out (pcre2_code_free).
 */
enum sn_status sn_regex_compile(const char *pat, size_t len, bool ci,
                                pcre2_code **out, bool *jit, char *err,
                                size_t err_len, size_t *erroff);

/*
 * Literal strings of which at least one occurs in every subject pat can
 * match (one per top-level alternative; the longest required run of each).
 * Copies go to the arena. Sets *n = 0 when no such set is known, which is
 * always safe: the prefilter then lets every event through to the rule.
 * Case is not tracked: the prefilter compares case-insensitively.
 */
enum sn_status sn_regex_required(const char *pat, size_t len,
                                 struct sn_arena *a, struct sn_str **out,
                                 size_t *n);

/*
 * The log-injection lint: true when a greedy `.*`/`.+` comes before the
 * named group `group` and the pattern is not pinned after the group by a
 * wildcard-free suffix ending in `$`/`\z`. Then attacker-controlled text
 * (a user name) can supply what the group captures. *wild_off gets the
 * offset of the wildcard. A heuristic: docs/rules.md explains it.
 */
bool sn_regex_injection_risk(const char *pat, size_t len, const char *group,
                             size_t *wild_off);

/*
 * The literal text at the start of every subject pat can match, when pat
 * is anchored by a leading ^ with no top-level alternative ("^Failed
 * (?<m>\\S+)" -> "Failed "): up to out_max bytes into out, returning how
 * many (0: none known). A subject not starting with it cannot match, so
 * eval skips the match call. Case-sensitive patterns only (ci: 0).
 */
size_t sn_regex_anchored_prefix(const char *pat, size_t len, bool ci,
                                char *out, size_t out_max);

#endif
