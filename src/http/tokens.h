/*
 * API tokens: a text file of `name role sha256hex` lines (mode 0600) so a
 * token exists in clear only once, when `sentineld token create` prints
 * it. Verification hashes the presented token and compares hashes in
 * constant time. Used by the HTTP server (control thread) and the CLI.
 */
#ifndef SN_HTTP_TOKENS_H
#define SN_HTTP_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include <sentineld/plugin.h>

#include "core/error.h"

#define SN_TOKEN_NAME_MAX 63

struct sn_token {
    char name[SN_TOKEN_NAME_MAX + 1];
    char role[16];
    unsigned char hash[32];
};

struct sn_tokens {
    struct sn_token *items;
    size_t n, cap;
};

/* Load path; a missing file is an empty set (SN_OK). Malformed lines are
 * errors naming the file and line. */
enum sn_status sn_tokens_load(const char *path, struct sn_tokens **out,
                              struct sn_error *err);
void sn_tokens_free(struct sn_tokens *t);
/* The token whose hash matches the presented secret, or NULL. */
const struct sn_token *sn_tokens_find(const struct sn_tokens *t,
                                      const char *secret, size_t len);
/* Create a token for name/role, append it to path (creating it 0600) and
 * write the secret ("snt_" + 64 hex chars) to secret_out. Names are
 * unique: SN_EINVAL when name exists or name/role is invalid. */
enum sn_status sn_tokens_create(const char *path, const char *name,
                                const char *role, char secret_out[72],
                                struct sn_error *err);
/* Remove name from path. SN_DECLINED when there is no such token. */
enum sn_status sn_tokens_revoke(const char *path, const char *name,
                                struct sn_error *err);

#endif
