/* Shared subcommand helpers; see common.h. */
#include "cli/common.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#ifndef SN_SYSCONFDIR
#define SN_SYSCONFDIR "/etc"
#endif

const char *
sn_cli_default_config(void)
{
    const char *env = getenv("SENTINELD_CONFIG");

    return env != NULL && env[0] != '\0' ? env
                                         : SN_SYSCONFDIR
               "/sentineld/sentineld.yaml";
}

const char *
sn_cli_opt_value(int argc, char **argv, int *i, const char *name,
                 bool *missing)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return argv[*i];
    }
    return argv[++*i];
}

void
sn_cli_state_hint(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const struct passwd *pw;
    struct stat st;

    if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (dir[0] == '\0' || stat(dir, &st) != 0 || access(dir, X_OK) == 0 ||
        errno != EACCES || st.st_uid == geteuid())
        return;
    pw = getpwuid(st.st_uid);
    if (pw == NULL)
        fprintf(stderr, "sentineld: %s belongs to uid %lu: run this as "
                        "root or as that user\n",
                dir, (unsigned long)st.st_uid);
    else
        fprintf(stderr, "sentineld: %s belongs to user %s: run this as "
                        "root or as that user (sudo -u %s sentineld ...)\n",
                dir, pw->pw_name, pw->pw_name);
}
