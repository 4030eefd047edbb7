/* Small helpers shared by the subcommands. */
#ifndef SN_CLI_COMMON_H
#define SN_CLI_COMMON_H

#include <stdbool.h>

/* The default config path: $SENTINELD_CONFIG when set (a build-tree
 * binary sets it from its marker, cli/layout.h), else the installed one,
 * sysconfdir/sentineld/sentineld.yaml. */
const char *sn_cli_default_config(void);

/* The value of option argv[*i] ("--opt value" or "--opt=value"), or NULL
 * when argv[*i] is not that option; advances *i past a separate value.
 * *missing is set when the option is last and has no value. */
const char *sn_cli_opt_value(int argc, char **argv, int *i, const char *name,
                             bool *missing);

/* After a failed open of PATH (a store or file in the state directory):
 * when this user may not enter the directory that holds it, say whose it
 * is and how to run as that user, on stderr. The installed state belongs
 * to the daemon's user (0750), so an admin's `sentineld incidents list`
 * otherwise only hears SQLite's "unable to open database file". */
void sn_cli_state_hint(const char *path);

#endif
