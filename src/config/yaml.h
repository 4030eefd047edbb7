/*
 * YAML documents as a small tree with source positions, built with libyaml.
 * Config and rule files are read through this so every later error can
 * name file:line:col. ${VAR} and ${VAR:-default} in scalars are expanded
 * from the environment while loading ($${ writes a literal "${").
 */
#ifndef SN_CONFIG_YAML_H
#define SN_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "config/diag.h"
#include "core/arena.h"

enum sn_node_type { SN_NODE_SCALAR, SN_NODE_MAP, SN_NODE_SEQ };

struct sn_node;

struct sn_pair {
    struct sn_node *key; /* always a scalar */
    struct sn_node *value;
};

struct sn_node {
    enum sn_node_type type;
    int line, col;    /* 1-based position of the node's first character */
    const char *file; /* owned by the document */
    /* SN_NODE_SCALAR */
    char *str;   /* NUL-terminated, after env expansion */
    bool quoted; /* written with quotes: never a null/bool/number */
    /* An unset ${VAR} in it, already reported: users of the value skip it
     * rather than report a second error about what was left. */
    bool unresolved;
    /* SN_NODE_MAP (pairs) or SN_NODE_SEQ (items) */
    struct sn_pair *pairs;
    struct sn_node **items;
    size_t n;
};

struct sn_yaml {
    char *file;
    struct sn_node **docs; /* one root per YAML document */
    size_t n_docs;
    struct sn_arena arena; /* every node and string */
};

/*
 * Load every document of the file at path. Problems (unreadable file,
 * syntax error, duplicate key, unset variable) are added to d with their
 * position; returns SN_ECONFIG when any was found (y is still freed by
 * sn_yaml_free). expand_env: expand ${VAR} in scalars.
 */
enum sn_status sn_yaml_load(const char *path, bool expand_env,
                            struct sn_yaml **out, struct sn_diags *d);
/* Same, from memory; name is used in positions. */
enum sn_status sn_yaml_load_mem(const char *name, const char *data,
                                size_t len, bool expand_env,
                                struct sn_yaml **out, struct sn_diags *d);
void sn_yaml_free(struct sn_yaml *y);

/* The value of key in a map node, or NULL. */
struct sn_node *sn_node_get(const struct sn_node *map, const char *key);
/* Human name of a node type ("a mapping"). */
const char *sn_node_type_name(enum sn_node_type t);

#endif
