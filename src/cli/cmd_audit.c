/*
 * `sentineld audit verify`: walk the audit trail's hash chain
 * (incident/audit.h) and name the first row that was edited, or that
 * follows a deleted one. Exit 0 when the chain holds (printing its head,
 * to compare with a head saved earlier: rows deleted at the very end
 * leave a shorter chain that still holds), 1 when it is broken, 2 on
 * usage or store errors.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/identity.h"
#include "incident/audit.h"
#include "incident/incidents.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: sentineld audit verify [-c CONFIG | --store PATH]\n"
               "  checks the hash chain over the audit trail; exit 1 names "
               "the first bad row\n");
}

int
sn_cmd_audit(int argc, char **argv)
{
    const char *config = sn_cli_default_config(), *store = NULL;
    struct sn_incidents *inc = NULL;
    struct sn_audit_verdict v;
    struct sn_error err;
    char path[4096];
    int rc;

    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                                  strcmp(argv[1], "-h") == 0);
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        bool missing = false;
        const char *val;
        if ((val = sn_cli_opt_value(argc, argv, &i, "--store", &missing)))
            store = val;
        else if ((val = sn_cli_opt_value(argc, argv, &i, "-c", &missing)) ||
                 (val = sn_cli_opt_value(argc, argv, &i, "--config",
                                         &missing)))
            config = val;
        else if (strcmp(argv[i], "--help") == 0 ||
                 strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else
            missing = true;
        if (missing) {
            usage(stderr);
            return 2;
        }
    }
    if (store != NULL)
        snprintf(path, sizeof(path), "%s", store);
    else if ((rc = sn_cli_paths(config, path, sizeof(path), NULL, 0)) != 0)
        return rc;
    sn_error_clear(&err);
    /* Writable: a store from before the chain (schema 2) is migrated,
     * which seals its rows, before they are checked. */
    if (sn_incidents_open(path, false, &inc, &err) != SN_OK ||
        sn_incidents_audit_verify(inc, &v, &err) != SN_OK) {
        fprintf(stderr, "sentineld audit: %s\n", err.msg);
        sn_cli_state_hint(path);
        sn_incidents_close(inc);
        return 2;
    }
    sn_incidents_close(inc);
    if (!v.ok) {
        fprintf(stderr,
                "sentineld audit: %s: the chain breaks at audit row %lld: "
                "%s (%ld rows checked)\n",
                path, (long long)v.bad_id, v.why, v.rows);
        return 1;
    }
    printf("audit trail of %s: %ld rows, chain intact; head %s\n", path,
           v.rows, v.head);
    return 0;
}
