/*
 * kafka_deliver: feed incident documents (JSON lines on stdin,
 * docs/incidents.md) to out_kafka's deliver() the way the relay does, and
 * wait for the asynchronous acknowledgements (delivery reports) before
 * the next batch; RETRY redelivers the batch after a short pause. A test
 * tool with a fake host: it loads the plugin with dlopen and fills its
 * option struct from the plugin's own option table, so it needs nothing
 * but plugin.h (until the incident relay drives out_kafka in the daemon).
 *
 *   kafka_deliver PLUGIN.so BROKERS [TOPIC] < docs.jsonl
 *
 * Prints one line per batch result; exit 0 when everything was
 * acknowledged OK, 1 on FAIL, 2 on usage or setup errors.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include <sentineld/plugin.h>

#define BATCH 100

struct sn_counter {
    _Atomic uint64_t v;
};
struct sn_buf {
    char *p;
    size_t len, cap;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static uint64_t g_token;
static int g_result = -1;
static char g_reason[256];

__attribute__((format(printf, 3, 4))) static void
h_log(struct sn_instance *inst, enum sn_log_level l, const char *fmt, ...);

static void
h_log(struct sn_instance *inst, enum sn_log_level l, const char *fmt, ...)
{
    va_list ap;

    (void)inst;
    if (l > SN_LOG_WARN)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "out_kafka: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static struct sn_counter *
h_counter(struct sn_instance *inst, const char *name, const char *help)
{
    (void)inst;
    (void)name;
    (void)help;
    return calloc(1, sizeof(struct sn_counter));
}

static struct sn_counter *
h_gauge(struct sn_instance *inst, const char *name, const char *labels,
        const char *help)
{
    (void)labels;
    return h_counter(inst, name, help);
}

static void
h_add(struct sn_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add(&c->v, n);
}

static void
h_set(struct sn_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_store(&c->v, n);
}

static struct sn_buf *
h_buf_new(size_t max)
{
    (void)max;
    return calloc(1, sizeof(struct sn_buf));
}

static void
h_buf_free(struct sn_buf *b)
{
    if (b != NULL)
        free(b->p);
    free(b);
}

static void
h_ack(struct sn_instance *inst, uint64_t token, enum sn_out_result r,
      const char *reason)
{
    (void)inst;
    pthread_mutex_lock(&g_lock);
    if (token == g_token) {
        g_result = (int)r;
        snprintf(g_reason, sizeof(g_reason), "%s", reason ? reason : "");
        pthread_cond_broadcast(&g_cond);
    }
    pthread_mutex_unlock(&g_lock);
}

static struct sn_str
str_of(json_object *o, const char *key)
{
    json_object *v;
    struct sn_str s = { "", 0 };

    if (json_object_object_get_ex(o, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        s.ptr = json_object_get_string(v);
        s.len = (size_t)json_object_get_string_len(v);
    }
    return s;
}

/* One batch until it is acknowledged OK; returns false on FAIL. */
static bool
deliver_batch(const struct sn_plugin *p, void *state, struct sn_doc *docs,
              size_t n)
{
    for (;;) {
        char why[256] = "";
        enum sn_out_result r;

        pthread_mutex_lock(&g_lock);
        g_token++;
        g_result = -1;
        pthread_mutex_unlock(&g_lock);
        r = p->deliver(state, docs, n, g_token, why, sizeof(why));
        if (r == SN_OUT_PENDING) {
            pthread_mutex_lock(&g_lock);
            while (g_result < 0)
                pthread_cond_wait(&g_cond, &g_lock);
            r = (enum sn_out_result)g_result;
            snprintf(why, sizeof(why), "%s", g_reason);
            pthread_mutex_unlock(&g_lock);
        }
        printf("batch of %zu: %s%s%s\n", n,
               r == SN_OUT_OK      ? "OK"
               : r == SN_OUT_RETRY ? "RETRY"
                                   : "FAIL",
               why[0] ? ": " : "", why);
        fflush(stdout);
        if (r == SN_OUT_OK)
            return true;
        if (r == SN_OUT_FAIL)
            return false;
        {
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
}

int
main(int argc, char **argv)
{
    struct sn_host host = {
        .abi = SN_PLUGIN_ABI,
        .struct_size = sizeof(struct sn_host),
        .log = h_log,
        .counter = h_counter,
        .counter_add = h_add,
        .gauge = h_gauge,
        .gauge_set = h_set,
        .buf_new = h_buf_new,
        .buf_free = h_buf_free,
        .output_ack = h_ack,
    };
    const struct sn_plugin *p;
    void *lib, *state = NULL, *conf;
    char err[512] = "", *line = NULL;
    size_t cap = 0, n = 0;
    json_object *objs[BATCH];
    struct sn_doc docs[BATCH];
    int rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: kafka_deliver PLUGIN.so BROKERS [TOPIC] < docs.jsonl\n");
        return 2;
    }
    if ((lib = dlopen(argv[1], RTLD_NOW)) == NULL ||
        (p = dlsym(lib, "sn_plugin_out_kafka")) == NULL) {
        fprintf(stderr, "kafka_deliver: %s\n", dlerror());
        return 2;
    }
    /* Defaults from the option table, then brokers and topic. */
    conf = calloc(1, p->config_size);
    for (const struct sn_option *o = p->options; o->name != NULL; o++) {
        char *f = (char *)conf + o->offset;
        const char *v = o->def;
        if (strcmp(o->name, "brokers") == 0)
            v = argv[2];
        else if (strcmp(o->name, "topic") == 0 && argc > 3)
            v = argv[3];
        switch (o->type) {
        case SN_OPT_STRING:
            memcpy(f, &v, sizeof(v));
            break;
        case SN_OPT_DURATION:
        {
            int64_t ms = v == NULL                 ? 0
                         : strstr(v, "ms") != NULL ? atoll(v)
                                                   : atoll(v) * 1000;
            memcpy(f, &ms, sizeof(ms));
        }
            break;
        case SN_OPT_ENUM:
        default:
            break; /* 0: the first choice; lists and maps empty */
        }
    }
    if (p->init(&host, NULL, conf, &state, err, sizeof(err)) != SN_OK ||
        p->start(state, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "kafka_deliver: %s\n", err);
        return 2;
    }
    for (;;) {
        ssize_t len = getline(&line, &cap, stdin);
        if (len > 0) {
            json_object *o = json_tokener_parse(line);
            json_object *v;
            if (o == NULL) {
                fprintf(stderr, "kafka_deliver: not JSON: %s", line);
                return 2;
            }
            objs[n] = o;
            docs[n].seq = (int64_t)n;
            docs[n].id = str_of(o, "id");
            docs[n].version = json_object_object_get_ex(o, "version", &v)
                                  ? json_object_get_int64(v)
                                  : 1;
            docs[n].rule_id = str_of(o, "rule_id");
            docs[n].severity = str_of(o, "severity");
            docs[n].status = str_of(o, "status");
            docs[n].json.ptr = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN);
            docs[n].json.len = strlen(docs[n].json.ptr);
            n++;
        }
        if (n == BATCH || (len < 0 && n > 0)) {
            if (!deliver_batch(p, state, docs, n))
                rc = 1;
            for (size_t i = 0; i < n; i++)
                json_object_put(objs[i]);
            n = 0;
        }
        if (len < 0)
            break;
    }
    free(line);
    p->stop(state);
    p->destroy(state);
    free(conf);
    return rc;
}
