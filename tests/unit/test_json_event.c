/*
 * The JSON event mapping's fast path (plugins/common/json_fast.c) against
 * the json-c path it stands in for: on documents written by sentineld and
 * on many generated ones (escapes, numbers at the int64 edges, nesting
 * past max_depth, duplicate keys, arrays, damage), both must give the
 * same status, reason and event, field by field. And the fast path must
 * really take the common documents (a fast path that always hands over to
 * json-c would pass the comparison and lose the speed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../../plugins/common/json_event.h"
#include "../../plugins/common/json_fast.h"
#include "event/event.h"
#include "incident/incident.h"
#include "pipeline/pipeline.h"
#include "sn_test.h"

#define MAX_DEPTH 8

struct side {
    bool init;
    struct sn_arena arena;
    struct sn_event ev;
    enum sn_status rc;
    char why[256];
};

static struct side g_fast, g_ref;

static void
release(void)
{
    sn_arena_fini(&g_fast.arena);
    sn_arena_fini(&g_ref.arena);
}

static void
run(struct side *sd, const char *doc, size_t n, bool fast)
{
    struct sn_record rec;
    size_t off = 0;

    if (!g_fast.init) {
        sn_arena_init(&g_fast.arena, 64 * 1024, 0);
        sn_arena_init(&g_ref.arena, 64 * 1024, 0);
        g_fast.init = g_ref.init = true;
        atexit(release);
    }

    memset(&rec, 0, sizeof(rec));
    rec.data.ptr = doc;
    rec.data.len = n;
    rec.source_offset = -1;
    rec.source_part = -1;
    sn_arena_reset(&sd->arena);
    sn_event_reset(&sd->ev, &sd->arena);
    sd->ev.rec = rec;
    sd->why[0] = '\0';
    sd->rc = fast ? json_event_parse(&sn_host_table, MAX_DEPTH, &rec, &sd->ev,
                                     sd->why, sizeof(sd->why), &off)
                  : json_event_parse_jsonc(&sn_host_table, MAX_DEPTH, &rec,
                                           &sd->ev, sd->why, sizeof(sd->why),
                                           &off);
}

static bool
str_eq(struct sn_str a, struct sn_str b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL))
        return false;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool
val_eq(const struct sn_value *a, const struct sn_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SN_VAL_STR: return str_eq(a->u.s, b->u.s);
    case SN_VAL_INT: return a->u.i == b->u.i;
    case SN_VAL_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case SN_VAL_BOOL: return a->u.b == b->u.b;
    default: return true;
    }
}

/* NULL when equal, else what differs. */
static const char *
events_differ(const struct side *a, const struct side *b)
{
    const struct sn_syslog_msg *x = &a->ev.hdr, *y = &b->ev.hdr;

    if (a->rc != b->rc)
        return "status";
    if (strcmp(a->why, b->why) != 0)
        return "reason";
    if (a->rc != SN_OK)
        return NULL; /* a failed parse's event is thrown away */
    if (x->pri != y->pri || x->version != y->version)
        return "pri/version";
    if (x->has_time != y->has_time || x->time_ns != y->time_ns)
        return "time";
    if (!str_eq(x->timestamp, y->timestamp) ||
        !str_eq(x->hostname, y->hostname) ||
        !str_eq(x->appname, y->appname) || !str_eq(x->procid, y->procid) ||
        !str_eq(x->msgid, y->msgid) || !str_eq(x->msg, y->msg))
        return "header";
    if (x->has_sd != y->has_sd || x->n_sd != y->n_sd)
        return "sd count";
    for (size_t i = 0; i < x->n_sd; i++)
        if (!str_eq(x->sd[i].id, y->sd[i].id) ||
            !str_eq(x->sd[i].name, y->sd[i].name) ||
            !str_eq(x->sd[i].value, y->sd[i].value))
            return "sd";
    if (a->ev.n_fields != b->ev.n_fields)
        return "field count";
    for (uint32_t i = 0; i < a->ev.n_fields; i++)
        if (!str_eq(a->ev.fields[i].key, b->ev.fields[i].key) ||
            !val_eq(&a->ev.fields[i].val, &b->ev.fields[i].val))
            return "field";
    return NULL;
}

/* Compares both paths on doc; prints it when they differ. */
static bool
same(const char *doc, size_t n)
{
    const char *d;

    run(&g_fast, doc, n, true);
    run(&g_ref, doc, n, false);
    if ((d = events_differ(&g_fast, &g_ref)) == NULL)
        return true;
    printf("#   differ (%s) on: %.*s\n#   fast rc %d why '%s'; json-c rc %d "
           "why '%s'\n",
           d, (int)n, doc, g_fast.rc, g_fast.why, g_ref.rc, g_ref.why);
    return false;
}

static const char *const sentineld_docs[] = {
    "{\"pri\":38,\"facility\":4,\"severity\":6,\"version\":1,\"timestamp\":"
    "\"2026-11-23T10:00:00.000000Z\",\"timestamp_utc_ns\":1795428000000000000,"
    "\"hostname\":\"host00\",\"appname\":\"sshd\",\"procid\":\"0\",\"msgid\":"
    "null,\"sd\":null,\"msg\":\"Failed password for root from 203.0.113.0 "
    "port 22 ssh2\",\"received_ns\":1795455171021693975,\"input\":\"f\","
    "\"transport\":\"file\",\"peer\":\"/tmp/x.log\",\"source_offset\":0}",
    "{\"pri\":165,\"facility\":20,\"severity\":5,\"version\":1,\"timestamp\":"
    "\"2003-10-11T22:14:15.003Z\",\"timestamp_utc_ns\":1065910455003000000,"
    "\"hostname\":\"mymachine.example.com\",\"appname\":\"evntslog\","
    "\"procid\":null,\"msgid\":\"ID47\",\"sd\":{\"exampleSDID@32473\":{"
    "\"iut\":\"3\",\"eventSource\":\"Application\",\"eventID\":\"1011\"}},"
    "\"msg\":\"An application event log entry \\u00e9\\n\\\"q\\\"\","
    "\"received_ns\":1,\"input\":\"k\",\"transport\":\"kafka\",\"peer\":"
    "\"events\",\"source_offset\":12,\"fields\":{\"source.ip\":\"192.0.2.1\","
    "\"user\":\"root\",\"n\":3,\"ok\":true,\"r\":0.25,\"x\":null}}",
    ("{\"host\":\"h\",\"app\":\"a\",\"message\":\"m\",\"source\":{\"ip\":"
     "\"10.0.0.1\",\"port\":22},\"tags\":{}}"),
};

SN_TEST(sentineld_documents_take_the_fast_path)
{
    for (size_t i = 0; i < sizeof(sentineld_docs) / sizeof(sentineld_docs[0]);
         i++) {
        static struct jf_obj root;
        const char *d = sentineld_docs[i];

        CHECK(jf_check(d, strlen(d), MAX_DEPTH, &root));
        CHECK(same(d, strlen(d)));
    }
}

SN_TEST(handed_over_to_json_c)
{
    /* Not for the fast path, and still parsed the same. */
    static const char *const docs[] = {
        "{\"a\":[1,2]}", "{\"a\":1,\"a\":2}", "{\"k\\u0041\":1}",
        "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"x\\u0000y\"}",
        "{\"a\":12345678901234567890}", "{\"a\":1e999}",
        "{\"a\":1} x", "{'a':1}", "{\"a\":1,}", "{\"a\":01}",
        "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}",
        "{\"sd\":{\"id\":{\"p\":[\"a\",\"b\"]}}}",
        "[1]", "", "{", "{\"a\":\"\x01\"}", "{\"a\":NaN}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        static struct jf_obj root;

        CHECK(!jf_check(docs[i], strlen(docs[i]), MAX_DEPTH, &root));
        CHECK(same(docs[i], strlen(docs[i])));
    }
    /* The reader takes it; the mapping hands it over (a number as an SD
     * value is json-c's text of it). */
    {
        const char *d = "{\"sd\":{\"id\":{\"p\":5}}}";
        CHECK(same(d, strlen(d)));
    }
}

/* ---- generated documents ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng % n);
}

struct gen {
    char buf[8192];
    size_t n;
};

static void
put(struct gen *g, const char *s)
{
    size_t k = strlen(s);

    if (g->n + k < sizeof(g->buf)) {
        memcpy(g->buf + g->n, s, k);
        g->n += k;
    }
}

static void
gen_string(struct gen *g, bool key)
{
    static const char *const keys[] = {
        "pri", "facility", "severity", "version", "timestamp",
        "timestamp_utc_ns", "hostname", "host", "appname", "app", "procid",
        "msgid", "msg", "message", "sd", "fields", "received_ns", "input",
        "transport", "peer", "source_offset", "notes", "user", "source.ip",
        "a", "", "x y",
    };
    static const char *const bits[] = {
        "abc", " ", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u00e9", "\\u20ac",
        "\\u0041", "\\u0000", "\\ud83d\\ude00", "\\udc00", "\xc3\xa9", "\x01",
        "\\x", "\\u12", "0", "root",
    };

    put(g, "\"");
    if (key && rnd(4) != 0) {
        put(g, keys[rnd(sizeof(keys) / sizeof(keys[0]))]);
    } else {
        unsigned parts = rnd(4);
        for (unsigned i = 0; i < parts; i++)
            put(g, bits[rnd(rnd(3) == 0 ? sizeof(bits) / sizeof(bits[0])
                                        : 4)]);
    }
    put(g, "\"");
}

static void gen_value(struct gen *g, int level);

static void
gen_object(struct gen *g, int level)
{
    unsigned n = rnd(level == 0 ? 12 : 4);

    put(g, rnd(8) == 0 ? "{ " : "{");
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            put(g, rnd(8) == 0 ? " ,\n" : ",");
        gen_string(g, true);
        put(g, rnd(8) == 0 ? " : " : ":");
        gen_value(g, level + 1);
    }
    put(g, "}");
}

static void
gen_value(struct gen *g, int level)
{
    static const char *const nums[] = {
        "0", "-0", "38", "191", "192", "-1", "1795455171021693975",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "123456789012345678901",
        "2147483648", "-2147483649", "1.5", "-0.0", "1e3", "1E-2", "2.5e+10",
        "1e400", "0.1", "3.141592653589793",
    };

    switch (rnd(level > 9 ? 6 : 9)) {
    case 0: case 1: case 2: gen_string(g, false); break;
    case 3: put(g, nums[rnd(sizeof(nums) / sizeof(nums[0]))]); break;
    case 4: put(g, rnd(2) ? "true" : "false"); break;
    case 5: put(g, "null"); break;
    case 6: case 7: gen_object(g, level); break;
    default:
        put(g, "[");
        gen_value(g, level + 1);
        put(g, ",");
        gen_value(g, level + 1);
        put(g, "]");
        break;
    }
}

/* One generated document, now and then with trailing text, cut short
 * or with a byte damaged. */
static void
gen_doc(struct gen *g)
{
    g->n = 0;
    gen_object(g, 0);
    if (rnd(10) == 0)
        put(g, rnd(2) ? "\n" : " x");
    if (rnd(20) == 0 && g->n > 0)
        g->n = rnd((unsigned)g->n); /* cut short */
    if (rnd(20) == 0 && g->n > 0)
        g->buf[rnd((unsigned)g->n)] = "{}[]\",:x\\ "[rnd(11)];
}

SN_TEST(generated_documents_parse_the_same)
{
    static struct gen g;
    static struct jf_obj root;
    unsigned fast = 0, bad = 0;

    for (int i = 0; i < 200000 && bad < 5; i++) {
        gen_doc(&g);
        if (jf_check(g.buf, g.n, MAX_DEPTH, &root))
            fast++;
        if (!same(g.buf, g.n))
            bad++;
    }
    CHECK_EQ(bad, 0);
    /* Most generated documents are plain enough for the fast path. */
    printf("# %u of 200000 generated documents took the fast path\n", fast);
    CHECK(fast > 20000);
}

/* ---- jf_top_members: a few members of a whole document ---- */

/* NULL when jf_top_members' answer for keys agrees with json-c's tree,
 * else what differs. Declining is always allowed (json-c reads then). */
static const char *
top_differs(const char *doc, size_t n, const char *const *keys, size_t n_keys,
            bool *took)
{
    struct jf_val v[4];
    struct json_object *o;
    char *copy;
    const char *why = NULL;

    *took = jf_top_members(doc, n, keys, n_keys, v);
    if (!*took)
        return NULL;
    if ((copy = strndup(doc, n)) == NULL)
        return "out of memory";
    o = json_tokener_parse(copy);
    free(copy);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return "taken, but json-c does not read an object";
    }
    for (size_t i = 0; i < n_keys && why == NULL; i++) {
        struct json_object *m;
        bool is_str = json_object_object_get_ex(o, keys[i], &m) &&
                      json_object_is_type(m, json_type_string);
        char buf[8192];
        size_t len;

        if (is_str != (v[i].type == JF_STR)) {
            why = "string or not";
            break;
        }
        if (!is_str)
            continue;
        len = v[i].esc ? jf_unescape(&v[i], buf) : v[i].n;
        if (len != (size_t)json_object_get_string_len(m) ||
            memcmp(v[i].esc ? buf : v[i].p, json_object_get_string(m), len))
            why = "value";
    }
    json_object_put(o);
    return why;
}

SN_TEST(top_strings_agree_with_json_c)
{
    static struct gen g;
    static const char *const keys[] = { "msg", "sd", "host", "timestamp" };
    unsigned took_n = 0, bad = 0;

    for (int i = 0; i < 200000 && bad < 5; i++) {
        const char *why;
        bool took;

        gen_doc(&g);
        if ((why = top_differs(g.buf, g.n, keys, 4, &took)) != NULL) {
            printf("#   differ (%s) on: %.*s\n", why, (int)g.n, g.buf);
            bad++;
        }
        took_n += took;
    }
    CHECK_EQ(bad, 0);
    /* Arrays do not send it to json-c: it takes more than jf_check
     * (~35,000; the rest have escapes it leaves to json-c, or damage). */
    printf("# %u of 200000 generated documents were read without json-c\n",
           took_n);
    CHECK(took_n > 45000);
    {
        const char *dup = "{\"msg\":\"a\",\"msg\":\"b\"}",
                   *deep = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"
                           "]]]]]]]]]]]]]]]]]";
        char doc[200];
        struct jf_val v[4];

        /* json-c keeps the last of two: declined. */
        CHECK(!jf_top_members(dup, strlen(dup), keys, 4, v));
        snprintf(doc, sizeof(doc), "{\"a\":%s}", deep);
        CHECK(!jf_top_members(doc, strlen(doc), keys, 4, v));
    }
}

static enum sn_status
set(char **field, const char *s)
{
    return sn_incident_set(field, s, strlen(s));
}

/* An incident document as the store writes it (the manager's
 * sn_incident_json) is read without json-c: what out_webhook classifies
 * every version by. */
SN_TEST(incident_documents_take_top_strings)
{
    static const char *const keys[] = { "created_at", "updated_at",
                                        "base_severity" };
    struct sn_incident inc;
    struct sn_buf out;
    struct jf_val v[3];
    const char *why;
    bool took;

    sn_incident_init(&inc);
    sn_uuid4(inc.id);
    inc.version = 7;
    CHECK_EQ(set(&inc.rule_id, "ssh-brute-force"), SN_OK);
    CHECK_EQ(set(&inc.title, "SSH \"brute\" force"), SN_OK);
    CHECK_EQ(set(&inc.tags, "[\"ssh\",\"auth\"]"), SN_OK);
    CHECK_EQ(set(&inc.group_key, "{\"source.ip\":\"192.0.2.1\"}"), SN_OK);
    CHECK_EQ(set(&inc.evidence, "[{\"msg\":\"x\",\"n\":[1,2]}]"), SN_OK);
    CHECK_EQ(set(&inc.explanation, "{\"trace\":[{\"pass\":true}]}"), SN_OK);
    inc.severity = SN_SEV_HIGH;
    inc.base_severity = SN_SEV_MEDIUM;
    strcpy(inc.status, "open");
    inc.created_at = inc.updated_at = 1795455171021693975LL;
    sn_buf_init(&out, 1 << 20);
    CHECK_EQ(sn_incident_json(&inc, true, &out), SN_OK);
    why = top_differs(out.data, out.len, keys, 3, &took);
    CHECK(took);
    CHECK(why == NULL);
    CHECK(jf_top_members(out.data, out.len, keys, 3, v));
    CHECK_EQ(v[2].type, JF_STR);
    CHECK(v[2].n == 6 && memcmp(v[2].p, "medium", 6) == 0);
    CHECK(v[0].n == v[1].n && memcmp(v[0].p, v[1].p, v[0].n) == 0);
    sn_buf_fini(&out);
    sn_incident_fini(&inc);
}

SN_TEST_MAIN(SN_T(sentineld_documents_take_the_fast_path),
             SN_T(handed_over_to_json_c),
             SN_T(generated_documents_parse_the_same),
             SN_T(top_strings_agree_with_json_c),
             SN_T(incident_documents_take_top_strings))
