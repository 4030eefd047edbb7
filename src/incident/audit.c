/* The audit trail's hash chain, listing and verification; see audit.h. */
#include "incident/audit.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "incident/incident.h"

/* The hash before the first row ever written. */
#define GENESIS                                                                \
    "0000000000000000000000000000000000000000000000000000000000000000"

/* The columns the hash covers, in this order (never change it: old rows
 * would stop verifying). */
#define CANON_COLS                                                             \
    "at, actor, action, target, incident_id, version, result, reason,"         \
    " details, correlation_id"

#define N_CANON 10

/* One column's value for the hash; NULL ptr is SQL NULL. */
struct val {
    const char *ptr;
    size_t len;
};

/* Bytes of a row gathered before each EVP_DigestUpdate: the usual row
 * (ids, a reason, no details) fits, so it is one update call instead of
 * two per column (each call cost more than hashing its few bytes). */
#define HASH_CHUNK 512

struct hasher {
    EVP_MD_CTX *md;
    size_t n;
    bool ok;
    unsigned char buf[HASH_CHUNK];
};

static void
feed(struct hasher *h, const void *p, size_t len)
{
    if (h->n + len > sizeof(h->buf)) {
        h->ok = h->ok && (h->n == 0 || EVP_DigestUpdate(h->md, h->buf, h->n));
        h->n = 0;
        if (len > sizeof(h->buf)) {
            h->ok = h->ok && EVP_DigestUpdate(h->md, p, len);
            return;
        }
    }
    if (len > 0)
        memcpy(h->buf + h->n, p, len);
    h->n += len;
}

/*
 * hash = hex(SHA-256(prev || canonical)); canonical is each column as
 * "<length>:<bytes>" ("~" for NULL) so no two rows share an encoding.
 * st: the context and fetched digest to reuse (sn_audit_stmts'; an
 * implicit fetch in each EVP_DigestInit_ex doubled its cost), or NULL.
 */
static enum sn_status
row_hash(struct sn_audit_stmts *st, const char *prev, const struct val *v,
         char out[65])
{
    static const char hex[] = "0123456789abcdef";
    struct hasher hs;
    unsigned char h[32];
    unsigned int hl = 0;
    char num[24];
    EVP_MD_CTX *md = st != NULL ? st->md : NULL;
    const EVP_MD *type = st != NULL ? st->sha : NULL;
    bool own = md == NULL;

    if (own && (md = EVP_MD_CTX_new()) == NULL)
        return SN_ENOMEM;
    hs.md = md;
    hs.n = 0;
    hs.ok =
        EVP_DigestInit_ex(md, type != NULL ? type : EVP_sha256(), NULL) == 1;
    feed(&hs, prev, strlen(prev));
    for (int c = 0; c < N_CANON; c++) {
        size_t k;
        if (v[c].ptr == NULL) {
            feed(&hs, "~", 1);
            continue;
        }
        k = sn_int_text((int64_t)v[c].len, num);
        num[k++] = ':';
        feed(&hs, num, k);
        feed(&hs, v[c].ptr, v[c].len);
    }
    hs.ok = hs.ok && (hs.n == 0 || EVP_DigestUpdate(md, hs.buf, hs.n) == 1);
    hs.ok = hs.ok && EVP_DigestFinal_ex(md, h, &hl) == 1 && hl == 32;
    if (own)
        EVP_MD_CTX_free(md);
    if (!hs.ok)
        return SN_EIO;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
    return SN_OK;
}

/* The canonical columns of a stored row, from column first on. */
static void
vals_of_row(sqlite3_stmt *q, int first, struct val *v)
{
    for (int c = 0; c < N_CANON; c++) {
        v[c].ptr = (const char *)sqlite3_column_text(q, first + c);
        v[c].len = (size_t)sqlite3_column_bytes(q, first + c);
    }
}

static struct val
str_val(const char *s)
{
    return (struct val){ s, s ? strlen(s) : 0 };
}

/* Prepare *q once (SQLite re-prepares it after a schema change by
 * itself), else reset it. */
static bool
prepared(sqlite3 *db, sqlite3_stmt **q, const char *sql)
{
    if (*q != NULL) {
        /* Its answer is the previous step's error, handled then. */
        sqlite3_reset(*q);
        return true;
    }
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, q,
                              NULL) == SQLITE_OK;
}

/* The chain's head: the last row's hash, else the anchor, else GENESIS. */
static enum sn_status
head_with(sqlite3 *db, sqlite3_stmt **q, char out[65])
{
    const unsigned char *t;
    size_t n;
    int r;

    memcpy(out, GENESIS, 65);
    if (!prepared(db, q,
                  "SELECT coalesce((SELECT hash FROM audit WHERE"
                  " hash IS NOT NULL ORDER BY seq DESC LIMIT 1),"
                  " (SELECT hash FROM audit_anchor WHERE id = 1))"))
        return SN_EIO;
    r = sqlite3_step(*q);
    if (r == SQLITE_ROW && (t = sqlite3_column_text(*q, 0)) != NULL) {
        /* As snprintf "%s" would, without its cost on every append. */
        n = (size_t)sqlite3_column_bytes(*q, 0);
        n = n < 64 ? n : 64;
        memcpy(out, t, n);
        out[n] = '\0';
    }
    sqlite3_reset(*q);
    return r == SQLITE_ROW ? SN_OK : SN_EIO;
}

static enum sn_status
head(sqlite3 *db, char out[65])
{
    sqlite3_stmt *q = NULL;
    enum sn_status rc = head_with(db, &q, out);

    sqlite3_finalize(q);
    return rc;
}

/* Hash row seq (written before the chain existed) after prev and seal
 * it (schema 3's migration). */
static enum sn_status
seal(sqlite3 *db, int64_t seq, const char *prev)
{
    sqlite3_stmt *q;
    struct val v[N_CANON];
    char h[65];
    enum sn_status rc = SN_EIO;

    if (sqlite3_prepare_v2(db, "SELECT " CANON_COLS " FROM audit WHERE seq = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return SN_EIO;
    sqlite3_bind_int64(q, 1, seq);
    if (sqlite3_step(q) == SQLITE_ROW) {
        vals_of_row(q, 0, v);
        rc = row_hash(NULL, prev, v, h);
    }
    sqlite3_finalize(q);
    if (rc != SN_OK)
        return rc;
    /* The append-only trigger lets a row be sealed once (hash NULL). */
    if (sqlite3_prepare_v2(db,
                           "UPDATE audit SET prev_hash = ?2, hash = ?3"
                           " WHERE seq = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return SN_EIO;
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_text(q, 2, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, h, -1, SQLITE_STATIC);
    rc = sqlite3_step(q) == SQLITE_DONE ? SN_OK : SN_EIO;
    sqlite3_finalize(q);
    return rc;
}

enum sn_status
sn_audit_append_with(sqlite3 *db, struct sn_audit_stmts *st,
                     const struct sn_audit_entry *e)
{
    sqlite3_stmt *q;
    char prev[65], h[65], at[24], ver[24];
    int64_t at_ns = e->at ? e->at : sn_clock_wall_ns();
    struct val v[N_CANON];
    enum sn_status rc;

    if ((rc = head_with(db, &st->head, prev)) != SN_OK)
        return rc;
    /* Kept for the next rows; without them (no memory) row_hash makes
     * its own. */
    if (st->md == NULL)
        st->md = EVP_MD_CTX_new();
    if (st->sha == NULL)
        st->sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    /* The values exactly as SQLite will return them (integers as
     * decimal text), in CANON_COLS order. */
    at[sn_int_text(at_ns, at)] = '\0';
    ver[sn_int_text(e->version, ver)] = '\0';
    v[0] = str_val(at);
    v[1] = str_val(e->actor ? e->actor : "-");
    v[2] = str_val(e->action);
    v[3] = str_val(e->target ? e->target : e->incident_id);
    v[4] = str_val(e->incident_id ? e->incident_id : "");
    v[5] = str_val(ver);
    v[6] = str_val(e->result ? e->result : "ok");
    v[7] = str_val(e->reason ? e->reason : "");
    v[8] = str_val(e->details);
    v[9] = str_val(e->correlation_id);
    if ((rc = row_hash(st, prev, v, h)) != SN_OK)
        return rc;
    if (!prepared(db, &st->insert,
                  "INSERT INTO audit (" CANON_COLS ", prev_hash, hash)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                  " ?11, ?12)"))
        return SN_EIO;
    q = st->insert;
    sqlite3_bind_int64(q, 1, at_ns);
    for (int c = 1; c < N_CANON; c++)
        if (c != 5)
            sqlite3_bind_text(q, c + 1, v[c].ptr, (int)v[c].len,
                              SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, e->version);
    sqlite3_bind_text(q, 11, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 12, h, -1, SQLITE_STATIC);
    rc = sqlite3_step(q) == SQLITE_DONE ? SN_OK : SN_EIO;
    /* Reset now: the bound values point at this frame, and the
     * statement must not hold its read of the chain after the call. */
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc;
}

void
sn_audit_stmts_fini(struct sn_audit_stmts *st)
{
    sqlite3_finalize(st->head);
    sqlite3_finalize(st->insert);
    EVP_MD_CTX_free(st->md);
    EVP_MD_free(st->sha);
    st->head = st->insert = NULL;
    st->md = NULL;
    st->sha = NULL;
}

enum sn_status
sn_audit_append(sqlite3 *db, const struct sn_audit_entry *e)
{
    struct sn_audit_stmts st = { NULL, NULL, NULL, NULL };
    enum sn_status rc = sn_audit_append_with(db, &st, e);

    sn_audit_stmts_fini(&st);
    return rc;
}

enum sn_status
sn_audit_backfill(sqlite3 *db)
{
    sqlite3_stmt *q;
    char prev[65];
    enum sn_status rc = SN_OK;
    int64_t seqs[256];
    int n;

    /* In slices: seal() updates rows the SELECT would be reading. */
    do {
        if ((rc = head(db, prev)) != SN_OK)
            return rc;
        if (sqlite3_prepare_v2(db,
                               "SELECT seq FROM audit WHERE hash IS NULL"
                               " ORDER BY seq LIMIT 256",
                               -1, &q, NULL) != SQLITE_OK)
            return SN_EIO;
        n = 0;
        while (sqlite3_step(q) == SQLITE_ROW)
            seqs[n++] = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        for (int i = 0; i < n && rc == SN_OK; i++) {
            rc = seal(db, seqs[i], prev);
            if (rc == SN_OK)
                rc = head(db, prev);
        }
    } while (rc == SN_OK && n == 256);
    return rc;
}

long
sn_audit_prune(sqlite3 *db, int64_t before_ns)
{
    char text[768];

    snprintf(text, sizeof(text),
             "CREATE TEMP TABLE IF NOT EXISTS audit_cut (seq INTEGER);"
             "DELETE FROM audit_cut;"
             "INSERT INTO audit_cut SELECT max(seq) FROM audit WHERE seq <"
             " coalesce((SELECT min(seq) FROM audit WHERE at >= %lld),"
             " (SELECT max(seq) + 1 FROM audit));"
             "INSERT OR REPLACE INTO audit_anchor SELECT 1, a.seq, a.hash"
             " FROM audit a, audit_cut c WHERE a.seq = c.seq;"
             "DELETE FROM audit WHERE seq <= (SELECT seq FROM audit_cut);",
             (long long)before_ns);
    if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return sqlite3_changes(db);
}

enum sn_status
sn_audit_list_json(sqlite3 *db, const struct sn_audit_query *q,
                   struct sn_buf *out, struct sn_error *err)
{
    sqlite3_stmt *st;
    unsigned limit = q->limit == 0 ? SN_INCIDENT_LIST_DEFAULT
                     : q->limit > SN_INCIDENT_LIST_MAX ? SN_INCIDENT_LIST_MAX
                                           : q->limit;
    unsigned n = 0;
    int64_t last = 0;
    char t[40];
    int r;

    /* Unset filters bind NULL and match everything: one statement. */
    if (sqlite3_prepare_v2(
            db,
            "SELECT seq, at, actor, action, target, incident_id, version,"
            " result, reason, details, correlation_id FROM audit WHERE"
            " (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
            " AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4)"
            " AND (?5 IS NULL OR seq < ?5) ORDER BY seq DESC LIMIT ?6",
            -1, &st, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    if (q->actor)
        sqlite3_bind_text(st, 1, q->actor, -1, SQLITE_STATIC);
    if (q->action)
        sqlite3_bind_text(st, 2, q->action, -1, SQLITE_STATIC);
    if (q->since_ns)
        sqlite3_bind_int64(st, 3, q->since_ns);
    if (q->until_ns)
        sqlite3_bind_int64(st, 4, q->until_ns);
    if (q->before_id)
        sqlite3_bind_int64(st, 5, q->before_id);
    sqlite3_bind_int(st, 6, (int)limit);
    SN_BUF_LIT(out, "{\"audit\":[");
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        static const char *const keys[] = { "actor", "action", "target",
                                            "incident_id" };
        static const char *const tail[] = { "result", "reason", "details",
                                            "correlation_id" };
        last = sqlite3_column_int64(st, 0);
        if (n++)
            sn_buf_putc(out, ',');
        sn_time_rfc3339(sqlite3_column_int64(st, 1), t);
        sn_buf_printf(out, "{\"id\":%lld,\"time\":\"%s\"", (long long)last, t);
        for (int c = 2; c <= 5; c++) {
            const char *s = (const char *)sqlite3_column_text(st, c);
            /* An empty incident_id marks a row about no incident. */
            if (c == 5 && s != NULL && s[0] == '\0')
                s = NULL;
            sn_buf_putc(out, ',');
            sn_json_key(out, keys[c - 2]);
            sn_json_str_or_null(out, s, s ? strlen(s) : 0);
        }
        sn_buf_printf(out, ",\"version\":%lld",
                      (long long)sqlite3_column_int64(st, 6));
        for (int c = 7; c <= 10; c++) {
            const char *s = (const char *)sqlite3_column_text(st, c);
            if (c == 8 && s != NULL && s[0] == '\0')
                s = NULL;
            sn_buf_putc(out, ',');
            sn_json_key(out, tail[c - 7]);
            sn_json_str_or_null(out, s, s ? strlen(s) : 0);
        }
        sn_buf_putc(out, '}');
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    SN_BUF_LIT(out, "],\"next_cursor\":");
    /* The buffer refuses appends past its maximum; the closing brace is
     * the last, so its status tells whether the page fit. */
    if (n == limit)
        sn_buf_printf(out, "\"%lld\"", (long long)last);
    else
        SN_BUF_LIT(out, "null");
    if (sn_buf_putc(out, '}') != SN_OK) {
        sn_error_set(err, "the page is too large; use a smaller limit");
        return SN_ELIMIT;
    }
    return SN_OK;
}

enum sn_status
sn_audit_verify(sqlite3 *db, struct sn_audit_verdict *v,
                struct sn_error *err)
{
    sqlite3_stmt *q;
    struct val vals[N_CANON];
    char prev[65], h[65];
    int r;

    memset(v, 0, sizeof(*v));
    v->ok = true;
    snprintf(prev, sizeof(prev), "%s", GENESIS);
    if (sqlite3_prepare_v2(db, "SELECT hash FROM audit_anchor WHERE id = 1",
                           -1, &q, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
        snprintf(prev, sizeof(prev), "%s",
                 (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, prev_hash, hash, " CANON_COLS
                           " FROM audit ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(q, 1);
        const char *stored = (const char *)sqlite3_column_text(q, 2);

        v->rows++;
        vals_of_row(q, 3, vals);
        if (row_hash(NULL, prev, vals, h) != SN_OK) {
            sqlite3_finalize(q);
            sn_error_set(err, "cannot compute SHA-256");
            return SN_EIO;
        }
        if (stored == NULL || p == NULL || strcmp(p, prev) != 0 ||
            strcmp(stored, h) != 0) {
            v->ok = false;
            v->bad_id = sqlite3_column_int64(q, 0);
            snprintf(v->why, sizeof(v->why), "%s",
                     stored == NULL || p == NULL
                         ? "it is not sealed (no hash)"
                     : strcmp(p, prev) != 0
                         ? "the row before it is missing or was changed"
                         : "its contents were changed after it was written");
            break;
        }
        snprintf(prev, sizeof(prev), "%s", stored);
    }
    sqlite3_finalize(q);
    if (v->ok && r != SQLITE_DONE) {
        sn_error_set(err, "incident store: %s", sqlite3_errmsg(db));
        return SN_EIO;
    }
    snprintf(v->head, sizeof(v->head), "%s", prev);
    return SN_OK;
}
