/*
 * Signal -> incident; see fold.h. Parses the signal with json-c (the
 * shape is open: det_rules adds title, description, tags and a trace),
 * scrubs everything but the group key, then reads, changes and writes
 * the incident row through the store. It never commits: the manager
 * owns the transaction (one per batch).
 */
#include "incident/fold.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "incident/fold_scan.h"
#include "incident/incident.h"
#include "incident/incidents.h"
#include "incident/partition.h"
#include "incident/signal_wire.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum sn_status
sn_fold_init(struct sn_fold *f, struct sn_store *store, struct sn_scrub *scrub,
             int64_t auto_resolve_ms, size_t evidence_max)
{
    memset(f, 0, sizeof(*f));
    f->store = store;
    f->scrub = scrub;
    f->auto_resolve_ms = auto_resolve_ms;
    f->evidence_max = evidence_max ? evidence_max : 10;
    sn_buf_init(&f->scratch, 8u * 1024 * 1024);
    sn_buf_init(&f->tmp, 8u * 1024 * 1024);
    if ((f->scan = malloc(sizeof(*f->scan))) == NULL)
        return SN_ENOMEM;
    sn_fold_scan_init(f->scan);
    return SN_OK;
}

static void sn_fold_discard_all(struct sn_fold *f);

void
sn_fold_fini(struct sn_fold *f)
{
    sn_fold_discard_all(f);
    sn_buf_fini(&f->scratch);
    sn_buf_fini(&f->tmp);
    sn_fold_scan_fini(f->scan);
    free(f->scan);
    f->scan = NULL;
}

static const char *
get_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *o, const char *key, int64_t def)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_int) ||
          json_object_is_type(v, json_type_double)))
        return def;
    return json_object_get_int64(v);
}

/* A copy of json-c's text for o; NULL when out of memory. */
static char *
render(struct json_object *o, size_t *len)
{
    size_t n;
    const char *t = json_object_to_json_string_length(o, JSON_FLAGS, &n);
    char *c = malloc(n + 1);

    if (c != NULL) {
        memcpy(c, t, n + 1);
        if (len != NULL)
            *len = n;
    }
    return c;
}

/* Evidence items from a signal: {"first":[..],"last":[..]} (det_rules) or
 * a plain array; each gets an RFC 3339 "time" next to its time_ns. */
static void
collect_items(struct json_object *ev, struct json_object *into)
{
    static const char *const parts[] = { "first", "last" };

    if (ev == NULL)
        return;
    if (json_object_is_type(ev, json_type_object)) {
        for (int p = 0; p < 2; p++) {
            struct json_object *a;
            if (json_object_object_get_ex(ev, parts[p], &a))
                collect_items(a, into);
        }
        return;
    }
    if (!json_object_is_type(ev, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(ev); i++) {
        struct json_object *it = json_object_array_get_idx(ev, i);
        char t[40];
        int64_t ns;
        if (!json_object_is_type(it, json_type_object))
            continue;
        ns = get_int(it, "time_ns", 0);
        if (ns != 0 && get_str(it, "time") == NULL) {
            sn_time_rfc3339(ns, t);
            json_object_object_add(it, "time", json_object_new_string(t));
        }
        json_object_array_add(into, json_object_get(it));
    }
}

/* Items are compared as text: json-c renders equal items (same keys in
 * the same order, "time" added last) to the same bytes, and a stored
 * evidence array holds them as json-c rendered them. */
static bool
same_item(const struct sn_fold_item *a, const struct sn_fold_item *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

struct sn_fold_entry {
    uint64_t hash; /* of rule id and group key */
    uint32_t next; /* the next entry of its bucket; NO_ENTRY: none */
    uint64_t used; /* the tick of the batch that last used it */
    struct sn_incident inc;
    /* The evidence window: spans of inc.evidence (as loaded or last
     * written) or of this batch's signals, which outlive the batch. */
    struct sn_fold_item *ev;
    size_t n_ev, cap_ev;
    struct sn_fold_sig *expl; /* the latest firing signal, borrowed */
    bool is_new, asked;
    /* A firing or degraded signal changed it in this batch: the whole
     * row and its evidence are written; else only the counters. */
    bool full;
    int64_t n_signals, n_events;
    /* What the next write adds to the version: 1 per signal, but an
     * `update` signal adds its hits (below, write_entry). */
    int64_t n_steps;
    int last_sev;
    int loaded_sev;        /* severity when loaded: a change is delivered */
    int64_t delivered_at;  /* the newest recorded version's time; 0 none */
    /* The held_since this connection stored in the row (sn_store_hold);
     * 0: unknown. The next held version of the same delivered one skips
     * the store's no-op update (a statement, a row lookup) of its own. */
    int64_t held_at;
};

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static enum sn_status
ev_reserve(struct sn_fold_entry *e, size_t n)
{
    struct sn_fold_item *v;
    size_t cap;

    if (n <= e->cap_ev)
        return SN_OK;
    cap = e->cap_ev ? e->cap_ev : 16;
    while (cap < n)
        cap *= 2;
    v = realloc(e->ev, cap * sizeof(*v));
    if (v == NULL)
        return SN_ENOMEM;
    e->ev = v;
    e->cap_ev = cap;
    return SN_OK;
}

/* The elements of a stored evidence array as spans of its text, without
 * building a tree: the manager reads every open incident's evidence per
 * batch, and parsing it was a sixth of its time. Anything that is not a
 * well-formed array is an empty window, as a failed parse was. */
static enum sn_status
split_items(struct sn_fold_entry *e, const char *s)
{
    const char *p = s ? skip_ws(s) : "";

    e->n_ev = 0;
    if (*p++ != '[')
        return SN_OK;
    p = skip_ws(p);
    if (*p == ']')
        return SN_OK;
    for (;;) {
        const char *start = p, *end;
        int depth = 0;
        for (; *p != '\0'; p++) {
            if (*p == '"') {
                for (p++; *p != '\0' && *p != '"'; p++)
                    if (*p == '\\' && p[1] != '\0')
                        p++;
                if (*p == '\0')
                    break;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (depth-- == 0)
                    break;
            } else if (*p == ',' && depth == 0) {
                break;
            }
        }
        if (*p == '\0' || (*p == '}' && depth < 0) || p == start)
            goto bad;
        for (end = p; end > start && (end[-1] == ' ' || end[-1] == '\n' ||
                                      end[-1] == '\t' || end[-1] == '\r');
             end--)
            ;
        if (ev_reserve(e, e->n_ev + 1) != SN_OK)
            return SN_ENOMEM;
        e->ev[e->n_ev].p = start;
        e->ev[e->n_ev].len = (size_t)(end - start);
        e->n_ev++;
        if (*p == ']')
            return *skip_ws(p + 1) == '\0' ? SN_OK : (e->n_ev = 0, SN_OK);
        p = skip_ws(p + 1);
    }
bad:
    e->n_ev = 0;
    return SN_OK;
}

uint64_t
sn_fold_key_hash(const char *rule, const char *key)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (const char *p = rule; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void
entry_fini(struct sn_fold_entry *e)
{
    sn_incident_fini(&e->inc);
    free(e->ev);
    memset(e, 0, sizeof(*e));
}

/* The hash index over f->cache: buckets of entry indexes chained
 * through entry.next. A batch may hold thousands of incidents and the
 * kept ones stay: a linear search per signal was quadratic. */
#define NO_ENTRY UINT32_MAX

static void
index_link(struct sn_fold *f, size_t i)
{
    uint32_t *b = &f->bucket[f->cache[i].hash & (f->n_bucket - 1)];

    f->cache[i].next = *b;
    *b = (uint32_t)i;
}

static void
index_unlink(struct sn_fold *f, size_t i)
{
    uint32_t *p = &f->bucket[f->cache[i].hash & (f->n_bucket - 1)];

    while (*p != (uint32_t)i)
        p = &f->cache[*p].next;
    *p = f->cache[i].next;
}

/* Room for one more entry (f->cache[f->n_cache], uninitialised); the
 * index is rebuilt when the array grows. */
static enum sn_status
reserve_entry(struct sn_fold *f)
{
    size_t cap, nb;
    void *p;
    uint32_t *b;

    if (f->n_cache < f->cap_cache)
        return SN_OK;
    cap = f->cap_cache ? f->cap_cache * 2 : 64;
    if (cap >= NO_ENTRY)
        return SN_ENOMEM;
    for (nb = 64; nb < 2 * cap; nb *= 2)
        ;
    p = realloc(f->cache, cap * sizeof(*f->cache));
    if (p == NULL)
        return SN_ENOMEM;
    f->cache = p;
    f->cap_cache = cap;
    if (nb != f->n_bucket) {
        if ((b = malloc(nb * sizeof(*b))) == NULL)
            return SN_ENOMEM;
        free(f->bucket);
        f->bucket = b;
        f->n_bucket = nb;
        memset(b, 0xff, nb * sizeof(*b)); /* NO_ENTRY */
        for (size_t i = 0; i < f->n_cache; i++)
            index_link(f, i);
    }
    return SN_OK;
}

/* The entry just built at f->cache[f->n_cache] joins the cache. */
static void
add_entry(struct sn_fold *f)
{
    f->cache[f->n_cache].used = f->tick;
    index_link(f, f->n_cache++);
}

static void
drop_entry(struct sn_fold *f, size_t i)
{
    size_t last = f->n_cache - 1;

    index_unlink(f, i);
    entry_fini(&f->cache[i]);
    if (i != last) {
        index_unlink(f, last);
        f->cache[i] = f->cache[last];
        index_link(f, i);
    }
    f->n_cache--;
}

void
sn_fold_discard(struct sn_fold *f)
{
    while (f->n_cache > 0)
        drop_entry(f, f->n_cache - 1);
}

/* Forget the kept incident with this id, if any (this connection wrote
 * it outside a batch: auto-resolved, a held version delivered). */
static void
forget_id(struct sn_fold *f, const char *id)
{
    for (size_t i = 0; i < f->n_cache; i++)
        /* The first byte first: ids are random, and this runs for
         * every cached entry per released id. */
        if (f->cache[i].inc.id[0] == id[0] &&
            strcmp(f->cache[i].inc.id, id) == 0) {
            drop_entry(f, i);
            return;
        }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Down to cache_max entries, the least recently used going first; past
 * it, down to three quarters, so the sort runs once per many batches. */
static void
trim(struct sn_fold *f)
{
    size_t target = f->cache_max - f->cache_max / 4, n = f->n_cache;
    uint64_t *t, cut;

    if (n <= f->cache_max)
        return;
    if (target == 0 || (t = malloc(n * sizeof(*t))) == NULL) {
        sn_fold_discard(f);
        return;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = f->cache[i].used;
    qsort(t, n, sizeof(*t), cmp_u64);
    cut = t[n - target]; /* the oldest tick that may stay */
    free(t);
    for (size_t i = n; i-- > 0;)
        if (f->cache[i].used < cut)
            drop_entry(f, i);
    for (size_t i = f->n_cache; i-- > 0 && f->n_cache > target;)
        if (f->cache[i].used == cut)
            drop_entry(f, i);
}

static void
sn_fold_discard_all(struct sn_fold *f)
{
    sn_fold_discard(f);
    free(f->cache);
    f->cache = NULL;
    f->cap_cache = 0;
    free(f->bucket);
    f->bucket = NULL;
    f->n_bucket = 0;
}

void
sn_fold_begin(struct sn_fold *f)
{
    int64_t v = sn_store_data_version(f->store);

    if (v < 0 || v != f->data_version)
        sn_fold_discard(f);
    f->data_version = v;
    f->tick++;
}

/* Add fresh items to the window; when full keep the first half as first
 * seen (how it began) and the newest after it (how it goes on). */
static enum sn_status
merge_evidence(struct sn_fold *f, struct sn_fold_entry *e,
               const struct sn_fold_sig *sig)
{
    size_t n_old = e->n_ev, n, cut;
    size_t head = f->evidence_max / 2;

    if (ev_reserve(e, n_old + sig->n_items) != SN_OK)
        return SN_ENOMEM;
    if (sig->coalesced > 1) {
        /* Each item is one per-event signal's evidence (det_rules'
         * coalescing): merged one at a time, as those signals would have
         * been, so the window is the same either way. */
        for (size_t i = 0; i < sig->n_items; i++) {
            bool dup = false;
            for (size_t j = 0; j < e->n_ev && !dup; j++)
                dup = same_item(&e->ev[j], &sig->items[i]);
            if (dup)
                continue;
            e->ev[e->n_ev++] = sig->items[i];
            if (e->n_ev > f->evidence_max) {
                memmove(&e->ev[head], &e->ev[head + 1],
                        (e->n_ev - head - 1) * sizeof(*e->ev));
                e->n_ev--;
            }
        }
        return SN_OK;
    }
    for (size_t i = 0; i < sig->n_items; i++) {
        bool dup = false;
        for (size_t j = 0; j < n_old && !dup; j++)
            dup = same_item(&e->ev[j], &sig->items[i]);
        if (!dup)
            e->ev[e->n_ev++] = sig->items[i];
    }
    n = e->n_ev;
    if (n > f->evidence_max) {
        cut = n - f->evidence_max;
        memmove(&e->ev[head], &e->ev[head + cut],
                (n - head - cut) * sizeof(*e->ev));
        e->n_ev = f->evidence_max;
    }
    return SN_OK;
}

/* The window as a JSON array into inc.evidence; the spans then point
 * into that text (the signals' own may be freed after the batch). */
static enum sn_status
write_evidence(struct sn_fold *f, struct sn_fold_entry *e)
{
    struct sn_buf *b = &f->tmp;
    size_t pos = 1;

    sn_buf_reset(b);
    if (sn_buf_putc(b, '[') != SN_OK)
        return SN_ENOMEM;
    for (size_t i = 0; i < e->n_ev; i++)
        if ((i > 0 && sn_buf_putc(b, ',') != SN_OK) ||
            sn_buf_append(b, e->ev[i].p, e->ev[i].len) != SN_OK)
            return SN_ENOMEM;
    if (sn_buf_putc(b, ']') != SN_OK ||
        sn_incident_set(&e->inc.evidence, b->data, b->len) != SN_OK)
        return SN_ENOMEM;
    for (size_t i = 0; i < e->n_ev; i++) {
        e->ev[i].p = e->inc.evidence + pos;
        pos += e->ev[i].len + 1;
    }
    return SN_OK;
}

static enum sn_status
record(struct sn_fold *f, struct sn_incident *inc, const char *action,
       const char *reason)
{
    if (sn_store_put(f->store, inc) != SN_OK)
        return SN_EIO;
    return sn_store_record(f->store, inc, "sentineld", action, reason, NULL,
                           &f->scratch) == SN_OK
               ? SN_OK
               : SN_EIO;
}

/* The row as changed: whole, or only its counters when nothing but
 * `update` signals (hits) touched a row this connection wrote; hold > 0
 * also holds the version (sn_store_hold), with the counters in one
 * statement. */
static enum sn_status
put(struct sn_fold *f, struct sn_fold_entry *e, int64_t hold)
{
    if (e->full || e->is_new || e->inc.fresh ||
        strcmp(e->inc.status, "resolved") == 0)
        return sn_store_put(f->store, &e->inc) == SN_OK &&
                       (hold == 0 ||
                        sn_store_hold(f->store, e->inc.id, hold) == SN_OK)
                   ? SN_OK
                   : SN_EIO;
    return sn_store_put_hits(f->store, &e->inc, hold);
}

/* Write one changed incident as its next version. */
static enum sn_status
write_entry(struct sn_fold *f, struct sn_fold_entry *e, int64_t now)
{
    struct sn_incident *inc = &e->inc;
    char reason[256];
    const char *action;

    /* Only now is the explanation needed: rendered for the last signal
     * of the batch, not for every one (fold_scan.h). A batch of `update`
     * signals only (more hits) changed neither it nor the evidence. */
    if ((e->full || e->is_new) && write_evidence(f, e) != SN_OK)
        return SN_EIO;
    if ((e->expl != NULL &&
         (sn_fold_scan_expl(f->scan, f->scrub, e->expl) != SN_OK ||
          sn_incident_set(&inc->explanation, e->expl->expl,
                          e->expl->expl_len) != SN_OK)))
        return SN_EIO;
    /* One per signal, however the batch grouped them, and an `update`
     * signal (a fired window's absorbed matches) one per hit, however
     * the detector split them into updates: the same records give the
     * same version on any instance, and more of them a higher one. When
     * the split changes is the clock's doing (refire per_window), so an
     * instance that replays a partition from its checkpoint (after a
     * kill -9, a lost assignment) splits its matches otherwise than the
     * one that delivered them; counted per signal, its versions took
     * numbers already delivered with fewer hits, which outputs keeping
     * the first copy of a version (PostgreSQL, the alerts topic) kept:
     * scale_hop.sh lost the last 1-2 hits of 14 of 20 attackers. */
    inc->version += e->n_steps > 0 ? e->n_steps : 1;
    inc->updated_at = now;
    if (strcmp(inc->status, "resolved") == 0) {
        action = "resolve";
        snprintf(reason, sizeof(reason),
                 "the detector reported the condition resolved");
    } else {
        action = e->is_new ? "open" : e->asked ? "escalation requested"
                                               : "update";
        if (inc->degraded)
            snprintf(reason, sizeof(reason),
                     "detection degraded: keys evicted or events dropped");
        else
            snprintf(reason, sizeof(reason), "%lld %s signal%s: %lld events%s",
                     (long long)e->n_signals,
                     sn_severity_name((enum sn_severity)e->last_sev),
                     e->n_signals == 1 ? "" : "s", (long long)e->n_events,
                     e->asked ? "; escalation to critical waits for approval"
                              : "");
    }
    /* Only more hits (counters, last_seen, evidence) and the last
     * delivered version is recent: stored now (nothing is lost, the
     * transaction is the same), recorded and delivered by
     * sn_fold_release once update_ms passed (docs/incidents.md). */
    if (f->update_ms > 0 && !e->is_new && !e->asked &&
        strcmp(action, "update") == 0 && (int)inc->severity == e->loaded_sev &&
        e->delivered_at > 0 &&
        now - e->delivered_at < f->update_ms * SN_NS_PER_MS) {
        if (put(f, e, e->held_at != e->delivered_at ? e->delivered_at : 0) !=
            SN_OK)
            return SN_EIO;
        e->held_at = e->delivered_at;
        f->st.held++;
        f->st.updated++;
        e->n_signals = e->n_events = e->n_steps = 0;
        e->full = false;
        e->expl = NULL;
        return SN_OK;
    }
    if (put(f, e, 0) != SN_OK ||
        sn_store_record(f->store, inc, "sentineld", action, reason, NULL,
                        &f->scratch) != SN_OK)
        return SN_EIO;
    e->delivered_at = inc->updated_at;
    e->held_at = 0; /* sn_store_record cleared it */
    e->loaded_sev = (int)inc->severity;
    inc->fresh = false;
    if (e->is_new)
        f->st.opened++;
    else if (strcmp(inc->status, "resolved") != 0)
        f->st.updated++;
    e->is_new = false;
    e->asked = false;
    e->full = false;
    e->expl = NULL; /* the signal goes with the batch */
    e->n_signals = e->n_events = e->n_steps = 0;
    return SN_OK;
}

enum sn_status
sn_fold_flush(struct sn_fold *f, int64_t now, struct sn_error *err)
{
    for (size_t i = 0; i < f->n_cache; i++)
        if (f->cache[i].n_signals > 0 &&
            write_entry(f, &f->cache[i], now) != SN_OK) {
            sn_error_set(err, "incident store %s: %s",
                         sn_store_path(f->store), sn_store_errmsg(f->store));
            return SN_EIO;
        }
    trim(f);
    return SN_OK;
}

/* The batch's entry for the key: cached, loaded from the store, or NULL
 * with *rc SN_DECLINED when no incident is open for it. */
static struct sn_fold_entry *
lookup(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
       enum sn_status *rc)
{
    struct sn_fold_entry *e;

    for (uint32_t i = f->n_bucket ? f->bucket[h & (f->n_bucket - 1)]
                                  : NO_ENTRY;
         i != NO_ENTRY; i = f->cache[i].next) {
        e = &f->cache[i];
        if (e->hash == h && strcmp(e->inc.rule_id, rule) == 0 &&
            strcmp(e->inc.group_key, key) == 0) {
            if (e->used != f->tick) {
                e->used = f->tick;
                f->st.kept_hits++;
            }
            *rc = SN_OK;
            return e;
        }
    }
    if (reserve_entry(f) != SN_OK) {
        *rc = SN_ENOMEM;
        return NULL;
    }
    e = &f->cache[f->n_cache];
    memset(e, 0, sizeof(*e));
    sn_incident_init(&e->inc);
    *rc = sn_store_find_open(f->store, rule, key, &e->inc);
    if (*rc != SN_OK) {
        sn_incident_fini(&e->inc);
        return NULL;
    }
    e->hash = h;
    e->loaded_sev = (int)e->inc.severity;
    e->delivered_at = sn_store_delivered_at(f->store, e->inc.id);
    if (split_items(e, e->inc.evidence) != SN_OK) {
        entry_fini(e);
        *rc = SN_ENOMEM;
        return NULL;
    }
    f->st.kept_misses++;
    add_entry(f);
    return e;
}

/* A new incident for the key, in the cache. */
static struct sn_fold_entry *
open_entry(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
           int sev, int base, int64_t first, int64_t last, int64_t now,
           bool degraded)
{
    struct sn_fold_entry *e;

    if (reserve_entry(f) != SN_OK)
        return NULL;
    e = &f->cache[f->n_cache];
    memset(e, 0, sizeof(*e));
    sn_incident_init(&e->inc);
    e->hash = h;
    e->is_new = true;
    e->inc.fresh = true;
    sn_uuid4(e->inc.id);
    sn_store_last_resolved(f->store, rule, key, e->inc.previous_id);
    if (sn_incident_set(&e->inc.rule_id, rule, strlen(rule)) ||
        sn_incident_set(&e->inc.group_key, key, strlen(key))) {
        entry_fini(e);
        return NULL;
    }
    e->inc.base_severity = (enum sn_severity)(base >= 0 ? base : sev);
    e->inc.severity = e->inc.base_severity;
    e->inc.first_seen = first;
    e->inc.last_seen = last;
    e->inc.created_at = now;
    e->inc.degraded = degraded;
    add_entry(f);
    return e;
}

/* A resolved signal: written at once (not coalesced), so that a key
 * firing again later in the batch opens a new incident. */
static enum sn_status
resolve_key(struct sn_fold *f, const char *rule, const char *key, uint64_t h,
            int64_t now, int64_t when)
{
    struct sn_fold_entry *e;
    enum sn_status rc;

    e = lookup(f, rule, key, h, &rc);
    if (rc == SN_DECLINED) {
        f->st.ignored++; /* nothing open: already resolved by hand */
        return SN_OK;
    }
    if (e == NULL)
        return SN_EIO;
    if (e->n_signals > 0 && write_entry(f, e, now) != SN_OK)
        return SN_EIO;
    strcpy(e->inc.status, "resolved");
    sn_incident_set(&e->inc.pending, NULL, 0);
    if (when > e->inc.last_seen)
        e->inc.last_seen = when;
    e->inc.signal_count++;
    e->n_signals = e->n_steps = 1;
    rc = write_entry(f, e, now);
    f->st.resolved++;
    drop_entry(f, (size_t)(e - f->cache));
    return rc;
}

/* Severity from a signal: raise, but park a raise to CRITICAL that the
 * rule did not start at for an operator's approval. */
static void
escalate(struct sn_fold *f, struct sn_fold_entry *e, int sev, int base,
         int64_t now)
{
    struct sn_incident *inc = &e->inc;
    char t[40];
    struct sn_buf *b = &f->tmp;

    if (sev <= (int)inc->severity)
        return;
    if (sev < SN_SEV_CRITICAL || base == SN_SEV_CRITICAL) {
        inc->severity = (enum sn_severity)sev;
        return;
    }
    if (base > (int)inc->severity && base < SN_SEV_CRITICAL)
        inc->severity = (enum sn_severity)base;
    if (inc->pending != NULL || inc->esc_rejected)
        return;
    sn_time_rfc3339(now, t);
    sn_buf_reset(b);
    sn_buf_printf(b,
                  "{\"action\":\"escalate\",\"to\":\"critical\","
                  "\"requested_by\":\"sentineld\",\"requested_at\":\"%s\","
                  "\"reason\":\"the rule escalated to critical after %lld "
                  "hits\"}",
                  t, (long long)inc->hit_count);
    sn_incident_set(&inc->pending, b->data, b->len);
    e->asked = true;
    f->st.escalations++;
}

void
sn_fold_sig_fini(struct sn_fold_sig *sig)
{
    free(sig->rule);
    free(sig->gk);
    free(sig->src_input);
    free(sig->src_topic);
    free(sig->title);
    free(sig->description);
    free(sig->tags);
    free(sig->expl);
    free(sig->raw);
    free(sig->items);
    memset(sig, 0, sizeof(*sig));
}

enum sn_status
sn_fold_prepare(struct json_tokener *tok, struct sn_scrub *scrub,
                const char *json, size_t len, struct sn_fold_sig *sig,
                struct sn_error *err)
{
    struct json_object *o, *key = NULL, *ev = NULL, *v, *items;
    struct sn_signal_wire w;
    const char *type, *rule, *state, *gk;
    size_t n, text = 0;
    char *at;
    bool has_tags;

    memset(sig, 0, sizeof(*sig));
    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, json, (int)len);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        sn_error_set(err, "not a JSON object: %s",
                     json_tokener_error_desc(json_tokener_get_error(tok)));
        json_object_put(o);
        return SN_EINVAL;
    }
    sn_signal_wire_read(o, &w);
    type = get_str(o, "type");
    rule = w.has_rule ? w.rule : get_str(o, "rule_id");
    state = w.has_state ? w.state : NULL;
    if ((type != NULL && strcmp(type, "signal") != 0) || rule == NULL ||
        rule[0] == '\0') {
        sn_error_set(err, "not a signal: %s", type == NULL || rule == NULL
                                                   ? "no \"rule\""
                                                   : "\"type\" is not signal");
        json_object_put(o);
        return SN_EINVAL;
    }
    if (state == NULL || strcmp(state, "firing") == 0)
        sig->state = SN_SIG_FIRING;
    else if (strcmp(state, "resolved") == 0)
        sig->state = SN_SIG_RESOLVED;
    else if (strcmp(state, "degraded") == 0)
        sig->state = SN_SIG_DEGRADED;
    else if (strcmp(state, "update") == 0)
        sig->state = SN_SIG_UPDATE;
    else {
        sn_error_set(err, "unknown signal state '%s'", state);
        json_object_put(o);
        return SN_EINVAL;
    }
    sig->sev = w.has_severity ? sn_severity_parse(w.severity) : SN_SEV_MEDIUM;
    sig->base =
        w.has_base_severity ? sn_severity_parse(w.base_severity) : sig->sev;
    if (sig->sev < 0)
        sig->sev = SN_SEV_MEDIUM;
    sig->when = w.time_ns;
    sig->first = w.has_first_ns ? w.first_ns : sig->when;
    sig->last = w.has_last_ns ? w.last_ns : sig->when;
    sig->count = w.has_count && w.count >= 1 ? w.count : 1;
    sig->coalesced = get_int(o, "coalesced", 1);
    if (sig->coalesced < 1)
        sig->coalesced = 1;
    sig->quiet_ms = get_int(o, "quiet_ms", -1);
    if (sn_partition_sig_source(o, sig) != SN_OK) {
        json_object_put(o);
        sn_fold_sig_fini(sig);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }

    /* The group key is the incident's identity: never scrubbed (only the
     * rule's group_by fields are in it). */
    if (json_object_object_get_ex(o, "key", &key))
        json_object_get(key);
    json_object_object_del(o, "key");
    if (sig->state == SN_SIG_DEGRADED) {
        /* An engine capacity notice is not the rule's detection: it gets
         * an incident of its own kind, keyed by the rule that lost state,
         * never the rule's title or severity (docs/incidents.md). */
        char title[256];

        json_object_put(key);
        key = json_object_new_object();
        if (key == NULL ||
            json_object_object_add(key, "rule", json_object_new_string(rule))) {
            json_object_put(key);
            goto oom_early;
        }
        gk = json_object_to_json_string_ext(key, JSON_FLAGS);
        snprintf(title, sizeof(title), "Detection degraded: %s", rule);
        json_object_object_add(o, "title", json_object_new_string(title));
        json_object_object_add(
            o, "description",
            json_object_new_string(
                "The rule's correlation lost state (keys evicted at its "
                "limits.max_keys, or events dropped by a key's bound): it "
                "may miss detections until load falls. See /health and "
                "sentineld_plugin_corr_<rule>_keys_evicted_total."));
        json_object_object_del(o, "tags");
        json_object_object_add(o, "severity",
                               json_object_new_string("medium"));
        json_object_object_add(o, "base_severity",
                               json_object_new_string("medium"));
        sig->sev = sig->base = SN_SEV_MEDIUM;
        rule = SN_DEGRADED_RULE;
    } else if (key != NULL && json_object_is_type(key, json_type_object))
        gk = json_object_to_json_string_ext(key, JSON_FLAGS);
    else
        gk = "{}";
    sig->rule = strdup(rule);
    sig->gk = strdup(gk);
    json_object_put(key);
    if (sig->rule == NULL || sig->gk == NULL) {
    oom_early:
        json_object_put(o);
        sn_fold_sig_fini(sig);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    sig->hash = sn_fold_key_hash(sig->rule, sig->gk);
    if (sig->state == SN_SIG_RESOLVED || sig->state == SN_SIG_UPDATE) {
        json_object_put(o);
        return SN_OK;
    }
    if (scrub != NULL)
        sn_scrub_json(scrub, o);
    if (json_object_object_get_ex(o, "evidence", &ev))
        json_object_get(ev);
    json_object_object_del(o, "evidence");
    items = json_object_new_array();
    collect_items(ev, items);
    if (json_object_object_get_ex(o, "sequence", &v))
        collect_items(v, items);
    json_object_put(ev);
    /* Rendered here, on the emitting thread, so the manager's thread
     * only copies text. */
    n = items ? json_object_array_length(items) : 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        json_object_to_json_string_length(json_object_array_get_idx(items, i),
                                          JSON_FLAGS, &l);
        text += l;
    }
    sig->items = malloc(n * sizeof(*sig->items) + text + 1);
    at = sig->items ? (char *)(sig->items + n) : NULL;
    for (size_t i = 0; at != NULL && i < n; i++) {
        size_t l;
        const char *t = json_object_to_json_string_length(
            json_object_array_get_idx(items, i), JSON_FLAGS, &l);
        memcpy(at, t, l);
        sig->items[i].p = at;
        sig->items[i].len = l;
        at += l;
    }
    sig->n_items = n;
    json_object_put(items);
    if (get_str(o, "title") != NULL)
        sig->title = strdup(get_str(o, "title"));
    if (get_str(o, "description") != NULL)
        sig->description = strdup(get_str(o, "description"));
    has_tags = json_object_object_get_ex(o, "tags", &v) &&
               json_object_is_type(v, json_type_array);
    if (has_tags)
        sig->tags = render(v, NULL);
    sig->expl = render(o, &sig->expl_len);
    if (sig->items == NULL || sig->expl == NULL ||
        (get_str(o, "title") != NULL && sig->title == NULL) ||
        (get_str(o, "description") != NULL && sig->description == NULL) ||
        (has_tags && sig->tags == NULL)) {
        json_object_put(o);
        sn_fold_sig_fini(sig);
        sn_error_set(err, "out of memory");
        return SN_ENOMEM;
    }
    json_object_put(o);
    return SN_OK;
}

/* The same text again (every signal of a rule repeats its title) is
 * not copied again. */
static void
set_text(char **field, const char *s)
{
    if (*field == NULL || strcmp(*field, s) != 0)
        sn_incident_set(field, s, strlen(s));
}

enum sn_status
sn_fold_apply(struct sn_fold *f, struct sn_fold_sig *sig, int64_t now,
              struct sn_error *err)
{
    struct sn_fold_entry *e;
    char title[256];
    bool degraded = sig->state == SN_SIG_DEGRADED;
    int64_t when = sig->when ? sig->when : now;
    int64_t first = sig->first ? sig->first : when;
    int64_t last = sig->last ? sig->last : when;
    int64_t co = sig->coalesced > 1 ? sig->coalesced : 1;
    enum sn_status rc;

    if (sig->state == SN_SIG_RESOLVED) {
        rc = resolve_key(f, sig->rule, sig->gk, sig->hash, now, last);
        goto out;
    }
    e = lookup(f, sig->rule, sig->gk, sig->hash, &rc);
    if (sig->state == SN_SIG_UPDATE) {
        /* Counts for the incident the window's firing signal opened;
         * none open (resolved by hand meanwhile): nothing to count. */
        if (rc == SN_DECLINED) {
            f->st.ignored++;
            rc = SN_OK;
        } else if (e != NULL) {
            if (last > e->inc.last_seen)
                e->inc.last_seen = last;
            e->inc.hit_count += sig->count;
            e->inc.touched_at = now;
            e->n_events += sig->count;
            e->n_signals++; /* written with the batch */
            e->n_steps += sig->count > 0 ? sig->count : 1;
        }
        goto out;
    }
    if (rc == SN_DECLINED) {
        e = open_entry(f, sig->rule, sig->gk, sig->hash, sig->sev, sig->base,
                       first, last, now, degraded);
        if (e != NULL)
            sn_partition_open(f->store, sig, &e->inc);
    }
    if (e == NULL || sn_partition_tag(&e->inc, sig) != SN_OK) {
        rc = SN_EIO;
        goto out;
    }
    rc = SN_OK;
    if (sig->title != NULL)
        set_text(&e->inc.title, sig->title);
    else if (degraded && e->inc.title == NULL) {
        snprintf(title, sizeof(title), "Detection degraded: %s", sig->rule);
        sn_incident_set(&e->inc.title, title, strlen(title));
    }
    if (sig->description != NULL)
        set_text(&e->inc.description, sig->description);
    if (sig->tags != NULL)
        set_text(&e->inc.tags, sig->tags);
    e->inc.quiet_ms = sig->quiet_ms >= 0 ? sig->quiet_ms : f->auto_resolve_ms;
    if (first < e->inc.first_seen)
        e->inc.first_seen = first;
    if (last > e->inc.last_seen)
        e->inc.last_seen = last;
    /* A coalesced signal counts as the per-event signals it stands for
     * (signals, versions), so the incident is the same either way. */
    e->inc.hit_count += sig->count;
    e->inc.signal_count += co;
    e->inc.touched_at = now;
    e->n_signals += co;
    e->n_steps += co;
    e->n_events += sig->count;
    e->last_sev = sig->sev;
    e->full = true;
    escalate(f, e, sig->sev, sig->base, now);
    if (merge_evidence(f, e, sig) != SN_OK) {
        rc = SN_ENOMEM;
        goto out;
    }
    e->expl = sig;
    if (degraded)
        f->st.degraded++;
out:
    if (rc == SN_EIO || rc == SN_ENOMEM)
        sn_error_set(err, "incident store %s: %s", sn_store_path(f->store),
                     sn_store_errmsg(f->store));
    return rc == SN_ENOMEM ? SN_EIO : rc;
}

enum sn_status
sn_fold_quiet(struct sn_fold *f, int64_t now, size_t *n)
{
    char ids[64][SN_UUID_LEN + 1];
    size_t k = sn_store_quiet(f->store, now, ids, 64);
    char reason[128];

    *n = 0;
    for (size_t i = 0; i < k; i++) {
        struct sn_incident inc;
        enum sn_status rc;
        sn_incident_init(&inc);
        forget_id(f, ids[i]);
        rc = sn_store_get(f->store, ids[i], &inc);
        if (rc == SN_OK) {
            snprintf(reason, sizeof(reason),
                     "no signal for %lld s (quiet period)",
                     (long long)(inc.quiet_ms / 1000));
            strcpy(inc.status, "resolved");
            sn_incident_set(&inc.pending, NULL, 0);
            inc.version++;
            inc.updated_at = now;
            rc = record(f, &inc, "auto-resolve", reason);
            f->st.resolved++;
            (*n)++;
        }
        sn_incident_fini(&inc);
        if (rc != SN_OK && rc != SN_DECLINED)
            return SN_EIO;
    }
    return SN_OK;
}

enum sn_status
sn_fold_release(struct sn_fold *f, int64_t now, size_t *n)
{
    char ids[64][SN_UUID_LEN + 1];
    size_t k;
    char reason[160];

    *n = 0;
    if (f->update_ms <= 0)
        return SN_OK;
    k = sn_store_held(f->store, now - f->update_ms * SN_NS_PER_MS, ids, 64);
    for (size_t i = 0; i < k; i++) {
        struct sn_incident inc;
        enum sn_status rc;

        sn_incident_init(&inc);
        forget_id(f, ids[i]); /* its delivered_at moves */
        rc = sn_store_get(f->store, ids[i], &inc);
        if (rc == SN_OK) {
            snprintf(reason, sizeof(reason),
                     "%lld hits, %lld signals so far (updates batched by "
                     "incidents.update_interval)",
                     (long long)inc.hit_count, (long long)inc.signal_count);
            rc = sn_store_record(f->store, &inc, "sentineld", "update",
                                 reason, NULL, &f->scratch) == SN_OK
                     ? SN_OK
                     : SN_EIO;
            f->st.released++;
            (*n)++;
        }
        sn_incident_fini(&inc);
        if (rc != SN_OK && rc != SN_DECLINED)
            return SN_EIO;
    }
    return SN_OK;
}
