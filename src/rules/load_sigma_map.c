/*
 * The Sigma field mapping (docs/sigma.md, "The field mapping"): `sigma:`
 * documents checked when read, and the lookups of a rule's logsource and
 * fields, later documents first (overrides). Part of the loader
 * (load_int.h); load_sigma.c and load_sigma_corr.c use it.
 */
#include "rules/load_int.h"

#include <string.h>

#include "rules/expr_parse.h"

static const char *const map_keys[] = { "fields", "logsources" };
static const char *const ls_keys[] = { "product", "service", "category",
                                       "match",   "fields",  "extract" };

static bool
check_field_map(struct builder *b, const struct sn_node *n)
{
    bool ok = true;

    if (n->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, n,
             "Sigma \"fields\" must map Sigma field names to event fields "
             "(CommandLine: process.command_line)");
        return false;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sn_node *v = n->pairs[i].value;
        if (v->type != SN_NODE_SCALAR || !valid_field_name(v->str)) {
            diag(b, SN_DIAG_ERROR, v,
                 "Sigma field \"%s\" must map to an event field name "
                 "(dotted words: user.name)",
                 n->pairs[i].key->str);
            ok = false;
        }
    }
    return ok;
}

/* A logsource's `match` is checked for syntax here, so its mistakes are
 * reported in the mapping file, not at every rule that uses it. */
static bool
check_match(struct builder *b, const struct sn_node *v)
{
    struct sn_arena a;
    struct sn_expr *e;
    struct sn_expr_err err;
    enum sn_status rc;

    sn_arena_init(&a, 16 * 1024, 0);
    rc = sn_expr_parse(v->str, strlen(v->str), &a, &e, &err);
    sn_arena_fini(&a);
    if (rc == SN_OK)
        return true;
    diag_in(b, SN_DIAG_ERROR, v, err.off, "Sigma logsource match: %s", err.msg);
    return false;
}

bool
sn_sigma_check_map(struct builder *b, const struct sn_node *n)
{
    bool ok = true;

    if (n->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, n,
             "\"sigma\" must be a mapping with \"fields\" and/or "
             "\"logsources\"");
        return false;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct sn_pair *p = &n->pairs[i];
        if (strcmp(p->key->str, "fields") == 0) {
            ok &= check_field_map(b, p->value);
        } else if (strcmp(p->key->str, "logsources") == 0) {
            if (p->value->type != SN_NODE_SEQ) {
                diag(b, SN_DIAG_ERROR, p->value,
                     "\"logsources\" must be a list of mappings");
                ok = false;
                continue;
            }
            for (size_t k = 0; k < p->value->n; k++) {
                const struct sn_node *e = p->value->items[k];
                bool any = false;
                if (e->type != SN_NODE_MAP) {
                    diag(b, SN_DIAG_ERROR, e,
                         "a Sigma logsource must be a mapping");
                    ok = false;
                    continue;
                }
                for (size_t j = 0; j < e->n; j++) {
                    const struct sn_pair *q = &e->pairs[j];
                    size_t ki;
                    for (ki = 0; ki < 6; ki++)
                        if (strcmp(q->key->str, ls_keys[ki]) == 0)
                            break;
                    if (ki == 6) {
                        unknown_key(b, q->key, "a Sigma logsource", ls_keys, 6);
                        ok = false;
                    } else if (ki < 4) {
                        any |= ki < 3;
                        ok &= want_string(b, q->value, q->key->str) != NULL;
                        if (ki == 3 && q->value->type == SN_NODE_SCALAR)
                            ok &= check_match(b, q->value);
                    } else if (ki == 4) {
                        ok &= check_field_map(b, q->value);
                    }
                }
                if (!any) {
                    diag(b, SN_DIAG_ERROR, e,
                         "a Sigma logsource needs \"product\", \"service\" "
                         "or \"category\"");
                    ok = false;
                }
            }
        } else {
            unknown_key(b, p->key, "a Sigma mapping", map_keys, 2);
            ok = false;
        }
    }
    return ok;
}

const char *
sn_sigma_node_str(const struct sn_node *map, const char *key)
{
    const struct sn_node *v = map ? sn_node_get(map, key) : NULL;

    return v != NULL && v->type == SN_NODE_SCALAR ? v->str : NULL;
}

static bool
same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The mapping entry for the rule's logsource: product, service and
 * category all equal (absent = absent); later documents win. */
const struct sn_node *
sn_sigma_find_logsource(struct builder *b, const struct sn_node *ls)
{
    for (size_t i = b->n_sigma_maps; i-- > 0;) {
        const struct sn_node *l = sn_node_get(b->sigma_maps[i], "logsources");
        for (size_t k = l && l->type == SN_NODE_SEQ ? l->n : 0; k-- > 0;) {
            const struct sn_node *e = l->items[k];
            if (e->type == SN_NODE_MAP &&
                same(sn_sigma_node_str(e, "product"),
                     sn_sigma_node_str(ls, "product")) &&
                same(sn_sigma_node_str(e, "service"),
                     sn_sigma_node_str(ls, "service")) &&
                same(sn_sigma_node_str(e, "category"),
                     sn_sigma_node_str(ls, "category")))
                return e;
        }
    }
    return NULL;
}

/* The event field a Sigma field maps to: the logsource's own table,
 * then the global ones, later documents first. NULL: no mapping. */
const char *
sn_sigma_map_field(struct builder *b, const struct sn_node *ls,
                   const char *name)
{
    const char *t = sn_sigma_node_str(sn_node_get(ls, "fields"), name);

    for (size_t i = b->n_sigma_maps; t == NULL && i-- > 0;)
        t = sn_sigma_node_str(sn_node_get(b->sigma_maps[i], "fields"), name);
    return t;
}
