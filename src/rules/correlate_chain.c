/*
 * Sequences fed by signals: a sequence step naming a rule that has a
 * correlation of its own counts that rule's firing signals, not its raw
 * matches (docs/correlation.md, "Sequences of correlations"). A signal is
 * emitted in the middle of a feed, so it is copied into a FIFO here and
 * fed once the feed that produced it is complete: into this engine when
 * the sequence's key hashes to its shard, otherwise handed to the
 * caller's forward callback for the engine that owns it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "rules/correlate_int.h"
#include "rules/limits.h"

static void
input_of(const struct chain_item *it, struct sn_rule_field_value *fv,
         struct sn_corr_input *in)
{
    size_t off = 0;

    memset(in, 0, sizeof(*in));
    for (uint32_t i = 0; i < it->n_key; i++) {
        fv[i].name = it->names[i];
        fv[i].name_len = strlen(it->names[i]);
        memset(&fv[i].v, 0, sizeof(fv[i].v));
        fv[i].v.type = SN_VAL_STR;
        fv[i].v.u.s.ptr = it->kb + off;
        fv[i].v.u.s.len = it->klen[i];
        off += it->klen[i];
    }
    in->rule = it->rule;
    in->fields = fv;
    in->n_fields = it->n_key;
    in->time_ns = it->t;
    in->arrival_ns = it->t;
    in->summary = it->summary;
    in->summary_len = it->summary_len;
    in->summary_is_json = it->summary_len > 0;
    in->origin = it->origin;
    in->has_origin = it->has_origin;
}

/* v in decimal, as "%llu" prints it. */
static enum sn_status
put_u64(struct sn_buf *b, uint64_t v)
{
    char tmp[20];
    char *end = tmp + sizeof(tmp), *p = end;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return sn_buf_append(b, p, (size_t)(end - p));
}

/* The evidence a signal leaves in a sequence: what crossed and when,
 * {"signal":"ID","kind":"K","count":N,"threshold":N,"first_ns":N,
 * "last_ns":N} with the id as is. By hand: sn_buf_printf formats twice,
 * and this runs for every signal a sequence takes (two sequences take
 * each brute force of the shipped pack). */
static void
summary_of(const struct sn_signal *sig, struct chain_item *it)
{
    struct sn_buf b;
    bool ok;

    sn_buf_init(&b, sizeof(it->summary));
    ok = SN_BUF_LIT(&b, "{\"signal\":\"") == SN_OK &&
         sn_buf_puts(&b, sig->rule_id) == SN_OK &&
         SN_BUF_LIT(&b, "\",\"kind\":\"") == SN_OK &&
         sn_buf_puts(&b, sn_corr_kind_name(sig->kind)) == SN_OK &&
         SN_BUF_LIT(&b, "\",\"count\":") == SN_OK &&
         put_u64(&b, sig->count) == SN_OK &&
         SN_BUF_LIT(&b, ",\"threshold\":") == SN_OK &&
         put_u64(&b, sig->threshold) == SN_OK &&
         SN_BUF_LIT(&b, ",\"first_ns\":") == SN_OK &&
         sn_json_int(&b, sig->first_ns) == SN_OK &&
         SN_BUF_LIT(&b, ",\"last_ns\":") == SN_OK &&
         sn_json_int(&b, sig->last_ns) == SN_OK &&
         sn_buf_putc(&b, '}') == SN_OK;
    if (ok && b.len < sizeof(it->summary)) {
        memcpy(it->summary, b.data, b.len);
        it->summary_len = (uint32_t)b.len;
    } else {
        it->summary_len = 0; /* a rule id too long to quote: time only */
    }
    sn_buf_fini(&b);
}

void
sn_corr_chain_push(struct sn_corr *c, const struct sn_signal *sig)
{
    const struct sn_corr_spec *s = sig->spec;

    if (c->depth >= SN_CORR_CHAIN_MAX_DEPTH || sig->key_fields == NULL) {
        c->chain_dropped++;
        return;
    }
    for (uint32_t i = 0; i < c->set->n_sig_targets[s->index]; i++) {
        struct sn_rule_field_value fv[SN_CORR_MAX_GROUP_BY];
        struct sn_corr_input in;
        struct chain_item *it;
        size_t off = 0;

        if (c->chain_n == c->chain_cap) {
            size_t cap = c->chain_cap ? c->chain_cap * 2 : 8;
            struct chain_item *n;

            if (cap > SN_CORR_CHAIN_MAX_ITEMS) {
                c->chain_dropped++;
                return;
            }
            n = malloc(cap * sizeof(*n));
            if (n == NULL) {
                c->chain_dropped++;
                return;
            }
            /* Unwrap the ring into the new array. */
            for (size_t k = 0; k < c->chain_n; k++)
                n[k] = c->chain[(c->chain_head + k) % c->chain_cap];
            free(c->chain);
            c->chain = n;
            c->chain_cap = cap;
            c->chain_head = 0;
        }
        it = &c->chain[(c->chain_head + c->chain_n) % c->chain_cap];
        it->spec = c->set->sig_targets[s->index][i];
        it->rule = s->rule;
        it->t = sig->time_ns;
        it->depth = c->depth + 1;
        it->origin = c->cur_origin;
        it->has_origin = c->cur_has_origin;
        it->n_key = (uint32_t)sig->n_key;
        for (size_t k = 0; k < sig->n_key; k++) {
            size_t len = sig->key_values[k].len;
            if (len > SN_CORR_VALUE_MAX)
                len = SN_CORR_VALUE_MAX;
            it->names[k] = sig->key_fields[k];
            it->klen[k] = (uint16_t)len;
            memcpy(it->kb + off, sig->key_values[k].ptr, len);
            off += len;
        }
        summary_of(sig, it);
        input_of(it, fv, &in);
        if (!sn_corr_route_spec(c->set, &in, it->spec, &it->hash)) {
            /* The sequence groups by a field the step's key lacks. */
            c->chain_dropped++;
            continue;
        }
        c->chain_n++;
    }
}

void
sn_corr_chain_drain(struct sn_corr *c)
{
    if (c->draining)
        return;
    c->draining = true;
    while (c->chain_n > 0) {
        /* Copied out: feeding may push more items and move the ring. */
        struct chain_item it = c->chain[c->chain_head];
        struct sn_rule_field_value fv[SN_CORR_MAX_GROUP_BY];
        struct sn_corr_input in;
        struct sn_corr_target t = { .spec = it.spec, .hash = it.hash };

        c->chain_head = (c->chain_head + 1) % c->chain_cap;
        c->chain_n--;
        input_of(&it, fv, &in);
        if ((c->cfg.n_shards > 1 &&
             it.hash % c->cfg.n_shards != c->cfg.shard) ||
            (c->away != NULL && c->away[it.spec])) {
            if (c->cfg.forward != NULL) {
                c->depth = it.depth;
                c->cfg.forward(c->cfg.emit_arg, &in, &t);
                c->depth = 0;
            } else {
                c->chain_dropped++;
            }
            continue;
        }
        c->depth = it.depth;
        sn_corr_feed_chained(c, &in, &t);
        c->depth = 0;
    }
    c->draining = false;
}

void
sn_corr_forward_away(struct sn_corr *c, const bool *away)
{
    c->away = away;
}

unsigned
sn_corr_chain_depth(const struct sn_corr *c)
{
    return c->depth;
}

enum sn_status
sn_corr_feed_at_depth(struct sn_corr *c, const struct sn_corr_input *in,
                      const struct sn_corr_target *t, unsigned depth)
{
    enum sn_status rc;

    if (t->spec >= c->n_rules)
        return SN_EINVAL;
    c->depth = depth;
    rc = sn_corr_feed_chained(c, in, t);
    c->depth = 0;
    sn_corr_chain_drain(c);
    return rc;
}
