/* JSON record -> event mapping; see json_event.h. */
#include "json_event.h"
#include "json_fast.h"

#include <json-c/json.h>
#include <limits.h>
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
        if (n > 0) /* p is NULL for an SD value json-c has no text for */
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
json_event_parse_jsonc(const struct sn_host *host, int max_depth,
                       const struct sn_record *rec, struct sn_event *ev,
                       char *why, size_t why_len, size_t *offset)
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


/* ---- The fast path: the same mapping over json_fast.h's reader. Each
 * step mirrors its json-c twin above; what the reader does not take goes
 * to json-c before anything was set. */

/* A string value: a slice of the record, or decoded into the event. */
static const char *
fstr(const struct json_ctx *s, struct sn_event *ev, const struct jf_val *v,
     size_t *len)
{
    char *q;

    if (!v->esc) {
        *len = v->n;
        return v->p;
    }
    if ((q = s->host->event_alloc(ev, v->n + 1)) == NULL)
        return NULL;
    *len = jf_unescape(v, q);
    q[*len] = '\0';
    return q;
}

static enum sn_status
fadd_value(const struct json_ctx *s, struct sn_event *ev, const char *key,
           size_t key_len, const struct jf_val *v, int depth)
{
    struct sn_value val;
    struct sn_str k = { key, key_len };

    memset(&val, 0, sizeof(val));
    switch (v->type) {
    case JF_NULL:
        val.type = SN_VAL_NULL;
        break;
    case JF_BOOL:
        val.type = SN_VAL_BOOL;
        val.u.b = v->u.b;
        break;
    case JF_INT:
        val.type = SN_VAL_INT;
        val.u.i = v->u.i;
        break;
    case JF_DOUBLE:
        val.type = SN_VAL_DOUBLE;
        val.u.d = v->u.d;
        break;
    case JF_OBJ: {
        /* jf_check kept objects above max_depth: always flattened. */
        struct jf_obj sub;

        (void)depth;
        jf_members(v, &sub);
        for (size_t i = 0; i < sub.n; i++) {
            const struct jf_member *m = &sub.m[i];
            size_t n = key_len + 1 + m->key_len;
            char *full = s->host->event_alloc(ev, n + 1);
            enum sn_status rc;

            if (full == NULL)
                return SN_ENOMEM;
            memcpy(full, key, key_len);
            full[key_len] = '.';
            memcpy(full + key_len + 1, m->key, m->key_len);
            full[n] = '\0';
            rc = fadd_value(s, ev, full, n, &m->v, depth + 1);
            if (rc != SN_OK)
                return rc;
        }
        return SN_OK;
    }
    case JF_STR:
        val.type = SN_VAL_STR;
        val.u.s.ptr = fstr(s, ev, v, &val.u.s.len);
        if (val.u.s.ptr == NULL)
            return SN_ENOMEM;
        break;
    case JF_ARR: /* jf_check declines arrays: not reached */
        return SN_EINVAL;
    }
    return s->host->event_set_field(ev, k, &val);
}

/* "sd" the fast path takes: every parameter value a string (json-c
 * turns other types into their JSON text, arrays into several values). */
static bool
fsd_simple(const struct jf_val *sd)
{
    struct jf_obj ids;

    jf_members(sd, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        struct jf_obj params;

        if (ids.m[i].v.type != JF_OBJ)
            continue;
        jf_members(&ids.m[i].v, &params);
        for (size_t j = 0; j < params.n; j++)
            if (params.m[j].v.type != JF_STR)
                return false;
    }
    return true;
}

static enum sn_status
fadd_sd(const struct json_ctx *s, struct sn_event *ev, const struct jf_val *sd)
{
    struct jf_obj ids;

    s->host->event_set_has_sd(ev, true);
    jf_members(sd, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        struct sn_str sid = { copy(s, ev, ids.m[i].key, ids.m[i].key_len),
                              ids.m[i].key_len };
        struct jf_obj params;

        if (sid.ptr == NULL)
            return SN_ENOMEM;
        if (ids.m[i].v.type != JF_OBJ)
            continue;
        jf_members(&ids.m[i].v, &params);
        for (size_t j = 0; j < params.n; j++) {
            const struct jf_member *p = &params.m[j];
            struct sn_str sname = { copy(s, ev, p->key, p->key_len),
                                    p->key_len };
            struct sn_str val;
            enum sn_status rc;

            if (sname.ptr == NULL)
                return SN_ENOMEM;
            val.ptr = fstr(s, ev, &p->v, &val.len);
            if (val.ptr == NULL)
                return SN_ENOMEM;
            if ((rc = s->host->event_add_sd(ev, sid, sname, val)) != SN_OK)
                return rc;
        }
    }
    return SN_OK;
}

/* What a top-level key means to the mapping, found once per key. */
enum fkey {
    FK_OTHER,
    FK_PRI,
    FK_VERSION,
    FK_TIME_NS,
    FK_FAC_SEV,
    FK_SD,
    FK_FIELDS,
    FK_RECEIPT, /* received_ns, input, transport, peer, source_offset, notes */
    FK_HEADER,  /* header_keys[*hdr] */
};

#define KEY_IS(m, lit)                                                       \
    ((m)->key_len == sizeof(lit) - 1 &&                                      \
     memcmp((m)->key, lit, sizeof(lit) - 1) == 0)

static enum fkey
fclassify(const struct jf_member *m, size_t *hdr)
{
#define FK(lit, kind, h) { lit, sizeof(lit) - 1, kind, h }
    static const struct {
        const char *key;
        size_t len;
        enum fkey kind;
        size_t hdr; /* index in header_keys */
    } keys[] = {
        FK("pri", FK_PRI, 0), FK("version", FK_VERSION, 0),
        FK("timestamp_utc_ns", FK_TIME_NS, 0), FK("facility", FK_FAC_SEV, 0),
        FK("severity", FK_FAC_SEV, 0), FK("sd", FK_SD, 0),
        FK("fields", FK_FIELDS, 0), FK("received_ns", FK_RECEIPT, 0),
        FK("input", FK_RECEIPT, 0), FK("transport", FK_RECEIPT, 0),
        FK("peer", FK_RECEIPT, 0), FK("source_offset", FK_RECEIPT, 0),
        FK("notes", FK_RECEIPT, 0), FK("timestamp", FK_HEADER, 0),
        FK("hostname", FK_HEADER, 1), FK("host", FK_HEADER, 2),
        FK("appname", FK_HEADER, 3), FK("app", FK_HEADER, 4),
        FK("procid", FK_HEADER, 5), FK("msgid", FK_HEADER, 6),
        FK("msg", FK_HEADER, 7), FK("message", FK_HEADER, 8),
    };
#undef FK

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].len == m->key_len && keys[i].key[0] == m->key[0] &&
            memcmp(keys[i].key, m->key, m->key_len) == 0) {
            *hdr = keys[i].hdr;
            return keys[i].kind;
        }
    return FK_OTHER;
}

/* json_object_get_int: int64 clamped to int. */
static int
fclamp(int64_t i)
{
    return i < INT_MIN ? INT_MIN : i > INT_MAX ? INT_MAX : (int)i;
}

/* schema_key() for the fast path. */
static bool
fschema_key(const struct json_ctx *s, struct sn_event *ev,
            const struct jf_member *m, enum fkey kind, bool has_pri,
            bool is_event, enum sn_status *rc)
{
    const struct jf_val *v = &m->v;

    switch (kind) {
    case FK_VERSION:
        if (v->type != JF_INT)
            return false;
        s->host->event_set_version(ev, fclamp(v->u.i));
        return true;
    case FK_TIME_NS:
        if (v->type != JF_INT)
            return false;
        s->host->event_set_time(ev, v->u.i);
        return true;
    case FK_FAC_SEV:
        return v->type == JF_NULL || (has_pri && v->type == JF_INT);
    case FK_SD:
        if (v->type == JF_OBJ)
            *rc = fadd_sd(s, ev, v);
        return v->type == JF_NULL || v->type == JF_OBJ;
    case FK_FIELDS: {
        struct jf_obj sub;

        if (!is_event || v->type != JF_OBJ)
            return false;
        jf_members(v, &sub);
        for (size_t i = 0; i < sub.n; i++) {
            const char *k = copy(s, ev, sub.m[i].key, sub.m[i].key_len);
            *rc = k == NULL ? SN_ENOMEM
                            : fadd_value(s, ev, k, sub.m[i].key_len,
                                         &sub.m[i].v, 1);
            if (*rc != SN_OK)
                break;
        }
        return true;
    }
    case FK_RECEIPT:
        return is_event;
    default:
        return false;
    }
}

/* 1: parsed (*out says how); 0: not for the fast path, nothing was set. */
static int
fast_parse(const struct json_ctx *s, const struct sn_record *rec,
           struct sn_event *ev, char *why, size_t why_len,
           enum sn_status *out)
{
    struct jf_obj root;
    enum fkey kind[JF_MAX_MEMBERS];
    size_t hdr[JF_MAX_MEMBERS];
    bool has_pri = false, is_event = false;
    enum sn_status rc = SN_OK;

    if (!jf_check(rec->data.ptr, rec->data.len, s->max_depth, &root))
        return 0;
    for (size_t i = 0; i < root.n; i++) {
        const struct jf_member *m = &root.m[i];

        kind[i] = fclassify(m, &hdr[i]);
        if (kind[i] == FK_PRI && m->v.type == JF_INT)
            has_pri = true;
        else if (KEY_IS(m, "received_ns") && m->v.type == JF_INT)
            is_event = true;
        else if (kind[i] == FK_SD && m->v.type == JF_OBJ &&
                 !fsd_simple(&m->v))
            return 0;
    }
    for (size_t i = 0; i < root.n; i++) {
        const struct jf_member *m = &root.m[i];
        const struct jf_val *v = &m->v;

        if (fschema_key(s, ev, m, kind[i], has_pri, is_event, &rc)) {
            if (rc != SN_OK)
                break;
            continue;
        }
        if (kind[i] == FK_PRI && v->type == JF_INT && v->u.i >= 0 &&
            v->u.i <= 191) {
            s->host->event_set_pri(ev, (int)v->u.i);
            continue;
        }
        if (kind[i] == FK_HEADER && v->type == JF_NULL)
            continue; /* absent, as the schema writes it */
        if (kind[i] == FK_HEADER && v->type == JF_STR) {
            size_t n;
            const char *c = fstr(s, ev, v, &n);

            if (c == NULL)
                rc = SN_ENOMEM; /* as the json-c path: go on */
            else
                s->host->event_set(ev, header_keys[hdr[i]].f, c, n);
            continue;
        }
        {
            const char *k = copy(s, ev, m->key, m->key_len);
            rc = k == NULL ? SN_ENOMEM
                           : fadd_value(s, ev, k, m->key_len, v, 1);
        }
        if (rc == SN_ELIMIT) {
            snprintf(why, why_len, "more fields than the event limit");
            break;
        }
        if (rc != SN_OK)
            break;
    }
    *out = rc == SN_ELIMIT ? SN_EINVAL : rc;
    return 1;
}

enum sn_status
json_event_parse(const struct sn_host *host, int max_depth,
                 const struct sn_record *rec, struct sn_event *ev, char *why,
                 size_t why_len, size_t *offset)
{
    const struct json_ctx ctx = { host, max_depth };
    enum sn_status rc;

    if (fast_parse(&ctx, rec, ev, why, why_len, &rc))
        return rc;
    return json_event_parse_jsonc(host, max_depth, rec, ev, why, why_len,
                                  offset);
}
