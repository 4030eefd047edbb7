/*
 * Internals of the rule loader shared by load.c (files, rule keys, the
 * build) and load_extract.c (`extract` entries). Not for other modules:
 * use load.h.
 */
#ifndef SN_RULES_LOAD_INT_H
#define SN_RULES_LOAD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/load.h"

struct src_file {
    char *name;
    char *raw; /* the text, for mapping offsets inside scalars */
    size_t raw_len;
    struct sn_yaml *y;
};

struct sn_rules_src {
    struct src_file *files;
    size_t n, cap;
};

/* A rule mapping found by the first pass. */
struct rule_node {
    const struct sn_node *node;
    const struct src_file *file;
    const struct sn_node *match; /* the `match` scalar */
    bool sigma; /* a Sigma rule (load_sigma.c); match is its translation */
    bool sigma_corr; /* a Sigma correlation rule (loaded after the rest) */
    const struct sn_node *sigma_ls;      /* its mapping logsource entry */
    const struct sn_node *sigma_extract; /* and that entry's extract */
};

struct builder {
    struct sn_ruleset *rs;
    struct sn_diags *d;
    struct rule_node *nodes;
    size_t n_nodes;
    /* context for messages */
    const struct src_file *file;
    const char *rule_id;
    const struct sn_node *scalar; /* expression being compiled */
    const char **known;
    size_t n_known;
    /* `sigma:` mapping documents in load order, and their files. */
    const struct sn_node **sigma_maps;
    const struct src_file **sigma_map_files;
    size_t n_sigma_maps;
};

/* Diagnostics about node n (diag_in: about byte off of scalar n's
 * value), prefixed with the rule being loaded. */
void sn_load_diag(struct builder *b, enum sn_diag_level level,
                  const struct sn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sn_load_diag_in(struct builder *b, enum sn_diag_level level,
                     const struct sn_node *n, size_t off, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
void sn_load_unknown_key(struct builder *b, const struct sn_node *key,
                         const char *what, const char *const *keys, size_t n);
/* n's string, or NULL after reporting that it is not a scalar. */
const char *sn_load_want_string(struct builder *b, const struct sn_node *n,
                                const char *key);
bool sn_load_valid_field_name(const char *s);
/* A rule id: letters, digits, '-', '_', '.' (a Sigma UUID is one). */
bool sn_load_valid_id(const char *s);
/* A copy of s in the ruleset's arena (NULL on ENOMEM). */
const char *sn_load_adup(struct sn_ruleset *rs, const char *s);
/* load_extract.c: the `extract` list of rule r. */
bool sn_load_extract(struct builder *b, struct sn_rule *r,
                     const struct sn_node *n);

/* load_sigma.c: a Sigma rule document into r (false: error or skipped,
 * both reported); a `sigma:` mapping document's shape. */
bool sn_load_sigma(struct builder *b, struct rule_node *rn, struct sn_rule *r);
bool sn_sigma_check_map(struct builder *b, const struct sn_node *n);
/* load_sigma_map.c: the mapping entry for a rule's logsource (NULL:
 * none); the string value of key in map (NULL: absent or not a scalar). */
const struct sn_node *sn_sigma_find_logsource(struct builder *b,
                                              const struct sn_node *ls);
const char *sn_sigma_node_str(const struct sn_node *map, const char *key);
/* The event field Sigma field `name` maps to under logsource entry ls
 * (its own table, then the global ones, later documents first); NULL:
 * none. */
const char *sn_sigma_map_field(struct builder *b, const struct sn_node *ls,
                               const char *name);
/* id, title, description, tags and level of Sigma document n into r. */
bool sn_sigma_header(struct builder *b, const struct sn_node *n,
                     struct sn_rule *r);
/* load_sigma_corr.c: a Sigma correlation rule onto threshold, distinct or
 * sequence, over the Sigma rules loaded before it (rules[0..r)). */
bool sn_load_sigma_corr(struct builder *b, struct rule_node *rn,
                        struct sn_rule *r);

/* The short names both files use. */
#define diag             sn_load_diag
#define diag_in          sn_load_diag_in
#define unknown_key      sn_load_unknown_key
#define want_string      sn_load_want_string
#define valid_field_name sn_load_valid_field_name
#define adup             sn_load_adup

#endif
