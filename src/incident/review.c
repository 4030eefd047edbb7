/*
 * The post-incident review (review.h): reads the incident's document
 * with its versions and audit trail once (json-c; a review is one
 * request, not a hot path), classifies the audit rows and writes the
 * JSON or Markdown rendering. What each section holds: docs/reports.md.
 */
#include "incident/review.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/time_parse.h"
#include "incident/incident.h"
#include "incident/incidents.h"

bool
sn_review_format_parse(const char *s, enum sn_review_format *out)
{
    if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
        *out = SN_REVIEW_MD;
    else if (strcmp(s, "json") == 0)
        *out = SN_REVIEW_JSON;
    else
        return false;
    return true;
}

static struct json_object *
get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *
str(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);

    return v && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static bool
starts(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Audit rows: notifications (the escalation's "notify..." entries), the
 * daemon's own changes (signals, the quiet period), people's actions. */
static const char *
audit_kind(struct json_object *row)
{
    const char *action = str(row, "action"), *actor = str(row, "actor");

    if (starts(action, "notif"))
        return "notification";
    if (actor != NULL && strcmp(actor, "sentineld") == 0)
        return "signal";
    return "action";
}

static bool
ok_row(struct json_object *row)
{
    const char *r = str(row, "result");

    return r == NULL || strcmp(r, "ok") == 0;
}

/* The first successful audit row whose action is a or b, or NULL. */
static struct json_object *
first_action(struct json_object *audit, const char *a, const char *b)
{
    size_t n = audit ? json_object_array_length(audit) : 0;

    for (size_t i = 0; i < n; i++) {
        struct json_object *row = json_object_array_get_idx(audit, i);
        const char *act = str(row, "action");
        if (act && ok_row(row) &&
            (strcmp(act, a) == 0 || (b && strcmp(act, b) == 0)))
            return row;
    }
    return NULL;
}

static void
add_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void
add_ref(struct json_object *o, const char *key, struct json_object *v)
{
    json_object_object_add(o, key, v ? json_object_get(v) : NULL);
}

/* Milliseconds from opened to the row's time, or NULL. */
static void
add_after(struct json_object *o, const char *key, const char *opened,
          struct json_object *row)
{
    int64_t a, b;

    if (row == NULL || opened == NULL || !sn_time_parse(opened, &a) ||
        !sn_time_parse(str(row, "at"), &b)) {
        json_object_object_add(o, key, NULL);
        return;
    }
    json_object_object_add(
        o, key, json_object_new_int64(b > a ? (b - a) / SN_NS_PER_MS : 0));
}

static int
by_at(const void *x, const void *y)
{
    struct json_object *const *a = x, *const *b = y;
    const char *ta = str(*a, "at"), *tb = str(*b, "at");
    int c = strcmp(ta ? ta : "", tb ? tb : "");

    /* Equal times keep the kinds in a fixed order: events first. */
    return c ? c : strcmp(str(*a, "kind"), str(*b, "kind"));
}

/* One line for an evidence item: host, app and message, or its text. */
static void
evidence_text(struct json_object *item, char *out, size_t size)
{
    struct json_object *s = get(item, "summary");
    const char *host, *app, *msg;

    if (s != NULL && json_object_is_type(s, json_type_string)) {
        snprintf(out, size, "%s", json_object_get_string(s));
        return;
    }
    host = str(s, "host");
    app = str(s, "app");
    msg = str(s, "msg");
    if (host || app || msg)
        snprintf(out, size, "%s%s%s%s%s", host ? host : "",
                 host && app ? " " : "", app ? app : "",
                 host || app ? ": " : "", msg ? msg : "");
    else
        snprintf(out, size, "%s",
                 s ? json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN)
                   : "");
}

/* The review as one JSON tree (the Markdown is rendered from it). */
static struct json_object *
build(struct json_object *doc, const char *lacks)
{
    struct json_object *r = json_object_new_object();
    struct json_object *sum = json_object_new_object();
    struct json_object *timeline = json_object_new_array();
    struct json_object *actions = json_object_new_array();
    struct json_object *notes = json_object_new_array();
    struct json_object *audit = get(doc, "audit"), *ev = get(doc, "evidence");
    struct json_object *ack = first_action(audit, "acknowledge", NULL);
    struct json_object *res = first_action(audit, "resolve", "auto-resolve");
    const char *opened = str(doc, "created_at");
    static const char *const copy[] = {
        "id",        "version",   "title",         "description",
        "rule_id",   "severity",  "base_severity", "status",
        "owner",     "group_key", "tags",          "first_seen",
        "last_seen", "hit_count", "signal_count",  "previous_id",
    };
    size_t n;

    add_str(r, "type", "review");
    /* What the store this review was read from does not record. */
    add_str(r, "not_recorded", lacks);
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
        add_ref(sum, copy[i], get(doc, copy[i]));
    add_str(sum, "opened_at", opened);
    add_str(sum, "acknowledged_at", ack ? str(ack, "at") : NULL);
    add_str(sum, "acknowledged_by", ack ? str(ack, "actor") : NULL);
    add_after(sum, "time_to_acknowledge_ms", opened, ack);
    add_str(sum, "resolved_at", res ? str(res, "at") : NULL);
    add_str(sum, "resolved_by", res ? str(res, "actor") : NULL);
    add_after(sum, "time_to_resolve_ms", opened, res);
    json_object_object_add(r, "summary", sum);

    n = ev && json_object_is_type(ev, json_type_array)
            ? json_object_array_length(ev)
            : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(ev, i);
        struct json_object *t = json_object_new_object();
        char text[1024];
        evidence_text(it, text, sizeof(text));
        add_str(t, "at", str(it, "time"));
        add_str(t, "kind", "event");
        json_object_object_add(t, "actor", NULL);
        add_str(t, "what", text);
        json_object_array_add(timeline, t);
    }
    n = audit ? json_object_array_length(audit) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *row = json_object_array_get_idx(audit, i);
        struct json_object *t = json_object_new_object();
        const char *kind = audit_kind(row), *reason = str(row, "reason");
        /* A notification names the output it went to. */
        const char *to =
            strcmp(kind, "notification") == 0 ? str(row, "target") : NULL;
        char what[1024];
        snprintf(what, sizeof(what), "%s%s%s%s%s%s%s", str(row, "action"),
                 to ? " " : "", to ? to : "", reason ? ": " : "",
                 reason ? reason : "", ok_row(row) ? "" : " — ",
                 ok_row(row) ? "" : str(row, "result"));
        add_str(t, "at", str(row, "at"));
        add_str(t, "kind", kind);
        add_str(t, "actor", str(row, "actor"));
        add_str(t, "what", what);
        add_ref(t, "version", get(row, "version"));
        json_object_array_add(timeline, t);
        if (strcmp(kind, "notification") == 0)
            json_object_array_add(notes, json_object_get(row));
        else if (strcmp(kind, "action") == 0)
            json_object_array_add(actions, json_object_get(row));
    }
    json_object_array_sort(timeline, by_at);
    json_object_object_add(r, "timeline", timeline);
    add_ref(r, "versions", get(doc, "versions"));
    json_object_object_add(r, "actions", actions);
    json_object_object_add(r, "notifications", notes);
    add_ref(r, "explanation", get(doc, "explanation"));
    add_ref(r, "evidence", ev);
    return r;
}

/* --- Markdown --------------------------------------------------------------
 */

/* A table cell: no newlines, no unescaped pipes. */
static void
cell(struct sn_buf *b, const char *s)
{
    if (s == NULL || *s == '\0') {
        sn_buf_puts(b, "-");
        return;
    }
    for (; *s; s++) {
        if (*s == '|')
            sn_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r' || *s == '\t')
            sn_buf_putc(b, ' ');
        else
            sn_buf_putc(b, *s);
    }
}

static const char *
plain(struct json_object *v)
{
    if (v == NULL)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void
row2(struct sn_buf *b, const char *name, const char *v)
{
    sn_buf_printf(b, "| %s | ", name);
    cell(b, v);
    sn_buf_puts(b, " |\n");
}

/* "1 h 2 min 3.456 s" for a millisecond count. */
static void
span(struct json_object *ms, char *out, size_t size)
{
    long long v;

    if (ms == NULL) {
        snprintf(out, size, "-");
        return;
    }
    v = (long long)json_object_get_int64(ms);
    if (v >= 3600000)
        snprintf(out, size, "%lld h %lld min %lld s", v / 3600000,
                 v / 60000 % 60, v / 1000 % 60);
    else if (v >= 60000)
        snprintf(out, size, "%lld min %lld.%03lld s", v / 60000, v / 1000 % 60,
                 v % 1000);
    else
        snprintf(out, size, "%lld.%03lld s", v / 1000, v % 1000);
}

/* A table over an array of objects: one column per key. */
static void
table(struct sn_buf *b, struct json_object *arr, const char *const *keys,
      const char *const *heads, size_t n_cols, const char *none)
{
    size_t n = arr ? json_object_array_length(arr) : 0;

    if (n == 0) {
        sn_buf_printf(b, "%s\n\n", none);
        return;
    }
    for (size_t c = 0; c < n_cols; c++)
        sn_buf_printf(b, "| %s ", heads[c]);
    sn_buf_puts(b, "|\n");
    for (size_t c = 0; c < n_cols; c++)
        sn_buf_puts(b, "| --- ");
    sn_buf_puts(b, "|\n");
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(arr, i);
        for (size_t c = 0; c < n_cols; c++) {
            sn_buf_puts(b, "| ");
            cell(b, plain(get(o, keys[c])));
            sn_buf_putc(b, ' ');
        }
        sn_buf_puts(b, "|\n");
    }
    sn_buf_putc(b, '\n');
}

/* "| Resolved | <when> (after <span>, by <who>) |" from the summary's
 * <what>_at, <what>_by and the duration ms_key. */
static void
milestone(struct sn_buf *b, struct json_object *s, const char *label,
          const char *what, const char *ms_key)
{
    char key[32], t[64];

    span(get(s, ms_key), t, sizeof(t));
    sn_buf_printf(b, "| %s | ", label);
    snprintf(key, sizeof(key), "%s_at", what);
    cell(b, str(s, key));
    sn_buf_printf(b, " (after %s, by ", t);
    snprintf(key, sizeof(key), "%s_by", what);
    cell(b, str(s, key));
    sn_buf_puts(b, ") |\n");
}

static void
markdown(struct json_object *r, struct sn_buf *b)
{
    struct json_object *s = get(r, "summary");
    static const char *const tl_keys[] = { "at", "kind", "actor", "what" };
    static const char *const tl_heads[] = { "Time (UTC)", "Kind", "Who",
                                            "What" };
    static const char *const v_keys[] = { "version", "at",     "actor",
                                          "change",  "status", "severity" };
    static const char *const v_heads[] = {
        "Version", "Time (UTC)", "By", "Change", "Status", "Severity"
    };
    static const char *const a_keys[] = { "at", "actor", "action", "result",
                                          "reason" };
    static const char *const a_heads[] = { "Time (UTC)", "Who", "Action",
                                           "Result", "Reason" };
    /* A notification's target is the output notified. */
    static const char *const n_keys[] = { "at", "action", "target", "result",
                                          "reason" };
    static const char *const n_heads[] = { "Time (UTC)", "Action", "Output",
                                           "Result", "Reason" };
    char t[64];

    sn_buf_puts(b, "# Post-incident review: ");
    cell(b, str(s, "title"));
    sn_buf_puts(b, "\n\n");
    if (str(r, "not_recorded") != NULL)
        sn_buf_printf(b, "> **Not in this review:** %s.\n\n",
                      str(r, "not_recorded"));
    sn_buf_puts(b, "## Summary\n\n| | |\n| --- | --- |\n");
    row2(b, "Incident", str(s, "id"));
    row2(b, "Rule", str(s, "rule_id"));
    row2(b, "Severity", str(s, "severity"));
    row2(b, "Status", str(s, "status"));
    row2(b, "Owner", str(s, "owner"));
    row2(b, "Source", plain(get(s, "group_key")));
    row2(b, "Tags", plain(get(s, "tags")));
    row2(b, "Opened", str(s, "opened_at"));
    sn_buf_puts(b, "| First / last event | ");
    cell(b, str(s, "first_seen"));
    sn_buf_puts(b, " / ");
    cell(b, str(s, "last_seen"));
    sn_buf_puts(b, " |\n");
    row2(b, "Hits / signals",
         (snprintf(t, sizeof(t), "%s / %s", plain(get(s, "hit_count")),
                   plain(get(s, "signal_count"))),
          t));
    milestone(b, s, "Acknowledged", "acknowledged", "time_to_acknowledge_ms");
    milestone(b, s, "Resolved", "resolved", "time_to_resolve_ms");
    sn_buf_putc(b, '\n');
    if (str(s, "description") != NULL)
        sn_buf_printf(b, "%s\n\n", str(s, "description"));
    sn_buf_puts(b, "## Timeline\n\n");
    table(b, get(r, "timeline"), tl_keys, tl_heads, 4, "Nothing recorded.");
    sn_buf_puts(b, "## Versions\n\n");
    table(b, get(r, "versions"), v_keys, v_heads, 6, "No versions recorded.");
    sn_buf_puts(b, "## Actions\n\n");
    table(b, get(r, "actions"), a_keys, a_heads, 5,
          "No one acted on this incident.");
    sn_buf_puts(b, "## Notifications\n\n");
    table(b, get(r, "notifications"), n_keys, n_heads, 5,
          "No notifications recorded.");
    sn_buf_puts(b, "## Explanation\n\n```json\n");
    sn_buf_puts(
        b, json_object_to_json_string_ext(get(r, "explanation"),
                                          JSON_C_TO_STRING_PRETTY |
                                              JSON_C_TO_STRING_NOSLASHESCAPE |
                                              JSON_C_TO_STRING_SPACED));
    sn_buf_puts(b, "\n```\n\n## Evidence\n\n");
    {
        struct json_object *ev = get(r, "evidence");
        size_t n = ev ? json_object_array_length(ev) : 0;
        if (n == 0)
            sn_buf_puts(b, "No evidence kept.\n");
        else
            sn_buf_puts(b, "| Time (UTC) | Event |\n| --- | --- |\n");
        for (size_t i = 0; i < n; i++) {
            struct json_object *it = json_object_array_get_idx(ev, i);
            char text[1024];
            evidence_text(it, text, sizeof(text));
            sn_buf_puts(b, "| ");
            cell(b, str(it, "time"));
            sn_buf_puts(b, " | ");
            cell(b, text);
            sn_buf_puts(b, " |\n");
        }
    }
}

enum sn_status
sn_review_render(struct sn_incidents *inc, const char *id,
                 enum sn_review_format fmt, struct sn_buf *out,
                 struct sn_error *err)
{
    struct sn_buf doc;
    enum sn_status rc;

    sn_buf_init(&doc, SN_INCIDENT_REVIEW_DOC_MAX);
    rc = sn_incidents_get_json(inc, id, &doc, err);
    /* json_tokener_parse reads a C string; the buffer is not one. */
    if (rc == SN_OK && (rc = sn_buf_putc(&doc, '\0')) != SN_OK)
        sn_error_set(err, "incident %s: its document is too large", id);
    if (rc == SN_OK)
        rc = sn_review_render_doc(id, doc.data, NULL, fmt, out, err);
    sn_buf_fini(&doc);
    return rc;
}

enum sn_status
sn_review_render_doc(const char *id, const char *doc, const char *lacks,
                     enum sn_review_format fmt, struct sn_buf *out,
                     struct sn_error *err)
{
    struct json_object *o = NULL, *r = NULL;
    enum sn_status rc = SN_OK;

    o = json_tokener_parse(doc);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        sn_error_set(err, "incident %s: its document does not parse", id);
        rc = SN_EIO;
    }
    if (rc == SN_OK) {
        r = build(o, lacks);
        if (fmt == SN_REVIEW_JSON)
            rc = sn_buf_puts(out, json_object_to_json_string_ext(
                                      r, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        else
            markdown(r, out);
        if (rc == SN_OK)
            rc = sn_buf_putc(out, '\n');
        if (rc != SN_OK)
            sn_error_set(err, "incident %s: the review is too large", id);
    }
    json_object_put(r);
    json_object_put(o);
    return rc;
}
