/*
 * The signal decoder generated from rules/signal_fields.h; see
 * signal_wire.h. Numbers may arrive as doubles from other producers
 * (tests, det_signal): json-c converts them.
 */
#include "incident/signal_wire.h"

#include <json-c/json.h>
#include <string.h>

static bool
get_STR(struct json_object *o, const char *key, const char **out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return false;
    *out = json_object_get_string(v);
    return true;
}

static bool
get_INT(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_int) ||
          json_object_is_type(v, json_type_double)))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

#define GET_FIELD(name, type, value)                                           \
    w->has_##name = get_##type(from, #name, &w->name);

void
sn_signal_wire_read(struct json_object *o, struct sn_signal_wire *w)
{
    struct json_object *from = o, *win;

    memset(w, 0, sizeof(*w));
    SN_SIGNAL_HEAD_FIELDS(GET_FIELD)
    SN_SIGNAL_COUNT_FIELDS(GET_FIELD)
    if (json_object_object_get_ex(o, "window", &win) &&
        json_object_is_type(win, json_type_object)) {
        from = win;
        SN_SIGNAL_WINDOW_FIELDS(GET_FIELD)
    }
}
