/* Adding a rule file or a directory of them; see load.h. */
#include "rules/load.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum sn_status
sn_rules_src_add_path(struct sn_rules_src *src, const char *path,
                      struct sn_diags *d)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    enum sn_status rc = SN_OK;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
        (dir = opendir(path)) == NULL)
        return sn_rules_src_add_file(src, path, d);
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        size_t full = strlen(path) + l + 2;
        char **p;

        /* .yml too: Sigma rules are written so (docs/sigma.md). */
        if (!(l >= 6 && strcmp(de->d_name + l - 5, ".yaml") == 0) &&
            !(l >= 5 && strcmp(de->d_name + l - 4, ".yml") == 0))
            continue;
        p = realloc(names, (n + 1) * sizeof(*names));
        if (p == NULL)
            break;
        names = p;
        names[n] = malloc(full);
        if (names[n] == NULL)
            break;
        snprintf(names[n], full, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(dir);
    /* Name order, so lists and duplicate-id reports do not depend on the
     * directory's order. */
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (sn_rules_src_add_file(src, names[i], d) != SN_OK)
            rc = SN_ECONFIG;
        free(names[i]);
    }
    free(names);
    return rc;
}
