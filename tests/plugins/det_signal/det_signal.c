/*
 * det_signal: a test detector (built for `make check`, never installed).
 * Every event whose message is
 *   SIGNAL <rule> <key> [<severity>[/<base severity>] [<state> [text...]]]
 * becomes one signal (docs/correlation.md "Signal JSON") for rule <rule>
 * keyed by {"user.name": <key>}, with the rest of the message as its only
 * evidence summary. Lets the incident tests drive the manager exactly,
 * without the rules engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sentineld/plugin.h>

struct ds_state {
    const struct sn_host *host;
    struct sn_instance *inst;
    struct sn_counter *emitted;
};

static const struct sn_option ds_options[] = { { 0 } };

static enum sn_status
ds_init(const struct sn_host *host, struct sn_instance *inst,
        const void *config, void **state, char *err, size_t err_len)
{
    struct ds_state *s = calloc(1, sizeof(*s));

    (void)config;
    (void)err;
    (void)err_len;
    if (s == NULL)
        return SN_ENOMEM;
    s->host = host;
    s->inst = inst;
    s->emitted = host->counter(inst, "test_signals_total", "signals emitted");
    *state = s;
    return SN_OK;
}

static void
ds_destroy(void *state)
{
    free(state);
}

/* The next space-separated word of [*p, end) into out. */
static size_t
word(const char **p, const char *end, char *out, size_t size)
{
    size_t n = 0;

    while (*p < end && **p == ' ')
        (*p)++;
    while (*p < end && **p != ' ') {
        if (n + 1 < size)
            out[n++] = **p;
        (*p)++;
    }
    out[n] = '\0';
    return n;
}

/* JSON string body: the test messages are ASCII; escape what JSON needs. */
static void
json_text(char *out, size_t size, const char *p, const char *end)
{
    size_t n = 0;

    for (; p < end && n + 7 < size; p++) {
        if (*p == '"' || *p == '\\')
            out[n++] = '\\';
        if ((unsigned char)*p < 0x20)
            continue;
        out[n++] = *p;
    }
    out[n] = '\0';
}

static enum sn_status
ds_detect(void *state, struct sn_batch *b)
{
    struct ds_state *s = state;
    size_t n = s->host->batch_len(b);
    char rule[128], key[128], sev[64], st[32], text[1024], json[2048];

    for (size_t i = 0; i < n; i++) {
        struct sn_event *ev = s->host->batch_event(b, i);
        struct sn_str m = s->host->event_get(ev, SN_F_MSG);
        const char *p = m.ptr, *end = m.ptr + m.len;
        const char *base;
        char *slash;
        int64_t t = 0;
        int len;

        if (m.len < 7 || memcmp(m.ptr, "SIGNAL ", 7) != 0)
            continue;
        p += 7;
        if (word(&p, end, rule, sizeof(rule)) == 0 ||
            word(&p, end, key, sizeof(key)) == 0)
            continue;
        if (word(&p, end, sev, sizeof(sev)) == 0)
            strcpy(sev, "medium");
        if (word(&p, end, st, sizeof(st)) == 0)
            strcpy(st, "firing");
        while (p < end && *p == ' ')
            p++;
        json_text(text, sizeof(text), p, end);
        base = sev;
        if ((slash = strchr(sev, '/')) != NULL) {
            *slash = '\0';
            base = slash + 1;
        }
        if (!s->host->event_time(ev, &t))
            t = s->host->event_record(ev)->recv_ns;
        len = snprintf(json, sizeof(json),
                       "{\"type\":\"signal\",\"rule\":\"%s\",\"kind\":"
                       "\"test\",\"state\":\"%s\",\"severity\":\"%s\","
                       "\"base_severity\":\"%s\",\"time_ns\":%lld,"
                       "\"key\":{\"user.name\":\"%s\"},\"window\":{"
                       "\"count\":1,\"first_ns\":%lld,\"last_ns\":%lld},"
                       "\"title\":\"Test rule %s\",\"evidence\":{\"first\":"
                       "[{\"time_ns\":%lld,\"summary\":\"%s\"}],\"last\":[]}}",
                       rule, st, sev, base, (long long)t, key, (long long)t,
                       (long long)t, rule, (long long)t, text);
        if (len > 0 && (size_t)len < sizeof(json) &&
            s->host->signal_emit(s->inst, json, (size_t)len) == SN_OK)
            s->host->counter_add(s->emitted, 1);
    }
    return SN_OK;
}

__attribute__((visibility("default"))) const struct sn_plugin
    sn_plugin_det_signal = {
        SN_PLUGIN_HEADER,
        .name = "det_signal",
        .kind = SN_KIND_DETECTOR,
        .description = "test detector: 'SIGNAL rule key ...' messages",
        .version = "1",
        .options = ds_options,
        .config_size = 0,
        .init = ds_init,
        .destroy = ds_destroy,
        .detect = ds_detect,
    };
