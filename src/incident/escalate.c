/*
 * Escalation timers on the manager's thread; see escalate.h. State lives
 * in the store only (the `escalations` table), so a restart goes on
 * where the last commit left off: nothing is kept in memory but the
 * policies. The policy is chosen at each due time (the first that
 * matches the incident's rule and current severity), so a reload's new
 * policy applies from the step an incident reached.
 */
#include "incident/escalate.h"

#include <fnmatch.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "incident/audit.h"
#include "incident/incident.h"
#include "incident/store.h"

/* Incidents handled per pass (a second); the rest are still due next
 * time, oldest due first. */
#define DUE_MAX 256
/* No policy matches an incident now: look again this much later (its
 * severity may rise into a policy's min_severity). */
#define RECHECK_MS 60000

struct step {
    int64_t after_ms;
    bool unless_ack;
    char **notify;
    size_t n_notify;
};

struct policy {
    char **rules;
    size_t n_rules;
    int min_severity;
    struct step *steps;
    size_t n_steps;
};

struct sn_escalation {
    struct policy *p;
    size_t n;
    struct sn_buf scratch; /* a notification's document */
    struct sn_buf member;  /* its "escalation" member */
};

static char **
copy_names(const struct sn_strlist *l)
{
    char **v = calloc(l->n + 1, sizeof(char *));

    for (size_t i = 0; v != NULL && i < l->n; i++)
        if ((v[i] = strdup(l->items[i])) == NULL)
            return v; /* the caller finds it short */
    return v;
}

static bool
names_ok(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v == NULL || v[i] == NULL)
            return false;
    return v != NULL;
}

static void
free_names(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

void
sn_escalation_free(struct sn_escalation *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free_names(e->p[i].rules);
        for (size_t j = 0; e->p[i].steps != NULL && j < e->p[i].n_steps; j++)
            free_names(e->p[i].steps[j].notify);
        free(e->p[i].steps);
    }
    free(e->p);
    sn_buf_fini(&e->scratch);
    sn_buf_fini(&e->member);
    free(e);
}

struct sn_escalation *
sn_escalation_new(const struct sn_esc_conf *conf)
{
    struct sn_escalation *e;

    if (conf->n_policies == 0 || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    sn_buf_init(&e->scratch, 16u * 1024 * 1024);
    sn_buf_init(&e->member, 4096);
    e->p = calloc(conf->n_policies, sizeof(*e->p));
    if (e->p == NULL)
        goto fail;
    e->n = conf->n_policies;
    for (size_t i = 0; i < e->n; i++) {
        const struct sn_esc_policy *cp = &conf->policies[i];
        struct policy *p = &e->p[i];

        p->min_severity = cp->min_severity;
        p->n_rules = cp->rules.n;
        p->rules = copy_names(&cp->rules);
        p->steps = calloc(cp->n_steps, sizeof(*p->steps));
        if (!names_ok(p->rules, p->n_rules) || p->steps == NULL)
            goto fail;
        p->n_steps = cp->n_steps;
        for (size_t j = 0; j < p->n_steps; j++) {
            p->steps[j].after_ms = cp->steps[j].after_ms;
            p->steps[j].unless_ack = cp->steps[j].unless_ack;
            p->steps[j].n_notify = cp->steps[j].notify.n;
            p->steps[j].notify = copy_names(&cp->steps[j].notify);
            if (!names_ok(p->steps[j].notify, p->steps[j].n_notify))
                goto fail;
        }
    }
    return e;
fail:
    sn_escalation_free(e);
    return NULL;
}

bool
sn_escalation_notifies(const struct sn_escalation *e, const char *output)
{
    for (size_t i = 0; e != NULL && i < e->n; i++)
        for (size_t j = 0; j < e->p[i].n_steps; j++)
            for (size_t k = 0; k < e->p[i].steps[j].n_notify; k++)
                if (strcmp(e->p[i].steps[j].notify[k], output) == 0)
                    return true;
    return false;
}

static const struct policy *
match(const struct sn_escalation *e, const struct sn_incident *inc)
{
    const char *rule = inc->rule_id ? inc->rule_id : "";

    for (size_t i = 0; i < e->n; i++) {
        const struct policy *p = &e->p[i];
        bool ok = p->n_rules == 0;

        for (size_t j = 0; !ok && j < p->n_rules; j++)
            ok = fnmatch(p->rules[j], rule, 0) == 0;
        if (ok && (int)inc->severity >= p->min_severity)
            return p;
    }
    return NULL;
}

/* "15m", "2s", "1500ms": as a configuration would say it. */
static void
fmt_after(int64_t ms, char *out, size_t len)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(out, len, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(out, len, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, len, "%lldms", (long long)ms);
}

/* Step k of p for inc: its notifications, or the audit entry of a step
 * an acknowledgement stopped. */
static enum sn_status
fire(struct sn_escalation *e, struct sn_store *s, const struct policy *p,
     size_t k, const struct sn_incident *inc, int64_t now, size_t *sent)
{
    const struct step *st = &p->steps[k];
    char after[32], reason[160];
    struct sn_error err; /* the caller reads the store's own message */

    fmt_after(st->after_ms, after, sizeof(after));
    snprintf(reason, sizeof(reason), "escalation step %zu of %zu (after %s%s)",
             k + 1, p->n_steps, after,
             st->unless_ack ? ", unless acknowledged" : "");
    if (st->unless_ack && strcmp(inc->status, "acknowledged") == 0) {
        struct sn_audit_entry stop = {
            .at = now,
            .actor = "sentineld",
            .action = "escalation stopped",
            .incident_id = inc->id,
            .version = inc->version,
            .reason = reason,
            .details = "the incident is acknowledged",
        };
        return sn_store_audit(s, &stop, &err);
    }
    for (size_t i = 0; i < st->n_notify; i++) {
        struct sn_audit_entry sent_to = {
            .at = now,
            .actor = "sentineld",
            .action = "notify",
            .target = st->notify[i],
            .incident_id = inc->id,
            .version = inc->version,
            .reason = reason,
        };
        enum sn_status rc;

        sn_buf_reset(&e->member);
        if (sn_buf_printf(&e->member,
                          "\"escalation\":{\"step\":%zu,\"steps\":%zu,"
                          "\"after_ms\":%lld,\"output\":",
                          k + 1, p->n_steps,
                          (long long)st->after_ms) != SN_OK ||
            sn_json_str(&e->member, st->notify[i], strlen(st->notify[i])) !=
                SN_OK ||
            sn_buf_putc(&e->member, '}') != SN_OK)
            return SN_ENOMEM;
        rc = sn_store_notify(s, inc, st->notify[i], sn_buf_cstr(&e->member),
                             now, &e->scratch);
        if (rc == SN_OK)
            rc = sn_store_audit(s, &sent_to, &err);
        if (rc != SN_OK)
            return rc;
        (*sent)++;
    }
    return SN_OK;
}

static int
set_state(sqlite3_stmt *q, const char *id, int64_t step, int64_t due)
{
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, step);
    if (due < 0)
        sqlite3_bind_null(q, 3);
    else
        sqlite3_bind_int64(q, 3, due);
    return sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

static bool
is_released(sqlite3_stmt *q, const char *id)
{
    bool r = false;

    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        r = sqlite3_column_int(q, 0) != 0;
    sqlite3_reset(q);
    return r;
}

/* One due incident: fire what is due, save the next step and its time. */
static enum sn_status
advance_one(struct sn_escalation *e, struct sn_store *s, sqlite3_stmt *set,
            sqlite3_stmt *rel, const char *id, int64_t k, int64_t now,
            size_t *sent)
{
    struct sn_incident inc;
    const struct policy *p;
    enum sn_status rc;
    int64_t due = -1;

    sn_incident_init(&inc);
    rc = sn_store_get(s, id, &inc);
    if (rc == SN_DECLINED)
        return set_state(set, id, k, -1) == SQLITE_OK ? SN_OK : SN_EIO;
    if (rc != SN_OK)
        return rc;
    if ((strcmp(inc.status, "open") != 0 &&
         strcmp(inc.status, "acknowledged") != 0) ||
        is_released(rel, id)) {
        rc = SN_OK; /* resolved, suppressed or handed over: chain over */
    } else if ((p = match(e, &inc)) == NULL) {
        due = now + RECHECK_MS * SN_NS_PER_MS;
    } else {
        while (rc == SN_OK && (size_t)k < p->n_steps &&
               inc.created_at + p->steps[k].after_ms * SN_NS_PER_MS <= now)
            rc = fire(e, s, p, (size_t)k++, &inc, now, sent);
        if ((size_t)k < p->n_steps)
            due = inc.created_at + p->steps[k].after_ms * SN_NS_PER_MS;
    }
    if (rc == SN_OK && set_state(set, id, k, due) != SQLITE_OK)
        rc = SN_EIO;
    sn_incident_fini(&inc);
    return rc;
}

enum sn_status
sn_escalation_run(struct sn_escalation *e, struct sn_store *s, int64_t now,
                  size_t *sent)
{
    /* Live incidents not seen yet start at step 0, due at their opening
     * (the stored time: a restart computes the same due times). */
    static const char reg[] =
        "INSERT INTO escalations (incident_id, next_step, due)"
        " SELECT id, 0, created_at FROM incidents i WHERE status IN"
        " ('open', 'acknowledged') AND released = 0 AND NOT EXISTS"
        " (SELECT 1 FROM escalations e WHERE e.incident_id = i.id)";
    sqlite3 *db = sn_store_db(s);
    sqlite3_stmt *due = NULL, *set = NULL, *rel = NULL;
    char(*ids)[SN_UUID_LEN + 1] = NULL;
    int64_t steps[DUE_MAX];
    size_t n = 0;
    enum sn_status rc = SN_EIO;

    *sent = 0;
    if (sqlite3_exec(db, reg, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT incident_id, next_step FROM escalations"
                           " WHERE due <= ?1 ORDER BY due LIMIT ?2",
                           -1, &due, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "UPDATE escalations SET next_step = ?2, due = ?3"
                           " WHERE incident_id = ?1",
                           -1, &set, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT released FROM incidents WHERE id = ?1",
                           -1, &rel, NULL) != SQLITE_OK ||
        (ids = malloc(DUE_MAX * sizeof(*ids))) == NULL)
        goto out;
    /* Read first, then write: the rows change as they are handled. */
    sqlite3_bind_int64(due, 1, now);
    sqlite3_bind_int(due, 2, DUE_MAX);
    while (n < DUE_MAX && sqlite3_step(due) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(due, 0);
        snprintf(ids[n], sizeof(ids[n]), "%s", id ? (const char *)id : "");
        steps[n++] = sqlite3_column_int64(due, 1);
    }
    rc = SN_OK;
    for (size_t i = 0; i < n && rc == SN_OK; i++)
        rc = advance_one(e, s, set, rel, ids[i], steps[i], now, sent);
out:
    free(ids);
    sqlite3_finalize(due);
    sqlite3_finalize(set);
    sqlite3_finalize(rel);
    return rc;
}
