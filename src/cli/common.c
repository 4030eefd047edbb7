/* Shared subcommand helpers; see common.h. */
#include "cli/common.h"

#include "config.h"

#ifndef SN_SYSCONFDIR
#define SN_SYSCONFDIR "/etc"
#endif

const char *
sn_cli_default_config(void)
{
    return SN_SYSCONFDIR "/sentineld/sentineld.yaml";
}
