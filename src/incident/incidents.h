/*
 * Incidents as the rest of the daemon sees them: the operations the CLI
 * (`sentineld incidents ...`), the HTTP API (#8) and the live feed use.
 * Everything is JSON in, JSON out, in the one incident document shape of
 * docs/incidents.md, so the console, the outputs and the terminal agree.
 *
 * The store behind it is SQLite (store.c); the incident manager
 * (manager.c) folds detector signals into incidents; the relay (relay.c)
 * delivers the outbox to incident outputs. This header is the contract
 * between those and their callers; implementation details stay in
 * src/incident/.
 *
 * Thread safety: one struct sn_incidents is used by the thread that
 * opened it (each thread or process opens its own; SQLite WAL makes
 * concurrent readers and one writer safe across them).
 */
#ifndef SN_INCIDENT_INCIDENTS_H
#define SN_INCIDENT_INCIDENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"
#include "incident/incident.h"

struct sn_incidents;

/* Open (creating or migrating) the store at path, e.g.
 * "<state_dir>/sentineld.db". read_only: for `incidents list|show`. */
enum sn_status sn_incidents_open(const char *path, bool read_only,
                                 struct sn_incidents **out,
                                 struct sn_error *err);
void sn_incidents_close(struct sn_incidents *inc);

/* Filters for listing; NULL/0 fields do not filter. */
struct sn_incident_query {
    const char *status;   /* open|acknowledged|resolved|suppressed */
    const char *severity; /* at least this severity */
    const char *rule_id;
    const char *text;     /* substring of title, rule id or group key */
    int64_t since_ns, until_ns; /* last_seen within [since, until) */
    const char *cursor;   /* opaque, from the previous page's next_cursor */
    unsigned limit;       /* 0: 50; at most 500 */
};

/* A list's cursor ("LAST_SEEN_NS:ID", the next_cursor of a page):
 * false when v is not one. */
bool sn_incidents_cursor_parse(const char *v, int64_t *seen,
                               char id[SN_UUID_LEN + 1]);

/* {"incidents":[<incident without evidence/explanation>...],
 *  "next_cursor": "..." | null}; newest last_seen first. */
enum sn_status sn_incidents_list_json(struct sn_incidents *inc,
                                      const struct sn_incident_query *q,
                                      struct sn_buf *out, struct sn_error *err);

/* The overview's aggregates (GET /api/v1/incidents/summary), from the
 * counters the store's triggers keep (store.c, migrations 5 and 6), so it
 * costs the same with 10 or 10,000 incidents in the browser:
 * {"by_severity":[{severity,status,n}...], "opened": {since, bucket_ns,
 * buckets:[[index, n]...]} (the 24 clock hours up to now's, by hour of
 * created_at; since is the first one's start), "top_rules":
 * [{rule_id,title,n}...] and "top_sources":[{group_key,n}...] (open and
 * acknowledged, 10 each). */
enum sn_status sn_incidents_summary_json(struct sn_incidents *inc, int64_t now,
                                         struct sn_buf *out,
                                         struct sn_error *err);

/* The store behind inc (reports read it directly: incident/report.h). */
struct sn_store;
struct sn_store *sn_incidents_store(struct sn_incidents *inc);

/* The full incident document plus "versions" (each version's time and
 * what changed) and "audit" (the trail). SN_DECLINED: no such id. */
enum sn_status sn_incidents_get_json(struct sn_incidents *inc, const char *id,
                                     struct sn_buf *out, struct sn_error *err);

/* The audit trail (incident/audit.h): append one entry; the global
 * listing (GET /api/v1/audit); verification of the hash chain. */
struct sn_audit_entry;
struct sn_audit_query;
struct sn_audit_verdict;
enum sn_status sn_incidents_audit(struct sn_incidents *inc,
                                  const struct sn_audit_entry *e,
                                  struct sn_error *err);
enum sn_status sn_incidents_audit_json(struct sn_incidents *inc,
                                       const struct sn_audit_query *q,
                                       struct sn_buf *out,
                                       struct sn_error *err);
enum sn_status sn_incidents_audit_verify(struct sn_incidents *inc,
                                         struct sn_audit_verdict *v,
                                         struct sn_error *err);

enum sn_incident_action {
    SN_ACT_ACKNOWLEDGE = 0,
    SN_ACT_ASSIGN,   /* arg: the new owner */
    SN_ACT_COMMENT,  /* reason is the comment */
    SN_ACT_RESOLVE,
    SN_ACT_REOPEN,
    SN_ACT_SUPPRESS, /* of a CRITICAL incident: becomes pending approval */
    SN_ACT_APPROVE,  /* the pending escalation/suppression is applied */
    SN_ACT_REJECT,   /* the pending escalation/suppression is dropped */
};

/* "acknowledge", ... ; and back (-1 when unknown). */
const char *sn_incident_action_name(enum sn_incident_action a);
int sn_incident_action_parse(const char *name);

struct sn_incident_change {
    enum sn_incident_action action;
    const char *actor;          /* who: token name, or --by */
    const char *reason;         /* required, non-empty */
    const char *arg;            /* assign: owner */
    const char *correlation_id; /* recorded in the audit entry; may be NULL */
    bool forbid_self_approval;  /* approve/reject by the requester refused */
};

/*
 * Apply one human action in one transaction: new version, audit entry,
 * outbox row. On success out holds the updated incident document.
 * Errors: SN_DECLINED no such incident; SN_EINVAL the action does not
 * apply in the current state or a required argument is missing (err says
 * which, in words an operator understands); SN_EIO the store failed.
 */
enum sn_status sn_incidents_change(struct sn_incidents *inc, const char *id,
                                   const struct sn_incident_change *ch,
                                   struct sn_buf *out, struct sn_error *err);

/*
 * The live feed: every committed incident version, in commit order,
 * after outbox position *after_seq (0: from now). Calls fn for each, with
 * the doc valid during the call, and advances *after_seq. Meant to be
 * polled from a timer (the relay's own cursor is separate). On an empty
 * outbox "now" is stored as -1 (so the first row still comes). Returns the
 * number of docs passed to fn, or -1 on a store error.
 */
typedef void (*sn_incident_feed_fn)(void *arg, const struct sn_doc *doc);
long sn_incidents_feed(struct sn_incidents *inc, int64_t *after_seq,
                       unsigned max, sn_incident_feed_fn fn, void *arg);
/* The outbox's current last position (start a feed "from now"). */
int64_t sn_incidents_last_seq(struct sn_incidents *inc);

/* Added by #6 (manager and CLI): */

struct sn_incident;
/*
 * The state transition of one action on an incident in memory (no store,
 * no version bump): checks that it applies, then changes status,
 * severity, owner or pending approval. `now` is the wall clock in ns.
 * SN_EINVAL with err explaining when it does not apply.
 */
enum sn_status sn_incident_apply(struct sn_incident *inc,
                                 const struct sn_incident_change *ch,
                                 int64_t now, struct sn_error *err);

#endif
