/*
 * The signal's fixed fields round-trip: sn_signal_json (rules) writes
 * them, sn_signal_wire_read (incident) reads them back, and both sides
 * and this test expand the same lists (rules/signal_fields.h), so a field
 * added there is checked here without a new line.
 */
#include <json-c/json.h>
#include <string.h>

#include "core/buf.h"
#include "incident/signal_wire.h"
#include "rules/correlate.h"
#include "sn_test.h"

static void
signal_fixture(struct sn_signal *s, const char *const *fields,
               const struct sn_str *values)
{
    memset(s, 0, sizeof(*s));
    s->rule_id = "ssh-brute-force";
    s->kind = SN_CORR_DISTINCT;
    s->state = SN_SIGNAL_FIRING;
    s->severity = SN_SEV_HIGH;
    s->base_severity = SN_SEV_MEDIUM;
    s->key_fields = fields;
    s->key_values = values;
    s->n_key = 1;
    s->key_hash = 0x0123456789abcdefULL;
    /* Distinct values, so a field read from its neighbour's key fails. */
    s->time_ns = 1700000000123456789LL;
    s->repeat = 7;
    s->suppressed = 3;
    s->count = 11;
    s->threshold = 5;
    s->first_ns = 1700000000000000001LL;
    s->last_ns = 1700000000999999999LL;
    s->window_ns = 120000000000LL;
}

/* sig encoded into b and read back into w: the parsed object (NULL: the
 * encoder failed or wrote no JSON). */
static struct json_object *
round_trip(const struct sn_signal *sig, struct sn_buf *b,
           struct sn_signal_wire *w)
{
    struct json_object *o;

    sn_buf_reset(b);
    if (sn_signal_json(sig, b) != SN_OK)
        return NULL;
    o = json_tokener_parse(sn_buf_cstr(b));
    if (o != NULL)
        sn_signal_wire_read(o, w);
    return o;
}

#define CHECK_STR_FIELD(name, value) CHECK_STR(w.name, value)
#define CHECK_INT_FIELD(name, value) CHECK_EQ(w.name, value)
#define CHECK_FIELD(name, type, value)                                         \
    CHECK(w.has_##name);                                                       \
    CHECK_##type##_FIELD(name, value);

SN_TEST(every_field_round_trips)
{
    static const char *const fields[] = { "src_ip" };
    static const struct sn_str values[] = { { "192.0.2.7", 9 } };
    struct sn_signal sig;
    const struct sn_signal *s = &sig;
    struct sn_signal_wire w;
    struct json_object *o;
    struct sn_buf b;

    signal_fixture(&sig, fields, values);
    sn_buf_init(&b, 1 << 16);
    o = round_trip(&sig, &b, &w);
    CHECK(o != NULL);
    if (o == NULL)
        return;
    SN_SIGNAL_HEAD_FIELDS(CHECK_FIELD)
    SN_SIGNAL_COUNT_FIELDS(CHECK_FIELD)
    SN_SIGNAL_WINDOW_FIELDS(CHECK_FIELD)
    /* The hand-written parts around them stay in place. */
    CHECK(strstr(sn_buf_cstr(&b), "\"key\":{\"src_ip\":\"192.0.2.7\"},"
                                  "\"key_hash\":\"0123456789abcdef\",") !=
          NULL);
    json_object_put(o);
    sn_buf_fini(&b);
}

/* Each state and kind reads back as its own name. */
SN_TEST(states_and_kinds)
{
    static const char *const fields[] = { "user" };
    static const struct sn_str values[] = { { "root", 4 } };
    struct sn_signal sig;
    const struct sn_signal *s = &sig;
    struct sn_signal_wire w;
    struct sn_buf b;

    signal_fixture(&sig, fields, values);
    sn_buf_init(&b, 1 << 16);
    for (int st = SN_SIGNAL_FIRING; st <= SN_SIGNAL_UPDATE; st++) {
        for (int k = SN_CORR_THRESHOLD; k <= SN_CORR_MATCH; k++) {
            struct json_object *o;

            sig.state = (enum sn_signal_state)st;
            sig.kind = (enum sn_corr_kind)k;
            o = round_trip(&sig, &b, &w);
            CHECK(o != NULL);
            if (o == NULL)
                continue;
            CHECK_STR_FIELD(state, sn_signal_state_name(s->state));
            CHECK_STR_FIELD(kind, sn_corr_kind_name(s->kind));
            json_object_put(o);
        }
    }
    sn_buf_fini(&b);
}

/* Absent or mistyped fields are reported absent, not read as zero. */
SN_TEST(absent_fields)
{
    struct json_object *o =
        json_tokener_parse("{\"rule\":7,\"time_ns\":\"x\",\"window\":[]}");
    struct sn_signal_wire w;

    CHECK(o != NULL);
    sn_signal_wire_read(o, &w);
    CHECK(!w.has_rule);
    CHECK(!w.has_time_ns);
    CHECK(!w.has_count);
    json_object_put(o);
}

SN_TEST_MAIN(SN_T(every_field_round_trips), SN_T(states_and_kinds),
             SN_T(absent_fields))
