/*
 * `sentineld version`: our version, plugin ABI and the libraries the
 * binary runs with (as loaded, not as compiled against). Libraries that
 * only plugins use are reported by `sentineld plugins`.
 */
#include <event2/event.h>
#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <yaml.h>

#include "cli/cli.h"
#include "config.h"

#include <sentineld/plugin.h>

int
sn_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("sentineld %s (plugin ABI %d)\n", PACKAGE_VERSION, SN_PLUGIN_ABI);
    printf("libevent %s\n", event_get_version());
    printf("libyaml %s\n", yaml_get_version_string());
    printf("json-c %s\n", json_c_version());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
