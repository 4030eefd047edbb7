/*
 * Build tree or installed: see layout.h. Installed paths are compiled in
 * (-DSN_BINDIR and friends from configure); this file only reads the
 * marker of an uninstalled binary. It never looks at a marker beside an
 * installed binary, so a file dropped into bindir cannot redirect it.
 */
#include "cli/layout.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef SN_BINDIR
#define SN_BINDIR "/usr/local/bin"
#endif

/* Set by sn_layout_apply() from main() before any thread exists. */
static bool uninstalled;

static void
chomp(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

bool
sn_layout_apply(void)
{
    char exe[PATH_MAX], line[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    FILE *f;

    if (n <= 0)
        return false;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    if (strcmp(exe, SN_BINDIR) == 0)
        return false;
    if ((size_t)(slash - exe) + sizeof("/" SN_LAYOUT_MARKER) > sizeof(exe))
        return false;
    strcpy(slash, "/" SN_LAYOUT_MARKER);
    f = fopen(exe, "r");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *eq;

        chomp(line);
        if (line[0] == '#' || line[0] == '\0')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL || eq == line)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 0);
    }
    fclose(f);
    uninstalled = true;
    return true;
}

bool
sn_layout_uninstalled(void)
{
    return uninstalled;
}
