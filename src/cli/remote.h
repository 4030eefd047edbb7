/*
 * Reading incidents through a running daemon's HTTP API (`--url URL` or
 * `--api` on the read-only incident commands): for a deployment whose
 * incidents live in a store the CLI cannot open, such as the PostgreSQL
 * several detector instances share (the core does not link libpq; the
 * daemon's report source does). One blocking GET over HTTP/1.0, in TLS
 * (OpenSSL, the certificate verified) for https://. docs/reports.md
 * "Post-incident review".
 */
#ifndef SN_CLI_REMOTE_H
#define SN_CLI_REMOTE_H

#include <stdbool.h>

#include "core/buf.h"

struct sn_cli_remote {
    char host[256], port[16];
    char prefix[256];   /* path before /api/v1 ("" normally) */
    char url[600];      /* http://host:port[prefix], for messages */
    char token[256];    /* "" when none was given */
    bool tls;           /* https:// */
    const char *cacert; /* PEM CAs to trust; NULL: the system's */
};

/*
 * The daemon to ask: url ("http[s]://host:port"), or when url is NULL
 * the config's http.listen (config NULL: the default config; HTTPS when
 * it sets http.tls_cert). The token: token_file's first line, else
 * $SENTINELD_TOKEN, else none. cacert: a PEM file of the CAs that sign
 * the daemon's certificate (borrowed; NULL: the system's). Returns 0, or
 * prints why not to stderr and returns 2 (usage) or 1.
 */
int sn_cli_remote_open(struct sn_cli_remote *r, const char *url,
                       const char *config, const char *token_file,
                       const char *cacert);

/*
 * GET r->prefix + path (path starts with "/api/v1/", already encoded).
 * Returns 0 with the body of a 200 in *body (appended); otherwise prints
 * to stderr what went wrong, naming the URL (unreachable, 401/403 and
 * how to present a token, the daemon's message for 404 and the rest),
 * and returns 1. Waits at most SN_CLI_REMOTE_TIMEOUT_S for the answer.
 */
int sn_cli_remote_get(const struct sn_cli_remote *r, const char *path,
                      struct sn_buf *body);

#endif
