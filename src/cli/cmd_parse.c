/*
 * `sentineld parse`: read one message from stdin (every byte, as is),
 * parse it as RFC 5424, RFC 3164, or whichever sn_syslog_detect() says,
 * and print it as one JSON object in the event schema (docs/events.md).
 * The parsing itself lives in src/syslog/; this file only reads, picks
 * the parser and prints. tests/data/parse/ holds its expected outputs.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/parse_input.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/status.h"
#include "syslog/detect.h"
#include "syslog/msg.h"
#include "syslog/rfc3164.h"
#include "syslog/rfc5424.h"
#include "syslog/timestamp.h"

/* Exit statuses, as cli.h defines them. */
#define EXIT_PARSED   0
#define EXIT_REJECTED 1
#define EXIT_USAGE    2

struct args {
    enum sn_cli_format mode;
    struct sn_rfc3164_opts opts;
};

static void
usage(FILE *f)
{
    fputs("usage: sentineld parse [--format rfc5424|rfc3164|auto] [--json]\n"
          "                       [--tz +hh:mm] [--now YYYY-MM-DDThh:mm:ssZ]\n"
          "Parse one syslog message read from stdin (all bytes, nothing\n"
          "stripped) and print it as a JSON object. --tz is the zone of\n"
          "RFC 3164 timestamps that name none (default UTC); --now pins the\n"
          "time their year is inferred from (default: the current time).\n",
          f);
}

static int
usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "sentineld parse: %s '%s'\n", what, arg);
    usage(stderr);
    return EXIT_USAGE;
}

/* "Z", "UTC", "+hh:mm", "-hh:mm", "+hhmm" or "+hh" to seconds east. */
static bool
parse_tz(const char *s, int32_t *off)
{
    int sign, hh, mm = 0;
    size_t n = strlen(s);

    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        *off = 0;
        return true;
    }
    if (n < 3 || (s[0] != '+' && s[0] != '-'))
        return false;
    sign = s[0] == '-' ? -1 : 1;
    for (size_t i = 1; i < n; i++)
        if (s[i] != ':' && (s[i] < '0' || s[i] > '9'))
            return false;
    hh = (s[1] - '0') * 10 + (s[2] - '0');
    if (n == 6 && s[3] == ':')
        mm = (s[4] - '0') * 10 + (s[5] - '0');
    else if (n == 5 && s[3] != ':' && s[4] != ':')
        mm = (s[3] - '0') * 10 + (s[4] - '0');
    else if (n != 3)
        return false;
    if (hh > 23 || mm > 59)
        return false;
    *off = sign * (hh * 3600 + mm * 60);
    return true;
}

static bool
parse_now(const char *s, int64_t *ns)
{
    size_t used = 0;

    return sn_rfc3339_parse(s, strlen(s), ns, &used, NULL) == SN_OK &&
           used == strlen(s);
}

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv, struct args *a)
{
    a->mode = SN_CLI_FMT_AUTO;
    a->opts.now_ns = sn_clock_wall_ns();
    a->opts.tz_offset_sec = 0;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXIT_PARSED;
        }
        if (strcmp(argv[i], "--json") == 0)
            continue; /* the only output format; accepted for clarity */
        if ((v = sn_cli_opt_value(argc, argv, &i, "--format", &missing)) != NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (strcmp(v, "auto") == 0)
                a->mode = SN_CLI_FMT_AUTO;
            else if (strcmp(v, "rfc5424") == 0)
                a->mode = SN_CLI_FMT_RFC5424;
            else if (strcmp(v, "rfc3164") == 0)
                a->mode = SN_CLI_FMT_RFC3164;
            else
                return usage_error("unknown format", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--tz", &missing)) != NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (!parse_tz(v, &a->opts.tz_offset_sec))
                return usage_error("bad --tz (want +hh:mm)", v);
        } else if ((v = sn_cli_opt_value(argc, argv, &i, "--now", &missing)) != NULL) {
            if (missing)
                return usage_error("missing value for", v);
            if (!parse_now(v, &a->opts.now_ns))
                return usage_error("bad --now (want RFC 3339)", v);
        } else {
            return usage_error("unknown argument", argv[i]);
        }
    }
    return -1;
}

/* All of fd into b; SN_ELIMIT when there is more than b's maximum,
 * SN_EIO (errno set) on read errors. */
static enum sn_status
read_all(int fd, struct sn_buf *b)
{
    for (;;) {
        size_t want = b->max - b->len;
        enum sn_status rc;
        ssize_t n;
        char extra;

        if (want > 65536)
            want = 65536;
        if (want == 0) {
            /* Full: only one more byte makes the input too long. */
            do
                n = read(fd, &extra, 1);
            while (n < 0 && errno == EINTR);
            return n == 0 ? SN_OK : n < 0 ? SN_EIO : SN_ELIMIT;
        }
        if ((rc = sn_buf_reserve(b, want)) != SN_OK)
            return rc;
        do
            n = read(fd, b->data + b->len, want);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return SN_EIO;
        if (n == 0)
            return SN_OK;
        b->len += (size_t)n;
    }
}

static enum sn_status
print_msg(struct sn_buf *out, const struct sn_syslog_msg *m,
          const struct sn_cli_parsed *res)
{
    enum sn_status rc;
    bool first = true;

    rc = sn_buf_putc(out, '{');
    if (rc == SN_OK)
        rc = sn_syslog_msg_json(m, out);
    if (rc == SN_OK)
        rc = sn_buf_putc(out, ',');
    if (rc == SN_OK)
        rc = sn_json_key(out, "format");
    if (rc == SN_OK) {
        const char *name = sn_syslog_format_name(res->format);

        rc = sn_json_str(out, name, strlen(name));
    }
    if (rc == SN_OK)
        rc = sn_buf_putc(out, ',');
    if (rc == SN_OK)
        rc = sn_json_key(out, "notes");
    if (rc == SN_OK)
        rc = sn_buf_putc(out, '[');
    if (rc == SN_OK && res->fell_back) {
        char note[sizeof(res->rejected_5424.reason) + 32];

        snprintf(note, sizeof(note), "rfc5424 rejected: %s",
                 res->rejected_5424.reason);
        rc = sn_json_str(out, note, strlen(note));
        first = false;
    }
    for (size_t i = 0; rc == SN_OK && i < m->n_notes; i++) {
        if (!first)
            rc = sn_buf_putc(out, ',');
        first = false;
        if (rc == SN_OK)
            rc = sn_json_str(out, m->notes[i], strlen(m->notes[i]));
    }
    if (rc == SN_OK)
        rc = sn_buf_puts(out, "]}\n");
    return rc;
}

static enum sn_status
print_error(struct sn_buf *out, const struct sn_parse_error *err)
{
    enum sn_status rc = sn_buf_puts(out, "{\"error\":");

    if (rc == SN_OK)
        rc = sn_json_str(out, err->reason, strlen(err->reason));
    if (rc == SN_OK)
        rc = sn_buf_printf(out, ",\"offset\":%zu}\n", err->offset);
    return rc;
}

static int
write_all(const struct sn_buf *b)
{
    if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
        fprintf(stderr, "sentineld parse: stdout: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    return -1;
}

int
sn_cmd_parse(int argc, char **argv)
{
    struct args a;
    struct sn_buf in, out;
    struct sn_arena arena;
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    struct sn_cli_parsed res;
    enum sn_status rc;
    int status;

    if ((status = parse_args(argc, argv, &a)) >= 0)
        return status;
    sn_buf_init(&in, SN_RECORD_MAX);
    /* Output: a message escapes to at most 6 bytes per input byte, plus
     * the keys around it. */
    sn_buf_init(&out, (size_t)SN_RECORD_MAX * 6 + 65536);
    sn_arena_init(&arena, 64 * 1024, 0);
    memset(&err, 0, sizeof(err));

    rc = read_all(STDIN_FILENO, &in);
    if (rc == SN_ELIMIT) {
        snprintf(err.reason, sizeof(err.reason), "message longer than %d bytes",
                 SN_RECORD_MAX);
        err.offset = SN_RECORD_MAX;
        rc = SN_EINVAL;
    } else if (rc != SN_OK) {
        fprintf(stderr, "sentineld parse: reading stdin: %s\n",
                rc == SN_EIO ? strerror(errno) : sn_status_str(rc));
        status = EXIT_USAGE;
        goto done;
    } else {
        rc = sn_cli_parse_message(a.mode, &a.opts, NULL,
                                  in.len ? in.data : "", in.len, &arena, &m,
                                  &res, &err);
    }
    if (rc == SN_OK) {
        rc = print_msg(&out, &m, &res);
        status = EXIT_PARSED;
    } else if (rc == SN_EINVAL) {
        rc = print_error(&out, &err);
        status = EXIT_REJECTED;
    } else {
        fprintf(stderr, "sentineld parse: %s\n", sn_status_str(rc));
        status = EXIT_USAGE;
        goto done;
    }
    if (rc != SN_OK) {
        fprintf(stderr, "sentineld parse: output: %s\n", sn_status_str(rc));
        status = EXIT_USAGE;
    } else {
        int w = write_all(&out);

        if (w >= 0)
            status = w;
    }
done:
    sn_arena_fini(&arena);
    sn_buf_fini(&in);
    sn_buf_fini(&out);
    return status;
}
