/*
 * `sentineld token create|list|revoke`: manage the API tokens file
 * (src/http/tokens.h). The file is http.tokens, or <state_dir>/tokens,
 * from the configuration (-c), or given with --file. A created token is
 * printed once and never stored in clear.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "config/config.h"
#include "cli/identity.h"
#include "http/tokens.h"
#include "incident/audit.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: sentineld token create --name NAME --role "
               "viewer|operator|admin [-c FILE | --file TOKENS]\n"
               "       sentineld token list [-c FILE | --file TOKENS]\n"
               "       sentineld token revoke --name NAME [-c FILE | --file "
               "TOKENS]\n");
}

/* The tokens file the daemon would use with this configuration. */
static int
tokens_path(const char *config, char *out, size_t len)
{
    struct sn_diags d;
    struct sn_config *cfg = NULL;
    int rc = 0;

    sn_diags_init(&d);
    if (sn_config_load(config, &cfg, &d) != SN_OK) {
        sn_diags_print(&d, stderr);
        rc = -1;
    } else if (cfg->http.tokens != NULL)
        snprintf(out, len, "%s", cfg->http.tokens);
    else
        snprintf(out, len, "%s/tokens",
                 cfg->daemon.state_dir ? cfg->daemon.state_dir : ".");
    sn_config_free(cfg);
    sn_diags_fini(&d);
    return rc;
}

int
sn_cmd_token(int argc, char **argv)
{
    const char *config = sn_cli_default_config(), *file = NULL;
    const char *name = NULL, *role = NULL, *verb;
    char path[4096], db[4096] = "", actor[128] = "";
    struct sn_error err;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    verb = argv[1];
    for (int i = 2; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = sn_cli_opt_value(argc, argv, &i, "--name", &missing)))
            name = v;
        else if ((v = sn_cli_opt_value(argc, argv, &i, "--role", &missing)))
            role = v;
        else if ((v = sn_cli_opt_value(argc, argv, &i, "--file", &missing)))
            file = v;
        else if ((v = sn_cli_opt_value(argc, argv, &i, "--config", &missing)) ||
                 (v = sn_cli_opt_value(argc, argv, &i, "-c", &missing)))
            config = v;
        else if (strcmp(argv[i], "--help") == 0 ||
                 strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sentineld token: %s '%s'\n",
                    missing ? "missing value for" : "unknown argument",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (file != NULL)
        snprintf(path, sizeof(path), "%s", file);
    else if (tokens_path(config, path, sizeof(path)) != 0)
        return 2;
    /* Creating and revoking are audited in the configuration's store
     * (not with --file alone: no store is named then). */
    if (file == NULL && strcmp(verb, "list") != 0 &&
        (sn_cli_paths(config, db, sizeof(db), NULL, 0) != 0 ||
         sn_cli_actor(NULL, path, actor, sizeof(actor)) != 0))
        return 2;
    sn_error_clear(&err);
    if (strcmp(verb, "create") == 0) {
        char secret[72];
        if (name == NULL || role == NULL) {
            usage(stderr);
            return 2;
        }
        if (sn_tokens_create(path, name, role, secret, &err) != SN_OK) {
            fprintf(stderr, "sentineld token: %s\n", err.msg);
            sn_cli_state_hint(path);
            return 1;
        }
        if (db[0])
            sn_cli_audit(db, &(struct sn_audit_entry){ .actor = actor,
                                                       .action = "token.create",
                                                       .target = name,
                                                       .details = role });
        /* The only time the secret exists outside the client. */
        printf("%s\n", secret);
        fprintf(stderr,
                "token '%s' (%s) added to %s; it is shown only "
                "once\n",
                name, role, path);
        return 0;
    }
    if (strcmp(verb, "list") == 0) {
        struct sn_tokens *t;
        if (sn_tokens_load(path, &t, &err) != SN_OK) {
            fprintf(stderr, "sentineld token: %s\n", err.msg);
            sn_cli_state_hint(path);
            return 1;
        }
        for (size_t i = 0; i < t->n; i++)
            printf("%-24s %s\n", t->items[i].name, t->items[i].role);
        sn_tokens_free(t);
        return 0;
    }
    if (strcmp(verb, "revoke") == 0) {
        if (name == NULL) {
            usage(stderr);
            return 2;
        }
        if (sn_tokens_revoke(path, name, &err) != SN_OK) {
            fprintf(stderr, "sentineld token: %s\n", err.msg);
            sn_cli_state_hint(path);
            return 1;
        }
        if (db[0])
            sn_cli_audit(db, &(struct sn_audit_entry){ .actor = actor,
                                                       .action = "token.revoke",
                                                       .target = name });
        fprintf(stderr, "token '%s' revoked\n", name);
        return 0;
    }
    fprintf(stderr, "sentineld token: unknown verb '%s'\n", verb);
    usage(stderr);
    return 2;
}
