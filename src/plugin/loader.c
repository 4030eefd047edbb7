/* dlopen-based plugin loading; see loader.h. */
#include "plugin/loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef SN_PLUGINDIR
#define SN_PLUGINDIR "/usr/local/lib/sentineld/plugins"
#endif

static bool
push(char ***v, size_t *n, const char *s, size_t len)
{
    char **p = realloc(*v, (*n + 2) * sizeof(char *));

    if (p == NULL)
        return false;
    *v = p;
    p[*n] = strndup(s, len);
    if (p[*n] == NULL)
        return false;
    (*n)++;
    p[*n] = NULL;
    return true;
}

char **
sn_plugin_search_path(const struct sn_strlist *extra)
{
    char **v = NULL;
    size_t n = 0;
    const char *env = getenv("SENTINELD_PLUGIN_PATH");

    for (size_t i = 0; extra != NULL && i < extra->n; i++)
        push(&v, &n, extra->items[i], strlen(extra->items[i]));
    while (env != NULL && *env != '\0') {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if (len > 0)
            push(&v, &n, env, len);
        env = colon ? colon + 1 : NULL;
    }
    push(&v, &n, SN_PLUGINDIR, strlen(SN_PLUGINDIR));
    return v;
}

void
sn_plugin_search_path_free(char **dirs)
{
    if (dirs == NULL)
        return;
    for (size_t i = 0; dirs[i] != NULL; i++)
        free(dirs[i]);
    free(dirs);
}

static const char *
kind_name(enum sn_kind k)
{
    switch (k) {
    case SN_KIND_INPUT:
        return "input";
    case SN_KIND_PARSER:
        return "parser";
    case SN_KIND_DETECTOR:
        return "detector";
    case SN_KIND_OUTPUT:
        return "output";
    }
    return "unknown-kind";
}

const char *
sn_plugin_missing_callback(const struct sn_plugin *p)
{
    switch (p->kind) {
    case SN_KIND_INPUT:
        return p->run == NULL ? "run" : NULL;
    case SN_KIND_PARSER:
        return p->parse == NULL ? "parse" : NULL;
    case SN_KIND_DETECTOR:
        return p->detect == NULL ? "detect" : NULL;
    case SN_KIND_OUTPUT:
        return p->write == NULL && p->deliver == NULL ? "write or deliver"
                                                      : NULL;
    }
    return NULL;
}

static bool
valid_name(const char *name)
{
    if (name[0] == '\0' || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

enum sn_status
sn_plugin_open_file(const char *path, const char *name,
                    struct sn_plugin_lib **out, struct sn_error *err)
{
    char sym[96];
    void *dl;
    const struct sn_plugin *desc;
    struct sn_plugin_lib *lib;
    const char *missing;

    *out = NULL;
    /* RTLD_NODELETE: a plugin and the libraries it brings (OpenSSL,
     * librdkafka, libpq) stay mapped until the process exits.
     * Unmapping them at stop or reload can leave thread-specific-data
     * destructors and exit handlers of those libraries pointing at
     * unmapped code: a thread or the process exiting afterwards jumps
     * there (SIGSEGV at SIGTERM, once in CI, never under a debugger). */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl == NULL) {
        sn_error_set(err, "cannot load plugin %s: %s", path, dlerror());
        return SN_EPLUGIN;
    }
    snprintf(sym, sizeof(sym), "sn_plugin_%s", name);
    desc = dlsym(dl, sym);
    if (desc == NULL) {
        sn_error_set(err, "%s does not export the symbol %s; is it a "
                     "sentineld plugin?",
                     path, sym);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    /* The handshake reads only the first two fields, whose layout never
     * changes, before trusting anything else in the descriptor. */
    if (desc->abi != SN_PLUGIN_ABI) {
        sn_error_set(err, "plugin %s was built for plugin ABI %u but this "
                     "sentineld has ABI %u; rebuild it against this "
                     "version's plugin.h",
                     path, (unsigned)desc->abi, (unsigned)SN_PLUGIN_ABI);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    /* Append-only: a plugin built against an older plugin.h of this ABI
     * has a shorter descriptor, and what it lacks reads as zero (the copy
     * below). It must reach at least the last field ABI 3 started with. */
    if (desc->struct_size < SN_PLUGIN_MIN_SIZE) {
        sn_error_set(err, "plugin %s has a descriptor of %u bytes, less "
                     "than the %zu every ABI %u plugin has; rebuild it",
                     path, (unsigned)desc->struct_size,
                     (size_t)SN_PLUGIN_MIN_SIZE, (unsigned)SN_PLUGIN_ABI);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    lib = calloc(1, sizeof(*lib));
    if (lib == NULL) {
        dlclose(dl);
        return SN_ENOMEM;
    }
    /* A newer plugin's extra tail is beyond what this daemon knows and is
     * ignored, as an older daemon must. */
    memcpy(&lib->copy, desc,
           desc->struct_size < sizeof(lib->copy) ? desc->struct_size
                                                 : sizeof(lib->copy));
    desc = &lib->copy;
    if (desc->name == NULL || strcmp(desc->name, name) != 0) {
        sn_error_set(err, "plugin %s calls itself '%s', expected '%s'", path,
                     desc->name ? desc->name : "(null)", name);
        free(lib);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    if ((unsigned)desc->kind > SN_KIND_OUTPUT) {
        sn_error_set(err, "plugin %s (%s) has an unknown kind %d", name,
                     path, (int)desc->kind);
        free(lib);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    missing = sn_plugin_missing_callback(desc);
    if (missing != NULL) {
        sn_error_set(err, "plugin %s (%s) lacks the %s callback every %s "
                     "plugin must have",
                     name, path, missing, kind_name(desc->kind));
        free(lib);
        dlclose(dl);
        return SN_EPLUGIN;
    }
    if ((lib->path = strdup(path)) == NULL) {
        free(lib);
        dlclose(dl);
        return SN_ENOMEM;
    }
    lib->dl = dl;
    lib->desc = desc;
    *out = lib;
    return SN_OK;
}

/* Plugins configure left out, with the reason (config.h:
 * SN_PLUGINS_LEFT_OUT, "name:reason;..." lines), so a config naming one
 * is told why instead of where it was searched. */
static const char *
left_out(const char *name)
{
#ifdef SN_PLUGINS_LEFT_OUT
    static const char *const table[][2] = { SN_PLUGINS_LEFT_OUT };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i][0] != NULL && strcmp(table[i][0], name) == 0)
            return table[i][1];
#else
    (void)name;
#endif
    return NULL;
}

enum sn_status
sn_plugin_open(const char *name, char *const *dirs, struct sn_plugin_lib **out,
               struct sn_error *err)
{
    char path[4096];
    char searched[1024] = "";
    size_t used = 0;

    *out = NULL;
    if (!valid_name(name)) {
        sn_error_set(err, "invalid plugin name '%s' (lowercase letters, "
                     "digits and '_' only)",
                     name);
        return SN_EPLUGIN;
    }
    for (size_t i = 0; dirs != NULL && dirs[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s.so", dirs[i], name);
        if (access(path, F_OK) == 0)
            return sn_plugin_open_file(path, name, out, err);
        if (used < sizeof(searched))
            used += (size_t)snprintf(searched + used, sizeof(searched) - used,
                                     "%s%s", i ? ", " : "", path);
    }
    if (left_out(name) != NULL)
        sn_error_set(err, "plugin '%s' is not part of this build: %s", name,
                     left_out(name));
    else
        sn_error_set(err, "plugin '%s' not found; searched: %s", name,
                     searched);
    return SN_EPLUGIN;
}

void
sn_plugin_close(struct sn_plugin_lib *lib)
{
    if (lib == NULL)
        return;
    /* Drops the reference only: the object stays mapped (RTLD_NODELETE
     * in sn_plugin_open_file), which also keeps plugin frames in leak
     * reports symbolised. */
    dlclose(lib->dl);
    free(lib->path);
    free(lib);
}
