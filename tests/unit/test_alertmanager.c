/*
 * out_alertmanager's two readers of an incident version against each
 * other: the one-pass reader (json_fast.c, the common case) must give the
 * alert json-c's tree gives, byte for byte, or decline. The documents are
 * written by the store's own writer (sn_incident_json) from generated
 * incidents: escapes, UTF-8, control characters, group key fields that
 * collide with the alert's labels or with each other, non-string key
 * values, long and many tags. `test_alertmanager FILE` runs the same
 * comparison on a file of documents, one per line (a store's outbox).
 */
#include "../../plugins/out_alertmanager/out_alertmanager_alert.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "incident/incident.h"
#include "sn_test.h"

/* The alert text for d by one reader; NULL when it declines (fast) or
 * fails (tree). Caller frees. */
static char *
alert_text(struct oa_state *s, const struct sn_doc *d, bool fast)
{
    struct fields f;
    struct json_object *a;
    const char *id;
    char *text;

    if (fast ? !fields_fast(s, d, &f) : !fields_tree(d, &f))
        return NULL;
    a = alert_of(s, &f, &id);
    set_ends(a, 1795455171021);
    text = strdup(json_object_to_json_string_ext(
        a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(a);
    json_object_put(f.tree);
    return text;
}

/* 0: same alert; 1: the fast reader declined; -1: they differ. */
static int
compare(struct oa_state *s, const char *doc, size_t n)
{
    struct sn_doc d;
    char *fast, *tree;
    int rc;

    memset(&d, 0, sizeof(d));
    d.json.ptr = doc;
    d.json.len = n;
    fast = alert_text(s, &d, true);
    tree = alert_text(s, &d, false);
    if (fast == NULL)
        rc = 1;
    else
        rc = tree != NULL && strcmp(fast, tree) == 0 ? 0 : -1;
    if (rc < 0)
        printf("#   differ on: %.*s\n#   fast: %s\n#   tree: %s\n", (int)n,
               doc, fast, tree ? tree : "(none)");
    free(fast);
    free(tree);
    return rc;
}

static uint64_t rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Text with what a log line or an operator's title may hold. */
static void
gen_text(char *out, size_t cap, size_t max)
{
    static const char *const bits[] = {
        "a", "Z", "0", " ", "ssh", "\"", "\\", "/", "\n", "\t", "\x01",
        "\x1f", "\x7f", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x94\xa5",
        ",", ".", "-", "{", "}", "[", "]", ":", "'", "%s", "<b>"
    };
    size_t n = rnd((unsigned)max + 1), at = 0;

    for (size_t i = 0; i < n; i++) {
        const char *b = bits[rnd(sizeof(bits) / sizeof(bits[0]))];
        size_t l = strlen(b);

        if (at + l + 1 > cap)
            break;
        memcpy(out + at, b, l);
        at += l;
    }
    out[at] = '\0';
}

static void
gen_group_key(struct sn_buf *b)
{
    static const char *const keys[] = {
        "source.ip", "user.name", "host", "1st", "a.b", "a_b", "tags",
        "severity", "rule_id", "alertname", "x-y", "k\xc3\xa9y", ""
    };
    unsigned n = rnd(5);
    char text[256];

    sn_buf_putc(b, '{');
    for (unsigned i = 0; i < n; i++) {
        const char *k = keys[rnd(sizeof(keys) / sizeof(keys[0]))];
        bool dup = false;

        /* The fold writes each key once. */
        for (unsigned j = 0; j < i && !dup; j++)
            dup = strstr(sn_buf_cstr(b), k) != NULL && k[0] != '\0';
        if (dup)
            continue;
        if (b->data[b->len - 1] != '{')
            sn_buf_putc(b, ',');
        sn_json_key(b, k);
        switch (rnd(12)) {
        case 0:
            sn_json_int(b, (int64_t)rnd(100000) - 50000);
            break;
        case 1:
            sn_buf_puts(b, rnd(2) ? "true" : "null");
            break;
        case 2:
            sn_buf_puts(b, "{\"in\":\"x\"}");
            break;
        default:
            gen_text(text, sizeof(text), 12);
            sn_json_str(b, text, strlen(text));
        }
    }
    sn_buf_putc(b, '}');
}

static void
gen_tags(struct sn_buf *b)
{
    unsigned n = rnd(8) == 0 ? 40 + rnd(60) : rnd(4);
    char text[512];

    sn_buf_putc(b, '[');
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            sn_buf_putc(b, ',');
        if (rnd(30) == 0) {
            sn_json_int(b, (int64_t)rnd(10));
            continue;
        }
        gen_text(text, sizeof(text), rnd(10) == 0 ? 300 : 6);
        sn_json_str(b, text, strlen(text));
    }
    sn_buf_putc(b, ']');
}

static enum sn_status
set(char **field, const char *s)
{
    return sn_incident_set(field, s, strlen(s));
}

/* Replaces every occurrence of from by to in the document (both only
 * ever inside strings, so the text stays JSON with the same values). */
static void
respell(struct sn_buf *b, const char *from, const char *to)
{
    struct sn_buf o;
    size_t fl = strlen(from);

    sn_buf_init(&o, 1 << 22);
    for (size_t i = 0; i < b->len;) {
        if (i + fl <= b->len && memcmp(b->data + i, from, fl) == 0) {
            sn_buf_puts(&o, to);
            i += fl;
        } else {
            sn_buf_putc(&o, (char)b->data[i++]);
        }
    }
    sn_buf_reset(b);
    sn_buf_append(b, o.data, o.len);
    sn_buf_fini(&o);
}

/* One incident document as the store writes it. */
static void
gen_incident(struct sn_buf *out)
{
    static const char *const status[] = { "open", "acknowledged", "resolved",
                                          "suppressed" };
    struct sn_incident inc;
    struct sn_buf b;
    char text[1024];

    sn_incident_init(&inc);
    sn_buf_init(&b, 1 << 20);
    sn_uuid4(inc.id);
    inc.version = 1 + rnd(50);
    set(&inc.rule_id, rnd(10) ? "ssh-brute-force" : "r\xc3\xa9gle/\"x\"");
    gen_text(text, sizeof(text), 30);
    set(&inc.title, text);
    if (rnd(3)) {
        gen_text(text, sizeof(text), 80);
        set(&inc.description, text);
    }
    gen_tags(&b);
    set(&inc.tags, sn_buf_cstr(&b));
    sn_buf_reset(&b);
    gen_group_key(&b);
    set(&inc.group_key, sn_buf_cstr(&b));
    sn_buf_reset(&b);
    set(&inc.evidence, "[{\"msg\":\"Failed password for root\",\"n\":[1,2.5,"
                       "{\"deep\":[[[\"x\"]]]}],\"ok\":false}]");
    set(&inc.explanation, "{\"trace\":[{\"pass\":true,\"why\":null}]}");
    inc.severity = (enum sn_severity)rnd(5);
    inc.base_severity = (enum sn_severity)rnd(5);
    strcpy(inc.status, status[rnd(4)]);
    inc.first_seen = inc.last_seen = 1795455171021693975LL + rnd(1000000);
    inc.created_at = inc.updated_at = inc.first_seen;
    sn_buf_reset(out);
    sn_incident_json(&inc, rnd(4) != 0, out);
    /* Spellings other writers use for the same values. */
    if (rnd(8) == 0)
        respell(out, "/", "\\/");
    if (rnd(8) == 0)
        respell(out, "\xc3\xa9", "\\u00e9");
    sn_buf_fini(&b);
    sn_incident_fini(&inc);
}

static struct oa_conf conf_link = { .console_url = "https://console:8443" };
static struct oa_conf conf_plain = { .console_url = NULL };

SN_TEST(store_documents_give_the_same_alert)
{
    struct oa_state s = { .c = &conf_link };
    struct sn_buf doc;
    unsigned fast = 0, declined = 0, bad = 0;

    sn_buf_init(&doc, 1 << 22);
    for (int i = 0; i < 20000 && bad < 5; i++) {
        int rc;

        s.c = rnd(2) ? &conf_link : &conf_plain;
        gen_incident(&doc);
        sn_buf_putc(&doc, '\0'); /* the relay's documents end so */
        rc = compare(&s, (const char *)doc.data, doc.len - 1);
        bad += rc < 0;
        fast += rc == 0;
        declined += rc == 1;
    }
    CHECK_EQ(bad, 0);
    /* Declined: a non-string group key value, a number among the tags,
     * more than 64 tags. */
    printf("# %u of 20000 store documents read in one pass, %u by json-c\n",
           fast, declined);
    CHECK(fast > 10000);
    CHECK(declined > 1000);
    sn_buf_fini(&doc);
    free(s.scratch);
}

/* The cases the generator reaches only by chance, spelled out. */
SN_TEST(edge_documents)
{
    static const char *const docs[] = {
        /* a key field named like ours, twice by its label name */
        "{\"id\":\"i\",\"group_key\":{\"severity\":\"x\",\"a.b\":\"1\","
        "\"a_b\":\"2\",\"tags\":\"t\"},\"tags\":[\"y\"],\"severity\":\"low\"}",
        /* numbers, booleans and null as key values: json-c's text */
        "{\"id\":\"i\",\"group_key\":{\"a\":-0,\"b\":true,\"c\":null,"
        "\"d\":-9223372036854775808,\"e\":false,\"f\":0,\"g\":12}}",
        /* not a string, not an object, absent */
        "{\"id\":7,\"group_key\":[\"x\"],\"tags\":{\"a\":\"b\"}}",
        "{}",
        "{\"id\":\"i\",\"tags\":[]}",
        "{\"id\":\"i\",\"tags\":[\"\"]}",
        "  {\"id\" : \"\\u0041\\n\" , \"title\":\"\\\"q\\\"\"}  ",
    };
    struct oa_state s = { .c = &conf_link };
    char doc[4096], pad[1100];

    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (size_t cut = 1018; cut < 1026; cut++) {
        pad[cut] = '\0';
        /* tags cut at 1,023 bytes, inside a tag and at a comma */
        snprintf(doc, sizeof(doc), "{\"id\":\"i\",\"tags\":[\"%s\",\"bb\"]}",
                 pad);
        CHECK_EQ(compare(&s, doc, strlen(doc)), 0);
        pad[cut] = 'a';
    }
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        CHECK_EQ(compare(&s, docs[i], strlen(docs[i])), 0);
    /* json-c's business: a key twice, a \u0000, a nested key value. */
    snprintf(doc, sizeof(doc), "{\"id\":\"a\",\"id\":\"b\"}");
    CHECK_EQ(compare(&s, doc, strlen(doc)), 1);
    snprintf(doc, sizeof(doc), "{\"id\":\"a\\u0000b\"}");
    CHECK_EQ(compare(&s, doc, strlen(doc)), 1);
    snprintf(doc, sizeof(doc), "{\"group_key\":{\"k\":{\"x\":\"y\"}}}");
    CHECK_EQ(compare(&s, doc, strlen(doc)), 1);
    free(s.scratch);
}

/* `test_alertmanager FILE`: every line of FILE, both readers. */
static int
compare_file(const char *path)
{
    struct oa_state s = { .c = &conf_link };
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned same = 0, declined = 0, bad = 0;

    if (f == NULL) {
        perror(path);
        return 2;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        int rc;

        while (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0)
            continue;
        rc = compare(&s, line, (size_t)n);
        same += rc == 0;
        declined += rc == 1;
        bad += rc < 0;
    }
    printf("%u documents: %u the same alert by both readers, %u left to "
           "json-c, %u differ\n",
           same + declined + bad, same, declined, bad);
    free(line);
    free(s.scratch);
    fclose(f);
    return bad ? 1 : 0;
}

/* SN_TEST_MAIN's main, renamed so a FILE argument can be taken. */
#define main run_tests
int run_tests(void);
SN_TEST_MAIN(SN_T(store_documents_give_the_same_alert), SN_T(edge_documents))
#undef main

int
main(int argc, char **argv)
{
    if (argc == 2)
        return compare_file(argv[1]);
    return run_tests();
}
