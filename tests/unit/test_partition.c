/*
 * The incident side of partition state (src/incident/partition.c): ids
 * from the signal's source record, versions that do not depend on
 * batching, and export/import/release of a partition's open incidents
 * between two stores, through the manager as the core calls it.
 */
#define _GNU_SOURCE /* memmem */
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/clock.h"
#include "incident/fold.h"
#include "incident/incidents.h"
#include "incident/manager.h"
#include "incident/partition.h"
#include "incident/relay.h"
#include "incident/store.h"
#include "pipeline/outport.h"
#include "sn_test.h"

static char dir[] = "/tmp/sn-partition-test.XXXXXX";
static char path[256];

static const char *
fresh(void)
{
    static int n;

    if (n == 0 && mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/t%d.db", dir, n++);
    return path;
}

static const struct sn_partition P3 = { "kafka", "auth", 3 };

/* A det_rules-like firing signal for key ip from partition part at
 * offset off (off < 0: no source, a clock signal). */
static int
signal_json(char *buf, size_t len, const char *ip, int part, long off)
{
    char src[160] = "";

    if (off >= 0)
        snprintf(src, sizeof(src),
                 ",\"source\":{\"input\":\"kafka\",\"topic\":\"auth\","
                 "\"partition\":%d,\"offset\":%ld}",
                 part, off);
    return snprintf(buf, len,
                    "{\"type\":\"signal\",\"rule\":\"ssh\",\"state\":"
                    "\"firing\",\"severity\":\"high\",\"time_ns\":%lld,"
                    "\"key\":{\"source.ip\":\"%s\"},\"window\":{\"count\":1},"
                    "\"evidence\":[{\"time_ns\":%lld,\"summary\":\"try %ld\"}]"
                    "%s}",
                    1700000000000000000LL + off * 1000, ip,
                    1700000000000000000LL + off * 1000, off, src);
}

static struct sn_manager *
manager(const char *p, struct sn_metrics **metrics)
{
    struct sn_incidents_conf conf = { 0 };
    struct sn_manager *m = NULL;
    struct sn_error err;

    conf.retention_ms = 86400000;
    conf.outbox_keep_ms = 600000;
    conf.queue = 256;
    conf.batch = 64;
    conf.evidence_max = 10;
    *metrics = sn_metrics_new();
    if (sn_manager_new(p, &conf, *metrics, &m, &err) != SN_OK ||
        sn_manager_start(m, &err) != SN_OK) {
        printf("# manager: %s\n", err.msg);
        abort();
    }
    return m;
}

static void
done(struct sn_manager *m, struct sn_metrics *metrics)
{
    sn_manager_free(m);
    sn_metrics_free(metrics);
}

static void
sink(struct sn_manager *m, const char *ip, int part, long off)
{
    char json[1024];
    int n = signal_json(json, sizeof(json), ip, part, off);

    if (sn_manager_sink(m, NULL, json, (size_t)n) != SN_OK)
        abort();
}

/* The latest outbox document per incident of a store. */
struct seen {
    int n;
    char id[8][SN_UUID_LEN + 1];
    int64_t version[8], hits[8];
    char status[8][16];
    int docs;
};

static void
seen_doc(void *arg, const struct sn_doc *d, int64_t at)
{
    struct seen *s = arg;
    struct json_object *o = json_tokener_parse(d->json.ptr), *v;
    int i;

    (void)at;
    s->docs++;
    for (i = 0; i < s->n; i++)
        if (strlen(s->id[i]) == d->id.len &&
            memcmp(s->id[i], d->id.ptr, d->id.len) == 0)
            break;
    if (i == s->n && s->n < 8) {
        snprintf(s->id[i], sizeof(s->id[i]), "%.*s", (int)d->id.len, d->id.ptr);
        s->n++;
    }
    if (i < 8) { /* the latest row (seq order) */
        s->version[i] = d->version;
        if (json_object_object_get_ex(o, "hit_count", &v))
            s->hits[i] = json_object_get_int64(v);
        snprintf(s->status[i], sizeof(s->status[i]), "%.*s", (int)d->status.len,
                 d->status.ptr);
    }
    json_object_put(o);
}

static struct seen
outbox(const char *p)
{
    struct seen s;
    struct sn_store *st;
    struct sn_error err;

    memset(&s, 0, sizeof(s));
    if (sn_store_open(p, true, &st, &err) != SN_OK)
        abort();
    sn_store_outbox_read(st, 0, 10000, seen_doc, &s);
    sn_store_close(st);
    return s;
}

static int
find(const struct seen *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->id[i], id) == 0)
            return i;
    return -1;
}

/* released flag of the row with this id (-1: no row). */
static int
released(const char *p, const char *id)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int r = -1;

    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        abort();
    sqlite3_prepare_v2(db, "SELECT released FROM incidents WHERE id = ?1", -1,
                       &q, NULL);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW)
        r = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return r;
}

SN_TEST(uuid5_layout)
{
    /* RFC 9562 / Python's uuid.uuid5(NAMESPACE_DNS, "python.org"). */
    static const unsigned char dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad,
                                           0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0,
                                           0x4f, 0xd4, 0x30, 0xc8 };
    char id[SN_UUID_LEN + 1];

    sn_uuid5(dns, "python.org", 10, id);
    CHECK_STR(id, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

SN_TEST(source_opens_the_same_id_on_two_stores)
{
    struct sn_metrics *ma, *mb;
    char pa[256], pb[256];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct sn_manager *b = manager(strcpy(pb, fresh()), &mb);
    struct seen sa, sb;

    sink(a, "10.0.0.7", 3, 0);
    sink(b, "10.0.0.7", 3, 0);
    /* No source: random ids, as before. */
    sink(a, "10.0.0.8", -1, -1);
    sink(b, "10.0.0.8", -1, -1);
    sn_manager_flush(a);
    sn_manager_flush(b);
    sa = outbox(pa);
    sb = outbox(pb);
    CHECK_EQ(sa.n, 2);
    CHECK_EQ(sb.n, 2);
    /* The name: rule, group key, input, topic, partition, offset, NUL
     * separated, in sentineld's namespace (docs/incidents.md); Python:
     * uuid5(UUID("3c4f7a52-8e0b-4d7e-9a61-2f5b8c1d0e93"), name). */
    CHECK_STR(sa.id[0], "c96b8569-3be8-528c-9381-6b41c5b711d0");
    CHECK_STR(sb.id[0], sa.id[0]);
    CHECK(strcmp(sa.id[1], sb.id[1]) != 0);
    CHECK(sa.id[1][14] == '4');
    done(a, ma);
    done(b, mb);
}

/* Fold signals offsets [from, to) of one key in transactions of `per`
 * (at most 64), as the manager does: prepare, apply, flush, and the
 * prepared signals kept until the flush (the batch borrows their text). */
static void
fold_direct(struct sn_fold *f, struct sn_store *s, long from, long to, long per)
{
    struct json_tokener *tok = json_tokener_new();
    struct sn_fold_sig sig[64];
    char json[1024];
    struct sn_error err;

    if (tok == NULL || per > 64)
        abort();
    for (long i = from; i < to;) {
        long k = 0;

        sn_store_begin(s, &err);
        for (; k < per && i < to; k++, i++) {
            int n = signal_json(json, sizeof(json), "10.0.0.9", 3, i);
            if (sn_fold_prepare(tok, NULL, json, (size_t)n, &sig[k], &err) !=
                    SN_OK ||
                sn_fold_apply(f, &sig[k], sn_clock_wall_ns(), &err) != SN_OK)
                abort();
        }
        if (sn_fold_flush(f, sn_clock_wall_ns(), &err) != SN_OK ||
            sn_store_commit(s, &err) != SN_OK)
            abort();
        while (k > 0)
            sn_fold_sig_fini(&sig[--k]);
    }
    json_tokener_free(tok);
}

/* One signal through the manager's steps (render, apply, flush), inside
 * the caller's store transaction; the signal lives until the flush. */
static void
fold_one(struct sn_fold *f, const char *json, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct sn_fold_sig sig;
    struct sn_error err;

    if (tok == NULL ||
        sn_fold_prepare(tok, NULL, json, len, &sig, &err) != SN_OK)
        abort();
    if (sn_fold_apply(f, &sig, sn_clock_wall_ns(), &err) != SN_OK ||
        sn_fold_flush(f, sn_clock_wall_ns(), &err) != SN_OK)
        abort();
    sn_fold_sig_fini(&sig);
    json_tokener_free(tok);
}

SN_TEST(versions_do_not_depend_on_batching)
{
    struct sn_store *s[2];
    struct sn_fold f[2];
    struct sn_error err;
    struct seen o[2];
    char p[2][256];
    long per[2] = { 1, 30 };

    for (int i = 0; i < 2; i++) {
        strcpy(p[i], fresh());
        CHECK_EQ(sn_store_open(p[i], false, &s[i], &err), SN_OK);
        CHECK_EQ(sn_fold_init(&f[i], s[i], NULL, 0, 10), SN_OK);
        fold_direct(&f[i], s[i], 0, 30, per[i]);
        o[i] = outbox(p[i]);
        sn_fold_fini(&f[i]);
        sn_store_close(s[i]);
    }
    CHECK_EQ(o[0].docs, 30);
    CHECK_EQ(o[1].docs, 1);
    CHECK_EQ(o[0].n, 1);
    CHECK_EQ(o[1].n, 1);
    CHECK_STR(o[0].id[0], o[1].id[0]);
    CHECK_EQ(o[0].version[0], 30);
    CHECK_EQ(o[1].version[0], 30);
    CHECK_EQ(o[0].hits[0], 30);
    CHECK_EQ(o[1].hits[0], 30);
}

/* Fold into store s one signal of 10.0.0.9's window (rule ssh): with
 * count 0 its firing (10 hits, from partition 3 offset 0), else an
 * update adding count hits (the clock's: no source), in a transaction
 * of its own. */
static void
fold_window(struct sn_fold *f, struct sn_store *s, int count)
{
    char json[1024];
    struct sn_error err;
    int n = snprintf(
        json, sizeof(json),
        "{\"type\":\"signal\",\"rule\":\"ssh\",\"state\":\"%s\","
        "\"severity\":\"high\",\"time_ns\":%lld,"
        "\"key\":{\"source.ip\":\"10.0.0.9\"},\"window\":{\"count\":%d}%s}",
        count ? "update" : "firing", 1700000000000000000LL + count,
        count ? count : 10,
        count ? ""
              : ",\"evidence\":[{\"time_ns\":1700000000000000000,"
                "\"summary\":\"try\"}],\"source\":{\"input\":\"kafka\","
                "\"topic\":\"auth\",\"partition\":3,\"offset\":0}");

    sn_store_begin(s, &err);
    fold_one(f, json, (size_t)n);
    if (sn_store_commit(s, &err) != SN_OK)
        abort();
}

/* A fired window's later matches (refire per_window) reach its incident
 * as update signals the clock makes due, so two instances that count the
 * same records (the one that delivered them, the one that replays them
 * from the partition's checkpoint after a kill -9 or a lost assignment)
 * split them otherwise. Each version must still say the same hits on
 * both, and more hits a higher version: outputs keep the first copy of a
 * version. Counted one per signal, the replay's 15 hits were version 3,
 * below the 13 hits the first instance delivered as version 4, which
 * PostgreSQL kept (scale_hop.sh: 18-19 of 20 hits). */
SN_TEST(versions_do_not_depend_on_how_updates_split)
{
    static const int split[2][4] = { { 1, 1, 1, 2 }, { 3, 2, 0, 0 } };
    struct sn_store *s[2];
    struct sn_fold f[2];
    struct sn_error err;
    struct seen o[2];
    char p[2][256];
    int64_t v13[2] = { 0, 0 };

    for (int i = 0; i < 2; i++) {
        strcpy(p[i], fresh());
        CHECK_EQ(sn_store_open(p[i], false, &s[i], &err), SN_OK);
        CHECK_EQ(sn_fold_init(&f[i], s[i], NULL, 0, 10), SN_OK);
        fold_window(&f[i], s[i], 0);
        for (int k = 0; k < 4 && split[i][k] > 0; k++) {
            fold_window(&f[i], s[i], split[i][k]);
            o[i] = outbox(p[i]);
            if (o[i].hits[0] == 13)
                v13[i] = o[i].version[0];
        }
        sn_fold_fini(&f[i]);
        sn_store_close(s[i]);
    }
    CHECK_EQ(o[0].n, 1);
    CHECK_EQ(o[1].n, 1);
    CHECK_STR(o[0].id[0], o[1].id[0]);
    CHECK_EQ(o[0].hits[0], 15);
    CHECK_EQ(o[1].hits[0], 15);
    CHECK_EQ(o[0].version[0], o[1].version[0]);
    /* 13 hits: the same version on both, below 15's. */
    CHECK(v13[0] > 0);
    CHECK_EQ(v13[1], v13[0]);
    CHECK(o[1].version[0] > v13[0]);
}

/* prev of the row with this id ("" when none, "-" when no row). */
static void
previous_of(struct sn_store *s, const char *id, char out[SN_UUID_LEN + 1])
{
    struct sn_incident inc;

    sn_incident_init(&inc);
    if (sn_store_get(s, id, &inc) == SN_OK)
        strcpy(out, inc.previous_id);
    else
        strcpy(out, "-");
    sn_incident_fini(&inc);
}

SN_TEST(reading_records_again_reopens_the_same_incident)
{
    struct sn_store *s;
    struct sn_fold f;
    struct sn_error err;
    struct seen o;
    char p[256], first[SN_UUID_LEN + 1], id[SN_UUID_LEN + 1];
    char prev[SN_UUID_LEN + 1];
    static const char resolved[] =
        "{\"type\":\"signal\",\"rule\":\"ssh\",\"state\":\"resolved\","
        "\"key\":{\"source.ip\":\"10.0.0.9\"}}";

    strcpy(p, fresh());
    CHECK_EQ(sn_store_open(p, false, &s, &err), SN_OK);
    CHECK_EQ(sn_fold_init(&f, s, NULL, 0, 10), SN_OK);
    /* An earlier incident of the key, resolved: the one to link to. */
    fold_direct(&f, s, 1000, 1001, 1);
    o = outbox(p);
    strcpy(first, o.id[0]);
    sn_store_begin(s, &err);
    fold_one(&f, resolved, sizeof(resolved) - 1);
    sn_store_commit(s, &err);
    /* Records 0..4, then resolved; read again from 0 (a checkpoint from
     * before them): the same id, linked to the earlier incident, not to
     * itself. */
    fold_direct(&f, s, 0, 5, 5);
    o = outbox(p);
    CHECK_EQ(o.n, 2);
    strcpy(id, o.id[1]);
    CHECK(strcmp(id, first) != 0);
    sn_store_begin(s, &err);
    fold_one(&f, resolved, sizeof(resolved) - 1);
    sn_store_commit(s, &err);
    fold_direct(&f, s, 0, 3, 1);
    o = outbox(p);
    CHECK_EQ(o.n, 2);
    CHECK_STR(o.id[1], id);
    CHECK_EQ(o.hits[1], 3);
    CHECK_STR(o.status[1], "open");
    previous_of(s, id, prev);
    CHECK_STR(prev, first);
    sn_fold_fini(&f);
    sn_store_close(s);
}

SN_TEST(released_incidents_go_after_retention)
{
    struct sn_store *s;
    struct sn_fold f;
    struct sn_error err;
    struct seen o;
    char p[256];
    size_t n = 0;

    strcpy(p, fresh());
    CHECK_EQ(sn_store_open(p, false, &s, &err), SN_OK);
    CHECK_EQ(sn_fold_init(&f, s, NULL, 0, 10), SN_OK);
    fold_direct(&f, s, 0, 2, 2);
    o = outbox(p);
    CHECK(sn_store_prune(s, sn_clock_wall_ns() + 2 * SN_NS_PER_SEC, 0, 1000) >=
          0);
    CHECK_EQ(released(p, o.id[0]), 0); /* open and live: kept */
    CHECK_EQ(sn_partition_store_release(s, &P3, &n, &err), SN_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(released(p, o.id[0]), 1);
    sn_store_prune(s, sn_clock_wall_ns() + 2 * SN_NS_PER_SEC, 0, 1000);
    CHECK_EQ(released(p, o.id[0]), -1);
    sn_fold_fini(&f);
    sn_store_close(s);
}

SN_TEST(export_import_release_moves_the_incident)
{
    struct sn_metrics *ma, *mb;
    char pa[256], pb[256];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct sn_manager *b = manager(strcpy(pb, fresh()), &mb);
    struct sn_buf blob;
    struct seen sa, sb;
    char id[SN_UUID_LEN + 1], err[256];
    int i;

    sn_buf_init(&blob, 1 << 20);
    for (long off = 0; off < 7; off++)
        sink(a, "10.0.0.7", 3, off);
    /* Another partition's incident stays behind. */
    sink(a, "10.0.0.99", 4, 0);
    /* The caller guarantees nothing of p is in flight; the manager still
     * folds what was submitted before the call. */
    CHECK_EQ(sn_manager_partition_export(a, &P3, &blob), SN_OK);
    CHECK(blob.len > 0);
    CHECK(memmem(blob.data, blob.len, "10.0.0.99", 9) == NULL);
    sn_manager_partition_release(a, &P3);
    sa = outbox(pa);
    CHECK_EQ(sa.n, 2);
    strcpy(id, sa.id[0]);
    CHECK_EQ(released(pa, id), 1);
    CHECK_EQ(released(pa, sa.id[1]), 0);

    CHECK_EQ(sn_manager_partition_import(b, &P3, blob.data, blob.len, err,
                                         sizeof(err)),
             SN_OK);
    /* The imported version is queued for delivery as it was. */
    sb = outbox(pb);
    CHECK_EQ(sb.n, 1);
    CHECK_STR(sb.id[0], id);
    CHECK_EQ(sb.version[0], 7);
    CHECK_EQ(sb.hits[0], 7);
    for (long off = 7; off < 20; off++)
        sink(b, "10.0.0.7", 3, off);
    sn_manager_flush(b);
    sb = outbox(pb);
    CHECK_EQ(sb.n, 1);
    CHECK_STR(sb.id[0], id);
    CHECK_EQ(sb.hits[0], 20);
    CHECK_EQ(sb.version[0], 20);
    CHECK_EQ(released(pb, id), 0);

    /* A released incident is not folded into: a later signal of the key
     * on A opens another incident. */
    sink(a, "10.0.0.7", 3, 100);
    sn_manager_flush(a);
    sa = outbox(pa);
    CHECK_EQ(sa.n, 3);
    i = find(&sa, id);
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK_EQ(sa.hits[i], 7);
        CHECK_STR(sa.status[i], "open");
    }
    CHECK(strcmp(sa.id[2], id) != 0);
    CHECK_EQ(sa.hits[2], 1);

    /* Export from B carries the 20 hits; importing it back into A makes
     * the released incident live there again (and releases the one A
     * opened meanwhile). */
    sn_buf_reset(&blob);
    CHECK_EQ(sn_manager_partition_export(b, &P3, &blob), SN_OK);
    CHECK_EQ(sn_manager_partition_import(a, &P3, blob.data, blob.len, err,
                                         sizeof(err)),
             SN_OK);
    CHECK_EQ(released(pa, id), 0);
    CHECK_EQ(released(pa, sa.id[2]), 1);
    sink(a, "10.0.0.7", 3, 20);
    sn_manager_flush(a);
    sa = outbox(pa);
    i = find(&sa, id);
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK_EQ(sa.hits[i], 21);
        CHECK_EQ(sa.version[i], 21);
    }
    sn_buf_fini(&blob);
    done(a, ma);
    done(b, mb);
}

/* A store that made versions after the checkpoint it now imports (an
 * owner restarted from its own older checkpoint, or a stop that saved
 * none): the import must not give the checkpoint's older state a number
 * it already delivered with other counts, nor let the next change reuse
 * one (outputs keep the first copy of a version; this store's held
 * versions are judged by the numbers it recorded). */
SN_TEST(import_of_an_older_checkpoint_never_reuses_a_version)
{
    struct sn_metrics *ma;
    char pa[256], err[256], id[SN_UUID_LEN + 1];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct sn_buf blob;
    struct seen sa;

    sn_buf_init(&blob, 1 << 20);
    for (long off = 0; off < 7; off++)
        sink(a, "10.0.0.7", 3, off);
    CHECK_EQ(sn_manager_partition_export(a, &P3, &blob), SN_OK);
    for (long off = 7; off < 10; off++)
        sink(a, "10.0.0.7", 3, off);
    sn_manager_flush(a);
    sa = outbox(pa);
    CHECK_EQ(sa.n, 1);
    strcpy(id, sa.id[0]);
    CHECK_EQ(sa.version[0], 10);
    CHECK_EQ(sa.hits[0], 10);

    /* Back to the checkpoint's 7 hits, as the version after 10. */
    CHECK_EQ(sn_manager_partition_import(a, &P3, blob.data, blob.len, err,
                                         sizeof(err)),
             SN_OK);
    sa = outbox(pa);
    CHECK_STR(sa.id[0], id);
    CHECK_EQ(sa.hits[0], 7);
    CHECK_EQ(sa.version[0], 11);
    /* The records after the checkpoint, read again, count on top. */
    for (long off = 7; off < 10; off++)
        sink(a, "10.0.0.7", 3, off);
    sn_manager_flush(a);
    sa = outbox(pa);
    CHECK_EQ(sa.hits[0], 10);
    CHECK_EQ(sa.version[0], 14);

    /* Importing the same state again changes no number. */
    sn_buf_reset(&blob);
    CHECK_EQ(sn_manager_partition_export(a, &P3, &blob), SN_OK);
    CHECK_EQ(sn_manager_partition_import(a, &P3, blob.data, blob.len, err,
                                         sizeof(err)),
             SN_OK);
    sa = outbox(pa);
    CHECK_EQ(sa.version[0], 14);
    CHECK_EQ(sa.hits[0], 10);
    sn_buf_fini(&blob);
    done(a, ma);
}

/* At start, an input that restores its partitions from checkpoints
 * has this store's incidents of every partition of its topic released
 * (host->checkpoint_partitions): partition -1. */
SN_TEST(release_of_a_whole_topic)
{
    struct sn_metrics *ma;
    char pa[256];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    const struct sn_partition other = { "kafka", "other", -1 },
                              all = { "kafka", "auth", -1 };
    struct seen sa;

    sink(a, "10.0.0.7", 3, 0);
    sink(a, "10.0.0.8", 4, 0);
    sn_manager_flush(a);
    sa = outbox(pa);
    CHECK_EQ(sa.n, 2);
    sn_manager_partition_release(a, &other);
    CHECK_EQ(released(pa, sa.id[0]), 0);
    CHECK_EQ(released(pa, sa.id[1]), 0);
    sn_manager_partition_release(a, &all);
    CHECK_EQ(released(pa, sa.id[0]), 1);
    CHECK_EQ(released(pa, sa.id[1]), 1);
    done(a, ma);
}

SN_TEST(import_nothing_releases_local_incidents)
{
    struct sn_metrics *ma;
    char pa[256], err[256];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct seen sa;
    char id[SN_UUID_LEN + 1];
    int docs;

    sink(a, "10.0.0.7", 3, 0);
    sink(a, "10.0.0.7", 3, 1);
    sn_manager_flush(a);
    sa = outbox(pa);
    strcpy(id, sa.id[0]);
    docs = sa.docs; /* 1 or 2: the manager may batch the two signals */
    CHECK_EQ(sn_manager_partition_import(a, &P3, NULL, 0, err, sizeof(err)),
             SN_OK);
    CHECK_EQ(released(pa, id), 1);
    sa = outbox(pa);
    CHECK_STR(sa.status[0], "open"); /* released, not resolved */
    CHECK_EQ(sa.docs, docs);         /* and no version for it */
    /* Operators act on it where its partition went. */
    {
        struct sn_incidents *api;
        struct sn_incident_change ch = { SN_ACT_RESOLVE, "alice", "done",
                                         NULL,           NULL,    true };
        struct sn_error e;

        CHECK_EQ(sn_incidents_open(pa, false, &api, &e), SN_OK);
        CHECK_EQ(sn_incidents_change(api, id, &ch, NULL, &e), SN_EINVAL);
        CHECK(strstr(e.msg, "went with partition auth[3] of input 'kafka'") !=
              NULL);
        sn_incidents_close(api);
    }
    sink(a, "10.0.0.7", 3, 2);
    sn_manager_flush(a);
    sa = outbox(pa);
    CHECK_EQ(sa.n, 2);
    CHECK_EQ(sa.hits[0], 2);
    CHECK_EQ(sa.hits[1], 1);
    done(a, ma);
}

SN_TEST(a_bad_checkpoint_changes_nothing)
{
    struct sn_metrics *ma;
    char pa[256], err[256] = "";
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct seen sa;
    static const char bad[] = "{\"format\":1,\"incidents\":[{\"id\":\"x\"}]}";

    sink(a, "10.0.0.7", 3, 0);
    sn_manager_flush(a);
    CHECK_EQ(
        sn_manager_partition_import(a, &P3, "garbage", 7, err, sizeof(err)),
        SN_EINVAL);
    CHECK(strstr(err, "auth[3]") != NULL);
    CHECK(strstr(err, "not a sentineld incident export") != NULL);
    CHECK_EQ(sn_manager_partition_import(a, &P3, bad, sizeof(bad) - 1, err,
                                         sizeof(err)),
             SN_EINVAL);
    CHECK(strstr(err, "incident 1 of the checkpoint") != NULL);
    sa = outbox(pa);
    CHECK_EQ(released(pa, sa.id[0]), 0);
    CHECK_EQ(
        sn_metrics_value(ma, "sentineld_incident_partition_errors_total", NULL),
        2);
    done(a, ma);
}

/* --- the relay delivers imported versions --------------------------------- */

static pthread_mutex_t dl = PTHREAD_MUTEX_INITIALIZER;
static char delivered_id[SN_UUID_LEN + 1];
static int64_t delivered_version;

static enum sn_out_result
deliver(void *state, const struct sn_doc *docs, size_t n, uint64_t token,
        char *why, size_t why_len)
{
    (void)state;
    (void)token;
    (void)why;
    (void)why_len;
    pthread_mutex_lock(&dl);
    for (size_t i = 0; i < n; i++) {
        snprintf(delivered_id, sizeof(delivered_id), "%.*s",
                 (int)docs[i].id.len, docs[i].id.ptr);
        delivered_version = docs[i].version;
    }
    pthread_mutex_unlock(&dl);
    return SN_OUT_OK;
}

SN_TEST(the_relay_delivers_imported_versions)
{
    struct sn_metrics *ma, *mb;
    char pa[256], pb[256], err[256];
    struct sn_manager *a = manager(strcpy(pa, fresh()), &ma);
    struct sn_manager *b = manager(strcpy(pb, fresh()), &mb);
    struct sn_outport out;
    struct sn_error e;
    struct sn_buf blob;
    struct seen sa;
    bool got = false;

    sn_buf_init(&blob, 1 << 20);
    for (long off = 0; off < 5; off++)
        sink(a, "10.0.0.5", 3, off);
    CHECK_EQ(sn_manager_partition_export(a, &P3, &blob), SN_OK);
    sa = outbox(pa);
    memset(&out, 0, sizeof(out));
    out.name = "t";
    out.deliver = deliver;
    /* The output's cursor starts at the end of B's (empty) outbox. */
    CHECK_EQ(sn_relay_start(&out, b, mb, &e), SN_OK);
    CHECK_EQ(sn_manager_partition_import(b, &P3, blob.data, blob.len, err,
                                         sizeof(err)),
             SN_OK);
    for (int i = 0; i < 500 && !got; i++) {
        pthread_mutex_lock(&dl);
        got = delivered_version == 5 && strcmp(delivered_id, sa.id[0]) == 0;
        pthread_mutex_unlock(&dl);
        if (!got)
            usleep(10000);
    }
    CHECK(got);
    sn_relay_stop(&out, 2000);
    sn_relay_free(&out);
    sn_buf_fini(&blob);
    done(a, ma);
    done(b, mb);
}

SN_TEST_MAIN(SN_T(uuid5_layout), SN_T(source_opens_the_same_id_on_two_stores),
             SN_T(versions_do_not_depend_on_batching),
             SN_T(versions_do_not_depend_on_how_updates_split),
             SN_T(reading_records_again_reopens_the_same_incident),
             SN_T(released_incidents_go_after_retention),
             SN_T(export_import_release_moves_the_incident),
             SN_T(import_of_an_older_checkpoint_never_reuses_a_version),
             SN_T(release_of_a_whole_topic),
             SN_T(import_nothing_releases_local_incidents),
             SN_T(a_bad_checkpoint_changes_nothing),
             SN_T(the_relay_delivers_imported_versions))
