/* Small helpers shared by the subcommands. */
#ifndef SN_CLI_COMMON_H
#define SN_CLI_COMMON_H

/* The installed default config path (sysconfdir/sentineld/sentineld.yaml). */
const char *sn_cli_default_config(void);

#endif
