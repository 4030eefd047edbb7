/*
 * Key origins: the table of interned (input, topic) pairs a key's origin
 * names by a small id, and dropping keys by a filter (the keys of one
 * source partition, when the partition moves to another owner). The
 * table is shared by every engine of a caller and used from several
 * threads: entries are never freed or moved until the table is, and are
 * published with a release store of the count, so lookups take no lock;
 * only interning a new pair does.
 */
#include "rules/correlate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rules/correlate_int.h"

struct source {
    char *input, *topic; /* one allocation: input\0topic\0 */
};

struct sn_corr_sources {
    pthread_mutex_t mu; /* interning */
    _Atomic uint32_t n; /* entries [0, n) are complete */
    struct source e[SN_CORR_SOURCES_MAX];
};

struct sn_corr_sources *
sn_corr_sources_new(void)
{
    struct sn_corr_sources *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->n, 0);
    return s;
}

void
sn_corr_sources_free(struct sn_corr_sources *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < atomic_load(&s->n); i++)
        free(s->e[i].input);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static uint32_t
lookup(const struct sn_corr_sources *s, uint32_t n, const char *input,
       const char *topic)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(s->e[i].input, input) == 0 &&
            strcmp(s->e[i].topic, topic) == 0)
            return i + 1;
    return 0;
}

uint32_t
sn_corr_source_find(const struct sn_corr_sources *s, const char *input,
                    const char *topic)
{
    if (s == NULL || input == NULL)
        return 0;
    return lookup(s, atomic_load_explicit(&s->n, memory_order_acquire), input,
                  topic ? topic : "");
}

uint32_t
sn_corr_source_id(struct sn_corr_sources *s, const char *input,
                  const char *topic)
{
    uint32_t id, n;

    if (s == NULL || input == NULL)
        return 0;
    if (topic == NULL)
        topic = "";
    id = sn_corr_source_find(s, input, topic);
    if (id != 0)
        return id;
    pthread_mutex_lock(&s->mu);
    n = atomic_load_explicit(&s->n, memory_order_relaxed);
    id = lookup(s, n, input, topic); /* another thread may have won */
    if (id == 0 && n < SN_CORR_SOURCES_MAX) {
        size_t li = strlen(input), lt = strlen(topic);
        char *p = malloc(li + lt + 2);

        if (p != NULL) {
            memcpy(p, input, li + 1);
            memcpy(p + li + 1, topic, lt + 1);
            s->e[n].input = p;
            s->e[n].topic = p + li + 1;
            atomic_store_explicit(&s->n, n + 1, memory_order_release);
            id = n + 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return id;
}

bool
sn_corr_source_names(const struct sn_corr_sources *s, uint32_t id,
                     const char **input, const char **topic)
{
    if (s == NULL || id == 0 ||
        id > atomic_load_explicit(&s->n, memory_order_acquire))
        return false;
    *input = s->e[id - 1].input;
    *topic = s->e[id - 1].topic;
    return true;
}

size_t
sn_corr_drop(struct sn_corr *c, sn_corr_want_fn want, void *arg)
{
    size_t n = 0;

    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];

        for (struct ckey *k = sn_corr_lru_tail(c, cr), *prev; k != NULL;
             k = prev) {
            prev = sn_corr_lru_newer(c, k);
            if (want(arg, cr->spec, k->hash, &k->origin)) {
                sn_corr_key_release(c, cr, k);
                n++;
            }
        }
    }
    return n;
}
