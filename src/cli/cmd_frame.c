/*
 * `sentineld frame`: split the byte stream read from stdin into syslog
 * messages with the RFC 6587 framer the TCP/TLS input uses, and print one
 * JSON object per line for each message and each framing error. The
 * framing itself lives in src/syslog/framer.c; this file only reads,
 * prints and maps options. tests/data/frame/ holds its expected outputs.
 */
#include "cli/cli.h"
#include "cli/common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/status.h"
#include "syslog/framer.h"

/* Exit statuses, as cli.h defines them. */
#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

/* Bytes per read(2): the framer copes with any split, so this is only
 * about system-call overhead. */
#define READ_CHUNK (64 * 1024)

/* Output is written in blocks of about this many bytes. */
#define OUT_FLUSH (64 * 1024)

struct printer {
    struct sn_buf out;
    enum sn_status rc; /* first output error */
};

static void
usage(FILE *f)
{
    fputs("usage: sentineld frame [--framing octet-counting|non-transparent|"
          "auto] [--json]\n"
          "                       [--max-msg N] [--oversize truncate|reject]\n"
          "                       [--on-error resync|close] [--max-frame N]\n"
          "                       [--strip-cr] [--nul-delim]\n"
          "Split the byte stream on stdin into syslog messages (RFC 6587\n"
          "octet counting, non-transparent LF framing, or per-frame auto\n"
          "detection as rsyslog does; default auto) and print one JSON\n"
          "object per line: {\"frame\": \"...\"} ({\"frame_b64\": \"...\"}\n"
          "when not UTF-8), with \"truncated\": true when cut at --max-msg\n"
          "(default 65536), and {\"error\": \"...\", \"offset\": N} for each\n"
          "framing error. Framing errors are output, not failure: exit 0.\n",
          f);
}

static int
usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "sentineld frame: %s '%s'\n", what, arg);
    usage(stderr);
    return EXIT_USAGE;
}

/* A decimal size in [1, max]. */
static bool
parse_size(const char *s, size_t max, size_t *out)
{
    size_t v = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (max - (size_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv, struct sn_framer_opts *o)
{
    sn_framer_opts_default(o);
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0)
            continue; /* the only output format; accepted for clarity */
        if (strcmp(argv[i], "--strip-cr") == 0) {
            o->strip_cr = true;
            continue;
        }
        if (strcmp(argv[i], "--nul-delim") == 0) {
            o->nul_delim = true;
            continue;
        }
        if ((v = sn_cli_opt_value(argc, argv, &i, "--framing", &missing)) != NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (strcmp(v, "auto") == 0)
                o->mode = SN_FRAMING_AUTO;
            else if (strcmp(v, "octet-counting") == 0 ||
                     strcmp(v, "octet") == 0)
                o->mode = SN_FRAMING_OCTET;
            else if (strcmp(v, "non-transparent") == 0 || strcmp(v, "lf") == 0)
                o->mode = SN_FRAMING_LF;
            else
                return usage_error("unknown framing", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--max-msg", &missing)) !=
                   NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (!parse_size(v, SN_RECORD_MAX, &o->max_msg))
                return usage_error("bad --max-msg (want 1..16777216)", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--max-frame", &missing)) !=
                   NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (!parse_size(v, SN_FRAMER_MAX_FRAME_LIMIT, &o->max_frame))
                return usage_error("bad --max-frame (want 1..1073741824)", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--oversize", &missing)) !=
                   NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (strcmp(v, "truncate") == 0)
                o->oversize = SN_OVERSIZE_TRUNCATE;
            else if (strcmp(v, "reject") == 0)
                o->oversize = SN_OVERSIZE_REJECT;
            else
                return usage_error("unknown --oversize policy", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--on-error", &missing)) !=
                   NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (strcmp(v, "resync") == 0)
                o->on_error = SN_ON_ERROR_RESYNC;
            else if (strcmp(v, "close") == 0)
                o->on_error = SN_ON_ERROR_CLOSE;
            else
                return usage_error("unknown --on-error policy", v);
        } else {
            return usage_error("unknown argument", argv[i]);
        }
    }
    if (o->max_frame != 0 && o->max_frame < o->max_msg) {
        fprintf(stderr, "sentineld frame: --max-frame must be at least "
                        "--max-msg\n");
        return EXIT_USAGE;
    }
    return -1;
}

/* RFC 4648 section 4 base64, padded. */
static enum sn_status
base64(struct sn_buf *b, const unsigned char *p, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789+/";
    enum sn_status rc;
    char *o;

    if ((rc = sn_buf_reserve(b, (len + 2) / 3 * 4)) != SN_OK)
        return rc;
    o = b->data + b->len;
    for (; len >= 3; p += 3, len -= 3) {
        *o++ = abc[p[0] >> 2];
        *o++ = abc[(p[0] & 3) << 4 | p[1] >> 4];
        *o++ = abc[(p[1] & 15) << 2 | p[2] >> 6];
        *o++ = abc[p[2] & 63];
    }
    if (len > 0) {
        *o++ = abc[p[0] >> 2];
        if (len == 1) {
            *o++ = abc[(p[0] & 3) << 4];
            *o++ = '=';
        } else {
            *o++ = abc[(p[0] & 3) << 4 | p[1] >> 4];
            *o++ = abc[(p[1] & 15) << 2];
        }
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    return SN_OK;
}

static enum sn_status
flush_out(struct printer *pr, bool force)
{
    if (pr->out.len == 0 || (!force && pr->out.len < OUT_FLUSH))
        return SN_OK;
    if (fwrite(pr->out.data, 1, pr->out.len, stdout) != pr->out.len)
        return SN_EIO;
    sn_buf_reset(&pr->out);
    return SN_OK;
}

static void
on_frame(void *ctx, const char *ptr, size_t len, bool truncated)
{
    struct printer *pr = ctx;
    struct sn_buf *b = &pr->out;
    enum sn_status rc;

    if (pr->rc != SN_OK)
        return;
    if (sn_utf8_valid(ptr, len)) {
        rc = sn_buf_puts(b, "{\"frame\": ");
        if (rc == SN_OK)
            rc = sn_json_str(b, ptr, len);
    } else {
        rc = sn_buf_puts(b, "{\"frame_b64\": \"");
        if (rc == SN_OK)
            rc = base64(b, (const unsigned char *)ptr, len);
        if (rc == SN_OK)
            rc = sn_buf_putc(b, '"');
    }
    if (rc == SN_OK && truncated)
        rc = sn_buf_puts(b, ", \"truncated\": true");
    if (rc == SN_OK)
        rc = sn_buf_puts(b, "}\n");
    if (rc == SN_OK)
        rc = flush_out(pr, false);
    pr->rc = rc;
}

static void
on_error(void *ctx, const char *reason, uint64_t offset)
{
    struct printer *pr = ctx;
    struct sn_buf *b = &pr->out;
    enum sn_status rc;

    if (pr->rc != SN_OK)
        return;
    rc = sn_buf_puts(b, "{\"error\": ");
    if (rc == SN_OK)
        rc = sn_json_str(b, reason, strlen(reason));
    if (rc == SN_OK)
        rc = sn_buf_puts(b, ", \"offset\": ");
    if (rc == SN_OK)
        rc = sn_json_int(b, (int64_t)offset);
    if (rc == SN_OK)
        rc = sn_buf_puts(b, "}\n");
    if (rc == SN_OK)
        rc = flush_out(pr, false);
    pr->rc = rc;
}

/* Frame all of fd. Returns SN_OK, SN_EIO (errno set) on read errors, or
 * SN_ENOMEM; a stream closed on a framing error is SN_OK. */
static enum sn_status
frame_fd(int fd, struct sn_framer *f, struct printer *pr, char *chunk)
{
    static const struct sn_framer_cb cb = { on_frame, on_error };
    enum sn_status rc = SN_OK;

    for (;;) {
        ssize_t n;

        do
            n = read(fd, chunk, READ_CHUNK);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return SN_EIO;
        if (n == 0)
            break;
        rc = sn_framer_feed(f, chunk, (size_t)n, &cb, pr);
        if (rc != SN_OK || pr->rc != SN_OK)
            break; /* SN_EPEER: --on-error close; the rest is ignored */
    }
    if (rc == SN_ENOMEM || pr->rc != SN_OK)
        return rc == SN_ENOMEM ? rc : pr->rc;
    rc = sn_framer_finish(f, &cb, pr);
    if (rc == SN_ENOMEM)
        return rc;
    return pr->rc;
}

int
sn_cmd_frame(int argc, char **argv)
{
    struct sn_framer_opts o;
    struct sn_framer f;
    struct printer pr;
    char *chunk;
    enum sn_status rc;
    int status;

    if ((status = parse_args(argc, argv, &o)) >= 0)
        return status;
    if (sn_framer_init(&f, &o) != SN_OK) {
        fprintf(stderr, "sentineld frame: invalid framing options\n");
        return EXIT_USAGE;
    }
    chunk = malloc(READ_CHUNK);
    if (chunk == NULL) {
        fprintf(stderr, "sentineld frame: out of memory\n");
        return EXIT_FAILED;
    }
    sn_buf_init(&pr.out, SN_CLI_FRAME_OUT_MAX);
    pr.rc = SN_OK;
    rc = frame_fd(STDIN_FILENO, &f, &pr, chunk);
    /* What was framed before a read error is still printed. */
    if (pr.rc == SN_OK &&
        (flush_out(&pr, true) != SN_OK || fflush(stdout) != 0))
        pr.rc = SN_EIO;
    if (pr.rc != SN_OK)
        rc = pr.rc;
    if (pr.rc != SN_OK)
        fprintf(stderr, "sentineld frame: writing stdout: %s\n",
                strerror(errno));
    else if (rc == SN_EIO)
        fprintf(stderr, "sentineld frame: reading stdin: %s\n",
                strerror(errno));
    else if (rc != SN_OK)
        fprintf(stderr, "sentineld frame: %s\n", sn_status_str(rc));
    sn_buf_fini(&pr.out);
    sn_framer_fini(&f);
    free(chunk);
    return rc == SN_OK ? EXIT_OK : EXIT_FAILED;
}
