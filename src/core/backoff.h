/*
 * Retry delays for the core's retry loops (event outputs, incident relays,
 * the incident store): exponential from min to max with equal jitter, each
 * wait half the current delay plus a random share of the other half. The
 * jitter spreads retriers that failed together; the fixed half keeps a
 * wait from collapsing to zero (full jitter, a wait anywhere in
 * [0, delay], could hammer a failing peer again at once).
 */
#ifndef SN_CORE_BACKOFF_H
#define SN_CORE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct sn_backoff {
    int64_t min_ms, max_ms;
    int64_t cur_ms; /* the delay the next wait is drawn from */
};

static inline void
sn_backoff_init(struct sn_backoff *b, int64_t min_ms, int64_t max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->cur_ms = min_ms;
}

/* True before the first wait since init or reset (callers log once). */
static inline bool
sn_backoff_is_first(const struct sn_backoff *b)
{
    return b->cur_ms == b->min_ms;
}

/* The next wait in ms, in [cur/2, cur]; then the delay doubles, up to
 * max. rand(): the jitter needs spread, not quality. */
static inline int64_t
sn_backoff_next(struct sn_backoff *b)
{
    int64_t half = b->cur_ms / 2;
    int64_t wait = half + rand() % (half + 1);

    b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
    return wait;
}

/* Success: the next failure starts again from min. */
static inline void
sn_backoff_reset(struct sn_backoff *b)
{
    b->cur_ms = b->min_ms;
}

#endif
