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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
label_name(const char *k, char *out, size_t len)
{
    size_t j = 0;

    if (isdigit((unsigned char)k[0]) && j + 1 < len)
        out[j++] = '_';
    for (; *k != '\0' && j + 1 < len; k++)
        out[j++] = isalnum((unsigned char)*k) ? *k : '_';
    out[j] = '\0';
}

static struct json_object *
labels_of(struct json_object *doc)
{
    struct json_object *l = json_object_new_object(), *gk, *tags;

    json_object_object_add(l, "alertname",
                           json_object_new_string(member_str(doc, "rule_id")));
    json_object_object_add(l, "rule_id",
                           json_object_new_string(member_str(doc, "rule_id")));
    json_object_object_add(l, "incident_id",
                           json_object_new_string(member_str(doc, "id")));
    json_object_object_add(l, "severity",
                           json_object_new_string(member_str(doc, "severity")));
    if (json_object_object_get_ex(doc, "group_key", &gk) &&
        json_object_is_type(gk, json_type_object)) {
        json_object_object_foreach(gk, k, v)
        {
            char name[128];
            const char *text =
                json_object_is_type(v, json_type_string)
                    ? json_object_get_string(v)
                    : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

            label_name(k, name, sizeof(name));
            /* A key field never replaces one of ours. */
            if (!json_object_object_get_ex(l, name, NULL))
                json_object_object_add(l, name, json_object_new_string(text));
        }
    }
    if (json_object_object_get_ex(doc, "tags", &tags) &&
        json_object_is_type(tags, json_type_array) &&
        json_object_array_length(tags) > 0) {
        char buf[1024];
        size_t at = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < json_object_array_length(tags); i++) {
            const char *t =
                json_object_get_string(json_object_array_get_idx(tags, i));
            int w = snprintf(buf + at, sizeof(buf) - at, "%s%s", i ? "," : "",
                             t ? t : "");
            if (w < 0 || (size_t)w >= sizeof(buf) - at)
                break;
            at += (size_t)w;
        }
        json_object_object_add(l, "tags", json_object_new_string(buf));
    }
    return l;
}

static struct json_object *
alert_of(const struct oa_state *s, struct json_object *doc)
{
    struct json_object *a = json_object_new_object(),
                       *ann = json_object_new_object();
    const char *id = member_str(doc, "id");
    char link[512];

    json_object_object_add(a, "labels", labels_of(doc));
    json_object_object_add(ann, "title",
                           json_object_new_string(member_str(doc, "title")));
    json_object_object_add(ann, "summary",
                           json_object_new_string(member_str(doc, "title")));
    json_object_object_add(
        ann, "description",
        json_object_new_string(member_str(doc, "description")));
    json_object_object_add(ann, "status",
                           json_object_new_string(member_str(doc, "status")));
    if (s->c->console_url != NULL) {
        snprintf(link, sizeof(link), "%s/#/incident/%s", s->c->console_url, id);
        json_object_object_add(ann, "console", json_object_new_string(link));
        json_object_object_add(a, "generatorURL", json_object_new_string(link));
    }
    json_object_object_add(a, "annotations", ann);
    json_object_object_add(
        a, "startsAt", json_object_new_string(member_str(doc, "first_seen")));
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
        struct json_object *doc = json_tokener_parse(docs[i].json.ptr);
        struct json_object *alert, *prev = NULL;
        const char *id;

        if (doc == NULL) {
            snprintf(why, why_len, "cannot parse incident %.*s v%lld",
                     (int)docs[i].id.len, docs[i].id.ptr,
                     (long long)docs[i].version);
            res = SN_OUT_RETRY;
            goto out;
        }
        alert = alert_of(s, doc);
        id = member_str(doc, "id");
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
        json_object_put(doc);
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
