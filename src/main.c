/* sentineld entry point: dispatches subcommands (src/cli/); no logic here. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/layout.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    { "run", sn_cmd_run, "run the daemon in the foreground" },
    { "check", sn_cmd_check, "validate a configuration without starting" },
    { "plugins", sn_cmd_plugins, "list plugins and their options" },
    { "parse", sn_cmd_parse, "parse one syslog message from stdin" },
    { "frame", sn_cmd_frame, "split a syslog byte stream into frames" },
    { "test", sn_cmd_test, "replay log files through rules offline" },
    { "token", sn_cmd_token, "create, list and revoke API tokens" },
    { "explain", sn_cmd_explain, "render signal or incident JSON as text" },
    { "incidents", sn_cmd_incidents, "list incidents or show one (read-only)" },
    { "incident", sn_cmd_incident,
      "act on an incident (ack, resolve, approve, ...) or write its review" },
    { "audit", sn_cmd_audit, "verify the audit trail's hash chain" },
    { "version", sn_cmd_version, "print version and library versions" },
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: sentineld COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'sentineld COMMAND --help' describes each.\n");
}

int
main(int argc, char **argv)
{
    sn_layout_apply();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return sn_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sentineld: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
