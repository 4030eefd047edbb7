/*
 * The correlation part of `sentineld test`: every match of a replay feeds
 * the same engine det_rules runs (src/rules/correlate.h), one timeline
 * per input file; the signals are kept, with the condition trace of the
 * line that triggered them, and printed at the end.
 */
#ifndef SN_CLI_TEST_CORR_H
#define SN_CLI_TEST_CORR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/diag.h"
#include "rules/eval.h"
#include "rules/load.h"
#include "syslog/msg.h"

struct sn_test_corr;

/* NULL when the correlations do not build (reported to d) or on ENOMEM. */
struct sn_test_corr *sn_test_corr_new(const struct sn_ruleset *rs,
                                      struct sn_diags *d);
void sn_test_corr_free(struct sn_test_corr *tc);
/* A new input file: a fresh engine (files are separate timelines). */
bool sn_test_corr_file(struct sn_test_corr *tc);
/* Feed the n matches of one parsed line; rev and sc explain the line for
 * the signals it triggers. */
void sn_test_corr_feed(struct sn_test_corr *tc, const char *file, int line,
                       const struct sn_syslog_msg *msg,
                       const struct sn_rule_event *rev,
                       struct sn_rules_scratch *sc,
                       const struct sn_rule_match *m, size_t n);
/* Did the last fed line raise a firing signal of rule id? */
bool sn_test_corr_line_fired(const struct sn_test_corr *tc, const char *id);
size_t sn_test_corr_count(const struct sn_test_corr *tc);
/* Every signal: one JSON object per line, or rendered as text. */
void sn_test_corr_print(const struct sn_test_corr *tc, bool json, FILE *out);
/* Write each signal's JSON line to out as it is raised instead of
 * keeping it for sn_test_corr_print (which then prints no JSON): for
 * --quiet --json, where nothing else is printed per line, so the output
 * is the same bytes without holding every signal until the end. */
void sn_test_corr_stream(struct sn_test_corr *tc, FILE *out);

#endif
