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
#include "incident/partition.h"

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

static void sn_fold_discard_all(struct sn_fold *f);

void
sn_fold_fini(struct sn_fold *f)
{
    sn_fold_discard_all(f);
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

struct sn_fold_entry {
    uint64_t hash; /* of rule id and group key */
    struct sn_incident inc;
    struct json_object *evidence;    /* array, owned */
    struct json_object *explanation; /* the latest signal, owned */
    bool is_new, asked;
    int64_t n_signals, n_events;
    int last_sev;
};

static uint64_t
key_hash(const char *rule, const char *key)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (const char *p = rule; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void
entry_fini(struct sn_fold_entry *e)
{
    sn_incident_fini(&e->inc);
    json_object_put(e->evidence);
    json_object_put(e->explanation);
    memset(e, 0, sizeof(*e));
}

static void
drop_entry(struct sn_fold *f, size_t i)
{
    entry_fini(&f->cache[i]);
    f->cache[i] = f->cache[--f->n_cache];
}

void
sn_fold_discard(struct sn_fold *f)
{
    while (f->n_cache > 0)
        drop_entry(f, f->n_cache - 1);
}

static void
sn_fold_discard_all(struct sn_fold *f)
{
    sn_fold_discard(f);
    free(f->cache);
    f->cache = NULL;
    f->cap_cache = 0;
}

/* Add fresh items to the window; when full keep the first half as first
 * seen (how it began) and the newest after it (how it goes on). */
static void
merge_evidence(struct sn_fold *f, struct json_object *all,
               struct json_object *fresh)
{
    size_t n_old = json_object_array_length(all), n;
    size_t head = f->evidence_max / 2;

    for (size_t i = 0; i < json_object_array_length(fresh); i++) {
        struct json_object *it = json_object_array_get_idx(fresh, i);
        bool dup = false;
        for (size_t j = 0; j < n_old && !dup; j++)
            dup = same_item(json_object_array_get_idx(all, j), it);
        if (!dup)
            json_object_array_add(all, json_object_get(it));
    }
    n = json_object_array_length(all);
    if (n > f->evidence_max)
        json_object_array_del_idx(all, head, n - f->evidence_max);
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

/* Write one changed incident as its next version. */
static enum sn_status
write_entry(struct sn_fold *f, struct sn_fold_entry *e, int64_t now)
{
    struct sn_incident *inc = &e->inc;
    char reason[256];
    const char *action;

    if (set_json(&inc->evidence, e->evidence) != SN_OK ||
        (e->explanation != NULL &&
         set_json(&inc->explanation, e->explanation) != SN_OK))
        return SN_EIO;
    /* One per signal, however the batch grouped them: the same signals
     * give the same version on any instance (docs/incidents.md). */
    inc->version += e->n_signals > 0 ? e->n_signals : 1;
    inc->updated_at = now;
    if (strcmp(inc->status, "resolved") == 0) {
        action = "resolve";
        snprintf(reason, sizeof(reason),
                 "the detector reported the condition resolved");
    } else {
        action = e->is_new ? "open" : e->asked ? "escalation requested"
                                               : "update";
        if (inc->degraded)
            snprintf(reason, sizeof(reason),
                     "detection degraded: keys evicted or events dropped");
        else
            snprintf(reason, sizeof(reason), "%lld %s signal%s: %lld events%s",
                     (long long)e->n_signals,
                     sn_severity_name((enum sn_severity)e->last_sev),
                     e->n_signals == 1 ? "" : "s", (long long)e->n_events,
                     e->asked ? "; escalation to critical waits for approval"
                              : "");
    }
    if (record(f, inc, action, reason) != SN_OK)
        return SN_EIO;
    inc->fresh = false;
    if (e->is_new)
        f->st.opened++;
    else if (strcmp(inc->status, "resolved") != 0)
        f->st.updated++;
    e->is_new = false;
    e->asked = false;
    e->n_signals = e->n_events = 0;
    return SN_OK;
}

enum sn_status
sn_fold_flush(struct sn_fold *f, int64_t now, struct sn_error *err)
{
    for (size_t i = 0; i < f->n_cache; i++)
        if (f->cache[i].n_signals > 0 &&
            write_entry(f, &f->cache[i], now) != SN_OK) {
            sn_error_set(err, "incident store %s: %s",
                         sn_store_path(f->store), sn_store_errmsg(f->store));
            return SN_EIO;
        }
    sn_fold_discard(f);
    return SN_OK;
}

/* The batch's entry for the key: cached, loaded from the store, or NULL
 * with *rc SN_DECLINED when no incident is open for it. */
static struct sn_fold_entry *
lookup(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
       enum sn_status *rc)
{
    struct sn_fold_entry *e;

    for (size_t i = 0; i < f->n_cache; i++) {
        e = &f->cache[i];
        if (e->hash == h && strcmp(e->inc.rule_id, rule) == 0 &&
            strcmp(e->inc.group_key, key) == 0) {
            *rc = SN_OK;
            return e;
        }
    }
    if (f->n_cache == f->cap_cache) {
        size_t cap = f->cap_cache ? f->cap_cache * 2 : 64;
        void *p = realloc(f->cache, cap * sizeof(*f->cache));
        if (p == NULL) {
            *rc = SN_ENOMEM;
            return NULL;
        }
        f->cache = p;
        f->cap_cache = cap;
    }
    e = &f->cache[f->n_cache];
    memset(e, 0, sizeof(*e));
    sn_incident_init(&e->inc);
    *rc = sn_store_find_open(f->store, rule, key, &e->inc);
    if (*rc != SN_OK) {
        sn_incident_fini(&e->inc);
        return NULL;
    }
    e->hash = h;
    e->evidence = e->inc.evidence ? json_tokener_parse(e->inc.evidence) : NULL;
    if (e->evidence == NULL ||
        !json_object_is_type(e->evidence, json_type_array)) {
        json_object_put(e->evidence);
        e->evidence = json_object_new_array();
    }
    f->n_cache++;
    return e;
}

/* A new incident for the key, in the cache. */
static struct sn_fold_entry *
open_entry(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
           int sev, int base, int64_t first, int64_t last, int64_t now,
           bool degraded)
{
    struct sn_fold_entry *e;

    if (f->n_cache == f->cap_cache) {
        size_t cap = f->cap_cache ? f->cap_cache * 2 : 64;
        void *p = realloc(f->cache, cap * sizeof(*f->cache));
        if (p == NULL)
            return NULL;
        f->cache = p;
        f->cap_cache = cap;
    }
    e = &f->cache[f->n_cache];
    memset(e, 0, sizeof(*e));
    sn_incident_init(&e->inc);
    e->hash = h;
    e->is_new = true;
    e->inc.fresh = true;
    sn_uuid4(e->inc.id);
    sn_store_last_resolved(f->store, rule, key, e->inc.previous_id);
    if (sn_incident_set(&e->inc.rule_id, rule, strlen(rule)) ||
        sn_incident_set(&e->inc.group_key, key, strlen(key)) ||
        (e->evidence = json_object_new_array()) == NULL) {
        entry_fini(e);
        return NULL;
    }
    e->inc.base_severity = (enum sn_severity)(base >= 0 ? base : sev);
    e->inc.severity = e->inc.base_severity;
    e->inc.first_seen = first;
    e->inc.last_seen = last;
    e->inc.created_at = now;
    e->inc.degraded = degraded;
    f->n_cache++;
    return e;
}

/* A resolved signal: written at once (not coalesced), so that a key
 * firing again later in the batch opens a new incident. */
static enum sn_status
resolve_key(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
            int64_t now, int64_t when)
{
    struct sn_fold_entry *e;
    enum sn_status rc;

    e = lookup(f, rule, key, h, &rc);
    if (rc == SN_DECLINED) {
        f->st.ignored++; /* nothing open: already resolved by hand */
        return SN_OK;
    }
    if (e == NULL)
        return SN_EIO;
    if (e->n_signals > 0 && write_entry(f, e, now) != SN_OK)
        return SN_EIO;
    strcpy(e->inc.status, "resolved");
    sn_incident_set(&e->inc.pending, NULL, 0);
    if (when > e->inc.last_seen)
        e->inc.last_seen = when;
    e->inc.signal_count++;
    e->n_signals = 1;
    rc = write_entry(f, e, now);
    f->st.resolved++;
    drop_entry(f, (size_t)(e - f->cache));
    return rc;
}

/* Severity from a signal: raise, but park a raise to CRITICAL that the
 * rule did not start at for an operator's approval. */
static void
escalate(struct sn_fold *f, struct sn_fold_entry *e, int sev, int base,
         int64_t now)
{
    struct sn_incident *inc = &e->inc;
    char t[40];
    struct sn_buf *b = &f->tmp;

    if (sev <= (int)inc->severity)
        return;
    if (sev < SN_SEV_CRITICAL || base == SN_SEV_CRITICAL) {
        inc->severity = (enum sn_severity)sev;
        return;
    }
    if (base > (int)inc->severity && base < SN_SEV_CRITICAL)
        inc->severity = (enum sn_severity)base;
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
    e->asked = true;
    f->st.escalations++;
}

void
sn_fold_sig_fini(struct sn_fold_sig *sig)
{
    free(sig->rule);
    free(sig->gk);
    free(sig->src_input);
    free(sig->src_topic);
    json_object_put(sig->o);
    json_object_put(sig->items);
    memset(sig, 0, sizeof(*sig));
}

enum sn_status
sn_fold_prepare(struct json_tokener *tok, struct sn_scrub *scrub,
                const char *json, size_t len, struct sn_fold_sig *sig,
                struct sn_error *err)
{
    struct json_object *o, *key = NULL, *ev = NULL, *win = NULL, *v;
    const char *type, *rule, *state, *gk;

    memset(sig, 0, sizeof(*sig));
    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, json, (int)len);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        sn_error_set(err, "not a JSON object: %s",
                     json_tokener_error_desc(json_tokener_get_error(tok)));
        json_object_put(o);
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
        return SN_EINVAL;
    }
    if (state == NULL || strcmp(state, "firing") == 0)
        sig->state = SN_SIG_FIRING;
    else if (strcmp(state, "resolved") == 0)
        sig->state = SN_SIG_RESOLVED;
    else if (strcmp(state, "degraded") == 0)
        sig->state = SN_SIG_DEGRADED;
    else {
        sn_error_set(err, "unknown signal state '%s'", state);
        json_object_put(o);
        return SN_EINVAL;
    }
    sig->sev = get_str(o, "severity")
                   ? sn_severity_parse(get_str(o, "severity"))
                   : SN_SEV_MEDIUM;
    sig->base = get_str(o, "base_severity")
                    ? sn_severity_parse(get_str(o, "base_severity"))
                    : sig->sev;
    if (sig->sev < 0)
        sig->sev = SN_SEV_MEDIUM;
    sig->when = get_int(o, "time_ns", 0);
    json_object_object_get_ex(o, "window", &win);
    sig->first = win ? get_int(win, "first_ns", sig->when) : sig->when;
    sig->last = win ? get_int(win, "last_ns", sig->when) : sig->when;
    sig->count = win ? get_int(win, "count", 1) : 1;
    if (sig->count < 1)
        sig->count = 1;
    sig->quiet_ms = get_int(o, "quiet_ms", -1);
    if (sn_partition_sig_source(o, sig) != SN_OK) {
        json_object_put(o);
        sn_fold_sig_fini(sig);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }

    /* The group key is the incident's identity: never scrubbed (only the
     * rule's group_by fields are in it). */
    if (json_object_object_get_ex(o, "key", &key))
        json_object_get(key);
    json_object_object_del(o, "key");
    if (sig->state == SN_SIG_DEGRADED)
        gk = "{\"degraded\":true}";
    else if (key != NULL && json_object_is_type(key, json_type_object))
        gk = json_object_to_json_string_ext(key, JSON_FLAGS);
    else
        gk = "{}";
    sig->rule = strdup(rule);
    sig->gk = strdup(gk);
    json_object_put(key);
    if (sig->rule == NULL || sig->gk == NULL) {
        json_object_put(o);
        sn_fold_sig_fini(sig);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    sig->hash = key_hash(sig->rule, sig->gk);
    if (sig->state == SN_SIG_RESOLVED) {
        json_object_put(o);
        return SN_OK;
    }
    if (scrub != NULL)
        sn_scrub_json(scrub, o);
    if (json_object_object_get_ex(o, "evidence", &ev))
        json_object_get(ev);
    json_object_object_del(o, "evidence");
    sig->items = json_object_new_array();
    collect_items(ev, sig->items);
    if (json_object_object_get_ex(o, "sequence", &v))
        collect_items(v, sig->items);
    json_object_put(ev);
    sig->o = o;
    return SN_OK;
}

enum sn_status
sn_fold_apply(struct sn_fold *f, struct sn_fold_sig *sig, int64_t now,
              struct sn_error *err)
{
    struct sn_fold_entry *e;
    struct json_object *v, *o = sig->o;
    char title[256];
    bool degraded = sig->state == SN_SIG_DEGRADED;
    int64_t when = sig->when ? sig->when : now;
    int64_t first = sig->first ? sig->first : when;
    int64_t last = sig->last ? sig->last : when;
    enum sn_status rc;

    if (sig->state == SN_SIG_RESOLVED) {
        rc = resolve_key(f, sig->rule, sig->gk, sig->hash, now, last);
        goto out;
    }
    e = lookup(f, sig->rule, sig->gk, sig->hash, &rc);
    if (rc == SN_DECLINED) {
        e = open_entry(f, sig->rule, sig->gk, sig->hash, sig->sev, sig->base,
                       first, last, now, degraded);
        if (e != NULL)
            sn_partition_open(f->store, sig, &e->inc);
    }
    if (e == NULL || sn_partition_tag(&e->inc, sig) != SN_OK) {
        rc = SN_EIO;
        goto out;
    }
    rc = SN_OK;
    if (get_str(o, "title") != NULL)
        sn_incident_set(&e->inc.title, get_str(o, "title"),
                        strlen(get_str(o, "title")));
    else if (degraded && e->inc.title == NULL) {
        snprintf(title, sizeof(title), "Detection degraded: %s", sig->rule);
        sn_incident_set(&e->inc.title, title, strlen(title));
    }
    if (get_str(o, "description") != NULL)
        sn_incident_set(&e->inc.description, get_str(o, "description"),
                        strlen(get_str(o, "description")));
    if (json_object_object_get_ex(o, "tags", &v) &&
        json_object_is_type(v, json_type_array))
        set_json(&e->inc.tags, v);
    e->inc.quiet_ms = sig->quiet_ms >= 0 ? sig->quiet_ms : f->auto_resolve_ms;
    if (first < e->inc.first_seen)
        e->inc.first_seen = first;
    if (last > e->inc.last_seen)
        e->inc.last_seen = last;
    e->inc.hit_count += sig->count;
    e->inc.signal_count++;
    e->inc.touched_at = now;
    e->n_signals++;
    e->n_events += sig->count;
    e->last_sev = sig->sev;
    escalate(f, e, sig->sev, sig->base, now);
    merge_evidence(f, e->evidence, sig->items);
    json_object_put(e->explanation);
    e->explanation = json_object_get(o);
    if (degraded)
        f->st.degraded++;
out:
    if (rc == SN_EIO || rc == SN_ENOMEM)
        sn_error_set(err, "incident store %s: %s", sn_store_path(f->store),
                     sn_store_errmsg(f->store));
    return rc == SN_ENOMEM ? SN_EIO : rc;
}

enum sn_status
sn_fold_signal(struct sn_fold *f, const char *json, size_t len, int64_t now,
               struct sn_error *err)
{
    struct sn_fold_sig sig;
    enum sn_status rc;

    rc = sn_fold_prepare(f->tok, f->scrub, json, len, &sig, err);
    if (rc != SN_OK) {
        f->st.invalid++;
        return rc == SN_ENOMEM ? SN_EIO : rc;
    }
    rc = sn_fold_apply(f, &sig, now, err);
    sn_fold_sig_fini(&sig);
    return rc;
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
