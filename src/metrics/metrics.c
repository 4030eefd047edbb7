/* Metric registry; see metrics.h. */
#include "metrics/metrics.h"

#include <pthread.h>
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
sn_metrics_render(struct sn_metrics *m, struct sn_buf *out)
{
    enum sn_status rc = SN_OK;

    pthread_mutex_lock(&m->lock);
    for (struct sn_counter *c = m->head; c != NULL && rc == SN_OK;
         c = c->next) {
        bool first = true;

        /* HELP/TYPE once per metric name. */
        for (struct sn_counter *p = m->head; p != c; p = p->next)
            if (strcmp(p->name, c->name) == 0)
                first = false;
        if (first)
            rc = sn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", c->name,
                               c->help, c->name,
                               c->is_gauge ? "gauge" : "counter");
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
