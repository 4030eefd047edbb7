/*
 * det_rules match signals: a rule without a correlation signals each
 * matching event ("kind":"match"). Within one detector batch (per worker
 * thread) the matches of one (rule, group key, source partition) become
 * ONE signal that stands for them all (option coalesce, default on):
 * "coalesced" = "repeat" = window count = n, threshold 1, first_ns /
 * last_ns the earliest and latest event time, evidence the group's first
 * and last DR_CO_EVIDENCE events (consecutive repeats of one evidence
 * item left out: the incident manager would drop them too), trace and
 * source those of the first event (the one that opened the group, whose
 * source also names a new incident's deterministic id). The incident
 * manager folds it as n signals, its evidence items one by one
 * (incident/fold.c), so the incident is what n signals made it.
 * docs/correlation.md "Signals" is the contract.
 */
#include "det_rules.h"

#include <stdlib.h>
#include <string.h>

#include "rules/value.h"

static bool
field_value(const struct dr_state *s, const struct dr_match *dm,
            const struct dr_tls *t, struct dr_event *e, const char *name,
            struct sn_value *v)
{
    size_t len = strlen(name);
    int id = sn_field_table_find(&s->rs->fields, name);

    for (uint32_t i = 0; i < dm->n_fv; i++) {
        const struct sn_rule_field_value *f = &t->fv[dm->fv + i];
        if (f->name_len == len && memcmp(f->name, name, len) == 0) {
            *v = f->v;
            return true;
        }
    }
    return dr_get(e, id < 0 ? INT32_MAX : id, name, len, v);
}

/* The signal's key (the rule's group_by values, cut as the engine cuts
 * them) and key hash; false when a value is missing: no signal. */
static bool
key_of(struct dr_state *s, struct dr_tls *t, const struct dr_match *dm,
       struct sn_str *vals, char (*tmp)[64], uint64_t *hash)
{
    const struct sn_rule *r = dm->rule;
    const char *const *gb = s->set->match_group_by[r->index];
    size_t n_gb = s->set->n_match_group_by[r->index];
    struct dr_event e = { s->host, s->host->batch_event(t->batch, dm->ev) };
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const char *p = r->id; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    for (size_t i = 0; i < n_gb && i < SN_CORR_MAX_GROUP_BY; i++) {
        struct sn_value v;
        if (!field_value(s, dm, t, &e, gb[i], &v) ||
            !sn_value_text(&v, tmp[i], sizeof(tmp[i]), &vals[i]))
            return false; /* as the engine: no key, no count */
        if (vals[i].len > SN_CORR_VALUE_MAX)
            vals[i].len = SN_CORR_VALUE_MAX;
        h = (h ^ 0xff) * 0x100000001b3ULL;
        for (size_t k = 0; k < vals[i].len; k++)
            h = (h ^ (unsigned char)vals[i].ptr[k]) * 0x100000001b3ULL;
    }
    *hash = h;
    return true;
}

static int64_t
time_of(const struct dr_match *dm)
{
    return dm->time_ns ? dm->time_ns : dm->arrival_ns;
}

static void
evidence_of(const struct dr_tls *t, const struct dr_match *dm,
            struct sn_corr_evidence *evd)
{
    evd->time_ns = time_of(dm);
    evd->summary = dm->sum_len ? t->sums.data + dm->sum : "";
    evd->summary_len = dm->sum_len;
    evd->is_json = dm->sum_len > 0;
    evd->step = NULL;
}

/* The signal of the group whose first match is dm, standing for n
 * events (evidence filled by the caller). */
static void
signal_of(struct dr_state *s, struct dr_tls *t, const struct dr_match *dm,
          const struct sn_str *vals, uint64_t hash, uint64_t n,
          int64_t first_ns, int64_t last_ns, struct sn_signal *sig,
          struct sn_signal_source *src)
{
    const struct sn_rule *r = dm->rule;
    const struct sn_record *rec =
        s->host->event_record(s->host->batch_event(t->batch, dm->ev));

    memset(sig, 0, sizeof(*sig));
    sig->rule = r;
    sig->rule_id = r->id;
    sig->kind = SN_CORR_MATCH;
    sig->state = SN_SIGNAL_FIRING;
    sig->severity = sig->base_severity = r->severity;
    sig->time_ns = time_of(dm);
    sig->key_fields = s->set->match_group_by[r->index];
    sig->key_values = vals;
    sig->n_key = s->set->n_match_group_by[r->index];
    sig->key_hash = hash;
    sig->repeat = n;
    sig->coalesced = n > 1 ? n : 0;
    sig->count = n;
    sig->threshold = 1;
    sig->first_ns = first_ns;
    sig->last_ns = last_ns;
    if (rec != NULL) {
        dr_source_of(rec, src);
        sig->source = src;
    }
}

/* One signal for this match at once (coalesce off). */
static void
signal_now(struct dr_state *s, struct dr_tls *t, const struct dr_match *dm)
{
    struct sn_str vals[SN_CORR_MAX_GROUP_BY];
    char tmp[SN_CORR_MAX_GROUP_BY][64];
    struct sn_corr_evidence evd;
    struct sn_signal sig;
    struct sn_signal_source src;
    uint64_t h;

    if (!key_of(s, t, dm, vals, tmp, &h))
        return;
    signal_of(s, t, dm, vals, h, 1, time_of(dm), time_of(dm), &sig, &src);
    evidence_of(t, dm, &evd);
    sig.first = &evd;
    sig.n_first = 1;
    dr_capture(s, t, &sig, dm->rule, dm->ev);
}

/* ---- the batch's groups ------------------------------------------------ */

static size_t
bucket_of(uint64_t hash, struct sn_corr_origin o)
{
    return (size_t)((hash ^ (uint32_t)o.part ^ ((uint64_t)o.src << 32)) &
                    (DR_CO_BUCKETS - 1));
}

static bool
same_key(const struct dr_tls *t, const struct dr_co_group *g,
         const struct sn_str *vals, size_t n)
{
    /* data is NULL until a key has a value (no group_by: none). */
    const char *p = t->co_keys.data ? t->co_keys.data + g->key_off : NULL;

    for (size_t i = 0; i < n; i++) {
        uint32_t l;
        memcpy(&l, p, sizeof(l));
        p += sizeof(l);
        if (l != vals[i].len || memcmp(p, vals[i].ptr, l) != 0)
            return false;
        p += l;
    }
    return true;
}

/* Same evidence item as the group's previous carried event. */
static bool
same_item(const struct dr_tls *t, const struct dr_match *a,
          const struct dr_match *b)
{
    return time_of(a) == time_of(b) && a->sum_len == b->sum_len &&
           (a->sum == b->sum || a->sum_len == 0 ||
            memcmp(t->sums.data + a->sum, t->sums.data + b->sum,
                   a->sum_len) == 0);
}

static void
carry(struct dr_tls *t, struct dr_co_group *g, uint32_t m)
{
    const struct dr_match *dm = &t->matches[m];

    if (g->n > 0 && same_item(t, &t->matches[g->prev], dm))
        return;
    g->prev = m;
    if (g->n_head < DR_CO_EVIDENCE)
        g->head[g->n_head++] = m;
    else
        g->tail[g->n_tail++ % DR_CO_EVIDENCE] = m;
}

static bool
grow_groups(struct dr_tls *t)
{
    size_t cap = t->cap_co ? t->cap_co * 2 : 64;
    struct dr_co_group *g;

    g = realloc(t->co, cap * sizeof(*g));
    if (g == NULL)
        return false;
    t->co = g;
    t->cap_co = cap;
    return true;
}

static void
add(struct dr_state *s, struct dr_tls *t, uint32_t m)
{
    const struct dr_match *dm = &t->matches[m];
    struct sn_str vals[SN_CORR_MAX_GROUP_BY];
    char tmp[SN_CORR_MAX_GROUP_BY][64];
    size_t n_key = s->set->n_match_group_by[dm->rule->index];
    struct dr_co_group *g;
    uint32_t *slot;
    uint64_t h;
    size_t off;

    if (n_key > SN_CORR_MAX_GROUP_BY)
        n_key = SN_CORR_MAX_GROUP_BY;
    if (!key_of(s, t, dm, vals, tmp, &h))
        return;
    slot = &t->co_bucket[bucket_of(h, dm->origin)];
    for (uint32_t i = *slot; i != 0; i = t->co[i - 1].next) {
        g = &t->co[i - 1];
        if (g->hash == h && g->rule == dm->rule &&
            g->origin.src == dm->origin.src &&
            g->origin.part == dm->origin.part && same_key(t, g, vals, n_key)) {
            int64_t ns = time_of(dm);
            carry(t, g, m);
            g->n++;
            /* Out of order events: the incident takes the extremes. */
            if (ns < g->first_ns)
                g->first_ns = ns;
            if (ns > g->last_ns)
                g->last_ns = ns;
            return;
        }
    }
    off = t->co_keys.len;
    for (size_t i = 0; i < n_key; i++) {
        uint32_t l = (uint32_t)vals[i].len;
        if (sn_buf_append(&t->co_keys, &l, sizeof(l)) != SN_OK ||
            sn_buf_append(&t->co_keys, vals[i].ptr, l) != SN_OK)
            goto alone;
    }
    if (t->n_co == t->cap_co && !grow_groups(t))
        goto alone;
    g = &t->co[t->n_co++];
    memset(g, 0, sizeof(*g));
    g->rule = dm->rule;
    g->hash = h;
    g->origin = dm->origin;
    g->key_off = (uint32_t)off;
    g->first = m;
    g->first_ns = g->last_ns = time_of(dm);
    carry(t, g, m);
    g->n = 1;
    g->next = *slot;
    *slot = (uint32_t)t->n_co;
    return;
alone:
    /* Out of memory for a group: this match signals on its own. */
    t->co_keys.len = off;
    signal_now(s, t, dm);
}

void
dr_match_signal(struct dr_state *s, struct dr_tls *t, uint32_t m)
{
    if (!s->c->coalesce) {
        signal_now(s, t, &t->matches[m]);
        return;
    }
    add(s, t, m);
}

/* Capture one signal per group, in the order the groups began. */
void
dr_co_flush(struct dr_state *s, struct dr_tls *t)
{
    for (size_t i = 0; i < t->n_co; i++) {
        struct dr_co_group *g = &t->co[i];
        const struct dr_match *dm = &t->matches[g->first];
        size_t n_key = s->set->n_match_group_by[g->rule->index];
        struct sn_str vals[SN_CORR_MAX_GROUP_BY];
        struct sn_corr_evidence first[DR_CO_EVIDENCE], last[DR_CO_EVIDENCE];
        struct sn_signal sig;
        struct sn_signal_source src;
        const char *p =
            t->co_keys.data ? t->co_keys.data + g->key_off : NULL;
        uint32_t n_last = g->n_tail < DR_CO_EVIDENCE ? g->n_tail
                                                     : DR_CO_EVIDENCE;

        if (n_key > SN_CORR_MAX_GROUP_BY)
            n_key = SN_CORR_MAX_GROUP_BY;
        for (size_t k = 0; k < n_key; k++) {
            uint32_t l;
            memcpy(&l, p, sizeof(l));
            vals[k].ptr = p + sizeof(l);
            vals[k].len = l;
            p += sizeof(l) + l;
        }
        signal_of(s, t, dm, vals, g->hash, g->n, g->first_ns, g->last_ns, &sig,
                  &src);
        for (uint32_t k = 0; k < g->n_head; k++)
            evidence_of(t, &t->matches[g->head[k]], &first[k]);
        /* The ring's oldest first. */
        for (uint32_t k = 0; k < n_last; k++)
            evidence_of(
                t,
                &t->matches[g->tail[(g->n_tail - n_last + k) % DR_CO_EVIDENCE]],
                &last[k]);
        sig.first = first;
        sig.n_first = g->n_head;
        sig.last = n_last > 0 ? last : NULL;
        sig.n_last = n_last;
        dr_capture(s, t, &sig, g->rule, dm->ev);
        t->co_bucket[bucket_of(g->hash, g->origin)] = 0;
    }
    t->n_co = 0;
    sn_buf_reset(&t->co_keys);
}
