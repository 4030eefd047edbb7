/* Metric registry; see metrics.h. */
#include "metrics/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sn_metrics {
    pthread_mutex_t lock;
    struct sn_counter *head, *tail;
};

struct sn_metrics *
sn_metrics_new(void)
{
    struct sn_metrics *m = calloc(1, sizeof(*m));

    if (m != NULL)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void
sn_metrics_free(struct sn_metrics *m)
{
    struct sn_counter *c, *next;

    if (m == NULL)
        return;
    for (c = m->head; c != NULL; c = next) {
        next = c->next;
        free(c->name);
        free(c->labels);
        free(c->help);
        free(c->family);
        free(c);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int
same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static struct sn_counter *
find_or_add(struct sn_metrics *m, const char *name, const char *labels,
            const char *help, int is_gauge)
{
    struct sn_counter *c;

    pthread_mutex_lock(&m->lock);
    for (c = m->head; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0 && same(c->labels, labels))
            goto out;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto out;
    c->name = strdup(name);
    c->labels = strdup(labels ? labels : "");
    c->help = strdup(help ? help : "");
    c->is_gauge = is_gauge;
    if (c->name == NULL || c->labels == NULL || c->help == NULL) {
        free(c->name);
        free(c->labels);
        free(c->help);
        free(c);
        c = NULL;
        goto out;
    }
    /* Appended at the tail so metrics of one name stay adjacent when they
     * were registered together, as the exposition format prefers. */
    if (m->tail != NULL)
        m->tail->next = c;
    else
        m->head = c;
    m->tail = c;
out:
    pthread_mutex_unlock(&m->lock);
    return c;
}

/* Under the lock: render reads family. */
static int
set_family(struct sn_metrics *m, struct sn_counter *c, const char *family)
{
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    if (c->family == NULL && (c->family = strdup(family)) == NULL)
        rc = -1;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

struct sn_counter *
sn_metrics_counter(struct sn_metrics *m, const char *name, const char *labels,
                   const char *help)
{
    return find_or_add(m, name, labels, help, 0);
}

struct sn_counter *
sn_metrics_gauge(struct sn_metrics *m, const char *name, const char *labels,
                 const char *help)
{
    return find_or_add(m, name, labels, help, 1);
}

enum sn_status
sn_metrics_histogram(struct sn_metrics *m, const char *name,
                     const char *labels, const char *help, const uint64_t *le,
                     size_t n, struct sn_histogram *h)
{
    char series[200], lab[512];
    const char *sep = labels && labels[0] ? "," : "";

    memset(h, 0, sizeof(*h));
    if (n > SN_HISTOGRAM_MAX)
        n = SN_HISTOGRAM_MAX;
    h->n = n;
    snprintf(series, sizeof(series), "%s_bucket", name);
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            h->le[i] = le[i];
            snprintf(lab, sizeof(lab), "%s%sle=\"%llu\"", labels ? labels : "",
                     sep, (unsigned long long)le[i]);
        } else {
            snprintf(lab, sizeof(lab), "%s%sle=\"+Inf\"",
                     labels ? labels : "", sep);
        }
        h->bucket[i] = find_or_add(m, series, lab, help, 0);
        if (h->bucket[i] == NULL || set_family(m, h->bucket[i], name) != 0)
            return SN_ENOMEM;
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    h->sum = find_or_add(m, series, labels, help, 0);
    snprintf(series, sizeof(series), "%s_count", name);
    h->count = find_or_add(m, series, labels, help, 0);
    if (h->sum == NULL || h->count == NULL ||
        set_family(m, h->sum, name) != 0 ||
        set_family(m, h->count, name) != 0)
        return SN_ENOMEM;
    return SN_OK;
}

enum sn_status
sn_metrics_render(struct sn_metrics *m, struct sn_buf *out)
{
    enum sn_status rc = SN_OK;

    pthread_mutex_lock(&m->lock);
    for (struct sn_counter *c = m->head; c != NULL && rc == SN_OK;
         c = c->next) {
        bool first = true;

        const char *fam = c->family ? c->family : c->name;

        /* HELP/TYPE once per metric name (a histogram's: once for its
         * series). */
        for (struct sn_counter *p = m->head; p != c && first; p = p->next)
            if (strcmp(p->family ? p->family : p->name, fam) == 0)
                first = false;
        if (first)
            rc = sn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam,
                               c->help, fam,
                               c->family     ? "histogram"
                               : c->is_gauge ? "gauge"
                                             : "counter");
        if (rc == SN_OK) {
            if (c->labels[0] != '\0')
                rc = sn_buf_printf(out, "%s{%s} %llu\n", c->name, c->labels,
                                   (unsigned long long)sn_counter_get(c));
            else
                rc = sn_buf_printf(out, "%s %llu\n", c->name,
                                   (unsigned long long)sn_counter_get(c));
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

uint64_t
sn_metrics_value(struct sn_metrics *m, const char *name, const char *labels)
{
    uint64_t v = 0;

    pthread_mutex_lock(&m->lock);
    for (struct sn_counter *c = m->head; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0 && same(c->labels, labels))
            v = sn_counter_get(c);
    pthread_mutex_unlock(&m->lock);
    return v;
}

uint64_t
sn_metrics_sum(struct sn_metrics *m, const char *prefix, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    uint64_t v = 0;

    pthread_mutex_lock(&m->lock);
    for (struct sn_counter *c = m->head; c != NULL; c = c->next) {
        size_t l = strlen(c->name);
        if (l >= lp + ls && memcmp(c->name, prefix, lp) == 0 &&
            memcmp(c->name + l - ls, suffix, ls) == 0)
            v += sn_counter_get(c);
    }
    pthread_mutex_unlock(&m->lock);
    return v;
}
