/*
 * Rendering of signal and incident JSON for people (explain_render.h):
 * the window math in words, the condition trace as PASS/FAIL rows with
 * the values seen, the evidence as a table and a sequence as a timeline.
 */
#include "cli/explain_render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MSG_COLS 72

static const char *
str(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *
get(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static int64_t
num(json_object *o, const char *key)
{
    json_object *v = get(o, key);

    return v ? json_object_get_int64(v) : 0;
}

/* 120000000000 -> "2m"; the largest unit that divides it. */
static void
duration(int64_t ns, char *buf, size_t len)
{
    static const struct {
        int64_t ns;
        const char *unit;
    } units[] = { { 86400000000000LL, "d" }, { 3600000000000LL, "h" },
                  { 60000000000LL, "m" },    { 1000000000LL, "s" },
                  { 1000000LL, "ms" } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ns >= units[i].ns && ns % units[i].ns == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ns / units[i].ns,
                     units[i].unit);
            return;
        }
    snprintf(buf, len, "%.3fs", (double)ns / 1e9);
}

/* UTC time of day (with the date when with_date). */
static void
clock_text(int64_t ns, bool with_date, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;

    if (ns <= 0) {
        snprintf(buf, len, "-");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(buf, len, with_date ? "%Y-%m-%d %H:%M:%SZ" : "%H:%M:%S", &tm);
}

/* "source.ip 203.0.113.7, user.name root" */
static void
key_text(json_object *key, struct sn_buf *b)
{
    bool first = true;

    if (key == NULL || json_object_object_length(key) == 0) {
        SN_BUF_LIT(b, "(all events)");
        return;
    }
    json_object_object_foreach(key, k, v)
    {
        sn_buf_printf(b, "%s%s %s", first ? "" : ", ", k,
                      json_object_get_string(v));
        first = false;
    }
}

static void
window_words(json_object *sig, struct sn_buf *b)
{
    const char *kind = str(sig, "kind"), *state = str(sig, "state");
    json_object *w = get(sig, "window");
    int64_t count = num(w, "count"), thr = num(w, "threshold");
    char len[32], first[32], last[32];
    struct sn_buf key;

    sn_buf_init(&key, 4096);
    key_text(get(sig, "key"), &key);
    sn_buf_putc(&key, '\0');
    duration(num(w, "length_ns"), len, sizeof(len));
    clock_text(num(w, "first_ns"), false, first, sizeof(first));
    clock_text(num(w, "last_ns"), false, last, sizeof(last));
    kind = kind ? kind : "?";
    state = state ? state : "firing";
    if (strcmp(state, "degraded") == 0) {
        json_object *d = get(sig, "degraded");
        sn_buf_printf(b,
                      "detection degraded: %" PRId64 " keys evicted, %" PRId64
                      " events dropped (%" PRId64 " keys of at most %" PRId64
                      "); some windows of this rule are incomplete",
                      num(d, "keys_evicted"), num(d, "events_dropped"),
                      num(d, "keys"), num(d, "max_keys"));
    } else if (strcmp(state, "resolved") == 0) {
        sn_buf_printf(b, "resolved: nothing from %s since %s", key.data, last);
    } else if (strcmp(state, "update") == 0) {
        sn_buf_printf(b,
                      "update: %" PRId64 " more matches from %s in the "
                      "window that fired (%s), first %s, last %s",
                      count, key.data, len, first, last);
    } else if (strcmp(kind, "threshold") == 0) {
        sn_buf_printf(b,
                      "%" PRId64 " matches from %s within %s (threshold %" PRId64
                      "), first %s, last %s",
                      count, key.data, len, thr, first, last);
    } else if (strcmp(kind, "distinct") == 0) {
        sn_buf_printf(b,
                      "%" PRId64 " distinct values from %s within %s "
                      "(threshold %" PRId64 "), first %s, last %s",
                      count, key.data, len, thr, first, last);
    } else if (strcmp(kind, "sequence") == 0) {
        sn_buf_printf(b,
                      "all %" PRId64 " steps in order for %s within %s, "
                      "first %s, last %s",
                      count, key.data, len, first, last);
    } else if (strcmp(kind, "absence") == 0) {
        sn_buf_printf(b, "nothing from %s for %s after its last event at %s",
                      key.data, len, last);
    } else if (strcmp(kind, "rate") == 0) {
        json_object *bl = get(sig, "baseline");
        sn_buf_printf(b,
                      "%" PRId64 " events from %s in one %s bucket; baseline "
                      "%.2f +/- %.2f (k %.2g): %" PRId64 " or more is a spike",
                      count, key.data, len,
                      bl ? json_object_get_double(get(bl, "mean")) : 0.0,
                      bl ? json_object_get_double(get(bl, "stddev")) : 0.0,
                      bl ? json_object_get_double(get(bl, "k")) : 0.0, thr);
    } else if (strcmp(kind, "new_value") == 0) {
        sn_buf_printf(b,
                      "new value \"%s\" for %s (%" PRId64 " values known, "
                      "learned for %s)",
                      str(sig, "new_value") ? str(sig, "new_value") : "?",
                      key.data, count, len);
    } else if (strcmp(kind, "match") == 0 && count > 1) {
        /* det_rules coalesced one batch's matches of the key into one
         * signal (docs/correlation.md "Signals"). */
        sn_buf_printf(b,
                      "%" PRId64 " matching events from %s (one batch), "
                      "first %s, last %s",
                      count, key.data, first, last);
    } else if (strcmp(kind, "match") == 0) {
        sn_buf_printf(b, "one matching event from %s at %s", key.data, last);
    } else {
        sn_buf_printf(b, "%s: %" PRId64 " of %" PRId64, kind, count, thr);
    }
    sn_buf_putc(b, '\n');
    sn_buf_fini(&key);
}

static void
trace_rows(json_object *tr, struct sn_buf *b)
{
    json_object *steps = get(tr, "steps");
    size_t n = steps ? json_object_array_length(steps) : 0;

    sn_buf_printf(b, "  why: rule %s %s the triggering event\n",
                  str(tr, "rule") ? str(tr, "rule") : "?",
                  json_object_get_boolean(get(tr, "matched")) ? "matched"
                                                              : "did not match");
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(steps, i);
        const char *kind = str(r, "kind"), *res = str(r, "result");
        int depth = (int)num(r, "depth");

        kind = kind ? kind : "?";
        res = res ? res : "?";
        sn_buf_printf(b, "    %*s%-4s ", depth * 2, "",
                      strcmp(res, "pass") == 0   ? "PASS"
                      : strcmp(res, "fail") == 0 ? "FAIL"
                                                 : "SKIP");
        if (strcmp(kind, "pred") == 0) {
            json_object *a = get(r, "actual");
            sn_buf_printf(b, "%s    [%s: %s%s]", str(r, "expr"),
                          str(r, "field") ? str(r, "field") : "?",
                          a ? json_object_to_json_string_ext(
                                  a, JSON_C_TO_STRING_PLAIN)
                            : "absent",
                          json_object_get_boolean(get(r, "extracted"))
                              ? " (extracted)"
                              : "");
        } else if (strcmp(kind, "skip") == 0) {
            sn_buf_printf(b, "%" PRId64 " more not evaluated (short-circuit), "
                          "from: %s",
                          num(r, "skipped"), str(r, "expr"));
        } else if (strcmp(kind, "extract") == 0) {
            sn_buf_printf(b, "extract from %s", str(r, "from"));
        } else if (strcmp(kind, "const") == 0) {
            sn_buf_printf(b, "%s", str(r, "expr"));
        } else {
            sn_buf_printf(b, "%s", kind);
        }
        if (str(r, "note"))
            sn_buf_printf(b, "; %s", str(r, "note"));
        sn_buf_putc(b, '\n');
    }
    if (json_object_get_boolean(get(tr, "truncated")))
        SN_BUF_LIT(b, "    (trace truncated)\n");
}

/* One evidence or sequence entry: time, host, app, message, fields. */
static void
entry_row(json_object *e, const char *prefix, struct sn_buf *b)
{
    json_object *s = get(e, "summary");
    char t[32];

    clock_text(num(e, "time_ns"), false, t, sizeof(t));
    sn_buf_printf(b, "    %s  %s", t, prefix);
    if (s != NULL && json_object_is_type(s, json_type_object) &&
        get(s, "signal") != NULL) {
        sn_buf_printf(b, "signal %s (%s: %" PRId64 " of %" PRId64 ")\n",
                      str(s, "signal"), str(s, "kind") ? str(s, "kind") : "?",
                      num(s, "count"), num(s, "threshold"));
    } else if (s != NULL && json_object_is_type(s, json_type_object)) {
        const char *msg = str(s, "msg") ? str(s, "msg") : "";
        json_object *f = get(s, "fields");
        size_t ml = strlen(msg);

        sn_buf_printf(b, "%-12.12s %-10.10s %.*s%s\n",
                      str(s, "host") ? str(s, "host") : "-",
                      str(s, "app") ? str(s, "app") : "-",
                      (int)(ml > MSG_COLS ? MSG_COLS : ml), msg,
                      ml > MSG_COLS ? "..." : "");
        if (f != NULL && json_object_object_length(f) > 0) {
            bool first = true;
            sn_buf_printf(b, "    %8s  %*s", "", (int)strlen(prefix), "");
            json_object_object_foreach(f, k, v)
            {
                sn_buf_printf(b, "%s%s=%s", first ? "" : " ", k,
                              json_object_get_string(v));
                first = false;
            }
            sn_buf_putc(b, '\n');
        }
    } else if (s != NULL) {
        sn_buf_printf(b, "%s\n", json_object_get_string(s));
    } else {
        SN_BUF_LIT(b, "(no summary)\n");
    }
}

static void
evidence_table(json_object *ev, struct sn_buf *b)
{
    json_object *first = get(ev, "first"), *last = get(ev, "last");
    size_t nf = first ? json_object_array_length(first) : 0;
    size_t nl = last ? json_object_array_length(last) : 0;

    if (nf + nl == 0)
        return;
    sn_buf_printf(b, "  evidence:\n    %-8s  %-12s %-10s %s\n", "TIME", "HOST",
                  "APP", "MESSAGE");
    for (size_t i = 0; i < nf; i++)
        entry_row(json_object_array_get_idx(first, i), "", b);
    if (nf > 0 && nl > 0)
        SN_BUF_LIT(b, "    ...\n");
    for (size_t i = 0; i < nl; i++)
        entry_row(json_object_array_get_idx(last, i), "", b);
}

static void
timeline(json_object *seq, struct sn_buf *b)
{
    size_t n = json_object_array_length(seq);

    SN_BUF_LIT(b, "  sequence:\n");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(seq, i);
        char prefix[160];

        snprintf(prefix, sizeof(prefix), "%zu. %s: ", i + 1,
                 str(e, "rule") ? str(e, "rule") : "?");
        entry_row(e, prefix, b);
    }
}

/* "  text\n" without the text's trailing whitespace (YAML's folded
 * scalars end in a newline). */
static void
line_trimmed(struct sn_buf *b, const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        n--;
    sn_buf_printf(b, "  %.*s\n", (int)n, s);
}

static void
render_signal(json_object *sig, struct sn_buf *b, const char *indent_title)
{
    json_object *tags = get(sig, "tags"), *tr = get(sig, "trace");
    json_object *seq = get(sig, "sequence"), *ev = get(sig, "evidence");
    char when[40];

    clock_text(num(sig, "time_ns"), true, when, sizeof(when));
    sn_buf_printf(b, "%s%s (%s, %s) severity %s at %s\n", indent_title,
                  str(sig, "rule") ? str(sig, "rule") : "?",
                  str(sig, "kind") ? str(sig, "kind") : "?",
                  str(sig, "state") ? str(sig, "state") : "?",
                  str(sig, "severity") ? str(sig, "severity") : "?", when);
    if (str(sig, "title"))
        line_trimmed(b, str(sig, "title"));
    if (str(sig, "description"))
        line_trimmed(b, str(sig, "description"));
    if (tags != NULL && json_object_array_length(tags) > 0) {
        SN_BUF_LIT(b, "  tags:");
        for (size_t i = 0; i < json_object_array_length(tags); i++)
            sn_buf_printf(b, " %s",
                          json_object_get_string(
                              json_object_array_get_idx(tags, i)));
        sn_buf_putc(b, '\n');
    }
    if (num(sig, "repeat") > 1 || num(sig, "suppressed") > 0)
        sn_buf_printf(b, "  hit %" PRId64 " for this key (%" PRId64
                      " suppressed since the last signal)\n",
                      num(sig, "repeat"), num(sig, "suppressed"));
    SN_BUF_LIT(b, "  what: ");
    window_words(sig, b);
    if (tr != NULL)
        trace_rows(tr, b);
    if (seq != NULL && json_object_array_length(seq) > 0)
        timeline(seq, b);
    if (ev != NULL)
        evidence_table(ev, b);
}

bool
sn_explain_render(json_object *obj, struct sn_buf *b)
{
    const char *type = str(obj, "type");

    if (type != NULL && strcmp(type, "signal") == 0) {
        render_signal(obj, b, "SIGNAL ");
        return true;
    }
    if (type != NULL && strcmp(type, "incident") == 0) {
        json_object *x = get(obj, "explanation");
        struct sn_buf key;

        sn_buf_init(&key, 4096);
        key_text(get(obj, "group_key"), &key);
        sn_buf_putc(&key, '\0');
        sn_buf_printf(b,
                      "INCIDENT %s v%" PRId64 " %s, severity %s: %s\n"
                      "  rule %s, %s; first seen %s, last seen %s; %" PRId64
                      " hits in %" PRId64 " signals; owner %s\n",
                      str(obj, "id") ? str(obj, "id") : "?",
                      num(obj, "version"),
                      str(obj, "status") ? str(obj, "status") : "?",
                      str(obj, "severity") ? str(obj, "severity") : "?",
                      str(obj, "title") ? str(obj, "title") : "",
                      str(obj, "rule_id") ? str(obj, "rule_id") : "?",
                      key.data,
                      str(obj, "first_seen") ? str(obj, "first_seen") : "?",
                      str(obj, "last_seen") ? str(obj, "last_seen") : "?",
                      num(obj, "hit_count"), num(obj, "signal_count"),
                      str(obj, "owner") ? str(obj, "owner") : "none");
        sn_buf_fini(&key);
        if (x != NULL && json_object_is_type(x, json_type_object))
            render_signal(x, b, "  latest signal: ");
        return true;
    }
    sn_buf_printf(b, "not a signal or incident (\"type\" is %s)\n",
                  type ? type : "missing");
    return false;
}
