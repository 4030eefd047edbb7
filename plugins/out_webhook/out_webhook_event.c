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

#include "../common/json_fast.h"

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

/* The members the document alone is judged by (stateless()). */
enum { M_CREATED, M_UPDATED, M_BASE, M_COUNT_ };
static const char *const member_keys[M_COUNT_] = { "created_at", "updated_at",
                                                   "base_severity" };

struct members {
    struct sn_str v[M_COUNT_];  /* ptr NULL: absent or not a string */
    struct json_object *parsed; /* json-c's tree when it had to read */
};

static void
member_from(struct json_object *doc, const char *key, struct sn_str *out)
{
    struct json_object *v;

    if (json_object_object_get_ex(doc, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        out->ptr = json_object_get_string(v);
        out->len = (size_t)json_object_get_string_len(v);
    }
}

/* The members of d, from doc when given, else by one pass over the text
 * (no tree: with the incident preset nothing else reads the document);
 * an escaped value, or text that pass declines, goes to json-c. False:
 * the document is not JSON. */
static bool
members_read(const struct sn_doc *d, struct json_object *doc, struct members *m)
{
    struct jf_val v[M_COUNT_];
    bool esc = false;

    memset(m, 0, sizeof(*m));
    if (doc == NULL &&
        jf_top_members(d->json.ptr, d->json.len, member_keys, M_COUNT_, v)) {
        for (int i = 0; i < M_COUNT_; i++) {
            esc |= v[i].type == JF_STR && v[i].esc;
            if (v[i].type == JF_STR) {
                m->v[i].ptr = v[i].p;
                m->v[i].len = v[i].n;
            }
        }
        if (!esc)
            return true;
        memset(m, 0, sizeof(*m));
    }
    if (doc == NULL &&
        (doc = m->parsed = json_tokener_parse(d->json.ptr)) == NULL)
        return false;
    for (int i = 0; i < M_COUNT_; i++)
        member_from(doc, member_keys[i], &m->v[i]);
    return true;
}

static bool
str_eq(struct sn_str a, struct sn_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
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
stateless(const struct members *m, int sev, enum status_kind st)
{
    const struct sn_str *created = &m->v[M_CREATED],
                        *updated = &m->v[M_UPDATED], *base = &m->v[M_BASE];

    if (st != ST_OPEN)
        return by_status(st);
    if (created->ptr != NULL && updated->ptr != NULL &&
        str_eq(*created, *updated))
        return OW_EV_OPENED;
    if (base->ptr != NULL && sev > ow_severity_rank(base->ptr, base->len))
        return OW_EV_ESCALATED;
    return OW_EV_UPDATED;
}

bool
ow_classify(struct ow_seen *sn, const struct sn_doc *d, struct json_object *doc,
            enum ow_event *out)
{
    struct seen_entry *e = &sn->e[hash_id(d->id) % SEEN_SLOTS];
    int sev = ow_severity_rank(d->severity.ptr, d->severity.len);
    enum status_kind st = status_kind(d->status);
    bool same = d->id.len < ID_MAX && strlen(e->id) == d->id.len &&
                memcmp(e->id, d->id.ptr, d->id.len) == 0;
    struct members m;
    enum ow_event ev;

    /* Read even when the cache decides, so a document that is not JSON
     * is refused whichever path judges it. */
    if (!members_read(d, doc, &m))
        return false;
    if (same && d->version == e->version)
        ev = (enum ow_event)e->ev;
    else if (same && d->version < e->version)
        ev = stateless(&m, sev, st); /* an old one again */
    else {
        if (!same)
            ev = stateless(&m, sev, st);
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
    }
    json_object_put(m.parsed);
    *out = ev;
    return true;
}
