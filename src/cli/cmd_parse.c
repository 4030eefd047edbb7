/*
 * `sentineld parse`: read one message from stdin (every byte, as is),
 * parse it as RFC 5424, RFC 3164, or whichever sn_syslog_detect() says,
 * and print it as one JSON object in the event schema (docs/events.md).
 * The parsing itself lives in src/syslog/; this file only reads, picks
 * the parser and prints. tests/data/parse/ holds its expected outputs.
 */
#include "cli/cli.h"
#include "cli/common.h"

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

/* Nesting depth for JSON input: the schema has three levels (sd). */
#define JSON_MAX_DEPTH 8

enum mode {
    MODE_AUTO = 0,
    MODE_RFC5424,
    MODE_RFC3164,
};

struct args {
    enum mode mode;
    struct sn_rfc3164_opts opts;
};

/* What a parse produced besides the message: the format used and a note
 * that needs more than a static string. */
struct result {
    enum sn_syslog_format format;
    bool fell_back;                      /* RFC 5424 rejected, then 3164 */
    struct sn_parse_error rejected_5424; /* why, when fell_back */
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
    a->mode = MODE_AUTO;
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
                a->mode = MODE_AUTO;
            else if (strcmp(v, "rfc5424") == 0)
                a->mode = MODE_RFC5424;
            else if (strcmp(v, "rfc3164") == 0)
                a->mode = MODE_RFC3164;
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
set_error(struct sn_parse_error *err, const char *reason, size_t offset)
{
    snprintf(err->reason, sizeof(err->reason), "%s", reason);
    err->offset = offset;
    return SN_EINVAL;
}

/* A string-or-null member of o into *s (arena copy). */
static enum sn_status
json_string_member(json_object *o, const char *key, struct sn_arena *arena,
                   struct sn_str *s, struct sn_parse_error *err)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return SN_OK;
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(err->reason, sizeof(err->reason),
                 "\"%s\" must be a string or null", key);
        err->offset = 0;
        return SN_EINVAL;
    }
    s->len = (size_t)json_object_get_string_len(v);
    s->ptr = sn_arena_memdup(arena, json_object_get_string(v), s->len);
    return s->ptr != NULL ? SN_OK : SN_ENOMEM;
}

/* An integer-or-null member of o in [min, max] into *out. */
static enum sn_status
json_int_member(json_object *o, const char *key, int64_t min, int64_t max,
                bool *present, int64_t *out, struct sn_parse_error *err)
{
    json_object *v;

    *present = false;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return SN_OK;
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < min || json_object_get_int64(v) > max) {
        snprintf(err->reason, sizeof(err->reason),
                 "\"%s\" must be an integer %lld..%lld or null", key,
                 (long long)min, (long long)max);
        err->offset = 0;
        return SN_EINVAL;
    }
    *present = true;
    *out = json_object_get_int64(v);
    return SN_OK;
}

static enum sn_status
sd_param(struct sn_syslog_msg *m, struct sn_arena *arena, const char *id,
         const char *name, json_object *v, struct sn_parse_error *err)
{
    struct sn_sd_param *sp = &m->sd[m->n_sd];

    if (name != NULL && !json_object_is_type(v, json_type_string))
        return set_error(err, "\"sd\" values must be strings", 0);
    sp->id.len = strlen(id);
    sp->id.ptr = sn_arena_memdup(arena, id, sp->id.len);
    sp->name.ptr = NULL;
    sp->name.len = 0;
    sp->value = sp->name;
    if (name != NULL) {
        sp->name.len = strlen(name);
        sp->name.ptr = sn_arena_memdup(arena, name, sp->name.len);
        sp->value.len = (size_t)json_object_get_string_len(v);
        sp->value.ptr =
            sn_arena_memdup(arena, json_object_get_string(v), sp->value.len);
        if (sp->name.ptr == NULL || sp->value.ptr == NULL)
            return SN_ENOMEM;
    }
    if (sp->id.ptr == NULL)
        return SN_ENOMEM;
    m->n_sd++;
    return SN_OK;
}

/* "sd": {"id": {"name": "v", "rep": ["a", "b"]}, ...}, as msg.h prints
 * it; an element without params is {}. */
static enum sn_status
json_sd(json_object *o, struct sn_arena *arena, struct sn_syslog_msg *m,
        struct sn_parse_error *err)
{
    json_object *sd;
    size_t n = 0;
    enum sn_status rc = SN_OK;

    if (!json_object_object_get_ex(o, "sd", &sd) || sd == NULL)
        return SN_OK;
    if (!json_object_is_type(sd, json_type_object))
        return set_error(err, "\"sd\" must be an object or null", 0);
    json_object_object_foreach(sd, id, params)
    {
        (void)id;
        if (!json_object_is_type(params, json_type_object))
            return set_error(err, "\"sd\" elements must be objects", 0);
        n++;
        json_object_object_foreach(params, name, v)
        {
            (void)name;
            if (json_object_is_type(v, json_type_array))
                n += json_object_array_length(v);
            else
                n++;
        }
    }
    if (n > SN_EVENT_MAX_SD_PARAMS)
        return set_error(err, "\"sd\" has too many params", 0);
    m->has_sd = true;
    m->sd = sn_arena_alloc(arena, (n ? n : 1) * sizeof(*m->sd));
    if (m->sd == NULL)
        return SN_ENOMEM;
    json_object_object_foreach(sd, id2, params2)
    {
        size_t before = m->n_sd;

        json_object_object_foreach(params2, name, v)
        {
            if (!json_object_is_type(v, json_type_array)) {
                rc = sd_param(m, arena, id2, name, v, err);
            } else {
                for (size_t k = 0;
                     rc == SN_OK && k < json_object_array_length(v); k++)
                    rc = sd_param(m, arena, id2, name,
                                  json_object_array_get_idx(v, k), err);
            }
            if (rc != SN_OK)
                return rc;
        }
        if (m->n_sd == before &&
            (rc = sd_param(m, arena, id2, NULL, NULL, err)) != SN_OK)
            return rc;
    }
    return SN_OK;
}

/*
 * A JSON object with the schema's keys (pri, version, timestamp,
 * timestamp_utc_ns, hostname, appname, procid, msgid, sd, msg); missing
 * keys are absent fields, other keys are ignored.
 */
static enum sn_status
parse_json(const char *p, size_t len, struct sn_arena *arena,
           struct sn_syslog_msg *m, struct sn_parse_error *err)
{
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    json_object *o;
    enum json_tokener_error jerr;
    enum sn_status rc = SN_OK;
    int64_t v;
    bool present;
    size_t end;

    sn_syslog_msg_init(m);
    if (tok == NULL)
        return SN_ENOMEM;
    o = json_tokener_parse_ex(tok, p, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue)
        rc = set_error(err, "truncated JSON", len);
    else if (jerr != json_tokener_success)
        rc = set_error(err, json_tokener_error_desc(jerr), end);
    json_tokener_free(tok);
    if (rc != SN_OK)
        goto out;
    while (end < len && (p[end] == ' ' || p[end] == '\t' || p[end] == '\r' ||
                         p[end] == '\n'))
        end++;
    if (end < len) {
        rc = set_error(err, "data after the JSON object", end);
        goto out;
    }
    if (!json_object_is_type(o, json_type_object)) {
        rc = set_error(err, "not a JSON object", 0);
        goto out;
    }
    if ((rc = json_int_member(o, "pri", 0, 191, &present, &v, err)) != SN_OK)
        goto out;
    if (present)
        m->pri = (int)v;
    /* RFC 5424 6.2.2: VERSION is 1 to 3 digits. */
    if ((rc = json_int_member(o, "version", 0, 999, &present, &v, err)) !=
        SN_OK)
        goto out;
    if (present)
        m->version = (int)v;
    if ((rc = json_string_member(o, "timestamp", arena, &m->timestamp, err)) !=
            SN_OK ||
        (rc = json_string_member(o, "hostname", arena, &m->hostname, err)) !=
            SN_OK ||
        (rc = json_string_member(o, "appname", arena, &m->appname, err)) !=
            SN_OK ||
        (rc = json_string_member(o, "procid", arena, &m->procid, err)) !=
            SN_OK ||
        (rc = json_string_member(o, "msgid", arena, &m->msgid, err)) != SN_OK ||
        (rc = json_string_member(o, "msg", arena, &m->msg, err)) != SN_OK ||
        (rc = json_sd(o, arena, m, err)) != SN_OK)
        goto out;
    if ((rc = json_int_member(o, "timestamp_utc_ns", INT64_MIN, INT64_MAX,
                              &present, &v, err)) != SN_OK)
        goto out;
    if (present) {
        m->has_time = true;
        m->time_ns = v;
    } else if (m->timestamp.ptr != NULL) {
        size_t used = 0;
        unsigned flags = 0;

        if (sn_rfc3339_parse_lenient(m->timestamp.ptr, m->timestamp.len, &v,
                                     &used, &flags, NULL) == SN_OK &&
            used == m->timestamp.len && !(flags & SN_TS_NO_OFFSET)) {
            m->has_time = true;
            m->time_ns = v;
        }
    }
out:
    json_object_put(o);
    return rc;
}

static enum sn_status
parse(const struct args *a, const char *p, size_t len, struct sn_arena *arena,
      struct sn_syslog_msg *m, struct result *res, struct sn_parse_error *err)
{
    enum sn_status rc;

    res->fell_back = false;
    switch (a->mode) {
    case MODE_RFC5424:
        res->format = SN_FMT_RFC5424;
        return sn_rfc5424_parse(p, len, arena, m, err);
    case MODE_RFC3164:
        res->format = SN_FMT_RFC3164;
        return sn_rfc3164_parse(p, len, &a->opts, arena, m, err);
    case MODE_AUTO:
        break;
    }
    res->format = sn_syslog_detect(p, len);
    if (res->format == SN_FMT_JSON)
        return parse_json(p, len, arena, m, err);
    if (res->format == SN_FMT_RFC5424) {
        rc = sn_rfc5424_parse(p, len, arena, m, &res->rejected_5424);
        if (rc != SN_EINVAL)
            return rc;
        /* rsyslog's parser chain does the same: pmrfc5424 declines,
         * pmrfc3164 takes the message. */
        res->fell_back = true;
        res->format = SN_FMT_RFC3164;
    }
    return sn_rfc3164_parse(p, len, &a->opts, arena, m, err);
}

static enum sn_status
print_msg(struct sn_buf *out, const struct sn_syslog_msg *m,
          const struct result *res)
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
    struct result res;
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
        rc = parse(&a, in.len ? in.data : "", in.len, &arena, &m, &res, &err);
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
