/*
 * sn_fold_scan (one pass over a signal's text) against sn_fold_prepare
 * (json-c): for the signals the rules engine writes (sn_signal_json) with
 * secrets, escapes and non-ASCII in their evidence, key and trace, and
 * for hand-changed variants, both must give the same struct sn_fold_sig
 * byte for byte, or the scan must decline (and prepare decide).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "incident/fold.h"
#include "incident/fold_scan.h"
#include "incident/scrub.h"
#include "sn_test.h"

static bool
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Both paths over json: 1 when the scan took it and agrees, 0 when it
 * declined, -1 (with the difference printed) when they differ. */
static int
compare_one(struct sn_fold_scan *shared, struct sn_scrub *scrub,
            const char *json, bool defer)
{
    struct json_tokener *tok = json_tokener_new_ex(32);
    struct sn_fold_scan own, *fs = shared ? shared : &own;
    struct sn_fold_sig a, b;
    struct sn_error err;
    enum sn_status ra, rb;
    int res = 1;

    if (shared == NULL)
        sn_fold_scan_init(&own);
    ra = sn_fold_scan(fs, scrub, json, strlen(json), defer, &a);
    /* Deferred: rendered later, as the fold does when it writes. */
    if (ra == SN_OK && defer && a.state == SN_SIG_FIRING) {
        if (a.expl != NULL || a.raw == NULL)
            res = -1;
        if (sn_fold_scan_expl(fs, scrub, &a) != SN_OK || a.raw != NULL)
            res = -1;
    }
    rb = sn_fold_prepare(tok, scrub, json, strlen(json), &b, &err);
    if (ra == SN_DECLINED)
        res = 0;
    else if (ra != rb)
        res = -1;
    else if (ra == SN_OK && res == 1) {
#define DIFF(cond, what)                                                       \
    if (!(cond)) {                                                             \
        printf("#   %s differs\n", what);                                      \
        res = -1;                                                              \
    }
        DIFF(same_str(a.rule, b.rule), "rule");
        DIFF(same_str(a.gk, b.gk), "group key");
        DIFF(a.hash == b.hash, "hash");
        DIFF(a.state == b.state && a.sev == b.sev && a.base == b.base,
             "state or severity");
        DIFF(a.when == b.when && a.first == b.first && a.last == b.last &&
                 a.count == b.count && a.quiet_ms == b.quiet_ms &&
                 a.coalesced == b.coalesced,
             "times, count or coalesced");
        DIFF(same_str(a.title, b.title), "title");
        DIFF(same_str(a.description, b.description), "description");
        DIFF(same_str(a.tags, b.tags), "tags");
        DIFF(same_str(a.expl, b.expl) && a.expl_len == b.expl_len,
             "explanation");
        DIFF(same_str(a.src_input, b.src_input) &&
                 same_str(a.src_topic, b.src_topic) &&
                 a.src_part == b.src_part && a.src_offset == b.src_offset,
             "source");
        DIFF(a.n_items == b.n_items, "item count");
        for (size_t i = 0; i < a.n_items && i < b.n_items; i++)
            DIFF(a.items[i].len == b.items[i].len &&
                     memcmp(a.items[i].p, b.items[i].p, a.items[i].len) == 0,
                 "evidence item");
#undef DIFF
        if (res < 0)
            printf("#   scan:    %s\n#   prepare: %s\n", a.expl ? a.expl : "-",
                   b.expl ? b.expl : "-");
    }
    if (ra == SN_OK)
        sn_fold_sig_fini(&a);
    if (rb == SN_OK)
        sn_fold_sig_fini(&b);
    if (shared == NULL)
        sn_fold_scan_fini(&own);
    json_tokener_free(tok);
    return res;
}

/* Both ways (explanation at once, and deferred): 1 when both agree with
 * prepare, 0 when both declined, -1 otherwise. */
static int
compare(struct sn_fold_scan *shared, struct sn_scrub *scrub, const char *json)
{
    int now = compare_one(shared, scrub, json, false);
    int later = compare_one(shared, scrub, json, true);

    return now == later ? now : -1;
}

#include "fold_scan_sig.h"

SN_TEST(engine_signals_agree)
{
    static const char *const summaries[] = {
        "{\"host\":\"bastion\",\"msg\":\"Failed password for root from "
        "203.0.113.9 port 22\",\"fields\":{\"source.ip\":\"203.0.113.9\"}}",
        "{\"msg\":\"card 4111 1111 1111 1111 phone +1 415 555 0100 "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU\","
        "\"password\":\"hunter2\",\"api_token\":\"t0k3n\","
        "\"nested\":{\"client_secret\":[\"a\",\"b\"]}}",
        "{\"msg\":\"ctl \\u0001\\u001f tab\\t nl\\n slash / quote \\\" "
        "bs \\\\ caf\\u00e9 \\u20ac \xc3\xa9 \xe2\x82\xac\"}",
        "{\"host.name\":\"keep bob@example.org\",\"time\":\"already\","
        "\"list\":[1,2.50,-3,true,null,{\"pwd\":\"x\"}]}",
        "{}",
    };
    static const int states[] = { SN_SCAN_FIRING, SN_SCAN_RESOLVED,
                                  SN_SCAN_UPDATE };
    static const char *const keys[] = { "203.0.113.9", "a\\b\"c/d\x01" };
    /* A second scrubber that redacts what the first leaves: the memo
     * must not answer for it. */
    const char *pats[] = { "bastion", "Failed \\w+" };
    struct sn_strlist pl = { 2, pats };
    struct sn_scrub *scrub = NULL, *other = NULL, *use[3];
    struct sn_error err;
    struct sn_buf b;
    struct sn_fold_scan fs;

    /* One scan state throughout, as a thread has: its memo of clean
     * texts sees each text again, with and without the scrubber. */
    sn_fold_scan_init(&fs);
    sn_buf_init(&b, 1 << 20);
    CHECK_EQ(sn_scrub_new(NULL, NULL, &scrub, &err), SN_OK);
    CHECK_EQ(sn_scrub_new(&pl, NULL, &other, &err), SN_OK);
    use[0] = NULL;
    use[1] = scrub;
    use[2] = other;
    for (size_t i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++)
        for (size_t j = 0; j < sizeof(states) / sizeof(states[0]); j++)
            for (size_t k = 0; k < 2; k++)
                for (int sc = 0; sc < 5; sc++) {
                    sn_test_engine_signal(&b, states[j], summaries[i], keys[k],
                                          k == 0);
                    /* none, first, first again, other, first */
                    struct sn_scrub *with = use[sc < 3    ? (sc + 1) / 2
                                                : sc == 3 ? 2
                                                          : 1];
                    if (compare(&fs, with, b.data) != 1) {
                        printf("#   case %zu/%zu/%zu/%d: %s\n", i, j, k, sc,
                               b.data);
                        CHECK(0);
                    }
                }
    sn_fold_scan_fini(&fs);
    sn_scrub_free(scrub);
    sn_scrub_free(other);
    sn_buf_fini(&b);
}

/* Variants a third-party detector may send: the scan takes what it can
 * read exactly as json-c does and declines the rest. */
SN_TEST(variants_agree_or_decline)
{
    static const struct {
        const char *json;
        int want; /* 1: taken and equal; 0: declined */
    } cases[] = {
        { " { \"rule\" : \"r\", \"key\" : { \"a\" : 1 } , \"evidence\" : "
          "[ {\"time_ns\":5,\"m\":\"x\"}, 3, \"s\" ] , \"title\":\"t\", "
          "\"tags\":[\"a\",\"b\"], \"quiet_ms\":100 } ",
          1 },
        { "{\"rule\":\"r\",\"key\":[1],\"window\":{\"count\":0}}", 1 },
        { "{\"rule\":\"r\",\"state\":\"resolved\"}", 1 },
        /* A coalesced match signal (det_rules), and a bad count of it. */
        { "{\"rule\":\"r\",\"kind\":\"match\",\"repeat\":3,"
          "\"coalesced\":3,\"window\":{\"count\":3,\"threshold\":1}}",
          1 },
        { "{\"rule\":\"r\",\"coalesced\":0}", 1 },
        { "{\"rule\":\"r\",\"coalesced\":2.5}", 0 },
        { "{\"rule\":\"r\",\"source\":{\"input\":\"i\",\"topic\":\"t\","
          "\"partition\":-1}}",
          1 },
        { "{\"rule\":\"r\",\"title\":\"x\",\"password\":\"p\","
          "\"description\":\"mail bob@example.org\"}",
          1 },
        /* Escapes and a raw control byte past the first eight bytes
         * of a string (the reader skips eight at a time). */
        { "{\"rule\":\"r\",\"m\":\"0123456789abcdefghij\\\"k\\u00e9 "
          "password=x\"}",
          1 },
        { "{\"rule\":\"r\",\"m\":\"0123456789abcdefghij\x01k\"}", 0 },
        { "{\"rule\":\"r\",\"state\":\"degraded\"}", 0 },
        { "{\"rule\":\"r\",\"sequence\":[]}", 0 },
        { "{\"rule_id\":\"r\"}", 0 },
        { "{\"rule\":\"r\",\"time_ns\":1.5}", 0 },
        { "{\"rule\":\"r\",\"a\":1,\"a\":2}", 0 },
        { "{\"rule\":\"r\",\"m\":\"\\ud83d\\ude00\"}", 0 },
        { "{\"rule\":\"r\",\"n\":99999999999999999999}", 0 },
        { "{\"rule\":\"r\"", 0 },
        { "[1]", 0 },
        { "{\"type\":\"other\",\"rule\":\"r\"}", 0 },
        { "{\"rule\":\"r\",\"state\":\"bogus\"}", 0 },
    };
    struct sn_scrub *scrub = NULL;
    struct sn_error err;

    CHECK_EQ(sn_scrub_new(NULL, NULL, &scrub, &err), SN_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = compare(NULL, scrub, cases[i].json);
        if (got != cases[i].want) {
            printf("#   case %zu (%s): got %d, want %d\n", i, cases[i].json,
                   got, cases[i].want);
            CHECK(0);
        }
    }
    sn_scrub_free(scrub);
}

/* compare() over every text of a generated family; want: 1 taken and
 * equal, 0 declined, -1 either (but never a difference). */
static void
expect(int *sn_failed_, struct sn_scrub *scrub, const char *json, int want)
{
    int got = compare(NULL, scrub, json);

    if (got < 0 || (want >= 0 && got != want)) {
        printf("#   got %d, want %d: %.300s\n", got, want, json);
        CHECK(0);
    }
}
#define EXPECT(json, want) expect(sn_failed_, scrub, (json), (want))

static void
put(struct sn_buf *b, const char *s)
{
    sn_buf_append(b, s, strlen(s));
}

/* What the one-pass reader takes apart: nesting at and past its depth,
 * strings around its 16- and 8-byte steps with and without escapes,
 * scrubbed and kept strings reached at several levels, names checked
 * for duplicates by a bitmask first, ints at 64 bits' edge, and more
 * objects and arrays than it records (the rest validated again). */
SN_TEST(reader_edges_agree)
{
    struct sn_scrub *scrub = NULL;
    struct sn_error err;
    struct sn_buf b;

    CHECK_EQ(sn_scrub_new(NULL, NULL, &scrub, &err), SN_OK);
    sn_buf_init(&b, 1 << 20);

    /* Nesting d deep (objects and arrays in turn) in the trace and in
     * an evidence item, around the reader's depth (16): taken well
     * within it, declined past it, never different. */
    for (int d = 1; d <= 40; d++) {
        int want = d <= 12 ? 1 : d >= 18 ? 0 : -1;
        for (int where = 0; where < 2; where++) {
            sn_buf_reset(&b);
            put(&b, "{\"rule\":\"r\",");
            put(&b, where ? "\"evidence\":[{\"time_ns\":7,\"x\":"
                                 : "\"trace\":");
            for (int i = 0; i < d; i++)
                put(&b, i % 2 ? "[" : "{\"password\":\"p\",\"k\":");
            put(&b, "\"mail bob@example.org\"");
            for (int i = d - 1; i >= 0; i--)
                put(&b, i % 2 ? ",12]" : ",\"n\":-12}");
            put(&b, where ? "}]}" : "}");
            sn_buf_cstr(&b);
            EXPECT(b.data, want);
        }
        sn_buf_reset(&b);
        put(&b, "{\"rule\":\"r\",\"trace\":");
        for (int i = 0; i < d; i++)
            put(&b, "[\"s\",");
        put(&b, "\"password=hunter2\"");
        for (int i = 0; i < d; i++)
            put(&b, "]");
        put(&b, ",\"evidence\":[{\"time_ns\":7,\"m\":");
        for (int i = 0; i < d; i++)
            put(&b, "{\"token\":\"t\",\"n\":");
        put(&b, "\"bob@example.org\"");
        for (int i = 0; i < d; i++)
            put(&b, "}");
        put(&b, "}]}");
        sn_buf_cstr(&b);
        EXPECT(b.data, want);
    }

    /* Escapes, raw control bytes and plain text around every offset of
     * the reader's 16- and 8-byte steps, in a value, an evidence string
     * (scrubbed) and a name. */
    static const char *const marks[] = { "\\\"", "\\\\", "\\/", "\\n",
                                         "\\u00e9", "\\u20ac", "\\u0001",
                                         "\xc3\xa9", "\x01", "\\u0000" };
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++)
        for (int at = 0; at < 40; at++) {
            bool bad = marks[m][0] == '\x01' || strcmp(marks[m], "\\u0000") == 0;
            char pad[48];
            memset(pad, 'a', (size_t)at);
            pad[at] = '\0';
            sn_buf_reset(&b);
            put(&b, "{\"rule\":\"r\",\"description\":\"");
            sn_buf_append(&b, pad, (size_t)at);
            sn_buf_append(&b, marks[m], strlen(marks[m]));
            put(&b, "tail\",\"evidence\":[{\"time_ns\":7,\"m\":\"");
            sn_buf_append(&b, pad, (size_t)at);
            sn_buf_append(&b, marks[m], strlen(marks[m]));
            put(&b, " bob@example.org\"}]}");
            sn_buf_cstr(&b);
            EXPECT(b.data, bad ? 0 : 1);
            /* In a name: an escape is declined, plain text taken. */
            sn_buf_reset(&b);
            put(&b, "{\"rule\":\"r\",\"trace\":{\"");
            sn_buf_append(&b, pad, (size_t)at);
            sn_buf_append(&b, marks[m], strlen(marks[m]));
            put(&b, "\":1}}");
            sn_buf_cstr(&b);
            EXPECT(b.data, (unsigned char)marks[m][0] >= 0x80 ? 1 : 0);
        }

    /* Scrubbed and kept strings at several levels; secret names at
     * several levels; the same texts again (the memo of clean texts). */
    for (int again = 0; again < 2; again++) {
        EXPECT("{\"rule\":\"r\",\"title\":\"t bob@example.org\","
               "\"key\":{\"user.name\":\"bob@example.org\",\"n\":{\"pwd\":"
               "\"keep\"}},\"evidence\":{\"first\":[{\"time_ns\":5,"
               "\"summary\":{\"host.name\":\"bob@example.org\",\"m\":"
               "\"bob@example.org\",\"fields\":{\"source.ip\":\"10.0.0.1 "
               "bob@example.org\",\"api_token\":\"t\",\"l\":[\"Bearer "
               "abcdefghijklmnop\",{\"secret\":[\"a\"],\"password\":\"p\"}]"
               "}}}],\"last\":[{\"time_ns\":6,\"m\":\"plain\"}]},"
               "\"trace\":{\"steps\":[{\"actual\":\"bob@example.org\","
               "\"client_secret\":\"s\"}]}}",
               1);
    }

    /* Ints at 64 bits' edge: taken while they fit, declined after. */
    EXPECT("{\"rule\":\"r\",\"time_ns\":9223372036854775807}", 1);
    EXPECT("{\"rule\":\"r\",\"n\":-9223372036854775808}", 1);
    EXPECT("{\"rule\":\"r\",\"n\":[-0,0,1714557600003000000]}", 1);
    EXPECT("{\"rule\":\"r\",\"n\":9223372036854775808}", 0);
    EXPECT("{\"rule\":\"r\",\"n\":-9223372036854775809}", 0);
    EXPECT("{\"rule\":\"r\",\"time_ns\":09}", 0);

    /* Names alike in length and ends (one bit of the bitmask): all
     * different is taken, one twice anywhere is declined. */
    for (int dup = -1; dup < 40; dup += 13) {
        sn_buf_reset(&b);
        put(&b, "{\"rule\":\"r\",\"trace\":{");
        for (int i = 0; i < 40; i++) {
            char nm[32];
            snprintf(nm, sizeof(nm), "%s\"a%02db\":%d", i ? "," : "", i, i);
            sn_buf_append(&b, nm, strlen(nm));
        }
        if (dup >= 0) {
            char nm[32];
            snprintf(nm, sizeof(nm), ",\"a%02db\":0", dup);
            sn_buf_append(&b, nm, strlen(nm));
        }
        put(&b, "}}");
        sn_buf_cstr(&b);
        EXPECT(b.data, dup < 0 ? 1 : 0);
    }
    EXPECT("{\"rule\":\"r\",\"evidence\":[{\"time_ns\":1,\"m\":"
                  "{\"a\":1,\"b\":{\"a\":2},\"a\":3}}]}",
           0);

    /* More objects and arrays than the reader records, before what it
     * reads again (window, source, evidence): those are validated
     * again, with the same result. */
    for (int n = 250; n <= 270; n += 10) {
        sn_buf_reset(&b);
        put(&b, "{\"rule\":\"r\",\"trace\":[");
        for (int i = 0; i < n; i++)
            put(&b, i ? ",{}" : "{}");
        put(&b, "],\"window\":{\"count\":3,\"first_ns\":1,\"last_ns\":2},"
                       "\"source\":{\"input\":\"i\",\"topic\":\"t\","
                       "\"partition\":1,\"offset\":9},\"evidence\":{"
                       "\"first\":[{\"time_ns\":1,\"m\":[{},[]],"
                       "\"x\":\"bob@example.org\"}],\"last\":[[1],\"s\"]}}");
        sn_buf_cstr(&b);
        EXPECT(b.data, 1);
    }

    sn_buf_fini(&b);
    sn_scrub_free(scrub);
}

/* A rule's title, description and tags, remembered per thread by their
 * raw text and copied when they come again: every value seen a second
 * time, under each scrubber in turn (the memo answers for one), the
 * same text as title and as description, values past the longest
 * remembered, and more distinct titles than the memo has slots. */
SN_TEST(fixed_fields_agree)
{
    static const char *const texts[] = {
        "\"sudo to root\"",
        "\"mail bob@example.org from bastion\"",
        "\"quote \\\" tab\\t caf\\u00e9 \\u20ac password=hunter2\"",
        "\"Failed password for root\"",
        "\"\"",
    };
    static const char *const tags[] = {
        "[\"attack.t1548\",\"bastion\"]",
        "[\"bob@example.org\",{\"password\":\"x\"},1,null]",
        "[]",
        "\"not a list\"",
    };
    const char *pats[] = { "bastion", "Failed \\w+" };
    struct sn_strlist pl = { 2, pats };
    struct sn_scrub *scrub = NULL, *other = NULL, *use[3];
    struct sn_error err;
    struct sn_buf b, big;
    struct sn_fold_scan fs;
    size_t nt = sizeof(texts) / sizeof(texts[0]);

    sn_fold_scan_init(&fs);
    sn_buf_init(&b, 1 << 20);
    sn_buf_init(&big, 1 << 20);
    CHECK_EQ(sn_scrub_new(NULL, NULL, &scrub, &err), SN_OK);
    CHECK_EQ(sn_scrub_new(&pl, NULL, &other, &err), SN_OK);
    use[0] = scrub;
    use[1] = other;
    use[2] = NULL;
    /* Longer than the memo keeps (SN_FOLD_MEMO_TEXT), with a secret. */
    put(&big, "\"");
    for (int i = 0; i < 700; i++)
        put(&big, "bastion ");
    put(&big, "bob@example.org\"");
    for (int sc = 0; sc < 7; sc++)
        for (size_t i = 0; i < nt + 1; i++)
            for (size_t j = 0; j < nt; j++)
                for (int again = 0; again < 2; again++) {
                    const char *title = i < nt ? texts[i] : big.data;
                    sn_buf_reset(&b);
                    sn_buf_printf(&b,
                                  "{\"rule\":\"r%d\",\"title\":%s,"
                                  "\"description\":%s,\"tags\":%s,"
                                  "\"m\":\"x\"}",
                                  (int)(j % 2), title, texts[j],
                                  tags[(i + j) % 4]);
                    /* default, other, default, none, ... */
                    int with = sc % 2 == 0 ? 0 : sc % 3 ? 1 : 2;
                    int got = compare(&fs, use[with], b.data);
                    /* (the scan may decline the long one, never differ) */
                    if (got != 1 && (i < nt || got != 0)) {
                        printf("#   got %d, scrubber %d: %.300s\n", got, sc,
                               b.data);
                        CHECK(0);
                    }
                }
    /* More distinct titles than slots, each twice: slots are taken
     * over, and an older title is read again after it was. */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3 * SN_FOLD_FIXED; i++)
            for (int again = 0; again < 2; again++) {
                sn_buf_reset(&b);
                sn_buf_printf(&b,
                              "{\"rule\":\"r\",\"title\":\"t%d bastion\","
                              "\"description\":\"d%d\",\"tags\":[\"%d\"]}",
                              i, i % 7, i % 5);
                if (compare(&fs, use[round], b.data) != 1) {
                    printf("#   %.300s\n", b.data);
                    CHECK(0);
                }
            }
    sn_fold_scan_fini(&fs);
    sn_scrub_free(scrub);
    sn_scrub_free(other);
    sn_buf_fini(&b);
    sn_buf_fini(&big);
}

/* Member names as the scrubber judges them (kept, secret, neither),
 * remembered per thread: one reader used in turn with a scrubber that
 * keeps "msg" and one that does not, names longer than it remembers,
 * and more distinct names than its slots, each read twice. */
SN_TEST(names_agree)
{
    static const char *const names[] = {
        "msg",
        "password",
        "api_token",
        "user.password",
        "Authorization",
        "host",
        "appname",
        "a_name_longer_than_the_forty_bytes_it_remembers_password",
        "a_name_longer_than_the_forty_bytes_it_remembers_msg_x",
    };
    const char *keep[] = { "msg", "a_name_longer_than_the_forty_bytes_"
                                  "it_remembers_msg_x" };
    struct sn_strlist kl = { 2, keep };
    struct sn_scrub *plain = NULL, *keeps = NULL, *use[2];
    struct sn_error err;
    struct sn_buf b;
    struct sn_fold_scan fs;
    size_t nn = sizeof(names) / sizeof(names[0]);

    sn_fold_scan_init(&fs);
    sn_buf_init(&b, 1 << 20);
    CHECK_EQ(sn_scrub_new(NULL, NULL, &plain, &err), SN_OK);
    CHECK_EQ(sn_scrub_new(NULL, &kl, &keeps, &err), SN_OK);
    use[0] = plain;
    use[1] = keeps;
    for (int round = 0; round < 4; round++)
        for (size_t i = 0; i < nn; i++) {
            sn_buf_reset(&b);
            sn_buf_printf(&b,
                          "{\"rule\":\"r\",\"evidence\":[{\"time_ns\":1,"
                          "\"%s\":\"mail bob@example.org password=x\","
                          "\"n\":{\"%s\":\"hunter2\",\"k\":[\"%s\"]}}],"
                          "\"trace\":{\"%s\":\"bob@example.org\"}}",
                          names[i], names[(i + 1) % nn], names[i],
                          names[(i + 2) % nn]);
            if (compare(&fs, use[round % 2], b.data) != 1) {
                printf("#   scrubber %d: %.300s\n", round % 2, b.data);
                CHECK(0);
            }
        }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3 * SN_FOLD_NAMES; i++) {
            sn_buf_reset(&b);
            sn_buf_printf(&b,
                          "{\"rule\":\"r\",\"evidence\":[{\"time_ns\":1,"
                          "\"f%d_token\":\"x\",\"g%d\":\"bob@example.org\"}]}",
                          i, i);
            if (compare(&fs, use[round], b.data) != 1) {
                printf("#   %.300s\n", b.data);
                CHECK(0);
            }
        }
    sn_fold_scan_fini(&fs);
    sn_scrub_free(plain);
    sn_scrub_free(keeps);
    sn_buf_fini(&b);
}

SN_TEST_MAIN(SN_T(engine_signals_agree), SN_T(variants_agree_or_decline),
             SN_T(reader_edges_agree), SN_T(fixed_fields_agree),
             SN_T(names_agree))
