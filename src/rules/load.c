/*
 * Rule file loader and ruleset builder; see load.h. Two passes: the first
 * reads every document (lists, rule keys, extract entries) so that the
 * second can compile match expressions knowing every list and every
 * extracted field name of the whole ruleset.
 */
#include "rules/load.h"
#include "rules/load_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "rules/correlate.h"
#include "rules/expr_parse.h"
#include "rules/limits.h"
#include "rules/srcmap.h"

static const char *const rule_keys[] = {
    "id",
    "title",
    "description",
    "severity",
    "tags",
    "enabled",
    "match",
    "extract",
    "set",
    /* kept for the correlation slice, not interpreted here */
    "threshold",
    "distinct",
    "sequence",
    "absence",
    "rate",
    "new_value",
    "group_by",
    "window",
    "suppress",
    "escalate",
    "resolve_after",
    "allowed_lateness",
    "limits",
    "refire",
    /* annotated sample lines, for `sentineld test` */
    "samples",
};
#define N_RULE_KEYS    (sizeof(rule_keys) / sizeof(rule_keys[0]))
#define FIRST_KEPT_KEY 9

static const char *const doc_keys[] = { "rules", "lists", "sigma" };

/* A document is one rule when it has any rule key, even without "id":
 * a misspelt "di" then gets "did you mean "id"?" among the rule's keys,
 * not every key of the rule reported unknown in a document of "rules"
 * and "lists". */
static bool
is_rule_doc(const struct sn_node *doc)
{
    for (size_t i = 0; i < N_RULE_KEYS; i++)
        if (sn_node_get(doc, rule_keys[i]) != NULL)
            return true;
    return false;
}
static const char *const severities[] = { "info", "low", "medium", "high",
                                          "critical" };

const char *
sn_rule_severity_name(enum sn_rule_severity s)
{
    return (size_t)s < 5 ? severities[s] : "?";
}

/* ---- sources --------------------------------------------------------------
 */

struct sn_rules_src *
sn_rules_src_new(void)
{
    return calloc(1, sizeof(struct sn_rules_src));
}

void
sn_rules_src_free(struct sn_rules_src *src)
{
    if (src == NULL)
        return;
    for (size_t i = 0; i < src->n; i++) {
        free(src->files[i].name);
        free(src->files[i].raw);
        sn_yaml_free(src->files[i].y);
    }
    free(src->files);
    free(src);
}

enum sn_status
sn_rules_src_add_mem(struct sn_rules_src *src, const char *name,
                     const char *data, size_t len, struct sn_diags *d)
{
    struct src_file *f;
    enum sn_status rc;

    if (src->n == src->cap) {
        size_t cap = src->cap ? src->cap * 2 : 8;
        struct src_file *p = realloc(src->files, cap * sizeof(*p));
        if (p == NULL)
            return SN_ENOMEM;
        src->files = p;
        src->cap = cap;
    }
    f = &src->files[src->n];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    f->raw = malloc(len + 1);
    if (f->name == NULL || f->raw == NULL) {
        free(f->name);
        free(f->raw);
        return SN_ENOMEM;
    }
    memcpy(f->raw, data, len);
    f->raw[len] = '\0';
    f->raw_len = len;
    src->n++;
    /* Rules are code, not config: "${" in a regex must stay as written. */
    rc = sn_yaml_load_mem(name, data, len, false, &f->y, d);
    return rc;
}

enum sn_status
sn_rules_src_add_file(struct sn_rules_src *src, const char *path,
                      struct sn_diags *d)
{
    FILE *fp = fopen(path, "rb");
    char *data;
    size_t len;
    long sz = 0;
    enum sn_status rc;

    if (fp == NULL) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return SN_ECONFIG;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0 || sz > SN_CONFIG_MAX_BYTES) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0,
                     sz > SN_CONFIG_MAX_BYTES ? "file is larger than %d bytes"
                                              : "cannot read (limit %d bytes)",
                     SN_CONFIG_MAX_BYTES);
        fclose(fp);
        return SN_ECONFIG;
    }
    data = malloc((size_t)sz + 1);
    if (data == NULL) {
        fclose(fp);
        return SN_ENOMEM;
    }
    len = fread(data, 1, (size_t)sz, fp);
    if (ferror(fp)) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                     strerror(errno));
        free(data);
        fclose(fp);
        return SN_ECONFIG;
    }
    fclose(fp);
    rc = sn_rules_src_add_mem(src, path, data, len, d);
    free(data);
    return rc;
}

/* ---- diagnostics ------------------------------------------------------------
 */

/* A message about node n, prefixed with the rule it belongs to. */
void
sn_load_diag(struct builder *b, enum sn_diag_level level, const struct sn_node *n,
     const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (b->rule_id != NULL)
        sn_diags_add(b->d, level, n ? n->file : NULL, n ? n->line : 0,
                     n ? n->col : 0, "rule \"%s\": %s", b->rule_id, msg);
    else
        sn_diags_add(b->d, level, n ? n->file : NULL, n ? n->line : 0,
                     n ? n->col : 0, "%s", msg);
}

/* A message about byte off of scalar n's value. */
void
sn_load_diag_in(struct builder *b, enum sn_diag_level level, const struct sn_node *n,
        size_t off, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int line, col;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    sn_srcmap_locate(b->file ? b->file->raw : NULL,
                     b->file ? b->file->raw_len : 0, n, off, &line, &col);
    if (b->rule_id != NULL)
        sn_diags_add(b->d, level, n->file, line, col, "rule \"%s\": %s",
                     b->rule_id, msg);
    else
        sn_diags_add(b->d, level, n->file, line, col, "%s", msg);
}

static void
report_offset(void *arg, enum sn_diag_level level, size_t off, const char *msg)
{
    struct builder *b = arg;

    diag_in(b, level, b->scalar, off, "%s", msg);
}

static void
report_node(void *arg, enum sn_diag_level level, const struct sn_node *n,
            const char *msg)
{
    diag(arg, level, n, "%s", msg);
}

void
sn_load_unknown_key(struct builder *b, const struct sn_node *key, const char *what,
            const char *const *keys, size_t n)
{
    const char *best = sn_suggest(key->str, keys, n);

    if (best != NULL)
        diag(b, SN_DIAG_ERROR, key,
             "unknown key \"%s\" in %s; did you mean "
             "\"%s\"?",
             key->str, what, best);
    else
        diag(b, SN_DIAG_ERROR, key, "unknown key \"%s\" in %s", key->str, what);
}

/* A rule without "id": its unknown keys are reported (with what they
 * may be a typo of), and "needs an id" only when none of them reads
 * like a misspelt "id" ("di: ssh-2" is one mistake, not two). */
static void
missing_id(struct builder *b, const struct sn_node *n)
{
    bool typo_of_id = false;

    for (size_t i = 0; i < n->n; i++) {
        const struct sn_node *key = n->pairs[i].key;
        const char *best;
        bool known = false;

        for (size_t k = 0; k < N_RULE_KEYS && !known; k++)
            known = strcmp(key->str, rule_keys[k]) == 0;
        if (known)
            continue;
        unknown_key(b, key, "a rule", rule_keys, N_RULE_KEYS);
        best = sn_suggest(key->str, rule_keys, N_RULE_KEYS);
        typo_of_id = typo_of_id || (best != NULL && strcmp(best, "id") == 0);
    }
    if (!typo_of_id)
        diag(b, SN_DIAG_ERROR, n, "a rule needs an \"id\"");
}

/* ---- small validators
 * --------------------------------------------------------- */

const char *
sn_load_want_string(struct builder *b, const struct sn_node *n, const char *key)
{
    if (n->type != SN_NODE_SCALAR) {
        diag(b, SN_DIAG_ERROR, n, "\"%s\" must be a string, not %s", key,
             sn_node_type_name(n->type));
        return NULL;
    }
    return n->str;
}

/* Dotted field name as the expression lexer reads it: a word starting
 * with a letter or '_', then ".word" parts (source.ip, user.name). */
bool
sn_load_valid_field_name(const char *s)
{
    size_t seg = 0;

    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';

        if (c == '.') {
            if (seg == 0)
                return false;
            seg = 0;
        } else if (alpha || (digit && i > 0)) {
            seg++;
        } else {
            return false;
        }
    }
    return seg > 0;
}

bool
sn_load_valid_id(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

const char *
sn_load_adup(struct sn_ruleset *rs, const char *s)
{
    return sn_arena_memdup(&rs->arena, s, strlen(s) + 1);
}

/* ---- first pass: documents, lists, rule headers
 * ------------------------------ */

static enum sn_status
add_list(struct builder *b, const struct sn_pair *p, size_t *cap)
{
    struct sn_ruleset *rs = b->rs;

    for (size_t i = 0; i < rs->n_lists; i++) {
        if (strcmp(rs->lists[i].name, p->key->str) == 0) {
            diag(b, SN_DIAG_ERROR, p->key,
                 "list \"%s\" is defined twice (first at %s:%d)", p->key->str,
                 rs->lists[i].node->file, rs->lists[i].node->line);
            return SN_OK;
        }
    }
    if (p->value->type != SN_NODE_SEQ) {
        diag(b, SN_DIAG_ERROR, p->value,
             "list \"%s\" must be a YAML list, "
             "not %s",
             p->key->str, sn_node_type_name(p->value->type));
        return SN_OK;
    }
    if (p->value->n > SN_RULES_MAX_LIST_ITEMS) {
        diag(b, SN_DIAG_ERROR, p->value, "list \"%s\" has more than %d items",
             p->key->str, SN_RULES_MAX_LIST_ITEMS);
        return SN_OK;
    }
    for (size_t i = 0; i < p->value->n; i++)
        if (p->value->items[i]->type != SN_NODE_SCALAR)
            diag(b, SN_DIAG_ERROR, p->value->items[i],
                 "items of list \"%s\" must be scalars", p->key->str);
    if (rs->n_lists == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct sn_rule_list *l = realloc(rs->lists, ncap * sizeof(*l));
        if (l == NULL)
            return SN_ENOMEM;
        rs->lists = l;
        *cap = ncap;
    }
    memset(&rs->lists[rs->n_lists], 0, sizeof(rs->lists[0]));
    rs->lists[rs->n_lists].name = adup(rs, p->key->str);
    rs->lists[rs->n_lists].node = p->value;
    rs->n_lists++;
    return SN_OK;
}

static enum sn_status
add_rule_node(struct builder *b, const struct sn_node *n,
              const struct src_file *f, size_t *cap)
{
    if (n->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, n, "a rule must be a mapping, not %s",
             sn_node_type_name(n->type));
        return SN_OK;
    }
    if (b->n_nodes >= SN_RULES_MAX_RULES) {
        diag(b, SN_DIAG_ERROR, n, "more than %d rules", SN_RULES_MAX_RULES);
        return SN_ELIMIT;
    }
    if (b->n_nodes == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct rule_node *p = realloc(b->nodes, ncap * sizeof(*p));
        if (p == NULL)
            return SN_ENOMEM;
        b->nodes = p;
        *cap = ncap;
    }
    b->nodes[b->n_nodes].node = n;
    b->nodes[b->n_nodes].file = f;
    b->nodes[b->n_nodes].match = NULL;
    b->nodes[b->n_nodes].sigma = false;
    b->nodes[b->n_nodes].sigma_corr = false;
    b->nodes[b->n_nodes].sigma_ls = NULL;
    b->nodes[b->n_nodes].sigma_extract = NULL;
    b->n_nodes++;
    return SN_OK;
}

/* A `sigma:` field mapping (docs/sigma.md); later ones override. */
static enum sn_status
add_sigma_map(struct builder *b, const struct sn_node *n,
              const struct src_file *f)
{
    const struct sn_node **m;
    const struct src_file **mf;
    const struct src_file *was = b->file;
    bool ok;

    b->file = f; /* positions inside its scalars */
    ok = sn_sigma_check_map(b, n);
    b->file = was;
    if (!ok)
        return SN_OK;
    m = realloc(b->sigma_maps, (b->n_sigma_maps + 1) * sizeof(*m));
    if (m == NULL)
        return SN_ENOMEM;
    b->sigma_maps = m;
    mf = realloc(b->sigma_map_files, (b->n_sigma_maps + 1) * sizeof(*mf));
    if (mf == NULL)
        return SN_ENOMEM;
    b->sigma_map_files = mf;
    m[b->n_sigma_maps] = n;
    mf[b->n_sigma_maps++] = f;
    return SN_OK;
}

static enum sn_status
scan_docs(struct builder *b, struct sn_rules_src *src)
{
    size_t list_cap = 0, node_cap = 0;
    enum sn_status rc = SN_OK;

    for (size_t fi = 0; fi < src->n && rc == SN_OK; fi++) {
        const struct src_file *f = &src->files[fi];

        for (size_t di = 0; f->y != NULL && di < f->y->n_docs && rc == SN_OK;
             di++) {
            const struct sn_node *doc = f->y->docs[di];

            /* A Sigma rule (docs/sigma.md): detection + logsource. */
            if (doc->type == SN_NODE_MAP &&
                sn_node_get(doc, "detection") != NULL &&
                sn_node_get(doc, "logsource") != NULL) {
                rc = add_rule_node(b, doc, f, &node_cap);
                if (rc == SN_OK)
                    b->nodes[b->n_nodes - 1].sigma = true;
                continue;
            }
            if (doc->type == SN_NODE_MAP &&
                sn_node_get(doc, "correlation") != NULL &&
                sn_node_get(doc, "match") == NULL) {
                rc = add_rule_node(b, doc, f, &node_cap);
                if (rc == SN_OK)
                    b->nodes[b->n_nodes - 1].sigma =
                        b->nodes[b->n_nodes - 1].sigma_corr = true;
                continue;
            }
            if (doc->type == SN_NODE_MAP && is_rule_doc(doc)) {
                rc = add_rule_node(b, doc, f, &node_cap);
                continue;
            }
            if (doc->type == SN_NODE_SCALAR && doc->str[0] == '\0')
                continue; /* an empty document ("---" at the end) */
            if (doc->type != SN_NODE_MAP) {
                diag(b, SN_DIAG_ERROR, doc,
                     "a rule document is a rule (with \"id\") or a mapping "
                     "with \"rules\" and/or \"lists\", not %s",
                     sn_node_type_name(doc->type));
                continue;
            }
            for (size_t i = 0; i < doc->n && rc == SN_OK; i++) {
                const struct sn_pair *p = &doc->pairs[i];

                if (strcmp(p->key->str, "lists") == 0) {
                    if (p->value->type != SN_NODE_MAP) {
                        diag(b, SN_DIAG_ERROR, p->value,
                             "\"lists\" must map names to lists");
                        continue;
                    }
                    for (size_t k = 0; k < p->value->n && rc == SN_OK; k++)
                        rc = add_list(b, &p->value->pairs[k], &list_cap);
                } else if (strcmp(p->key->str, "rules") == 0) {
                    if (p->value->type != SN_NODE_SEQ) {
                        diag(b, SN_DIAG_ERROR, p->value,
                             "\"rules\" must be a list of rules");
                        continue;
                    }
                    for (size_t k = 0; k < p->value->n && rc == SN_OK; k++)
                        rc = add_rule_node(b, p->value->items[k], f, &node_cap);
                } else if (strcmp(p->key->str, "sigma") == 0) {
                    rc = add_sigma_map(b, p->value, f);
                } else {
                    unknown_key(b, p->key, "a rule document", doc_keys, 3);
                }
            }
        }
    }
    return rc;
}

/* ---- rule header
 * ---------------------------------------------------------------- */

static bool
load_bool(struct builder *b, const struct sn_node *v, const char *key,
          bool *out)
{
    if (v->type == SN_NODE_SCALAR && !v->quoted &&
        (strcmp(v->str, "true") == 0 || strcmp(v->str, "false") == 0)) {
        *out = v->str[0] == 't';
        return true;
    }
    diag(b, SN_DIAG_ERROR, v, "\"%s\" must be true or false", key);
    return false;
}

/* r's consts as every evidence summary of its matches renders them
 * (sn_rule.consts_json): a summary copies these bytes instead of
 * escaping constants for each event. false on ENOMEM. */
static bool
render_consts(struct sn_ruleset *rs, struct sn_rule *r)
{
    struct sn_buf buf;
    uint32_t *off;
    char *json = NULL;
    bool ok;

    if (r->n_consts == 0)
        return true;
    sn_buf_init(&buf, 1u << 20); /* names are short, values cut */
    off = sn_arena_alloc(&rs->arena, (r->n_consts + 1) * sizeof(*off));
    ok = off != NULL;
    for (size_t i = 0; ok && i < r->n_consts; i++) {
        off[i] = (uint32_t)buf.len;
        ok = sn_buf_putc(&buf, ',') == SN_OK &&
             sn_corr_summary_field(&buf, r->consts[i].name,
                                   r->consts[i].name_len,
                                   &r->consts[i].v) == SN_OK;
    }
    if (ok)
        json = sn_arena_alloc(&rs->arena, buf.len);
    if (json != NULL) {
        off[r->n_consts] = (uint32_t)buf.len;
        memcpy(json, buf.data, buf.len);
        r->consts_json = json;
        r->consts_json_off = off;
    }
    sn_buf_fini(&buf);
    return json != NULL;
}

/* `set: {field: value, ...}`: fixed string fields of every match. */
static bool
load_set(struct builder *b, struct sn_rule *r, const struct sn_node *n)
{
    struct sn_rule_const *c;
    size_t m = 0;
    bool ok = true;

    if (n->type != SN_NODE_MAP) {
        diag(b, SN_DIAG_ERROR, n,
             "\"set\" must be a mapping of field names to values "
             "(event.outcome: failure)");
        return false;
    }
    if (n->n > SN_RULES_MAX_EXTRACT_FIELDS) {
        diag(b, SN_DIAG_ERROR, n, "\"set\" has more than %d fields",
             SN_RULES_MAX_EXTRACT_FIELDS);
        return false;
    }
    c = sn_arena_alloc(&b->rs->arena, (n->n ? n->n : 1) * sizeof(*c));
    if (c == NULL)
        return false;
    for (size_t i = 0; i < n->n; i++) {
        const struct sn_pair *p = &n->pairs[i];
        const char *name = p->key->str, *v = want_string(b, p->value, name);
        int id = sn_field_table_find(&b->rs->fields, name);

        if (v == NULL) {
            ok = false;
            continue;
        }
        if (!valid_field_name(name)) {
            diag(b, SN_DIAG_ERROR, p->key,
                 "invalid field name \"%s\" (dotted words: event.outcome)",
                 name);
            ok = false;
            continue;
        }
        if (id >= 0 && id < SN_RF_COUNT_) {
            diag(b, SN_DIAG_ERROR, p->key,
                 "\"%s\" is a header field; set another name", name);
            ok = false;
            continue;
        }
        for (size_t k = 0; k < m; k++)
            if (strcmp(c[k].name, name) == 0) {
                diag(b, SN_DIAG_ERROR, p->key, "\"%s\" is set twice", name);
                ok = false;
            }
        c[m].name = adup(b->rs, name);
        c[m].name_len = strlen(name);
        c[m].v.type = SN_VAL_STR;
        c[m].v.u.s.ptr = adup(b->rs, v);
        c[m].v.u.s.len = strlen(v);
        if (c[m].name == NULL || c[m].v.u.s.ptr == NULL)
            return false;
        m++;
    }
    r->consts = c;
    r->n_consts = m;
    return ok && render_consts(b->rs, r);
}

/* A field is either extracted or set, so a match never carries two
 * values of one name. */
static bool
check_set(struct builder *b, struct sn_rule *r, const struct sn_node *n)
{
    const struct sn_node *set = sn_node_get(n, "set");

    for (size_t i = 0; i < r->n_consts; i++)
        for (size_t k = 0; k < r->n_xfields; k++)
            if (strcmp(r->consts[i].name, r->xfields[k].name) == 0) {
                diag(b, SN_DIAG_ERROR, set ? set : n,
                     "\"%s\" is both extracted and set", r->consts[i].name);
                return false;
            }
    return true;
}

static bool
load_rule(struct builder *b, struct rule_node *rn, struct sn_rule *r)
{
    const struct sn_node *n = rn->node;
    const struct sn_node *idn = sn_node_get(n, "id");
    size_t n_kept = 0;
    const struct sn_pair **kept;
    bool ok = true, has_title = false, has_sev = false;

    if (rn->sigma_corr)
        return sn_load_sigma_corr(b, rn, r);
    if (rn->sigma)
        return sn_load_sigma(b, rn, r);

    r->file = n->file;
    r->line = n->line;
    r->col = n->col;
    r->enabled = true;
    b->rule_id = NULL;
    if (idn == NULL) {
        missing_id(b, n);
        return false;
    }
    if (want_string(b, idn, "id") == NULL)
        return false;
    if (!sn_load_valid_id(idn->str)) {
        diag(b, SN_DIAG_ERROR, idn,
             "invalid rule id \"%s\" (letters, digits, "
             "'-', '_', '.')",
             idn->str);
        return false;
    }
    r->id = adup(b->rs, idn->str);
    r->id_len = strlen(idn->str);
    b->rule_id = r->id;
    kept = sn_arena_alloc(&b->rs->arena, (n->n ? n->n : 1) * sizeof(*kept));
    if (kept == NULL)
        return false;
    for (size_t i = 0; i < n->n; i++) {
        const struct sn_pair *p = &n->pairs[i];
        const char *k = p->key->str;
        size_t ki;

        for (ki = 0; ki < N_RULE_KEYS; ki++)
            if (strcmp(k, rule_keys[ki]) == 0)
                break;
        if (ki == N_RULE_KEYS) {
            unknown_key(b, p->key, "a rule", rule_keys, N_RULE_KEYS);
            ok = false;
        } else if (ki >= FIRST_KEPT_KEY) {
            kept[n_kept++] = p;
            if (strcmp(k, "rate") == 0 || strcmp(k, "absence") == 0)
                r->aggregate = true;
        } else if (strcmp(k, "title") == 0) {
            r->title = want_string(b, p->value, k);
            ok &= r->title != NULL;
            has_title = true;
        } else if (strcmp(k, "description") == 0) {
            r->description = want_string(b, p->value, k);
            ok &= r->description != NULL;
        } else if (strcmp(k, "severity") == 0) {
            size_t s;
            has_sev = true;
            if (want_string(b, p->value, k) == NULL) {
                ok = false;
                continue;
            }
            for (s = 0; s < 5; s++)
                if (strcmp(p->value->str, severities[s]) == 0)
                    break;
            if (s == 5) {
                const char *best = sn_suggest(p->value->str, severities, 5);
                diag(b, SN_DIAG_ERROR, p->value,
                     "unknown severity \"%s\" (info, low, medium, high, "
                     "critical)%s%s%s",
                     p->value->str, best ? "; did you mean \"" : "",
                     best ? best : "", best ? "\"?" : "");
                ok = false;
            }
            r->severity = (enum sn_rule_severity)s;
        } else if (strcmp(k, "tags") == 0) {
            const char **tags;
            if (p->value->type != SN_NODE_SEQ) {
                diag(b, SN_DIAG_ERROR, p->value,
                     "\"tags\" must be a list of "
                     "strings");
                ok = false;
                continue;
            }
            tags = sn_arena_alloc(&b->rs->arena,
                                  (p->value->n + 1) * sizeof(*tags));
            if (tags == NULL)
                return false;
            for (size_t t = 0; t < p->value->n; t++) {
                tags[t] = want_string(b, p->value->items[t], "tags");
                ok &= tags[t] != NULL;
            }
            r->tags = tags;
            r->n_tags = p->value->n;
        } else if (strcmp(k, "enabled") == 0) {
            ok &= load_bool(b, p->value, k, &r->enabled);
        } else if (strcmp(k, "match") == 0) {
            if (want_string(b, p->value, k) == NULL)
                ok = false;
            else
                rn->match = p->value;
        } else if (strcmp(k, "extract") == 0) {
            ok &= sn_load_extract(b, r, p->value);
        } else if (strcmp(k, "set") == 0) {
            ok &= load_set(b, r, p->value);
        }
    }
    ok &= check_set(b, r, n);
    r->kept = kept;
    r->n_kept = n_kept;
    if (!has_title) {
        diag(b, SN_DIAG_ERROR, n, "a rule needs a \"title\"");
        ok = false;
    }
    if (!has_sev) {
        diag(b, SN_DIAG_ERROR, n,
             "a rule needs a \"severity\" (info, low, "
             "medium, high, critical)");
        ok = false;
    }
    if (rn->match == NULL && ok) {
        diag(b, SN_DIAG_ERROR, n, "a rule needs a \"match\" expression");
        ok = false;
    }
    return ok;
}

/* ---- second pass: expressions
 * ----------------------------------------------------- */

static bool
compile_match(struct builder *b, struct rule_node *rn, struct sn_rule *r)
{
    const struct sn_node *m = rn->match;
    struct sn_arena tmp;
    struct sn_expr *e;
    struct sn_expr_err err;
    struct sn_compile_ctx c;
    const char **xnames;
    enum sn_status rc;

    b->scalar = m;
    sn_arena_init(&tmp, 16 * 1024, 0);
    rc = sn_expr_parse(m->str, strlen(m->str), &tmp, &e, &err);
    if (rc != SN_OK) {
        diag_in(b, SN_DIAG_ERROR, m, err.off, "%s", err.msg);
        sn_arena_fini(&tmp);
        return false;
    }
    xnames = calloc(r->n_xfields ? r->n_xfields : 1, sizeof(*xnames));
    if (xnames == NULL) {
        sn_arena_fini(&tmp);
        return false;
    }
    for (size_t i = 0; i < r->n_xfields; i++)
        xnames[i] = r->xfields[i].name;
    memset(&c, 0, sizeof(c));
    c.arena = &b->rs->arena;
    c.fields = &b->rs->fields;
    c.regexes = &b->rs->regexes;
    c.lists = b->rs->lists;
    c.n_lists = b->rs->n_lists;
    c.xnames = xnames;
    c.n_xnames = r->n_xfields;
    c.known = b->known;
    c.n_known = b->n_known;
    c.report.at_offset = report_offset;
    c.report.at_node = report_node;
    c.report.arg = b;
    rc = sn_compile_expr(&c, m->str, e, &r->match);
    r->match_text = adup(b->rs, m->str);
    free(xnames);
    sn_arena_fini(&tmp);
    return rc == SN_OK;
}

/* Header fields plus every extracted field of the ruleset. */
static bool
collect_known(struct builder *b)
{
    size_t n = SN_RF_COUNT_;

    for (size_t i = 0; i < b->rs->n_rules; i++)
        n += b->rs->rules[i].n_xfields + b->rs->rules[i].n_consts;
    b->known = calloc(n, sizeof(*b->known));
    if (b->known == NULL)
        return false;
    for (size_t i = 0; i < SN_RF_COUNT_; i++)
        b->known[b->n_known++] = sn_rule_header_fields[i];
    for (size_t i = 0; i < b->rs->n_rules; i++)
        for (size_t k = 0; k < b->rs->rules[i].n_xfields; k++)
            b->known[b->n_known++] = b->rs->rules[i].xfields[k].name;
    /* Set fields are field names too: a rule testing one (an event from
     * another sentineld that annotated it) is not warned about. */
    for (size_t i = 0; i < b->rs->n_rules; i++)
        for (size_t k = 0; k < b->rs->rules[i].n_consts; k++)
            b->known[b->n_known++] = b->rs->rules[i].consts[k].name;
    return true;
}

static int
cmp_extract(const void *a, const void *b)
{
    const struct sn_extract *x = *(const struct sn_extract *const *)a;
    const struct sn_extract *y = *(const struct sn_extract *const *)b;
    int c;

    if (x->pattern == NULL || y->pattern == NULL) /* no copy: unshared */
        return (x > y) - (x < y);
    c = strcmp(x->pattern, y->pattern);
    if (c != 0)
        return c;
    return (x->from > y->from) - (x->from < y->from);
}

/* Number the distinct (pattern, from) pairs of the extract entries:
 * sorted, equal neighbours share a class. */
static enum sn_status
assign_regex_classes(struct sn_ruleset *rs)
{
    struct sn_extract **all;
    size_t n = 0;

    for (size_t i = 0; i < rs->n_rules; i++)
        n += rs->rules[i].n_extract;
    rs->n_re_classes = 0;
    if (n == 0)
        return SN_OK;
    all = malloc(n * sizeof(*all));
    if (all == NULL)
        return SN_ENOMEM;
    n = 0;
    for (size_t i = 0; i < rs->n_rules; i++)
        for (size_t k = 0; k < rs->rules[i].n_extract; k++)
            all[n++] = &rs->rules[i].extract[k];
    qsort(all, n, sizeof(*all), cmp_extract);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cmp_extract(&all[i - 1], &all[i]) != 0)
            rs->n_re_classes++;
        all[i]->re_class = (uint32_t)(rs->n_re_classes - 1);
    }
    free(all);
    return SN_OK;
}

static enum sn_status
build_prefilter(struct sn_ruleset *rs)
{
    rs->pf = sn_prefilter_new(rs->n_rules);
    if (rs->pf == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < rs->n_rules; i++) {
        struct sn_rule *r = &rs->rules[i];
        enum sn_status rc;

        if (!r->enabled)
            continue;
        rc = sn_prefilter_required(r->match, &rs->arena, &r->req, &r->n_req);
        if (rc == SN_OK)
            rc = sn_prefilter_add(rs->pf, (uint32_t)i, r->req, r->n_req);
        if (rc != SN_OK)
            return rc;
    }
    return sn_prefilter_build(rs->pf);
}

struct id_ref {
    const char *id;
    size_t index;
    const struct sn_node *node;
};

static int
id_ref_cmp(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    int r = strcmp(x->id, y->id);

    return r != 0 ? r : (x->index > y->index) - (x->index < y->index);
}

/* Duplicate ids, found by sorting (rule packs can be large) and reported
 * for every rule mapping, even one with other errors. */
static enum sn_status
check_duplicate_ids(struct builder *b)
{
    struct id_ref *refs = calloc(b->n_nodes ? b->n_nodes : 1, sizeof(*refs));
    size_t n = 0;

    if (refs == NULL)
        return SN_ENOMEM;
    for (size_t i = 0; i < b->n_nodes; i++) {
        const struct sn_node *id = sn_node_get(b->nodes[i].node, "id");
        if (id != NULL && id->type == SN_NODE_SCALAR) {
            refs[n].id = id->str;
            refs[n].index = i;
            refs[n].node = b->nodes[i].node;
            n++;
        }
    }
    qsort(refs, n, sizeof(*refs), id_ref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (strcmp(refs[i].id, refs[first].id) != 0) {
            first = i;
            continue;
        }
        sn_diags_add(b->d, SN_DIAG_ERROR, refs[i].node->file,
                     refs[i].node->line, refs[i].node->col,
                     "duplicate rule id \"%s\" (first defined at %s:%d)",
                     refs[i].id, refs[first].node->file,
                     refs[first].node->line);
    }
    free(refs);
    return SN_OK;
}

enum sn_status
sn_ruleset_build(struct sn_rules_src *src, struct sn_ruleset **out,
                 struct sn_diags *d)
{
    struct builder b;
    struct sn_ruleset *rs;
    size_t errors = d->n_errors;
    enum sn_status rc;

    *out = NULL;
    rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return SN_ENOMEM;
    sn_arena_init(&rs->arena, 64 * 1024, 0);
    memset(&b, 0, sizeof(b));
    b.rs = rs;
    b.d = d;
    rc = sn_field_table_init(&rs->fields);
    if (rc == SN_OK)
        rc = scan_docs(&b, src);
    if (rc == SN_OK && b.n_nodes > 0) {
        rs->rules = calloc(b.n_nodes, sizeof(*rs->rules));
        if (rs->rules == NULL)
            rc = SN_ENOMEM;
    }
    if (rc == SN_OK)
        rc = check_duplicate_ids(&b);
    /* Sigma correlations last: they are built from the rules they name
     * (a stable partition: other rules keep their order). */
    if (rc == SN_OK && b.n_nodes > 0) {
        struct rule_node *t = malloc(b.n_nodes * sizeof(*t));
        size_t w = 0;
        if (t == NULL)
            rc = SN_ENOMEM;
        for (int pass = 0; t != NULL && pass < 2; pass++)
            for (size_t i = 0; i < b.n_nodes; i++)
                if (b.nodes[i].sigma_corr == (pass == 1))
                    t[w++] = b.nodes[i];
        if (t != NULL)
            memcpy(b.nodes, t, b.n_nodes * sizeof(*t));
        free(t);
    }
    /* Pass 1: rule keys and extract entries. */
    for (size_t i = 0; rc == SN_OK && i < b.n_nodes; i++) {
        struct sn_rule *r = &rs->rules[rs->n_rules];

        b.file = b.nodes[i].file;
        r->index = (uint32_t)rs->n_rules;
        if (load_rule(&b, &b.nodes[i], r)) {
            b.nodes[rs->n_rules] = b.nodes[i];
            rs->n_rules++;
        } else {
            memset(r, 0, sizeof(*r));
        }
    }
    /* Pass 2: match expressions, now that every name is known. */
    if (rc == SN_OK && !collect_known(&b))
        rc = SN_ENOMEM;
    for (size_t i = 0; rc == SN_OK && i < rs->n_rules; i++) {
        struct sn_rule *r = &rs->rules[i];

        /* A Sigma rule's expression is our translation: its problems are
         * reported at the detection, not at offsets of a text nobody
         * wrote. */
        b.file = b.nodes[i].sigma ? NULL : b.nodes[i].file;
        b.rule_id = r->id;
        compile_match(&b, &b.nodes[i], r);
        if (r->n_xfields + r->n_consts > rs->max_xfields)
            rs->max_xfields = r->n_xfields + r->n_consts;
        rs->total_xfields += r->n_xfields + r->n_consts;
    }
    b.rule_id = NULL;
    for (size_t i = 0; rc == SN_OK && i < rs->n_lists; i++)
        if (!rs->lists[i].used)
            sn_diags_add(d, SN_DIAG_WARNING, rs->lists[i].node->file,
                         rs->lists[i].node->line, rs->lists[i].node->col,
                         "list \"%s\" is not used by any rule",
                         rs->lists[i].name);
    if (rc == SN_OK && d->n_errors > errors)
        rc = SN_ECONFIG;
    if (rc == SN_OK)
        rc = build_prefilter(rs);
    if (rc == SN_OK)
        rc = assign_regex_classes(rs);
    free(b.nodes);
    free(b.known);
    free(b.sigma_maps);
    free(b.sigma_map_files);
    if (rc != SN_OK) {
        sn_ruleset_free(rs);
        return rc;
    }
    /* The ruleset keeps the YAML trees: `kept` nodes point into them. */
    rs->docs = calloc(src->n ? src->n : 1, sizeof(*rs->docs));
    if (rs->docs == NULL) {
        sn_ruleset_free(rs);
        return SN_ENOMEM;
    }
    for (size_t i = 0; i < src->n; i++) {
        rs->docs[rs->n_docs++] = src->files[i].y;
        src->files[i].y = NULL;
    }
    *out = rs;
    return SN_OK;
}

void
sn_ruleset_free(struct sn_ruleset *rs)
{
    if (rs == NULL)
        return;
    sn_prefilter_free(rs->pf);
    sn_regex_list_fini(&rs->regexes);
    sn_field_table_fini(&rs->fields);
    for (size_t i = 0; i < rs->n_docs; i++)
        sn_yaml_free(rs->docs[i]);
    free(rs->docs);
    free(rs->lists);
    free(rs->rules);
    sn_arena_fini(&rs->arena);
    free(rs);
}

const struct sn_rule *
sn_ruleset_find(const struct sn_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->n_rules; i++)
        if (strcmp(rs->rules[i].id, id) == 0)
            return &rs->rules[i];
    return NULL;
}
