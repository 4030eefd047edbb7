/*
 * Signal -> incident; see fold.h. Parses the signal with json-c (the
 * shape is open: det_rules adds title, description, tags and a trace),
 * scrubs everything but the group key, then reads, changes and writes
 * the incident row through the store. It never commits: the manager
 * owns the transaction (one per batch).
 */
#include "incident/fold.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "incident/incident.h"
#include "incident/incidents.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Nesting deeper than this is not a signal a detector would write. */
#define SIGNAL_DEPTH 32

enum sn_status
sn_fold_init(struct sn_fold *f, struct sn_store *store, struct sn_scrub *scrub,
             int64_t auto_resolve_ms, size_t evidence_max)
{
    memset(f, 0, sizeof(*f));
    f->store = store;
    f->scrub = scrub;
    f->auto_resolve_ms = auto_resolve_ms;
    f->evidence_max = evidence_max ? evidence_max : 10;
    f->tok = json_tokener_new_ex(SIGNAL_DEPTH);
    sn_buf_init(&f->scratch, 8u * 1024 * 1024);
    sn_buf_init(&f->tmp, 1024 * 1024);
    return f->tok != NULL ? SN_OK : SN_ENOMEM;
}

void
sn_fold_fini(struct sn_fold *f)
{
    if (f->tok != NULL)
        json_tokener_free(f->tok);
    sn_buf_fini(&f->scratch);
    sn_buf_fini(&f->tmp);
    f->tok = NULL;
}

static const char *
get_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *o, const char *key, int64_t def)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_int) ||
          json_object_is_type(v, json_type_double)))
        return def;
    return json_object_get_int64(v);
}

static enum sn_status
set_json(char **field, struct json_object *o)
{
    const char *t = json_object_to_json_string_ext(o, JSON_FLAGS);

    return sn_incident_set(field, t, strlen(t));
}

/* Evidence items from a signal: {"first":[..],"last":[..]} (det_rules) or
 * a plain array; each gets an RFC 3339 "time" next to its time_ns. */
static void
collect_items(struct json_object *ev, struct json_object *into)
{
    static const char *const parts[] = { "first", "last" };

    if (ev == NULL)
        return;
    if (json_object_is_type(ev, json_type_object)) {
        for (int p = 0; p < 2; p++) {
            struct json_object *a;
            if (json_object_object_get_ex(ev, parts[p], &a))
                collect_items(a, into);
        }
        return;
    }
    if (!json_object_is_type(ev, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(ev); i++) {
        struct json_object *it = json_object_array_get_idx(ev, i);
        char t[40];
        int64_t ns;
        if (!json_object_is_type(it, json_type_object))
            continue;
        ns = get_int(it, "time_ns", 0);
        if (ns != 0 && get_str(it, "time") == NULL) {
            sn_time_rfc3339(ns, t);
            json_object_object_add(it, "time", json_object_new_string(t));
        }
        json_object_array_add(into, json_object_get(it));
    }
}

static bool
same_item(struct json_object *a, struct json_object *b)
{
    const char *sa, *sb;

    if (get_int(a, "time_ns", 0) != get_int(b, "time_ns", 1))
        return false;
    sa = json_object_to_json_string_ext(a, JSON_FLAGS);
    sb = json_object_to_json_string_ext(b, JSON_FLAGS);
    return strcmp(sa, sb) == 0;
}

/* Keep the first half of the window as it was first seen (how it began)
 * and the newest entries after it (how it goes on). */
static enum sn_status
merge_evidence(struct sn_fold *f, struct sn_incident *inc,
               struct json_object *fresh)
{
    struct json_object *old = NULL, *all = json_object_new_array();
    size_t n_old = 0, n, head = f->evidence_max / 2;
    enum sn_status rc;

    if (inc->evidence != NULL)
        old = json_tokener_parse(inc->evidence);
    if (old != NULL && json_object_is_type(old, json_type_array))
        n_old = json_object_array_length(old);
    for (size_t i = 0; i < n_old; i++)
        json_object_array_add(all,
                              json_object_get(json_object_array_get_idx(old, i)));
    for (size_t i = 0; i < json_object_array_length(fresh); i++) {
        struct json_object *it = json_object_array_get_idx(fresh, i);
        bool dup = false;
        for (size_t j = 0; j < n_old && !dup; j++)
            dup = same_item(json_object_array_get_idx(old, j), it);
        if (!dup)
            json_object_array_add(all, json_object_get(it));
    }
    n = json_object_array_length(all);
    if (n > f->evidence_max)
        json_object_array_del_idx(all, head, n - f->evidence_max);
    rc = set_json(&inc->evidence, all);
    json_object_put(all);
    json_object_put(old);
    return rc;
}

static enum sn_status
record(struct sn_fold *f, struct sn_incident *inc, const char *action,
       const char *reason)
{
    if (sn_store_put(f->store, inc) != SN_OK)
        return SN_EIO;
    return sn_store_record(f->store, inc, "sentineld", action, reason, NULL,
                           &f->scratch) == SN_OK
               ? SN_OK
               : SN_EIO;
}

static enum sn_status
resolve_key(struct sn_fold *f, const char *rule, const char *key, int64_t now,
            int64_t when)
{
    struct sn_incident inc;
    enum sn_status rc;

    sn_incident_init(&inc);
    rc = sn_store_find_open(f->store, rule, key, &inc);
    if (rc == SN_DECLINED) {
        f->st.ignored++; /* nothing open: already resolved by hand */
        sn_incident_fini(&inc);
        return SN_OK;
    }
    if (rc == SN_OK) {
        strcpy(inc.status, "resolved");
        sn_incident_set(&inc.pending, NULL, 0);
        if (when > inc.last_seen)
            inc.last_seen = when;
        inc.version++;
        inc.updated_at = now;
        inc.signal_count++;
        rc = record(f, &inc, "resolve",
                    "the detector reported the condition resolved");
        f->st.resolved++;
    }
    sn_incident_fini(&inc);
    return rc == SN_OK ? SN_OK : SN_EIO;
}

/* Severity from a signal: raise, but park a raise to CRITICAL that the
 * rule did not start at for an operator's approval. */
static void
escalate(struct sn_fold *f, struct sn_incident *inc, int sev, int base,
         int64_t now, bool *asked)
{
    char t[40];
    struct sn_buf *b = &f->tmp;

    if (sev <= (int)inc->severity)
        return;
    if (sev < SN_SEV_CRITICAL || base == SN_SEV_CRITICAL) {
        inc->severity = (enum sn_severity)sev;
        return;
    }
    if (inc->severity < SN_SEV_HIGH && base >= 0)
        inc->severity = base > (int)inc->severity ? (enum sn_severity)base
                                                   : inc->severity;
    if (inc->pending != NULL || inc->esc_rejected)
        return;
    sn_time_rfc3339(now, t);
    sn_buf_reset(b);
    sn_buf_printf(b,
                  "{\"action\":\"escalate\",\"to\":\"critical\","
                  "\"requested_by\":\"sentineld\",\"requested_at\":\"%s\","
                  "\"reason\":\"the rule escalated to critical after %lld "
                  "hits\"}",
                  t, (long long)inc->hit_count);
    sn_incident_set(&inc->pending, b->data, b->len);
    *asked = true;
    f->st.escalations++;
}

enum sn_status
sn_fold_signal(struct sn_fold *f, const char *json, size_t len, int64_t now,
               struct sn_error *err)
{
    struct json_object *o, *key = NULL, *ev = NULL, *win = NULL, *v;
    struct json_object *items = NULL;
    struct sn_incident inc;
    const char *type, *rule, *state, *gk;
    char reason[256];
    int sev, base;
    int64_t when, first, last, count;
    bool degraded, is_new = false, asked = false;
    enum sn_status rc = SN_OK;

    json_tokener_reset(f->tok);
    o = json_tokener_parse_ex(f->tok, json, (int)len);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        sn_error_set(err, "not a JSON object: %s",
                     json_tokener_error_desc(json_tokener_get_error(f->tok)));
        json_object_put(o);
        f->st.invalid++;
        return SN_EINVAL;
    }
    type = get_str(o, "type");
    rule = get_str(o, "rule");
    if (rule == NULL)
        rule = get_str(o, "rule_id");
    state = get_str(o, "state");
    if ((type != NULL && strcmp(type, "signal") != 0) || rule == NULL ||
        rule[0] == '\0') {
        sn_error_set(err, "not a signal: %s", type == NULL || rule == NULL
                                                   ? "no \"rule\""
                                                   : "\"type\" is not signal");
        json_object_put(o);
        f->st.invalid++;
        return SN_EINVAL;
    }
    if (state == NULL)
        state = "firing";
    degraded = strcmp(state, "degraded") == 0;
    sev = get_str(o, "severity") ? sn_severity_parse(get_str(o, "severity"))
                                 : SN_SEV_MEDIUM;
    base = get_str(o, "base_severity")
               ? sn_severity_parse(get_str(o, "base_severity"))
               : sev;
    if (sev < 0)
        sev = SN_SEV_MEDIUM;
    when = get_int(o, "time_ns", now);
    json_object_object_get_ex(o, "window", &win);
    first = win ? get_int(win, "first_ns", when) : when;
    last = win ? get_int(win, "last_ns", when) : when;
    count = win ? get_int(win, "count", 1) : 1;
    if (count < 1)
        count = 1;

    /* The group key is the incident's identity: never scrubbed (only the
     * rule's group_by fields are in it). */
    if (json_object_object_get_ex(o, "key", &key))
        json_object_get(key);
    json_object_object_del(o, "key");
    if (degraded)
        gk = "{\"degraded\":true}";
    else if (key != NULL && json_object_is_type(key, json_type_object))
        gk = json_object_to_json_string_ext(key, JSON_FLAGS);
    else
        gk = "{}";
    if (strcmp(state, "resolved") == 0) {
        rc = resolve_key(f, rule, gk, now, last);
        goto out;
    }
    if (strcmp(state, "firing") != 0 && !degraded) {
        sn_error_set(err, "unknown signal state '%s'", state);
        f->st.invalid++;
        rc = SN_EINVAL;
        goto out;
    }
    if (f->scrub != NULL)
        sn_scrub_json(f->scrub, o);
    if (json_object_object_get_ex(o, "evidence", &ev))
        json_object_get(ev);
    json_object_object_del(o, "evidence");
    items = json_object_new_array();
    collect_items(ev, items);
    if (json_object_object_get_ex(o, "sequence", &v))
        collect_items(v, items);

    sn_incident_init(&inc);
    rc = sn_store_find_open(f->store, rule, gk, &inc);
    if (rc == SN_DECLINED) {
        is_new = true;
        sn_uuid4(inc.id);
        sn_store_last_resolved(f->store, rule, gk, inc.previous_id);
        inc.version = 0;
        if (sn_incident_set(&inc.rule_id, rule, strlen(rule)) ||
            sn_incident_set(&inc.group_key, gk, strlen(gk))) {
            rc = SN_ENOMEM;
            goto done;
        }
        inc.base_severity = (enum sn_severity)(base >= 0 ? base : sev);
        inc.severity = inc.base_severity;
        inc.first_seen = first;
        inc.last_seen = last;
        inc.created_at = now;
        inc.degraded = degraded;
        rc = SN_OK;
    } else if (rc != SN_OK) {
        rc = SN_EIO;
        goto done;
    }
    if (get_str(o, "title") != NULL)
        sn_incident_set(&inc.title, get_str(o, "title"),
                        strlen(get_str(o, "title")));
    else if (degraded && inc.title == NULL) {
        snprintf(reason, sizeof(reason), "Detection degraded: %s", rule);
        sn_incident_set(&inc.title, reason, strlen(reason));
    }
    if (get_str(o, "description") != NULL)
        sn_incident_set(&inc.description, get_str(o, "description"),
                        strlen(get_str(o, "description")));
    if (json_object_object_get_ex(o, "tags", &v) &&
        json_object_is_type(v, json_type_array))
        set_json(&inc.tags, v);
    inc.quiet_ms = get_int(o, "quiet_ms", f->auto_resolve_ms);
    if (first < inc.first_seen)
        inc.first_seen = first;
    if (last > inc.last_seen)
        inc.last_seen = last;
    inc.hit_count += count;
    inc.signal_count++;
    escalate(f, &inc, sev, base, now, &asked);
    if ((rc = merge_evidence(f, &inc, items)) != SN_OK ||
        (rc = set_json(&inc.explanation, o)) != SN_OK)
        goto done;
    inc.version++;
    inc.updated_at = now;
    inc.touched_at = now;
    if (degraded)
        snprintf(reason, sizeof(reason),
                 "detection degraded: keys evicted or events dropped");
    else
        snprintf(reason, sizeof(reason), "%s signal: %lld events%s",
                 sn_severity_name((enum sn_severity)sev), (long long)count,
                 asked ? "; escalation to critical waits for approval" : "");
    rc = record(f, &inc, is_new ? "open" : asked ? "escalation requested"
                                                 : "update",
                reason);
    if (rc == SN_OK) {
        if (is_new)
            f->st.opened++;
        else
            f->st.updated++;
        if (degraded)
            f->st.degraded++;
    }
done:
    sn_incident_fini(&inc);
out:
    json_object_put(items);
    json_object_put(ev);
    json_object_put(key);
    json_object_put(o);
    if (rc == SN_EIO || rc == SN_ENOMEM)
        sn_error_set(err, "incident store %s: %s", sn_store_path(f->store),
                     sn_store_errmsg(f->store));
    return rc == SN_ENOMEM ? SN_EIO : rc;
}

enum sn_status
sn_fold_quiet(struct sn_fold *f, int64_t now, size_t *n)
{
    char ids[64][SN_UUID_LEN + 1];
    size_t k = sn_store_quiet(f->store, now, ids, 64);
    char reason[128];

    *n = 0;
    for (size_t i = 0; i < k; i++) {
        struct sn_incident inc;
        enum sn_status rc;
        sn_incident_init(&inc);
        rc = sn_store_get(f->store, ids[i], &inc);
        if (rc == SN_OK) {
            snprintf(reason, sizeof(reason),
                     "no signal for %lld s (quiet period)",
                     (long long)(inc.quiet_ms / 1000));
            strcpy(inc.status, "resolved");
            sn_incident_set(&inc.pending, NULL, 0);
            inc.version++;
            inc.updated_at = now;
            rc = record(f, &inc, "auto-resolve", reason);
            f->st.resolved++;
            (*n)++;
        }
        sn_incident_fini(&inc);
        if (rc != SN_OK && rc != SN_DECLINED)
            return SN_EIO;
    }
    return SN_OK;
}
