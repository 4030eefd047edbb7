/* Message parsing shared by the CLI tools; see parse_input.h. */
#include "cli/parse_input.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/limits.h"
#include "syslog/rfc5424.h"
#include "syslog/timestamp.h"

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
    struct json_tokener *tok = json_tokener_new_ex(SN_CLI_JSON_MAX_DEPTH);
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

enum sn_status
sn_cli_parse_message(enum sn_cli_format mode,
                     const struct sn_rfc3164_opts *opts,
                     struct sn_rfc3164_memo *memo, const char *p,
                     size_t len, struct sn_arena *arena,
                     struct sn_syslog_msg *m, struct sn_cli_parsed *res,
                     struct sn_parse_error *err)
{
    enum sn_status rc;

    res->fell_back = false;
    switch (mode) {
    case SN_CLI_FMT_RFC5424:
        res->format = SN_FMT_RFC5424;
        return sn_rfc5424_parse(p, len, arena, m, err);
    case SN_CLI_FMT_RFC3164:
        res->format = SN_FMT_RFC3164;
        return sn_rfc3164_parse_memo(p, len, opts, memo, arena, m, err);
    case SN_CLI_FMT_AUTO:
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
    return sn_rfc3164_parse_memo(p, len, opts, memo, arena, m, err);
}

