/*
 * The tokens file; see tokens.h. Only SHA-256 hashes are stored: a leaked
 * file does not leak a usable token (the secrets are 256 random bits, so
 * an unsalted hash is not open to guessing).
 */
#include "http/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/statefile.h"

static void
sha256(const void *p, size_t len, unsigned char out[32])
{
    unsigned int n = 32;

    EVP_Digest(p, len, out, &n, EVP_sha256(), NULL);
}

static void
hex(const unsigned char *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
unhex1(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SN_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == '@'))
            return false;
    }
    return true;
}

static bool
valid_role(const char *r)
{
    return strcmp(r, "viewer") == 0 || strcmp(r, "operator") == 0 ||
           strcmp(r, "admin") == 0;
}

void
sn_tokens_free(struct sn_tokens *t)
{
    if (t == NULL)
        return;
    free(t->items);
    free(t);
}

static enum sn_status
push(struct sn_tokens *t, const struct sn_token *tok)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct sn_token *p = realloc(t->items, cap * sizeof(*p));
        if (p == NULL)
            return SN_ENOMEM;
        t->items = p;
        t->cap = cap;
    }
    t->items[t->n++] = *tok;
    return SN_OK;
}

static enum sn_status
parse_line(char *line, struct sn_token *tok)
{
    char *name = strtok(line, " \t\r\n");
    char *role = strtok(NULL, " \t\r\n");
    char *h = strtok(NULL, " \t\r\n");

    if (name == NULL || role == NULL || h == NULL ||
        strtok(NULL, " \t\r\n") != NULL || !valid_name(name) ||
        !valid_role(role) || strlen(h) != 64)
        return SN_EINVAL;
    memset(tok, 0, sizeof(*tok));
    strcpy(tok->name, name);
    strcpy(tok->role, role);
    for (int i = 0; i < 32; i++) {
        int a = unhex1(h[2 * i]), b = unhex1(h[2 * i + 1]);
        if (a < 0 || b < 0)
            return SN_EINVAL;
        tok->hash[i] = (unsigned char)(a << 4 | b);
    }
    return SN_OK;
}

enum sn_status
sn_tokens_load(const char *path, struct sn_tokens **out, struct sn_error *err)
{
    struct sn_tokens *t = calloc(1, sizeof(*t));
    FILE *f;
    char line[512];
    int lineno = 0;

    *out = NULL;
    if (t == NULL)
        return SN_ENOMEM;
    f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            *out = t;
            return SN_OK;
        }
        sn_error_set(err, "%s: %s", path, strerror(errno));
        sn_tokens_free(t);
        return SN_EIO;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        struct sn_token tok;
        char *p = line;

        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (parse_line(p, &tok) != SN_OK) {
            sn_error_set(err,
                         "%s:%d: expected 'name role sha256hex' (role viewer, "
                         "operator or admin)",
                         path, lineno);
            fclose(f);
            sn_tokens_free(t);
            return SN_EINVAL;
        }
        if (push(t, &tok) != SN_OK) {
            fclose(f);
            sn_tokens_free(t);
            return SN_ENOMEM;
        }
    }
    fclose(f);
    *out = t;
    return SN_OK;
}

const struct sn_token *
sn_tokens_find(const struct sn_tokens *t, const char *secret, size_t len)
{
    unsigned char h[32];
    const struct sn_token *found = NULL;

    if (t == NULL || len == 0)
        return NULL;
    sha256(secret, len, h);
    /* Compare against every entry so timing does not reveal which. */
    for (size_t i = 0; i < t->n; i++)
        if (CRYPTO_memcmp(h, t->items[i].hash, 32) == 0)
            found = &t->items[i];
    return found;
}

static enum sn_status
write_all(const char *path, const struct sn_tokens *t, struct sn_error *err)
{
    char tmp[4096];
    FILE *f;
    int fd;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        sn_error_set(err, "%s: path too long", path);
        return SN_EINVAL;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        sn_error_set(err, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SN_EIO;
    }
    /* `sentineld token create` run as root must leave a file the
     * daemon (owner of the state directory) can read. */
    if (sn_statefile_own(fd, path) != 0) {
        sn_error_set(err, "%s: cannot give it the owner of its directory: %s",
                     tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return SN_EIO;
    }
    fprintf(f, "# sentineld API tokens: name role sha256(token)\n");
    for (size_t i = 0; i < t->n; i++) {
        char h[65];
        hex(t->items[i].hash, 32, h);
        fprintf(f, "%s %s %s\n", t->items[i].name, t->items[i].role, h);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        sn_error_set(err, "%s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return SN_EIO;
    }
    fclose(f);
    /* rename: the server never reads a half-written file. */
    if (rename(tmp, path) != 0) {
        sn_error_set(err, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return SN_EIO;
    }
    return SN_OK;
}

enum sn_status
sn_tokens_create(const char *path, const char *name, const char *role,
                 char secret_out[72], struct sn_error *err)
{
    struct sn_tokens *t;
    struct sn_token tok;
    unsigned char raw[32];
    enum sn_status rc;

    if (!valid_name(name)) {
        sn_error_set(err, "token name '%s': use 1-63 of A-Z a-z 0-9 - _ . @",
                     name);
        return SN_EINVAL;
    }
    if (!valid_role(role)) {
        sn_error_set(err, "role '%s': expected viewer, operator or admin",
                     role);
        return SN_EINVAL;
    }
    rc = sn_tokens_load(path, &t, err);
    if (rc != SN_OK)
        return rc;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].name, name) == 0) {
            sn_error_set(err, "a token named '%s' exists; revoke it first",
                         name);
            sn_tokens_free(t);
            return SN_EINVAL;
        }
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        sn_error_set(err, "no randomness for a token");
        sn_tokens_free(t);
        return SN_EIO;
    }
    memcpy(secret_out, "snt_", 4);
    hex(raw, sizeof(raw), secret_out + 4);
    memset(&tok, 0, sizeof(tok));
    strcpy(tok.name, name);
    strcpy(tok.role, role);
    sha256(secret_out, strlen(secret_out), tok.hash);
    rc = push(t, &tok);
    if (rc == SN_OK)
        rc = write_all(path, t, err);
    sn_tokens_free(t);
    return rc;
}

enum sn_status
sn_tokens_revoke(const char *path, const char *name, struct sn_error *err)
{
    struct sn_tokens *t;
    size_t j = 0;
    enum sn_status rc = sn_tokens_load(path, &t, err);

    if (rc != SN_OK)
        return rc;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].name, name) != 0)
            t->items[j++] = t->items[i];
    if (j == t->n) {
        sn_error_set(err, "no token named '%s'", name);
        sn_tokens_free(t);
        return SN_DECLINED;
    }
    t->n = j;
    rc = write_all(path, t, err);
    sn_tokens_free(t);
    return rc;
}
