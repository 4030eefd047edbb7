/*
 * out_postgres schema migrations: the numbered NNN_name.sql files of the
 * migrations directory, applied in order, each in its own transaction and
 * recorded in schema_migrations with the SHA-256 of its text. An applied
 * file is never applied again, and one whose text changed since is refused
 * (add a new file instead). A session advisory lock serialises instances
 * starting together. Files must not contain BEGIN/COMMIT.
 */
#include "out_postgres.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A migration is a schema change, not a data load. */
#define MIGRATION_MAX_BYTES (1024 * 1024)
/* Files looked at in one directory. */
#define MIGRATIONS_MAX 1000
/* pg_type OID of bytea (catalog/pg_type.dat), for a binary parameter. */
#define BYTEAOID 17

struct migration {
    long number;
    char name[256];
};

/* "001_incidents.sql" -> 1; -1 when the name does not follow NNN_x.sql. */
static long
migration_number(const char *name)
{
    const char *p = name;
    size_t l = strlen(name);
    long v = 0;

    if (l < 6 || strcmp(name + l - 4, ".sql") != 0)
        return -1;
    while (*p >= '0' && *p <= '9' && v < 100000000)
        v = v * 10 + (*p++ - '0');
    if (p == name || *p != '_')
        return -1;
    return v;
}

static int
cmp_migration(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;

    return (x->number > y->number) - (x->number < y->number);
}

/* The directory's migrations sorted by number; *n set. */
static struct migration *
list_migrations(const char *dir, size_t *n, char *why, size_t why_len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct migration *v;

    *n = 0;
    if (d == NULL) {
        snprintf(why, why_len, "migrations directory %s: %s", dir,
                 strerror(errno));
        return NULL;
    }
    v = calloc(MIGRATIONS_MAX, sizeof(*v));
    if (v == NULL) {
        closedir(d);
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    while ((e = readdir(d)) != NULL) {
        long num = migration_number(e->d_name);
        if (num < 0 || strlen(e->d_name) >= sizeof(v[0].name))
            continue;
        if (*n == MIGRATIONS_MAX) {
            snprintf(why, why_len, "%s: more than %d migrations", dir,
                     MIGRATIONS_MAX);
            goto fail;
        }
        v[*n].number = num;
        snprintf(v[*n].name, sizeof(v[*n].name), "%s", e->d_name);
        (*n)++;
    }
    closedir(d);
    d = NULL;
    if (*n == 0) {
        snprintf(why, why_len,
                 "migrations directory %s has no NNN_name.sql files", dir);
        goto fail;
    }
    qsort(v, *n, sizeof(*v), cmp_migration);
    for (size_t i = 1; i < *n; i++)
        if (v[i].number == v[i - 1].number) {
            snprintf(why, why_len, "%s: %s and %s have the same number", dir,
                     v[i - 1].name, v[i].name);
            goto fail;
        }
    return v;
fail:
    if (d != NULL)
        closedir(d);
    free(v);
    return NULL;
}

/* The whole file, NUL-terminated; NULL with why. */
static char *
read_file(const char *dir, const char *name, size_t *len, char *why,
          size_t why_len)
{
    char path[4096];
    FILE *f;
    char *text;
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    if (st.st_size > MIGRATION_MAX_BYTES) {
        snprintf(why, why_len, "%s: larger than %d bytes", path,
                 MIGRATION_MAX_BYTES);
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    *len = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    text[*len] = '\0';
    if (strlen(text) != *len) {
        snprintf(why, why_len, "%s: contains a NUL byte", path);
        free(text);
        return NULL;
    }
    return text;
}

/* 1-based line of a 1-based character position (PG_DIAG_STATEMENT_POSITION
 * counts characters; the files are ASCII in practice, bytes otherwise). */
static int
line_of(const char *text, long pos)
{
    int line = 1;

    for (long i = 0; text[i] != '\0' && i < pos - 1; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

/* Apply one file in a transaction and record it. */
static bool
apply(struct opg_state *s, const struct migration *m, const char *text,
      const char *sum, char *why, size_t why_len)
{
    char err[512], num[24];
    const char *params[3] = { num, m->name, sum };
    PGresult *r;
    bool ok;

    if (!opg_exec(s, "BEGIN", err, sizeof(err))) {
        snprintf(why, why_len, "migration %s: %s", m->name, err);
        return false;
    }
    r = PQexec(s->conn, text);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
         PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        pg_result_error(r, s->conn, err, sizeof(err));
        snprintf(why, why_len, "migration %s/%s:%d failed: %s",
                 s->migrations_dir, m->name, pos ? line_of(text, atol(pos)) : 0,
                 err);
    }
    PQclear(r);
    if (ok) {
        snprintf(num, sizeof(num), "%ld", m->number);
        r = PQexecParams(s->conn,
                         "INSERT INTO schema_migrations (version, name, "
                         "checksum) VALUES ($1::integer, $2, $3)",
                         3, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            pg_result_error(r, s->conn, err, sizeof(err));
            snprintf(why, why_len, "recording migration %s: %s", m->name, err);
        }
        PQclear(r);
    }
    if (ok && !opg_exec(s, "COMMIT", err, sizeof(err))) {
        snprintf(why, why_len, "migration %s: commit: %s", m->name, err);
        ok = false;
    }
    if (!ok)
        opg_exec(s, "ROLLBACK", err, sizeof(err));
    return ok;
}

/* Check one file against schema_migrations and apply it when new. */
static bool
migrate_one(struct opg_state *s, const struct migration *m, char *why,
            size_t why_len)
{
    char num[24], err[512];
    size_t len = 0;
    char *text = read_file(s->migrations_dir, m->name, &len, why, why_len);
    const char *params[2];
    int lens[2], fmts[2] = { 1, 0 };
    Oid types[2] = { BYTEAOID, 0 };
    PGresult *r;
    bool ok = false;

    if (text == NULL)
        return false;
    snprintf(num, sizeof(num), "%ld", m->number);
    params[0] = text;
    lens[0] = (int)len;
    params[1] = num;
    lens[1] = 0;
    /* The checksum is computed by the server (sha256 of the exact bytes,
     * sent binary) so the plugin needs no crypto library of its own. */
    r = PQexecParams(s->conn,
                     "SELECT encode(sha256($1), 'hex'), m.checksum, m.name "
                     "FROM (SELECT 1) one LEFT JOIN schema_migrations m "
                     "ON m.version = $2::integer",
                     2, types, params, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_result_error(r, s->conn, err, sizeof(err));
        snprintf(why, why_len, "checking migration %s: %s", m->name, err);
        goto out;
    }
    if (!PQgetisnull(r, 0, 1)) {
        if (strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) != 0) {
            snprintf(why, why_len,
                     "migration %s/%s was changed after it was applied as "
                     "%s (checksum %.12s..., now %.12s...): applied "
                     "migrations are never edited; restore the file and add "
                     "a new numbered one",
                     s->migrations_dir, m->name, PQgetvalue(r, 0, 2),
                     PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
            goto out;
        }
        ok = true; /* already applied, unchanged */
        goto out;
    }
    ok = apply(s, m, text, PQgetvalue(r, 0, 0), why, why_len);
    if (ok) {
        s->host->counter_add(s->c_migrations, 1);
        s->host->log(s->inst, SN_LOG_INFO, "applied migration %s to schema %s",
                     m->name, s->c->schema);
    }
out:
    PQclear(r);
    free(text);
    return ok;
}

/* Rows of schema_migrations no file explains: a newer sentineld migrated
 * this database. Writing may still work; say so once. */
static void
warn_unknown(struct opg_state *s, const struct migration *v, size_t n)
{
    PGresult *r = PQexec(s->conn, "SELECT version, name FROM "
                                  "schema_migrations ORDER BY version");

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++) {
            long num = atol(PQgetvalue(r, i, 0));
            bool known = false;
            for (size_t j = 0; j < n; j++)
                known = known || v[j].number == num;
            if (!known)
                s->host->log(s->inst, SN_LOG_WARN,
                             "schema %s has migration %s, which %s does "
                             "not have (a newer sentineld applied it)",
                             s->c->schema, PQgetvalue(r, i, 1),
                             s->migrations_dir);
        }
    PQclear(r);
}

static bool
ensure_schema(struct opg_state *s, char *why, size_t why_len)
{
    const char *params[1] = { s->c->schema };
    PGresult *r = PQexecParams(s->conn,
                               "SELECT 1 FROM pg_catalog.pg_namespace "
                               "WHERE nspname = $1",
                               1, NULL, params, NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    char sql[160], *ident;
    bool ok;

    PQclear(r);
    if (exists)
        return true;
    ident = PQescapeIdentifier(s->conn, s->c->schema, strlen(s->c->schema));
    if (ident == NULL) {
        snprintf(why, why_len, "%s", PQerrorMessage(s->conn));
        return false;
    }
    /* DDL takes no parameters; the name was validated at init and is
     * quoted by libpq. */
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", ident);
    PQfreemem(ident);
    ok = opg_exec(s, sql, why, why_len);
    return ok;
}

bool
opg_migrate(struct opg_state *s, char *why, size_t why_len)
{
    char err[512], lock[96];
    size_t n = 0;
    struct migration *v;
    bool ok = true;

    v = list_migrations(s->migrations_dir, &n, why, why_len);
    if (v == NULL)
        return false;
    /* Instances starting together: one migrates, the others wait and then
     * find everything applied. Session lock: released by unlock or by the
     * connection closing, whatever fails below. */
    snprintf(lock, sizeof(lock), "sentineld.migrate.%s", s->c->schema);
    if (!pg_lock(s->conn, lock, err, sizeof(err))) {
        snprintf(why, why_len, "taking the migration lock: %s", err);
        free(v);
        return false;
    }
    if (!ensure_schema(s, err, sizeof(err))) {
        snprintf(why, why_len, "creating schema %s: %s", s->c->schema, err);
        ok = false;
    }
    if (ok && !opg_exec(s,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version integer PRIMARY KEY, name text NOT NULL, "
                        "checksum text NOT NULL, applied_at timestamptz "
                        "NOT NULL DEFAULT now())",
                        err, sizeof(err))) {
        snprintf(why, why_len, "creating schema_migrations: %s", err);
        ok = false;
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = migrate_one(s, &v[i], why, why_len);
    if (ok)
        warn_unknown(s, v, n);
    pg_unlock(s->conn, lock);
    free(v);
    return ok;
}
