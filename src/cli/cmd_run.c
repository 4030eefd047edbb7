/* `sentineld run`: argument parsing for the daemon; see daemon/daemon.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "daemon/daemon.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: sentineld run [-c FILE] [--pidfile FILE] [--user NAME] "
            "[--oneshot]\n"
            "  -c, --config FILE  configuration (default %s)\n"
            "  --pidfile FILE     write the process id here once running\n"
            "  --user NAME        drop privileges to NAME after binding\n"
            "  --oneshot          exit when every input has finished "
            "(batch jobs)\n"
            "Runs in the foreground and logs to stderr. SIGTERM/SIGINT stop "
            "gracefully, SIGHUP reloads.\n",
            sn_cli_default_config());
}

int
sn_cmd_run(int argc, char **argv)
{
    struct sn_daemon_opts o = { sn_cli_default_config(), NULL, NULL, false };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
            i + 1 < argc)
            o.config_path = argv[++i];
        else if (strcmp(a, "--pidfile") == 0 && i + 1 < argc)
            o.pidfile = argv[++i];
        else if (strcmp(a, "--user") == 0 && i + 1 < argc)
            o.user = argv[++i];
        else if (strcmp(a, "--oneshot") == 0)
            o.oneshot = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sentineld run: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return sn_daemon_run(&o);
}
