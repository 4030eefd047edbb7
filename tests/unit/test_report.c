/*
 * incident/report.c's arithmetic on lifecycles built here: nearest-rank
 * percentiles, grouping (unassigned owner first), ISO-week buckets, top
 * sources and shares. The figures from real daemon runs are checked by
 * tests/integration/reports.sh; these pin the definitions of
 * docs/reports.md at their edges (one value, ties, a Sunday), and the
 * review from another store's document.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "incident/report.h"
#include "incident/review.h"
#include "sn_test.h"

/* 2026-12-06 00:00:00 UTC, a Sunday. */
#define SUNDAY (1796515200LL * SN_NS_PER_SEC)

SN_TEST(percentile_nearest_rank)
{
    const int64_t one[] = { 7 }, ten[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    const int64_t four[] = { 10, 20, 30, 40 };

    CHECK_EQ(sn_report_percentile(one, 1, 50), 7);
    CHECK_EQ(sn_report_percentile(one, 1, 90), 7);
    CHECK_EQ(sn_report_percentile(ten, 10, 50), 5);
    CHECK_EQ(sn_report_percentile(ten, 10, 90), 9);
    /* Never an interpolated value: the lower middle of an even count. */
    CHECK_EQ(sn_report_percentile(four, 4, 50), 20);
    CHECK_EQ(sn_report_percentile(four, 4, 90), 40);
}

static struct json_object *
report(const struct sn_report_life *v, size_t n, bool weekly)
{
    struct sn_report_query q = { SUNDAY - 7 * 86400 * SN_NS_PER_SEC,
                                 SUNDAY + 86400 * SN_NS_PER_SEC, weekly, 0 };
    struct sn_buf b;
    struct json_object *o;

    sn_buf_init(&b, 1 << 20);
    if (sn_report_json(&q, v, n, &b) != SN_OK || sn_buf_putc(&b, '\0'))
        return NULL;
    o = json_tokener_parse(b.data);
    sn_buf_fini(&b);
    return o;
}

static struct json_object *
at(struct json_object *o, const char *path)
{
    struct json_object *v = NULL;

    return json_object_object_get_ex(o, path, &v) ? v : NULL;
}

SN_TEST(groups_weeks_sources_shares)
{
    const int64_t s = SN_NS_PER_SEC;
    /* Writable copies: the struct owns its strings (report.h). */
    char r1[] = "r1", r2[] = "r2", high[] = "high", low[] = "low";
    char olga[] = "olga", ka[] = "{\"ip\":\"a\"}", none[] = "{}";
    struct sn_report_life v[] = {
        { r1, high, olga, ka, SUNDAY, SUNDAY + 2 * s, SUNDAY + 9 * s, false,
          false },
        { r1, high, NULL, ka, SUNDAY + 1, 0, SUNDAY + 5 * s, true, false },
        { r2, low, NULL, none, SUNDAY - 86400 * s, 0, 0, false, true },
    };
    struct json_object *r = report(v, 3, true), *t, *own, *vol, *top;

    CHECK(r != NULL);
    if (r == NULL)
        return;
    t = at(r, "totals");
    CHECK_EQ(json_object_get_int(at(t, "incidents")), 3);
    CHECK_EQ(json_object_get_int(at(t, "resolved")), 2);
    CHECK(json_object_get_double(at(t, "auto_resolved_share")) == 0.5);
    CHECK(json_object_get_double(at(t, "suppressed_share")) > 0.333 &&
          json_object_get_double(at(t, "suppressed_share")) < 0.334);
    own = at(at(r, "time_to_resolve"), "by_owner");
    CHECK_EQ(json_object_array_length(own), 2);
    /* Unassigned first, as null; 5 s less the 1 ns it opened later. */
    CHECK(at(json_object_array_get_idx(own, 0), "key") == NULL);
    CHECK_EQ(
        json_object_get_int(at(json_object_array_get_idx(own, 0), "median_ms")),
        4999);
    CHECK_STR(
        json_object_get_string(at(json_object_array_get_idx(own, 1), "key")),
        "olga");
    /* Saturday and Sunday are the ISO week of Monday 2026-11-30. */
    vol = at(r, "volume");
    CHECK_EQ(json_object_array_length(vol), 2);
    CHECK_STR(
        json_object_get_string(at(json_object_array_get_idx(vol, 0), "bucket")),
        "2026-11-30");
    CHECK_STR(
        json_object_get_string(at(json_object_array_get_idx(vol, 1), "bucket")),
        "2026-11-30");
    top = at(r, "top_sources");
    CHECK_EQ(json_object_array_length(top), 1); /* "{}" is no source */
    CHECK_EQ(json_object_get_int(at(json_object_array_get_idx(top, 0), "n")),
             2);
    json_object_put(r);
    r = report(v, 3, false);
    vol = at(r, "volume");
    CHECK_STR(
        json_object_get_string(at(json_object_array_get_idx(vol, 0), "bucket")),
        "2026-12-05");
    CHECK(json_object_get_int(
              at(at(at(r, "time_to_acknowledge"), "overall"), "n")) == 1);
    json_object_put(r);
}

SN_TEST(empty_period)
{
    struct json_object *r = report(NULL, 0, false);
    struct json_object *o = at(at(r, "time_to_resolve"), "overall");

    CHECK(r != NULL && o != NULL);
    CHECK(at(o, "median_ms") == NULL && at(o, "p90_ms") == NULL);
    CHECK_EQ(json_object_array_length(at(r, "volume")), 0);
    json_object_put(r);
}

/* A review from another store's document (review_load): what that store
 * lacks is stated in both renderings; a document that is not a JSON
 * object is an error naming the incident, not an empty review. */
SN_TEST(review_from_doc_states_what_is_missing)
{
    static const char doc[] =
        "{\"id\":\"0b5e\",\"title\":\"t\",\"versions\":[],\"audit\":[]}";
    struct sn_error err;
    struct sn_buf b;
    struct json_object *o;

    sn_buf_init(&b, 1 << 16);
    sn_error_clear(&err);
    CHECK_EQ(sn_review_render_doc("0b5e", doc, "no refusals here",
                                  SN_REVIEW_MD, &b, &err),
             SN_OK);
    CHECK(sn_buf_putc(&b, '\0') == SN_OK &&
          strstr(b.data, "\n> **Not in this review:** no refusals here.\n"));
    b.len = 0;
    CHECK_EQ(sn_review_render_doc("0b5e", doc, "no refusals here",
                                  SN_REVIEW_JSON, &b, &err),
             SN_OK);
    CHECK(sn_buf_putc(&b, '\0') == SN_OK);
    o = json_tokener_parse(b.data);
    CHECK_STR(json_object_get_string(at(o, "not_recorded")),
              "no refusals here");
    json_object_put(o);
    b.len = 0;
    CHECK_EQ(sn_review_render_doc("0b5e", "[1]", NULL, SN_REVIEW_JSON, &b,
                                  &err),
             SN_EIO);
    CHECK_STR(err.msg, "incident 0b5e: its document does not parse");
    CHECK_EQ(b.len, 0);
    sn_buf_fini(&b);
}

SN_TEST_MAIN(SN_T(percentile_nearest_rank), SN_T(groups_weeks_sources_shares),
             SN_T(empty_period), SN_T(review_from_doc_states_what_is_missing))
