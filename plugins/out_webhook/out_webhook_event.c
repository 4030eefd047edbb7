/*
 * What an incident version means to a channel (opened, escalated,
 * resolved, ...). The outbox hands over versions, not transitions, so
 * the output remembers the last version it saw of each incident in a
 * bounded cache (direct-mapped: a colliding incident evicts the older
 * one). Without an entry (first sight, eviction, after a restart) the
 * document alone decides: created_at == updated_at is an opening,
 * severity above base_severity an escalation, the status the rest. That
 * fallback can call a version "escalated" a second time after a
 * restart: a duplicate notification, never a lost one.
 */
#include "out_webhook.h"

#include <stdlib.h>
#include <string.h>

#define SEEN_SLOTS 8192 /* incidents remembered; ~0.5 MiB */
#define ID_MAX     40

const char *const ow_event_names[OW_EV_COUNT_] = {
    "opened",   "updated",    "escalated", "acknowledged",
    "resolved", "suppressed", "reopened",
};

struct seen_entry {
    char id[ID_MAX];
    int64_t version;
    int8_t sev;    /* rank of this version's severity */
    int8_t status; /* enum status_kind */
    int8_t ev;     /* what this version meant */
};

struct ow_seen {
    struct seen_entry e[SEEN_SLOTS];
};

enum status_kind { ST_OPEN, ST_ACK, ST_RESOLVED, ST_SUPPRESSED, ST_OTHER };

int
ow_severity_rank(const char *s, size_t len)
{
    static const char *const names[] = { "info", "low", "medium", "high",
                                         "critical" };

    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

static enum status_kind
status_kind(struct sn_str s)
{
    static const char *const names[] = { "open", "acknowledged", "resolved",
                                         "suppressed" };

    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == s.len && memcmp(names[i], s.ptr, s.len) == 0)
            return (enum status_kind)i;
    return ST_OTHER;
}

struct ow_seen *
ow_seen_new(void)
{
    return calloc(1, sizeof(struct ow_seen));
}

void
ow_seen_free(struct ow_seen *sn)
{
    free(sn);
}

static uint32_t
hash_id(struct sn_str id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (uint8_t)id.ptr[i]) * 16777619u;
    return h;
}

static const char *
str_member(struct json_object *doc, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(doc, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static enum ow_event
by_status(enum status_kind st)
{
    switch (st) {
    case ST_ACK:
        return OW_EV_ACKNOWLEDGED;
    case ST_RESOLVED:
        return OW_EV_RESOLVED;
    case ST_SUPPRESSED:
        return OW_EV_SUPPRESSED;
    default:
        return OW_EV_UPDATED;
    }
}

/* Judged from the document alone. */
static enum ow_event
stateless(const struct sn_doc *d, struct json_object *doc, int sev,
          enum status_kind st)
{
    const char *created = str_member(doc, "created_at");
    const char *updated = str_member(doc, "updated_at");
    const char *base = str_member(doc, "base_severity");

    if (st != ST_OPEN)
        return by_status(st);
    if (created != NULL && updated != NULL && strcmp(created, updated) == 0)
        return OW_EV_OPENED;
    (void)d;
    if (base != NULL && sev > ow_severity_rank(base, strlen(base)))
        return OW_EV_ESCALATED;
    return OW_EV_UPDATED;
}

enum ow_event
ow_classify(struct ow_seen *sn, const struct sn_doc *d, struct json_object *doc)
{
    struct seen_entry *e = &sn->e[hash_id(d->id) % SEEN_SLOTS];
    int sev = ow_severity_rank(d->severity.ptr, d->severity.len);
    enum status_kind st = status_kind(d->status);
    bool same = d->id.len < ID_MAX && strlen(e->id) == d->id.len &&
                memcmp(e->id, d->id.ptr, d->id.len) == 0;
    enum ow_event ev;

    if (same && d->version == e->version)
        return (enum ow_event)e->ev;
    if (same && d->version < e->version)
        return stateless(d, doc, sev, st); /* an old one again */
    if (!same)
        ev = stateless(d, doc, sev, st);
    else if ((enum status_kind)e->status != st)
        ev = st == ST_OPEN
                 ? (e->status == ST_ACK ? OW_EV_UPDATED : OW_EV_REOPENED)
                 : by_status(st);
    else if (sev > e->sev)
        ev = OW_EV_ESCALATED;
    else
        ev = OW_EV_UPDATED;
    if (d->id.len < ID_MAX) {
        memcpy(e->id, d->id.ptr, d->id.len);
        e->id[d->id.len] = '\0';
        e->version = d->version;
        e->sev = (int8_t)sev;
        e->status = (int8_t)st;
        e->ev = (int8_t)ev;
    }
    return ev;
}
