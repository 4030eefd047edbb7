/*
 * Relay repeat summaries: rsyslog's "message repeated N times: [MSG]"
 * and syslog-ng's "Last message 'MSG' repeated N times, suppressed by
 * syslog-ng on HOST" stand for N copies of MSG. Rules match the inner
 * message (sn_rule_msg_view calls sn_repeat_unwrap) and correlations
 * count it N times (the feeders pass sn_repeat_count as the match's
 * weight). docs/rules.md "Repeated messages".
 */
#ifndef SN_RULES_REPEAT_H
#define SN_RULES_REPEAT_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

/* A repeat count above this is taken as this: no relay folds more in one
 * summary line in practice, and one line must not stand for an unbounded
 * number of events in a window's arithmetic. */
#define SN_REPEAT_MAX 1000000u

/*
 * When s (blanks already trimmed) is a repeat summary, set *inner to the
 * message it repeats (a slice of s: untrimmed), *n to the count (at least
 * 1, at most SN_REPEAT_MAX) and return true; otherwise false and nothing
 * is written. Pure, no allocation: safe on the hot path.
 */
bool sn_repeat_unwrap(struct sn_str s, struct sn_str *inner, uint32_t *n);

/* How many events the message s (as the event holds it) stands for: N
 * for a repeat summary, else 1. */
uint32_t sn_repeat_count(struct sn_str s);

#endif
