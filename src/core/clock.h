/* Clock helpers: wall time for event receipt, monotonic for timeouts. */
#ifndef SN_CORE_CLOCK_H
#define SN_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define SN_NS_PER_SEC 1000000000LL
#define SN_NS_PER_MS 1000000LL

/* Wall clock, nanoseconds since the epoch. */
static inline int64_t
sn_clock_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SN_NS_PER_SEC + ts.tv_nsec;
}

/* Monotonic clock, nanoseconds. */
static inline int64_t
sn_clock_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SN_NS_PER_SEC + ts.tv_nsec;
}

#endif
