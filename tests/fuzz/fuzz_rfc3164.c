/*
 * libFuzzer target for sn_rfc3164_parse: any bytes must parse (or be
 * rejected as empty) without reading outside the input, and every field
 * must be a slice of the input; with a memo (sn_rfc3164_parse_memo)
 * every result must be the one without it. Seeds: tests/fuzz/corpus/rfc3164/.
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc ...
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "syslog/rfc3164.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Kept across inputs, as a file's lines share it: each input meets the
 * stamp and the year inference of the one before. */
static struct sn_rfc3164_memo memo;

/* a and b, parses of one input at base, have the same fields. */
static void
check_same_slice(const char *base, struct sn_str a, struct sn_str b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL) ||
        (a.ptr != NULL && (a.ptr - base != b.ptr - base || a.len != b.len)))
        abort();
}

static void
check_same(const char *base, const struct sn_syslog_msg *a,
           const struct sn_syslog_msg *b)
{
    if (a->pri != b->pri || a->has_time != b->has_time ||
        (a->has_time && a->time_ns != b->time_ns) || a->n_notes != b->n_notes)
        abort();
    for (size_t i = 0; i < a->n_notes; i++)
        if (strcmp(a->notes[i], b->notes[i]) != 0)
            abort();
    check_same_slice(base, a->timestamp, b->timestamp);
    check_same_slice(base, a->hostname, b->hostname);
    check_same_slice(base, a->appname, b->appname);
    check_same_slice(base, a->procid, b->procid);
    check_same_slice(base, a->msgid, b->msgid);
    check_same_slice(base, a->msg, b->msg);
}

static void
check_slice(const char *base, size_t len, struct sn_str s)
{
    if (s.ptr == NULL)
        return;
    if (s.ptr < base || s.len > len || (size_t)(s.ptr - base) > len - s.len)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any over-read. */
    char *p = malloc(size ? size : 1);
    struct sn_rfc3164_opts opts = { 1795435200LL * 1000000000LL, 3600 };
    struct sn_syslog_msg m, mm;
    struct sn_parse_error err;
    struct sn_arena arena;
    enum sn_status rc;

    if (p == NULL)
        return 0;
    for (size_t i = 0; i < size; i++)
        p[i] = (char)data[i];
    /* Vary the reference time with the first byte to reach the year
     * inference edges (New Year, leap days, int64 limits). */
    if (size > 0 && data[0] == 'Z')
        opts.now_ns = INT64_MAX - (int64_t)(size % 7);
    else if (size > 0 && data[0] == 'A')
        opts.now_ns = INT64_MIN + (int64_t)(size % 7);
    sn_arena_init(&arena, 4096, 0);
    rc = sn_rfc3164_parse(p, size, &opts, &arena, &m, &err);
    /* Twice: the first meets the last input's memo, the second its own. */
    for (int k = 0; k < 2; k++) {
        if (sn_rfc3164_parse_memo(p, size, &opts, &memo, &arena, &mm, &err) !=
            rc)
            abort();
        if (rc == SN_OK)
            check_same(p, &m, &mm);
    }
    if (rc == SN_OK) {
        check_slice(p, size, m.timestamp);
        check_slice(p, size, m.hostname);
        check_slice(p, size, m.appname);
        check_slice(p, size, m.procid);
        check_slice(p, size, m.msg);
        check_slice(p, size, m.msgid);
        /* RFC 3164 has no MSGID; only a Solaris "[ID N fac.lvl]" sets
         * one, and only its digits. */
        for (size_t i = 0; m.msgid.ptr != NULL && i < m.msgid.len; i++)
            if (m.msgid.ptr[i] < '0' || m.msgid.ptr[i] > '9')
                abort();
        if (m.msg.ptr == NULL || (m.msgid.ptr != NULL && m.msgid.len == 0) ||
            m.has_sd || m.n_notes > SN_SYSLOG_MAX_NOTES)
            abort();
    } else if (rc != SN_EINVAL || size != 0) {
        abort();
    }
    sn_arena_fini(&arena);
    free(p);
    return 0;
}
