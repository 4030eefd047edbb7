/*
 * Declared options (struct sn_option tables from plugin.h) applied to a
 * YAML mapping: validates every key and value, fills the owner's config
 * struct, and reports unknown keys with the closest valid one. Used for
 * plugin instances and the daemon's own sections alike.
 */
#ifndef SN_CONFIG_OPTIONS_H
#define SN_CONFIG_OPTIONS_H

#include <sentineld/plugin.h>
#include <stddef.h>

#include "config/diag.h"
#include "config/yaml.h"
#include "core/arena.h"

/*
 * Fill conf (zeroed by the caller, sized for opts) from map. Keys listed in
 * extra_keys are valid but handled by the caller. Strings and lists are
 * allocated in a. owner names the table in messages ("plugin in_syslog").
 * Errors go to d; returns SN_ECONFIG when any was added.
 */
enum sn_status sn_options_fill(const struct sn_option *opts, void *conf,
                               const struct sn_node *map,
                               const char *const *extra_keys,
                               const char *owner, struct sn_arena *a,
                               struct sn_diags *d);

/*
 * A declared key of a mapping whose value its owner interprets (the rule
 * files' nested blocks): the key's value node is stored at offset, a
 * `const struct sn_node *` member of the owner's struct of slots (NULL
 * when absent). SN_KEY(type, member) declares the key named like the
 * member.
 */
struct sn_key {
    const char *name;
    size_t offset;
    bool required;
};
#define SN_KEY(type, member)     { #member, offsetof(type, member), false }
#define SN_KEY_REQ(type, member) { #member, offsetof(type, member), true }

/*
 * Sort map's pairs into slots by keys (n_keys entries). Reported to d,
 * at the node's file:line:col and prefixed with who ("rule \"ssh\": "):
 * map not a mapping, an unknown key (with the closest declared one: "did
 * you mean"), a required key absent (at the map). where names the mapping
 * in messages ("\"threshold\""). Returns false when anything was.
 */
bool sn_keys_collect(const struct sn_key *keys, size_t n_keys,
                     const struct sn_node *map, void *slots, const char *who,
                     const char *where, struct sn_diags *d);
/* The declared key called name, or NULL. */
const struct sn_key *sn_keys_find(const struct sn_key *keys, size_t n_keys,
                                  const char *name);

/* Parse helpers shared with the rule loader; false on bad input. */
bool sn_parse_duration_ms(const char *s, int64_t *ms);
bool sn_parse_size(const char *s, uint64_t *bytes);
bool sn_parse_bool(const char *s, bool *b);

/* Name of an option type as users write it ("duration"). */
const char *sn_opt_type_name(enum sn_opt_type t);

#endif
