/*
 * Who a CLI command acts as, and where its actions are audited. The
 * identity is never a typed name (issue #14: `--by NAME` trusted any
 * name, so one operator could approve their own request as "alice"):
 * it is an API token's name when the command presents the token (its
 * hash is checked against the tokens file, as the HTTP API does), or
 * else the operating-system user running it, "local:<user>" (the kernel
 * vouches for it; reaching the store needs that user's file access).
 */
#ifndef SN_CLI_IDENTITY_H
#define SN_CLI_IDENTITY_H

#include <stddef.h>

struct sn_audit_entry;

/*
 * The actor for a command that changes things. token_file: a file
 * holding the token (or NULL; then $SENTINELD_TOKEN when set); the token
 * must be known to tokens_path and have at least role operator.
 * Returns 0, or prints why not to stderr and returns 1.
 */
int sn_cli_actor(const char *token_file, const char *tokens_path, char *out,
                 size_t len);

/* The API token a command presents: the first line of token_file (when
 * not NULL), else $SENTINELD_TOKEN, else "" (none). Returns 0, or prints
 * why the file cannot be read and returns 1. */
int sn_cli_token(const char *token_file, char *out, size_t len);

/* Append e to the audit trail of the store at db_path (warning on
 * stderr when that fails; the command's own outcome stands). */
void sn_cli_audit(const char *db_path, const struct sn_audit_entry *e);

/* The incident store a configuration names: incidents.store or
 * <state_dir>/sentineld.db; the tokens file: http.tokens or
 * <state_dir>/tokens. Either out may be NULL. 0, or 2 after printing the
 * configuration's errors. */
int sn_cli_paths(const char *config, char *db, size_t db_len, char *tokens,
                 size_t tokens_len);

#endif
