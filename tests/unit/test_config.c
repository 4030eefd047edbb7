/* Unit tests for the YAML tree, env expansion and option tables. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "config/yaml.h"
#include "sn_test.h"

struct conf {
    const char *host;
    int64_t port;
    bool tls;
    int64_t timeout_ms;
    uint64_t max;
    int mode;
    struct sn_strlist listen;
    struct sn_kvlist kafka;
};

static const struct sn_option opts[] = {
    { "host", SN_OPT_STRING, "localhost", offsetof(struct conf, host), "h", 0,
      0, NULL, false },
    { "port", SN_OPT_INT, "514", offsetof(struct conf, port), "p", 1, 65535,
      NULL, false },
    { "tls", SN_OPT_BOOL, "false", offsetof(struct conf, tls), "t", 0, 0,
      NULL, false },
    { "timeout", SN_OPT_DURATION, "5s", offsetof(struct conf, timeout_ms), "t",
      0, 0, NULL, false },
    { "max", SN_OPT_SIZE, "64KiB", offsetof(struct conf, max), "m", 0, 0, NULL,
      false },
    { "mode", SN_OPT_ENUM, "auto", offsetof(struct conf, mode), "m", 0, 0,
      "auto|octet|lf", false },
    { "listen", SN_OPT_LIST, NULL, offsetof(struct conf, listen), "l", 0, 0,
      NULL, false },
    { "kafka.", SN_OPT_MAP, NULL, offsetof(struct conf, kafka), "k", 0, 0,
      NULL, false },
    { 0 },
};

static const struct sn_node *
load(const char *text, struct sn_yaml **y, struct sn_diags *d)
{
    sn_diags_init(d);
    sn_yaml_load_mem("t.yaml", text, strlen(text), true, y, d);
    return *y && (*y)->n_docs ? (*y)->docs[0] : NULL;
}

SN_TEST(fill_defaults_and_values)
{
    struct sn_yaml *y;
    struct sn_diags d;
    struct sn_arena a;
    struct conf c;
    const struct sn_node *root =
        load("port: 6514\ntls: yes\ntimeout: 250ms\nmode: lf\n"
             "listen: [udp://:514, tcp://:514]\nkafka.acks: all\n",
             &y, &d);

    memset(&c, 0, sizeof(c));
    sn_arena_init(&a, 1024, 0);
    CHECK_EQ(sn_options_fill(opts, &c, root, NULL, "plugin x", &a, &d), SN_OK);
    CHECK_STR(c.host, "localhost");
    CHECK_EQ(c.port, 6514);
    CHECK(c.tls);
    CHECK_EQ(c.timeout_ms, 250);
    CHECK_EQ(c.max, 65536);
    CHECK_EQ(c.mode, 2);
    CHECK_EQ(c.listen.n, 2);
    CHECK_STR(c.listen.items[1], "tcp://:514");
    CHECK_EQ(c.kafka.n, 1);
    CHECK_STR(c.kafka.items[0].key, "acks");
    CHECK_STR(c.kafka.items[0].value, "all");
    sn_arena_fini(&a);
    sn_yaml_free(y);
    sn_diags_fini(&d);
}

SN_TEST(errors_name_line_and_column)
{
    struct sn_yaml *y;
    struct sn_diags d;
    struct sn_arena a;
    struct conf c;
    const struct sn_node *root =
        load("host: x\n  # comment\nprot: 5\nport: 70000\nmode: foo\n", &y,
             &d);

    memset(&c, 0, sizeof(c));
    sn_arena_init(&a, 1024, 0);
    CHECK_EQ(sn_options_fill(opts, &c, root, NULL, "plugin in_syslog", &a, &d),
             SN_ECONFIG);
    CHECK_EQ(d.n_errors, 3);
    CHECK_EQ(d.items[0].line, 3);
    CHECK_EQ(d.items[0].col, 1);
    CHECK_STR(d.items[0].msg, "unknown option 'prot' for plugin in_syslog; "
                              "did you mean 'port'?");
    CHECK_EQ(d.items[1].line, 4);
    CHECK_EQ(d.items[1].col, 7);
    CHECK_STR(d.items[1].msg, "option 'port' of plugin in_syslog expects an "
                              "integer in 1..65535, got '70000'");
    CHECK_STR(d.items[2].msg, "option 'mode' of plugin in_syslog expects one "
                              "of: auto, octet, lf, got 'foo'");
    sn_arena_fini(&a);
    sn_yaml_free(y);
    sn_diags_fini(&d);
}

SN_TEST(env_expansion)
{
    struct sn_yaml *y;
    struct sn_diags d;
    const struct sn_node *root;

    setenv("SN_TEST_HOST", "db.example", 1);
    unsetenv("SN_TEST_UNSET");
    root = load("a: ${SN_TEST_HOST}:5432\nb: ${SN_TEST_UNSET:-fallback}\n"
                "c: $${literal}\n",
                &y, &d);
    CHECK_EQ(d.n_errors, 0);
    CHECK_STR(sn_node_get(root, "a")->str, "db.example:5432");
    CHECK_STR(sn_node_get(root, "b")->str, "fallback");
    CHECK_STR(sn_node_get(root, "c")->str, "${literal}");
    sn_yaml_free(y);
    sn_diags_fini(&d);

    load("x: ${SN_TEST_UNSET}\n", &y, &d);
    CHECK_EQ(d.n_errors, 1);
    CHECK_EQ(d.items[0].line, 1);
    CHECK_EQ(d.items[0].col, 4);
    CHECK(strstr(d.items[0].msg, "SN_TEST_UNSET") != NULL);
    sn_yaml_free(y);
    sn_diags_fini(&d);
}

SN_TEST(syntax_error_and_duplicate_key)
{
    struct sn_yaml *y;
    struct sn_diags d;

    load("a: [1, 2\nb: 3\n", &y, &d);
    CHECK_EQ(d.n_errors, 1);
    CHECK(strstr(d.items[0].msg, "YAML syntax error") != NULL);
    CHECK(d.items[0].line >= 1);
    sn_yaml_free(y);
    sn_diags_fini(&d);

    load("a: 1\nb: 2\na: 3\n", &y, &d);
    CHECK_EQ(d.n_errors, 1);
    CHECK_EQ(d.items[0].line, 3);
    CHECK_STR(d.items[0].msg, "duplicate key \"a\" (first at line 1)");
    sn_yaml_free(y);
    sn_diags_fini(&d);
}

SN_TEST(wrong_type)
{
    struct sn_yaml *y;
    struct sn_diags d;
    struct sn_arena a;
    struct conf c;
    const struct sn_node *root = load("host: [a, b]\n", &y, &d);

    memset(&c, 0, sizeof(c));
    sn_arena_init(&a, 1024, 0);
    CHECK_EQ(sn_options_fill(opts, &c, root, NULL, "plugin x", &a, &d),
             SN_ECONFIG);
    CHECK_STR(d.items[0].msg,
              "option 'host' of plugin x expects a string, got a list");
    CHECK_EQ(d.items[0].col, 7);
    sn_arena_fini(&a);
    sn_yaml_free(y);
    sn_diags_fini(&d);
}

SN_TEST_MAIN(SN_T(fill_defaults_and_values), SN_T(errors_name_line_and_column),
             SN_T(env_expansion), SN_T(syntax_error_and_duplicate_key),
             SN_T(wrong_type))
