/*
 * The incident side of partition state; see partition.h and manager.h.
 * The blob is JSON (rare, small, and readable when a takeover needs
 * explaining): {"format":1,"incidents":[{<every column a later fold
 * reads, JSON texts kept as strings>}, ...]}.
 */
#include "incident/partition.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "incident/manager.h"

#define BLOB_FORMAT 1
#define JSON_FLAGS  (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The namespace of sentineld's name-based incident ids (RFC 9562 5.5): a
 * fixed random UUID, 3c4f7a52-8e0b-4d7e-9a61-2f5b8c1d0e93. */
static const unsigned char id_ns[16] = { 0x3c, 0x4f, 0x7a, 0x52, 0x8e, 0x0b,
                                         0x4d, 0x7e, 0x9a, 0x61, 0x2f, 0x5b,
                                         0x8c, 0x1d, 0x0e, 0x93 };

/* --- the signal side ---------------------------------------------------- */

enum sn_status
sn_partition_sig_source(struct json_object *o, struct sn_fold_sig *sig)
{
    struct json_object *src, *in, *topic, *part, *off;

    sig->src_part = -1;
    sig->src_offset = -1;
    if (!json_object_object_get_ex(o, "source", &src) ||
        !json_object_is_type(src, json_type_object) ||
        !json_object_object_get_ex(src, "input", &in) ||
        !json_object_is_type(in, json_type_string) ||
        !json_object_object_get_ex(src, "topic", &topic) ||
        !json_object_is_type(topic, json_type_string) ||
        !json_object_object_get_ex(src, "partition", &part) ||
        !json_object_is_type(part, json_type_int) ||
        json_object_get_int64(part) < 0 ||
        json_object_get_int64(part) > INT32_MAX)
        return SN_OK;
    sig->src_input = strdup(json_object_get_string(in));
    sig->src_topic = strdup(json_object_get_string(topic));
    if (sig->src_input == NULL || sig->src_topic == NULL)
        return SN_ENOMEM;
    sig->src_part = (int32_t)json_object_get_int64(part);
    if (json_object_object_get_ex(src, "offset", &off) &&
        json_object_is_type(off, json_type_int) &&
        json_object_get_int64(off) >= 0)
        sig->src_offset = json_object_get_int64(off);
    return SN_OK;
}

void
sn_partition_sig_id(const struct sn_fold_sig *sig, char id[SN_UUID_LEN + 1])
{
    struct sn_buf name;
    char num[64];
    int n;

    if (sig->src_input == NULL || sig->src_offset < 0)
        return;
    /* NUL-separated: no field can contain a NUL, so no two different
     * tuples give the same name. */
    n = snprintf(num, sizeof(num), "%d%c%lld", (int)sig->src_part, '\0',
                 (long long)sig->src_offset);
    sn_buf_init(&name, 1u << 20);
    if (sn_buf_append(&name, sig->rule, strlen(sig->rule) + 1) == SN_OK &&
        sn_buf_append(&name, sig->gk, strlen(sig->gk) + 1) == SN_OK &&
        sn_buf_append(&name, sig->src_input, strlen(sig->src_input) + 1) ==
            SN_OK &&
        sn_buf_append(&name, sig->src_topic, strlen(sig->src_topic) + 1) ==
            SN_OK &&
        sn_buf_append(&name, num, (size_t)n) == SN_OK)
        sn_uuid5(id_ns, name.data, name.len, id);
    sn_buf_fini(&name);
}

void
sn_partition_open(struct sn_store *s, const struct sn_fold_sig *sig,
                  struct sn_incident *inc)
{
    struct sn_incident old;

    sn_partition_sig_id(sig, inc->id);
    if (strcmp(inc->previous_id, inc->id) != 0)
        return;
    sn_incident_init(&old);
    if (sn_store_get(s, inc->id, &old) == SN_OK &&
        strcmp(old.previous_id, inc->id) != 0)
        strcpy(inc->previous_id, old.previous_id);
    else
        inc->previous_id[0] = '\0';
    sn_incident_fini(&old);
}

static bool
same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

enum sn_status
sn_partition_tag(struct sn_incident *inc, const struct sn_fold_sig *sig)
{
    if (sig->src_input == NULL)
        return SN_OK;
    if (!same(inc->part_input, sig->src_input) &&
        sn_incident_set(&inc->part_input, sig->src_input,
                        strlen(sig->src_input)) != SN_OK)
        return SN_ENOMEM;
    if (!same(inc->part_topic, sig->src_topic) &&
        sn_incident_set(&inc->part_topic, sig->src_topic,
                        strlen(sig->src_topic)) != SN_OK)
        return SN_ENOMEM;
    inc->part_partition = sig->src_part;
    return SN_OK;
}

/* --- the store side ---------------------------------------------------- */

static void
fail(struct sn_error *err, struct sn_store *s, const struct sn_partition *p,
     const char *what)
{
    sn_error_set(err,
                 "partition %s[%d] of input '%s': incident store %s: "
                 "%s: %s",
                 p->topic, (int)p->partition, p->input, sn_store_path(s), what,
                 sn_store_errmsg(s));
}

static sqlite3_stmt *
prepare(struct sn_store *s, const char *sql)
{
    sqlite3_stmt *q = NULL;

    if (sqlite3_prepare_v2(sn_store_db(s), sql, -1, &q, NULL) != SQLITE_OK)
        return NULL;
    return q;
}

static void
bind_p(sqlite3_stmt *q, const struct sn_partition *p)
{
    sqlite3_bind_text(q, 1, p->input, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, p->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, p->partition);
}

static void
put_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void
put_int(struct json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *
inc_to_json(const struct sn_incident *inc)
{
    struct json_object *o = json_object_new_object();

    if (o == NULL)
        return NULL;
    put_str(o, "id", inc->id);
    put_str(o, "previous_id", inc->previous_id[0] ? inc->previous_id : NULL);
    put_int(o, "version", inc->version);
    put_str(o, "rule_id", inc->rule_id);
    put_str(o, "title", inc->title);
    put_str(o, "description", inc->description);
    put_str(o, "tags", inc->tags);
    put_str(o, "group_key", inc->group_key);
    put_int(o, "severity", inc->severity);
    put_int(o, "base_severity", inc->base_severity);
    put_str(o, "status", inc->status);
    put_str(o, "pending", inc->pending);
    put_str(o, "owner", inc->owner);
    put_int(o, "first_seen", inc->first_seen);
    put_int(o, "last_seen", inc->last_seen);
    put_int(o, "hit_count", inc->hit_count);
    put_int(o, "signal_count", inc->signal_count);
    put_int(o, "created_at", inc->created_at);
    put_int(o, "updated_at", inc->updated_at);
    put_int(o, "touched_at", inc->touched_at);
    put_int(o, "quiet_ms", inc->quiet_ms);
    put_int(o, "esc_rejected", inc->esc_rejected);
    put_int(o, "degraded", inc->degraded);
    put_str(o, "explanation", inc->explanation);
    put_str(o, "evidence", inc->evidence);
    return o;
}

enum sn_status
sn_partition_store_export(struct sn_store *s, const struct sn_partition *p,
                          struct sn_buf *out, struct sn_error *err)
{
    sqlite3_stmt *q = prepare(
        s, "SELECT " SN_STORE_INCIDENT_COLS " FROM incidents WHERE"
           " part_input = ?1 AND part_topic = ?2 AND part_partition = ?3"
           " AND status <> 'resolved' AND released = 0 ORDER BY id");
    struct json_object *root = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    struct sn_incident inc;
    enum sn_status rc = SN_OK;
    const char *t;
    int r;

    sn_incident_init(&inc);
    if (q == NULL || root == NULL || arr == NULL) {
        fail(err, s, p, "cannot read its open incidents");
        rc = SN_EIO;
        goto out;
    }
    bind_p(q, p);
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        struct json_object *o;
        if (sn_store_load_row(s, q, &inc, true) != SN_OK ||
            (o = inc_to_json(&inc)) == NULL) {
            fail(err, s, p, "cannot read an open incident");
            rc = SN_EIO;
            goto out;
        }
        json_object_array_add(arr, o);
    }
    if (r != SQLITE_DONE) {
        fail(err, s, p, "cannot read its open incidents");
        rc = SN_EIO;
        goto out;
    }
    json_object_object_add(root, "format", json_object_new_int(BLOB_FORMAT));
    json_object_object_add(root, "incidents", json_object_get(arr));
    t = json_object_to_json_string_ext(root, JSON_FLAGS);
    if (sn_buf_append(out, t, strlen(t)) != SN_OK) {
        sn_error_set(err,
                     "partition %s[%d] of input '%s': its open incidents "
                     "(%zu bytes) do not fit the checkpoint (at most %zu)",
                     p->topic, (int)p->partition, p->input, strlen(t),
                     out->max);
        rc = SN_ELIMIT;
    }
out:
    sn_incident_fini(&inc);
    json_object_put(arr);
    json_object_put(root);
    sqlite3_finalize(q);
    return rc;
}

bool
sn_partition_released(struct sn_store *s, const char *id, struct sn_error *err)
{
    sqlite3_stmt *q = prepare(s, "SELECT part_input, part_topic,"
                                 " part_partition FROM incidents WHERE"
                                 " id = ?1 AND released = 1");
    bool r = false;

    if (q == NULL)
        return false; /* an older schema (read-only): nothing released */
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const unsigned char *in = sqlite3_column_text(q, 0);
        const unsigned char *topic = sqlite3_column_text(q, 1);
        r = true;
        sn_error_set(err,
                     "incident %s went with partition %s[%d] of input '%s' "
                     "to the instance that reads it now; act on it there",
                     id, topic ? (const char *)topic : "?",
                     sqlite3_column_int(q, 2), in ? (const char *)in : "?");
    }
    sqlite3_finalize(q);
    return r;
}

/* Mark released; *n gets how many rows changed. */
static enum sn_status
release_rows(struct sn_store *s, const struct sn_partition *p, size_t *n)
{
    /* Partition -1: every partition of the topic. */
    sqlite3_stmt *q =
        prepare(s, "UPDATE incidents SET released = 1 WHERE part_input = ?1 AND"
                   " part_topic = ?2 AND (?3 < 0 OR part_partition = ?3) AND"
                   " status <> 'resolved' AND released = 0");
    int r;

    if (q == NULL)
        return SN_EIO;
    bind_p(q, p);
    r = sqlite3_step(q);
    sqlite3_finalize(q);
    if (r != SQLITE_DONE)
        return SN_EIO;
    *n = (size_t)sqlite3_changes(sn_store_db(s));
    return SN_OK;
}

enum sn_status
sn_partition_store_release(struct sn_store *s, const struct sn_partition *p,
                           size_t *n, struct sn_error *err)
{
    *n = 0;
    if (sn_store_begin(s, err) != SN_OK)
        return SN_EIO;
    if (release_rows(s, p, n) != SN_OK) {
        fail(err, s, p, "cannot release its open incidents");
        sn_store_rollback(s);
        return SN_EIO;
    }
    return sn_store_commit(s, err);
}

/* --- import ------------------------------------------------------------- */

static const char *
get_s(struct json_object *o, const char *k, bool *ok, bool required)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, k, &v) || v == NULL) {
        if (required)
            *ok = false;
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *ok = false;
        return NULL;
    }
    return json_object_get_string(v);
}

static int64_t
get_i(struct json_object *o, const char *k, bool *ok)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_int)) {
        *ok = false;
        return 0;
    }
    return json_object_get_int64(v);
}

static bool
set_s(char **field, const char *v)
{
    return sn_incident_set(field, v, v ? strlen(v) : 0) == SN_OK;
}

/* One blob entry into inc; false with *what naming the bad member. */
static bool
inc_from_json(struct json_object *o, const struct sn_partition *p,
              struct sn_incident *inc, const char **what)
{
    bool ok = true;
    const char *id = get_s(o, "id", &ok, true);
    const char *prev = get_s(o, "previous_id", &ok, false);
    const char *status = get_s(o, "status", &ok, true);

    *what = "id, previous_id or status";
    if (!ok || strlen(id) != SN_UUID_LEN ||
        (prev != NULL && strlen(prev) != SN_UUID_LEN) ||
        strlen(status) >= sizeof(inc->status) ||
        strcmp(status, "resolved") == 0)
        return false;
    strcpy(inc->id, id);
    strcpy(inc->previous_id, prev ? prev : "");
    strcpy(inc->status, status);
    *what = "a text member";
    if (!set_s(&inc->rule_id, get_s(o, "rule_id", &ok, true)) ||
        !set_s(&inc->group_key, get_s(o, "group_key", &ok, true)) ||
        !set_s(&inc->title, get_s(o, "title", &ok, false)) ||
        !set_s(&inc->description, get_s(o, "description", &ok, false)) ||
        !set_s(&inc->tags, get_s(o, "tags", &ok, false)) ||
        !set_s(&inc->pending, get_s(o, "pending", &ok, false)) ||
        !set_s(&inc->owner, get_s(o, "owner", &ok, false)) ||
        !set_s(&inc->explanation, get_s(o, "explanation", &ok, false)) ||
        !set_s(&inc->evidence, get_s(o, "evidence", &ok, false)) ||
        !set_s(&inc->part_input, p->input) ||
        !set_s(&inc->part_topic, p->topic) || !ok)
        return false;
    *what = "a number member";
    inc->version = get_i(o, "version", &ok);
    inc->severity = (enum sn_severity)get_i(o, "severity", &ok);
    inc->base_severity = (enum sn_severity)get_i(o, "base_severity", &ok);
    inc->first_seen = get_i(o, "first_seen", &ok);
    inc->last_seen = get_i(o, "last_seen", &ok);
    inc->hit_count = get_i(o, "hit_count", &ok);
    inc->signal_count = get_i(o, "signal_count", &ok);
    inc->created_at = get_i(o, "created_at", &ok);
    inc->updated_at = get_i(o, "updated_at", &ok);
    inc->touched_at = get_i(o, "touched_at", &ok);
    inc->quiet_ms = get_i(o, "quiet_ms", &ok);
    inc->esc_rejected = get_i(o, "esc_rejected", &ok) != 0;
    inc->degraded = get_i(o, "degraded", &ok) != 0;
    inc->part_partition = p->partition;
    inc->fresh = true; /* replaces the row: live again, tagged p */
    return ok && inc->version >= 1 &&
           (unsigned)inc->severity <= SN_SEV_CRITICAL &&
           (unsigned)inc->base_severity <= SN_SEV_CRITICAL;
}

/* Other live open incidents of the imported one's key (opened here by a
 * signal without a source, or tagged with another partition) stop being
 * folded into: the imported one is the key's incident now. */
static enum sn_status
release_key(struct sn_store *s, const struct sn_incident *inc)
{
    sqlite3_stmt *q = prepare(
        s, "UPDATE incidents SET released = 1 WHERE rule_id = ?1 AND"
           " group_key = ?2 AND status <> 'resolved' AND released = 0 AND"
           " id <> ?3");
    int r;

    if (q == NULL)
        return SN_EIO;
    sqlite3_bind_text(q, 1, inc->rule_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, inc->group_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, inc->id, -1, SQLITE_STATIC);
    r = sqlite3_step(q);
    sqlite3_finalize(q);
    return r == SQLITE_DONE ? SN_OK : SN_EIO;
}

/* The newest version this store holds or delivered of inc's id: the row
 * (a held version has no version row yet) or its version rows. */
static int64_t
local_version(struct sn_store *s, const struct sn_incident *inc,
              struct sn_incident *local, bool *differs)
{
    sqlite3_stmt *q = prepare(s, "SELECT max(version) FROM incident_versions"
                                 " WHERE incident_id = ?1");
    int64_t v = 0;

    *differs = false;
    if (sn_store_get(s, inc->id, local) == SN_OK) {
        v = local->version;
        /* Not signal_count: how a window's matches were split into
         * update signals is the clock's doing, and the same hits under
         * the same version are the same version (fold.c, write_entry). */
        *differs = local->hit_count != inc->hit_count ||
                   local->severity != inc->severity ||
                   strcmp(local->status, inc->status) != 0;
    }
    if (q != NULL) {
        sqlite3_bind_text(q, 1, inc->id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW &&
            sqlite3_column_int64(q, 0) > v)
            v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return v;
}

/* An import must not reuse a number this store already gave a different
 * version of the incident: the checkpoint can be older than what this
 * store (an earlier owner of the partition) made and delivered since,
 * and outputs keep the first copy of a version (PostgreSQL, consumers
 * keyed by id and version), as does this store's own bookkeeping of held
 * versions. Such an import becomes the next version. */
static void
version_after_local(struct sn_store *s, struct sn_incident *inc)
{
    struct sn_incident local;
    bool differs;
    int64_t v;

    sn_incident_init(&local);
    v = local_version(s, inc, &local, &differs);
    if (v > inc->version || (v == inc->version && differs))
        inc->version = v + 1;
    sn_incident_fini(&local);
}

static struct json_object *
parse_blob(const struct sn_partition *p, const void *data, size_t len,
           struct sn_error *err)
{
    struct json_tokener *tok = json_tokener_new_ex(8);
    struct json_object *root = NULL, *arr = NULL, *fmt;

    if (tok == NULL) {
        sn_error_set(err, "out of memory");
        return NULL;
    }
    if (len <= (size_t)INT32_MAX)
        root = json_tokener_parse_ex(tok, data, (int)len);
    if (root == NULL || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "format", &fmt) ||
        !json_object_is_type(fmt, json_type_int) ||
        !json_object_object_get_ex(root, "incidents", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        sn_error_set(err,
                     "partition %s[%d] of input '%s': the checkpoint's "
                     "incidents section (%zu bytes) is not a sentineld "
                     "incident export: %s",
                     p->topic, (int)p->partition, p->input, len,
                     root == NULL
                         ? json_tokener_error_desc(json_tokener_get_error(tok))
                         : "no \"format\" or \"incidents\"");
        json_object_put(root);
        root = NULL;
    } else if (json_object_get_int(fmt) != BLOB_FORMAT) {
        sn_error_set(err,
                     "partition %s[%d] of input '%s': the checkpoint's "
                     "incidents are in format %d; this sentineld reads %d",
                     p->topic, (int)p->partition, p->input,
                     json_object_get_int(fmt), BLOB_FORMAT);
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

enum sn_status
sn_partition_store_import(struct sn_store *s, const struct sn_partition *p,
                          const void *data, size_t len, struct sn_buf *scratch,
                          size_t *n, struct sn_error *err)
{
    struct json_object *root = NULL, *arr = NULL;
    struct sn_incident inc;
    size_t released = 0, count = 0;
    char reason[512];
    enum sn_status rc = SN_OK;

    *n = 0;
    if (data != NULL && len > 0) {
        root = parse_blob(p, data, len, err);
        if (root == NULL)
            return SN_EINVAL;
        json_object_object_get_ex(root, "incidents", &arr);
        count = json_object_array_length(arr);
    }
    sn_incident_init(&inc);
    /* Check the whole blob before the store changes. */
    for (size_t i = 0; i < count; i++) {
        const char *what;
        struct json_object *o = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(o, json_type_object) ||
            !inc_from_json(o, p, &inc, &what)) {
            sn_error_set(err,
                         "partition %s[%d] of input '%s': incident %zu of "
                         "the checkpoint: %s is missing or invalid",
                         p->topic, (int)p->partition, p->input, i + 1,
                         json_object_is_type(o, json_type_object)
                             ? what
                             : "not an object");
            sn_incident_fini(&inc);
            json_object_put(root);
            return SN_EINVAL;
        }
        sn_incident_fini(&inc);
        sn_incident_init(&inc);
    }
    if (sn_store_begin(s, err) != SN_OK) {
        json_object_put(root);
        return SN_EIO;
    }
    if (release_rows(s, p, &released) != SN_OK) {
        fail(err, s, p, "cannot release its open incidents");
        rc = SN_EIO;
        goto out;
    }
    snprintf(reason, sizeof(reason),
             "taken over with partition %s[%d] of input '%s' from its "
             "checkpoint",
             p->topic, (int)p->partition, p->input);
    for (size_t i = 0; i < count; i++) {
        const char *what;
        inc_from_json(json_object_array_get_idx(arr, i), p, &inc, &what);
        version_after_local(s, &inc);
        /* The outbox row re-sends the version the previous owner made:
         * its relay may not have delivered it, and outputs keep the
         * newest version of an id, so a second copy changes nothing. */
        if (release_key(s, &inc) != SN_OK || sn_store_put(s, &inc) != SN_OK ||
            sn_store_record(s, &inc, "sentineld", "import", reason, NULL,
                            scratch) != SN_OK) {
            fail(err, s, p, "cannot write an imported incident");
            rc = SN_EIO;
            goto out;
        }
        sn_incident_fini(&inc);
        sn_incident_init(&inc);
    }
    rc = sn_store_commit(s, err);
    if (rc == SN_OK)
        *n = count;
out:
    if (rc != SN_OK)
        sn_store_rollback(s);
    sn_incident_fini(&inc);
    json_object_put(root);
    return rc;
}

/* --- the manager's entry points (manager.h) ------------------------------ */

struct part_call {
    const struct sn_partition *p;
    struct sn_buf *out;
    const void *data;
    size_t len;
    size_t n;
    struct sn_error err;
};

static enum sn_status
do_export(void *arg, struct sn_store *s, struct sn_fold *f)
{
    struct part_call *c = arg;

    (void)f;
    return sn_partition_store_export(s, c->p, c->out, &c->err);
}

static enum sn_status
do_import(void *arg, struct sn_store *s, struct sn_fold *f)
{
    struct part_call *c = arg;

    /* The fold's document scratch is free between batches, which is when
     * calls run. */
    return sn_partition_store_import(s, c->p, c->data, c->len, &f->scratch,
                                     &c->n, &c->err);
}

static enum sn_status
do_release(void *arg, struct sn_store *s, struct sn_fold *f)
{
    struct part_call *c = arg;

    (void)f;
    return sn_partition_store_release(s, c->p, &c->n, &c->err);
}

enum sn_status
sn_manager_partition_export(void *arg, const struct sn_partition *p,
                            struct sn_buf *out)
{
    struct part_call c = { .p = p, .out = out };
    enum sn_status rc;

    sn_error_clear(&c.err);
    rc = sn_manager_call(arg, do_export, &c);
    if (rc != SN_OK)
        sn_log_error("%s", c.err.msg[0] ? c.err.msg
                                        : "incident export: the incident "
                                          "manager stopped");
    return rc;
}

enum sn_status
sn_manager_partition_import(void *arg, const struct sn_partition *p,
                            const void *data, size_t len, char *err,
                            size_t err_len)
{
    struct part_call c = { .p = p, .data = data, .len = len };
    enum sn_status rc;

    sn_error_clear(&c.err);
    rc = sn_manager_call(arg, do_import, &c);
    if (rc != SN_OK)
        snprintf(err, err_len, "%s",
                 c.err.msg[0] ? c.err.msg
                              : "incident import: the incident manager "
                                "stopped");
    else if (c.n > 0)
        sn_log_info("partition %s[%d] of input '%s': %zu open incidents "
                    "taken over",
                    p->topic, (int)p->partition, p->input, c.n);
    return rc;
}

void
sn_manager_partition_release(void *arg, const struct sn_partition *p)
{
    struct part_call c = { .p = p };

    sn_error_clear(&c.err);
    if (sn_manager_call(arg, do_release, &c) != SN_OK)
        sn_log_error("%s", c.err.msg[0] ? c.err.msg
                                        : "incident release: the incident "
                                          "manager stopped");
    else if (p->partition < 0 && c.n > 0)
        sn_log_info("%zu open incidents of topic %s of input '%s' left "
                    "alone until their partitions are assigned here: "
                    "their checkpoints bring them back",
                    c.n, p->topic, p->input);
}
