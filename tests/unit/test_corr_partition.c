/*
 * Correlation keys that move with their source partition: origins on
 * keys, dropping by a filter, one partition's keys checkpointed on one
 * engine and restored into another (the same firing as never moving),
 * restore replacing rather than doubling, restore merging into a key
 * counted from another partition (and firing), release, origins across the
 * full checkpoint (names, not ids), format 1 checkpoints, and the LRU
 * order after a restore.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "core/buf.h"
#include "rules/correlate.h"
#include "rules/correlate_int.h" /* the LRU sort, directly */
#include "rules/load.h"
#include "sn_test.h"

#define S  1000000000LL
#define T0 (1700000000LL * S)

/* ---- harness ------------------------------------------------------------ */

struct fx {
    struct sn_ruleset *rs;
    struct sn_corr_set *set;
    struct sn_corr_sources *src; /* owned unless shared */
    bool own_src;
    struct sn_corr *c;
    size_t n_sigs, n_firing, n_resolved;
    struct sn_signal last;
    char *json[64];
    struct sn_diags d;
};

static void
on_signal(void *arg, const struct sn_signal *sig)
{
    struct fx *f = arg;
    struct sn_buf b;

    sn_buf_init(&b, 1 << 20);
    if (sn_signal_json(sig, &b) == SN_OK && f->n_sigs < 64)
        f->json[f->n_sigs] = strdup(sn_buf_cstr(&b));
    sn_buf_fini(&b);
    f->n_sigs++;
    f->n_firing += sig->state == SN_SIGNAL_FIRING;
    f->n_resolved += sig->state == SN_SIGNAL_RESOLVED;
    f->last = *sig;
}

/* src NULL: the fixture has its own sources table. */
static bool
fx_open(struct fx *f, const char *yaml, struct sn_corr_sources *src)
{
    struct sn_rules_src *rsrc = sn_rules_src_new();
    struct sn_corr_config cfg = { 0 };

    memset(f, 0, sizeof(*f));
    sn_diags_init(&f->d);
    f->own_src = src == NULL;
    f->src = src ? src : sn_corr_sources_new();
    cfg.emit = on_signal;
    cfg.emit_arg = f;
    cfg.sources = f->src;
    if (sn_rules_src_add_mem(rsrc, "t.yaml", yaml, strlen(yaml), &f->d) !=
            SN_OK ||
        sn_ruleset_build(rsrc, &f->rs, &f->d) != SN_OK ||
        sn_corr_set_build(f->rs, &f->set, &f->d) != SN_OK) {
        sn_diags_print(&f->d, stdout);
        sn_rules_src_free(rsrc);
        return false;
    }
    sn_rules_src_free(rsrc);
    f->c = sn_corr_new(f->set, &cfg);
    return f->c != NULL;
}

static void
fx_close(struct fx *f)
{
    sn_corr_free(f->c);
    sn_corr_set_free(f->set);
    sn_ruleset_free(f->rs);
    if (f->own_src)
        sn_corr_sources_free(f->src);
    sn_diags_fini(&f->d);
    for (size_t i = 0; i < f->n_sigs && i < 64; i++)
        free(f->json[i]);
}

/* One match of rule "brute" for source.ip ip, from partition part of
 * (input "kin", topic) (part -1: a record from no partition). */
static void
feed(struct fx *f, const char *topic, int part, int64_t t, const char *ip)
{
    struct sn_rule_field_value fv[1];
    struct sn_corr_input in;

    memset(fv, 0, sizeof(fv));
    memset(&in, 0, sizeof(in));
    fv[0].name = "source.ip";
    fv[0].name_len = 9;
    fv[0].v.type = SN_VAL_STR;
    fv[0].v.u.s.ptr = ip;
    fv[0].v.u.s.len = strlen(ip);
    in.rule = sn_ruleset_find(f->rs, "brute");
    in.fields = fv;
    in.n_fields = 1;
    in.time_ns = t;
    in.arrival_ns = t;
    in.summary = "{\"msg\":\"x\"}";
    in.summary_len = strlen(in.summary);
    in.summary_is_json = true;
    in.has_origin = true;
    in.origin = SN_CORR_ORIGIN_NONE;
    if (part >= 0) {
        in.origin.src = sn_corr_source_id(f->src, "kin", topic);
        in.origin.part = part;
    }
    sn_corr_feed(f->c, &in);
}

static uint64_t
n_keys(struct fx *f)
{
    struct sn_corr_rule_stats st;

    sn_corr_rule_stats(f->c, sn_corr_set_find(f->set, "brute")->index, &st);
    return st.keys;
}

/* The keys of one partition, by (input, topic) names and number. */
struct want_p {
    struct sn_corr_sources *src;
    const char *topic;
    int part;
};

static bool
want_p(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
       const struct sn_corr_origin *o)
{
    const struct want_p *w = arg;
    uint32_t id = sn_corr_source_find(w->src, "kin", w->topic);

    (void)spec;
    (void)hash;
    return id != 0 && o->src == id && o->part == w->part;
}

static struct sn_corr_origin
origin(struct fx *f, const char *topic, int part)
{
    struct sn_corr_origin o = { sn_corr_source_id(f->src, "kin", topic), part };
    return o;
}

static bool
contains(const struct sn_buf *b, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0)
            return true;
    return false;
}

#define RULES(extra)                                                           \
    "rules:\n- id: brute\n  title: t\n  severity: medium\n"                    \
    "  match: msg contains \"x\"\n  group_by: [source.ip]\n" extra

static const char *th10 = RULES("  window: 2m\n  threshold: {count: 10}\n");

/* ---- tests ----------------------------------------------------------------
 */

SN_TEST(sources_table)
{
    struct sn_corr_sources *s = sn_corr_sources_new();
    const char *in, *top;
    uint32_t a, b;

    CHECK(s != NULL);
    CHECK_EQ(sn_corr_source_find(s, "kin", "t"), 0);
    a = sn_corr_source_id(s, "kin", "t");
    b = sn_corr_source_id(s, "kin", "u");
    CHECK(a != 0 && b != 0 && a != b);
    CHECK_EQ(sn_corr_source_id(s, "kin", "t"), a);
    CHECK_EQ(sn_corr_source_find(s, "kin", "u"), b);
    CHECK_EQ(sn_corr_source_find(s, "other", "u"), 0);
    /* A NULL topic is the empty one. */
    CHECK_EQ(sn_corr_source_id(s, "kin", NULL),
             sn_corr_source_id(s, "kin", ""));
    CHECK(sn_corr_source_names(s, b, &in, &top));
    CHECK_STR(in, "kin");
    CHECK_STR(top, "u");
    CHECK(!sn_corr_source_names(s, 0, &in, &top));
    CHECK(!sn_corr_source_names(s, 99, &in, &top));
    CHECK_EQ(sn_corr_source_id(s, NULL, "t"), 0);
    /* Bounded: a full table says 0 and keeps what it has. */
    for (int i = 0; i < SN_CORR_SOURCES_MAX + 5; i++) {
        char t[32];
        snprintf(t, sizeof(t), "topic-%d", i);
        sn_corr_source_id(s, "kin", t);
    }
    CHECK_EQ(sn_corr_source_id(s, "kin", "one-too-many"), 0);
    CHECK_EQ(sn_corr_source_find(s, "kin", "t"), a);
    sn_corr_sources_free(s);
}

SN_TEST(drop_by_filter)
{
    struct fx f;
    struct want_p p0 = { NULL, "t", 0 };
    size_t n;

    CHECK(fx_open(&f, th10, NULL));
    p0.src = f.src;
    feed(&f, "t", 0, T0, "192.0.2.1");
    feed(&f, "t", 0, T0 + S, "192.0.2.2");
    feed(&f, "t", 1, T0 + 2 * S, "192.0.2.3");
    feed(&f, "u", 0, T0 + 3 * S, "192.0.2.4"); /* same number, other topic */
    feed(&f, NULL, -1, T0 + 4 * S, "192.0.2.5");
    CHECK_EQ(n_keys(&f), 5);
    n = sn_corr_drop(f.c, want_p, &p0);
    CHECK_EQ(n, 2);
    CHECK_EQ(n_keys(&f), 3);
    CHECK_EQ(sn_corr_drop(f.c, want_p, &p0), 0);
    /* A key follows the last record that fed it: .3 moves to t[0]. */
    feed(&f, "t", 0, T0 + 5 * S, "192.0.2.3");
    CHECK_EQ(sn_corr_drop(f.c, want_p, &p0), 1);
    CHECK_EQ(n_keys(&f), 2);
    /* Dropped keys start over: nine more events of .1 do not fire. */
    for (int i = 0; i < 9; i++)
        feed(&f, "t", 0, T0 + (10 + i) * S, "192.0.2.1");
    CHECK_EQ(f.n_sigs, 0);
    fx_close(&f);
}

/* 7 events on A, p moves to B, 3 more on B: one signal with count 10,
 * the same JSON as an engine that saw all 10. */
SN_TEST(move_fires_as_never_moved)
{
    struct fx a, b, ref;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 3 };
    struct sn_corr_origin tag;

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    CHECK(fx_open(&ref, th10, NULL));
    /* B's table has other pairs first: ids differ between the engines. */
    sn_corr_source_id(b.src, "kin", "other");
    sn_corr_source_id(b.src, "x", "y");
    for (int i = 0; i < 7; i++) {
        feed(&a, "t", 3, T0 + i * S, "203.0.113.7");
        feed(&ref, "t", 3, T0 + i * S, "203.0.113.7");
    }
    /* Another partition's key on A stays there. */
    feed(&a, "t", 4, T0 + 7 * S, "203.0.113.8");
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    CHECK_EQ(sn_corr_drop(a.c, want_p, &p), 1); /* released on A */
    CHECK_EQ(n_keys(&a), 1);
    tag = origin(&b, "t", 3);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(n_keys(&b), 1);
    for (int i = 7; i < 10; i++) {
        feed(&b, "t", 3, T0 + i * S, "203.0.113.7");
        feed(&ref, "t", 3, T0 + i * S, "203.0.113.7");
    }
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.last.count, 10);
    CHECK_EQ(b.last.first_ns, T0);
    CHECK_EQ(ref.n_firing, 1);
    CHECK(b.json[0] != NULL && ref.json[0] != NULL);
    CHECK_STR(b.json[0], ref.json[0]);
    /* On B the key is p's: moving it on finds it by B's own id. */
    p.src = b.src;
    CHECK_EQ(sn_corr_drop(b.c, want_p, &p), 1);
    /* Nothing fired on A. */
    CHECK_EQ(a.n_sigs, 0);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
    fx_close(&ref);
}

/* Restoring the same partition again replaces: no doubled counts. And
 * what the new owner kept of p from an earlier ownership is dropped
 * first (the caller's job: drop, then restore). */
SN_TEST(restore_replaces)
{
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 0 };
    struct sn_corr_origin tag;

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    for (int i = 0; i < 7; i++)
        feed(&a, "t", 0, T0 + i * S, "198.51.100.1");
    /* B saw p earlier: a stale window of .1 and a key .2 A no longer has. */
    for (int i = 0; i < 5; i++)
        feed(&b, "t", 0, T0 + i * S, "198.51.100.1");
    feed(&b, "t", 0, T0, "198.51.100.2");
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    tag = origin(&b, "t", 0);
    p.src = b.src;
    for (int round = 0; round < 2; round++) {
        sn_corr_drop(b.c, want_p, &p);
        CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
        CHECK_EQ(n_keys(&b), 1);
    }
    /* Replacing without a drop keeps counts too (same key identity). */
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(n_keys(&b), 1);
    feed(&b, "t", 0, T0 + 7 * S, "198.51.100.1");
    feed(&b, "t", 0, T0 + 8 * S, "198.51.100.1");
    CHECK_EQ(b.n_sigs, 0); /* 9: a doubled window would have fired */
    feed(&b, "t", 0, T0 + 9 * S, "198.51.100.1");
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.last.count, 10);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

SN_TEST(release_drops)
{
    struct fx f;
    struct want_p p = { NULL, "t", 2 };

    CHECK(fx_open(&f, th10, NULL));
    p.src = f.src;
    for (int i = 0; i < 9; i++)
        feed(&f, "t", 2, T0 + i * S, "192.0.2.9");
    CHECK_EQ(sn_corr_drop(f.c, want_p, &p), 1);
    CHECK_EQ(n_keys(&f), 0);
    feed(&f, "t", 2, T0 + 9 * S, "192.0.2.9");
    CHECK_EQ(f.n_sigs, 0);
    fx_close(&f);
}

/* A partition's checkpoint holds only the rules with its keys, and
 * restoring it leaves the engine's watermark and counters alone. */
SN_TEST(keys_only_checkpoint)
{
    static const char *two =
        RULES("  window: 2m\n  threshold: {count: 10}\n"
              "- id: quiet\n  title: q\n  severity: low\n  match: msg "
              "contains \"y\"\n  group_by: [host]\n  window: 1m\n"
              "  threshold: {count: 2}\n");
    struct fx a, b;
    struct sn_buf full, keys;
    struct want_p p = { NULL, "t", 0 };
    struct sn_corr_rule_stats st;
    struct sn_corr_origin tag;

    CHECK(fx_open(&a, two, NULL));
    CHECK(fx_open(&b, two, NULL));
    p.src = a.src;
    feed(&a, "t", 0, T0 + 100 * S, "192.0.2.1");
    feed(&b, "t", 1, T0, "192.0.2.2");
    sn_buf_init(&full, 1 << 20);
    sn_buf_init(&keys, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint(a.c, want_p, &p, &full), SN_OK);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &keys), SN_OK);
    CHECK(keys.len < full.len);
    CHECK(contains(&full, "quiet"));
    CHECK(!contains(&keys, "quiet"));
    tag = origin(&b, "t", 0);
    CHECK_EQ(sn_corr_restore_keys(b.c, keys.data, keys.len, &tag), SN_OK);
    CHECK_EQ(sn_corr_watermark(b.c), T0);
    sn_corr_rule_stats(b.c, sn_corr_set_find(b.set, "brute")->index, &st);
    CHECK_EQ(st.events, 1); /* B's own, not A's added or copied */
    CHECK_EQ(st.keys, 2);
    /* A keys-only checkpoint restores fully too, and vice versa. */
    CHECK_EQ(sn_corr_restore(b.c, keys.data, keys.len), SN_OK);
    CHECK_EQ(sn_corr_restore_keys(b.c, full.data, full.len, NULL), SN_OK);
    /* Nothing of p: an empty, valid checkpoint. */
    sn_buf_reset(&keys);
    p.part = 7;
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &keys), SN_OK);
    CHECK(keys.len < 32);
    CHECK_EQ(sn_corr_restore_keys(b.c, keys.data, keys.len, NULL), SN_OK);
    sn_buf_fini(&full);
    sn_buf_fini(&keys);
    fx_close(&a);
    fx_close(&b);
}

/* The full checkpoint (the local .corr file) keeps origins by name: a
 * new process with other ids finds the keys of a partition again. */
SN_TEST(origins_survive_checkpoint)
{
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 5 };

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    sn_corr_source_id(b.src, "kin", "zzz");
    feed(&a, "t", 5, T0, "192.0.2.1");
    feed(&a, "t", 5, T0, "192.0.2.2");
    feed(&a, "t", 6, T0, "192.0.2.3");
    feed(&a, NULL, -1, T0, "192.0.2.4");
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint(a.c, NULL, NULL, &buf), SN_OK);
    CHECK_EQ(sn_corr_restore(b.c, buf.data, buf.len), SN_OK);
    CHECK_EQ(n_keys(&b), 4);
    p.src = b.src;
    CHECK_EQ(sn_corr_drop(b.c, want_p, &p), 2);
    p.part = 6;
    CHECK_EQ(sn_corr_drop(b.c, want_p, &p), 1);
    CHECK_EQ(n_keys(&b), 1); /* the key of no partition */
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

/* A format 1 checkpoint (before origins; written by the previous
 * release: brute, 7 events of 192.0.2.7 from T0, evidence "e") is still
 * read: its keys have no origin. Newer formats are refused in words. */
static const unsigned char v1_ckpt[] = {
#include "corr_ckpt_v1.inc"
};

SN_TEST(format_1_and_newer)
{
    struct fx f;
    char why[200];
    unsigned char *v9;

    CHECK(fx_open(&f, th10, NULL));
    CHECK_EQ(sn_corr_restore(f.c, v1_ckpt, sizeof(v1_ckpt)), SN_OK);
    CHECK_EQ(n_keys(&f), 1);
    sn_corr_checkpoint_check(v1_ckpt, sizeof(v1_ckpt), why, sizeof(why));
    CHECK_STR(why, "");
    for (int i = 7; i < 10; i++)
        feed(&f, NULL, -1, T0 + i * S, "192.0.2.7");
    CHECK_EQ(f.n_firing, 1);
    CHECK_EQ(f.last.count, 10);
    v9 = malloc(sizeof(v1_ckpt));
    memcpy(v9, v1_ckpt, sizeof(v1_ckpt));
    v9[8] = 9;
    CHECK_EQ(sn_corr_restore(f.c, v9, sizeof(v1_ckpt)), SN_EINVAL);
    sn_corr_checkpoint_check(v9, sizeof(v1_ckpt), why, sizeof(why));
    CHECK_STR(why, "correlation checkpoint format 9 is newer than this "
                   "build reads (1 to 4)");
    sn_corr_checkpoint_check("garbage!", 8, why, sizeof(why));
    CHECK_STR(why, "not a correlation checkpoint");
    free(v9);
    fx_close(&f);
}

/* Restored keys older than the engine's own still resolve on time: the
 * time-driven walk needs the LRU ordered by touch time after a merge. */
SN_TEST(restored_keys_resolve_on_time)
{
    static const char *res =
        RULES("  window: 1m\n  threshold: {count: 1}\n  resolve_after: 60s\n");
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 0 };

    CHECK(fx_open(&a, res, NULL));
    CHECK(fx_open(&b, res, NULL));
    feed(&a, "t", 0, T0, "192.0.2.1");
    CHECK_EQ(a.n_firing, 1);
    feed(&b, "t", 1, T0 + 50 * S, "192.0.2.2");
    CHECK_EQ(b.n_firing, 1);
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, NULL), SN_OK);
    CHECK_EQ(sn_corr_advance(b.c, T0 + 61 * S), SN_OK);
    CHECK_EQ(b.n_resolved, 1);
    CHECK_EQ(b.last.first_ns, T0);
    CHECK_EQ(sn_corr_advance(b.c, T0 + 111 * S), SN_OK);
    CHECK_EQ(b.n_resolved, 2);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

/* A key counted here from one partition (3 events) receives another
 * partition's window of the same key (9 events; a topic keyed by host,
 * an attacker hitting several hosts): the 12 events are one window, the
 * threshold of 10 fires at the restore, once, as one engine fed all 12
 * in time order would have; the 2 left over, in the fired window, are
 * absorbed by it (refire per_window), as on that engine. */
SN_TEST(restore_merges_and_fires_once)
{
    struct fx a, b, ref;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 3 };
    struct sn_corr_origin tag;
    int64_t ts[12];

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    CHECK(fx_open(&ref, th10, NULL));
    /* Interleaved in time: A's partition has 3 of every 4 events. */
    for (int i = 0; i < 12; i++) {
        ts[i] = T0 + i * S;
        if (i % 4 == 1)
            feed(&b, "t", 1, ts[i], "203.0.113.9");
        else
            feed(&a, "t", 3, ts[i], "203.0.113.9");
        feed(&ref, "t", 0, ts[i], "203.0.113.9");
    }
    CHECK_EQ(a.n_sigs, 0);
    CHECK_EQ(b.n_sigs, 0);
    CHECK_EQ(ref.n_firing, 1);
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    tag = origin(&b, "t", 3);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(n_keys(&b), 1);
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.last.count, 10);
    CHECK_EQ(b.last.first_ns, ref.last.first_ns);
    CHECK_EQ(b.last.last_ns, ref.last.last_ns);
    CHECK_EQ(b.last.repeat, 1);
    /* 8 more inside the fired window (to T0 + 2m) fire nothing; after
     * it closes, the second window fires on its 10th, as on ref. */
    for (int i = 12; i < 40; i++) {
        int64_t t = T0 + (i < 20 ? i : 100 + i) * S;
        feed(&b, "t", 1, t, "203.0.113.9");
        feed(&ref, "t", 0, t, "203.0.113.9");
        CHECK_EQ(b.n_firing, ref.n_firing);
        CHECK_EQ(b.n_firing, (i < 30 ? 1 : 2)); /* T0 + 120s is in it */
    }
    CHECK_EQ(b.n_firing, 2);
    /* The absorbed matches reach the incident as ref's do: the same
     * updates (one per interval), the last one as ref's. */
    CHECK_EQ(b.n_sigs, ref.n_sigs);
    CHECK_EQ(b.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(b.last.count, ref.last.count);
    CHECK_EQ(b.last.repeat, 2);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
    fx_close(&ref);
}

/* refire per_window: the key fired here (its window open to T0 + 2m);
 * another partition's ten events of it inside that window arrive by a
 * restore: absorbed, not a second firing, and the next update carries
 * them. */
SN_TEST(restore_merge_keeps_fired_window)
{
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 3 };
    struct sn_corr_origin tag;

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    for (int i = 0; i < 10; i++)
        feed(&b, "t", 1, T0 + i * S, "203.0.113.9");
    CHECK_EQ(b.n_firing, 1);
    for (int i = 0; i < 9; i++)
        feed(&a, "t", 3, T0 + (20 + i) * S, "203.0.113.9");
    CHECK_EQ(a.n_sigs, 0);
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    tag = origin(&b, "t", 3);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    /* The next match, more than an update interval after the firing,
     * sends the 9 and itself as one update; the window's close has
     * nothing left. */
    feed(&b, "t", 3, T0 + 30 * S, "203.0.113.9");
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.n_sigs, 2);
    CHECK_EQ(b.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(b.last.count, 10);
    feed(&b, "t", 3, T0 + 121 * S, "203.0.113.9");
    CHECK_EQ(b.n_sigs, 2);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

/* Restored events older than the held key's firing (here reset at T0 +
 * 19 s) count as a live feed counts them, not spent: with refire
 * per_window absorbed by the fired window (its update after it closes),
 * or, that window closed, sent at once as an update of their own; with
 * every_threshold in the next window (nine of them and one more fire). */
static bool
move_part(struct fx *from, struct fx *to, int part)
{
    struct want_p p = { from->src, "t", part };
    struct sn_corr_origin tag = origin(to, "t", part);
    struct sn_buf buf;
    bool ok;

    sn_buf_init(&buf, 1 << 20);
    ok = sn_corr_checkpoint_keys(from->c, want_p, &p, &buf) == SN_OK &&
         sn_corr_restore_keys(to->c, buf.data, buf.len, &tag) == SN_OK;
    sn_buf_fini(&buf);
    return ok;
}

SN_TEST(restore_merge_counts_older_events)
{
    struct fx a, a2, b, e, ea;

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&a2, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    for (int i = 10; i < 20; i++)
        feed(&b, "t", 1, T0 + i * S, "203.0.113.7");
    CHECK_EQ(b.n_firing, 1);
    for (int i = 1; i < 5; i++)
        feed(&a, "t", 3, T0 + i * S, "203.0.113.7");
    CHECK(move_part(&a, &b, 3));
    CHECK_EQ(b.n_sigs, 1);
    /* The window (T0 + 10 s .. + 2 m) closes: its update has them. */
    feed(&b, "t", 1, T0 + 200 * S, "203.0.113.7");
    CHECK_EQ(b.n_sigs, 2);
    CHECK_EQ(b.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(b.last.count, 4);
    CHECK_EQ(b.last.first_ns, T0 + 1 * S);
    /* Closed already: three more inside it are an update at once. */
    for (int i = 120; i < 123; i++)
        feed(&a2, "t", 4, T0 + i * S, "203.0.113.7");
    CHECK(move_part(&a2, &b, 4));
    CHECK_EQ(b.n_sigs, 3);
    CHECK_EQ(b.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(b.last.count, 3);
    CHECK_EQ(b.n_firing, 1);
    fx_close(&a);
    fx_close(&a2);
    fx_close(&b);

    /* every_threshold: ten older ones are the next window. */
    CHECK(fx_open(&e,
                  RULES("  window: 2m\n  threshold: {count: 10}\n"
                        "  refire: every_threshold\n"),
                  NULL));
    CHECK(fx_open(&ea,
                  RULES("  window: 2m\n  threshold: {count: 10}\n"
                        "  refire: every_threshold\n"),
                  NULL));
    for (int i = 10; i < 20; i++)
        feed(&e, "t", 1, T0 + i * S, "203.0.113.7");
    CHECK_EQ(e.n_firing, 1);
    for (int i = 0; i < 9; i++)
        feed(&ea, "t", 3, T0 + i * S, "203.0.113.7");
    CHECK_EQ(ea.n_sigs, 0);
    CHECK(move_part(&ea, &e, 3));
    CHECK_EQ(e.n_firing, 1);
    feed(&e, "t", 1, T0 + 20 * S, "203.0.113.7");
    CHECK_EQ(e.n_firing, 2);
    CHECK_EQ(e.last.count, 10);
    CHECK_EQ(e.last.first_ns, T0);
    fx_close(&e);
    fx_close(&ea);
}

/* Under the threshold the merge only adds: 3 + 5 events, nothing fires
 * until the 10th arrives; the evidence of the fired window holds events
 * of both partitions. */
SN_TEST(restore_merges_below_threshold)
{
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 2 };
    struct sn_corr_origin tag;

    CHECK(fx_open(&a, th10, NULL));
    CHECK(fx_open(&b, th10, NULL));
    for (int i = 0; i < 5; i++)
        feed(&a, "t", 2, T0 + i * S, "198.51.100.4");
    for (int i = 5; i < 8; i++)
        feed(&b, "t", 0, T0 + i * S, "198.51.100.4");
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    tag = origin(&b, "t", 2);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(b.n_sigs, 0);
    feed(&b, "t", 0, T0 + 8 * S, "198.51.100.4");
    CHECK_EQ(b.n_sigs, 0);
    feed(&b, "t", 0, T0 + 9 * S, "198.51.100.4");
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.last.count, 10);
    CHECK_EQ(b.last.first_ns, T0); /* A's first event */
    CHECK(b.last.n_first > 0 && b.last.first[0].time_ns == T0);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

/* distinct: the values seen on each side are one set. */
SN_TEST(restore_merges_distinct)
{
    static const char *spray =
        RULES("  window: 2m\n  distinct: {field: user.name, count: 4}\n");
    struct fx a, b;
    struct sn_buf buf;
    struct want_p p = { NULL, "t", 1 };
    struct sn_corr_origin tag;
    static const char *users[] = { "alice", "bob", "carol", "dave" };

    CHECK(fx_open(&a, spray, NULL));
    CHECK(fx_open(&b, spray, NULL));
    for (int i = 0; i < 4; i++) {
        struct fx *f = i < 2 ? &a : &b;
        struct sn_rule_field_value fv[2];
        struct sn_corr_input in;

        memset(fv, 0, sizeof(fv));
        memset(&in, 0, sizeof(in));
        fv[0].name = "source.ip";
        fv[0].name_len = 9;
        fv[0].v.type = SN_VAL_STR;
        fv[0].v.u.s.ptr = "192.0.2.77";
        fv[0].v.u.s.len = 10;
        fv[1].name = "user.name";
        fv[1].name_len = 9;
        fv[1].v.type = SN_VAL_STR;
        fv[1].v.u.s.ptr = users[i];
        fv[1].v.u.s.len = strlen(users[i]);
        in.rule = sn_ruleset_find(f->rs, "brute");
        in.fields = fv;
        in.n_fields = 2;
        in.time_ns = in.arrival_ns = T0 + i * S;
        in.has_origin = true;
        in.origin = origin(f, "t", i < 2 ? 1 : 0);
        sn_corr_feed(f->c, &in);
    }
    CHECK_EQ(a.n_sigs + b.n_sigs, 0);
    p.src = a.src;
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint_keys(a.c, want_p, &p, &buf), SN_OK);
    tag = origin(&b, "t", 1);
    CHECK_EQ(sn_corr_restore_keys(b.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(b.n_firing, 1);
    CHECK_EQ(b.last.count, 4);
    CHECK_EQ(b.last.first_ns, T0);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

/* The LRU sort on lists of random runs: ordered by touch (newest at the
 * head), ties in their old order; the links (in the engine's array, by
 * entry) agree both ways. */
SN_TEST(lru_sort_stable)
{
    static struct ckey *keys[2000];
    struct crule cr;
    struct fx f;

    CHECK(fx_open(&f, RULES("  window: 2m\n  threshold: {count: 1}\n"), NULL));
    for (size_t i = 0; i < 2000; i++) {
        keys[i] = sn_corr_key_alloc(f.c);
        CHECK(keys[i] != NULL);
    }
    srand(7);
    for (int round = 0; round < 50; round++) {
        size_t n = (size_t)(rand() % 2000), i = 0;
        bool ok = true;
        struct ckey *prev = NULL;

        memset(&cr, 0, sizeof(cr));
        for (i = n; i-- > 0;) {
            keys[i]->touch_wm = rand() % (round % 2 ? 20 : 100000);
            keys[i]->hash = i; /* position from the head */
            sn_corr_lru_push_head(f.c, &cr, keys[i]);
        }
        sn_corr_lru_sort(f.c, &cr);
        i = 0;
        for (struct ckey *k = sn_corr_lru_tail(f.c, &cr); k != NULL;
             prev = k, k = sn_corr_lru_newer(f.c, k), i++) {
            if (prev != NULL &&
                (prev->touch_wm > k->touch_wm ||
                 (prev->touch_wm == k->touch_wm && prev->hash < k->hash)))
                ok = false;
            if (prev != NULL &&
                sn_corr_key_at(f.c, f.c->lru[k->ref - 1].next) != prev)
                ok = false;
        }
        if (prev != NULL && sn_corr_key_at(f.c, cr.lru_head) != prev)
            ok = false;
        CHECK_EQ(i, n);
        CHECK(ok);
    }
    fx_close(&f);
}

/* "source": the triggering record's place, fields absent when unknown. */
SN_TEST(signal_source_json)
{
    struct fx f;
    struct sn_signal sig;
    struct sn_signal_source src = { "kafka-in", "syslog", 3, 4242 };
    struct sn_buf b;
    const char *s;

    CHECK(fx_open(&f, RULES("  window: 2m\n  threshold: {count: 1}\n"), NULL));
    feed(&f, "t", 0, T0, "192.0.2.1");
    CHECK_EQ(f.n_firing, 1);
    CHECK(f.json[0] != NULL && strstr(f.json[0], "\"source\"") == NULL);
    sig = f.last;
    sn_buf_init(&b, 1 << 20);
    sig.source = &src;
    CHECK_EQ(sn_signal_json(&sig, &b), SN_OK);
    s = sn_buf_cstr(&b);
    CHECK(strstr(s, ",\"source\":{\"input\":\"kafka-in\",\"topic\":\"syslog\","
                    "\"partition\":3,\"offset\":4242},") != NULL);
    /* A file's record: offset, no partition. */
    src.partition = -1;
    src.topic = "/var/log/auth.log";
    sn_buf_reset(&b);
    CHECK_EQ(sn_signal_json(&sig, &b), SN_OK);
    CHECK(strstr(sn_buf_cstr(&b),
                 ",\"source\":{\"input\":\"kafka-in\",\"topic\":\"/var/log/"
                 "auth.log\",\"offset\":4242},") != NULL);
    /* UDP: no place in the source, no "source". */
    src.offset = -1;
    sn_buf_reset(&b);
    CHECK_EQ(sn_signal_json(&sig, &b), SN_OK);
    CHECK(strstr(sn_buf_cstr(&b), "\"source\"") == NULL);
    sn_buf_fini(&b);
    fx_close(&f);
}

SN_TEST_MAIN(SN_T(sources_table), SN_T(drop_by_filter),
             SN_T(move_fires_as_never_moved), SN_T(restore_replaces),
             SN_T(release_drops), SN_T(keys_only_checkpoint),
             SN_T(origins_survive_checkpoint), SN_T(format_1_and_newer),
             SN_T(restored_keys_resolve_on_time), SN_T(lru_sort_stable),
             SN_T(signal_source_json), SN_T(restore_merges_and_fires_once),
             SN_T(restore_merge_keeps_fired_window),
             SN_T(restore_merge_counts_older_events),
             SN_T(restore_merges_below_threshold),
             SN_T(restore_merges_distinct))
