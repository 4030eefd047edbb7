/* CLI identity and audit; see identity.h. */
#include "cli/identity.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "http/tokens.h"
#include "incident/audit.h"
#include "incident/incidents.h"

/* A token file's first line, trailing whitespace removed. */
static int
read_secret(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "sentineld: cannot read token file %s\n", path);
        return 1;
    }
    if (fgets(out, (int)len, f) == NULL)
        out[0] = '\0';
    fclose(f);
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
                     out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = '\0';
    return 0;
}

int
sn_cli_token(const char *token_file, char *out, size_t len)
{
    const char *env = getenv("SENTINELD_TOKEN");

    out[0] = '\0';
    if (token_file != NULL)
        return read_secret(token_file, out, len);
    if (env != NULL)
        snprintf(out, len, "%s", env);
    return 0;
}

int
sn_cli_actor(const char *token_file, const char *tokens_path, char *out,
             size_t len)
{
    char secret[256];
    const char *env = getenv("SENTINELD_TOKEN");
    struct sn_tokens *t = NULL;
    const struct sn_token *tok;
    struct sn_error err;
    struct passwd *pw;

    if (token_file != NULL || (env != NULL && env[0] != '\0')) {
        if (token_file != NULL) {
            if (read_secret(token_file, secret, sizeof(secret)) != 0)
                return 1;
        } else {
            snprintf(secret, sizeof(secret), "%s", env);
        }
        sn_error_clear(&err);
        if (sn_tokens_load(tokens_path, &t, &err) != SN_OK) {
            fprintf(stderr, "sentineld: %s\n", err.msg);
            return 1;
        }
        tok = sn_tokens_find(t, secret, strlen(secret));
        if (tok == NULL || (strcmp(tok->role, "operator") != 0 &&
                            strcmp(tok->role, "admin") != 0)) {
            fprintf(stderr,
                    "sentineld: %s (tokens: %s)\n",
                    tok == NULL ? "unknown or revoked token"
                                : "the token's role is viewer; incident "
                                  "actions need operator",
                    tokens_path);
            sn_tokens_free(t);
            return 1;
        }
        snprintf(out, len, "%s", tok->name);
        sn_tokens_free(t);
        return 0;
    }
    pw = getpwuid(getuid());
    if (pw != NULL)
        snprintf(out, len, "local:%s", pw->pw_name);
    else
        snprintf(out, len, "local:uid%u", (unsigned)getuid());
    return 0;
}

void
sn_cli_audit(const char *db_path, const struct sn_audit_entry *e)
{
    struct sn_incidents *inc = NULL;
    struct sn_error err;

    sn_error_clear(&err);
    if (sn_incidents_open(db_path, false, &inc, &err) != SN_OK ||
        sn_incidents_audit(inc, e, &err) != SN_OK)
        fprintf(stderr, "sentineld: warning: not audited: %s\n", err.msg);
    sn_incidents_close(inc);
}

int
sn_cli_paths(const char *config, char *db, size_t db_len, char *tokens,
             size_t tokens_len)
{
    struct sn_diags d;
    struct sn_config *cfg = NULL;
    const char *dir;

    sn_diags_init(&d);
    if (sn_config_load(config, &cfg, &d) != SN_OK) {
        sn_diags_print(&d, stderr);
        sn_diags_fini(&d);
        return 2;
    }
    sn_diags_fini(&d);
    dir = cfg->daemon.state_dir ? cfg->daemon.state_dir : ".";
    if (db != NULL) {
        if (cfg->incidents.store != NULL)
            snprintf(db, db_len, "%s", cfg->incidents.store);
        else
            snprintf(db, db_len, "%s/sentineld.db", dir);
    }
    if (tokens != NULL) {
        if (cfg->http.tokens != NULL)
            snprintf(tokens, tokens_len, "%s", cfg->http.tokens);
        else
            snprintf(tokens, tokens_len, "%s/tokens", dir);
    }
    sn_config_free(cfg);
    return 0;
}
