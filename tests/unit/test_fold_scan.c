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
                 a.count == b.count && a.quiet_ms == b.quiet_ms,
             "times or count");
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

SN_TEST_MAIN(SN_T(engine_signals_agree), SN_T(variants_agree_or_decline))
