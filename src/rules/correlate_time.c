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


/* Absence: create the expected keys once the engine knows the time. */
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
    for (size_t i = 0; i < s->n_expected; i++) {
        /* Not c->kbuf: the caller may hold the key of its event there. */
        char kb[sizeof(c->kbuf)];
        size_t n = 0;
        uint64_t h;
        for (size_t j = 0; j < s->n_group_by; j++) {
            const char *v = s->expected[i * s->n_group_by + j];
            struct sn_str str = { v, strlen(v) };
            n += sn_corr_key_put(kb + n, str);
        }
        h = sn_corr_mix(sn_corr_fnv(cr->id_hash, kb, n));
        if (c->cfg.n_shards > 1 && h % c->cfg.n_shards != c->cfg.shard)
            continue;
        if (sn_corr_key_find(cr, h, kb, (uint32_t)n) == NULL)
            sn_corr_key_new(c, cr, kb, (uint32_t)n, h, c->wm);
    }
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
            sn_corr_lru_unlink(cr, k);
            sn_corr_lru_push_head(cr, k);
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
    for (size_t r = 0; r < c->n_rules; r++) {
        struct crule *cr = &c->rules[r];
        int64_t d = min_delay(cr->spec);
        size_t budget = cr->n_keys;
        struct ckey *k = cr->lru_tail;

        sn_corr_prime(c, cr);
        /* Fired windows' updates and closes that are due (refire
         * per_window), in an order of their own (sorted). */
        if (cr->pend_head != NULL)
            sn_corr_pending_due(c, cr);
        if (d != INT64_MAX) {
            while (k != NULL && budget-- > 0) {
                struct ckey *prev = k->prev;
                /* The LRU is ordered by touch_wm and a key's newest event
                 * is at least touch_wm - lateness: past this point no key
                 * can be due yet. */
                if (k->touch_wm - cr->spec->lateness_ns > c->wm - d)
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
