/*
 * Finding and loading plugin shared objects: search path, dlopen, and the
 * ABI handshake (abi number and descriptor size checked before any other
 * field is read, like nginx's NGX_MODULE_V1).
 */
#ifndef SN_PLUGIN_LOADER_H
#define SN_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/error.h"

/* The shortest descriptor an ABI 3 plugin can have: everything up to and
 * including partition_release (the last field when ABI 3 began). Fields
 * appended later are read as zero from a shorter descriptor. */
#define SN_PLUGIN_MIN_SIZE                                                     \
    (offsetof(struct sn_plugin, partition_release) +                           \
     sizeof(((struct sn_plugin *)0)->partition_release))

struct sn_plugin_lib {
    char *path;
    void *dl;
    const struct sn_plugin *desc; /* &copy */
    /* The plugin's descriptor, zero-extended to this daemon's size: the
     * core reads only this copy, so a short descriptor is never read
     * past its end. */
    struct sn_plugin copy;
};

/* The name of a callback p's kind requires but p lacks ("run", "parse",
 * "detect", "write or deliver"), or NULL when p has them all. */
const char *sn_plugin_missing_callback(const struct sn_plugin *p);

/* The directories searched, in order: extra (config plugin_path), then
 * $SENTINELD_PLUGIN_PATH (colon-separated), then the installed plugin
 * directory. Returns a NULL-terminated malloc'd array of malloc'd strings. */
char **sn_plugin_search_path(const struct sn_strlist *extra);
void sn_plugin_search_path_free(char **dirs);

/* Load plugin `name` from the first directory that has name.so. Errors
 * name the paths searched or both ABI versions and the file. */
enum sn_status sn_plugin_open(const char *name, char *const *dirs,
                              struct sn_plugin_lib **out, struct sn_error *err);
/* Load one file directly (for listing). */
enum sn_status sn_plugin_open_file(const char *path, const char *name,
                                   struct sn_plugin_lib **out,
                                   struct sn_error *err);
void sn_plugin_close(struct sn_plugin_lib *lib);

#endif
