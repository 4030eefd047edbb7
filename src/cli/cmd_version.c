/*
 * `sentineld version`: our version, plugin ABI and the libraries the
 * binary runs with (as loaded, not as compiled against). Libraries that
 * only plugins use are reported by `sentineld plugins`.
 */
#include <event2/event.h>
#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/layout.h"
#include "config.h"

#include <sentineld/plugin.h>

int
sn_cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        bool help =
            strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;
        fprintf(help ? stdout : stderr,
                "usage: sentineld version\n"
                "  version, plugin ABI, the libraries in use, and whether the\n"
                "  binary runs installed or from its build tree.\n");
        return help ? 0 : 2;
    }
    printf("sentineld %s (plugin ABI %d)\n", PACKAGE_VERSION, SN_PLUGIN_ABI);
    printf("libevent %s\n", event_get_version());
    printf("libyaml %s\n", yaml_get_version_string());
    printf("json-c %s\n", json_c_version());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("%s; default config %s\n",
           sn_layout_uninstalled()
               ? "uninstalled (build tree marker " SN_LAYOUT_MARKER ")"
               : "installed",
           sn_cli_default_config());
    return 0;
}
