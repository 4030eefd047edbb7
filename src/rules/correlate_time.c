/*
 * Time-driven checks of the correlation engine (sn_corr_advance): absence
 * firing, resolve after quiet, reclaiming keys whose windows have passed,
 * and priming the expected keys of absence rules. Walks each rule's LRU
 * from the tail and stops at the first key that cannot be due yet. See
 * docs/correlation.md.
 */
#include "rules/correlate.h"

#include <string.h>

#include "rules/correlate_int.h"

/* ---- time-driven state ------------------------------------------------- */


/* Smallest delay after a key's last event before a check can be due. */
static int64_t
min_delay(const struct sn_corr_spec *s)
{
    int64_t d = INT64_MAX;

    switch (s->kind) {
    case SN_CORR_THRESHOLD:
    case SN_CORR_DISTINCT:
    case SN_CORR_SEQUENCE:
        d = s->window_ns + s->lateness_ns;
        break;
    case SN_CORR_RATE:
        d = s->warmup_ns + s->lateness_ns;
        break;
    case SN_CORR_ABSENCE:
        d = s->after_ns;
        break;
    case SN_CORR_NEW_VALUE:
    case SN_CORR_MATCH:
        break;
    }
    if (s->resolve_ns && s->resolve_ns < d)
        d = s->resolve_ns;
    return d;
}


/* The encoded key (into kb, *n bytes) and hash of spec s's expected key
 * i. */
static uint64_t
expected_key(const struct crule *cr, size_t i, char *kb, size_t *n)
{
    const struct sn_corr_spec *s = cr->spec;

    *n = 0;
    for (size_t j = 0; j < s->n_group_by; j++) {
        const char *v = s->expected[i * s->n_group_by + j];
        struct sn_str str = { v, strlen(v) };
        *n += sn_corr_key_put(kb + *n, str);
    }
    return sn_corr_mix(sn_corr_fnv(cr->id_hash, kb, *n));
}

static bool
in_shard(const struct sn_corr *c, uint64_t h)
{
    return c->cfg.n_shards <= 1 ||
           sn_corr_shard(h, c->cfg.n_shards) == c->cfg.shard;
}

/* Absence: create the expected keys once the engine knows the time,
 * unless the caller creates them with their partition (deferred). */
void
sn_corr_prime(struct sn_corr *c, struct crule *cr)
{
    const struct sn_corr_spec *s = cr->spec;

    if (cr->primed || c->wm == T_NONE)
        return;
    cr->primed = true;
    /* new_value learns from the engine's first watermark for the rule. */
    if (cr->learn_start == T_NONE)
        cr->learn_start = c->wm;
    if (c->deferred != NULL && c->deferred[s->index])
        return;
    for (size_t i = 0; i < s->n_expected; i++) {
        /* Not c->kbuf: the caller may hold the key of its event there. */
        char kb[sizeof(c->kbuf)];
        size_t n;
        uint64_t h = expected_key(cr, i, kb, &n);

        if (in_shard(c, h) && sn_corr_key_find(cr, h, kb, (uint32_t)n) == NULL)
            sn_corr_key_new(c, cr, kb, (uint32_t)n, h, c->wm);
    }
}

void
sn_corr_prime_deferred(struct sn_corr *c, const bool *deferred)
{
    c->deferred = deferred;
}

size_t
sn_corr_prime_keys(struct sn_corr *c, sn_corr_want_fn want, void *arg,
                   const struct sn_corr_origin *tag, int64_t now_ns)
{
    int64_t t = c->wm != T_NONE ? c->wm : now_ns;
    int64_t stream = sn_corr_stream_wm_of(c, tag);
    size_t made = 0;

    /* Timed from the key's stream when that is ahead: an instance whose
     * own clock lags (it is still reading a backlog) would otherwise
     * find every expected key absent at the stream's next watermark. */
    if (stream != T_NONE && (t == T_NONE || stream > t))
        t = stream;
    if (c->deferred == NULL || t == T_NONE)
        return 0;
    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        const struct sn_corr_spec *s = cr->spec;

        if (!c->deferred[s->index])
            continue;
        for (size_t i = 0; i < s->n_expected; i++) {
            char kb[sizeof(c->kbuf)];
            size_t n;
            uint64_t h = expected_key(cr, i, kb, &n);
            struct ckey *k;

            if (!in_shard(c, h) || !want(arg, s, h, tag) ||
                sn_corr_key_find(cr, h, kb, (uint32_t)n) != NULL)
                continue;
            k = sn_corr_key_new(c, cr, kb, (uint32_t)n, h, t);
            if (k == NULL)
                return made; /* ENOMEM: the rest stay unexpected */
            /* Aged like the partition's other keys: by the engine's
             * watermark (the LRU walk needs a time, even before one). */
            k->touch_wm = t;
            k->origin = *tag;
            k->primed = true;
            made++;
        }
    }
    return made;
}

static void
check_key(struct sn_corr *c, struct crule *cr, struct ckey *k)
{
    const struct sn_corr_spec *s = cr->spec;
    int64_t wm = sn_corr_key_wm(c, cr, k);

    if (s->kind == SN_CORR_ABSENCE) {
        if (!k->absent && k->last_t != T_NONE &&
            wm >= k->last_t + s->after_ns) {
            struct sn_signal sig;
            sn_corr_sig_init(c, cr, k, &sig, SN_SIGNAL_FIRING,
                             k->last_t + s->after_ns);
            sig.first_ns = sig.last_ns = k->last_t;
            sig.count = 0;
            sn_corr_evidence_collect(c, k, INT64_MIN, INT64_MAX, &sig);
            sig.first = NULL, sig.n_first = 0;
            k->absent = true;
            sn_corr_hit(c, cr, k, &sig);
        }
        if (k->absent) {
            sn_corr_lru_touch(c, cr, k);
            k->touch_wm = c->wm;
        }
        return;
    }
    sn_corr_window_close(c, cr, k, wm);
    if (k->firing && s->resolve_ns && wm >= k->last_t + s->resolve_ns)
        sn_corr_resolve(c, cr, k, k->last_t + s->resolve_ns);
    if (sn_corr_key_reclaimable(c, cr, k)) {
        sn_corr_key_release(c, cr, k);
        cr->st.keys_reclaimed++;
    }
}

enum sn_status
sn_corr_advance(struct sn_corr *c, int64_t now_ns)
{
    if (now_ns > c->wm)
        c->wm = now_ns;
    sn_corr_owm_tick(c);
    /* Signals raised here come from the clock, not from a record. */
    c->cur_has_origin = false;
    if (c->wm == T_NONE)
        return SN_OK;
    int64_t top = sn_corr_stream_wm_top(c);

    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        int64_t d = min_delay(cr->spec);
        size_t budget = cr->n_keys;
        struct ckey *k = sn_corr_lru_tail(c, cr);
        /* Absence keys judged by a stream's time are ordered in the LRU
         * by the engine's (touch_wm), which may be ahead of the stream by
         * a lag that shrinks as the stream catches up: the order says
         * nothing of when they are due, so every key is checked (one
         * compare each; the hop's absence rules hold a key per host). */
        bool walk_all = c->n_swm > 0 && cr->spec->kind == SN_CORR_ABSENCE;

        sn_corr_prime(c, cr);
        /* Fired windows' updates and closes that are due (refire
         * per_window), in an order of their own (sorted). */
        if (cr->pend_head != NULL)
            sn_corr_pending_due(c, cr);
        if (d != INT64_MAX) {
            while (k != NULL && budget-- > 0) {
                struct ckey *prev = sn_corr_lru_newer(c, k);
                /* The LRU is ordered by touch_wm and a key's newest event
                 * is at least touch_wm - lateness: past this point no key
                 * can be due yet. */
                if (!walk_all &&
                    k->touch_wm - cr->spec->lateness_ns > top - d)
                    break;
                check_key(c, cr, k);
                k = prev;
            }
        }
        sn_corr_degraded(c, cr);
    }
    sn_corr_chain_drain(c);
    return SN_OK;
}
