/*
 * Counters and gauges for /metrics (Prometheus text format). Registration
 * takes a lock; adding is one relaxed atomic add, so hot paths add once per
 * batch. The registry outlives reloads: a counter with the same name and
 * labels is reused, so values keep counting across SIGHUP.
 */
#ifndef SN_METRICS_METRICS_H
#define SN_METRICS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"

struct sn_counter {
    _Atomic uint64_t value;
    char *name;   /* full metric name */
    char *labels; /* label body without braces, e.g. instance="x" */
    char *help;
    int is_gauge;
    char *family; /* histogram series: the histogram's name, else NULL */
    struct sn_counter *next;
};

struct sn_metrics;

struct sn_metrics *sn_metrics_new(void);
void sn_metrics_free(struct sn_metrics *m);
/* Find or create; NULL only on ENOMEM. labels may be NULL. */
struct sn_counter *sn_metrics_counter(struct sn_metrics *m, const char *name,
                                      const char *labels, const char *help);
struct sn_counter *sn_metrics_gauge(struct sn_metrics *m, const char *name,
                                    const char *labels, const char *help);

/*
 * A Prometheus histogram of integer observations (units in its name):
 * name_bucket{labels,le="B"} for each bound (ascending), le="+Inf",
 * name_sum and name_count. Adding is sn_histogram_observe, or
 * sn_histogram_add_counts for a batch counted locally first.
 */
#define SN_HISTOGRAM_MAX 24
struct sn_histogram {
    size_t n;                 /* bounds */
    uint64_t le[SN_HISTOGRAM_MAX];
    struct sn_counter *bucket[SN_HISTOGRAM_MAX + 1]; /* [n] is +Inf */
    struct sn_counter *sum, *count;
};
/* Fills h (n bounds, at most SN_HISTOGRAM_MAX); SN_ENOMEM. */
enum sn_status sn_metrics_histogram(struct sn_metrics *m, const char *name,
                                    const char *labels, const char *help,
                                    const uint64_t *le, size_t n,
                                    struct sn_histogram *h);

static inline void
sn_counter_add(struct sn_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

static inline void
sn_gauge_set(struct sn_counter *c, uint64_t v)
{
    if (c != NULL)
        atomic_store_explicit(&c->value, v, memory_order_relaxed);
}

static inline uint64_t
sn_counter_get(const struct sn_counter *c)
{
    return c ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

/* Cumulative buckets: one observation v adds to every bucket >= v. */
static inline void
sn_histogram_observe(struct sn_histogram *h, uint64_t v)
{
    for (size_t i = 0; i < h->n; i++)
        if (v <= h->le[i])
            sn_counter_add(h->bucket[i], 1);
    sn_counter_add(h->bucket[h->n], 1);
    sn_counter_add(h->sum, v);
    sn_counter_add(h->count, 1);
}

/* Prometheus text exposition of every metric. */
enum sn_status sn_metrics_render(struct sn_metrics *m, struct sn_buf *out);
/* Value of the metric with this name and labels; 0 when absent. */
uint64_t sn_metrics_value(struct sn_metrics *m, const char *name,
                          const char *labels);
/* Sum of every counter whose name starts with prefix and ends with
 * suffix, over all labels (e.g. every rule's evicted keys for /health).
 * Takes the registry lock; for the control thread, not hot paths. */
uint64_t sn_metrics_sum(struct sn_metrics *m, const char *prefix,
                        const char *suffix);

#endif
