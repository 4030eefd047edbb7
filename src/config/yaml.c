/*
 * libyaml document -> struct sn_node tree with positions. Aliases are
 * resolved by libyaml's loader into a graph that shares the anchored
 * node; the tree copies every use, so the nodes an alias adds are
 * counted and bounded (SN_CONFIG_MAX_ALIAS_NODES). The tree copies
 * scalars into one arena so the libyaml document can be freed right away.
 */
#include "config/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/limits.h"

struct loader {
    struct sn_yaml *y;
    yaml_document_t *doc;
    struct sn_diags *d;
    bool expand_env;
    int depth;
    /* Per libyaml node of doc: converted once already, so meeting it
     * again is an alias use. */
    unsigned char *seen;
    size_t n_seen;
    int in_alias;       /* > 0 while copying an alias's node */
    size_t alias_nodes; /* nodes added by aliases so far */
    bool alias_overflow;
};

static char *
arena_strndup(struct sn_arena *a, const char *s, size_t n)
{
    char *p = sn_arena_alloc(a, n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Expand ${VAR} and ${VAR:-default}; report unset variables. */
static char *
expand(struct loader *l, const char *s, size_t len, int line, int col)
{
    struct sn_buf b;
    char *res;
    size_t i = 0;

    if (memchr(s, '$', len) == NULL)
        return arena_strndup(&l->y->arena, s, len);
    sn_buf_init(&b, len * 4 + 4096);
    while (i < len) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            sn_buf_append(&b, "${", 2);
            i += 3;
            continue;
        }
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            const char *end = memchr(s + i + 2, '}', len - i - 2);
            const char *name = s + i + 2, *dflt = NULL, *val;
            size_t name_len, dflt_len = 0;
            char var[256];

            if (end == NULL) {
                sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file, line, col,
                             "unterminated \"${\" in value (write \"$${\" for "
                             "a literal)");
                break;
            }
            name_len = (size_t)(end - name);
            for (size_t k = 0; k + 1 < name_len; k++) {
                if (name[k] == ':' && name[k + 1] == '-') {
                    dflt = name + k + 2;
                    dflt_len = name_len - k - 2;
                    name_len = k;
                    break;
                }
            }
            if (name_len == 0 || name_len >= sizeof(var)) {
                sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file, line, col,
                             "bad variable name in \"${...}\"");
                i = (size_t)(end - s) + 1;
                continue;
            }
            memcpy(var, name, name_len);
            var[name_len] = '\0';
            val = getenv(var);
            if (val != NULL && (val[0] != '\0' || dflt == NULL))
                sn_buf_puts(&b, val);
            else if (dflt != NULL)
                sn_buf_append(&b, dflt, dflt_len);
            else
                sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file, line, col,
                             "environment variable \"%s\" is not set (use "
                             "${%s:-default} to give a default)",
                             var, var);
            i = (size_t)(end - s) + 1;
            continue;
        }
        sn_buf_putc(&b, s[i]);
        i++;
    }
    res = arena_strndup(&l->y->arena, b.data ? b.data : "", b.len);
    sn_buf_fini(&b);
    return res;
}

static struct sn_node *convert(struct loader *l, yaml_node_t *yn);

static struct sn_node *
node_new(struct loader *l, enum sn_node_type type, yaml_node_t *yn)
{
    struct sn_node *n = sn_arena_alloc(&l->y->arena, sizeof(*n));

    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    n->file = l->y->file;
    return n;
}

static struct sn_node *
convert_scalar(struct loader *l, yaml_node_t *yn)
{
    struct sn_node *n = node_new(l, SN_NODE_SCALAR, yn);
    const char *s = (const char *)yn->data.scalar.value;
    size_t len = yn->data.scalar.length;
    size_t errors_before = l->d->n_errors;

    if (n == NULL)
        return NULL;

    n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    n->str = l->expand_env ? expand(l, s, len, n->line, n->col)
                           : arena_strndup(&l->y->arena, s, len);
    n->unresolved = l->d->n_errors > errors_before;
    return n;
}

static struct sn_node *
convert_map(struct loader *l, yaml_node_t *yn)
{
    struct sn_node *n = node_new(l, SN_NODE_MAP, yn);
    yaml_node_pair_t *p;
    size_t cnt = (size_t)(yn->data.mapping.pairs.top -
                          yn->data.mapping.pairs.start);

    if (n == NULL)
        return NULL;
    n->pairs = sn_arena_alloc(&l->y->arena, (cnt ? cnt : 1) * sizeof(*n->pairs));
    if (n->pairs == NULL)
        return NULL;
    for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
         p++) {
        yaml_node_t *yk = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *yv = yaml_document_get_node(l->doc, p->value);
        struct sn_node *k, *v;

        if (yk == NULL || yv == NULL)
            continue;
        if (yk->type != YAML_SCALAR_NODE) {
            sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file,
                         (int)yk->start_mark.line + 1,
                         (int)yk->start_mark.column + 1,
                         "mapping keys must be plain strings");
            continue;
        }
        k = convert_scalar(l, yk);
        if (k == NULL)
            return NULL;
        for (size_t i = 0; i < n->n; i++) {
            if (strcmp(n->pairs[i].key->str, k->str) == 0) {
                sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file, k->line, k->col,
                             "duplicate key \"%s\" (first at line %d)",
                             k->str, n->pairs[i].key->line);
                break;
            }
        }
        v = convert(l, yv);
        if (v == NULL)
            return NULL;
        n->pairs[n->n].key = k;
        n->pairs[n->n].value = v;
        n->n++;
    }
    return n;
}

static struct sn_node *
convert_seq(struct loader *l, yaml_node_t *yn)
{
    struct sn_node *n = node_new(l, SN_NODE_SEQ, yn);
    yaml_node_item_t *it;
    size_t cnt = (size_t)(yn->data.sequence.items.top -
                          yn->data.sequence.items.start);

    if (n == NULL)
        return NULL;
    n->items = sn_arena_alloc(&l->y->arena, (cnt ? cnt : 1) * sizeof(*n->items));
    if (n->items == NULL)
        return NULL;
    for (it = yn->data.sequence.items.start; it < yn->data.sequence.items.top;
         it++) {
        yaml_node_t *yi = yaml_document_get_node(l->doc, *it);
        struct sn_node *v;

        if (yi == NULL)
            continue;
        v = convert(l, yi);
        if (v == NULL)
            return NULL;
        n->items[n->n++] = v;
    }
    return n;
}

/* Count a node about to be copied; false (and the error, once) when the
 * aliases of the document have added more than the limit. */
static bool
count_alias_node(struct loader *l, yaml_node_t *yn, bool *entered)
{
    size_t i = (size_t)(yn - l->doc->nodes.start);

    *entered = false;
    if (i < l->n_seen) {
        if (l->seen[i] && l->in_alias == 0) {
            l->in_alias++;
            *entered = true;
        }
        l->seen[i] = 1;
    }
    if (l->in_alias == 0)
        return true;
    if (++l->alias_nodes <= SN_CONFIG_MAX_ALIAS_NODES)
        return true;
    if (!l->alias_overflow)
        sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file,
                     (int)yn->start_mark.line + 1,
                     (int)yn->start_mark.column + 1,
                     "aliases expand to more than %d nodes (nested "
                     "aliases, \"billion laughs\"?); the node at this "
                     "position is the anchor being copied",
                     SN_CONFIG_MAX_ALIAS_NODES);
    l->alias_overflow = true;
    return false;
}

static struct sn_node *
convert(struct loader *l, yaml_node_t *yn)
{
    struct sn_node *n = NULL;
    bool entered;

    if (l->alias_overflow || !count_alias_node(l, yn, &entered))
        return NULL;
    if (++l->depth > SN_CONFIG_MAX_DEPTH) {
        sn_diags_add(l->d, SN_DIAG_ERROR, l->y->file,
                     (int)yn->start_mark.line + 1,
                     (int)yn->start_mark.column + 1,
                     "nesting deeper than %d levels", SN_CONFIG_MAX_DEPTH);
        l->depth--;
        l->in_alias -= entered;
        return NULL;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: n = convert_scalar(l, yn); break;
    case YAML_MAPPING_NODE: n = convert_map(l, yn); break;
    case YAML_SEQUENCE_NODE: n = convert_seq(l, yn); break;
    default: break;
    }
    l->depth--;
    l->in_alias -= entered;
    return n;
}

enum sn_status
sn_yaml_load_mem(const char *name, const char *data, size_t len,
                 bool expand_env, struct sn_yaml **out, struct sn_diags *d)
{
    yaml_parser_t parser;
    struct sn_yaml *y;
    size_t errors_before = d->n_errors;
    size_t cap = 0;

    *out = NULL;
    y = calloc(1, sizeof(*y));
    if (y == NULL)
        return SN_ENOMEM;
    sn_arena_init(&y->arena, 64 * 1024, 0);
    y->file = strdup(name);
    *out = y;
    if (y->file == NULL || !yaml_parser_initialize(&parser))
        return SN_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    for (;;) {
        yaml_document_t doc;
        yaml_node_t *root;
        struct loader l = { .y = y, .doc = &doc, .d = d,
                            .expand_env = expand_env };

        if (!yaml_parser_load(&parser, &doc)) {
            const yaml_mark_t *m = &parser.problem_mark;

            /* The problem is where libyaml noticed it (often the end of
             * the file); the context says where the construct began. */
            if (parser.context != NULL)
                sn_diags_add(d, SN_DIAG_ERROR, y->file, (int)m->line + 1,
                             (int)m->column + 1,
                             "YAML syntax error: %s (%s that started at "
                             "line %d, column %d)",
                             parser.problem ? parser.problem : "malformed",
                             parser.context,
                             (int)parser.context_mark.line + 1,
                             (int)parser.context_mark.column + 1);
            else
                sn_diags_add(d, SN_DIAG_ERROR, y->file, (int)m->line + 1,
                             (int)m->column + 1, "YAML syntax error: %s",
                             parser.problem ? parser.problem : "malformed");
            break;
        }
        root = yaml_document_get_root_node(&doc);
        if (root == NULL) {
            yaml_document_delete(&doc);
            break;
        }
        if (y->n_docs == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct sn_node **p = realloc(y->docs, ncap * sizeof(*p));
            if (p == NULL) {
                yaml_document_delete(&doc);
                break;
            }
            y->docs = p;
            cap = ncap;
        }
        l.n_seen = (size_t)(doc.nodes.top - doc.nodes.start);
        l.seen = calloc(l.n_seen ? l.n_seen : 1, 1);
        if (l.seen == NULL) {
            yaml_document_delete(&doc);
            break;
        }
        y->docs[y->n_docs] = convert(&l, root);
        if (y->docs[y->n_docs] != NULL)
            y->n_docs++;
        free(l.seen);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return d->n_errors > errors_before ? SN_ECONFIG : SN_OK;
}

enum sn_status
sn_yaml_load(const char *path, bool expand_env, struct sn_yaml **out,
             struct sn_diags *d)
{
    FILE *f = fopen(path, "rb");
    char *data;
    size_t len;
    long sz;
    enum sn_status rc;

    *out = NULL;
    if (f == NULL) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return SN_ECONFIG;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                     strerror(errno));
        fclose(f);
        return SN_ECONFIG;
    }
    if (sz > SN_CONFIG_MAX_BYTES) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0,
                     "file is %ld bytes; the limit is %d", sz,
                     SN_CONFIG_MAX_BYTES);
        fclose(f);
        return SN_ECONFIG;
    }
    data = malloc((size_t)sz + 1);
    if (data == NULL) {
        fclose(f);
        return SN_ENOMEM;
    }
    len = fread(data, 1, (size_t)sz, f);
    if (ferror(f)) {
        sn_diags_add(d, SN_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                     strerror(errno));
        free(data);
        fclose(f);
        return SN_ECONFIG;
    }
    fclose(f);
    rc = sn_yaml_load_mem(path, data, len, expand_env, out, d);
    free(data);
    return rc;
}

void
sn_yaml_free(struct sn_yaml *y)
{
    if (y == NULL)
        return;
    sn_arena_fini(&y->arena);
    free(y->docs);
    free(y->file);
    free(y);
}

struct sn_node *
sn_node_get(const struct sn_node *map, const char *key)
{
    if (map == NULL || map->type != SN_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return map->pairs[i].value;
    return NULL;
}

const char *
sn_node_type_name(enum sn_node_type t)
{
    switch (t) {
    case SN_NODE_SCALAR: return "a scalar";
    case SN_NODE_MAP: return "a mapping";
    case SN_NODE_SEQ: return "a list";
    }
    return "?";
}
