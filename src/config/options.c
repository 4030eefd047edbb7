/* Option tables applied to YAML; see options.h. */
#include "config/options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
sn_opt_type_name(enum sn_opt_type t)
{
    switch (t) {
    case SN_OPT_STRING: return "string";
    case SN_OPT_INT: return "integer";
    case SN_OPT_BOOL: return "boolean";
    case SN_OPT_DOUBLE: return "number";
    case SN_OPT_SIZE: return "size";
    case SN_OPT_DURATION: return "duration";
    case SN_OPT_ENUM: return "enum";
    case SN_OPT_LIST: return "list";
    case SN_OPT_MAP: return "map";
    }
    return "?";
}

bool
sn_parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };

    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return true;
        }
    }
    return false;
}

/* A non-negative decimal with an optional suffix from units[]. */
static bool
parse_scaled(const char *s, const char *const *units, const int64_t *mult,
             size_t n_units, int64_t bare_mult, int64_t *out)
{
    char *end;
    double v;

    if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0)
        return false;
    if (*end == '\0') {
        v *= (double)bare_mult;
    } else {
        size_t i;
        for (i = 0; i < n_units; i++)
            if (strcmp(end, units[i]) == 0)
                break;
        if (i == n_units)
            return false;
        v *= (double)mult[i];
    }
    if (v > 9.0e18)
        return false;
    *out = (int64_t)v;
    return true;
}

bool
sn_parse_duration_ms(const char *s, int64_t *ms)
{
    static const char *const units[] = { "ms", "s", "m", "h", "d" };
    static const int64_t mult[] = { 1, 1000, 60000, 3600000, 86400000 };

    /* A bare number is seconds, as in most daemons' configs. */
    return parse_scaled(s, units, mult, 5, 1000, ms);
}

bool
sn_parse_size(const char *s, uint64_t *bytes)
{
    static const char *const units[] = { "B", "K", "KB", "KiB", "M", "MB",
                                         "MiB", "G", "GB", "GiB" };
    static const int64_t mult[] = { 1, 1024, 1024, 1024, 1 << 20, 1 << 20,
                                    1 << 20, 1 << 30, 1 << 30, 1 << 30 };
    int64_t v;

    /* Binary units throughout: "64KB" and "64KiB" both mean 65536, the way
     * rsyslog and nginx read them. */
    if (!parse_scaled(s, units, mult, 10, 1, &v))
        return false;
    *bytes = (uint64_t)v;
    return true;
}

static const char *
choice_list(const char *choices, char *buf, size_t len)
{
    size_t j = 0;

    for (size_t i = 0; choices[i] != '\0' && j + 4 < len; i++) {
        if (choices[i] == '|') {
            buf[j++] = ',';
            buf[j++] = ' ';
        } else {
            buf[j++] = choices[i];
        }
    }
    buf[j] = '\0';
    return buf;
}

static int
choice_index(const char *choices, const char *s)
{
    size_t slen = strlen(s);
    int idx = 0;
    const char *p = choices;

    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);

        if (n == slen && strncmp(p, s, n) == 0)
            return idx;
        if (bar == NULL)
            return -1;
        p = bar + 1;
        idx++;
    }
}

struct ctx {
    const char *owner;
    struct sn_arena *a;
    struct sn_diags *d;
};

static void
bad_value(struct ctx *c, const struct sn_node *at, const struct sn_option *o,
          const char *expect, const char *got)
{
    if (at != NULL)
        sn_diags_add(c->d, SN_DIAG_ERROR, at->file, at->line, at->col,
                     "option '%s' of %s expects %s, got '%s'", o->name,
                     c->owner, expect, got);
    else
        sn_diags_add(c->d, SN_DIAG_ERROR, NULL, 0, 0,
                     "default of option '%s' of %s is not %s: '%s' (a bug "
                     "in the plugin)",
                     o->name, c->owner, expect, got);
}

static bool
in_range(const struct sn_option *o, int64_t v)
{
    return o->min >= o->max || (v >= o->min && v <= o->max);
}

static void
range_text(const struct sn_option *o, char *buf, size_t len, const char *what)
{
    if (o->min < o->max)
        snprintf(buf, len, "%s in %" PRId64 "..%" PRId64, what, o->min,
                 o->max);
    else
        snprintf(buf, len, "%s", what);
}

/* Store one scalar value; at is NULL for defaults. */
static void
set_scalar(struct ctx *c, const struct sn_option *o, void *conf,
           const char *s, const struct sn_node *at)
{
    char *field = (char *)conf + o->offset;
    char expect[320];

    switch (o->type) {
    case SN_OPT_STRING: {
        size_t n = strlen(s);
        char *copy = sn_arena_alloc(c->a, n + 1);
        if (copy != NULL)
            memcpy(copy, s, n + 1);
        memcpy(field, &copy, sizeof(copy));
        return;
    }
    case SN_OPT_INT: {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        range_text(o, expect, sizeof(expect), "an integer");
        if (errno != 0 || end == s || *end != '\0' || !in_range(o, v)) {
            bad_value(c, at, o, expect, s);
            return;
        }
        int64_t v64 = v;
        memcpy(field, &v64, sizeof(v64));
        return;
    }
    case SN_OPT_BOOL: {
        bool b;
        if (!sn_parse_bool(s, &b)) {
            bad_value(c, at, o, "true or false", s);
            return;
        }
        memcpy(field, &b, sizeof(b));
        return;
    }
    case SN_OPT_DOUBLE: {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0') {
            bad_value(c, at, o, "a number", s);
            return;
        }
        memcpy(field, &v, sizeof(v));
        return;
    }
    case SN_OPT_SIZE: {
        uint64_t v;
        range_text(o, expect, sizeof(expect),
                   "a size (e.g. 512, 64KiB, 1MiB)");
        if (!sn_parse_size(s, &v) || !in_range(o, (int64_t)v)) {
            bad_value(c, at, o, expect, s);
            return;
        }
        memcpy(field, &v, sizeof(v));
        return;
    }
    case SN_OPT_DURATION: {
        int64_t v;
        range_text(o, expect, sizeof(expect),
                   "a duration (e.g. 250ms, 5s, 2m, 1h)");
        if (!sn_parse_duration_ms(s, &v) || !in_range(o, v)) {
            bad_value(c, at, o, expect, s);
            return;
        }
        memcpy(field, &v, sizeof(v));
        return;
    }
    case SN_OPT_ENUM: {
        int idx = choice_index(o->choices, s);
        if (idx < 0) {
            char list[256];
            snprintf(expect, sizeof(expect), "one of: %s",
                     choice_list(o->choices, list, sizeof(list)));
            bad_value(c, at, o, expect, s);
            return;
        }
        memcpy(field, &idx, sizeof(idx));
        return;
    }
    case SN_OPT_LIST: {
        /* A single scalar is a one-item list. */
        struct sn_strlist l;
        const char **items = sn_arena_alloc(c->a, sizeof(char *));
        size_t n = strlen(s);
        char *copy = sn_arena_alloc(c->a, n + 1);
        if (items == NULL || copy == NULL)
            return;
        memcpy(copy, s, n + 1);
        items[0] = copy;
        l.n = s[0] == '\0' && at == NULL ? 0 : 1;
        l.items = items;
        memcpy(field, &l, sizeof(l));
        return;
    }
    case SN_OPT_MAP:
        return;
    }
}

static void
set_list(struct ctx *c, const struct sn_option *o, void *conf,
         const struct sn_node *seq)
{
    struct sn_strlist l;
    const char **items = sn_arena_alloc(c->a, (seq->n + 1) * sizeof(char *));

    if (items == NULL)
        return;
    for (size_t i = 0; i < seq->n; i++) {
        const struct sn_node *it = seq->items[i];
        if (it->type != SN_NODE_SCALAR) {
            sn_diags_add(c->d, SN_DIAG_ERROR, it->file, it->line, it->col,
                         "option '%s' of %s expects a list of strings, got "
                         "%s as item %zu",
                         o->name, c->owner, sn_node_type_name(it->type),
                         i + 1);
            return;
        }
        items[i] = sn_arena_memdup(c->a, it->str, strlen(it->str) + 1);
    }
    l.n = seq->n;
    l.items = items;
    memcpy((char *)conf + o->offset, &l, sizeof(l));
}

static bool
is_prefix_option(const struct sn_option *o)
{
    return o->type == SN_OPT_MAP;
}

static bool
has_unresolved(const struct sn_node *n)
{
    if (n->type == SN_NODE_SCALAR)
        return n->unresolved;
    for (size_t i = 0; n->type == SN_NODE_SEQ && i < n->n; i++)
        if (has_unresolved(n->items[i]))
            return true;
    return false;
}

enum sn_status
sn_options_fill(const struct sn_option *opts, void *conf,
                const struct sn_node *map, const char *const *extra_keys,
                const char *owner, struct sn_arena *a, struct sn_diags *d)
{
    struct ctx c = { owner, a, d };
    size_t errors_before = d->n_errors;
    bool unresolved = false;
    size_t n_opts = 0, n_extra = 0;

    while (opts != NULL && opts[n_opts].name != NULL)
        n_opts++;
    while (extra_keys != NULL && extra_keys[n_extra] != NULL)
        n_extra++;

    /* Defaults first, so set values simply overwrite them. */
    for (size_t i = 0; i < n_opts; i++)
        if (opts[i].def != NULL && !is_prefix_option(&opts[i]))
            set_scalar(&c, &opts[i], conf, opts[i].def, NULL);

    for (size_t k = 0; map != NULL && k < map->n; k++) {
        const struct sn_node *key = map->pairs[k].key;
        const struct sn_node *val = map->pairs[k].value;
        const struct sn_option *o = NULL;
        bool extra = false;

        for (size_t j = 0; j < n_extra; j++)
            if (strcmp(key->str, extra_keys[j]) == 0)
                extra = true;
        if (extra)
            continue;
        for (size_t i = 0; i < n_opts && o == NULL; i++) {
            if (is_prefix_option(&opts[i]) &&
                strncmp(key->str, opts[i].name, strlen(opts[i].name)) == 0 &&
                key->str[strlen(opts[i].name)] != '\0')
                o = &opts[i];
            else if (strcmp(key->str, opts[i].name) == 0)
                o = &opts[i];
        }
        if (o == NULL) {
            const char *cand[128];
            size_t n = 0;
            const char *best;

            for (size_t i = 0; i < n_opts && n < 128; i++)
                cand[n++] = opts[i].name;
            for (size_t j = 0; j < n_extra && n < 128; j++)
                cand[n++] = extra_keys[j];
            best = sn_suggest(key->str, cand, n);
            if (best != NULL)
                sn_diags_add(d, SN_DIAG_ERROR, key->file, key->line, key->col,
                             "unknown option '%s' for %s; did you mean '%s'?",
                             key->str, owner, best);
            else
                sn_diags_add(d, SN_DIAG_ERROR, key->file, key->line, key->col,
                             "unknown option '%s' for %s", key->str, owner);
            continue;
        }
        /* An unset ${VAR} was reported where it was read: no second error
         * about what is left of the value, and the caller does not use
         * this config (a required option may be missing). */
        if (has_unresolved(val)) {
            unresolved = true;
            continue;
        }
        if (o->type == SN_OPT_MAP) {
            struct sn_kvlist *l =
                (struct sn_kvlist *)(void *)((char *)conf + o->offset);
            struct sn_kv *items;
            const char *sub = key->str + strlen(o->name);

            if (val->type != SN_NODE_SCALAR) {
                sn_diags_add(d, SN_DIAG_ERROR, val->file, val->line, val->col,
                             "option '%s' of %s expects a scalar value, got "
                             "%s",
                             key->str, owner, sn_node_type_name(val->type));
                continue;
            }
            items = sn_arena_alloc(a, (l->n + 1) * sizeof(*items));
            if (items == NULL)
                continue;
            if (l->n > 0)
                memcpy(items, l->items, l->n * sizeof(*items));
            items[l->n].key = sn_arena_memdup(a, sub, strlen(sub) + 1);
            items[l->n].value =
                sn_arena_memdup(a, val->str, strlen(val->str) + 1);
            l->items = items;
            l->n++;
            continue;
        }
        if (o->type == SN_OPT_LIST && val->type == SN_NODE_SEQ) {
            set_list(&c, o, conf, val);
            continue;
        }
        if (val->type != SN_NODE_SCALAR) {
            sn_diags_add(d, SN_DIAG_ERROR, val->file, val->line, val->col,
                         "option '%s' of %s expects a %s, got %s", o->name,
                         owner, sn_opt_type_name(o->type),
                         sn_node_type_name(val->type));
            continue;
        }
        set_scalar(&c, o, conf, val->str, val);
    }

    for (size_t i = 0; i < n_opts; i++) {
        if (!opts[i].required || opts[i].def != NULL)
            continue;
        if (sn_node_get(map, opts[i].name) == NULL) {
            if (map != NULL)
                sn_diags_add(d, SN_DIAG_ERROR, map->file, map->line, map->col,
                             "missing required option '%s' for %s",
                             opts[i].name, owner);
            else
                sn_diags_add(d, SN_DIAG_ERROR, NULL, 0, 0,
                             "missing required option '%s' for %s",
                             opts[i].name, owner);
        }
    }
    return d->n_errors > errors_before || unresolved ? SN_ECONFIG : SN_OK;
}

const struct sn_key *
sn_keys_find(const struct sn_key *keys, size_t n_keys, const char *name)
{
    for (size_t i = 0; i < n_keys; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static void
unknown_key(const struct sn_key *keys, size_t n_keys,
            const struct sn_node *key, const char *who, const char *where,
            struct sn_diags *d)
{
    const char *cand[64];
    char list[256];
    size_t n = 0, j = 0;
    const char *best;

    list[0] = '\0';
    for (size_t i = 0; i < n_keys && n < 64; i++) {
        cand[n++] = keys[i].name;
        if (j + 32 < sizeof(list))
            j += (size_t)snprintf(list + j, sizeof(list) - j, "%s%s",
                                  i ? ", " : "", keys[i].name);
    }
    best = sn_suggest(key->str, cand, n);
    if (best != NULL)
        sn_diags_add(d, SN_DIAG_ERROR, key->file, key->line, key->col,
                     "%sunknown key \"%s\" in %s; did you mean \"%s\"?", who,
                     key->str, where, best);
    else
        sn_diags_add(d, SN_DIAG_ERROR, key->file, key->line, key->col,
                     "%sunknown key \"%s\" in %s (known: %s)", who, key->str,
                     where, list);
}

bool
sn_keys_collect(const struct sn_key *keys, size_t n_keys,
                const struct sn_node *map, void *slots, const char *who,
                const char *where, struct sn_diags *d)
{
    size_t errors_before = d->n_errors;

    for (size_t i = 0; i < n_keys; i++)
        memset((char *)slots + keys[i].offset, 0,
               sizeof(const struct sn_node *));
    if (map->type != SN_NODE_MAP) {
        sn_diags_add(d, SN_DIAG_ERROR, map->file, map->line, map->col,
                     "%s%s must be a mapping, not %s", who, where,
                     sn_node_type_name(map->type));
        return false;
    }
    for (size_t i = 0; i < map->n; i++) {
        const struct sn_key *k = sn_keys_find(keys, n_keys, map->pairs[i].key->str);

        if (k == NULL)
            unknown_key(keys, n_keys, map->pairs[i].key, who, where, d);
        else
            memcpy((char *)slots + k->offset, &map->pairs[i].value,
                   sizeof(map->pairs[i].value));
    }
    if (d->n_errors > errors_before)
        return false;
    for (size_t i = 0; i < n_keys; i++)
        if (keys[i].required && sn_node_get(map, keys[i].name) == NULL)
            sn_diags_add(d, SN_DIAG_ERROR, map->file, map->line, map->col,
                         "%s%s needs \"%s\"", who, where, keys[i].name);
    return d->n_errors == errors_before;
}
