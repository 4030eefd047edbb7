/*
 * libFuzzer target for in_syslog's RELP session parser (relp:// input).
 * The first byte picks max_message_size, the oversize policy and a chunk
 * size; the rest is what a peer sends. It is fed in chunks of that size
 * and again in one feed: both runs must emit the same records, end with
 * the same status and produce the same answers. Records must be non-empty
 * and within max_message_size; the answers must be well-formed frames
 * ("TXNR rsp LEN DATA LF", or the serverclose hint), one "200 OK" per
 * emitted record at least. Any violation aborts.
 *
 * Build: see scripts/fuzz.sh (links plugins/in_syslog/in_syslog_relp.c).
 * Seeds: tests/fuzz/corpus/relp/
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/in_syslog/in_syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    size_t chunk;
    uint64_t max_msg;
} shapes[4] = { { 1, 8 }, { 3, 64 }, { 17, 5 }, { 4096, 300 } };

struct trace {
    char *text;
    size_t len, cap;
    size_t n_records;
    uint64_t max_msg;
};

static void
check(bool ok)
{
    if (!ok)
        abort();
}

static void
put(struct trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = (t->len + n) * 2 + 256;
        char *q = realloc(t->text, cap);

        check(q != NULL);
        t->text = q;
        t->cap = cap;
    }
    memcpy(t->text + t->len, p, n);
    t->len += n;
}

static enum sn_status
fake_emit(struct sn_emitter *em, const struct sn_record *rec)
{
    struct trace *t = (struct trace *)(void *)em;

    check(rec->data.len > 0 && rec->data.len <= t->max_msg);
    put(t, &rec->data.len, sizeof(rec->data.len));
    put(t, rec->data.ptr, rec->data.len);
    t->n_records++;
    return SN_OK;
}

static void
fake_counter_add(struct sn_counter *c, uint64_t n)
{
    (void)c;
    (void)n;
}

void
is_log_limited(struct is_state *s, struct is_ratelimit *rl,
               enum sn_log_level level, const char *fmt, ...)
{
    (void)s;
    (void)rl;
    (void)level;
    (void)fmt;
}

/* Answers: frames "TXNR SP rsp SP LEN SP DATA LF" or "0 serverclose 0";
 * returns the number of "200 OK" answers. */
static size_t
check_answers(const char *p, size_t n)
{
    size_t oks = 0;

    while (n > 0) {
        char *end;
        unsigned long txnr = strtoul(p, &end, 10), len;

        check(end > p && (size_t)(end - p) < n && *end == ' ');
        n -= (size_t)(end - p) + 1;
        p = end + 1;
        if (n >= 14 && memcmp(p, "serverclose 0\n", 14) == 0) {
            check(txnr == 0);
            p += 14;
            n -= 14;
            continue;
        }
        check(n > 4 && memcmp(p, "rsp ", 4) == 0);
        p += 4;
        n -= 4;
        len = strtoul(p, &end, 10);
        check(end > p && (size_t)(end - p) < n && *end == ' ');
        n -= (size_t)(end - p) + 1;
        p = end + 1;
        check(len >= 3 && len < n && p[len] == '\n');
        check(memcmp(p, "200", 3) == 0 || memcmp(p, "500", 3) == 0);
        if (len == 6 && memcmp(p, "200 OK", 6) == 0)
            oks++;
        p += len + 1;
        n -= len + 1;
    }
    return oks;
}

static enum sn_status
run(struct is_state *s, struct trace *t, const uint8_t *data, size_t size,
    size_t chunk)
{
    struct is_ratelimit rl = { 0, 0 };
    struct is_relp_sess *r =
        is_relp_sess_new(s, (struct sn_emitter *)(void *)t, &rl, "peer");
    enum sn_status rc = SN_OK;
    const char *out;
    size_t out_len;

    check(r != NULL);
    for (size_t off = 0; off < size && rc == SN_OK; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = is_relp_feed(r, (const char *)data + off, n, 1);
        if (off % (3 * chunk) == 0)
            is_relp_commit(r); /* commits at arbitrary points */
    }
    is_relp_commit(r);
    check(!is_relp_has_held(r));
    out = is_relp_output(r, &out_len);
    put(t, "|", 1);
    put(t, &rc, sizeof(rc));
    put(t, out, out_len);
    check(check_answers(out, out_len) >= t->n_records);
    is_relp_consumed(r, out_len / 2);
    is_relp_serverclose(r);
    out = is_relp_output(r, &out_len);
    check(out_len >= 16 &&
          memcmp(out + out_len - 16, "0 serverclose 0\n", 16) == 0);
    is_relp_sess_free(r);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_host host;
    struct is_conf conf;
    struct is_state s;
    struct trace a, b;
    unsigned shape;

    if (size < 1)
        return 0;
    shape = data[0] & 3;
    memset(&host, 0, sizeof(host));
    host.counter_add = fake_counter_add;
    host.emit = fake_emit;
    memset(&conf, 0, sizeof(conf));
    conf.max_message_size = shapes[shape].max_msg;
    conf.oversize = data[0] & 4 ? IS_OVERSIZE_REJECT : IS_OVERSIZE_TRUNCATE;
    memset(&s, 0, sizeof(s));
    s.host = &host;
    s.c = &conf;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.max_msg = b.max_msg = conf.max_message_size;
    (void)run(&s, &a, data + 1, size - 1, shapes[shape].chunk);
    (void)run(&s, &b, data + 1, size - 1, size);
    check(a.len == b.len && memcmp(a.text, b.text, a.len) == 0);
    free(a.text);
    free(b.text);
    return 0;
}
