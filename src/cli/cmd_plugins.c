/*
 * `sentineld plugins [NAME]`: every plugin found on the search path with
 * its kind, ABI version, declared options (name, type, default, help)
 * and HTTP routes (method, path, lowest role),
 * straight from the descriptors, so the listing cannot drift from the code.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "config/options.h"
#include "plugin/loader.h"

static void
print_options(const struct sn_option *opts)
{
    for (size_t i = 0; opts != NULL && opts[i].name != NULL; i++) {
        const struct sn_option *o = &opts[i];
        char name[80];

        /* A map option collects every key with its prefix: "kafka.*". */
        snprintf(name, sizeof(name), "%s%s", o->name,
                 o->type == SN_OPT_MAP ? "*" : "");
        printf("    %-22s %-9s", name, sn_opt_type_name(o->type));
        if (o->def != NULL)
            printf(" default %s", o->def[0] ? o->def : "\"\"");
        else if (o->required)
            printf(" required");
        if (o->type == SN_OPT_ENUM)
            printf(" (%s)", o->choices);
        if (o->min < o->max)
            printf(" [%lld..%lld]", (long long)o->min, (long long)o->max);
        printf("\n        %s\n", o->help ? o->help : "");
    }
}

static void
print_plugin(const struct sn_plugin_lib *lib)
{
    const struct sn_plugin *p = lib->desc;

    printf("%s (%s, ABI %u, version %s)\n  %s\n  file: %s\n", p->name,
           sn_kind_name(p->kind), (unsigned)p->abi,
           p->version ? p->version : "-",
           p->description ? p->description : "", lib->path);
    if (p->options != NULL && p->options[0].name != NULL) {
        printf("  options:\n");
        print_options(p->options);
    }
    if (p->routes != NULL && p->routes[0].method != NULL) {
        static const char *const roles[] = { "public", "viewer", "operator",
                                             "admin" };
        printf("  http routes:\n");
        for (const struct sn_http_route *r = p->routes; r->method; r++)
            printf("    %-6s %s%s  (%s)\n", r->method,
                   r->path[0] == '/' ? "" : "/api/v1/plugins/<instance>/",
                   r->path,
                   (unsigned)r->role <= SN_ROLE_ADMIN ? roles[r->role] : "?");
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
sn_cmd_plugins(int argc, char **argv)
{
    char **dirs = sn_plugin_search_path(NULL);
    const char *only = argc > 1 ? argv[1] : NULL;
    int found = 0, rc = 0;

    if (only != NULL &&
        (strcmp(only, "-h") == 0 || strcmp(only, "--help") == 0)) {
        printf("usage: sentineld plugins [NAME | --daemon]\n"
               "  lists the plugins found (kind, ABI, options), or one\n"
               "  plugin's; --daemon: the daemon, http and incidents keys.\n"
               "searched, in order:");
        for (size_t i = 0; dirs[i] != NULL; i++)
            printf(" %s", dirs[i]);
        printf("\n");
        sn_plugin_search_path_free(dirs);
        return 0;
    }
    if (only != NULL && strcmp(only, "--daemon") == 0) {
        printf("daemon:\n");
        print_options(sn_daemon_options);
        printf("daemon.journal:\n");
        print_options(sn_journal_options);
        printf("http:\n");
        print_options(sn_http_options);
        printf("incidents:\n");
        print_options(sn_incidents_options);
        printf("incidents.scrub:\n");
        print_options(sn_scrub_options);
        sn_plugin_search_path_free(dirs);
        return 0;
    }
    for (size_t i = 0; dirs[i] != NULL; i++) {
        DIR *dir = opendir(dirs[i]);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (dir == NULL)
            continue;
        while ((de = readdir(dir)) != NULL) {
            size_t len = strlen(de->d_name);
            char **p;
            if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
                continue;
            p = realloc(names, (n + 1) * sizeof(*names));
            if (p == NULL)
                break;
            names = p;
            names[n++] = strndup(de->d_name, len - 3);
        }
        closedir(dir);
        qsort(names, n, sizeof(*names), cmp_str);
        for (size_t k = 0; k < n; k++) {
            char path[4096];
            struct sn_plugin_lib *lib;
            struct sn_error err;

            if (only == NULL || strcmp(only, names[k]) == 0) {
                snprintf(path, sizeof(path), "%s/%s.so", dirs[i], names[k]);
                sn_error_clear(&err);
                if (sn_plugin_open_file(path, names[k], &lib, &err) == SN_OK) {
                    print_plugin(lib);
                    sn_plugin_close(lib);
                    found++;
                } else {
                    fprintf(stderr, "sentineld plugins: %s\n", err.msg);
                    rc = 1;
                }
            }
            free(names[k]);
        }
        free(names);
    }
    if (found == 0) {
        fprintf(stderr, "sentineld plugins: %s found; searched:",
                only ? "no such plugin" : "no plugins");
        for (size_t i = 0; dirs[i] != NULL; i++)
            fprintf(stderr, " %s", dirs[i]);
        fprintf(stderr, "\n");
        rc = 1;
    }
    sn_plugin_search_path_free(dirs);
    return rc;
}
