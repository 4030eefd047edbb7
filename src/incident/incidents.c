/*
 * The incident operations of incidents.h for the CLI and the HTTP API:
 * listing, one incident with its history, human actions and the live
 * feed, over the store (store.c). The manager (manager.c) shares
 * sn_incident_apply so a human and the daemon change incidents by the
 * same rules. docs/incidents.md describes the lifecycle.
 */
#include "incident/incidents.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/time_parse.h"
#include "incident/audit.h"
#include "incident/incident.h"
#include "incident/partition.h"
#include "incident/store.h"

struct sn_incidents {
    struct sn_store *store;
    struct sn_buf scratch;
};

static const char *const action_names[] = {
    [SN_ACT_ACKNOWLEDGE] = "acknowledge", [SN_ACT_ASSIGN] = "assign",
    [SN_ACT_COMMENT] = "comment",         [SN_ACT_RESOLVE] = "resolve",
    [SN_ACT_REOPEN] = "reopen",           [SN_ACT_SUPPRESS] = "suppress",
    [SN_ACT_APPROVE] = "approve",         [SN_ACT_REJECT] = "reject",
};
#define N_ACTIONS ((int)(sizeof(action_names) / sizeof(action_names[0])))

const char *
sn_incident_action_name(enum sn_incident_action a)
{
    return (int)a >= 0 && (int)a < N_ACTIONS ? action_names[a] : "?";
}

int
sn_incident_action_parse(const char *name)
{
    for (int i = 0; i < N_ACTIONS; i++)
        if (strcmp(name, action_names[i]) == 0)
            return i;
    if (strcmp(name, "ack") == 0)
        return SN_ACT_ACKNOWLEDGE;
    return -1;
}

struct sn_store *
sn_incidents_store(struct sn_incidents *inc)
{
    return inc->store;
}

enum sn_status
sn_incidents_open(const char *path, bool read_only, struct sn_incidents **out,
                  struct sn_error *err)
{
    struct sn_incidents *inc = calloc(1, sizeof(*inc));
    enum sn_status rc;

    *out = NULL;
    if (inc == NULL) {
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    rc = sn_store_open(path, read_only, &inc->store, err);
    if (rc != SN_OK) {
        free(inc);
        return rc;
    }
    sn_buf_init(&inc->scratch, SN_INCIDENT_DOC_MAX);
    *out = inc;
    return SN_OK;
}

void
sn_incidents_close(struct sn_incidents *inc)
{
    if (inc == NULL)
        return;
    sn_store_close(inc->store);
    sn_buf_fini(&inc->scratch);
    free(inc);
}

/* --- the audit trail ------------------------------------------------------ */

enum sn_status
sn_incidents_audit(struct sn_incidents *inc, const struct sn_audit_entry *e,
                   struct sn_error *err)
{
    return sn_store_audit(inc->store, e, err);
}

enum sn_status
sn_incidents_audit_json(struct sn_incidents *inc,
                        const struct sn_audit_query *q, struct sn_buf *out,
                        struct sn_error *err)
{
    return sn_audit_list_json(sn_store_db(inc->store), q, out, err);
}

enum sn_status
sn_incidents_audit_verify(struct sn_incidents *inc,
                          struct sn_audit_verdict *v, struct sn_error *err)
{
    return sn_audit_verify(sn_store_db(inc->store), v, err);
}

/* --- listing ----------------------------------------------------------- */

/* next_cursor as the listing writes it, "LAST_SEEN:UUID": sscanf's %lld
 * took signs and blanks and clamped overflow, %36s ignored what followed
 * the id. */
bool
sn_incidents_cursor_parse(const char *v, int64_t *seen,
                          char id[SN_UUID_LEN + 1])
{
    const char *colon = strchr(v, ':');
    char head[24];

    if (colon == NULL || (size_t)(colon - v) >= sizeof(head) ||
        strlen(colon + 1) != SN_UUID_LEN)
        return false;
    memcpy(head, v, (size_t)(colon - v));
    head[colon - v] = '\0';
    if (!sn_time_parse_int(head, 0, INT64_MAX, seen))
        return false;
    memcpy(id, colon + 1, SN_UUID_LEN + 1);
    return true;
}

enum sn_status
sn_incidents_list_json(struct sn_incidents *inc,
                       const struct sn_incident_query *q, struct sn_buf *out,
                       struct sn_error *err)
{
    char text[1024];
    size_t tl;
    sqlite3_stmt *st = NULL;
    sqlite3 *db = sn_store_db(inc->store);
    unsigned limit = q->limit == 0 ? SN_INCIDENT_LIST_DEFAULT
                     : q->limit > SN_INCIDENT_LIST_MAX ? SN_INCIDENT_LIST_MAX
                                           : q->limit;
    int sev = -1, r, i = 1, n = 0;
    int64_t cur_seen = 0;
    char cur_id[SN_UUID_LEN + 1] = "";
    char like[300];
    struct sn_incident it;
    enum sn_status rc = SN_OK;

    if (q->severity != NULL && (sev = sn_severity_parse(q->severity)) < 0) {
        sn_error_set(err, "unknown severity '%s' (info, low, medium, high, "
                          "critical)",
                     q->severity);
        return SN_EINVAL;
    }
    if (q->cursor != NULL && q->cursor[0] &&
        !sn_incidents_cursor_parse(q->cursor, &cur_seen, cur_id)) {
        sn_error_set(err, "invalid cursor '%s'", q->cursor);
        return SN_EINVAL;
    }
    if (q->text != NULL)
        snprintf(like, sizeof(like), "%%%s%%", q->text);
    tl = (size_t)snprintf(text, sizeof(text),
                          "SELECT " SN_STORE_INCIDENT_COLS
                          " FROM incidents WHERE 1");
    if (q->status)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND status = ?%d", i++);
    if (sev >= 0)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND severity >= ?%d", i++);
    if (q->rule_id)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND rule_id = ?%d", i++);
    if (q->text) {
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND (title LIKE ?%d OR rule_id LIKE ?%d OR"
                               " group_key LIKE ?%d)",
                               i, i, i);
        i++;
    }
    if (q->since_ns)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND last_seen >= ?%d", i++);
    if (q->until_ns)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND last_seen < ?%d", i++);
    if (cur_id[0]) {
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
                               " AND (last_seen < ?%d OR (last_seen = ?%d"
                               " AND id < ?%d))",
                               i, i, i + 1);
        i += 2;
    }
    snprintf(text + tl, sizeof(text) - tl,
             " ORDER BY last_seen DESC, id DESC LIMIT ?%d", i);
    if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    i = 1;
    if (q->status)
        sqlite3_bind_text(st, i++, q->status, -1, SQLITE_STATIC);
    if (sev >= 0)
        sqlite3_bind_int(st, i++, sev);
    if (q->rule_id)
        sqlite3_bind_text(st, i++, q->rule_id, -1, SQLITE_STATIC);
    if (q->text)
        sqlite3_bind_text(st, i++, like, -1, SQLITE_STATIC);
    if (q->since_ns)
        sqlite3_bind_int64(st, i++, q->since_ns);
    if (q->until_ns)
        sqlite3_bind_int64(st, i++, q->until_ns);
    if (cur_id[0]) {
        sqlite3_bind_int64(st, i++, cur_seen);
        sqlite3_bind_text(st, i++, cur_id, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, i, (int)limit);
    sn_incident_init(&it);
    SN_BUF_LIT(out, "{\"incidents\":[");
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = sn_store_load_row(inc->store, st, &it, false)) != SN_OK)
            break;
        if (n++)
            sn_buf_putc(out, ',');
        if ((rc = sn_incident_json(&it, false, out)) != SN_OK)
            break;
    }
    if (rc == SN_OK && r != SQLITE_DONE && r != SQLITE_ROW) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        rc = SN_EIO;
    }
    SN_BUF_LIT(out, "],\"next_cursor\":");
    if (rc == SN_OK && (unsigned)n == limit)
        sn_buf_printf(out, "\"%lld:%s\"}", (long long)it.last_seen, it.id);
    else
        rc = rc != SN_OK ? rc : SN_BUF_LIT(out, "null}");
    sn_incident_fini(&it);
    sqlite3_finalize(st);
    if (rc == SN_ELIMIT || rc == SN_ENOMEM)
        sn_error_set(err, "the listing is too large; use a smaller limit");
    return rc;
}

/* --- one incident with its history -------------------------------------- */

static enum sn_status
history(struct sn_incidents *inc, const char *id, struct sn_buf *out)
{
    sqlite3 *db = sn_store_db(inc->store);
    sqlite3_stmt *st;
    char t[40];
    int n = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT version, at, actor, change, status,"
                           " severity FROM incident_versions WHERE"
                           " incident_id = ?1 ORDER BY version",
                           -1, &st, NULL) != SQLITE_OK)
        return SN_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    SN_BUF_LIT(out, ",\"versions\":[");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *actor = (const char *)sqlite3_column_text(st, 2);
        const char *chg = (const char *)sqlite3_column_text(st, 3);
        const char *status = (const char *)sqlite3_column_text(st, 4);
        const char *sev = (const char *)sqlite3_column_text(st, 5);
        if (n++)
            sn_buf_putc(out, ',');
        sn_time_rfc3339(sqlite3_column_int64(st, 1), t);
        sn_buf_printf(out, "{\"version\":%lld,\"at\":\"%s\",\"actor\":",
                      (long long)sqlite3_column_int64(st, 0), t);
        sn_json_str(out, actor, strlen(actor));
        SN_BUF_LIT(out, ",\"change\":");
        sn_json_str(out, chg, strlen(chg));
        SN_BUF_LIT(out, ",\"status\":");
        sn_json_str(out, status, strlen(status));
        SN_BUF_LIT(out, ",\"severity\":");
        sn_json_str(out, sev, strlen(sev));
        sn_buf_putc(out, '}');
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, version, at, actor, action, reason,"
                           " correlation_id, result, target, details FROM"
                           " audit WHERE incident_id = ?1 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return SN_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    SN_BUF_LIT(out, "],\"audit\":[");
    n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s;
        if (n++)
            sn_buf_putc(out, ',');
        sn_time_rfc3339(sqlite3_column_int64(st, 2), t);
        sn_buf_printf(out, "{\"version\":%lld,\"at\":\"%s\"",
                      (long long)sqlite3_column_int64(st, 1), t);
        /* target: what the entry acted on; for a notification, the
         * output notified. */
        for (int c = 3; c <= 9; c++) {
            static const char *const keys[] = { "actor",  "action",
                                                "reason", "correlation_id",
                                                "result", "target",
                                                "details" };
            s = (const char *)sqlite3_column_text(st, c);
            sn_buf_putc(out, ',');
            sn_json_key(out, keys[c - 3]);
            sn_json_str_or_null(out, s, s ? strlen(s) : 0);
        }
        sn_buf_putc(out, '}');
    }
    sqlite3_finalize(st);
    SN_BUF_LIT(out, "]}");
    return SN_OK;
}

enum sn_status
sn_incidents_get_json(struct sn_incidents *inc, const char *id,
                      struct sn_buf *out, struct sn_error *err)
{
    struct sn_incident it;
    enum sn_status rc;

    sn_incident_init(&it);
    rc = sn_store_get(inc->store, id, &it);
    if (rc == SN_DECLINED)
        sn_error_set(err, "no incident with id %s", id);
    else if (rc != SN_OK)
        sn_error_set(err, "incident store: %s",
                     sn_store_errmsg(inc->store));
    if (rc == SN_OK && (rc = sn_incident_json(&it, true, out)) == SN_OK) {
        out->len--; /* reopen the object for the history */
        rc = history(inc, id, out);
        if (rc != SN_OK)
            sn_error_set(err, "incident store: %s",
                         sn_store_errmsg(inc->store));
    }
    sn_incident_fini(&it);
    return rc;
}

/* --- actions --------------------------------------------------------------- */

static enum sn_status
set_pending(struct sn_incident *inc, const char *action, const char *actor,
            const char *reason, int64_t now)
{
    struct sn_buf b;
    char t[40];
    enum sn_status rc;

    sn_buf_init(&b, 64 * 1024);
    sn_time_rfc3339(now, t);
    sn_buf_printf(&b, "{\"action\":\"%s\",\"to\":\"%s\",\"requested_by\":",
                  action,
                  strcmp(action, "escalate") == 0 ? "critical" : "suppressed");
    sn_json_str(&b, actor, strlen(actor));
    sn_buf_printf(&b, ",\"requested_at\":\"%s\",\"reason\":", t);
    sn_json_str(&b, reason, strlen(reason));
    rc = sn_buf_putc(&b, '}');
    if (rc == SN_OK)
        rc = sn_incident_set(&inc->pending, b.data, b.len);
    sn_buf_fini(&b);
    return rc;
}

/* What the pending approval asks and who asked (copied out). */
static bool
pending_parts(const char *pending, char *action, size_t alen, char *by,
              size_t blen)
{
    struct json_object *o = json_tokener_parse(pending);
    struct json_object *a, *r;
    bool ok = false;

    if (o != NULL && json_object_object_get_ex(o, "action", &a) &&
        json_object_object_get_ex(o, "requested_by", &r)) {
        snprintf(action, alen, "%s", json_object_get_string(a));
        snprintf(by, blen, "%s", json_object_get_string(r));
        ok = true;
    }
    json_object_put(o);
    return ok;
}

enum sn_status
sn_incident_apply(struct sn_incident *inc, const struct sn_incident_change *ch,
                  int64_t now, struct sn_error *err)
{
    char pa[32], by[256];
    const char *act = sn_incident_action_name(ch->action);

    if (ch->actor == NULL || ch->actor[0] == '\0') {
        sn_error_set(err, "%s needs who does it (--by NAME)", act);
        return SN_EINVAL;
    }
    if (ch->reason == NULL || ch->reason[0] == '\0') {
        sn_error_set(err, "%s needs a reason (--reason TEXT)", act);
        return SN_EINVAL;
    }
    switch (ch->action) {
    case SN_ACT_ACKNOWLEDGE:
        if (strcmp(inc->status, "open") != 0) {
            sn_error_set(err, "incident %s is %s; only an open incident can "
                              "be acknowledged",
                         inc->id, inc->status);
            return SN_EINVAL;
        }
        strcpy(inc->status, "acknowledged");
        return SN_OK;
    case SN_ACT_ASSIGN:
        if (ch->arg == NULL || ch->arg[0] == '\0') {
            sn_error_set(err, "assign needs the new owner");
            return SN_EINVAL;
        }
        return sn_incident_set(&inc->owner, ch->arg, strlen(ch->arg));
    case SN_ACT_COMMENT:
        return SN_OK;
    case SN_ACT_RESOLVE:
        if (strcmp(inc->status, "resolved") == 0) {
            sn_error_set(err, "incident %s is already resolved", inc->id);
            return SN_EINVAL;
        }
        /* Resolving clears the pending request: the one who asked
         * would otherwise get by alone what needs a second operator. */
        if (ch->forbid_self_approval && inc->pending != NULL &&
            pending_parts(inc->pending, pa, sizeof(pa), by, sizeof(by)) &&
            strcmp(by, ch->actor) == 0) {
            sn_error_set(err, "%s requested to %s this incident; another "
                              "operator must approve or reject that before "
                              "%s can resolve it",
                         by, pa, by);
            return SN_EINVAL;
        }
        strcpy(inc->status, "resolved");
        /* Nothing left to approve on a closed incident. */
        return sn_incident_set(&inc->pending, NULL, 0);
    case SN_ACT_REOPEN:
        if (strcmp(inc->status, "resolved") != 0 &&
            strcmp(inc->status, "suppressed") != 0) {
            sn_error_set(err, "incident %s is %s; only a resolved or "
                              "suppressed incident can be reopened",
                         inc->id, inc->status);
            return SN_EINVAL;
        }
        strcpy(inc->status, "open");
        return SN_OK;
    case SN_ACT_SUPPRESS:
        if (strcmp(inc->status, "resolved") == 0 ||
            strcmp(inc->status, "suppressed") == 0) {
            sn_error_set(err, "incident %s is already %s", inc->id,
                         inc->status);
            return SN_EINVAL;
        }
        if (inc->severity == SN_SEV_CRITICAL) {
            if (inc->pending != NULL) {
                sn_error_set(err, "incident %s already waits for an "
                                  "approval; approve or reject that first",
                             inc->id);
                return SN_EINVAL;
            }
            /* Four eyes: suppressing a CRITICAL incident is a request. */
            return set_pending(inc, "suppress", ch->actor, ch->reason, now);
        }
        strcpy(inc->status, "suppressed");
        return SN_OK;
    case SN_ACT_APPROVE:
    case SN_ACT_REJECT:
        if (inc->pending == NULL ||
            !pending_parts(inc->pending, pa, sizeof(pa), by, sizeof(by))) {
            sn_error_set(err, "incident %s has nothing waiting for approval",
                         inc->id);
            return SN_EINVAL;
        }
        if (ch->forbid_self_approval && strcmp(by, ch->actor) == 0) {
            sn_error_set(err, "%s requested this %s; another operator must "
                              "%s it",
                         by, pa, act);
            return SN_EINVAL;
        }
        if (ch->action == SN_ACT_APPROVE) {
            if (strcmp(pa, "escalate") == 0)
                inc->severity = SN_SEV_CRITICAL;
            else
                strcpy(inc->status, "suppressed");
        } else if (strcmp(pa, "escalate") == 0) {
            inc->esc_rejected = true; /* do not ask again for this one */
        }
        return sn_incident_set(&inc->pending, NULL, 0);
    }
    sn_error_set(err, "unknown action");
    return SN_EINVAL;
}

enum sn_status
sn_incidents_change(struct sn_incidents *inc, const char *id,
                    const struct sn_incident_change *ch, struct sn_buf *out,
                    struct sn_error *err)
{
    struct sn_incident it, other;
    enum sn_status rc;
    int64_t now = sn_clock_wall_ns();

    sn_incident_init(&it);
    sn_incident_init(&other);
    if (sn_store_begin(inc->store, err) != SN_OK)
        return SN_EIO;
    rc = sn_store_get(inc->store, id, &it);
    if (rc == SN_DECLINED) {
        sn_error_set(err, "no incident with id %s", id);
        goto fail;
    }
    if (rc != SN_OK)
        goto store_fail;
    /* Its partition's owner folds into it now; a change here would race
     * that instance's versions of the same id. */
    if (sn_partition_released(inc->store, id, err)) {
        rc = SN_EINVAL;
        goto fail;
    }
    if ((rc = sn_incident_apply(&it, ch, now, err)) != SN_OK)
        goto fail;
    /* One open incident per key: reopening must not make a second. */
    if (ch->action == SN_ACT_REOPEN &&
        sn_store_find_open(inc->store, it.rule_id, it.group_key, &other) ==
            SN_OK &&
        strcmp(other.id, it.id) != 0) {
        sn_error_set(err, "incident %s for the same key is open; work on "
                          "that one",
                     other.id);
        rc = SN_EINVAL;
        goto fail;
    }
    it.version++;
    it.updated_at = now;
    if ((rc = sn_store_put(inc->store, &it)) != SN_OK ||
        (rc = sn_store_record(inc->store, &it, ch->actor,
                              sn_incident_action_name(ch->action), ch->reason,
                              ch->correlation_id, &inc->scratch)) != SN_OK)
        goto store_fail;
    if ((rc = sn_store_commit(inc->store, err)) != SN_OK)
        goto fail;
    if (out != NULL)
        rc = sn_buf_append(out, inc->scratch.data, inc->scratch.len);
    sn_incident_fini(&it);
    sn_incident_fini(&other);
    return rc;
store_fail:
    sn_error_set(err, "incident store %s: %s", sn_store_path(inc->store),
                 sn_store_errmsg(inc->store));
    rc = SN_EIO;
fail:
    sn_store_rollback(inc->store);
    sn_incident_fini(&it);
    sn_incident_fini(&other);
    /* A refused action is audited too (who tried what, and why not). */
    if (rc == SN_EINVAL) {
        struct sn_error aerr;
        sn_error_clear(&aerr);
        sn_store_audit(inc->store,
                       &(struct sn_audit_entry){
                           .actor = ch->actor,
                           .action = sn_incident_action_name(ch->action),
                           .incident_id = id,
                           .result = "refused",
                           .reason = ch->reason,
                           .details = err->msg,
                           .correlation_id = ch->correlation_id },
                       &aerr);
    }
    return rc;
}

/* --- the feed ------------------------------------------------------------ */

struct feed_ctx {
    sn_incident_feed_fn fn;
    void *arg;
    int64_t last;
};

static void
feed_one(void *arg, const struct sn_doc *doc, int64_t at)
{
    struct feed_ctx *c = arg;

    (void)at;
    c->fn(c->arg, doc);
    c->last = doc->seq;
}

long
sn_incidents_feed(struct sn_incidents *inc, int64_t *after_seq, unsigned max,
                  sn_incident_feed_fn fn, void *arg)
{
    struct feed_ctx c = { fn, arg, *after_seq };
    long n;

    if (*after_seq == 0) {
        int64_t last = sn_store_last_seq(inc->store);
        if (last < 0)
            return -1;
        /* Position 0 means "from now", so "now" on an empty outbox is -1:
         * the first row ever appended still comes. */
        *after_seq = last > 0 ? last : -1;
        return 0;
    }
    n = sn_store_outbox_read(inc->store, *after_seq, max ? max : 256,
                             feed_one, &c);
    if (n > 0)
        *after_seq = c.last;
    return n;
}

int64_t
sn_incidents_last_seq(struct sn_incidents *inc)
{
    return sn_store_last_seq(inc->store);
}

/* Run one aggregate query; each row's columns go to row(). */
static enum sn_status
summary_query(sqlite3 *db, const char *sql, int64_t arg,
              void (*row)(sqlite3_stmt *, struct sn_buf *, int),
              struct sn_buf *out, struct sn_error *err)
{
    sqlite3_stmt *st;
    int r, n = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        row(st, out, n++);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    return SN_OK;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? (const char *)t : "";
}

static void
row_sev(sqlite3_stmt *st, struct sn_buf *b, int n)
{
    if (n > 0)
        sn_buf_putc(b, ',');
    SN_BUF_LIT(b, "{\"severity\":\"");
    sn_buf_puts(b, sn_severity_name(
                       (enum sn_severity)sqlite3_column_int(st, 0)));
    SN_BUF_LIT(b, "\",\"status\":");
    sn_json_str(b, col_text(st, 1), strlen(col_text(st, 1)));
    sn_buf_printf(b, ",\"n\":%lld}", (long long)sqlite3_column_int64(st, 2));
}

static void
row_bucket(sqlite3_stmt *st, struct sn_buf *b, int n)
{
    if (n > 0)
        sn_buf_putc(b, ',');
    sn_buf_printf(b, "[%lld,%lld]", (long long)sqlite3_column_int64(st, 0),
                  (long long)sqlite3_column_int64(st, 1));
}

static void
row_rule(sqlite3_stmt *st, struct sn_buf *b, int n)
{
    if (n > 0)
        sn_buf_putc(b, ',');
    SN_BUF_LIT(b, "{\"rule_id\":");
    sn_json_str(b, col_text(st, 0), strlen(col_text(st, 0)));
    SN_BUF_LIT(b, ",\"title\":");
    sn_json_str(b, col_text(st, 1), strlen(col_text(st, 1)));
    sn_buf_printf(b, ",\"n\":%lld}", (long long)sqlite3_column_int64(st, 2));
}

static void
row_key(sqlite3_stmt *st, struct sn_buf *b, int n)
{
    if (n > 0)
        sn_buf_putc(b, ',');
    /* group_key is JSON written by the fold: embedded as it is. */
    SN_BUF_LIT(b, "{\"group_key\":");
    sn_buf_puts(b, col_text(st, 0)[0] ? col_text(st, 0) : "{}");
    sn_buf_printf(b, ",\"n\":%lld}", (long long)sqlite3_column_int64(st, 1));
}

enum sn_status
sn_incidents_summary_json(struct sn_incidents *inc, int64_t now,
                          struct sn_buf *out, struct sn_error *err)
{
    sqlite3 *db = sn_store_db(inc->store);
    /* The last 24 clock hours, the current one included: the overview's
     * "opened over time". */
    const int64_t hour = 3600LL * 1000000000LL, first = now / hour - 23;
    enum sn_status rc;

    /* Every figure reads the counters the store's triggers keep (store.c,
     * migration 6): a few rows whatever the number of incidents. */
    SN_BUF_LIT(out, "{\"by_severity\":[");
    rc = summary_query(db,
                       "SELECT severity, status, n FROM summary_sev"
                       " WHERE n > 0 ORDER BY 1, 2",
                       0, row_sev, out, err);
    if (rc == SN_OK) {
        sn_buf_printf(out, "],\"opened\":{\"since\":%lld,\"bucket_ns\":%lld,"
                           "\"buckets\":[",
                      (long long)(first * hour), (long long)hour);
        rc = summary_query(db,
                           "SELECT hour - ?1, n FROM summary_hour"
                           " WHERE hour >= ?1 AND n > 0 ORDER BY hour",
                           first, row_bucket, out, err);
    }
    if (rc == SN_OK) {
        SN_BUF_LIT(out, "]},\"top_rules\":[");
        rc = summary_query(db,
                           "SELECT t.rule_id, (SELECT title FROM incidents i"
                           " WHERE i.rule_id = t.rule_id LIMIT 1), t.n FROM"
                           " summary_rule t WHERE t.n > 0"
                           " ORDER BY t.n DESC, t.rule_id LIMIT 10",
                           0, row_rule, out, err);
    }
    if (rc == SN_OK) {
        SN_BUF_LIT(out, "],\"top_sources\":[");
        rc = summary_query(db,
                           "SELECT group_key, n FROM summary_key WHERE n > 0"
                           " ORDER BY n DESC, group_key LIMIT 10",
                           0, row_key, out, err);
    }
    if (rc == SN_OK)
        rc = SN_BUF_LIT(out, "]}");
    return rc;
}
