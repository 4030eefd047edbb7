/*
 * Incident versions as Alertmanager alerts (POST /api/v2/alerts).
 * Labels identify an alert in Alertmanager, so they hold what routing
 * and grouping need and what does not change while the incident lives
 * except severity: alertname (the rule id), rule_id, incident_id,
 * severity, the group key's fields (dots become underscores) and tags.
 * When the severity changes the alert under the old labels is ended in
 * the same request, so Alertmanager never shows both. A resolved or
 * suppressed incident is sent with endsAt = now; a live one with endsAt
 * four resend intervals ahead (as Prometheus does with its evaluation
 * interval) and re-sent by the re-send thread while it stays open.
 */
#include "out_alertmanager.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/json_fast.h"

/* Alerts per re-send request. */
#define RESEND_CHUNK 500

static void
rfc3339(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    char day[32];

    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%.20s.%03dZ", day, (int)(ms % 1000));
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_ends(struct json_object *alert, int64_t ms)
{
    char t[40];

    rfc3339(ms, t, sizeof(t));
    json_object_object_add(alert, "endsAt", json_object_new_string(t));
}

/* The members an alert is made of. */
enum {
    F_ID,
    F_RULE,
    F_SEV,
    F_TITLE,
    F_DESC,
    F_STATUS,
    F_FIRST,
    F_STRINGS_, /* the string members above; then: */
    F_GROUP = F_STRINGS_,
    F_TAGS,
    F_COUNT_
};
static const char *const field_keys[F_COUNT_] = {
    "id",     "rule_id",    "severity",  "title", "description",
    "status", "first_seen", "group_key", "tags"
};

/* Tags the one-pass reader takes; more go to json-c. */
#define FAST_MAX_TAGS 64

/* What one version's alert is built from, by either reader. */
struct fields {
    struct sn_str s[F_STRINGS_]; /* "" when absent or not a string */
    struct json_object *labels;  /* owned */
    struct json_object *tree;    /* json-c's reading: holds s[] */
};

static const char *
member_str(struct json_object *doc, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(doc, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

/* A label name from a group key field: [a-zA-Z0-9_], not a digit first. */
static void
label_name(const char *k, size_t k_len, char *out, size_t len)
{
    size_t j = 0;

    if (k_len > 0 && isdigit((unsigned char)k[0]) && j + 1 < len)
        out[j++] = '_';
    for (size_t i = 0; i < k_len && j + 1 < len; i++)
        out[j++] = isalnum((unsigned char)k[i]) ? k[i] : '_';
    out[j] = '\0';
}

static struct json_object *
str_new(struct sn_str v)
{
    return json_object_new_string_len(v.ptr, (int)v.len);
}

/* The labels every alert has, from f->s. */
static struct json_object *
labels_new(const struct fields *f)
{
    struct json_object *l = json_object_new_object();

    json_object_object_add(l, "alertname", str_new(f->s[F_RULE]));
    json_object_object_add(l, "rule_id", str_new(f->s[F_RULE]));
    json_object_object_add(l, "incident_id", str_new(f->s[F_ID]));
    json_object_object_add(l, "severity", str_new(f->s[F_SEV]));
    return l;
}

static void
key_label(struct json_object *l, const char *k, size_t k_len,
          struct sn_str text)
{
    char name[128];

    label_name(k, k_len, name, sizeof(name));
    /* A key field never replaces one of ours. */
    if (!json_object_object_get_ex(l, name, NULL))
        json_object_object_add(l, name, str_new(text));
}

/* The tags label: the tags joined by commas, cut at 1,023 bytes. */
struct join {
    char buf[1024];
    size_t at;
};

static void
join_put(struct join *j, const char *p, size_t n)
{
    size_t room = sizeof(j->buf) - 1 - j->at;

    if (n > room)
        n = room;
    memcpy(j->buf + j->at, p, n);
    j->at += n;
}

static void
join_add(struct join *j, bool first, const char *t, size_t n)
{
    if (!first)
        join_put(j, ",", 1);
    join_put(j, t, n);
}

static void
tags_label(struct json_object *l, const struct join *j)
{
    json_object_object_add(
        l, "tags", json_object_new_string_len(j->buf, (int)j->at));
}

/* json-c's reading: the whole document as a tree. */
static bool
fields_tree(const struct sn_doc *d, struct fields *f)
{
    struct json_object *doc = json_tokener_parse(d->json.ptr), *gk, *tags;

    if (doc == NULL)
        return false;
    for (int i = 0; i < F_STRINGS_; i++) {
        f->s[i].ptr = member_str(doc, field_keys[i]);
        f->s[i].len = strlen(f->s[i].ptr);
    }
    f->labels = labels_new(f);
    if (json_object_object_get_ex(doc, "group_key", &gk) &&
        json_object_is_type(gk, json_type_object)) {
        json_object_object_foreach(gk, k, v)
        {
            const char *text =
                json_object_is_type(v, json_type_string)
                    ? json_object_get_string(v)
                    : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

            key_label(f->labels, k, strlen(k),
                      (struct sn_str){ text, strlen(text) });
        }
    }
    if (json_object_object_get_ex(doc, "tags", &tags) &&
        json_object_is_type(tags, json_type_array) &&
        json_object_array_length(tags) > 0) {
        struct join j = { .at = 0 };

        for (size_t i = 0; i < json_object_array_length(tags); i++) {
            const char *t =
                json_object_get_string(json_object_array_get_idx(tags, i));

            join_add(&j, i == 0, t ? t : "", t ? strlen(t) : 0);
        }
        tags_label(f->labels, &j);
    }
    f->tree = doc;
    return true;
}

/* A string member read in one pass: a slice of the document, or its
 * decoded copy at *at (the caller's scratch, as long as the document). */
static struct sn_str
fast_str(const struct jf_val *v, char **at)
{
    struct sn_str out = { "", 0 };

    if (v->type != JF_STR)
        return out;
    if (!v->esc) {
        out.ptr = v->p;
        out.len = v->n;
        return out;
    }
    out.ptr = *at;
    out.len = jf_unescape(v, *at);
    *at += out.len;
    return out;
}

/* The common case: the members read in one pass over the text, no tree.
 * False when that reader declines the text, a group key field is a
 * fraction or an object, or the tags are not all strings (json-c then:
 * what it writes for those is its own). */
static bool
fields_fast(struct oa_state *s, const struct sn_doc *d, struct fields *f)
{
    struct jf_val v[F_COUNT_], tags[FAST_MAX_TAGS];
    struct jf_obj gk;
    size_t n_tags = 0;
    char *at;

    if (!jf_top_members(d->json.ptr, d->json.len, field_keys, F_COUNT_, v))
        return false;
    gk.n = 0;
    /* Depth 1: a nested object is declined, as any other non-string. */
    if (v[F_GROUP].type == JF_OBJ &&
        !jf_check(v[F_GROUP].p, v[F_GROUP].n, 1, &gk))
        return false;
    for (size_t i = 0; i < gk.n; i++)
        if (gk.m[i].v.type == JF_DOUBLE) /* json-c's own formatting */
            return false;
    if (v[F_TAGS].type == JF_ARR &&
        !jf_array_strings(&v[F_TAGS], tags, FAST_MAX_TAGS, &n_tags))
        return false;
    /* Decoded strings are never longer than their text, and the texts
     * are disjoint slices of the document. */
    if (s->scratch_len < d->json.len + 1) {
        char *p = realloc(s->scratch, d->json.len + 1);

        if (p == NULL)
            return false;
        s->scratch = p;
        s->scratch_len = d->json.len + 1;
    }
    at = s->scratch;
    for (int i = 0; i < F_STRINGS_; i++)
        f->s[i] = fast_str(&v[i], &at);
    f->labels = labels_new(f);
    for (size_t i = 0; i < gk.n; i++) {
        const struct jf_val *kv = &gk.m[i].v;
        char num[24];
        struct sn_str text = { num, 0 };

        /* What json-c writes for a number, boolean or null. */
        if (kv->type == JF_STR)
            text = fast_str(kv, &at);
        else if (kv->type == JF_INT)
            text.len = (size_t)snprintf(num, sizeof(num), "%" PRId64, kv->u.i);
        else if (kv->type == JF_BOOL)
            text = kv->u.b ? (struct sn_str){ "true", 4 }
                           : (struct sn_str){ "false", 5 };
        else
            text = (struct sn_str){ "null", 4 };
        key_label(f->labels, gk.m[i].key, gk.m[i].key_len, text);
    }
    if (n_tags > 0) {
        struct join j = { .at = 0 };

        for (size_t i = 0; i < n_tags; i++) {
            struct sn_str t = fast_str(&tags[i], &at);

            join_add(&j, i == 0, t.ptr, t.len);
        }
        tags_label(f->labels, &j);
    }
    f->tree = NULL;
    return true;
}
/* The alert for f (taking its labels); *id: its incident id, valid
 * while the alert lives. */
static struct json_object *
alert_of(const struct oa_state *s, struct fields *f, const char **id)
{
    struct json_object *a = json_object_new_object(),
                       *ann = json_object_new_object(), *v = NULL;
    char link[512];

    json_object_object_get_ex(f->labels, "incident_id", &v);
    *id = json_object_get_string(v);
    json_object_object_add(a, "labels", f->labels);
    f->labels = NULL;
    json_object_object_add(ann, "title", str_new(f->s[F_TITLE]));
    json_object_object_add(ann, "summary", str_new(f->s[F_TITLE]));
    json_object_object_add(ann, "description", str_new(f->s[F_DESC]));
    json_object_object_add(ann, "status", str_new(f->s[F_STATUS]));
    if (s->c->console_url != NULL) {
        snprintf(link, sizeof(link), "%s/#/incident/%s", s->c->console_url,
                 *id);
        json_object_object_add(ann, "console", json_object_new_string(link));
        json_object_object_add(a, "generatorURL", json_object_new_string(link));
    }
    json_object_object_add(a, "annotations", ann);
    json_object_object_add(a, "startsAt", str_new(f->s[F_FIRST]));
    return a;
}

static bool
is_live(const struct sn_doc *d)
{
    return !(d->status.len == 8 && memcmp(d->status.ptr, "resolved", 8) == 0) &&
           !(d->status.len == 10 &&
             memcmp(d->status.ptr, "suppressed", 10) == 0);
}

static bool
same_labels(struct json_object *a, struct json_object *b)
{
    struct json_object *la, *lb;

    json_object_object_get_ex(a, "labels", &la);
    json_object_object_get_ex(b, "labels", &lb);
    return json_object_equal(la, lb);
}

/* POSTs a JSON array of alerts; the verdict. */
static enum hp_verdict
post(struct oa_state *s, struct hp_client *cl, struct json_object *arr,
     char *why, size_t why_len)
{
    size_t len;
    const char *body = json_object_to_json_string_length(
        arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    struct hp_req r = {
        .url = s->alerts_url, .body = body, .len = len, .headers = s->headers
    };
    enum hp_verdict v;

    hp_perform(cl, &r, 1);
    v = hp_verdict(&r);
    s->host->counter_add(s->c_latency_ms, (uint64_t)(r.seconds * 1000.0));
    if (v != HP_OK)
        snprintf(why, why_len, "POST %s: %s", s->alerts_url, r.err);
    return v;
}

enum sn_out_result
oa_deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
           char *why, size_t why_len)
{
    struct oa_state *s = state;
    struct json_object *arr = json_object_new_array();
    /* This call's view of the firing set; applied only once delivered,
     * so a retry judges severity changes against what Alertmanager has. */
    struct json_object *staged = json_object_new_object();
    int64_t now = now_ms(), ends = now + 4 * s->c->resend_ms;
    enum sn_out_result res = SN_OUT_OK;

    (void)token;
    for (size_t i = 0; i < n; i++) {
        struct fields f;
        struct json_object *alert, *prev = NULL;
        const char *id;

        if (!fields_fast(s, &docs[i], &f) && !fields_tree(&docs[i], &f)) {
            snprintf(why, why_len, "cannot parse incident %.*s v%lld",
                     (int)docs[i].id.len, docs[i].id.ptr,
                     (long long)docs[i].version);
            res = SN_OUT_RETRY;
            goto out;
        }
        alert = alert_of(s, &f, &id);
        if (!json_object_object_get_ex(staged, id, &prev)) {
            pthread_mutex_lock(&s->lock);
            if (json_object_object_get_ex(s->firing, id, &prev))
                prev = json_object_get(prev);
            pthread_mutex_unlock(&s->lock);
        } else {
            prev = json_object_get(prev);
        }
        if (prev != NULL && !json_object_is_type(prev, json_type_null) &&
            !same_labels(prev, alert)) {
            struct json_object *old = NULL;

            json_object_deep_copy(prev, &old, NULL);
            set_ends(old, now);
            json_object_array_add(arr, old);
        }
        json_object_put(prev);
        set_ends(alert, is_live(&docs[i]) ? ends : now);
        json_object_array_add(arr, json_object_get(alert));
        json_object_object_add(staged, id, is_live(&docs[i]) ? alert : NULL);
        if (!is_live(&docs[i]))
            json_object_put(alert);
        json_object_put(f.tree);
    }
    switch (post(s, s->http, arr, why, why_len)) {
    case HP_OK:
        s->host->counter_add(s->c_sent, json_object_array_length(arr));
        pthread_mutex_lock(&s->lock);
        json_object_object_foreach(staged, k, v)
        {
            if (v == NULL)
                json_object_object_del(s->firing, k);
            else
                json_object_object_add(s->firing, k, json_object_get(v));
        }
        s->host->gauge_set(s->g_firing,
                           (uint64_t)json_object_object_length(s->firing));
        pthread_mutex_unlock(&s->lock);
        break;
    case HP_RETRY:
        s->host->counter_add(s->c_retries, 1);
        res = SN_OUT_RETRY;
        break;
    case HP_REFUSED:
        /* Alertmanager refused the alerts (400: a label it rejects): the
         * relay splits the call and dead-letters the version at fault. */
        s->host->counter_add(s->c_failed, 1);
        res = SN_OUT_FAIL;
        break;
    }
out:
    json_object_put(arr);
    json_object_put(staged);
    return res;
}

void
oa_resend(struct oa_state *s)
{
    int64_t ends = now_ms() + 4 * s->c->resend_ms;
    struct json_object *arr = json_object_new_array();
    char why[256];

    pthread_mutex_lock(&s->lock);
    json_object_object_foreach(s->firing, k, v)
    {
        struct json_object *a = NULL;

        (void)k;
        json_object_deep_copy(v, &a, NULL);
        set_ends(a, ends);
        json_object_array_add(arr, a);
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t at = 0; at < json_object_array_length(arr);
         at += RESEND_CHUNK) {
        struct json_object *chunk = json_object_new_array();
        size_t end = json_object_array_length(arr);

        if (end > at + RESEND_CHUNK)
            end = at + RESEND_CHUNK;
        for (size_t i = at; i < end; i++)
            json_object_array_add(
                chunk, json_object_get(json_object_array_get_idx(arr, i)));
        if (post(s, s->http_r, chunk, why, sizeof(why)) == HP_OK)
            s->host->counter_add(s->c_resent, end - at);
        else
            s->host->log(s->inst, SN_LOG_WARN,
                         "re-sending %zu firing alerts failed (next try in "
                         "one resend interval): %s",
                         end - at, why);
        json_object_put(chunk);
    }
    json_object_put(arr);
}
