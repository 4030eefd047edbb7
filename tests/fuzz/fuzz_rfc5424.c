/*
 * libFuzzer target for the RFC 5424 parser (and the timestamp parsers it
 * uses). Every accepted message is checked against the grammar it claims
 * to satisfy and serialised to JSON, which must be valid UTF-8; rejections
 * must point inside the input. Any violated invariant aborts.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
 *        tests/fuzz/fuzz_rfc5424.c src/syslog/{rfc5424,timestamp,msg}.c
 *        src/core/{arena,buf,json}.c
 * Seeds: tests/fuzz/corpus/rfc5424/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/limits.h"
#include "syslog/rfc5424.h"
#include "syslog/timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok)
{
    if (!ok)
        abort();
}

static bool
inside(const char *p, size_t len, const char *base, size_t size)
{
    return p >= base && p <= base + size && len <= (size_t)(base + size - p);
}

static bool
all_in(struct sn_str s, int lo, int hi, const char *except)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char b = (unsigned char)s.ptr[i];

        if (b < lo || b > hi || (except != NULL && strchr(except, b)))
            return false;
    }
    return true;
}

static bool
has_note(const struct sn_syslog_msg *m, const char *note)
{
    for (size_t i = 0; i < m->n_notes; i++)
        if (strcmp(m->notes[i], note) == 0)
            return true;
    return false;
}

/* A header field: NULL (NILVALUE) or 1..max PRINTUSASCII inside input;
 * longer only with the note too_long. */
static void
check_field(const struct sn_syslog_msg *m, struct sn_str s, size_t max,
            const char *too_long, const char *base, size_t size)
{
    if (s.ptr == NULL) {
        check(s.len == 0);
        return;
    }
    check(inside(s.ptr, s.len, base, size));
    check(s.len >= 1);
    check(s.len <= max || has_note(m, too_long));
    check(all_in(s, 33, 126, NULL));
    check(!(s.len == 1 && s.ptr[0] == '-'));
}

static bool
str_eq(struct sn_str a, struct sn_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void
check_msg(const struct sn_syslog_msg *m, const char *base, size_t size)
{
    check(m->pri >= 0 && m->pri <= 191);
    check(m->version >= 1 && m->version <= 999);
    check_field(m, m->hostname, 255, "hostname longer than 255", base, size);
    check_field(m, m->appname, 48, "app-name longer than 48", base, size);
    check_field(m, m->procid, 128, "procid longer than 128", base, size);
    check_field(m, m->msgid, 32, "msgid longer than 32", base, size);

    if (m->timestamp.ptr != NULL) {
        int64_t ns = 0;
        size_t used = 0;
        enum sn_status rc;

        check(inside(m->timestamp.ptr, m->timestamp.len, base, size));
        rc = sn_rfc3339_parse(m->timestamp.ptr, m->timestamp.len, &ns, &used,
                              NULL);
        if (rc == SN_EINVAL) {
            /* Only more than 6 fraction digits go beyond RFC 5424. */
            unsigned flags = 0;

            check(has_note(m, "fraction longer than 6 digits"));
            rc = sn_rfc3339_parse_lenient(m->timestamp.ptr, m->timestamp.len,
                                          &ns, &used, &flags, NULL);
            check(flags == SN_TS_LONG_FRAC);
        }
        check(used == m->timestamp.len);
        check(rc == (m->has_time ? SN_OK : SN_ELIMIT));
        check(!m->has_time || ns == m->time_ns);
    } else {
        check(!m->has_time);
    }

    check(m->has_sd == (m->n_sd > 0));
    check(m->n_sd <= SN_EVENT_MAX_SD_PARAMS);
    for (size_t i = 0; i < m->n_sd; i++) {
        const struct sn_sd_param *e = &m->sd[i];

        check(inside(e->id.ptr, e->id.len, base, size));
        check(e->id.len >= 1 && e->id.len <= 32);
        check(all_in(e->id, 33, 126, "=]\""));
        /* 6.3.2: SD-IDs of different elements differ. */
        if (i > 0 && e->id.ptr != m->sd[i - 1].id.ptr)
            for (size_t k = 0; k < i; k++)
                check(!str_eq(m->sd[k].id, e->id));
        if (e->name.ptr == NULL) {
            check(e->value.ptr == NULL);
            continue;
        }
        check(inside(e->name.ptr, e->name.len, base, size));
        check(e->name.len >= 1 && e->name.len <= 32);
        check(all_in(e->name, 33, 126, "=]\""));
        check(e->value.ptr != NULL);
        check(sn_utf8_valid(e->value.ptr, e->value.len));
        /* Unescaped copies live in the arena and are never longer. */
        if (!inside(e->value.ptr, e->value.len, base, size))
            check(e->value.len < size);
    }

    if (m->msg.ptr != NULL) {
        check(inside(m->msg.ptr, m->msg.len, base, size));
        check(m->msg.ptr + m->msg.len == base + size);
        if (m->msg_has_bom)
            check(sn_utf8_valid(m->msg.ptr, m->msg.len));
    } else {
        check(!m->msg_has_bom);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sn_arena arena = { NULL, 64 * 1024, 0, 0, NULL };
    const char *p = (const char *)data;
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    struct sn_buf b;
    int64_t ns;
    size_t used;
    unsigned flags;
    enum sn_status rc;

    /* The timestamp parsers on their own. */
    used = (size_t)-1;
    rc = sn_rfc3339_parse(p, size, &ns, &used, &err);
    check(rc == SN_OK || rc == SN_EINVAL || rc == SN_ELIMIT);
    check(rc == SN_EINVAL ? err.offset <= size : used <= size);
    rc = sn_rfc3339_parse_lenient(p, size, &ns, &used, &flags, &err);
    check(rc == SN_EINVAL ? err.offset <= size : used <= size);

    sn_arena_reset(&arena);
    memset(&err, 0, sizeof(err));
    rc = sn_rfc5424_parse(p, size, &arena, &m, &err);
    if (rc != SN_OK) {
        check(rc == SN_EINVAL || rc == SN_ELIMIT);
        check(err.offset <= size);
        check(err.reason[0] != '\0');
        check(memchr(err.reason, '\0', sizeof(err.reason)) != NULL);
        return 0;
    }
    check_msg(&m, p, size);

    sn_buf_init(&b, 64 * 1024 * 1024);
    check(sn_buf_putc(&b, '{') == SN_OK);
    check(sn_syslog_msg_json(&m, &b) == SN_OK);
    check(sn_buf_putc(&b, '}') == SN_OK);
    check(sn_utf8_valid(b.data, b.len));
    /* No raw control bytes may reach the JSON text. */
    for (size_t i = 0; i < b.len; i++)
        check((unsigned char)b.data[i] >= 0x20);
    sn_buf_fini(&b);
    return 0;
}
