/*
 * `sentineld incidents list|show` (read-only) and `sentineld incident
 * ACTION ID --reason TEXT` (through sn_incidents_change, so a terminal
 * user changes incidents by the same rules as the HTTP API). Who acts is
 * verified, never typed (cli/identity.h): the token given with
 * --token-file or $SENTINELD_TOKEN, else the OS user (local:<user>).
 * Readable text for a terminal, or the API's JSON with --json. The
 * read-only commands read through a running daemon's API with --url URL
 * or --api (cli/remote.h), so they also see incidents another instance
 * opened when the daemon's report source is a shared store.
 */
#include <event2/http.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "config/config.h"
#include "core/buf.h"
#include "cli/identity.h"
#include "cli/remote.h"
#include "core/limits.h"
#include "incident/incidents.h"
#include "incident/review.h"

struct opts {
    const char *config, *store, *status, *severity, *rule, *by, *reason;
    const char *token_file, *format, *url, *cacert;
    const char *source; /* list: local|configured (through the daemon) */
    const char *cursor; /* list: a page's next_cursor */
    char tokens[4096]; /* the tokens file a --token-file is checked in */
    const char *owner, *id;
    unsigned limit;
    bool json;
    bool api; /* --api: the daemon at the config's http.listen */
    bool four_eyes;
};

static void
usage_incidents(FILE *out)
{
    fprintf(out,
            "usage: sentineld incidents list [--status S] [--severity S] "
            "[--rule ID] [--limit N] [--cursor C]\n"
            "         [--json] [READ]  --cursor C: the page after one that "
            "ended in\n"
            "         'next page: --cursor C' (--json: its next_cursor)\n"
            "         [--source configured]  with READ: every instance's "
            "incidents, from\n"
            "         the daemon's report source (default local: its own "
            "store)\n"
            "       sentineld incidents show ID [--json] [READ]\n"
            "       sentineld incident ACTION ID --reason TEXT [--owner NAME] "
            "[--token-file FILE]\n"
            "  the actor: the API token in FILE or $SENTINELD_TOKEN, else "
            "local:<your user>\n"
            "  ACTION: ack|acknowledge|assign|comment|resolve|reopen|"
            "suppress|approve|reject\n"
            "       sentineld incident report ID [--format md|json] [READ]\n"
            "  the post-incident review (docs/reports.md) on stdout\n"
            "  the store: --store PATH, or -c CONFIG (default %s)\n"
            "  READ: --url http[s]://HOST:PORT reads through that daemon's "
            "API instead\n"
            "    (--cacert PEM: the CAs of its certificate; default the "
            "system's),\n"
            "    --api through the one at the config's http.listen; it "
            "answers from its\n"
            "    report source (e.g. the PostgreSQL several instances "
            "share); the token:\n"
            "    --token-file FILE or $SENTINELD_TOKEN (role viewer)\n",
            sn_cli_default_config());
}

/* Parse argv from index 2; positional argument goes to o->id. */
static int
parse(int argc, char **argv, int from, struct opts *o)
{
    for (int i = from; i < argc; i++) {
        bool missing = false;
        const char *v;
#define OPT(name, field)                                                       \
    if ((v = sn_cli_opt_value(argc, argv, &i, name, &missing)) != NULL) {      \
        if (missing) {                                                         \
            fprintf(stderr, "sentineld: %s needs a value\n", name);            \
            return 2;                                                          \
        }                                                                      \
        o->field = v;                                                          \
        continue;                                                              \
    }
        OPT("-c", config)
        OPT("--config", config)
        OPT("--store", store)
        OPT("--status", status)
        OPT("--severity", severity)
        OPT("--rule", rule)
        OPT("--by", by)
        OPT("--reason", reason)
        OPT("--owner", owner)
        OPT("--token-file", token_file)
        OPT("--format", format)
        OPT("--url", url)
        OPT("--cacert", cacert)
        OPT("--source", source)
        OPT("--cursor", cursor)
#undef OPT
        if ((v = sn_cli_opt_value(argc, argv, &i, "--limit", &missing))) {
            if (missing || atoi(v) <= 0) {
                fprintf(stderr, "sentineld: --limit needs a positive number\n");
                return 2;
            }
            o->limit = (unsigned)atoi(v);
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(argv[i], "--api") == 0) {
            o->api = true;
            continue;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage_incidents(stdout);
            exit(0);
        }
        if (argv[i][0] == '-' || o->id != NULL) {
            fprintf(stderr, "sentineld: unexpected argument '%s'\n", argv[i]);
            usage_incidents(stderr);
            return 2;
        }
        o->id = argv[i];
    }
    return 0;
}

/* The store path: --store, else the config's incidents.store or
 * <state_dir>/sentineld.db. */
static int
store_path(struct opts *o, char *out, size_t size)
{
    struct sn_diags d;
    struct sn_config *cfg = NULL;
    const char *path = o->config ? o->config : sn_cli_default_config();

    o->four_eyes = true;
    if (o->store != NULL) {
        const char *slash = strrchr(o->store, '/');
        snprintf(out, size, "%s", o->store);
        snprintf(o->tokens, sizeof(o->tokens), "%.*s/tokens",
                 slash ? (int)(slash - o->store) : 1,
                 slash ? o->store : ".");
        return 0;
    }
    sn_diags_init(&d);
    if (sn_config_load(path, &cfg, &d) != SN_OK) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s:%d:%d: %s\n",
                    d.items[i].file ? d.items[i].file : path, d.items[i].line,
                    d.items[i].col, d.items[i].msg);
        fprintf(stderr, "sentineld: cannot read %s (use --store PATH to name "
                        "the incident store)\n",
                path);
        sn_diags_fini(&d);
        return 2;
    }
    sn_diags_fini(&d);
    if (cfg->incidents.store != NULL)
        snprintf(out, size, "%s", cfg->incidents.store);
    else
        snprintf(out, size, "%s/sentineld.db", cfg->daemon.state_dir);
    if (cfg->http.tokens != NULL)
        snprintf(o->tokens, sizeof(o->tokens), "%s", cfg->http.tokens);
    else
        snprintf(o->tokens, sizeof(o->tokens), "%s/tokens",
                 cfg->daemon.state_dir ? cfg->daemon.state_dir : ".");
    o->four_eyes = cfg->incidents.four_eyes;
    sn_config_free(cfg);
    return 0;
}

/* Open the store read-only: 0, or 1 after saying why. */
static int
open_read_only(const char *path, struct sn_incidents **inc)
{
    struct sn_error err;

    sn_error_clear(&err);
    if (sn_incidents_open(path, true, inc, &err) == SN_OK)
        return 0;
    fprintf(stderr, "sentineld: %s\n", err.msg);
    sn_cli_state_hint(path);
    return 1;
}

static const char *
s_of(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return "-";
    if (json_object_is_type(v, json_type_object))
        return json_object_to_json_string_ext(
            v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return json_object_get_string(v);
}

/* "2026-11-23T10:00:01.000000000Z" -> "2026-11-23 10:00:01" */
static const char *
short_time(const char *t, char *buf, size_t size)
{
    snprintf(buf, size, "%.19s", t);
    if (strlen(buf) > 10)
        buf[10] = ' ';
    return buf;
}

static void
print_list(struct json_object *root)
{
    struct json_object *arr, *from, *next;
    char t[32];
    size_t n;

    if (!json_object_object_get_ex(root, "incidents", &arr))
        return;
    if (json_object_object_get_ex(root, "read_from", &from) && from != NULL)
        printf("read from report source '%s': every instance's incidents\n",
               json_object_get_string(from));
    n = json_object_array_length(arr);
    if (n == 0) {
        printf("no incidents\n");
        return;
    }
    printf("%-36s  %-8s  %-12s  %7s  %-19s  %s\n", "ID", "SEVERITY", "STATUS",
           "HITS", "LAST SEEN", "RULE / KEY");
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(arr, i), *p;
        bool pending = json_object_object_get_ex(it, "pending_approval", &p) &&
                       p != NULL;
        printf("%-36s  %-8s  %-12s  %7s  %-19s  %s %s%s\n", s_of(it, "id"),
               s_of(it, "severity"), s_of(it, "status"), s_of(it, "hit_count"),
               short_time(s_of(it, "last_seen"), t, sizeof(t)),
               s_of(it, "rule_id"), s_of(it, "group_key"),
               pending ? "  [approval pending]" : "");
    }
    if (json_object_object_get_ex(root, "next_cursor", &next) && next != NULL)
        printf("next page: --cursor %s\n", json_object_get_string(next));
}

static void
print_show(struct json_object *d)
{
    struct json_object *v, *arr;
    char t[32];

    printf("incident %s (version %s)\n", s_of(d, "id"), s_of(d, "version"));
    printf("  title:      %s\n", s_of(d, "title"));
    printf("  rule:       %s\n", s_of(d, "rule_id"));
    printf("  key:        %s\n", s_of(d, "group_key"));
    printf("  status:     %s\n", s_of(d, "status"));
    printf("  severity:   %s (rule: %s)\n", s_of(d, "severity"),
           s_of(d, "base_severity"));
    if (json_object_object_get_ex(d, "pending_approval", &v) && v != NULL)
        printf("  PENDING:    %s to %s requested by %s: %s\n",
               s_of(v, "action"), s_of(v, "to"), s_of(v, "requested_by"),
               s_of(v, "reason"));
    printf("  owner:      %s\n", s_of(d, "owner"));
    printf("  hits:       %s in %s signals\n", s_of(d, "hit_count"),
           s_of(d, "signal_count"));
    printf("  first seen: %s\n", short_time(s_of(d, "first_seen"), t,
                                            sizeof(t)));
    printf("  last seen:  %s\n", short_time(s_of(d, "last_seen"), t,
                                            sizeof(t)));
    if (json_object_object_get_ex(d, "previous_id", &v) && v != NULL)
        printf("  previous:   %s\n", json_object_get_string(v));
    if (json_object_object_get_ex(d, "evidence", &arr) &&
        json_object_array_length(arr) > 0) {
        printf("\nevidence:\n");
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            struct json_object *e = json_object_array_get_idx(arr, i);
            printf("  %s  %s\n", short_time(s_of(e, "time"), t, sizeof(t)),
                   s_of(e, "summary"));
        }
    }
    if (json_object_object_get_ex(d, "audit", &arr)) {
        printf("\nhistory (who, what, why):\n");
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            struct json_object *e = json_object_array_get_idx(arr, i);
            printf("  v%-4s %s  %-10s %-20s %s\n", s_of(e, "version"),
                   short_time(s_of(e, "at"), t, sizeof(t)), s_of(e, "actor"),
                   s_of(e, "action"), s_of(e, "reason"));
        }
    }
}

static int emit(struct sn_buf *out, bool as_json,
                void (*pretty)(struct json_object *));

/* GET path from the daemon --url or --api names into out: 0, or 2/1
 * after saying why (cli/remote.h). */
static int
remote_get(const struct opts *o, const char *path, struct sn_buf *out)
{
    struct sn_cli_remote r;
    int rc;

    if (o->url != NULL && o->api) {
        fprintf(stderr, "sentineld: give --url or --api, not both\n");
        return 2;
    }
    if (o->store != NULL) {
        fprintf(stderr, "sentineld: --store names a local store, --url and "
                        "--api a daemon to ask: give one\n");
        return 2;
    }
    if ((rc = sn_cli_remote_open(&r, o->url, o->config, o->token_file,
                                 o->cacert)) != 0)
        return rc;
    return sn_cli_remote_get(&r, path, out);
}

/* "&key=value", the value URI-encoded, when value is given. */
static void
query_add(struct sn_buf *b, const char *key, const char *value)
{
    char *enc;

    if (value == NULL || (enc = evhttp_encode_uri(value)) == NULL)
        return;
    sn_buf_printf(b, "%c%s=%s", strchr(sn_buf_cstr(b), '?') ? '&' : '?', key,
                  enc);
    free(enc);
}

/* The API path of incident id, plus tail. */
static enum sn_status
incident_path(struct sn_buf *b, const char *id, const char *tail)
{
    char *enc = evhttp_encode_uri(id);
    enum sn_status rc;

    if (enc == NULL)
        return SN_ENOMEM;
    rc = sn_buf_printf(b, "/api/v1/incidents/%s%s", enc, tail);
    free(enc);
    return rc;
}

/* `incidents list|show` through the daemon. */
static int
incidents_remote(const struct opts *o, bool list, struct sn_buf *out)
{
    struct sn_buf path;
    char n[16];
    int rc;

    sn_buf_init(&path, 8192);
    if (list) {
        SN_BUF_LIT(&path, "/api/v1/incidents");
        query_add(&path, "status", o->status);
        query_add(&path, "severity", o->severity);
        query_add(&path, "rule", o->rule);
        snprintf(n, sizeof(n), "%u", o->limit);
        query_add(&path, "limit", o->limit ? n : NULL);
        query_add(&path, "source", o->source);
        query_add(&path, "cursor", o->cursor);
    } else {
        incident_path(&path, o->id, "");
    }
    rc = remote_get(o, sn_buf_cstr(&path), out);
    sn_buf_fini(&path);
    /* The API's answer ends in a newline; emit() adds its own. */
    while (rc == 0 && out->len > 0 && out->data[out->len - 1] == '\n')
        out->len--;
    return rc == 0 ? emit(out, o->json, list ? print_list : print_show) : rc;
}

static int
emit(struct sn_buf *out, bool as_json, void (*pretty)(struct json_object *))
{
    struct json_object *root;

    if (as_json) {
        fwrite(out->data, 1, out->len, stdout);
        putchar('\n');
        return 0;
    }
    root = json_tokener_parse(sn_buf_cstr(out));
    if (root == NULL) {
        fprintf(stderr, "sentineld: the store returned invalid JSON\n");
        return 1;
    }
    pretty(root);
    json_object_put(root);
    return 0;
}

int
sn_cmd_incidents(int argc, char **argv)
{
    struct opts o = { 0 };
    struct sn_incidents *inc = NULL;
    struct sn_error err;
    struct sn_buf out;
    char path[4096];
    const char *verb = argc > 1 ? argv[1] : NULL;
    int rc;

    if (verb == NULL || strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0) {
        usage_incidents(verb ? stdout : stderr);
        return verb ? 0 : 2;
    }
    if (strcmp(verb, "list") != 0 && strcmp(verb, "show") != 0) {
        fprintf(stderr, "sentineld: unknown incidents command '%s'\n", verb);
        usage_incidents(stderr);
        return 2;
    }
    if ((rc = parse(argc, argv, 2, &o)) != 0)
        return rc;
    if (strcmp(verb, "show") == 0 && o.id == NULL) {
        fprintf(stderr, "sentineld: incidents show needs an incident id\n");
        return 2;
    }
    if (o.source != NULL &&
        (strcmp(verb, "list") != 0 ||
         (strcmp(o.source, "local") != 0 &&
          strcmp(o.source, "configured") != 0))) {
        fprintf(stderr, "sentineld: --source is for incidents list: local or "
                        "configured\n");
        return 2;
    }
    if (o.cursor != NULL && strcmp(verb, "list") != 0) {
        fprintf(stderr, "sentineld: --cursor is for incidents list (a "
                        "page's next_cursor)\n");
        return 2;
    }
    if (o.source != NULL && strcmp(o.source, "configured") == 0 &&
        o.url == NULL && !o.api) {
        fprintf(stderr, "sentineld: --source configured reads the report "
                        "source through a daemon: give --url or --api\n");
        return 2;
    }
    if (o.url != NULL || o.api) {
        sn_buf_init(&out, SN_CLI_INCIDENTS_OUT_MAX);
        rc = incidents_remote(&o, strcmp(verb, "list") == 0, &out);
        sn_buf_fini(&out);
        return rc;
    }
    if ((rc = store_path(&o, path, sizeof(path))) != 0)
        return rc;
    if (open_read_only(path, &inc) != 0)
        return 1;
    sn_error_clear(&err);
    sn_buf_init(&out, SN_CLI_INCIDENTS_OUT_MAX);
    if (strcmp(verb, "list") == 0) {
        struct sn_incident_query q = { 0 };
        q.status = o.status;
        q.severity = o.severity;
        q.rule_id = o.rule;
        q.limit = o.limit;
        q.cursor = o.cursor;
        rc = sn_incidents_list_json(inc, &q, &out, &err) == SN_OK
                 ? emit(&out, o.json, print_list)
                 : (fprintf(stderr, "sentineld: %s\n", err.msg), 1);
    } else {
        enum sn_status s = sn_incidents_get_json(inc, o.id, &out, &err);
        rc = s == SN_OK ? emit(&out, o.json, print_show)
                        : (fprintf(stderr, "sentineld: %s\n", err.msg), 1);
    }
    sn_buf_fini(&out);
    sn_incidents_close(inc);
    return rc;
}

/* `sentineld incident report ID --format md|json`: read-only. */
static int
cmd_report(int argc, char **argv)
{
    struct opts o = { 0 };
    struct sn_incidents *inc = NULL;
    enum sn_review_format fmt = SN_REVIEW_MD;
    struct sn_error err;
    struct sn_buf out;
    char path[4096];
    int rc;

    if ((rc = parse(argc, argv, 2, &o)) != 0)
        return rc;
    if (o.id == NULL) {
        fprintf(stderr, "sentineld: incident report needs an incident id\n");
        return 2;
    }
    if (o.format != NULL && !sn_review_format_parse(o.format, &fmt)) {
        fprintf(stderr, "sentineld: --format '%s': expected md or json\n",
                o.format);
        return 2;
    }
    sn_buf_init(&out, SN_CLI_INCIDENTS_OUT_MAX);
    if (o.url != NULL || o.api) {
        struct sn_buf path_q;

        /* The daemon's review: from its report source, else its store. */
        sn_buf_init(&path_q, 8192);
        incident_path(&path_q, o.id,
                      fmt == SN_REVIEW_MD ? "/report?format=md"
                                          : "/report?format=json");
        rc = remote_get(&o, sn_buf_cstr(&path_q), &out);
        sn_buf_fini(&path_q);
        if (rc == 0 && (fwrite(out.data, 1, out.len, stdout) != out.len ||
                        fflush(stdout) != 0)) {
            perror("sentineld: writing the review");
            rc = 1;
        }
        sn_buf_fini(&out);
        return rc;
    }
    if ((rc = store_path(&o, path, sizeof(path))) != 0 ||
        open_read_only(path, &inc) != 0) {
        sn_buf_fini(&out);
        return rc ? rc : 1;
    }
    sn_error_clear(&err);
    if (sn_review_render(inc, o.id, fmt, &out, &err) != SN_OK) {
        fprintf(stderr, "sentineld: %s\n", err.msg);
        rc = 1;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len ||
               fflush(stdout) != 0) {
        perror("sentineld: writing the review");
        rc = 1;
    }
    sn_buf_fini(&out);
    sn_incidents_close(inc);
    return rc;
}

int
sn_cmd_incident(int argc, char **argv)
{
    struct opts o = { 0 };
    struct sn_incidents *inc = NULL;
    struct sn_incident_change ch = { 0 };
    struct sn_error err;
    struct sn_buf out;
    char path[4096], actor[128];
    int act, rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        usage_incidents(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "report") == 0)
        return cmd_report(argc, argv);
    if ((act = sn_incident_action_parse(argv[1])) < 0) {
        fprintf(stderr, "sentineld: unknown action '%s'\n", argv[1]);
        usage_incidents(stderr);
        return 2;
    }
    if ((rc = parse(argc, argv, 2, &o)) != 0 ||
        (rc = store_path(&o, path, sizeof(path))) != 0)
        return rc;
    if (o.id == NULL) {
        fprintf(stderr, "sentineld: incident %s needs an incident id\n",
                argv[1]);
        return 2;
    }
    if (o.by != NULL) {
        fprintf(stderr,
                "sentineld: --by is not accepted: a typed name proves "
                "nothing. The action is recorded as your OS user "
                "(local:<user>), or as an API token's name with "
                "--token-file FILE or $SENTINELD_TOKEN\n");
        return 2;
    }
    if (sn_cli_actor(o.token_file, o.tokens, actor, sizeof(actor)) != 0)
        return 1;
    ch.action = (enum sn_incident_action)act;
    ch.actor = actor;
    ch.reason = o.reason;
    ch.arg = o.owner;
    ch.forbid_self_approval = o.four_eyes;
    sn_error_clear(&err);
    if (sn_incidents_open(path, false, &inc, &err) != SN_OK) {
        fprintf(stderr, "sentineld: %s\n", err.msg);
        sn_cli_state_hint(path);
        return 1;
    }
    sn_buf_init(&out, SN_CLI_INCIDENTS_OUT_MAX);
    if (sn_incidents_change(inc, o.id, &ch, &out, &err) != SN_OK) {
        fprintf(stderr, "sentineld: %s\n", err.msg);
        rc = 1;
    } else {
        rc = emit(&out, o.json, print_show);
    }
    sn_buf_fini(&out);
    sn_incidents_close(inc);
    return rc;
}
