/*
 * The literal prefilter: one Aho-Corasick automaton over the required
 * literals of every rule, run once over an event's `msg`. A rule whose
 * match needs one of its literals in msg (from contains/startswith/
 * endswith/==/in on msg, or a regex's required text, in AND positions) is
 * evaluated only when the scan found one; rules with no such literal are
 * always evaluated. Matching is ASCII case-insensitive, so a hit means
 * "may match", never "matches": the prefilter only ever skips rules that
 * cannot match. Immutable after sn_prefilter_build; scans are thread-safe.
 */
#ifndef SN_RULES_PREFILTER_H
#define SN_RULES_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/arena.h"
#include "rules/compile.h"

struct sn_prefilter;

/*
 * The literal set a compiled match needs in msg: at least one of
 * (*out)[0..*n) occurs in msg whenever `n` is true. *n = 0: no such set
 * (the rule must always be evaluated). Slices point into the compiled
 * tree; the array is allocated from a.
 */
enum sn_status sn_prefilter_required(const struct sn_cnode *n,
                                     struct sn_arena *a, struct sn_str **out,
                                     size_t *n_out);

/* A builder for n_rules rules; every rule starts as always-evaluated.
 * NULL on ENOMEM. */
struct sn_prefilter *sn_prefilter_new(size_t n_rules);
void sn_prefilter_free(struct sn_prefilter *pf);
/* Rule `rule` can match only if one of lits occurs. Literals are copied.
 * Empty literals make the rule always-evaluated. */
enum sn_status sn_prefilter_add(struct sn_prefilter *pf, uint32_t rule,
                                const struct sn_str *lits, size_t n);
/* Build the automaton. Rules whose literals do not fit the state budget
 * (SN_RULES_PREFILTER_MAX_STATES) stay always-evaluated. */
enum sn_status sn_prefilter_build(struct sn_prefilter *pf);

/* Words of the candidate bitset for this prefilter: (n_rules + 63) / 64. */
size_t sn_prefilter_words(const struct sn_prefilter *pf);
/*
 * Set cand (sn_prefilter_words() words) to the rules that may match an
 * event whose msg is s[0..len): the always-evaluated rules plus every
 * rule one of whose literals occurs in s.
 */
void sn_prefilter_scan(const struct sn_prefilter *pf, const char *s, size_t len,
                       uint64_t *cand);
/* Whether rule is filtered (has literals in the automaton). */
bool sn_prefilter_filters(const struct sn_prefilter *pf, uint32_t rule);
/* Automaton states, for `sentineld check --stats` and tests. */
size_t sn_prefilter_states(const struct sn_prefilter *pf);

#endif
