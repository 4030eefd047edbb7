/*
 * The audit trail: one append-only table (`audit` in the incident store)
 * recording everything that changes the system or is refused: incident
 * actions, token creation and revocation, reloads, event posts, and
 * requests denied for their role. Rows form a hash chain: each stores
 * prev_hash (the hash of the row before it, or of the last pruned row)
 * and hash = SHA-256(prev_hash || canonical row), so an edited or
 * deleted row breaks the chain at that row or the one after it
 * (sn_audit_verify, `sentineld audit verify`). docs/api.md describes
 * GET /api/v1/audit; docs/incidents.md the chain.
 *
 * Every function takes the SQLite connection of a struct sn_store.
 * sn_audit_append must run inside a write transaction (BEGIN
 * IMMEDIATE): it reads the chain's head and appends after it, so two
 * writers (daemon, API, CLI) never fork the chain.
 */
#ifndef SN_INCIDENT_AUDIT_H
#define SN_INCIDENT_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "core/error.h"

struct sqlite3;

struct sn_audit_entry {
    int64_t at;          /* wall clock, ns; 0: now */
    const char *actor;   /* token name, "local:<user>", "daemon", ... */
    const char *action;  /* "acknowledge", "token.create", "reload", ... */
    const char *target;  /* what it acted on: incident id, token name, ... */
    const char *incident_id; /* NULL unless about an incident */
    int64_t version;     /* the incident's version after it; 0 otherwise */
    const char *result;  /* "ok", "denied", "refused", "failed"; NULL: ok */
    const char *reason;  /* why, as the actor gave it; may be NULL */
    const char *details; /* what else (a count, an error); may be NULL */
    const char *correlation_id; /* the HTTP request's; may be NULL */
};

/* Append e to the chain (inside a write transaction). */
enum sn_status sn_audit_append(struct sqlite3 *db,
                               const struct sn_audit_entry *e);
/* The same with the statements kept in *st between calls (the owner of a
 * busy connection, struct sn_store, keeps them: compiling the SQL anew
 * cost the manager's thread more than the append). st starts zeroed;
 * sn_audit_stmts_fini before the connection closes. */
struct sqlite3_stmt;
struct evp_md_ctx_st;
struct evp_md_st;
struct sn_audit_stmts {
    struct sqlite3_stmt *head, *insert;
    struct evp_md_ctx_st *md; /* the row hash's context, reused */
    struct evp_md_st *sha;    /* SHA-256, fetched once */
};
enum sn_status sn_audit_append_with(struct sqlite3 *db,
                                    struct sn_audit_stmts *st,
                                    const struct sn_audit_entry *e);
void sn_audit_stmts_fini(struct sn_audit_stmts *st);

/* Chain the rows written before the chain existed (schema 3), oldest
 * first; inside the migration's transaction. */
enum sn_status sn_audit_backfill(struct sqlite3 *db);

/* Drop the rows older than before_ns from the chain's start (a prefix,
 * so what remains still verifies: the last dropped row's hash becomes
 * the anchor). Inside a write transaction. Returns rows removed, -1 on
 * error. */
long sn_audit_prune(struct sqlite3 *db, int64_t before_ns);

struct sn_audit_query {
    const char *actor, *action; /* exact match; NULL: any */
    int64_t since_ns, until_ns; /* at within [since, until); 0: open */
    int64_t before_id;          /* cursor: rows with id < this; 0: newest */
    unsigned limit;             /* 0: 50; at most 500 */
};

/* {"audit":[{"id","time","actor","action","target","incident_id",
 * "version","result","reason","details","correlation_id"}...],
 * "next_cursor":"<id>"|null}, newest first. */
enum sn_status sn_audit_list_json(struct sqlite3 *db,
                                  const struct sn_audit_query *q,
                                  struct sn_buf *out, struct sn_error *err);

struct sn_audit_verdict {
    long rows;        /* rows checked */
    bool ok;
    int64_t bad_id;   /* the first row that does not verify */
    char why[160];    /* what is wrong with it */
    char head[65];    /* the last row's hash (compare with a saved one to
                       * notice rows deleted at the end) */
};

/* Walk the chain from its anchor. SN_OK with v->ok false when broken. */
enum sn_status sn_audit_verify(struct sqlite3 *db,
                               struct sn_audit_verdict *v,
                               struct sn_error *err);

#endif
