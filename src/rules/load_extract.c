/*
 * The `extract` entries of a rule (docs/rules.md, "Extraction"): PCRE2
 * named captures into typed fields, with the log-injection check on
 * patterns that could take an address from the wrong place. Part of the
 * loader (load.c builds the ruleset; load_int.h is the shared builder).
 */
#include "rules/load_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "rules/limits.h"
#include "rules/regex.h"

/* An extract entry's keys, declared (sn_keys_collect reports unknown
 * and missing ones). */
struct extract_nodes {
    const struct sn_node *regex, *fields, *from;
};
static const struct sn_key extract_keys[] = {
    SN_KEY_REQ(struct extract_nodes, regex),
    SN_KEY_REQ(struct extract_nodes, fields),
    SN_KEY(struct extract_nodes, from),
};
static const char *const xtypes[] = { "string", "int", "ip" };

/* ---- extract
 * -------------------------------------------------------------------- */

/* Capture group names of re, in group-number order, into names[]. */
static size_t
group_names(const pcre2_code *re, const char **names, size_t max,
            uint32_t *numbers)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table;
    size_t n = 0;

    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count && n < max; i++) {
        const unsigned char *e = table + (size_t)i * size;
        numbers[n] = ((uint32_t)e[0] << 8) | e[1];
        names[n++] = (const char *)e + 2;
    }
    return n;
}

/* Slot of field `name` in the rule, adding it; -1 after reporting. */
static int
xslot(struct builder *b, struct sn_rule *r, size_t *cap,
      const struct sn_node *at, const char *name, enum sn_xtype type)
{
    for (size_t i = 0; i < r->n_xfields; i++) {
        if (strcmp(r->xfields[i].name, name) == 0) {
            if (r->xfields[i].type != type) {
                diag(b, SN_DIAG_ERROR, at,
                     "field \"%s\" is extracted as %s "
                     "and as %s; pick one type",
                     name, xtypes[r->xfields[i].type], xtypes[type]);
                return -1;
            }
            return (int)i;
        }
    }
    if (r->n_xfields >= SN_RULES_MAX_EXTRACT_FIELDS) {
        diag(b, SN_DIAG_ERROR, at, "more than %d extracted fields",
             SN_RULES_MAX_EXTRACT_FIELDS);
        return -1;
    }
    if (r->n_xfields == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct sn_xfield *x = sn_arena_alloc(&b->rs->arena, ncap * sizeof(*x));
        if (x == NULL)
            return -1;
        if (r->n_xfields)
            memcpy(x, r->xfields, r->n_xfields * sizeof(*x));
        r->xfields = x;
        *cap = ncap;
    }
    r->xfields[r->n_xfields].name_len = strlen(name);
    r->xfields[r->n_xfields].type = type;
    if (sn_field_table_intern(&b->rs->fields, name,
                              &r->xfields[r->n_xfields].field) != SN_OK) {
        diag(b, SN_DIAG_ERROR, at, "too many fields");
        return -1;
    }
    /* The field table's copy (it lives as long as the ruleset): every rule
     * extracting this field names it with one pointer, which det_rules
     * compares before the bytes. */
    r->xfields[r->n_xfields].name =
        b->rs->fields.names[r->xfields[r->n_xfields].field];
    return (int)r->n_xfields++;
}

/* "field" or "field:type" */
static bool
parse_target(struct builder *b, const struct sn_node *v, char *name,
             size_t name_size, enum sn_xtype *type)
{
    const char *colon;
    size_t nl;

    if (v->type != SN_NODE_SCALAR) {
        diag(b, SN_DIAG_ERROR, v,
             "a capture maps to \"field\" or "
             "\"field:type\", not %s",
             sn_node_type_name(v->type));
        return false;
    }
    colon = strchr(v->str, ':');
    nl = colon ? (size_t)(colon - v->str) : strlen(v->str);
    if (nl >= name_size) {
        diag(b, SN_DIAG_ERROR, v, "field name too long");
        return false;
    }
    memcpy(name, v->str, nl);
    name[nl] = '\0';
    *type = SN_XT_STRING;
    if (colon != NULL) {
        size_t k;
        for (k = 0; k < 3; k++)
            if (strcmp(colon + 1, xtypes[k]) == 0)
                break;
        if (k == 3) {
            const char *best = sn_suggest(colon + 1, xtypes, 3);
            diag_in(b, SN_DIAG_ERROR, v, nl + 1,
                    "unknown type \"%s\" (types: string, int, ip)%s%s%s",
                    colon + 1, best ? "; did you mean \"" : "",
                    best ? best : "", best ? "\"?" : "");
            return false;
        }
        *type = (enum sn_xtype)k;
    }
    if (!valid_field_name(name)) {
        diag(b, SN_DIAG_ERROR, v,
             "invalid field name \"%s\" (dotted words: "
             "source.ip)",
             name);
        return false;
    }
    if (sn_field_table_find(&b->rs->fields, name) >= 0 &&
        sn_field_table_find(&b->rs->fields, name) < SN_RF_COUNT_) {
        diag(b, SN_DIAG_ERROR, v,
             "\"%s\" is a header field; extract into "
             "another name",
             name);
        return false;
    }
    return true;
}

static bool
is_address_field(const char *name, enum sn_xtype type)
{
    size_t l = strlen(name);

    return type == SN_XT_IP || (l > 3 && strcmp(name + l - 3, ".ip") == 0) ||
           (l > 8 && strcmp(name + l - 8, ".address") == 0);
}

/* "from": the field the entry reads instead of msg. */
static bool
extract_from(struct builder *b, const struct sn_node *v, struct sn_extract *x)
{
    const char *from = want_string(b, v, "from");

    if (from == NULL)
        return false;
    if (!valid_field_name(from)) {
        diag(b, SN_DIAG_ERROR, v, "invalid field name \"%s\"", from);
        return false;
    }
    if (sn_field_table_intern(&b->rs->fields, from, &x->from) != SN_OK)
        return false;
    x->from_name = b->rs->fields.names[x->from];
    return true;
}

/* The literal text every match of re starts with, if any, so a line
 * that lacks it skips PCRE2. */
static void
anchored_prefix(struct builder *b, const char *re, struct sn_extract *x)
{
    char pre[64];
    size_t n = sn_regex_anchored_prefix(re, strlen(re), false, pre,
                                        sizeof(pre));
    char *copy = n > 0 ? sn_arena_alloc(&b->rs->arena, n) : NULL;

    if (copy != NULL) {
        memcpy(copy, pre, n);
        x->prefix = copy;
        x->prefix_len = n;
    }
}

/* The keys of extract entry e into n, their shapes checked; false
 * (reported) on any problem. */
static bool
entry_keys(struct builder *b, const struct sn_node *e,
           struct extract_nodes *n)
{
    char who[512] = "";
    bool ok;

    if (e->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, e,
             "an extract entry is a mapping with "
             "\"regex\" and \"fields\" (and optional \"from\")");
        return false;
    }
    if (b->rule_id != NULL)
        snprintf(who, sizeof(who), "rule \"%s\": ", b->rule_id);
    if (!sn_keys_collect(extract_keys,
                         sizeof(extract_keys) / sizeof(extract_keys[0]), e, n,
                         who, "an extract entry", b->d))
        return false;
    ok = want_string(b, n->regex, "regex") != NULL;
    if (n->fields->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, n->fields,
             "\"fields\" maps capture "
             "names to \"field\" or \"field:type\"");
        ok = false;
    }
    return ok;
}

static bool
load_extract_entry(struct builder *b, struct sn_rule *r, size_t *xcap,
                   const struct sn_node *e, struct sn_extract *x)
{
    const struct sn_node *re_node, *fields;
    struct extract_nodes n;
    const char *gnames[SN_RULES_MAX_EXTRACT_FIELDS];
    uint32_t gnums[SN_RULES_MAX_EXTRACT_FIELDS];
    size_t n_groups;
    char err[256];
    size_t erroff;
    bool jit, ok = true;

    memset(x, 0, sizeof(*x));
    x->from = SN_RF_MSG;
    x->from_name = sn_rule_header_fields[SN_RF_MSG];
    if (!entry_keys(b, e, &n))
        return false;
    if (n.from != NULL && !extract_from(b, n.from, x))
        return false;
    re_node = n.regex;
    fields = n.fields;
    if (sn_regex_compile(re_node->str, strlen(re_node->str), false, &x->re,
                         &jit, err, sizeof(err), &erroff) != SN_OK) {
        diag_in(b, SN_DIAG_ERROR, re_node, erroff, "invalid regex: %s", err);
        return false;
    }
    if (!jit)
        b->rs->regexes.n_no_jit++;
    x->jit = jit;
    anchored_prefix(b, re_node->str, x);
    if (sn_regex_list_add(&b->rs->regexes, x->re) != SN_OK)
        return false;
    x->pattern = adup(b->rs, re_node->str);
    x->from_json = sn_compile_member_json(&b->rs->arena, "from", x->from_name,
                                          &x->from_json_len);
    x->pattern_json = sn_compile_member_json(&b->rs->arena, "regex",
                                             x->pattern, &x->pattern_json_len);
    n_groups = group_names(x->re, gnames, SN_RULES_MAX_EXTRACT_FIELDS, gnums);
    if (n_groups == 0) {
        diag(b, SN_DIAG_ERROR, re_node,
             "the regex has no named groups "
             "(?<name>...) to extract");
        return false;
    }
    x->caps = sn_arena_alloc(&b->rs->arena, fields->n * sizeof(*x->caps) + 1);
    if (x->caps == NULL)
        return false;
    for (size_t i = 0; i < fields->n; i++) {
        const struct sn_pair *p = &fields->pairs[i];
        char name[256];
        enum sn_xtype type;
        size_t g;
        int slot;

        for (g = 0; g < n_groups; g++)
            if (strcmp(gnames[g], p->key->str) == 0)
                break;
        if (g == n_groups) {
            const char *best = sn_suggest(p->key->str, gnames, n_groups);
            if (best != NULL)
                diag(b, SN_DIAG_ERROR, p->key,
                     "the regex has no group "
                     "\"(?<%s>...)\"; did you mean \"%s\"?",
                     p->key->str, best);
            else
                diag(b, SN_DIAG_ERROR, p->key,
                     "the regex has no group "
                     "\"(?<%s>...)\"",
                     p->key->str);
            ok = false;
            continue;
        }
        if (!parse_target(b, p->value, name, sizeof(name), &type)) {
            ok = false;
            continue;
        }
        slot = xslot(b, r, xcap, p->value, name, type);
        if (slot < 0) {
            ok = false;
            continue;
        }
        x->caps[x->n_caps].group = gnums[g];
        x->caps[x->n_caps].slot = (uint32_t)slot;
        x->n_caps++;
        if (is_address_field(name, type)) {
            size_t woff;
            if (sn_regex_injection_risk(re_node->str, strlen(re_node->str),
                                        gnames[g], &woff)) {
                diag_in(b, SN_DIAG_WARNING, re_node, woff,
                        "greedy wildcard before the address group \"%s\": "
                        "text an attacker controls (a user name) can supply "
                        "a fake address; anchor the pattern with $ after a "
                        "fixed suffix, or match the text before it exactly "
                        "(\\S+ instead of .*)",
                        gnames[g]);
            }
        }
    }
    for (size_t g = 0; g < n_groups; g++)
        if (sn_node_get(fields, gnames[g]) == NULL)
            diag(b, SN_DIAG_WARNING, fields,
                 "group \"%s\" is captured but "
                 "not stored; add it to \"fields\"",
                 gnames[g]);
    return ok;
}

bool
sn_load_extract(struct builder *b, struct sn_rule *r, const struct sn_node *n)
{
    size_t xcap = 0;
    bool ok = true;

    if (n->type != SN_NODE_SEQ) {
        diag(b, SN_DIAG_ERROR, n,
             "\"extract\" must be a list of "
             "{regex, fields} entries");
        return false;
    }
    r->extract =
        sn_arena_alloc(&b->rs->arena, (n->n ? n->n : 1) * sizeof(*r->extract));
    if (r->extract == NULL)
        return false;
    for (size_t i = 0; i < n->n; i++) {
        if (load_extract_entry(b, r, &xcap, n->items[i],
                               &r->extract[r->n_extract]))
            r->n_extract++;
        else
            ok = false;
    }
    return ok;
}

