/*
 * Where the binary finds its files: the paths configure compiled in, or,
 * for a binary run from its build tree, the ones the build tree's marker
 * file names. docs/layout.md describes both.
 */
#ifndef SN_CLI_LAYOUT_H
#define SN_CLI_LAYOUT_H

#include <stdbool.h>

/* The marker written by `make` next to the built binary and never
 * installed: "NAME=VALUE" lines (# comments) that give defaults to the
 * environment variables the daemon and its plugins read
 * (SENTINELD_PLUGIN_PATH, SENTINELD_RULES, SENTINELD_SQL_DIR, ...), the
 * way libtool's wrapper sets LD_LIBRARY_PATH for an uninstalled program. */
#define SN_LAYOUT_MARKER "sentineld.uninstalled"

/* Called once by main() before any subcommand, single-threaded. When the
 * running executable (/proc/self/exe) sits next to SN_LAYOUT_MARKER and is
 * not in the configured bindir, sets each variable the marker names that
 * the environment does not already set (a user's setting wins). Returns
 * true when the binary runs uninstalled. A malformed line is ignored. */
bool sn_layout_apply(void);

/* True once sn_layout_apply() found the build-tree marker. */
bool sn_layout_uninstalled(void);

#endif
