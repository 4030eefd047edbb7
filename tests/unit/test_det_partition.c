/*
 * det_rules partition state through the plugin's own entry points (init,
 * start, detect, partition_checkpoint/restore/release, stop), linked in
 * with a fake host whose batches are arrays of records: two instances
 * with different shard counts hand one partition's windows over, the
 * signal names its record ("source"), a restore replaces what the new
 * owner kept of the partition, NULL drops, a bad blob changes nothing,
 * and the local <state_dir>.corr keeps the origins across a restart.
 * Also: the evidence summaries det_rules shares between the rules one
 * line matches are the ones rendered for each rule alone, and annotate's
 * one set per field name leaves what one set per match field left.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sentineld/plugin.h>

#include "core/buf.h"
#include "det_rules.h"
#include "rules/correlate.h"
#include "sn_test.h"

extern const struct sn_plugin sn_plugin_det_rules;

/* ---- the fake host ---------------------------------------------------------
 */

struct sn_event {
    struct sn_record rec;
    const char *host, *app, *msg;
    /* What annotate sets, in the order the daemon's events keep. */
    struct {
        struct sn_str key;
        struct sn_value v;
    } fields[16];
    size_t n_fields;
    char mem[256];
    size_t mem_used;
};

struct sn_batch {
    struct sn_event ev[64];
    size_t n;
};

struct sn_counter {
    uint64_t v;
};

/* One per plugin instance: its name, state path, workers and signals. */
struct sn_instance {
    const char *name;
    char state[256];
    unsigned workers;
    struct sn_counter counters[64];
    size_t n_counters;
    char *sigs[32];
    size_t n_sigs;
};

static void h_log(struct sn_instance *inst, enum sn_log_level level,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
h_log(struct sn_instance *inst, enum sn_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < SN_LOG_INFO)
        return;
    va_start(ap, fmt);
    printf("# %s: ", inst->name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static struct sn_counter *
h_counter(struct sn_instance *inst, const char *name, const char *help)
{
    (void)name;
    (void)help;
    if (inst->n_counters == 64)
        return &inst->counters[63];
    return &inst->counters[inst->n_counters++];
}

static void
h_counter_add(struct sn_counter *c, uint64_t n)
{
    c->v += n;
}

static unsigned
h_n_workers(struct sn_instance *inst)
{
    return inst->workers;
}

static const char *
h_state_dir(struct sn_instance *inst)
{
    return inst->state;
}

static struct sn_str
h_event_get(const struct sn_event *ev, enum sn_field f)
{
    const char *s = f == SN_F_HOSTNAME  ? ev->host
                    : f == SN_F_APPNAME ? ev->app
                    : f == SN_F_MSG     ? ev->msg
                                        : NULL;
    return (struct sn_str){ s, s ? strlen(s) : 0 };
}

static int
h_event_pri(const struct sn_event *ev)
{
    (void)ev;
    return 38;
}

static bool
h_event_time(const struct sn_event *ev, int64_t *ns)
{
    (void)ev;
    (void)ns;
    return false; /* arrival time counts */
}

static const struct sn_record *
h_event_record(const struct sn_event *ev)
{
    return &ev->rec;
}

static bool
h_event_field(const struct sn_event *ev, struct sn_str key,
              struct sn_value *out)
{
    (void)ev;
    (void)key;
    (void)out;
    return false;
}

static void *
h_event_alloc(struct sn_event *ev, size_t len)
{
    void *p;

    if (len > sizeof(ev->mem) - ev->mem_used)
        return NULL;
    p = ev->mem + ev->mem_used;
    ev->mem_used += len;
    return p;
}

/* As src/event/event.c: an existing key keeps its place. */
static enum sn_status
h_event_set_field(struct sn_event *ev, struct sn_str key,
                  const struct sn_value *v)
{
    for (size_t i = 0; i < ev->n_fields; i++)
        if (ev->fields[i].key.len == key.len &&
            memcmp(ev->fields[i].key.ptr, key.ptr, key.len) == 0) {
            ev->fields[i].v = *v;
            return SN_OK;
        }
    if (ev->n_fields == 16)
        return SN_ELIMIT;
    ev->fields[ev->n_fields].key = key;
    ev->fields[ev->n_fields].v = *v;
    ev->n_fields++;
    return SN_OK;
}

static size_t
h_batch_len(const struct sn_batch *b)
{
    return b->n;
}

static struct sn_event *
h_batch_event(const struct sn_batch *b, size_t i)
{
    return (struct sn_event *)&b->ev[i];
}

/* Signals by instance: the detector's inst is what it was given. */
static enum sn_status
h_signal_emit(struct sn_instance *inst, const char *json, size_t len)
{
    if (inst->n_sigs < 32)
        inst->sigs[inst->n_sigs++] = strndup(json, len);
    return SN_OK;
}

static struct sn_host host;

static void
host_init(void)
{
    host.abi = SN_PLUGIN_ABI;
    host.struct_size = sizeof(host);
    host.log = h_log;
    host.counter = h_counter;
    host.counter_add = h_counter_add;
    host.n_workers = h_n_workers;
    host.state_dir = h_state_dir;
    host.event_get = h_event_get;
    host.event_pri = h_event_pri;
    host.event_time = h_event_time;
    host.event_record = h_event_record;
    host.event_field = h_event_field;
    host.event_alloc = h_event_alloc;
    host.event_set_field = h_event_set_field;
    host.batch_len = h_batch_len;
    host.batch_event = h_batch_event;
    host.signal_emit = h_signal_emit;
    /* det_rules writes the blob into the host's buffer through it. */
    host.buf_append = sn_buf_append;
}

/* ---- fixture ------------------------------------------------------------- */

static char rules_path[256], dir[128];
static const char *rule_files[1] = { rules_path };

static const char rules_yaml[] = "rules:\n"
                                 "- id: brute\n"
                                 "  title: brute force\n"
                                 "  severity: medium\n"
                                 "  match: appname == \"sshd\"\n"
                                 "  group_by: [hostname]\n"
                                 "  window: 10m\n"
                                 "  threshold: {count: 10}\n";

struct det {
    struct sn_instance inst;
    struct dr_conf conf;
    void *state;
};

static bool
det_open(struct det *d, const char *name, unsigned workers)
{
    char err[512] = "";

    memset(d, 0, sizeof(*d));
    d->inst.name = name;
    d->inst.workers = workers;
    snprintf(d->inst.state, sizeof(d->inst.state), "%s/%s", dir, name);
    d->conf.rules.n = 1;
    d->conf.rules.items = rule_files;
    d->conf.annotate = false;
    d->conf.match_signals = 5; /* none */
    d->conf.max_keys = 100000;
    d->conf.max_events = 256;
    d->conf.evidence = 3;
    d->conf.tick_ms = 60000; /* the ticker stays out of the way */
    if (sn_plugin_det_rules.init(&host, &d->inst, &d->conf, &d->state, err,
                                 sizeof(err)) != SN_OK ||
        sn_plugin_det_rules.start(d->state, err, sizeof(err)) != SN_OK) {
        printf("# %s: %s\n", name, err);
        return false;
    }
    return true;
}

static void
det_close(struct det *d)
{
    sn_plugin_det_rules.stop(d->state);
    sn_plugin_det_rules.destroy(d->state);
    for (size_t i = 0; i < d->inst.n_sigs; i++)
        free(d->inst.sigs[i]);
}

static int64_t now_ns = 1700000000LL * 1000000000;

static struct det *cur_det;
static struct sn_batch *cur_batch;

static void *
detect_main(void *arg)
{
    (void)arg;
    sn_plugin_det_rules.detect(cur_det->state, cur_batch);
    return NULL;
}

static const char *event_msg = "Failed password";

static struct sn_batch batch;

/* n sshd events of host from topic[part], offsets from off. */
static void
detect(struct det *d, const char *topic, int part, int64_t off, int n,
       const char *hostname)
{
    struct sn_batch *bp = &batch;
    pthread_t th;

    memset(bp, 0, sizeof(*bp));
    for (int i = 0; i < n; i++) {
        struct sn_event *e = &bp->ev[bp->n++];
        e->rec.input = "kin";
        e->rec.peer = topic;
        e->rec.transport = "kafka";
        e->rec.source_part = part;
        e->rec.source_offset = off + i;
        e->rec.recv_ns = now_ns += 1000000; /* both see one clock */
        e->host = hostname;
        e->app = "sshd";
        e->msg = event_msg;
    }
    /* On a thread of its own, as a worker: det_rules frees its per-thread
     * scratch when the thread exits. */
    cur_det = d;
    cur_batch = bp;
    if (pthread_create(&th, NULL, detect_main, NULL) == 0)
        pthread_join(th, NULL);
}

static enum sn_status
checkpoint(struct det *d, const char *topic, int part, struct sn_buf *out)
{
    struct sn_partition p = { "kin", topic, part };

    return sn_plugin_det_rules.partition_checkpoint(d->state, &p, out);
}

static enum sn_status
restore(struct det *d, const char *topic, int part, const struct sn_buf *b,
        char *err, size_t err_len)
{
    struct sn_partition p = { "kin", topic, part };

    return sn_plugin_det_rules.partition_restore(
        d->state, &p, b ? b->data : NULL, b ? b->len : 0, err, err_len);
}

static void
release(struct det *d, const char *topic, int part)
{
    struct sn_partition p = { "kin", topic, part };

    sn_plugin_det_rules.partition_release(d->state, &p);
}

static bool
setup_rules(const char *yaml)
{
    FILE *f;

    host_init();
    snprintf(dir, sizeof(dir), "/tmp/sn_det_partition.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return false;
    snprintf(rules_path, sizeof(rules_path), "%s/rules.yaml", dir);
    f = fopen(rules_path, "w");
    if (f == NULL)
        return false;
    fputs(yaml, f);
    return fclose(f) == 0;
}

static bool
setup(void)
{
    return setup_rules(rules_yaml);
}

static void
teardown(void)
{
    char p[300];

    snprintf(p, sizeof(p), "%s/a.corr", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/b.corr", dir);
    unlink(p);
    unlink(rules_path);
    rmdir(dir);
}

/* ---- tests ------------------------------------------------------------------
 */

/* A partition let go (a lost assignment: no checkpoint) and taken again
 * without a row is read again from an earlier offset. The newest time
 * read from it before must not make those records late: 10 failures of
 * web1 ten minutes older than the partition's last record still fire.
 * Before, the lateness watermark of t[3] outlived the release and all 10
 * were dropped as late (scale_hop.sh: the instance given back repartition
 * partition 0 dropped the first 7 rounds, and its window restarted at
 * round 7 as a second incident). */
SN_TEST(lateness_starts_over_when_a_partition_comes_back)
{
    struct det a;
    char err[512] = "";
    int64_t t0 = now_ns;

    CHECK(setup());
    CHECK(det_open(&a, "a", 2));
    now_ns = t0 + 600 * (int64_t)1000000000;
    detect(&a, "t", 3, 500, 3, "web1");
    release(&a, "t", 3);
    CHECK_EQ(restore(&a, "t", 3, NULL, err, sizeof(err)), SN_OK);
    now_ns = t0;
    detect(&a, "t", 3, 0, 10, "web1");
    CHECK_EQ(a.inst.n_sigs, 1);
    CHECK(a.inst.n_sigs == 1 && strstr(a.inst.sigs[0], "\"count\":10") != NULL);
    now_ns = t0 + 601 * (int64_t)1000000000;
    det_close(&a);
    teardown();
}

SN_TEST(partition_moves_between_instances)
{
    struct det a, b;
    struct sn_buf blob, bad;
    char err[512] = "";

    CHECK(setup());
    CHECK(det_open(&a, "a", 2));
    CHECK(det_open(&b, "b", 3)); /* another shard count */
    detect(&a, "t", 3, 0, 7, "web1");
    detect(&a, "t", 4, 0, 2, "web2");
    /* B held t[3] once: a stale window of web1 and a key of web3. */
    detect(&b, "t", 3, 100, 5, "web1");
    detect(&b, "t", 3, 105, 1, "web3");
    sn_buf_init(&blob, 64 << 20);
    CHECK_EQ(checkpoint(&a, "t", 3, &blob), SN_OK);
    release(&a, "t", 3);
    /* A bad blob: refused with the reason, B's state untouched. */
    sn_buf_init(&bad, 1024);
    sn_buf_append(&bad, "SNDRCKP1\x01\0\0\0\x40\0\0\0\0\0\0\0SNCORR\0\0", 24);
    CHECK_EQ(restore(&b, "t", 3, &bad, err, sizeof(err)), SN_EINVAL);
    CHECK(strstr(err, "partition t[3]") != NULL &&
          strstr(err, "truncated") != NULL);
    printf("# %s\n", err);
    CHECK_EQ(restore(&b, "t", 3, &blob, err, sizeof(err)), SN_OK);
    /* 7 on A + 3 on B: one signal, count 10, naming B's last record. */
    detect(&b, "t", 3, 7, 2, "web1");
    CHECK_EQ(b.inst.n_sigs, 0);
    detect(&b, "t", 3, 9, 1, "web1");
    CHECK_EQ(b.inst.n_sigs, 1);
    CHECK(b.inst.n_sigs == 1 &&
          strstr(b.inst.sigs[0], "\"count\":10,\"threshold\":10") != NULL);
    CHECK(b.inst.n_sigs == 1 &&
          strstr(b.inst.sigs[0],
                 "\"source\":{\"input\":\"kin\",\"topic\":\"t\","
                 "\"partition\":3,\"offset\":9}") != NULL);
    /* web3 was B's own stale key of t[3]: dropped by the restore. */
    detect(&b, "t", 3, 200, 9, "web3");
    CHECK_EQ(b.inst.n_sigs, 1);
    /* A released t[3]: web1 starts over there; t[4] stayed. */
    detect(&a, "t", 3, 10, 9, "web1");
    CHECK_EQ(a.inst.n_sigs, 0);
    detect(&a, "t", 4, 2, 8, "web2");
    CHECK_EQ(a.inst.n_sigs, 1);
    /* Restore with no blob only drops: web1 starts over on B. */
    CHECK_EQ(restore(&b, "t", 3, NULL, err, sizeof(err)), SN_OK);
    detect(&b, "t", 3, 10, 9, "web1");
    CHECK_EQ(b.inst.n_sigs, 1);
    sn_buf_fini(&blob);
    sn_buf_fini(&bad);
    det_close(&a);
    det_close(&b);
    teardown();
}

/* The local checkpoint at stop keeps which partition each key is from:
 * after a restart, the partition's keys are found and moved again. */
SN_TEST(origins_survive_restart)
{
    struct det a, b;
    struct sn_buf blob;
    char err[512] = "";

    CHECK(setup());
    CHECK(det_open(&a, "a", 2));
    detect(&a, "t", 1, 0, 6, "db1");
    detect(&a, "u", 1, 0, 6, "db2"); /* same number, other topic */
    det_close(&a);
    CHECK(det_open(&a, "a", 4)); /* restarted with more workers */
    CHECK(det_open(&b, "b", 1));
    sn_buf_init(&blob, 64 << 20);
    CHECK_EQ(checkpoint(&a, "t", 1, &blob), SN_OK);
    release(&a, "t", 1);
    CHECK_EQ(restore(&b, "t", 1, &blob, err, sizeof(err)), SN_OK);
    detect(&b, "t", 1, 6, 4, "db1");
    CHECK_EQ(b.inst.n_sigs, 1);
    detect(&a, "t", 1, 6, 4, "db1");
    CHECK_EQ(a.inst.n_sigs, 0); /* released */
    detect(&a, "u", 1, 6, 4, "db2");
    CHECK_EQ(a.inst.n_sigs, 1); /* u[1] stayed, across the restart */
    sn_buf_fini(&blob);
    det_close(&a);
    det_close(&b);
    teardown();
}

/* One line matching five rules: two extract the same fields (one
 * summary rendered, shared), one the same field with another value, one
 * none and one another field (the summary head shared, the fields
 * rendered). Every rule's evidence
 * must be the summary of that rule's match alone. */
static const char evidence_yaml[] =
    "rules:\n"
    "- {id: same-a, title: t, severity: medium, match: appname == \"sshd\",\n"
    "   group_by: [hostname], window: 10m, threshold: {count: 2},\n"
    "   extract: [{regex: '^Failed \\S+ for (?<u>\\S+)', "
    "fields: {u: user.name}}]}\n"
    "- {id: same-b, title: t, severity: medium, match: appname == \"sshd\",\n"
    "   group_by: [hostname], window: 10m, threshold: {count: 2},\n"
    "   extract: [{regex: '^Failed \\S+ for (?<u>\\S+)', "
    "fields: {u: user.name}}]}\n"
    "- {id: other, title: t, severity: medium, match: appname == \"sshd\",\n"
    "   group_by: [hostname], window: 10m, threshold: {count: 2},\n"
    "   extract: [{regex: 'from (?<u>\\S+)', fields: {u: user.name}}]}\n"
    "- {id: none, title: t, severity: medium, match: appname == \"sshd\",\n"
    "   group_by: [hostname], window: 10m, threshold: {count: 2}}\n"
    "- {id: port, title: t, severity: medium, match: appname == \"sshd\",\n"
    "   group_by: [hostname], window: 10m, threshold: {count: 2},\n"
    "   extract: [{regex: 'port (?<p>\\d+)', fields: {p: source.port:int}}]}\n";

static bool
has_summary(const struct det *d, const char *rule, const char *hostname,
            const char *msg, const struct sn_rule_field_value *f, size_t n)
{
    struct sn_buf want;
    char id[64];
    bool found = false;

    sn_buf_init(&want, 4096);
    SN_BUF_LIT(&want, "\"summary\":");
    sn_corr_summary_json(&want, (struct sn_str){ hostname, strlen(hostname) },
                         (struct sn_str){ "sshd", 4 },
                         (struct sn_str){ msg, strlen(msg) }, NULL, f, n);
    snprintf(id, sizeof(id), "\"rule\":\"%s\"", rule);
    for (size_t i = 0; i < d->inst.n_sigs; i++)
        if (strstr(d->inst.sigs[i], id) != NULL &&
            strstr(d->inst.sigs[i], sn_buf_cstr(&want)) != NULL)
            found = true;
    if (!found)
        printf("# %s: no evidence %s\n", rule, sn_buf_cstr(&want));
    sn_buf_fini(&want);
    return found;
}

SN_TEST(shared_summaries_as_alone)
{
    static const char msg[] = "Failed password for root from 10.0.0.1 port 22";
    struct sn_rule_field_value user = { "user.name", 9, { 0 } };
    struct sn_rule_field_value port = { "source.port", 11, { 0 } };
    struct sn_rule_field_value from = { "user.name", 9, { 0 } };
    struct det a;

    user.v.type = SN_VAL_STR;
    user.v.u.s.ptr = "root";
    user.v.u.s.len = 4;
    from.v.type = SN_VAL_STR;
    from.v.u.s.ptr = "10.0.0.1";
    from.v.u.s.len = 8;
    port.v.type = SN_VAL_INT;
    port.v.u.i = 22;
    CHECK(setup_rules(evidence_yaml));
    CHECK(det_open(&a, "a", 1));
    event_msg = msg;
    detect(&a, "t", 0, 0, 2, "web1");
    detect(&a, "t", 0, 2, 2, "db2");
    event_msg = "Failed password";
    CHECK_EQ(a.inst.n_sigs, 10);
    for (int h = 0; h < 2; h++) {
        const char *hn = h ? "db2" : "web1";
        CHECK(has_summary(&a, "same-a", hn, msg, &user, 1));
        CHECK(has_summary(&a, "same-b", hn, msg, &user, 1));
        CHECK(has_summary(&a, "other", hn, msg, &from, 1));
        CHECK(has_summary(&a, "none", hn, msg, NULL, 0));
        CHECK(has_summary(&a, "port", hn, msg, &port, 1));
    }
    det_close(&a);
    teardown();
}

/* Three rules setting overlapping fields in different orders, the
 * event already holding one of them: annotate's one set per name must
 * leave what one set per match field left (matches set from the last to
 * the first: the first rule's value wins, a field's place is where it was
 * first set). Expected, by that rule: f.b first (it was there), then
 * f.a and f.c (the last rule sets them first), with f.a = 1 and f.b = 2
 * (first rule), f.c = 2 (second rule). */
static const char annotate_yaml[] =
    "rules:\n"
    "- {id: r1, title: t, severity: low, match: msg contains \"a=\",\n"
    "   extract: [{regex: 'a=(?<p>\\d) b=(?<q>\\d)', "
    "fields: {p: f.a, q: f.b}}]}\n"
    "- {id: r2, title: t, severity: low, match: msg contains \"a=\",\n"
    "   extract: [{regex: 'b=(?<p>\\d) c=(?<q>\\d)', "
    "fields: {q: f.b, p: f.c}}]}\n"
    "- {id: r3, title: t, severity: low, match: msg contains \"a=\",\n"
    "   extract: [{regex: 'a=(?<p>\\d) b=\\d c=(?<q>\\d)', "
    "fields: {q: f.a, p: f.c}}]}\n";

static struct sn_str
field_text(const struct sn_event *e, size_t i)
{
    return e->fields[i].v.type == SN_VAL_STR ? e->fields[i].v.u.s
                                              : (struct sn_str){ "?", 1 };
}

SN_TEST(annotate_sets_as_each_match)
{
    static const char *const want[][2] = {
        { "f.b", "2" },
        { "rule.id", "r1 r2 r3" },
        { "rule.severity", "low" },
        { "f.a", "1" },
        { "f.c", "2" },
    };
    struct det a;
    struct sn_event *e = &batch.ev[0];
    pthread_t th;

    CHECK(setup_rules(annotate_yaml));
    CHECK(det_open(&a, "a", 1));
    a.conf.annotate = true;
    memset(&batch, 0, sizeof(batch));
    batch.n = 1;
    e->rec.input = "kin";
    e->rec.source_part = -1;
    e->host = "web1";
    e->app = "x";
    e->msg = "a=1 b=2 c=3";
    e->fields[0].key = (struct sn_str){ "f.b", 3 };
    e->fields[0].v.type = SN_VAL_STR;
    e->fields[0].v.u.s = (struct sn_str){ "old", 3 };
    e->n_fields = 1;
    cur_det = &a;
    cur_batch = &batch;
    if (pthread_create(&th, NULL, detect_main, NULL) == 0)
        pthread_join(th, NULL);
    CHECK_EQ(e->n_fields, 5);
    for (size_t i = 0; i < e->n_fields && i < 5; i++) {
        struct sn_str v = field_text(e, i);
        if (e->fields[i].key.len != strlen(want[i][0]) ||
            memcmp(e->fields[i].key.ptr, want[i][0], e->fields[i].key.len) ||
            v.len != strlen(want[i][1]) || memcmp(v.ptr, want[i][1], v.len))
            printf("# field %zu: %.*s = %.*s\n", i,
                   (int)e->fields[i].key.len, e->fields[i].key.ptr,
                   (int)v.len, v.ptr);
        CHECK(e->fields[i].key.len == strlen(want[i][0]) &&
              memcmp(e->fields[i].key.ptr, want[i][0],
                     e->fields[i].key.len) == 0);
        CHECK(v.len == strlen(want[i][1]) &&
              memcmp(v.ptr, want[i][1], v.len) == 0);
    }
    det_close(&a);
    teardown();
}

SN_TEST_MAIN(SN_T(partition_moves_between_instances),
             SN_T(lateness_starts_over_when_a_partition_comes_back),
             SN_T(origins_survive_restart), SN_T(shared_summaries_as_alone),
             SN_T(annotate_sets_as_each_match))
