/* Shared subcommand helpers; see common.h. */
#include "cli/common.h"

#include <stdlib.h>
#include <string.h>

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
