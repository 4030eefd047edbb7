/*
 * Sigma correlation rules (docs/sigma.md, "Correlations") onto the
 * engine's kinds: event_count -> threshold, value_count -> distinct,
 * temporal_ordered -> sequence, with group-by (through the field
 * mapping of the rules named), timespan -> window and condition gte/gt
 * -> count. The rule is an ordinary sn_rule whose correlation keys are
 * YAML nodes made here, so correlate_spec.c parses, checks and explains
 * it like a native one. Part of the loader (load_int.h).
 */
#include "rules/load_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "rules/limits.h"

static const char *const corr_keys[] = { "type",     "rules",     "group-by",
                                         "timespan", "condition", "generate",
                                         "aliases" };
#define N_CORR_KEYS (sizeof(corr_keys) / sizeof(corr_keys[0]))

/* A node made here, at the position of `at` (errors point there). */
static struct sn_node *
mk(struct builder *b, enum sn_node_type t, const struct sn_node *at,
   const char *str, size_t n)
{
    struct sn_node *x = sn_arena_alloc(&b->rs->arena, sizeof(*x));

    if (x == NULL)
        return NULL;
    memset(x, 0, sizeof(*x));
    x->type = t;
    x->file = at->file;
    x->line = at->line;
    x->col = at->col;
    x->n = n;
    if (t == SN_NODE_SCALAR) {
        x->str = (char *)adup(b->rs, str);
        return x->str ? x : NULL;
    }
    if (t == SN_NODE_MAP)
        x->pairs =
            sn_arena_alloc(&b->rs->arena, (n ? n : 1) * sizeof(*x->pairs));
    else
        x->items =
            sn_arena_alloc(&b->rs->arena, (n ? n : 1) * sizeof(*x->items));
    return x->pairs || x->items ? x : NULL;
}

static struct sn_pair *
mk_pair(struct builder *b, const struct sn_node *at, const char *key,
        struct sn_node *v)
{
    struct sn_pair *p = sn_arena_alloc(&b->rs->arena, sizeof(*p));

    if (p == NULL || v == NULL ||
        (p->key = mk(b, SN_NODE_SCALAR, at, key, 0)) == NULL)
        return NULL;
    p->value = v;
    return p;
}

/* The loaded rule a correlation names (by id or by Sigma `name`). */
static size_t
find_ref(struct builder *b, const char *ref)
{
    for (size_t k = 0; k < b->rs->n_rules; k++) {
        const struct sn_node *nm = sn_node_get(b->nodes[k].node, "name");
        if (strcmp(b->rs->rules[k].id, ref) == 0 ||
            (b->nodes[k].sigma && nm != NULL && nm->type == SN_NODE_SCALAR &&
             strcmp(nm->str, ref) == 0))
            return k;
    }
    return (size_t)-1;
}

/* condition: {gte: N} or {gt: N} (value_count: and `field`) -> count. */
static bool
count_of(struct builder *b, const struct sn_node *c, long *count,
         const char **field)
{
    *count = 0;
    *field = NULL;
    if (c == NULL || c->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, c ? c : NULL,
             "a Sigma correlation needs a \"condition\" mapping (gte: N)");
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->pairs[i].key->str, *v = c->pairs[i].value->str;
        char *end;
        long n;

        if (strcmp(k, "field") == 0 && v != NULL) {
            *field = v;
            continue;
        }
        if (strcmp(k, "gte") != 0 && strcmp(k, "gt") != 0) {
            diag(b, SN_DIAG_ERROR, c->pairs[i].key,
                 "Sigma correlation condition \"%s\" is not supported (only "
                 "gte and gt: the engine fires when a count is reached)",
                 k);
            return false;
        }
        n = v ? strtol(v, &end, 10) : 0;
        if (v == NULL || *end != '\0' || n < 0 || n > 1000000) {
            diag(b, SN_DIAG_ERROR, c->pairs[i].value,
                 "\"%s\" needs a count (0 to 1000000)", k);
            return false;
        }
        *count = k[1] == 't' && k[2] == '\0' ? n + 1 : n;
    }
    if (*count < 1) {
        diag(b, SN_DIAG_ERROR, c,
             "a Sigma correlation condition needs gte "
             "or gt (a count of at least 1)");
        return false;
    }
    return true;
}

/* {"format":"sigma","correlation":TYPE,"rules":[...],...} for the
 * incident and the rules route. */
static const char *
meta(struct builder *b, const struct sn_node *n, const char *type,
     const char *const *refs, size_t n_refs)
{
    struct sn_buf o;
    const char *out = NULL;
    enum sn_status rc;

    sn_buf_init(&o, 16 * 1024);
    rc = SN_BUF_LIT(&o, "{\"format\":\"sigma\"");
    if (rc == SN_OK)
        rc = sn_json_member_str(&o, "correlation", type);
    if (rc == SN_OK)
        rc = SN_BUF_LIT(&o, ",\"rules\":[");
    for (size_t i = 0; rc == SN_OK && i < n_refs; i++) {
        if (i > 0)
            rc = sn_buf_putc(&o, ',');
        if (rc == SN_OK)
            rc = sn_json_str(&o, refs[i], strlen(refs[i]));
    }
    if (rc == SN_OK)
        rc = sn_buf_putc(&o, ']');
    if (rc == SN_OK && sn_node_get(n, "status") &&
        sn_node_get(n, "status")->type == SN_NODE_SCALAR)
        rc = sn_json_member_str(&o, "status", sn_node_get(n, "status")->str);
    if (rc == SN_OK)
        rc = sn_buf_putc(&o, '}');
    if (rc == SN_OK &&
        (out = sn_arena_memdup(&b->rs->arena, o.data, o.len + 1)) != NULL)
        ((char *)out)[o.len] = '\0';
    sn_buf_fini(&o);
    return out;
}

bool
sn_load_sigma_corr(struct builder *b, struct rule_node *rn, struct sn_rule *r)
{
    const struct sn_node *n = rn->node, *c = sn_node_get(n, "correlation");
    const struct sn_node *type, *rules, *gb, *ts, *ext = NULL;
    const char *refs[SN_RULES_SIGMA_MAX_REFS], *field = NULL;
    size_t ref_idx[SN_RULES_SIGMA_MAX_REFS], n_refs, n_kept = 0;
    const struct sn_pair **kept;
    struct sn_buf m;
    struct sn_node *mn, *v;
    long count = 0;
    bool ok = true;

    if (!sn_sigma_header(b, n, r))
        return false;
    if (c->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, c, "\"correlation\" must be a mapping");
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t k;
        for (k = 0; k < N_CORR_KEYS; k++)
            if (strcmp(c->pairs[i].key->str, corr_keys[k]) == 0)
                break;
        if (k == N_CORR_KEYS) {
            unknown_key(b, c->pairs[i].key, "a Sigma correlation", corr_keys,
                        N_CORR_KEYS);
            return false;
        }
    }
    if (sn_node_get(c, "aliases") != NULL) {
        diag(b, SN_DIAG_ERROR, sn_node_get(c, "aliases"),
             "Sigma correlation \"aliases\" are not supported (map the "
             "fields to one event field instead)");
        return false;
    }
    type = sn_node_get(c, "type");
    rules = sn_node_get(c, "rules");
    gb = sn_node_get(c, "group-by");
    ts = sn_node_get(c, "timespan");
    if (type == NULL || type->type != SN_NODE_SCALAR) {
        diag(b, SN_DIAG_ERROR, type ? type : c,
             "a Sigma correlation needs a \"type\" (event_count, "
             "value_count, temporal_ordered)");
        return false;
    }
    if (strcmp(type->str, "temporal") == 0) {
        diag(b, SN_DIAG_ERROR, type,
             "Sigma correlation type \"temporal\" (in any order) is not "
             "supported: the engine's sequence is ordered; use "
             "temporal_ordered");
        return false;
    }
    if (strcmp(type->str, "event_count") != 0 &&
        strcmp(type->str, "value_count") != 0 &&
        strcmp(type->str, "temporal_ordered") != 0) {
        diag(b, SN_DIAG_ERROR, type,
             "unknown Sigma correlation type \"%s\" (event_count, "
             "value_count, temporal_ordered)",
             type->str);
        return false;
    }
    if (ts == NULL || ts->type != SN_NODE_SCALAR) {
        diag(b, SN_DIAG_ERROR, ts ? ts : c,
             "a Sigma correlation needs a \"timespan\" (5m, 1h)");
        return false;
    }
    if (rules == NULL ||
        (rules->type != SN_NODE_SEQ && rules->type != SN_NODE_SCALAR)) {
        diag(b, SN_DIAG_ERROR, rules ? rules : c,
             "a Sigma correlation needs \"rules\": the ids or names of the "
             "rules it correlates");
        return false;
    }
    n_refs = rules->type == SN_NODE_SEQ ? rules->n : 1;
    if (n_refs == 0 || n_refs > SN_RULES_SIGMA_MAX_REFS) {
        diag(b, SN_DIAG_ERROR, rules, "a Sigma correlation names 1 to %d rules",
             SN_RULES_SIGMA_MAX_REFS);
        return false;
    }
    for (size_t i = 0; i < n_refs; i++) {
        const struct sn_node *it =
            rules->type == SN_NODE_SEQ ? rules->items[i] : rules;
        if (it->type != SN_NODE_SCALAR) {
            diag(b, SN_DIAG_ERROR, it, "a rule reference must be a string");
            return false;
        }
        ref_idx[i] = find_ref(b, it->str);
        if (ref_idx[i] == (size_t)-1) {
            /* Most often a rule skipped for its mapping: say so, skip. */
            diag(b, SN_DIAG_WARNING, it,
                 "skipped: Sigma correlation names rule \"%s\", which is not "
                 "loaded",
                 it->str);
            return false;
        }
        refs[i] = b->rs->rules[ref_idx[i]].id;
        if (i == 0)
            ext = b->nodes[ref_idx[0]].sigma_extract;
    }
    kept = sn_arena_alloc(&b->rs->arena, 4 * sizeof(*kept));
    if (kept == NULL)
        return false;
    /* group-by: Sigma fields through the mapping of every rule named. */
    if (gb != NULL) {
        size_t ng = gb->type == SN_NODE_SEQ ? gb->n : 1;
        v = mk(b, SN_NODE_SEQ, gb, NULL, ng);
        for (size_t g = 0; v != NULL && g < ng; g++) {
            const struct sn_node *it =
                gb->type == SN_NODE_SEQ ? gb->items[g] : gb;
            const char *t = NULL;
            for (size_t i = 0; it->type == SN_NODE_SCALAR && i < n_refs; i++) {
                const char *ti =
                    b->nodes[ref_idx[i]].sigma
                        ? sn_sigma_map_field(b, b->nodes[ref_idx[i]].sigma_ls,
                                             it->str)
                        : it->str;
                if (ti == NULL || (t != NULL && strcmp(t, ti) != 0)) {
                    t = NULL;
                    break;
                }
                t = ti;
            }
            if (t == NULL) {
                diag(b, SN_DIAG_WARNING, it,
                     "skipped: Sigma group-by field \"%s\" has no mapping (or "
                     "maps differently) for the rules named",
                     it->type == SN_NODE_SCALAR ? it->str : "?");
                return false;
            }
            v->items[g] = mk(b, SN_NODE_SCALAR, it, t, 0);
            if (v->items[g] == NULL)
                return false;
        }
        if ((kept[n_kept++] = mk_pair(b, gb, "group_by", v)) == NULL)
            return false;
    }
    if ((kept[n_kept++] = mk_pair(b, ts, "window", (struct sn_node *)ts)) ==
        NULL)
        return false;
    sn_buf_init(&m, SN_RULES_EXPR_MAX_BYTES);
    if (strcmp(type->str, "temporal_ordered") == 0) {
        /* The steps feed the sequence; its own match is not used. */
        v = mk(b, SN_NODE_SEQ, rules, NULL, n_refs);
        for (size_t i = 0; v != NULL && i < n_refs; i++)
            v->items[i] =
                mk(b, SN_NODE_SCALAR,
                   rules->type == SN_NODE_SEQ ? rules->items[i] : rules,
                   refs[i], 0);
        kept[n_kept++] = mk_pair(b, rules, "sequence", v);
        sn_buf_puts(&m, "false");
    } else {
        ok = count_of(b, sn_node_get(c, "condition"), &count, &field);
        /* The correlation counts the matches of the rules it names: its
         * match is theirs, with their extraction (one logsource). */
        for (size_t i = 0; ok && i < n_refs; i++) {
            if (b->nodes[ref_idx[i]].sigma_extract != ext) {
                diag(b, SN_DIAG_ERROR, rules,
                     "the rules of a Sigma %s must share one logsource "
                     "(their fields are extracted alike)",
                     type->str);
                ok = false;
                break;
            }
            if (i > 0)
                sn_buf_puts(&m, " or ");
            sn_buf_printf(&m, "(%s)", b->nodes[ref_idx[i]].match->str);
        }
        if (ok && strcmp(type->str, "value_count") == 0) {
            const char *t = field == NULL ? NULL
                            : b->nodes[ref_idx[0]].sigma
                                ? sn_sigma_map_field(
                                      b, b->nodes[ref_idx[0]].sigma_ls, field)
                                : field;
            char num[32];
            if (field == NULL) {
                diag(b, SN_DIAG_ERROR, sn_node_get(c, "condition"),
                     "a value_count condition needs a \"field\"");
                ok = false;
            } else if (t == NULL) {
                diag(b, SN_DIAG_WARNING, sn_node_get(c, "condition"),
                     "skipped: Sigma field \"%s\" has no mapping for the "
                     "rules named",
                     field);
                ok = false;
            } else {
                const struct sn_node *at = sn_node_get(c, "condition");
                snprintf(num, sizeof(num), "%ld", count);
                v = mk(b, SN_NODE_MAP, at, NULL, 2);
                if (v != NULL) {
                    v->pairs[0].key = mk(b, SN_NODE_SCALAR, at, "field", 0);
                    v->pairs[0].value = mk(b, SN_NODE_SCALAR, at, t, 0);
                    v->pairs[1].key = mk(b, SN_NODE_SCALAR, at, "count", 0);
                    v->pairs[1].value = mk(b, SN_NODE_SCALAR, at, num, 0);
                }
                kept[n_kept++] = mk_pair(b, at, "distinct", v);
            }
        } else if (ok) {
            const struct sn_node *at = sn_node_get(c, "condition");
            char num[32];
            snprintf(num, sizeof(num), "%ld", count);
            v = mk(b, SN_NODE_MAP, at, NULL, 1);
            if (v != NULL) {
                v->pairs[0].key = mk(b, SN_NODE_SCALAR, at, "count", 0);
                v->pairs[0].value = mk(b, SN_NODE_SCALAR, at, num, 0);
            }
            kept[n_kept++] = mk_pair(b, at, "threshold", v);
        }
    }
    if (ok && kept[n_kept - 1] == NULL)
        ok = false;
    if (ok && sn_buf_putc(&m, '\0') != SN_OK) {
        diag(b, SN_DIAG_ERROR, c,
             "the correlation's match is larger than %d "
             "bytes",
             SN_RULES_EXPR_MAX_BYTES);
        ok = false;
    }
    mn = ok ? mk(b, SN_NODE_SCALAR, c, m.data, 0) : NULL;
    sn_buf_fini(&m);
    if (mn == NULL)
        return false;
    rn->match = mn;
    r->kept = kept;
    r->n_kept = n_kept;
    r->sigma = meta(b, n, type->str, refs, n_refs);
    /* The same extraction as the rules counted, so group-by and the
     * distinct field read what they read. */
    if (ext != NULL && strcmp(type->str, "temporal_ordered") != 0) {
        const struct src_file *rule_file = b->file;
        for (size_t i = 0; i < b->n_sigma_maps; i++)
            if (b->sigma_maps[i]->file == ext->file)
                b->file = b->sigma_map_files[i];
        ok = sn_load_extract(b, r, ext);
        b->file = rule_file;
    }
    return ok && r->sigma != NULL;
}
