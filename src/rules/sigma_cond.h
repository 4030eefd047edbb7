/*
 * Sigma `condition` expressions -> the native match language
 * (docs/sigma.md). The condition names the detection's selections:
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | NAME | ('1' | 'any' | 'all') 'of' (PATTERN |
 * 'them')
 *
 * Every selection reference is replaced by "(" + its translation + ")",
 * written by the caller's emit callback, so the result is one native
 * expression that compile.c and the prefilter treat like any rule's.
 * Hand-written; tests/fuzz/fuzz_sigma_cond.c fuzzes it.
 */
#ifndef SN_RULES_SIGMA_COND_H
#define SN_RULES_SIGMA_COND_H

#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "rules/expr_parse.h" /* struct sn_expr_err: msg and byte offset */

/* Write selection `sel` (an index into names) to out. */
typedef enum sn_status (*sn_sigma_sel_fn)(void *arg, size_t sel,
                                          struct sn_buf *out);

/*
 * Translate condition s[0..len) into out. names are the detection's
 * selection identifiers. SN_EINVAL with err set on a syntax error, an
 * unknown selection or an unsupported construct (aggregations `|`,
 * `N of` other than 1); SN_ELIMIT past SN_RULES_EXPR_MAX_DEPTH; other
 * statuses come from emit or out.
 */
enum sn_status sn_sigma_cond_translate(const char *s, size_t len,
                                       const char *const *names, size_t n_names,
                                       sn_sigma_sel_fn emit, void *arg,
                                       struct sn_buf *out,
                                       struct sn_expr_err *err);

#endif
