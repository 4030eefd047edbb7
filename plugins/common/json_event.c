/* JSON record -> event mapping; see json_event.h. */
#include "json_event.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

struct json_ctx {
    const struct sn_host *host;
    int max_depth;
};

static const char *
copy(const struct json_ctx *s, struct sn_event *ev, const char *p, size_t n)
{
    char *q = s->host->event_alloc(ev, n + 1);

    if (q != NULL) {
        memcpy(q, p, n);
        q[n] = '\0';
    }
    return q;
}

static const struct {
    const char *key;
    enum sn_field f;
} header_keys[] = {
    { "timestamp", SN_F_TIMESTAMP }, { "hostname", SN_F_HOSTNAME },
    { "host", SN_F_HOSTNAME },       { "appname", SN_F_APPNAME },
    { "app", SN_F_APPNAME },         { "procid", SN_F_PROCID },
    { "msgid", SN_F_MSGID },         { "msg", SN_F_MSG },
    { "message", SN_F_MSG },
};

static enum sn_status
add_value(const struct json_ctx *s, struct sn_event *ev, const char *key,
          size_t key_len, struct json_object *v, int depth)
{
    struct sn_value val;
    struct sn_str k = { key, key_len };

    memset(&val, 0, sizeof(val));
    switch (json_object_get_type(v)) {
    case json_type_null:
        val.type = SN_VAL_NULL;
        break;
    case json_type_boolean:
        val.type = SN_VAL_BOOL;
        val.u.b = json_object_get_boolean(v);
        break;
    case json_type_int:
        val.type = SN_VAL_INT;
        val.u.i = json_object_get_int64(v);
        break;
    case json_type_double:
        val.type = SN_VAL_DOUBLE;
        val.u.d = json_object_get_double(v);
        break;
    case json_type_object:
        if (depth < s->max_depth) {
            json_object_object_foreach(v, ck, cv)
            {
                size_t n = key_len + 1 + strlen(ck);
                char *full = s->host->event_alloc(ev, n + 1);
                enum sn_status rc;

                if (full == NULL)
                    return SN_ENOMEM;
                snprintf(full, n + 1, "%.*s.%s", (int)key_len, key, ck);
                rc = add_value(s, ev, full, n, cv, depth + 1);
                if (rc != SN_OK)
                    return rc;
            }
            return SN_OK;
        }
        /* Too deep: keep the rest as JSON text. */
        __attribute__((fallthrough));
    default: {
        size_t n;
        const char *txt = json_object_get_type(v) == json_type_string
                              ? json_object_get_string(v)
                              : json_object_to_json_string_length(
                                    v, JSON_C_TO_STRING_PLAIN, &n);
        if (json_object_get_type(v) == json_type_string)
            n = (size_t)json_object_get_string_len(v);
        val.type = SN_VAL_STR;
        val.u.s.ptr = copy(s, ev, txt, n);
        val.u.s.len = n;
        if (val.u.s.ptr == NULL)
            return SN_ENOMEM;
        break;
    }
    }
    return s->host->event_set_field(ev, k, &val);
}

/* "sd" as sentineld writes it: {"SD-ID": {"PARAM": "v" | ["v", ...]}}. */
static enum sn_status
add_sd(const struct json_ctx *s, struct sn_event *ev, struct json_object *sd)
{
    s->host->event_set_has_sd(ev, true);
    json_object_object_foreach(sd, id, params)
    {
        struct sn_str sid = { copy(s, ev, id, strlen(id)), strlen(id) };

        if (sid.ptr == NULL)
            return SN_ENOMEM;
        if (!json_object_is_type(params, json_type_object))
            continue;
        json_object_object_foreach(params, name, v)
        {
            struct sn_str sname = { copy(s, ev, name, strlen(name)),
                                    strlen(name) };
            size_t n = json_object_is_type(v, json_type_array)
                           ? json_object_array_length(v)
                           : 1;

            if (sname.ptr == NULL)
                return SN_ENOMEM;
            for (size_t i = 0; i < n; i++) {
                struct json_object *one = json_object_is_type(v, json_type_array)
                                              ? json_object_array_get_idx(v, i)
                                              : v;
                size_t len = (size_t)json_object_get_string_len(one);
                struct sn_str val = {
                    copy(s, ev, json_object_get_string(one), len), len
                };
                enum sn_status rc;

                if (val.ptr == NULL)
                    return SN_ENOMEM;
                if ((rc = s->host->event_add_sd(ev, sid, sname, val)) != SN_OK)
                    return rc;
            }
        }
    }
    return SN_OK;
}

/* Keys of the event schema (docs/events.md) that are not fields: what
 * out_file and out_kafka write parses back into the same event. The
 * receipt keys describe the previous hop and are replaced by this one's;
 * facility and severity are derived from pri; notes are the previous
 * parser's guesses. Returns true when the key was consumed. */
static bool
schema_key(const struct json_ctx *s, struct sn_event *ev, const char *key,
           struct json_object *v, bool has_pri, bool is_event,
           enum sn_status *rc)
{
    static const char *const receipt[] = { "received_ns", "input", "transport",
                                           "peer", "source_offset", "notes" };

    if (strcmp(key, "version") == 0 && json_object_is_type(v, json_type_int)) {
        s->host->event_set_version(ev, json_object_get_int(v));
        return true;
    }
    if (strcmp(key, "timestamp_utc_ns") == 0 &&
        json_object_is_type(v, json_type_int)) {
        s->host->event_set_time(ev, json_object_get_int64(v));
        return true;
    }
    if ((strcmp(key, "facility") == 0 || strcmp(key, "severity") == 0) &&
        (json_object_is_type(v, json_type_null) ||
         (has_pri && json_object_is_type(v, json_type_int))))
        return true;
    if (strcmp(key, "sd") == 0 && (json_object_is_type(v, json_type_null) ||
                                   json_object_is_type(v, json_type_object))) {
        if (json_object_is_type(v, json_type_object))
            *rc = add_sd(s, ev, v);
        return true;
    }
    if (strcmp(key, "fields") == 0 && is_event &&
        json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, fk, fv)
        {
            size_t n = strlen(fk);
            const char *k = copy(s, ev, fk, n);
            *rc = k == NULL ? SN_ENOMEM : add_value(s, ev, k, n, fv, 1);
            if (*rc != SN_OK)
                break;
        }
        return true;
    }
    for (size_t i = 0; is_event && i < sizeof(receipt) / sizeof(receipt[0]);
         i++)
        if (strcmp(key, receipt[i]) == 0)
            return true;
    return false;
}

enum sn_status
json_event_parse(const struct sn_host *host, int max_depth,
                 const struct sn_record *rec, struct sn_event *ev, char *why,
                 size_t why_len, size_t *offset)
{
    const struct json_ctx ctx = { host, max_depth };
    const struct json_ctx *s = &ctx;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root;
    enum sn_status rc = SN_OK;

    if (tok == NULL)
        return SN_ENOMEM;
    root = json_tokener_parse_ex(tok, rec->data.ptr, (int)rec->data.len);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        *offset = tok->char_offset;
        snprintf(why, why_len, "invalid JSON: %s",
                 json_tokener_error_desc(json_tokener_get_error(tok)));
        json_object_put(root);
        json_tokener_free(tok);
        return SN_EINVAL;
    }
    json_tokener_free(tok);
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(why, why_len, "expected a JSON object");
        *offset = 0;
        json_object_put(root);
        return SN_EINVAL;
    }
    {
        struct json_object *pri_v = NULL, *recv = NULL;
        bool has_pri = json_object_object_get_ex(root, "pri", &pri_v) &&
                       json_object_is_type(pri_v, json_type_int);
        /* Written by sentineld (out_file, out_kafka): it carries the
         * receipt keys, which are then not fields of the event. */
        bool is_event = json_object_object_get_ex(root, "received_ns", &recv) &&
                        json_object_is_type(recv, json_type_int);

        json_object_object_foreach(root, key, v)
        {
            bool header = false;

            if (schema_key(s, ev, key, v, has_pri, is_event, &rc)) {
                if (rc != SN_OK)
                    break;
                continue;
            }

            if (strcmp(key, "pri") == 0 && json_object_is_type(v, json_type_int)) {
                int pri = json_object_get_int(v);
                if (pri >= 0 && pri <= 191) {
                    s->host->event_set_pri(ev, pri);
                    continue;
                }
            }
            for (size_t i = 0; i < sizeof(header_keys) / sizeof(header_keys[0]);
                 i++) {
                if (strcmp(key, header_keys[i].key) != 0)
                    continue;
                if (json_object_is_type(v, json_type_null)) {
                    header = true; /* absent, as the schema writes it */
                    break;
                }
                if (json_object_is_type(v, json_type_string)) {
                    size_t n = (size_t)json_object_get_string_len(v);
                    const char *c = copy(s, ev, json_object_get_string(v), n);
                    if (c == NULL) {
                        rc = SN_ENOMEM;
                        break;
                    }
                    s->host->event_set(ev, header_keys[i].f, c, n);
                    header = true;
                    break;
                }
            }
            if (header || rc != SN_OK)
                continue;
            {
                size_t klen = strlen(key);
                const char *k = copy(s, ev, key, klen);
                if (k == NULL)
                    rc = SN_ENOMEM;
                else
                    rc = add_value(s, ev, k, klen, v, 1);
            }
            if (rc == SN_ELIMIT) {
                snprintf(why, why_len, "more fields than the event limit");
                break;
            }
            if (rc != SN_OK)
                break;
        }
    }
    json_object_put(root);
    if (rc == SN_ELIMIT)
        return SN_EINVAL;
    return rc;
}

