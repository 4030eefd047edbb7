/*
 * in_kafka partition checkpoints (option `checkpoints`): the detector and
 * incident state built from each partition's records (an opaque blob from
 * host->partition_checkpoint) and the offset it covers, kept in one
 * PostgreSQL row per (group, topic, partition) so whichever instance gets
 * the partition next continues from exactly there. The row is written
 * first and is the authority; the Kafka commit of the same offset
 * follows it (and only matters for partitions without a row and for lag
 * tools). Everything here runs on the poll thread. docs/scaling.md,
 * "Partition state"; docs/kafka.md.
 *
 * Zombie owners are fenced by the row's owner_epoch: an assignment claims
 * the row (owner_epoch + 1, or a new row at 1) in the statement that
 * reads it, and every later write of it is conditional on that epoch.
 * An instance evicted from the group (stopped, or stuck past the session
 * timeout) whose partitions another instance has claimed since cannot
 * write its older state over the new owner's: its write matches no row,
 * and it lets the partition go.
 */
#include "in_kafka.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/pg_conn.h"

/* A partition's blob holds its open windows and incidents, bounded by the
 * detectors' max_keys; PostgreSQL takes up to 1 GiB in a bytea. */
#define CKPT_BLOB_MAX (256u * 1024 * 1024)
/* How long a checkpoint waits for a partition's committed offset (or
 * its first) when it writes one whose position is not known. */
#define CKPT_OFFSET_TIMEOUT_MS 5000
/* libpq connect timeout: a checkpoint blocks the poll thread. */
#define CKPT_CONNECT_TIMEOUT_MS 5000
/* While PostgreSQL is down at an assignment, try again this often. */
#define CKPT_RETRY_MS 500

#define TABLE "sentineld_partition_checkpoints"

struct ik_ckpt {
    PGconn *conn;     /* NULL while disconnected */
    bool table_ready; /* CREATE TABLE done on this connection */
    bool down;        /* the last attempt failed: logged once */
    char where[256];  /* host:port/dbname, never the password */
    char owner[300];  /* host/pid of this instance, for people */
    struct pg_notice_log notices;
    struct sn_buf *blob;
    int64_t max_stall_ms;

    struct sn_counter *c_cycles, *c_rows, *c_bytes, *c_stall_ms, *c_write_ms,
        *c_duration_ms, *c_state_ms, *c_restores, *c_deferred, *c_errors,
        *g_last_stall, *g_max_stall, *c_fenced;
};

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS " TABLE " ("
    "group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL, "
    "next_offset bigint NOT NULL, state bytea NOT NULL, owner text NOT NULL, "
    "updated_at timestamptz NOT NULL DEFAULT now(), "
    "owner_epoch bigint NOT NULL DEFAULT 0, "
    "PRIMARY KEY (group_id, topic, partition))";

/* Tables of versions before the fence get the column in place; their
 * rows start at epoch 0 and the next assignment claims them. */
static const char migrate_sql[] =
    "ALTER TABLE " TABLE
    " ADD COLUMN IF NOT EXISTS owner_epoch bigint NOT NULL DEFAULT 0";

/* The claim and the read in one statement. Two claimants serialize on the
 * row lock (on the unique index for a new row): the second sees the
 * first's epoch and goes one higher, and a write in progress finishes
 * before the claim reads the row. A partition never checkpointed gets a
 * placeholder to hold its epoch: no state, and next_offset librdkafka's
 * "invalid" offset (start at the committed one), which is also what a
 * version before the fence makes of it after a downgrade. */
#define CKPT_NO_OFFSET "-1001"
_Static_assert(RD_KAFKA_OFFSET_INVALID == -1001, "CKPT_NO_OFFSET");
static const char claim_sql[] =
    "INSERT INTO " TABLE " AS c (group_id, topic, partition, next_offset, "
    "state, owner, owner_epoch, updated_at) VALUES ($1, $2, "
    "$3::int, " CKPT_NO_OFFSET ", ''::bytea, $4, 1, now()) "
    "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
    "owner_epoch = c.owner_epoch + 1, owner = EXCLUDED.owner, "
    "updated_at = EXCLUDED.updated_at "
    "RETURNING next_offset, state, owner_epoch";

/* Only while the row is still ours: no row matched = taken over. */
static const char write_sql[] =
    "UPDATE " TABLE " SET next_offset = $4::bigint, state = $5::bytea, "
    "owner = $6, updated_at = now() WHERE group_id = $1 AND topic = $2 AND "
    "partition = $3::int AND owner_epoch = $7::bigint";

/* Who has it now, for the warning. */
static const char holder_sql[] =
    "SELECT owner_epoch, owner FROM " TABLE
    " WHERE group_id = $1 AND topic = $2 AND partition = $3::int";

static const char *
status_text(enum sn_status rc)
{
    switch (rc) {
#define STATUS_TEXT_(name, text)                                               \
    case SN_##name:                                                            \
        return text;
        SN_STATUS_MAP(STATUS_TEXT_)
#undef STATUS_TEXT_
    default:
        return "unknown status";
    }
}

static bool
host_has_partitions(const struct sn_host *h)
{
    return SN_HOST_HAS(h, partition_checkpoint) &&
           SN_HOST_HAS(h, partition_restore) &&
           SN_HOST_HAS(h, partition_release);
}

enum sn_status
ik_ckpt_init(struct ik_state *s, char *err, size_t err_len)
{
    const struct sn_host *h = s->ctx.host;
    struct sn_instance *inst = s->ctx.inst;
    struct ik_ckpt *k;
    char host[256];
    enum sn_status rc;

    if (!host_has_partitions(h)) {
        snprintf(err, err_len,
                 "checkpoints: this daemon has no partition state hooks "
                 "(plugin and daemon from different versions)");
        return SN_ECONFIG;
    }
    if ((rc = pg_dsn_check(s->c->checkpoints, err, err_len)) != SN_OK) {
        /* Name the option: the message is libpq's. */
        char why[512];
        snprintf(why, sizeof(why), "checkpoints: %s", err);
        snprintf(err, err_len, "%s", why);
        return rc;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return SN_ENOMEM;
    s->ckpt = k;
    if ((k->blob = h->buf_new(CKPT_BLOB_MAX)) == NULL)
        return SN_ENOMEM;
    pg_dsn_where(s->c->checkpoints, k->where, sizeof(k->where));
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(k->owner, sizeof(k->owner), "%s/%ld", host, (long)getpid());
    k->c_cycles = h->counter(inst, "kafka_checkpoints_total",
                             "partition checkpoints written (one PostgreSQL "
                             "transaction each)");
    k->c_rows = h->counter(inst, "kafka_checkpoint_rows_total",
                           "partition rows written by checkpoints");
    k->c_bytes = h->counter(inst, "kafka_checkpoint_bytes_total",
                            "bytes of partition state written");
    k->c_stall_ms =
        h->counter(inst, "kafka_checkpoint_stall_ms_total",
                   "milliseconds the pipeline ran dry for checkpoints: "
                   "from the last record handed over to the end of the "
                   "checkpoint (batches in flight, the incident store, "
                   "the transaction, the Kafka commit)");
    k->c_state_ms = h->counter(inst, "kafka_checkpoint_state_ms_total",
                               "milliseconds taking the partitions' state "
                               "(detectors and incident manager)");
    k->c_duration_ms =
        h->counter(inst, "kafka_checkpoint_duration_ms_total",
                   "milliseconds in checkpoints, including emitting what "
                   "the input held when one began");
    k->c_write_ms = h->counter(inst, "kafka_checkpoint_write_ms_total",
                               "milliseconds spent in the PostgreSQL "
                               "transactions of checkpoints (taking the "
                               "state included)");
    k->c_restores = h->counter(inst, "kafka_checkpoint_restores_total",
                               "assigned partitions whose state was "
                               "restored from a checkpoint row");
    k->c_deferred =
        h->counter(inst, "kafka_checkpoints_deferred_total",
                   "checkpoints (and so offset commits) put off: events "
                   "still in flight, incidents not yet stored, or "
                   "PostgreSQL unreachable");
    k->c_errors = h->counter(inst, "kafka_checkpoint_errors_total",
                             "failed checkpoint connections, transactions "
                             "and restores");
    k->g_last_stall = h->gauge(inst, "kafka_checkpoint_last_stall_ms", NULL,
                               "stall of the last checkpoint, ms");
    k->g_max_stall = h->gauge(inst, "kafka_checkpoint_max_stall_ms", NULL,
                              "longest checkpoint stall since start, ms");
    k->c_fenced = h->counter(inst, "kafka_checkpoint_fenced_total",
                             "partition rows not written because another "
                             "instance had claimed the partition since "
                             "(this one was evicted from the group): its "
                             "state dropped, its offset not committed");
    /* Their state comes back from these rows when they are assigned:
     * what the detectors' files and the incident store kept of them is
     * stale (another instance may own them now). */
    if (SN_HOST_HAS(h, checkpoint_partitions))
        for (size_t i = 0; i < s->c->topics.n; i++)
            h->checkpoint_partitions(inst, s->c->topics.items[i]);
    return SN_OK;
}

void
ik_ckpt_free(struct ik_state *s)
{
    struct ik_ckpt *k = s->ckpt;

    if (k == NULL)
        return;
    if (k->conn != NULL)
        PQfinish(k->conn);
    if (k->blob != NULL)
        s->ctx.host->buf_free(k->blob);
    free(k);
    s->ckpt = NULL;
}

static void
disconnect(struct ik_ckpt *k)
{
    if (k->conn != NULL)
        PQfinish(k->conn);
    k->conn = NULL;
    k->table_ready = false;
}

/* An outage is logged when it starts and when it ends, not per try. */
static void
went_down(struct ik_state *s, const char *what, const char *why)
{
    struct ik_ckpt *k = s->ckpt;

    s->ctx.host->counter_add(k->c_errors, 1);
    if (!k->down)
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "checkpoints: %s on PostgreSQL %s: %s; checkpoints "
                         "and offset commits wait until it works again",
                         what, k->where, why);
    k->down = true;
    disconnect(k);
}

/* Connected, with the table there; false (logged) when not usable now. */
static bool
ready(struct ik_state *s)
{
    struct ik_ckpt *k = s->ckpt;
    char why[512];
    bool ok;

    if (k->conn != NULL && PQstatus(k->conn) != CONNECTION_OK)
        disconnect(k);
    if (k->conn == NULL) {
        k->conn = pg_connect(s->c->checkpoints, CKPT_CONNECT_TIMEOUT_MS, why,
                             sizeof(why));
        if (k->conn == NULL) {
            went_down(s, "connect", why);
            return false;
        }
        k->notices = (struct pg_notice_log){ s->ctx.host, s->ctx.inst,
                                             "checkpoints: " };
        pg_log_notices(k->conn, &k->notices);
    }
    if (k->table_ready)
        return true;
    /* Instances starting together: one creates, the others wait and find
     * it (CREATE TABLE IF NOT EXISTS alone can fail on a concurrent
     * create of the same type). */
    ok =
        pg_lock(k->conn, "sentineld.partition_checkpoints", why, sizeof(why)) &&
        pg_exec(k->conn, create_sql, why, sizeof(why)) &&
        pg_exec(k->conn, migrate_sql, why, sizeof(why));
    pg_unlock(k->conn, "sentineld.partition_checkpoints");
    if (!ok) {
        went_down(s, "creating table " TABLE, why);
        return false;
    }
    k->table_ready = true;
    if (k->down)
        s->ctx.host->log(s->ctx.inst, SN_LOG_WARN,
                         "checkpoints: PostgreSQL %s works again", k->where);
    k->down = false;
    return true;
}

void
ik_ckpt_start(struct ik_state *s)
{
    if (ready(s))
        s->ctx.host->log(s->ctx.inst, SN_LOG_INFO,
                         "checkpoints: partition state in PostgreSQL %s, "
                         "table " TABLE ", group %s",
                         s->ckpt->where, s->c->group);
}

static uint32_t
be32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return ntohl(v);
}

static int64_t
be64(const char *p)
{
    return (int64_t)(((uint64_t)be32(p) << 32) | be32(p + 4));
}

/* Claim the row of one partition and read it (binary: state as raw
 * bytes); NULL (logged) on error. */
static PGresult *
claim_row(struct ik_state *s, const char *topic, int32_t partition)
{
    struct ik_ckpt *k = s->ckpt;
    char part[16];
    const char *params[4] = { s->c->group, topic, part, k->owner };
    PGresult *r;
    char why[512];

    snprintf(part, sizeof(part), "%d", (int)partition);
    r = PQexecParams(k->conn, claim_sql, 4, NULL, params, NULL, NULL, 1);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        PQnfields(r) == 3 && PQgetlength(r, 0, 0) == 8 &&
        PQgetlength(r, 0, 2) == 8)
        return r;
    pg_result_error(r, k->conn, why, sizeof(why));
    PQclear(r);
    went_down(s, "claiming checkpoints", why);
    return NULL;
}

/* Claim the row, waiting while PostgreSQL is down; NULL when the daemon
 * stops meanwhile. */
static PGresult *
claim_waiting(struct ik_state *s, const char *topic, int32_t partition)
{
    PGresult *r = NULL;

    while (!ready(s) || (r = claim_row(s, topic, partition)) == NULL) {
        struct timespec ts = { 0, CKPT_RETRY_MS * 1000000L };
        if (s->ctx.host->stopping(s->ctx.inst))
            return NULL;
        s->ctx.host->counter_add(s->ckpt->c_deferred, 1);
        nanosleep(&ts, NULL);
    }
    return r;
}

/* A partition fenced earlier (paused then) is ours again. */
static void
unfence(struct ik_state *s, struct ik_part *p)
{
    rd_kafka_topic_partition_list_t *l;

    if (p == NULL || !p->ckpt_fenced)
        return;
    p->ckpt_fenced = false;
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_resume_partitions(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* FNV-1a of a state blob: tells a partition's state from the row's. */
static uint64_t
blob_hash(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

bool
ik_ckpt_assign(struct ik_state *s, rd_kafka_topic_partition_list_t *parts)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_ckpt *k = s->ckpt;
    int restored = 0;

    /* No record of these partitions may be emitted before their state is
     * back, so an outage here holds the assignment (the group sees us
     * alive: librdkafka heartbeats from its own thread). */
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        struct ik_part *p = ik_part_get(s, e->topic, e->partition);
        PGresult *r = claim_waiting(s, e->topic, e->partition);
        int64_t next;
        const void *data = NULL;
        size_t len = 0;
        char err[512];

        if (r == NULL)
            return false;
        next = be64(PQgetvalue(r, 0, 0));
        /* Negative (CKPT_NO_OFFSET): claimed, never checkpointed. */
        if (next >= 0) {
            data = PQgetvalue(r, 0, 1);
            len = (size_t)PQgetlength(r, 0, 1);
        }
        if (h->partition_restore(s->ctx.inst, e->topic, e->partition, data, len,
                                 err, sizeof(err)) != SN_OK) {
            /* A blob this version cannot read (downgrade): start the
             * partition empty at the row's offset rather than read its
             * events twice or stop it. */
            h->counter_add(k->c_errors, 1);
            h->log(s->ctx.inst, SN_LOG_ERROR,
                   "checkpoints: partition %s[%d]: cannot restore the "
                   "checkpoint from PostgreSQL %s (%zu bytes): %s; its "
                   "open windows start empty",
                   e->topic, (int)e->partition, k->where, len, err);
            h->partition_restore(s->ctx.inst, e->topic, e->partition, NULL, 0,
                                 err, sizeof(err));
        } else if (next >= 0) {
            h->counter_add(k->c_restores, 1);
            restored++;
        }
        if (next >= 0)
            e->offset = next;
        if (p != NULL) {
            unfence(s, p);
            p->ckpt_next = next >= 0 ? next : -1;
            p->ckpt_gen = UINT64_MAX; /* the restore may have merged */
            p->ckpt_epoch = be64(PQgetvalue(r, 0, 2));
            p->ckpt_hash = blob_hash(data, len);
        }
        PQclear(r);
    }
    h->log(s->ctx.inst, SN_LOG_INFO,
           "checkpoints: restored %d of %d assigned partitions", restored,
           parts->cnt);
    return true;
}

void
ik_ckpt_release(struct ik_state *s,
                const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        struct ik_part *p =
            ik_part_get(s, parts->elems[i].topic, parts->elems[i].partition);
        s->ctx.host->partition_release(s->ctx.inst, parts->elems[i].topic,
                                       parts->elems[i].partition);
        if (p != NULL) {
            p->ckpt_next = -1;
            p->ckpt_epoch = 0;
        }
    }
}

static bool
wanted(const rd_kafka_topic_partition_list_t *only, const struct ik_part *p)
{
    if (p->ckpt_fenced)
        return false;
    if (only == NULL)
        return p->assigned;
    for (int i = 0; i < only->cnt; i++)
        if (only->elems[i].partition == p->partition &&
            strcmp(only->elems[i].topic, p->topic) == 0)
            return true;
    return false;
}

enum write_result { WRITE_OK, WRITE_FENCED, WRITE_FAILED };

/* The row of p matched no epoch of ours: say who holds it now (inside
 * the open transaction); false with why when that query failed. */
static bool
log_fenced(struct ik_state *s, const struct ik_part *p, const char *part,
           char *why, size_t why_len)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_ckpt *k = s->ckpt;
    const char *params[3] = { s->c->group, p->topic, part };
    PGresult *r =
        PQexecParams(k->conn, holder_sql, 3, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char err[400];
        pg_result_error(r, k->conn, err, sizeof(err));
        snprintf(why, why_len, "partition %s[%d]: %s", p->topic,
                 (int)p->partition, err);
        PQclear(r);
        return false;
    }
    h->counter_add(k->c_fenced, 1);
    h->log(s->ctx.inst, SN_LOG_WARN,
           "checkpoints: partition %s[%d] was taken over: its row in "
           "PostgreSQL %s has owner_epoch %s (owner %s), ours is %lld; this "
           "instance lost the partition (evicted from the group: stopped or "
           "stuck past the session timeout). Its checkpoint was not written "
           "and its offset not committed; its state is dropped and the "
           "partition paused until it is assigned again",
           p->topic, (int)p->partition, k->where,
           PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "(none: row deleted)",
           PQntuples(r) == 1 ? PQgetvalue(r, 0, 1) : "-",
           (long long)p->ckpt_epoch);
    PQclear(r);
    return true;
}

/* Write one row inside the open transaction, if it is still ours. */
static enum write_result
write_row(struct ik_state *s, const struct ik_part *p, int64_t next,
          uint64_t *hash, char *why, size_t why_len)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_ckpt *k = s->ckpt;
    char part[16], off[24], epoch[24];
    const char *params[7];
    int lens[7] = { 0 }, fmts[7] = { 0 };
    struct sn_str blob;
    enum sn_status rc;
    enum write_result res;
    PGresult *r;
    int64_t t0 = ik_mono_ms();

    h->buf_reset(k->blob);
    rc = h->partition_checkpoint(s->ctx.inst, p->topic, p->partition, k->blob);
    h->counter_add(k->c_state_ms, (uint64_t)(ik_mono_ms() - t0));
    if (rc != SN_OK) {
        snprintf(why, why_len, "partition %s[%d]: taking its state: %s",
                 p->topic, (int)p->partition, status_text(rc));
        return WRITE_FAILED;
    }
    blob = h->buf_str(k->blob);
    *hash = blob_hash(blob.ptr, blob.len);
    snprintf(part, sizeof(part), "%d", (int)p->partition);
    snprintf(off, sizeof(off), "%lld", (long long)next);
    snprintf(epoch, sizeof(epoch), "%lld", (long long)p->ckpt_epoch);
    params[0] = s->c->group;
    params[1] = p->topic;
    params[2] = part;
    params[3] = off;
    params[4] = blob.ptr;
    lens[4] = (int)blob.len;
    fmts[4] = 1;
    params[5] = k->owner;
    params[6] = epoch;
    r = PQexecParams(k->conn, write_sql, 7, NULL, params, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char err[400];
        pg_result_error(r, k->conn, err, sizeof(err));
        snprintf(why, why_len, "partition %s[%d]: %s", p->topic,
                 (int)p->partition, err);
        res = WRITE_FAILED;
    } else if (strcmp(PQcmdTuples(r), "1") != 0) {
        bool logged = log_fenced(s, p, part, why, why_len);
        res = logged ? WRITE_FENCED : WRITE_FAILED;
    } else {
        h->counter_add(k->c_bytes, blob.len);
        res = WRITE_OK;
    }
    PQclear(r);
    return res;
}

/* A zombie owner lets the partition go as a revocation would, without
 * waiting for librdkafka to tell it: drop its state, commit nothing, and
 * pause it so that records still fetched do not start new windows here
 * (the group's real owner counts them). unfence() undoes the pause when
 * the partition is assigned to us again. */
static void
fence(struct ik_state *s, struct ik_part *p)
{
    rd_kafka_topic_partition_list_t *l;

    /* Fenced before the release: the emit thread hands nothing more of
     * it over from then on. */
    p->ckpt_fenced = true;
    s->ctx.host->partition_release(s->ctx.inst, p->topic, p->partition);
    p->ckpt_next = -1;
    p->ckpt_epoch = 0;
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_pause_partitions(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* The stall is counted from the moment everything in hand was emitted
 * (emitting it is work, not waiting) to the end of the checkpoint: the
 * pipeline runs dry meanwhile. The whole cycle goes to duration. */
static void
stalled(struct ik_state *s, int64_t start, int64_t t0)
{
    struct ik_ckpt *k = s->ckpt;
    int64_t now = ik_mono_ms(), ms = now - t0;

    s->ctx.host->counter_add(k->c_duration_ms, (uint64_t)(now - start));
    s->ctx.host->counter_add(k->c_stall_ms, (uint64_t)ms);
    s->ctx.host->gauge_set(k->g_last_stall, (uint64_t)ms);
    if (ms > k->max_stall_ms) {
        k->max_stall_ms = ms;
        s->ctx.host->gauge_set(k->g_max_stall, (uint64_t)ms);
    }
}

/* Nothing is emitted meanwhile, so the incident manager's queue only
 * shrinks: wait for it (up to the rebalance timeout) rather than give up
 * after one short wait, or a manager that is behind under an incident
 * storm would defer every checkpoint, and every Kafka commit, forever. */
static bool
signals_caught_up(struct ik_state *s)
{
    int64_t deadline = ik_mono_ms() + s->c->rebalance_timeout_ms;

    while (!ik_signals_stored(s, true))
        if (ik_mono_ms() >= deadline || s->ctx.host->stopping(s->ctx.inst))
            return false;
    return true;
}

/* The offset a partition that handed over no record since its
 * assignment resumes at: its committed offset, else (start_at earliest)
 * its first; -1 when neither is known (start_at latest: its end when it
 * was assigned, which nobody recorded). */
static int64_t
start_offset(struct ik_state *s, const struct ik_part *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t off = -1, lo, hi;

    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (rd_kafka_committed(s->rk, l, CKPT_OFFSET_TIMEOUT_MS) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        l->elems[0].offset >= 0)
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (off < 0 && s->c->start_at == 0 &&
        rd_kafka_query_watermark_offsets(s->rk, p->topic, p->partition, &lo,
                                         &hi, CKPT_OFFSET_TIMEOUT_MS) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
        off = lo;
    return off;
}

/* Partitions of still[0..n) (no record handed over since their row, or
 * since their assignment) whose state is not the row's: appended to
 * todo/next with the offset their row keeps (or, never written, the one
 * they resume at). Each one's state is taken to compare it: the cost of
 * a quiet partition is its state's size per checkpoint. */
static size_t
changed_still(struct ik_state *s, struct ik_part **still, size_t n,
              uint64_t gen, struct ik_part **todo, int64_t *next, size_t at)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_ckpt *k = s->ckpt;

    for (size_t i = 0; i < n; i++) {
        struct ik_part *p = still[i];
        struct sn_str blob;
        int64_t off;

        h->buf_reset(k->blob);
        if (h->partition_checkpoint(s->ctx.inst, p->topic, p->partition,
                                    k->blob) != SN_OK)
            continue; /* write_row says why when it moves */
        blob = h->buf_str(k->blob);
        if (blob_hash(blob.ptr, blob.len) == p->ckpt_hash) {
            p->ckpt_gen = gen; /* as in its row: not compared again */
            continue;
        }
        off = p->ckpt_next >= 0 ? p->ckpt_next : start_offset(s, p);
        if (off < 0)
            continue;
        todo[at] = p;
        next[at++] = off;
    }
    return at;
}

bool
ik_ckpt_cycle(struct ik_state *s, const rd_kafka_topic_partition_list_t *only,
              bool sync)
{
    const struct sn_host *h = s->ctx.host;
    struct ik_ckpt *k = s->ckpt;
    int64_t start = ik_mono_ms(), t0 = start, tw;
    rd_kafka_topic_partition_list_t *l;
    struct ik_part **todo, **still;
    int64_t *next;
    uint64_t *hash, gen;
    size_t n = 0, n_still = 0, n_parts, n_written;
    char why[600];
    bool ok = true;

    /* 1. Stop emitting (this thread feeds the emit thread, and is here),
     * let the emit thread hand everything over, and wait until every
     * batch is done and its incidents are stored: the state then covers
     * exactly the records before each partition's position. */
    if (!ik_drain(s, &t0) || !signals_caught_up(s)) {
        h->counter_add(k->c_deferred, 1);
        stalled(s, start, t0);
        return false;
    }
    /* 2. The partitions with progress since their row, and those
     * without whose state changed since (changed_still): a detector may
     * have changed it on its own (a fired window's update or close the
     * clock made due, an absence), or the assignment did (expected keys
     * created); written again at their row's offset, or the next owner
     * would restore the state before that change and deliver other
     * versions under the numbers already delivered. Only those are
     * compared: the unprompted signals' count moved since their row, or
     * they were assigned since. Read before any state is taken: a change
     * racing with this cycle is saved by the next one. The array only
     * grows (emit thread, under track_lock); entries stay put. */
    gen = SN_HOST_HAS(h, unprompted_signals)
              ? h->unprompted_signals(s->ctx.inst)
              : 0;
    pthread_mutex_lock(&s->track_lock);
    n_parts = s->n_parts;
    todo = malloc((n_parts + 1) * sizeof(*todo));
    still = malloc((n_parts + 1) * sizeof(*still));
    next = malloc((n_parts + 1) * sizeof(*next));
    hash = malloc((n_parts + 1) * sizeof(*hash));
    for (size_t i = 0; todo != NULL && still != NULL && next != NULL &&
                       hash != NULL && i < n_parts;
         i++) {
        struct ik_part *p = s->parts[i];
        int64_t pos = atomic_load(&p->position);
        if (!wanted(only, p))
            continue;
        if (pos >= 0 && pos != p->ckpt_next) {
            todo[n] = p;
            next[n++] = pos;
        } else if (p->ckpt_gen != gen) {
            still[n_still++] = p;
        }
    }
    pthread_mutex_unlock(&s->track_lock);
    if (todo == NULL || still == NULL || next == NULL || hash == NULL) {
        free(todo);
        free(still);
        free(next);
        free(hash);
        h->counter_add(k->c_deferred, 1);
        stalled(s, start, t0);
        return false;
    }
    /* Outside track_lock: taking a state waits for the detectors. */
    n = changed_still(s, still, n_still, gen, todo, next, n);
    free(still);
    if (n == 0) {
        free(todo);
        free(next);
        free(hash);
        stalled(s, start, t0);
        return true;
    }
    /* 3. All rows in one transaction. A partition found taken over gets
     * next -1: not written, and let go below. */
    tw = ik_mono_ms();
    if (!ready(s)) {
        ok = false;
    } else if (!pg_exec(k->conn, "BEGIN", why, sizeof(why))) {
        went_down(s, "BEGIN", why);
        ok = false;
    } else {
        for (size_t i = 0; ok && i < n; i++) {
            enum write_result w =
                write_row(s, todo[i], next[i], &hash[i], why, sizeof(why));
            ok = w != WRITE_FAILED;
            if (w == WRITE_FENCED)
                next[i] = -1;
        }
        if (ok)
            ok = pg_exec(k->conn, "COMMIT", why, sizeof(why));
        if (!ok) {
            /* The connection may be broken or the transaction aborted:
             * start over on a fresh one. */
            went_down(s, "writing checkpoints", why);
        }
    }
    h->counter_add(k->c_write_ms, (uint64_t)(ik_mono_ms() - tw));
    /* Taken over is final (epochs only grow), whatever became of the
     * transaction: drop those partitions from what is committed below. */
    n_written = 0;
    for (size_t i = 0; i < n; i++) {
        if (next[i] < 0) {
            fence(s, todo[i]);
            continue;
        }
        todo[n_written] = todo[i];
        hash[n_written] = hash[i];
        next[n_written++] = next[i];
    }
    n = n_written;
    if (!ok) {
        free(todo);
        free(next);
        free(hash);
        h->counter_add(k->c_deferred, 1);
        stalled(s, start, t0);
        return false;
    }
    if (k->down)
        h->log(s->ctx.inst, SN_LOG_WARN,
               "checkpoints: PostgreSQL %s works again", k->where);
    k->down = false;
    h->counter_add(k->c_cycles, 1);
    h->counter_add(k->c_rows, n);
    for (size_t i = 0; i < n; i++)
        todo[i]->ckpt_hash = hash[i];
    free(hash);
    if (n == 0) {
        free(todo);
        free(next);
        stalled(s, start, t0);
        return true;
    }
    /* 4. Only now may Kafka forget the records. A failed commit is
     * harmless: the row is the authority on assignment. */
    l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        todo[i]->ckpt_next = next[i];
        todo[i]->ckpt_gen = gen;
        rd_kafka_topic_partition_list_add(l, todo[i]->topic, todo[i]->partition)
            ->offset = next[i];
    }
    if (ik_commit_offsets(s, l, sync) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h->counter_add(s->c_commit_errors, 1);
    else
        h->counter_add(s->c_commits, 1);
    pthread_mutex_lock(&s->track_lock);
    for (size_t i = 0; i < n; i++)
        if (todo[i]->committed < next[i])
            todo[i]->committed = next[i];
    pthread_mutex_unlock(&s->track_lock);
    rd_kafka_topic_partition_list_destroy(l);
    free(todo);
    free(next);
    stalled(s, start, t0);
    return true;
}
