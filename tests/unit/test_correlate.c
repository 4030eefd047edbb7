/*
 * Correlation engine tests: every kind, lateness and out-of-order events,
 * suppression, escalation, resolve, eviction with its degraded signal,
 * checkpoint round trips, rule diagnostics, and threshold against a
 * brute-force reference on random streams.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "core/buf.h"
#include "rules/compile.h"
#include "rules/correlate.h"
#include "rules/load.h"
#include "sn_test.h"

#define S  1000000000LL /* ns per second */
#define T0 (1700000000LL * S)

/* ---- harness ---------------------------------------------------------- */

static bool
starts(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

struct fx;

struct sigs {
    struct fx *peer; /* sharded tests: where forwarded feeds go */
    char *json[512];
    struct sn_signal last;
    size_t n;
    size_t n_firing, n_resolved, n_degraded;
};

/* Every signal of every test is also captured (sn_signal_capture, as
 * det_rules does under a shard's lock), read back and rendered: its JSON
 * must be the direct rendering's, byte for byte, with a source and a
 * trace added to both (captured_signals_render_the_same checks). */
static size_t capture_checked, capture_mismatch;

static void
check_capture(const struct sn_signal *sig)
{
    struct sn_signal x = *sig;
    struct sn_signal_source src = { "kafka-in", "syslog", 3, 81234 };
    struct sn_signal_view v;
    struct sn_buf direct, cap, via;
    size_t off = 0;

    x.source = &src;
    x.trace = (struct sn_str){ "{\"rule\":\"x\"}", 12 };
    sn_buf_init(&direct, 1 << 20);
    sn_buf_init(&cap, 1 << 20);
    sn_buf_init(&via, 1 << 20);
    /* Two records back to back: the reader must find the second. */
    if (sn_signal_json(&x, &direct) != SN_OK ||
        sn_signal_capture(&x, &cap) != SN_OK ||
        sn_signal_capture(&x, &cap) != SN_OK ||
        !sn_signal_captured(cap.data, cap.len, &off, &v) ||
        !sn_signal_captured(cap.data, cap.len, &off, &v) || off != cap.len ||
        sn_signal_captured(cap.data, cap.len, &off, &v) ||
        sn_signal_json(&v.sig, &via) != SN_OK || via.len != direct.len ||
        memcmp(via.data, direct.data, direct.len) != 0)
        capture_mismatch++;
    capture_checked++;
    sn_buf_fini(&direct);
    sn_buf_fini(&cap);
    sn_buf_fini(&via);
}

static void
on_signal(void *arg, const struct sn_signal *sig)
{
    struct sigs *s = arg;
    struct sn_buf b;

    check_capture(sig);
    sn_buf_init(&b, 1 << 20);
    if (sn_signal_json(sig, &b) == SN_OK && s->n < 512)
        s->json[s->n++] = strdup(sn_buf_cstr(&b));
    sn_buf_fini(&b);
    s->last = *sig;
    s->n_firing += sig->state == SN_SIGNAL_FIRING;
    s->n_resolved += sig->state == SN_SIGNAL_RESOLVED;
    s->n_degraded += sig->state == SN_SIGNAL_DEGRADED;
}

static void forward(void *arg, const struct sn_corr_input *in,
                    const struct sn_corr_target *t);

static void
sigs_clear(struct sigs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->json[i]);
    memset(s, 0, sizeof(*s));
}

struct fx {
    struct sn_ruleset *rs;
    struct sn_corr_set *set;
    struct sn_corr *c;
    struct sigs sigs;
    struct sn_diags d;
};

static bool
fx_open_cfg(struct fx *f, const char *yaml, const struct sn_corr_config *cfg0)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_corr_config cfg = { 0 };

    memset(f, 0, sizeof(*f));
    sn_diags_init(&f->d);
    if (cfg0 != NULL)
        cfg = *cfg0;
    cfg.emit = on_signal;
    cfg.emit_arg = &f->sigs;
    cfg.forward = forward;
    if (sn_rules_src_add_mem(src, "t.yaml", yaml, strlen(yaml), &f->d) !=
            SN_OK ||
        sn_ruleset_build(src, &f->rs, &f->d) != SN_OK ||
        sn_corr_set_build(f->rs, &f->set, &f->d) != SN_OK) {
        sn_diags_print(&f->d, stdout);
        sn_rules_src_free(src);
        return false;
    }
    sn_rules_src_free(src);
    f->c = sn_corr_new(f->set, &cfg);
    return f->c != NULL;
}

/* A signal-fed sequence whose key lives on the peer shard: each fixture
 * has its own ruleset, so the step rule is looked up by id there. */
static void
forward(void *arg, const struct sn_corr_input *in,
        const struct sn_corr_target *t)
{
    struct sigs *s = arg;
    struct sn_corr_input copy = *in;

    if (s->peer == NULL)
        return;
    copy.rule = sn_ruleset_find(s->peer->rs, in->rule->id);
    sn_corr_feed_target(s->peer->c, &copy, t);
}

static bool
fx_open(struct fx *f, const char *yaml)
{
    return fx_open_cfg(f, yaml, NULL);
}

static void
fx_close(struct fx *f)
{
    sn_corr_free(f->c);
    sn_corr_set_free(f->set);
    sn_ruleset_free(f->rs);
    sn_diags_fini(&f->d);
    sigs_clear(&f->sigs);
}

/* The origin feed() gives its events (none unless a test sets it). */
static struct sn_corr_origin feed_origin = { 0, -1 };
/* With src set, the stream feed()'s lateness is judged in (det_rules'
 * hop: a source partition as seen through a repartition partition). */
static struct sn_corr_origin feed_wm_origin = { 0, -1 };
/* The weight feed() gives its events (a relay's "repeated N times"). */
static uint32_t feed_weight;

/* With feed_lazy, feed() leaves the summary to the engine
 * (summary_fn), which counts its calls in lazy_calls. */
static bool feed_lazy;
static size_t lazy_calls;

static enum sn_status
lazy_summary(const struct sn_corr_input *in, void *arg, struct sn_buf *out)
{
    (void)in;
    lazy_calls++;
    return sn_buf_append(out, arg, strlen(arg));
}

/* Feed one match of rule id with "name=value" fields (NULL-terminated). */
static void
feed(struct fx *f, const char *rule, int64_t t, const char *summary, ...)
{
    struct sn_rule_field_value fv[8];
    struct sn_corr_input in = { 0 };
    const char *kv;
    size_t n = 0;
    va_list ap;
    char buf[8][64];

    va_start(ap, summary);
    while ((kv = va_arg(ap, const char *)) != NULL && n < 8) {
        const char *eq = strchr(kv, '=');
        snprintf(buf[n], sizeof(buf[n]), "%.*s", (int)(eq - kv), kv);
        fv[n].name = buf[n];
        fv[n].name_len = strlen(buf[n]);
        fv[n].v.type = SN_VAL_STR;
        fv[n].v.u.s.ptr = eq + 1;
        fv[n].v.u.s.len = strlen(eq + 1);
        n++;
    }
    va_end(ap);
    in.rule = sn_ruleset_find(f->rs, rule);
    in.fields = fv;
    in.n_fields = n;
    in.time_ns = t;
    in.arrival_ns = t;
    in.origin = feed_origin;
    in.has_origin = feed_origin.src != 0;
    in.wm_origin = feed_wm_origin;
    in.has_wm_origin = feed_wm_origin.src != 0;
    in.weight = feed_weight;
    in.summary = summary;
    in.summary_len = summary ? strlen(summary) : 0;
    if (feed_lazy && summary != NULL) {
        in.summary = NULL;
        in.summary_len = 0;
        in.summary_fn = lazy_summary;
        in.summary_arg = (void *)summary;
    }
    sn_corr_feed(f->c, &in);
}

static struct sn_corr_spec *
spec(struct fx *f, const char *rule)
{
    return (struct sn_corr_spec *)sn_corr_set_find(f->set, rule);
}

static struct sn_corr_rule_stats
stats(struct fx *f, const char *rule)
{
    struct sn_corr_rule_stats st;

    sn_corr_rule_stats(f->c, spec(f, rule)->index, &st);
    return st;
}

#define RULE_HDR(id)                                                           \
    "- id: " id                                                                \
    "\n  title: t\n  severity: medium\n  match: msg contains \"x\"\n"

/* ---- threshold -------------------------------------------------------- */

static const char *th_yaml = "rules:\n" RULE_HDR(
    "brute") "  group_by: [source.ip]\n  window: 2m\n  threshold: {count: 3}\n";

SN_TEST(threshold_fires_and_restarts)
{
    struct fx f;

    CHECK(fx_open(&f, th_yaml));
    feed(&f, "brute", T0, "e1", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 10 * S, "e2", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 20 * S, "o1", "source.ip=9.9.9.9", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "brute", T0 + 30 * S, "e3", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.count, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 30 * S);
    CHECK_EQ(f.sigs.last.n_first, 3);
    /* refire per_window (the default): the fired window runs to T0 + 2m;
     * matches in it are absorbed, not fired on. */
    feed(&f, "brute", T0 + 31 * S, "e4", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 32 * S, "e5", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 33 * S, "e6", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 1);
    /* An update interval (5 s of watermark) after the firing, the next
     * absorbed match sends them all as one update. */
    feed(&f, "brute", T0 + 120 * S, "e7", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(f.sigs.last.count, 4);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 31 * S);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 120 * S);
    CHECK_EQ(f.sigs.last.repeat, 1);
    CHECK(f.sigs.n > 1 && strstr(f.sigs.json[1], "\"state\":\"update\"") &&
          strstr(f.sigs.json[1], "\"count\":4,\"threshold\":3"));
    /* The first match after it closes the window (nothing left to
     * update) and starts the next one. */
    feed(&f, "brute", T0 + 121 * S, "e8", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 2);
    feed(&f, "brute", T0 + 122 * S, "e9", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 2);
    feed(&f, "brute", T0 + 123 * S, "e10", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 121 * S);
    CHECK_EQ(f.sigs.last.repeat, 2);
    CHECK(
        f.sigs.n > 0 &&
        starts(f.sigs.json[0],
               "{\"type\":\"signal\",\"rule\":\"brute\",\"kind\":\"threshold\","
               "\"state\":\"firing\",\"severity\":\"medium\",\"base_severity\":"
               "\"medium\",\"time_ns\":1700000030000000000,\"title\":\"t\","
               "\"description\":null,\"tags\":[],\"key\":{\"source."
               "ip\":\"1.2.3.4\"},\"key_hash\":\""));
    fx_close(&f);
}

/* refire: every_threshold keeps the window restarting after each hit. */
SN_TEST(threshold_every_threshold)
{
    struct fx f;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR(
                          "brute") "  group_by: [source.ip]\n"
                                   "  window: 2m\n  threshold: {count: 3}\n"
                                   "  refire: every_threshold\n"));
    for (int i = 0; i < 9; i++)
        feed(&f, "brute", T0 + i * S, NULL, "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.n_firing, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 6 * S);
    CHECK_EQ(f.sigs.last.repeat, 3);
    fx_close(&f);
}

/* Matches of several partitions reach a key interleaved (through the
 * repartition hop, each partition's in order): one older than the key's
 * last firing still counts, so a burst whose matches straddle the
 * threshold gives the hits it gives in time order. */
SN_TEST(threshold_late_match_of_fired_window)
{
    struct fx f;

    /* every_threshold: e3 arrives after e4 completed a window; in time
     * order e3 completed it and e4 was the first of the next. */
    CHECK(fx_open(&f, "rules:\n" RULE_HDR(
                          "brute") "  group_by: [source.ip]\n"
                                   "  window: 2m\n  threshold: {count: 3}\n"
                                   "  refire: every_threshold\n"));
    spec(&f, "brute")->lateness_ns = 5 * S;
    feed(&f, "brute", T0 + 1 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 2 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 4 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    feed(&f, "brute", T0 + 3 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 5 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    feed(&f, "brute", T0 + 6 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n_firing, 2); /* 6 matches: 2 hits of 3 */
    CHECK_EQ(f.sigs.last.count, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 3 * S);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 6 * S);
    /* Older than the lateness: dropped, as any late event. */
    feed(&f, "brute", T0 + 0 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(stats(&f, "brute").late_dropped, 1);
    fx_close(&f);

    /* per_window: absorbed while the fired window is open (counted in its
     * update); once it has closed, an update of its own. */
    CHECK(fx_open(&f, th_yaml));
    spec(&f, "brute")->lateness_ns = 30 * S;
    feed(&f, "brute", T0 + 1 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 2 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 4 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 3 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    feed(&f, "brute", T0 + 130 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(f.sigs.last.count, 1);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 3 * S);
    feed(&f, "brute", T0 + 110 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(f.sigs.last.count, 1);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 110 * S);
    fx_close(&f);
}

/* A key that goes quiet: advance closes its fired window and sends the
 * update; distinct absorbs the same way. */
SN_TEST(refire_per_window_advance_and_distinct)
{
    struct fx f;

    CHECK(fx_open(
        &f, "rules:\n" RULE_HDR(
                "brute") "  group_by: [source.ip]\n"
                         "  window: 1m\n  threshold: {count: 2}\n" RULE_HDR(
                             "spray") "  group_by: [source.ip]\n  window: 1m\n"
                                      "  distinct: {field: user, count: 2}\n"));
    for (int i = 0; i < 5; i++)
        feed(&f, "brute", T0 + i * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1); /* fired at T0 + 1 s, 3 absorbed */
    sn_corr_advance(f.c, T0 + 5 * S);
    CHECK_EQ(f.sigs.n, 1);
    sn_corr_advance(f.c, T0 + 6 * S); /* the update interval has passed */
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(f.sigs.last.count, 3);
    feed(&f, "brute", T0 + 7 * S, NULL, "source.ip=a", NULL);
    sn_corr_advance(f.c, T0 + 10 * S);
    CHECK_EQ(f.sigs.n, 2); /* the next one is due at T0 + 11 s */
    sn_corr_advance(f.c, T0 + 11 * S);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.last.count, 1);
    sn_corr_advance(f.c, T0 + 200 * S); /* the close: nothing left */
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.n_firing, 1);
    sigs_clear(&f.sigs);
    feed(&f, "spray", T0 + 300 * S, NULL, "source.ip=b", "user=u1", NULL);
    feed(&f, "spray", T0 + 301 * S, NULL, "source.ip=b", "user=u2", NULL);
    feed(&f, "spray", T0 + 302 * S, NULL, "source.ip=b", "user=u3", NULL);
    feed(&f, "spray", T0 + 303 * S, NULL, "source.ip=b", "user=u4", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    feed(&f, "spray", T0 + 361 * S, NULL, "source.ip=b", "user=u5", NULL);
    feed(&f, "spray", T0 + 362 * S, NULL, "source.ip=b", "user=u6", NULL);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK_EQ(f.sigs.n, 3); /* firing, update (u3, u4), firing */
    fx_close(&f);
}

/* A burst of 12 (10 in 2m): one firing at the 10th, and the 2 after it
 * reach the incident as one update an interval after the firing, while
 * the window is still open; the window fires once whatever follows. */
SN_TEST(refire_update_interval)
{
    struct fx f;
    uint64_t total = 0;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR(
                          "brute") "  group_by: [source.ip]\n"
                                   "  window: 2m\n  threshold: {count: 10}\n"));
    for (int i = 0; i < 12; i++)
        feed(&f, "brute", T0 + i * (S / 10), NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_FIRING);
    CHECK_EQ(f.sigs.last.count, 10);
    /* Fired at T0 + 0.9 s: nothing until T0 + 5.9 s. */
    sn_corr_advance(f.c, T0 + 5 * S);
    CHECK_EQ(f.sigs.n, 1);
    sn_corr_advance(f.c, T0 + 5 * S + 9 * (S / 10));
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(f.sigs.last.count, 2);
    CHECK_EQ(f.sigs.last.first_ns, T0 + S);
    CHECK_EQ(f.sigs.last.last_ns, T0 + S + S / 10);
    /* Nothing absorbed since: no empty update, at the interval or at
     * the close. */
    sn_corr_advance(f.c, T0 + 20 * S);
    CHECK_EQ(f.sigs.n, 2);
    /* 100 more in the window, one a second, the watermark advancing as
     * the daemon's ticker does: still one firing, updates at most one
     * per 5 s, and every match counted once. */
    for (int i = 0; i < 100; i++) {
        feed(&f, "brute", T0 + (20 + i) * S, NULL, "source.ip=a", NULL);
        sn_corr_advance(f.c, T0 + (20 + i) * S + S / 2);
    }
    sn_corr_advance(f.c, T0 + 600 * S);
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK(f.sigs.n >= 2 + 100 / 5 && f.sigs.n <= 2 + 100 / 5 + 2);
    for (size_t i = 0; i < f.sigs.n; i++) {
        const char *c = strstr(f.sigs.json[i], "\"count\":");
        CHECK(c != NULL);
        if (c != NULL)
            total += strtoull(c + 8, NULL, 10);
    }
    CHECK_EQ(total, 112);
    fx_close(&f);
}

/* Update signals never feed a sequence: a step naming a correlated rule
 * counts its firings, so a repeat offender (three brute-force firings)
 * needs three fired windows, not one window's updates. */
SN_TEST(updates_do_not_feed_sequences)
{
    struct fx f;
    int64_t t = T0;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR("brute") "  group_by: [ip]\n"
                      "  window: 2m\n  threshold: {count: 10}\n"
                      RULE_HDR("again") "  group_by: [ip]\n  window: 1d\n"
                      "  sequence: [brute, brute, brute]\n"));
    /* One window of 60 failures, one a second: 1 firing, 10 updates. */
    for (int i = 0; i < 60; i++, t += S) {
        feed(&f, "brute", t, NULL, "ip=a", NULL);
        sn_corr_advance(f.c, t);
    }
    sn_corr_advance(f.c, t + 300 * S);
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK(f.sigs.n >= 10);
    CHECK_EQ(stats(&f, "again").events, 1); /* the firing, one step */
    CHECK_EQ(stats(&f, "again").signals, 0);
    /* Two more fired windows: the third firing completes it. */
    for (int w = 0; w < 2; w++) {
        t += 300 * S;
        for (int i = 0; i < 10; i++, t += S)
            feed(&f, "brute", t, NULL, "ip=a", NULL);
    }
    CHECK_EQ(f.sigs.n_firing, 4);
    CHECK_EQ(stats(&f, "again").events, 3);
    CHECK_EQ(stats(&f, "again").signals, 1);
    CHECK(strstr(f.sigs.json[f.sigs.n - 1], "\"rule\":\"again\"") != NULL);
    fx_close(&f);
}

/* A checkpoint taken between the firing and its update: the restored
 * engine sends the same update (same total, same signal), and so does a
 * partition's keys moved to another engine (the repartition hop). */
SN_TEST(refire_update_survives_checkpoint)
{
    static const char *yaml = "rules:\n" RULE_HDR(
        "brute") "  group_by: [ip]\n  window: 2m\n  threshold: {count: 10}\n";
    struct fx a, b, c;
    struct sn_buf buf;
    struct sn_corr_origin tag = { 0, -1 };

    CHECK(fx_open(&a, yaml));
    CHECK(fx_open(&b, yaml));
    CHECK(fx_open(&c, yaml));
    for (int i = 0; i < 12; i++) {
        feed(&a, "brute", T0 + i * S / 10, NULL, "ip=a", NULL);
        feed(&b, "brute", T0 + i * S / 10, NULL, "ip=a", NULL);
    }
    CHECK_EQ(b.sigs.n, 1);
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint(b.c, NULL, NULL, &buf), SN_OK);
    sn_corr_free(b.c);
    {
        struct sn_corr_config cfg = { 0 };
        cfg.emit = on_signal;
        cfg.emit_arg = &b.sigs;
        b.c = sn_corr_new(b.set, &cfg);
    }
    CHECK_EQ(sn_corr_restore(b.c, buf.data, buf.len), SN_OK);
    CHECK_EQ(sn_corr_restore_keys(c.c, buf.data, buf.len, &tag), SN_OK);
    CHECK_EQ(c.sigs.n, 0); /* fired already: nothing again */
    sn_corr_advance(a.c, T0 + 4 * S);
    sn_corr_advance(b.c, T0 + 4 * S);
    sn_corr_advance(c.c, T0 + 4 * S);
    CHECK_EQ(a.sigs.n + b.sigs.n + c.sigs.n, 2);
    sn_corr_advance(a.c, T0 + 6 * S);
    sn_corr_advance(b.c, T0 + 6 * S);
    sn_corr_advance(c.c, T0 + 6 * S);
    CHECK_EQ(a.sigs.n, 2);
    CHECK_EQ(b.sigs.n, 2);
    CHECK_EQ(c.sigs.n, 1);
    CHECK_EQ(a.sigs.last.state, SN_SIGNAL_UPDATE);
    CHECK_EQ(a.sigs.last.count, 2);
    CHECK(a.sigs.n == 2 && b.sigs.n == 2 &&
          strcmp(a.sigs.json[1], b.sigs.json[1]) == 0);
    CHECK(c.sigs.n == 1 && strcmp(a.sigs.json[1], c.sigs.json[0]) == 0);
    /* No update twice. */
    sn_corr_advance(b.c, T0 + 600 * S);
    sn_corr_advance(c.c, T0 + 600 * S);
    CHECK_EQ(b.sigs.n, 2);
    CHECK_EQ(c.sigs.n, 1);
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
    fx_close(&c);
}

SN_TEST(threshold_json_shape)
{
    struct fx f;
    const char *j;

    CHECK(fx_open(&f, th_yaml));
    feed(&f, "brute", T0, "e1", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 1 * S, "e2", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 2 * S, "e3", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 1);
    {
        /* key_hash: 16 lower-case hex digits of the key's hash. */
        char want[64];
        snprintf(want, sizeof(want), "\"key_hash\":\"%016llx\",\"repeat\"",
                 (unsigned long long)f.sigs.last.key_hash);
        CHECK(f.sigs.n > 0 && strstr(f.sigs.json[0], want) != NULL);
    }
    j = f.sigs.n ? strstr(f.sigs.json[0], "\"repeat\"") : NULL;
    CHECK_STR(j, "\"repeat\":1,\"suppressed\":0,\"window\":{\"length_ns\":"
                 "120000000000,\"count\":3,\"threshold\":3,\"first_ns\":"
                 "1700000000000000000,\"last_ns\":1700000002000000000},"
                 "\"evidence\":{\"first\":[{\"time_ns\":1700000000000000000,"
                 "\"summary\":\"e1\"},{\"time_ns\":1700000001000000000,"
                 "\"summary\":\"e2\"},{\"time_ns\":1700000002000000000,"
                 "\"summary\":\"e3\"}],\"last\":[]}}");
    fx_close(&f);
}

/* A summary left to the engine is rendered only for events it keeps as
 * evidence (not for matches a fired window absorbs), and reads the same
 * in the signal as one passed rendered. */
SN_TEST(lazy_summary_only_for_kept_events)
{
    struct fx f;
    const char *j;

    CHECK(fx_open(&f, th_yaml));
    feed_lazy = true;
    lazy_calls = 0;
    feed(&f, "brute", T0, "e1", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 1 * S, "e2", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 2 * S, "e3", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(lazy_calls, 3);
    /* Inside the fired window: absorbed, no summary rendered. */
    feed(&f, "brute", T0 + 3 * S, "e4", "source.ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + 4 * S, "e5", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(lazy_calls, 3);
    feed_lazy = false;
    CHECK_EQ(f.sigs.n, 1);
    j = f.sigs.n ? strstr(f.sigs.json[0], "\"evidence\"") : NULL;
    CHECK_STR(j, "\"evidence\":{\"first\":[{\"time_ns\":1700000000000000000,"
                 "\"summary\":\"e1\"},{\"time_ns\":1700000001000000000,"
                 "\"summary\":\"e2\"},{\"time_ns\":1700000002000000000,"
                 "\"summary\":\"e3\"}],\"last\":[]}}");
    fx_close(&f);
}

SN_TEST(threshold_sliding_window)
{
    struct fx f;

    CHECK(fx_open(&f, th_yaml));
    /* 0s, 100s, 130s: 0..130 is longer than 2m, but 100..130 plus the
     * next at 200 (within 2m of 100) makes three. */
    feed(&f, "brute", T0, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 100 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 130 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "brute", T0 + 200 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 100 * S);
    /* Exactly the window length apart still counts (closed interval). */
    feed(&f, "brute", T0 + 300 * S, NULL, "source.ip=b", NULL);
    feed(&f, "brute", T0 + 360 * S, NULL, "source.ip=b", NULL);
    feed(&f, "brute", T0 + 420 * S, NULL, "source.ip=b", NULL);
    CHECK_EQ(f.sigs.n, 2);
    fx_close(&f);
}

/* A consumer catching up on a Kafka backlog gets one partition's events
 * in a chunk, then another's, minutes apart: each partition is late only
 * against itself, so nothing is dropped and every window fires as in
 * time order. Records without an origin keep the engine's watermark. */
SN_TEST(partitions_catch_up_in_chunks)
{
    struct fx f;
    struct sn_corr_rule_stats st;

    CHECK(fx_open(&f, th_yaml));
    feed_origin = (struct sn_corr_origin){ 1, 1 };
    for (int i = 0; i < 3; i++)
        feed(&f, "brute", T0 + 600 * S + i * 10 * S, NULL, "source.ip=b",
             NULL);
    CHECK_EQ(f.sigs.n, 1);
    /* Partition 0, ten minutes behind: counts and fires. */
    feed_origin = (struct sn_corr_origin){ 1, 0 };
    for (int i = 0; i < 3; i++)
        feed(&f, "brute", T0 + i * 10 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 2);
    st = stats(&f, "brute");
    CHECK_EQ(st.late_dropped, 0);
    CHECK_EQ(st.hits, 2);
    /* Out of order within its own partition (lateness 0): late. */
    feed(&f, "brute", T0 + 5 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(stats(&f, "brute").late_dropped, 1);
    /* No origin: against the engine's watermark (partition 1's time). */
    feed_origin = (struct sn_corr_origin){ 0, -1 };
    feed(&f, "brute", T0 + 100 * S, NULL, "source.ip=c", NULL);
    CHECK_EQ(stats(&f, "brute").late_dropped, 2);
    /* The advance clock does not age partition 0's keys by partition
     * 1's time: key a still takes events within 2 minutes of its last
     * (after its fired window, which ran to T0 + 2m). */
    sn_corr_advance(f.c, T0 + 620 * S);
    feed_origin = (struct sn_corr_origin){ 1, 0 };
    feed(&f, "brute", T0 + 130 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 140 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 150 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(stats(&f, "brute").late_dropped, 2);
    feed_origin = (struct sn_corr_origin){ 0, -1 };
    fx_close(&f);
}

SN_TEST(lateness_and_out_of_order)
{
    struct fx f;
    struct sn_corr_rule_stats st;

    CHECK(fx_open(&f, th_yaml));
    spec(&f, "brute")->lateness_ns = 30 * S;
    feed(&f, "brute", T0 + 100 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 60 * S, NULL, "source.ip=a", NULL); /* late */
    st = stats(&f, "brute");
    CHECK_EQ(st.late_dropped, 1);
    CHECK_EQ(st.events, 1);
    /* Within lateness and out of order: counts, and the window math uses
     * event time (first = the earliest). */
    feed(&f, "brute", T0 + 80 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "brute", T0 + 75 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 75 * S);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 100 * S);
    /* An event before the fired window's end is absorbed by it (counted
     * in its update), it starts no new window. */
    feed(&f, "brute", T0 + 90 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 101 * S, NULL, "source.ip=a", NULL);
    feed(&f, "brute", T0 + 102 * S, NULL, "source.ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    fx_close(&f);
}

SN_TEST(event_time_fallback)
{
    struct fx f;
    struct sn_corr_input in = { 0 };
    struct sn_rule_field_value fv = { "source.ip", 9, { 0 } };

    CHECK(fx_open(&f, th_yaml));
    spec(&f, "brute")->lateness_ns = 30 * S;
    fv.v.type = SN_VAL_STR;
    fv.v.u.s.ptr = "a";
    fv.v.u.s.len = 1;
    in.rule = sn_ruleset_find(f.rs, "brute");
    in.fields = &fv;
    in.n_fields = 1;
    /* No timestamp: arrival time. */
    in.arrival_ns = T0;
    sn_corr_feed(f.c, &in);
    CHECK_EQ(sn_corr_watermark(f.c), T0);
    /* An hour in the future: implausible, arrival time instead. */
    in.time_ns = T0 + 3600 * S;
    in.arrival_ns = T0 + S;
    sn_corr_feed(f.c, &in);
    CHECK_EQ(sn_corr_watermark(f.c), T0 + S);
    /* 20 s ahead is within lateness: trusted. */
    in.time_ns = T0 + 22 * S;
    in.arrival_ns = T0 + 2 * S;
    sn_corr_feed(f.c, &in);
    CHECK_EQ(sn_corr_watermark(f.c), T0 + 22 * S);
    CHECK_EQ(f.sigs.n, 1);
    fx_close(&f);
}

SN_TEST(suppression_and_escalation)
{
    struct fx f;

    CHECK(fx_open(
        &f, "rules:\n" RULE_HDR("b") "  group_by: [ip]\n"
                                     "  window: 1m\n  threshold: {count: 2}\n"
                                     "  refire: every_threshold\n"
                                     "  suppress: 10m\n"
                                     "  escalate: {after: 3, to: critical}\n"));
    feed(&f, "b", T0, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + S, NULL, "ip=a", NULL); /* hit 1: signal */
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.severity, SN_SEV_MEDIUM);
    feed(&f, "b", T0 + 2 * S, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + 3 * S, NULL, "ip=a", NULL); /* hit 2: suppressed */
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(stats(&f, "b").suppressed, 1);
    feed(&f, "b", T0 + 4 * S, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + 5 * S, NULL, "ip=a", NULL); /* hit 3: escalates */
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.severity, SN_SEV_CRITICAL);
    CHECK_EQ(f.sigs.last.repeat, 3);
    CHECK_EQ(f.sigs.last.suppressed, 1);
    feed(&f, "b", T0 + 6 * S, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + 7 * S, NULL, "ip=a", NULL); /* hit 4: suppressed */
    CHECK_EQ(f.sigs.n, 2);
    /* After the interval: signals again, still critical. */
    feed(&f, "b", T0 + 700 * S, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + 701 * S, NULL, "ip=a", NULL);
    CHECK_EQ(f.sigs.n, 3);
    CHECK_EQ(f.sigs.last.severity, SN_SEV_CRITICAL);
    CHECK_EQ(f.sigs.last.suppressed, 1);
    fx_close(&f);
}

SN_TEST(resolve_after)
{
    struct fx f;

    CHECK(fx_open(
        &f, "rules:\n" RULE_HDR("b") "  group_by: [ip]\n"
                                     "  window: 1m\n  threshold: {count: 2}\n"
                                     "  resolve_after: 15m\n"));
    feed(&f, "b", T0, NULL, "ip=a", NULL);
    feed(&f, "b", T0 + S, NULL, "ip=a", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    sn_corr_advance(f.c, T0 + 10 * 60 * S);
    CHECK_EQ(f.sigs.n_resolved, 0);
    sn_corr_advance(f.c, T0 + 16 * 60 * S);
    CHECK_EQ(f.sigs.n_resolved, 1);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_RESOLVED);
    CHECK_EQ(f.sigs.last.time_ns, T0 + S + 15 * 60 * S);
    /* Resolved keys hold nothing more and are reclaimed. */
    CHECK_EQ(stats(&f, "b").keys, 0);
    CHECK_EQ(stats(&f, "b").keys_reclaimed, 1);
    fx_close(&f);
}

/* ---- other kinds ------------------------------------------------------ */

SN_TEST(distinct)
{
    struct fx f;

    CHECK(fx_open(&f,
                  "rules:\n" RULE_HDR(
                      "spray") "  group_by: [ip]\n"
                               "  window: 1m\n"
                               "  distinct: {field: user.name, count: 3}\n"));
    feed(&f, "spray", T0, NULL, "ip=a", "user.name=root", NULL);
    feed(&f, "spray", T0 + S, NULL, "ip=a", "user.name=root", NULL);
    feed(&f, "spray", T0 + 2 * S, NULL, "ip=a", "user.name=admin", NULL);
    CHECK_EQ(f.sigs.n, 0);
    /* A value that slid out does not count: root@0 and admin@2 are more
     * than a minute before 70. */
    feed(&f, "spray", T0 + 70 * S, NULL, "ip=a", "user.name=bob", NULL);
    feed(&f, "spray", T0 + 71 * S, NULL, "ip=a", "user.name=eve", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "spray", T0 + 72 * S, NULL, "ip=a", "user.name=root", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.count, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 70 * S);
    /* Missing field: not counted, counted as such. */
    feed(&f, "spray", T0 + 73 * S, NULL, "ip=a", NULL);
    CHECK_EQ(stats(&f, "spray").no_key, 1);
    fx_close(&f);
}

static const char *seq_yaml = "rules:\n" RULE_HDR("fail") RULE_HDR("ok")
    RULE_HDR("fail-then-ok") "  group_by: [ip]\n  window: 5m\n"
                             "  sequence: [fail, fail, ok]\n";

SN_TEST(sequence)
{
    struct fx f;
    const char *j;

    CHECK(fx_open(&f, seq_yaml));
    feed(&f, "ok", T0, "ok0", "ip=a", NULL); /* before any failure */
    feed(&f, "fail", T0 + S, "f1", "ip=a", NULL);
    feed(&f, "ok", T0 + 2 * S, "ok1", "ip=b", NULL); /* other key */
    feed(&f, "fail", T0 + 3 * S, "f2", "ip=a", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "ok", T0 + 4 * S, "ok2", "ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.n_steps, 3);
    j = f.sigs.n ? strstr(f.sigs.json[0], "\"sequence\":[") : NULL;
    CHECK(j != NULL &&
          starts(j, "\"sequence\":[{\"step\":0,\"rule\":\"fail\",\"time_ns\":"
                    "1700000001000000000,\"summary\":\"f1\"},{\"step\":1,"
                    "\"rule\":\"fail\",\"time_ns\":1700000003000000000,"
                    "\"summary\":\"f2\"},{\"step\":2,\"rule\":\"ok\","
                    "\"time_ns\":1700000004000000000,\"summary\":\"ok2\"}]"));
    /* Too slow: the steps must fit the window. */
    feed(&f, "fail", T0 + 100 * S, NULL, "ip=c", NULL);
    feed(&f, "fail", T0 + 200 * S, NULL, "ip=c", NULL);
    feed(&f, "ok", T0 + 420 * S, NULL, "ip=c", NULL);
    CHECK_EQ(f.sigs.n, 1);
    /* ...but a later pair of failures gives a start within reach. */
    feed(&f, "fail", T0 + 430 * S, NULL, "ip=c", NULL);
    feed(&f, "ok", T0 + 440 * S, NULL, "ip=c", NULL);
    CHECK_EQ(f.sigs.n, 2);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 200 * S);
    fx_close(&f);
}

SN_TEST(sequence_out_of_order)
{
    struct fx f;

    CHECK(fx_open(&f, seq_yaml));
    spec(&f, "fail-then-ok")->lateness_ns = 60 * S;
    /* The success arrives first; the failures (earlier event time) come
     * late but within allowed lateness: still in order by event time. */
    feed(&f, "ok", T0 + 50 * S, NULL, "ip=a", NULL);
    feed(&f, "fail", T0 + 10 * S, NULL, "ip=a", NULL);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "fail", T0 + 20 * S, NULL, "ip=a", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 10 * S);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 50 * S);
    fx_close(&f);
}

SN_TEST(absence)
{
    struct fx f;

    CHECK(fx_open(
        &f, "rules:\n" RULE_HDR(
                "quiet") "  group_by: [hostname]\n"
                         "  absence: {after: 5m, expected_keys: [db1]}\n"));
    feed(&f, "quiet", T0, "hb", "hostname=web1", NULL);
    sn_corr_advance(f.c, T0 + 4 * 60 * S);
    CHECK_EQ(f.sigs.n, 0);
    feed(&f, "quiet", T0 + 4 * 60 * S, "hb", "hostname=web1", NULL);
    sn_corr_advance(f.c, T0 + 5 * 60 * S);
    /* db1 never sent: expected from the start (T0). */
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK(f.sigs.n && strstr(f.sigs.json[0], "\"db1\"") != NULL);
    sn_corr_advance(f.c, T0 + 9 * 60 * S + 1);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 4 * 60 * S);
    CHECK_EQ(f.sigs.last.time_ns, T0 + 9 * 60 * S);
    /* Fires once per silence. */
    sn_corr_advance(f.c, T0 + 30 * 60 * S);
    CHECK_EQ(f.sigs.n_firing, 2);
    /* Back: resolved. */
    feed(&f, "quiet", T0 + 31 * 60 * S, "hb", "hostname=web1", NULL);
    CHECK_EQ(f.sigs.n_resolved, 1);
    CHECK_EQ(f.sigs.last.state, SN_SIGNAL_RESOLVED);
    fx_close(&f);
}

/* want filters for absence_expected_by_partition: the n-th key asked
 * about (1-based), and keys of origin partition 3. */
struct nth {
    int n, asked;
};

static bool
want_nth(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
         const struct sn_corr_origin *o)
{
    struct nth *w = arg;

    (void)spec, (void)hash, (void)o;
    return ++w->asked == w->n;
}

static bool
want_part3(void *arg, const struct sn_corr_spec *spec, uint64_t hash,
           const struct sn_corr_origin *o)
{
    (void)arg, (void)spec, (void)hash;
    return o->part == 3;
}

/* Expected keys owned by partitions (det_rules' repartition hop): the
 * engine creates none by itself; the owner of a key's partition creates
 * it, tagged with that partition, and a key already held (restored from
 * the partition's checkpoint) keeps its state. */
SN_TEST(absence_expected_by_partition)
{
    static const bool deferred[1] = { true };
    const struct sn_corr_origin tag = { 0, 3 };
    struct nth second = { 2, 0 }, again = { 2, 0 };
    struct fx f;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR("quiet") "  group_by: [hostname]\n"
                      "  absence: {after: 5m, expected_keys: [db1, db2, "
                      "db3]}\n"));
    sn_corr_prime_deferred(f.c, deferred);
    feed(&f, "quiet", T0, "hb", "hostname=web1", NULL);
    feed(&f, "quiet", T0 + 4 * 60 * S, "hb", "hostname=web1", NULL);
    sn_corr_advance(f.c, T0 + 6 * 60 * S);
    /* Not expected here: only web1, which sent, is a key. */
    CHECK_EQ(f.sigs.n_firing, 0);
    /* This instance takes the partition of db2 (the second listed). */
    CHECK_EQ(sn_corr_prime_keys(f.c, want_nth, &second, &tag, 0), 1);
    CHECK_EQ(second.asked, 3);
    /* Held already: nothing is created again, and its time stays. */
    sn_corr_advance(f.c, T0 + 8 * 60 * S);
    CHECK_EQ(sn_corr_prime_keys(f.c, want_nth, &again, &tag, 0), 0);
    sn_corr_advance(f.c, T0 + 11 * 60 * S);
    /* As seen at the watermark of its creation: absent 5 m later. */
    CHECK_EQ(f.sigs.n_firing, 2); /* web1 at 9 m, db2 at 11 m */
    CHECK(f.sigs.n && strstr(f.sigs.json[f.sigs.n - 1], "\"db2\"") != NULL);
    CHECK_EQ(f.sigs.last.time_ns, T0 + 11 * 60 * S);
    /* Tagged with the partition: it goes with it. */
    CHECK_EQ(sn_corr_drop(f.c, want_part3, NULL), 1);
    fx_close(&f);
}

/* Keys fed through the repartition hop are judged by the hop's time
 * (sn_corr_stream_wm_set: the newest event read from their repartition
 * partition), not by the engine's watermark, which the events topic
 * drives: while the hop lags, a live host is not absent. */
SN_TEST(absence_by_the_hops_watermark)
{
    static const bool deferred[1] = { true };
    const struct sn_corr_origin hop = { 1, 2 }, other = { 1, 4 };
    struct nth first = { 1, 0 };
    struct fx f;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR("quiet") "  group_by: [hostname]\n"
                      "  absence: {after: 10s, expected_keys: [db5]}\n"));
    sn_corr_prime_deferred(f.c, deferred);
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &hop, T0), SN_OK);
    /* The owner of db5's partition expects it; db1 is fed through the
     * same partition, db9 through one whose time is not known yet. */
    CHECK_EQ(sn_corr_prime_keys(f.c, want_nth, &first, &hop, T0), 1);
    /* Fed as the hop feeds: lateness judged per source partition. */
    feed_wm_origin = (struct sn_corr_origin){ 2, 7 };
    feed_origin = hop;
    feed(&f, "quiet", T0, "hb", "hostname=db1", NULL);
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &other, INT64_MIN), SN_OK);
    feed_origin = other;
    feed(&f, "quiet", T0, "hb", "hostname=db9", NULL);
    /* The events topic goes on a minute (an unhopped key, web1), the hop
     * does not: nobody is absent. */
    feed_origin = feed_wm_origin = (struct sn_corr_origin){ 0, -1 };
    feed(&f, "quiet", T0 + 60 * S, "hb", "hostname=web1", NULL);
    sn_corr_advance(f.c, T0 + 60 * S);
    CHECK_EQ(f.sigs.n_firing, 0);
    /* The hop catches up to 5 s: db1 was seen then. */
    feed_origin = hop;
    feed_wm_origin = (struct sn_corr_origin){ 2, 7 };
    feed(&f, "quiet", T0 + 5 * S, "hb", "hostname=db1", NULL);
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &hop, T0 + 5 * S), SN_OK);
    sn_corr_advance(f.c, T0 + 61 * S);
    CHECK_EQ(f.sigs.n_firing, 0);
    /* 12 s of the hop's time: db5, silent since it was expected, is
     * absent; db1 (5 s) is not yet. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &hop, T0 + 12 * S), SN_OK);
    sn_corr_advance(f.c, T0 + 62 * S);
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK(f.sigs.n && strstr(f.sigs.json[0], "\"db5\"") != NULL);
    CHECK_EQ(f.sigs.last.time_ns, T0 + 10 * S);
    /* 15 s: db1 went silent after 5 s. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &hop, T0 + 15 * S), SN_OK);
    sn_corr_advance(f.c, T0 + 63 * S);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK(strstr(f.sigs.json[f.sigs.n - 1], "\"db1\"") != NULL);
    CHECK_EQ(f.sigs.last.time_ns, T0 + 15 * S);
    /* db9's partition released: its key follows the engine again (its
     * origin's own feeds, then, idle, the engine's watermark). */
    sn_corr_stream_wm_clear(f.c, &other);
    for (int i = 0; i < 10; i++)
        sn_corr_advance(f.c, T0 + (64 + i) * S);
    CHECK_EQ(f.sigs.n_firing, 4); /* db9, and web1 (60 s) at 70 s */
    CHECK(f.sigs.n == 4 && (strstr(f.sigs.json[2], "\"db9\"") != NULL ||
                            strstr(f.sigs.json[3], "\"db9\"") != NULL));
    feed_origin = feed_wm_origin = (struct sn_corr_origin){ 0, -1 };
    fx_close(&f);
}

/* An expected key is timed from its stream's time, not from an instance
 * clock that lags it: a detector still reading its backlog when it is
 * assigned a repartition partition (the hop's time already 30 s ahead,
 * known from the partition's marks, or learnt from its first watermark)
 * found db1 and db9 absent at once, though both logged every second
 * (scale_hop_absence_move.sh after a slow group formation). */
SN_TEST(expected_keys_timed_from_their_stream)
{
    static const bool deferred[1] = { true };
    const struct sn_corr_origin known = { 1, 2 }, later = { 1, 3 };
    struct nth first = { 1, 0 }, second = { 2, 0 };
    struct fx f;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR("quiet") "  group_by: [hostname]\n"
                      "  absence: {after: 10s, expected_keys: [db1, db9]}\n"));
    sn_corr_prime_deferred(f.c, deferred);
    /* db1's partition comes with its time (T0 + 30 s); the instance's
     * own clock says T0. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &known, T0 + 30 * S), SN_OK);
    CHECK_EQ(sn_corr_prime_keys(f.c, want_nth, &first, &known, T0), 1);
    /* db9's partition time is not known yet. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &later, INT64_MIN), SN_OK);
    CHECK_EQ(sn_corr_prime_keys(f.c, want_nth, &second, &later, T0), 1);
    /* Its first watermark, 30 s past the instance's clock. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &later, T0 + 30 * S), SN_OK);
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &known, T0 + 35 * S), SN_OK);
    sn_corr_advance(f.c, T0 + 1 * S);
    CHECK_EQ(f.sigs.n_firing, 0);
    /* 10 s of each stream's own time with no event: both absent. */
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &known, T0 + 40 * S), SN_OK);
    CHECK_EQ(sn_corr_stream_wm_set(f.c, &later, T0 + 40 * S), SN_OK);
    sn_corr_advance(f.c, T0 + 2 * S);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK_EQ(f.sigs.last.time_ns, T0 + 40 * S);
    fx_close(&f);
}

SN_TEST(rate)
{
    struct fx f;

    CHECK(fx_open(
        &f,
        "rules:\n" RULE_HDR(
            "spike") "  group_by: [hostname]\n"
                     "  rate: {alpha: 0.2, k: 3, warmup: 10m, bucket: 1m}\n"));
    /* 10 per minute with a little noise for 20 minutes: no signal. */
    for (int m = 0; m < 20; m++)
        for (int i = 0; i < 10 + (m % 3); i++)
            feed(&f, "spike", T0 + m * 60 * S + i * S, NULL, "hostname=h",
                 NULL);
    CHECK_EQ(f.sigs.n, 0);
    /* 60 in minute 20: fires once, as soon as the count beats the bar. */
    for (int i = 0; i < 60; i++)
        feed(&f, "spike", T0 + 20 * 60 * S + i * S / 2, NULL, "hostname=h",
             NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK(f.sigs.last.count < 20);
    CHECK(f.sigs.last.mean > 9 && f.sigs.last.mean < 12);
    CHECK(f.sigs.last.count > f.sigs.last.mean + 3 * f.sigs.last.stddev);
    /* A spike during warm-up does not fire. */
    for (int i = 0; i < 100; i++)
        feed(&f, "spike", T0 + 20 * 60 * S + i * S / 4, NULL, "hostname=new",
             NULL);
    CHECK_EQ(f.sigs.n, 1);
    fx_close(&f);
}

/* A quiet host: one line an hour for a day, then silence brings the
 * baseline to 0 +/- 0, where a single line beats mean + k * stddev.
 * min_count is the floor below which no bucket is a spike; without it
 * the third line of the burst already fires. */
SN_TEST(rate_min_count)
{
    static const char *const rules[2] = {
        "  rate: {k: 3, warmup: 30m, bucket: 1m}\n",
        "  rate: {k: 3, warmup: 30m, bucket: 1m, min_count: 5}\n",
    };

    for (int v = 0; v < 2; v++) {
        struct fx f;
        char text[512];
        int64_t t = T0;

        snprintf(text, sizeof(text), "rules:\n%s  group_by: [hostname]\n%s",
                 RULE_HDR("spike"), rules[v]);
        CHECK(fx_open(&f, text));
        for (int h = 0; h < 24; h++, t += 3600 * S)
            feed(&f, "spike", t, NULL, "hostname=quiet", NULL);
        /* the last line of the day was the first one in a long while:
         * without the floor it is a spike already */
        CHECK_EQ(f.sigs.n, v == 0 ? 23 : 0);
        t += 6 * 3600 * S;
        for (int i = 0; i < 4; i++)
            feed(&f, "spike", t + i * S, NULL, "hostname=quiet", NULL);
        CHECK_EQ(f.sigs.n, v == 0 ? 24 : 0);
        feed(&f, "spike", t + 5 * S, NULL, "hostname=quiet", NULL);
        CHECK_EQ(f.sigs.n, v == 0 ? 24 : 1);
        if (v == 1) {
            CHECK_EQ(f.sigs.last.count, 5);
            CHECK_EQ(f.sigs.last.threshold, 5);
        }
        fx_close(&f);
    }
}

SN_TEST(new_value)
{
    struct fx f;

    CHECK(fx_open(&f, "rules:\n" RULE_HDR(
                          "newsrc") "  group_by: [user]\n"
                                    "  new_value: {field: ip, learn: 1h}\n"));
    feed(&f, "newsrc", T0, NULL, "user=alice", "ip=10.0.0.1", NULL);
    feed(&f, "newsrc", T0 + 60 * S, NULL, "user=alice", "ip=10.0.0.2", NULL);
    CHECK_EQ(f.sigs.n, 0); /* learning */
    feed(&f, "newsrc", T0 + 2 * 3600 * S, NULL, "user=alice", "ip=10.0.0.2",
         NULL);
    CHECK_EQ(f.sigs.n, 0); /* known */
    feed(&f, "newsrc", T0 + 2 * 3600 * S + S, "login", "user=alice",
         "ip=203.0.113.9", NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK(f.sigs.n &&
          strstr(f.sigs.json[0], "\"new_value\":\"203.0.113.9\"") != NULL);
    feed(&f, "newsrc", T0 + 2 * 3600 * S + 2 * S, NULL, "user=alice",
         "ip=203.0.113.9", NULL);
    CHECK_EQ(f.sigs.n, 1); /* now known */
    fx_close(&f);
}

/* ---- bounds ----------------------------------------------------------- */

SN_TEST(eviction_degraded)
{
    struct fx f;
    struct sn_corr_config cfg = { .max_keys = 10 };
    struct sn_corr_rule_stats st;
    char ip[32];

    CHECK(fx_open_cfg(&f, th_yaml, &cfg));
    for (int i = 0; i < 25; i++) {
        snprintf(ip, sizeof(ip), "source.ip=10.0.0.%d", i);
        feed(&f, "brute", T0 + i * S, NULL, ip, NULL);
    }
    st = stats(&f, "brute");
    CHECK_EQ(st.keys, 10);
    CHECK_EQ(st.keys_evicted, 15);
    /* Once per interval (10 minutes), not once per eviction. */
    CHECK_EQ(f.sigs.n_degraded, 1);
    CHECK(f.sigs.n && strstr(f.sigs.json[0], "\"state\":\"degraded\"") &&
          strstr(f.sigs.json[0], "\"keys_evicted\":1,"));
    /* The interval passed: the losses since are reported by advance. */
    sn_corr_advance(f.c, T0 + 700 * S);
    CHECK_EQ(f.sigs.n_degraded, 2);
    CHECK_EQ(f.sigs.last.keys_evicted, 15);
    /* Idle keys are reclaimed, not evicted: no degraded signal. */
    for (int i = 0; i < 25; i++) {
        snprintf(ip, sizeof(ip), "source.ip=10.1.0.%d", i);
        feed(&f, "brute", T0 + 2000 * S + i * 200 * S, NULL, ip, NULL);
    }
    st = stats(&f, "brute");
    CHECK_EQ(st.keys_evicted, 15);
    CHECK_EQ(f.sigs.n_degraded, 2);
    fx_close(&f);
}

SN_TEST(per_key_event_bound)
{
    struct fx f;

    CHECK(fx_open(
        &f, "rules:\n" RULE_HDR(
                "d") "  group_by: [ip]\n"
                     "  window: 1h\n  distinct: {field: u, count: 50}\n"));
    spec(&f, "d")->max_events = 60;
    sn_corr_free(f.c);
    {
        struct sn_corr_config cfg = { .max_events = 8,
                                      .emit = on_signal,
                                      .emit_arg = &f.sigs };
        f.c = sn_corr_new(f.set, &cfg);
    }
    /* The rule's own limit (60) wins over the engine's (8). */
    for (int i = 0; i < 49; i++) {
        char u[16];
        snprintf(u, sizeof(u), "u=%d", i);
        feed(&f, "d", T0 + i * S, NULL, "ip=a", u, NULL);
    }
    CHECK_EQ(stats(&f, "d").events_dropped, 0);
    feed(&f, "d", T0 + 50 * S, NULL, "ip=a", "u=x", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    fx_close(&f);
}

/* ---- checkpoints ------------------------------------------------------ */

static const char *mix_yaml = "rules:\n" RULE_HDR("fail")
    RULE_HDR("ok") "  group_by: [ip]\n  window: 5m\n  threshold: {count: 4}\n"
                   "  suppress: 2m\n  resolve_after: 10m\n" RULE_HDR(
                       "spray") "  group_by: [ip]\n  window: 5m\n"
                                "  distinct: {field: user, count: "
                                "4}\n" RULE_HDR("seq") "  group_by: [ip]\n  "
                                                       "window: 5m\n  "
                                                       "sequence: [fail, "
                                                       "ok]\n" RULE_HDR("quiet") "  group_by: [ip]\n  absence: {after: 20m}\n" RULE_HDR(
                                                           "nv") "  group_by: "
                                                                 "[user]\n  "
                                                                 "new_value: "
                                                                 "{field: ip, "
                                                                 "learn: "
                                                                 "30m}"
                                                                 "\n" RULE_HDR("rt") "  rate: {warmup: 20m, bucket: 1m, per_key: false}\n";

struct ev {
    const char *rule;
    int64_t t;
    char ip[16], user[16];
};

static void
gen_stream(struct ev *evs, size_t n, unsigned seed)
{
    static const char *const rules[] = { "fail",  "ok", "spray",
                                         "quiet", "nv", "rt" };
    int64_t t = T0;

    srand(seed);
    for (size_t i = 0; i < n; i++) {
        t += (rand() % 20) * S;
        evs[i].rule = rules[rand() % 6];
        /* up to 20 s out of order */
        evs[i].t = t - (rand() % 4 == 0 ? (rand() % 20) * S : 0);
        snprintf(evs[i].ip, sizeof(evs[i].ip), "ip=10.0.0.%d", rand() % 6);
        snprintf(evs[i].user, sizeof(evs[i].user), "user=u%d", rand() % 9);
    }
}

/* Feed evs[from, to). Before each event every engine is advanced to the
 * newest event time so far, as the daemon does for its shards, so shard
 * engines share one watermark. */
static void
run_stream(struct fx *f, const struct ev *evs, size_t from, size_t to)
{
    int64_t wm = INT64_MIN;

    for (size_t i = 0; i < from; i++)
        wm = evs[i].t > wm ? evs[i].t : wm;
    for (size_t i = from; i < to; i++) {
        char s[32];
        snprintf(s, sizeof(s), "ev%zu", i);
        if (wm != INT64_MIN)
            sn_corr_advance(f->c, wm);
        feed(f, evs[i].rule, evs[i].t, s, evs[i].ip, evs[i].user, NULL);
        wm = evs[i].t > wm ? evs[i].t : wm;
    }
}

/* A sequence step naming a rule with a correlation counts its signals:
 * "3 failures then a success", not "a failure then a success". */
SN_TEST(sequence_fed_by_signals)
{
    struct fx f;
    char want[256];

    CHECK(fx_open(&f, "rules:\n" RULE_HDR("brute") "  group_by: [ip]\n"
                      "  window: 2m\n  threshold: {count: 3}\n" RULE_HDR("ok")
                      RULE_HDR("then") "  group_by: [ip]\n  window: 10m\n"
                      "  sequence: [brute, ok]\n"));
    feed(&f, "brute", T0, "f1", "ip=1.2.3.4", NULL);
    feed(&f, "brute", T0 + S, "f2", "ip=1.2.3.4", NULL);
    feed(&f, "ok", T0 + 2 * S, "s1", "ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 0); /* two failures and a success: nothing */
    feed(&f, "brute", T0 + 3 * S, "f3", "ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 1); /* the threshold */
    feed(&f, "ok", T0 + 4 * S, "s2", "ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n, 2);
    CHECK(f.sigs.n == 2 && strstr(f.sigs.json[1], "\"rule\":\"then\"") &&
          strstr(f.sigs.json[1], "\"sequence\":[{\"step\":0,\"rule\":"
                                 "\"brute\"") &&
          strstr(f.sigs.json[1], "\"signal\":\"brute\""));
    /* The step's evidence is the signal in brief, as printf wrote it. */
    snprintf(want, sizeof(want),
             "\"summary\":{\"signal\":\"%s\",\"kind\":\"%s\","
             "\"count\":%llu,\"threshold\":%llu,\"first_ns\":%lld,"
             "\"last_ns\":%lld}",
             "brute", "threshold", 3ULL, 3ULL, (long long)T0,
             (long long)(T0 + 3 * S));
    CHECK(f.sigs.n == 2 && strstr(f.sigs.json[1], want) != NULL);
    if (f.sigs.n == 2 && strstr(f.sigs.json[1], want) == NULL)
        printf("# want %s in %s\n", want, f.sigs.json[1]);
    fx_close(&f);
}

SN_TEST(checkpoint_round_trip)
{
    enum { N = 3000 };
    static struct ev evs[N];
    struct fx a, b;
    struct sn_buf buf;
    struct sn_corr_config cfg = { 0 };

    gen_stream(evs, N, 42);
    CHECK(fx_open(&a, mix_yaml));
    CHECK(fx_open(&b, mix_yaml));
    for (size_t i = 0; i < a.set->n_specs; i++) {
        a.set->specs[i].lateness_ns = 30 * S;
        b.set->specs[i].lateness_ns = 30 * S;
    }
    run_stream(&a, evs, 0, N);

    run_stream(&b, evs, 0, N / 2);
    sn_buf_init(&buf, 64 << 20);
    CHECK_EQ(sn_corr_checkpoint(b.c, NULL, NULL, &buf), SN_OK);
    sn_corr_free(b.c);
    cfg.emit = on_signal;
    cfg.emit_arg = &b.sigs;
    b.c = sn_corr_new(b.set, &cfg);
    /* Corrupt input is refused without touching the engine. */
    CHECK_EQ(sn_corr_restore(b.c, buf.data, buf.len - 1), SN_EINVAL);
    CHECK_EQ(sn_corr_restore(b.c, "garbage", 7), SN_EINVAL);
    CHECK_EQ(sn_corr_restore(b.c, buf.data, buf.len), SN_OK);
    run_stream(&b, evs, N / 2, N);

    CHECK(a.sigs.n > 20);
    CHECK_EQ(a.sigs.n, b.sigs.n);
    for (size_t i = 0; i < a.sigs.n && i < b.sigs.n; i++)
        CHECK_STR(a.sigs.json[i], b.sigs.json[i]);
    /* Every kind produced something. */
    for (size_t k = 0; k < a.set->n_specs; k++) {
        struct sn_corr_rule_stats sa, sb;
        sn_corr_rule_stats(a.c, k, &sa);
        sn_corr_rule_stats(b.c, k, &sb);
        CHECK(sa.signals > 0);
        CHECK_EQ(sa.events, sb.events);
        CHECK_EQ(sa.late_dropped, sb.late_dropped);
        CHECK_EQ(sa.keys, sb.keys);
    }
    /* A second round trip gives the same bytes. */
    {
        struct sn_buf b1, b2;
        struct sn_corr *c2 = sn_corr_new(b.set, &cfg);
        sn_buf_init(&b1, 64 << 20);
        sn_buf_init(&b2, 64 << 20);
        CHECK_EQ(sn_corr_checkpoint(b.c, NULL, NULL, &b1), SN_OK);
        CHECK_EQ(sn_corr_restore(c2, b1.data, b1.len), SN_OK);
        CHECK_EQ(sn_corr_checkpoint(c2, NULL, NULL, &b2), SN_OK);
        CHECK_EQ(b1.len, b2.len);
        CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
        sn_buf_fini(&b1);
        sn_buf_fini(&b2);
        sn_corr_free(c2);
    }
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&b);
}

static bool
want_even(void *arg, const struct sn_corr_spec *s, uint64_t hash,
          const struct sn_corr_origin *o)
{
    (void)arg;
    (void)s;
    (void)o;
    return hash % 2 == 0;
}

SN_TEST(checkpoint_shards)
{
    enum { N = 2000 };
    static struct ev evs[N];
    struct fx a, s0, s1;
    struct sn_corr_config c0 = { .n_shards = 2, .shard = 0 };
    struct sn_corr_config c1 = { .n_shards = 2, .shard = 1 };
    struct sn_buf buf;

    gen_stream(evs, N, 7);
    CHECK(fx_open(&a, mix_yaml));
    CHECK(fx_open_cfg(&s0, mix_yaml, &c0));
    CHECK(fx_open_cfg(&s1, mix_yaml, &c1));
    for (size_t i = 0; i < a.set->n_specs; i++) {
        a.set->specs[i].lateness_ns = 30 * S;
        s0.set->specs[i].lateness_ns = 30 * S;
        s1.set->specs[i].lateness_ns = 30 * S;
    }
    s0.sigs.peer = &s1;
    s1.sigs.peer = &s0;
    run_stream(&a, evs, 0, N);
    /* Interleaved, as workers would: forwarded sequence feeds must not
     * arrive ahead of the peer's own stream. */
    for (size_t i = 0; i < N; i++) {
        run_stream(&s0, evs, i, i + 1);
        run_stream(&s1, evs, i, i + 1);
    }
    /* Two shards together see what one engine sees (the global rate rule
     * has one key, so it lives on one shard). */
    CHECK_EQ(a.sigs.n_firing, s0.sigs.n_firing + s1.sigs.n_firing);
    /* Shard 0's keys can be moved out alone. */
    sn_buf_init(&buf, 64 << 20);
    CHECK_EQ(sn_corr_checkpoint(s0.c, want_even, NULL, &buf), SN_OK);
    CHECK(buf.len > 16);
    /* Both shards saved and merged into one engine (det_rules' restart):
     * the per-rule counters are the sums; an engine that clears them
     * keeps its keys. */
    {
        struct sn_corr_config cm = { 0 };
        struct sn_corr *all = sn_corr_new(a.set, &cm);
        struct sn_corr *part = sn_corr_new(a.set, &cm);

        CHECK(all != NULL && part != NULL);
        sn_buf_reset(&buf);
        CHECK_EQ(sn_corr_checkpoint(s0.c, NULL, NULL, &buf), SN_OK);
        CHECK_EQ(sn_corr_restore(all, buf.data, buf.len), SN_OK);
        CHECK_EQ(sn_corr_restore(part, buf.data, buf.len), SN_OK);
        sn_buf_reset(&buf);
        CHECK_EQ(sn_corr_checkpoint(s1.c, NULL, NULL, &buf), SN_OK);
        CHECK_EQ(sn_corr_restore(all, buf.data, buf.len), SN_OK);
        for (size_t k = 0; k < a.set->n_specs; k++) {
            struct sn_corr_rule_stats x0, x1, m, p;
            sn_corr_rule_stats(s0.c, k, &x0);
            sn_corr_rule_stats(s1.c, k, &x1);
            sn_corr_rule_stats(all, k, &m);
            CHECK(x0.events + x1.events > 0);
            CHECK_EQ(m.events, x0.events + x1.events);
            CHECK_EQ(m.signals, x0.signals + x1.signals);
            CHECK_EQ(m.late_dropped, x0.late_dropped + x1.late_dropped);
            sn_corr_clear_stats(part);
            sn_corr_rule_stats(part, k, &p);
            CHECK_EQ(p.events, 0);
            CHECK_EQ(p.signals, 0);
            CHECK_EQ(p.keys, x0.keys);
        }
        sn_corr_free(all);
        sn_corr_free(part);
    }
    sn_buf_fini(&buf);
    fx_close(&a);
    fx_close(&s0);
    fx_close(&s1);
}

/* ---- property: threshold vs a brute-force reference ------------------- */

struct ref_sig {
    int key;
    int64_t first, last;
};

/* Direct transcription of docs/correlation.md for threshold: events older
 * than watermark - lateness are dropped; the rule fires when some n
 * events (in time order) span at most W; the window then restarts.
 * every_threshold: an event older than the key's last firing still
 * counts (for the next window: in time order it would have displaced the
 * fired window's newest). per_window (refire's default): the fired window
 * runs to its first event + W; a key's events up to then are absorbed
 * (update signals, not firings: this compares firings). */
static size_t
reference(const struct ev *evs, const int *keys, size_t n_ev, uint64_t n,
          int64_t w, int64_t late, bool per_window, struct ref_sig *out)
{
    static int64_t kept[8][4096];
    size_t nk[8] = { 0 }, n_out = 0;
    int64_t reset[8], until[8], wm = INT64_MIN;

    for (int k = 0; k < 8; k++)
        reset[k] = until[k] = INT64_MIN;
    for (size_t i = 0; i < n_ev; i++) {
        int k = keys[i];
        int64_t t = evs[i].t;
        size_t m;
        if (wm != INT64_MIN && t < wm - late)
            continue;
        if (t > wm)
            wm = t;
        if (until[k] != INT64_MIN) {
            if (t <= until[k])
                continue;
            if (reset[k] < until[k] + 1)
                reset[k] = until[k] + 1;
            until[k] = INT64_MIN;
        }
        if (t < reset[k] && per_window)
            continue;
        kept[k][nk[k]++] = t;
        m = nk[k];
        for (size_t a = 1; a < m; a++) /* insertion sort */
            for (size_t b = a; b > 0 && kept[k][b - 1] > kept[k][b]; b--) {
                int64_t x = kept[k][b];
                kept[k][b] = kept[k][b - 1];
                kept[k][b - 1] = x;
            }
        for (size_t a = 0; a + n <= m; a++) {
            if (kept[k][a + n - 1] - kept[k][a] <= w) {
                int64_t last = kept[k][a + n - 1];
                size_t keep = 0;
                out[n_out].key = k;
                out[n_out].first = kept[k][a];
                out[n_out].last = last;
                n_out++;
                if (per_window)
                    until[k] = kept[k][a] + w;
                for (size_t b = 0; b < m; b++)
                    if (kept[k][b] > (per_window ? until[k] : last))
                        kept[k][keep++] = kept[k][b];
                nk[k] = keep;
                if (last > reset[k])
                    reset[k] = last;
                break;
            }
        }
    }
    return n_out;
}

SN_TEST(threshold_matches_reference)
{
    enum { N = 1500 };
    static struct ev evs[N];
    static int keys[N];
    static struct ref_sig ref[N];
    struct fx f;
    const char *yaml = "rules:\n" RULE_HDR(
        "b") "  group_by: [ip]\n  window: 30s\n  threshold: {count: 4}\n";

    for (unsigned seed = 1; seed <= 40; seed++) {
        size_t n_ref, got = 0;
        int64_t t = T0;
        uint64_t count = 2 + seed % 5;
        int64_t late = (int64_t)(seed % 4) * 10 * S;
        bool same = true;

        srand(seed);
        for (size_t i = 0; i < N; i++) {
            t += (rand() % 8) * S;
            keys[i] = rand() % 5;
            evs[i].t = t - (rand() % 3 == 0 ? (rand() % 40) * S : 0);
        }
        n_ref = reference(evs, keys, N, count, 30 * S, late, seed % 2, ref);
        CHECK(fx_open(&f, yaml));
        spec(&f, "b")->refire_every = seed % 2 == 0;
        spec(&f, "b")->count = count;
        spec(&f, "b")->lateness_ns = late;
        for (size_t i = 0; i < N; i++) {
            char ip[16];
            size_t before = f.sigs.n_firing;
            snprintf(ip, sizeof(ip), "ip=%d", keys[i]);
            feed(&f, "b", evs[i].t, NULL, ip, NULL);
            if (f.sigs.n_firing != before) {
                if (got >= n_ref || ref[got].first != f.sigs.last.first_ns ||
                    ref[got].last != f.sigs.last.last_ns)
                    same = false;
                got++;
            }
            if (i % 100 == 0)
                sn_corr_advance(f.c, evs[i].t - late);
        }
        if (!same || got != n_ref)
            printf("#   seed %u: engine %zu signals, reference %zu\n", seed,
                   got, n_ref);
        CHECK(same);
        CHECK_EQ(got, n_ref);
        CHECK(n_ref > 0);
        fx_close(&f);
    }
}

/* ---- rule diagnostics --------------------------------------------------- */

static char *
diags_of(const char *yaml)
{
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_corr_set *set = NULL;
    struct sn_diags d;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);

    sn_diags_init(&d);
    if (sn_rules_src_add_mem(src, "bad.yaml", yaml, strlen(yaml), &d) ==
            SN_OK &&
        sn_ruleset_build(src, &rs, &d) == SN_OK)
        sn_corr_set_build(rs, &set, &d);
    sn_diags_print(&d, fp);
    fclose(fp);
    sn_corr_set_free(set);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
    return out;
}

SN_TEST(diagnostics)
{
    char *o = diags_of("rules:\n" RULE_HDR("fail-login") RULE_HDR(
        "a") "  window: 2m\n"
             "  threshold: {count: 5, cout: 3}\n"
             "  distinct: {field: u, count: 2}\n" RULE_HDR(
                 "b") "  sequence: [fail-logn, a]\n"
                      "  window: 5x\n" RULE_HDR(
                          "c") "  absence: {after: 5m}\n"
                               "  window: 1m\n" RULE_HDR(
                                   "d") "  group_by: [ip]\n"
                                        "  escalate: {after: 2, to: "
                                        "crtical}\n");

    CHECK(o != NULL);
    if (o == NULL)
        return;
    printf("%s", o);
    CHECK(strstr(o, "bad.yaml:11:25: error: rule \"a\": unknown key \"cout\" "
                    "in \"threshold\"; did you mean \"count\"?") != NULL);
    CHECK(strstr(o, "bad.yaml:12:3: error: rule \"a\": a rule has one "
                    "correlation: \"distinct\" conflicts with \"threshold\" "
                    "at line 11") != NULL);
    CHECK(strstr(o, "bad.yaml:17:14: error: rule \"b\": sequence step "
                    "\"fail-logn\" is not a rule id; did you mean "
                    "\"fail-login\"?") != NULL);
    CHECK(strstr(o, "bad.yaml:18:11: error: rule \"b\": \"window\": \"5x\" is "
                    "not a duration") != NULL);
    CHECK(strstr(o, "bad.yaml:24:11: error: rule \"c\": \"window\" does not "
                    "apply to absence; use \"absence.after\"") != NULL);
    /* group_by alone is allowed (it keys match signals); escalate is not. */
    CHECK(strstr(o, "bad.yaml:30:13: error: rule \"d\": correlation options "
                    "need one of threshold") != NULL);
    free(o);
}

/* refire: a bad value and a kind it does not apply to, each at its
 * file:line:col. */
SN_TEST(diagnostics_refire)
{
    char *o = diags_of(
        "rules:\n" RULE_HDR("a") "  window: 2m\n"
                                 "  threshold: {count: 5}\n"
                                 "  refire: per-window\n" RULE_HDR(
                                     "b") "  sequence: [a, a]\n  window: 1m\n"
                                          "  refire: per_window\n");

    CHECK(o != NULL);
    if (o == NULL)
        return;
    printf("%s", o);
    CHECK(strstr(o, "bad.yaml:8:11: error: rule \"a\": unknown refire "
                    "\"per-window\" (per_window, every_threshold); did you "
                    "mean \"per_window\"?") != NULL);
    CHECK(strstr(o, "bad.yaml:15:11: error: rule \"b\": \"refire\" applies "
                    "to threshold and distinct, not sequence") != NULL);
    free(o);
}

SN_TEST(parse_lateness_and_limits)
{
    /* Parsed straight from a mapping: load.c does not accept these keys
     * at rule level until its key list names them. */
    const char *y = "threshold: {count: 5}\nwindow: 2m\ngroup_by: [ip]\n"
                    "allowed_lateness: 30s\n"
                    "limits: {max_keys: 1000, max_events: 64}\n"
                    "samples: ignored\n";
    const char *bad = "rate: {bucket: 1m, warmup: 10m}\n"
                      "allowed_lateness: 10m\nlimits: {max_key: 3}\n";
    struct sn_yaml *doc = NULL;
    struct sn_diags d;
    struct sn_arena a;
    struct sn_rule r = { .id = "x", .file = "m.yaml", .line = 1, .col = 1 };
    struct sn_corr_spec s;
    const struct sn_pair *pairs[8];

    sn_diags_init(&d);
    sn_arena_init(&a, 4096, 0);
    CHECK_EQ(sn_yaml_load_mem("m.yaml", y, strlen(y), false, &doc, &d), SN_OK);
    for (size_t i = 0; doc && i < doc->docs[0]->n; i++)
        pairs[i] = &doc->docs[0]->pairs[i];
    CHECK_EQ(sn_corr_spec_parse(NULL, &r, pairs, doc->docs[0]->n, &a, &s, &d),
             SN_OK);
    CHECK_EQ(s.lateness_ns, 30 * S);
    CHECK_EQ(s.max_keys, 1000);
    CHECK_EQ(s.max_events, 64);
    CHECK_EQ(s.window_ns, 120 * S);
    sn_yaml_free(doc);

    CHECK_EQ(sn_yaml_load_mem("m.yaml", bad, strlen(bad), false, &doc, &d),
             SN_OK);
    for (size_t i = 0; doc && i < doc->docs[0]->n; i++)
        pairs[i] = &doc->docs[0]->pairs[i];
    CHECK_EQ(sn_corr_spec_parse(NULL, &r, pairs, doc->docs[0]->n, &a, &s, &d),
             SN_ECONFIG);
    sn_diags_print(&d, stdout);
    CHECK_EQ(d.n_errors, 2);
    sn_yaml_free(doc);
    sn_arena_fini(&a);
    sn_diags_fini(&d);
}

SN_TEST(rule_file_from_data)
{
    /* The sample correlation rules shipped for tests load cleanly. */
    const char *dir = getenv("SRCDIR");
    char path[4096];
    struct sn_rules_src *src = sn_rules_src_new();
    struct sn_ruleset *rs = NULL;
    struct sn_corr_set *set = NULL;
    struct sn_diags d;

    sn_diags_init(&d);
    snprintf(path, sizeof(path), "%s/tests/data/rules/correlate.yaml",
             dir ? dir : "..");
    CHECK_EQ(sn_rules_src_add_file(src, path, &d), SN_OK);
    CHECK_EQ(sn_ruleset_build(src, &rs, &d), SN_OK);
    CHECK(rs && sn_corr_set_build(rs, &set, &d) == SN_OK);
    sn_diags_print(&d, stdout);
    CHECK(set && set->n_specs == 6);
    sn_corr_set_free(set);
    sn_ruleset_free(rs);
    sn_rules_src_free(src);
    sn_diags_fini(&d);
}

/* Key bytes live inside the entry when short and on the heap when long;
 * entries recycled between long and short keys (max_keys 2 evicts) must
 * keep each key's identity, and a checkpoint must carry long keys. */
SN_TEST(long_and_short_keys_recycled)
{
    static const char *yaml =
        "rules:\n" RULE_HDR("brute") "  group_by: [user.name]\n"
                                      "  window: 2m\n  threshold: {count: 2}\n"
                                      "  limits: {max_keys: 2}\n";
    char lng[3][60];
    struct fx f, g;
    struct sn_buf buf;
    int64_t t = T0;

    for (int i = 0; i < 3; i++)
        snprintf(lng[i], sizeof(lng[i]),
                 "user.name=%c-a-user-name-longer-than-thirty-two-bytes", 'a' + i);
    CHECK(fx_open(&f, yaml));
    for (int round = 0; round < 4; round++) {
        /* Short, long, short, long...: each new key evicts the LRU tail. */
        feed(&f, "brute", t += S, "s", "user.name=bob", NULL);
        feed(&f, "brute", t += S, "l", lng[round % 3], NULL);
        feed(&f, "brute", t += S, "s2", "user.name=eve", NULL);
    }
    /* Two in a row of one key fire with that key, long or short. */
    sigs_clear(&f.sigs);
    feed(&f, "brute", t += S, "l", lng[1], NULL);
    feed(&f, "brute", t += S, "l", lng[1], NULL);
    CHECK_EQ(f.sigs.n, 1);
    CHECK(f.sigs.n == 1 && strstr(f.sigs.json[0], lng[1] + 10) != NULL);
    feed(&f, "brute", t += S, "s", "user.name=bob", NULL);
    CHECK_EQ(f.sigs.n, 1);
    feed(&f, "brute", t += S, "s", "user.name=bob", NULL);
    CHECK_EQ(f.sigs.n, 2);
    CHECK(f.sigs.n == 2 && strstr(f.sigs.json[1], "\"bob\"") != NULL);
    /* One event of a long key, checkpointed and restored: the second
     * event after the restore completes it. */
    feed(&f, "brute", t += S, "l", lng[2], NULL);
    sn_buf_init(&buf, 1 << 20);
    CHECK_EQ(sn_corr_checkpoint(f.c, NULL, NULL, &buf), SN_OK);
    CHECK(fx_open(&g, yaml));
    CHECK_EQ(sn_corr_restore(g.c, buf.data, buf.len), SN_OK);
    feed(&g, "brute", t += S, "l", lng[2], NULL);
    CHECK_EQ(g.sigs.n, 1);
    CHECK(g.sigs.n == 1 && strstr(g.sigs.json[0], lng[2] + 10) != NULL);
    sn_buf_fini(&buf);
    fx_close(&g);
    fx_close(&f);
}

/* ---- keys built by routing --------------------------------------------- */

/* An event as a test accessor: hostname (a header field) and one other
 * event field, "user.name". */
struct kev {
    const char *host, *user;
};

static bool
kev_get(void *ctx, int id, const char *name, size_t len, struct sn_value *v)
{
    const struct kev *e = ctx;
    const char *s = NULL;

    if (id == SN_RF_HOSTNAME)
        s = e->host;
    else if (len == 9 && memcmp(name, "user.name", 9) == 0)
        s = e->user;
    if (s == NULL)
        return false;
    memset(v, 0, sizeof(*v));
    v->type = SN_VAL_STR;
    v->u.s.ptr = s;
    v->u.s.len = strlen(s);
    return true;
}

/* Feeding a target with the key sn_corr_route_keys built must give what
 * feeding it without (the engine builds the key) gives: signals and
 * statistics; and the signals of sn_corr_feed. Keys that read a
 * non-header event field are not handed out. */
SN_TEST(routed_keys_feed_as_built)
{
    static const char *const yaml =
        "rules:\n" RULE_HDR("by-ip") "  group_by: [source.ip, hostname]\n"
        "  window: 1m\n  threshold: {count: 3}\n"
        RULE_HDR("by-user") "  group_by: [user.name]\n"
        "  window: 1m\n  distinct: {field: source.ip, count: 2}\n"
        RULE_HDR("by-host") "  group_by: [hostname]\n"
        "  rate: {k: 1, warmup: 1m, bucket: 10s}\n";
    static const char *const rules[] = { "by-ip", "by-user", "by-host" };
    static const char *const hosts[] = { "web1", "web2", NULL };
    static const char *const ips[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };
    static const char *const users[] = { "root", "admin", NULL };
    struct fx a, b, c;
    struct sn_buf keys;
    size_t n_keyed = 0, n_unkeyed = 0;

    CHECK(fx_open(&a, yaml) && fx_open(&b, yaml) && fx_open(&c, yaml));
    sn_buf_init(&keys, 1 << 20);
    for (int i = 0; i < 600; i++) {
        struct kev e = { hosts[i % 3], users[(i / 3) % 3] };
        struct sn_rule_event ev = { &e, kev_get };
        struct sn_rule_field_value fv[1];
        struct sn_corr_input in = { 0 };
        struct sn_corr_target tg[4];
        size_t n;

        memset(fv, 0, sizeof(fv));
        fv[0].name = "source.ip";
        fv[0].name_len = 9;
        fv[0].v.type = SN_VAL_STR;
        fv[0].v.u.s.ptr = ips[(i / 7) % 3];
        fv[0].v.u.s.len = strlen(fv[0].v.u.s.ptr);
        in.fields = fv;
        in.n_fields = i % 11 == 0 ? 0 : 1; /* sometimes no address */
        in.ev = &ev;
        in.time_ns = in.arrival_ns = T0 + (int64_t)i * 2 * S;
        in.summary = "s";
        in.summary_len = 1;

        in.rule = sn_ruleset_find(a.rs, rules[i % 3]);
        sn_corr_feed(a.c, &in);

        in.rule = sn_ruleset_find(b.rs, rules[i % 3]);
        sn_buf_reset(&keys);
        n = sn_corr_route_keys(b.set, &in, tg, 4, &keys);
        for (size_t k = 0; k < n && k < 4; k++) {
            struct sn_corr_input x = in;
            if (tg[k].has_key) {
                x.key = keys.data + tg[k].key_off;
                x.key_len = tg[k].key_len;
                n_keyed++;
            } else {
                n_unkeyed++;
            }
            CHECK_EQ(sn_corr_feed_target(b.c, &x, &tg[k]), SN_OK);
            x.key = NULL;
            x.key_len = 0;
            x.rule = sn_ruleset_find(c.rs, rules[i % 3]);
            CHECK_EQ(sn_corr_feed_target(c.c, &x, &tg[k]), SN_OK);
        }
    }
    CHECK(n_keyed > 100 && n_unkeyed > 100);
    CHECK(a.sigs.n > 20);
    CHECK_EQ(a.sigs.n, b.sigs.n);
    CHECK_EQ(c.sigs.n, b.sigs.n);
    for (size_t i = 0; i < a.sigs.n && i < b.sigs.n && i < c.sigs.n; i++) {
        CHECK(strcmp(a.sigs.json[i], b.sigs.json[i]) == 0);
        CHECK(strcmp(c.sigs.json[i], b.sigs.json[i]) == 0);
    }
    for (size_t i = 0; i < b.set->n_specs; i++) {
        struct sn_corr_rule_stats sb, sc;
        sn_corr_rule_stats(b.c, i, &sb);
        sn_corr_rule_stats(c.c, i, &sc);
        CHECK(memcmp(&sb, &sc, sizeof(sb)) == 0);
    }
    sn_buf_fini(&keys);
    fx_close(&a);
    fx_close(&b);
    fx_close(&c);
}

/* sn_corr_shard skips the division for powers of two: the same shard as
 * hash % n for every count. */
SN_TEST(shard_is_hash_mod_n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    unsigned bad = 0;

    for (int i = 0; i < 10000; i++) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        for (uint64_t n = 1; n <= 17; n++)
            bad += sn_corr_shard(h, n) != h % n;
    }
    CHECK_EQ(bad, 0);
}

/* An event of weight N (rsyslog's "message repeated N times") counts N:
 * the window sums weights, the signal's count is the sum, and the window
 * still restarts after firing. */
SN_TEST(threshold_weighted)
{
    struct fx f;

    CHECK(fx_open(&f, th_yaml));
    feed_weight = 2;
    feed(&f, "brute", T0, "w2", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n_firing, 0);
    feed_weight = 0;
    feed(&f, "brute", T0 + 10 * S, "e1", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    CHECK_EQ(f.sigs.last.count, 3);
    CHECK_EQ(f.sigs.last.threshold, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0);
    CHECK_EQ(f.sigs.last.last_ns, T0 + 10 * S);
    /* Absorbed by the fired window (refire per_window). */
    feed(&f, "brute", T0 + 11 * S, "e2", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    /* Weight outside the window does not count: 1 at +11s, 2 at +200s. */
    feed_weight = 2;
    feed(&f, "brute", T0 + 200 * S, "w2b", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n_firing, 1);
    feed_weight = 0;
    feed(&f, "brute", T0 + 201 * S, "e3", "source.ip=1.2.3.4", NULL);
    CHECK_EQ(f.sigs.n_firing, 2);
    CHECK_EQ(f.sigs.n, 3); /* and the update of e2 */
    CHECK_EQ(f.sigs.last.count, 3);
    CHECK_EQ(f.sigs.last.first_ns, T0 + 200 * S);
    /* One summary over the threshold fires on its own, count = weight. */
    feed_weight = 7;
    feed(&f, "brute", T0 + 300 * S, "w7", "source.ip=5.6.7.8", NULL);
    feed_weight = 0;
    CHECK_EQ(f.sigs.n_firing, 3);
    CHECK_EQ(f.sigs.last.count, 7);
    fx_close(&f);
}

/* Runs last: every signal the tests above raised (all kinds and states,
 * sequences' steps, new values, rate baselines) went through a capture. */
SN_TEST(captured_signals_render_the_same)
{
    CHECK(capture_checked > 50);
    CHECK_EQ(capture_mismatch, 0);
}

SN_TEST_MAIN(SN_T(long_and_short_keys_recycled),
             SN_T(threshold_fires_and_restarts), SN_T(sequence_fed_by_signals),
             SN_T(threshold_json_shape), SN_T(threshold_sliding_window),
             SN_T(threshold_every_threshold),
             SN_T(threshold_late_match_of_fired_window), SN_T(diagnostics_refire),
             SN_T(refire_per_window_advance_and_distinct),
             SN_T(refire_update_interval), SN_T(updates_do_not_feed_sequences),
             SN_T(refire_update_survives_checkpoint),
             SN_T(lateness_and_out_of_order), SN_T(event_time_fallback),
             SN_T(suppression_and_escalation), SN_T(resolve_after),
             SN_T(distinct), SN_T(sequence), SN_T(sequence_out_of_order),
             SN_T(absence), SN_T(absence_expected_by_partition),
             SN_T(absence_by_the_hops_watermark),
             SN_T(expected_keys_timed_from_their_stream), SN_T(rate), SN_T(rate_min_count),
             SN_T(new_value),
             SN_T(eviction_degraded), SN_T(per_key_event_bound),
             SN_T(checkpoint_round_trip), SN_T(checkpoint_shards),
             SN_T(partitions_catch_up_in_chunks),
             SN_T(threshold_matches_reference), SN_T(diagnostics),
             SN_T(parse_lateness_and_limits), SN_T(rule_file_from_data),
             SN_T(routed_keys_feed_as_built), SN_T(shard_is_hash_mod_n),
             SN_T(threshold_weighted), SN_T(lazy_summary_only_for_kept_events),
             SN_T(captured_signals_render_the_same))
