/* Unit tests for src/core and src/config helpers that need no files. */
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "config/options.h"
#include "core/arena.h"
#include "core/backoff.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/le.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time_parse.h"
#include "sn_test.h"

SN_TEST(arena_alignment_and_reset)
{
    struct sn_arena a;
    char *p, *q, *big;

    sn_arena_init(&a, 1024, 0);
    p = sn_arena_alloc(&a, 3);
    q = sn_arena_alloc(&a, 5);
    CHECK(p != NULL && q != NULL);
    CHECK_EQ(((uintptr_t)q) % 16, 0);
    big = sn_arena_alloc(&a, 5000); /* larger than a chunk */
    CHECK(big != NULL);
    memset(big, 'x', 5000);
    CHECK(a.total >= 6024);
    sn_arena_reset(&a);
    CHECK_EQ(a.total, 1024); /* oversized chunk released, first kept */
    CHECK(sn_arena_alloc(&a, 10) != NULL);
    sn_arena_fini(&a);
}

/* Regular chunks survive a reset (reused without malloc); no more than
 * SN_ARENA_KEEP_CHUNKS in all are kept, the oldest first. */
SN_TEST(arena_keeps_regular_chunks)
{
    struct sn_arena a;
    void *first, *second;

    _Static_assert(SN_ARENA_KEEP_CHUNKS == 2, "test assumes 2");
    sn_arena_init(&a, 1024, 0);
    for (int round = 0; round < 3; round++) {
        first = sn_arena_alloc(&a, 1000);
        second = sn_arena_alloc(&a, 1000);       /* a second chunk */
        CHECK(sn_arena_alloc(&a, 1000) != NULL); /* a third: freed */
        CHECK(sn_arena_alloc(&a, 3000) != NULL); /* oversized: freed */
        CHECK_EQ(a.total, 3 * 1024 + 3008);
        sn_arena_reset(&a);
        CHECK_EQ(a.total, 1024);
        /* The same memory comes back: nothing was allocated. */
        CHECK(sn_arena_alloc(&a, 1000) == first);
        CHECK(sn_arena_alloc(&a, 1000) == second);
        sn_arena_reset(&a);
    }
    sn_arena_fini(&a);
}

SN_TEST(arena_cap)
{
    struct sn_arena a;

    sn_arena_init(&a, 1024, 2048);
    CHECK(sn_arena_alloc(&a, 1000) != NULL);
    CHECK(sn_arena_alloc(&a, 1000) != NULL);
    CHECK(sn_arena_alloc(&a, 1000) == NULL); /* third chunk over the cap */
    sn_arena_fini(&a);
}

SN_TEST(buf_limit)
{
    struct sn_buf b;

    sn_buf_init(&b, 8);
    CHECK_EQ(sn_buf_append(&b, "12345678", 8), SN_OK);
    CHECK_EQ(sn_buf_putc(&b, 'x'), SN_ELIMIT);
    CHECK_STR(sn_buf_cstr(&b), "12345678");
    sn_buf_fini(&b);
}

SN_TEST(json_escapes_and_utf8)
{
    struct sn_buf b;

    sn_buf_init(&b, 1024);
    sn_json_str(&b, "a\"b\\c\n\x01", 7);
    CHECK_STR(sn_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\"");
    sn_buf_reset(&b);
    /* Valid UTF-8 passes, an invalid byte becomes U+FFFD. */
    sn_json_str(&b, "\xc3\xa9\xff", 3);
    CHECK_STR(sn_buf_cstr(&b), "\"\xc3\xa9\xef\xbf\xbd\"");
    CHECK(sn_utf8_valid("\xe2\x82\xac", 3));
    CHECK(!sn_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!sn_utf8_valid("\xc0\xaf", 2));     /* overlong */
    sn_buf_fini(&b);
}

SN_TEST(status_names)
{
    CHECK_STR(sn_status_name(SN_EINVAL), "SN_EINVAL");
    CHECK_STR(sn_status_str(SN_OK), "success");
    CHECK_STR(sn_status_name((enum sn_status)999), "SN_UNKNOWN");
}

SN_TEST(durations_and_sizes)
{
    int64_t ms;
    uint64_t bytes;
    bool b;

    CHECK(sn_parse_duration_ms("250ms", &ms) && ms == 250);
    CHECK(sn_parse_duration_ms("5s", &ms) && ms == 5000);
    CHECK(sn_parse_duration_ms("2m", &ms) && ms == 120000);
    CHECK(sn_parse_duration_ms("3", &ms) && ms == 3000);
    CHECK(!sn_parse_duration_ms("5 s", &ms));
    CHECK(!sn_parse_duration_ms("-1s", &ms));
    CHECK(!sn_parse_duration_ms("5x", &ms));
    CHECK(sn_parse_size("64KiB", &bytes) && bytes == 65536);
    CHECK(sn_parse_size("1MB", &bytes) && bytes == 1048576);
    CHECK(sn_parse_size("512", &bytes) && bytes == 512);
    CHECK(!sn_parse_size("12QB", &bytes));
    CHECK(sn_parse_bool("yes", &b) && b);
    CHECK(sn_parse_bool("off", &b) && !b);
    CHECK(!sn_parse_bool("maybe", &b));
}

SN_TEST(suggestions)
{
    static const char *const opts[] = { "port", "address", "max_connections",
                                        "tls_cert" };

    CHECK_STR(sn_suggest("prot", opts, 4), "port");
    CHECK_STR(sn_suggest("adress", opts, 4), "address");
    CHECK_STR(sn_suggest("max_conections", opts, 4), "max_connections");
    CHECK(sn_suggest("zzzzzz", opts, 4) == NULL);
}

/* Two swapped neighbours are one typo (optimal string alignment), so a
 * short key gets its suggestion: plain Levenshtein counts "di" 2 from
 * "id", over the limit for a two-letter word. */
SN_TEST(suggestions_count_a_swap_as_one_edit)
{
    static const char *const keys[] = { "in", "id", "title" };

    CHECK_STR(sn_suggest("di", keys, 3), "id");
    CHECK_STR(sn_suggest("ttile", keys, 3), "title");
    CHECK(sn_suggest("xy", keys, 3) == NULL);
}

SN_TEST(ratelimit_counts_suppressed)
{
    struct sn_ratelimit rl = { 0, 0 };
    uint64_t suppressed = 99;

    CHECK(sn_ratelimit_pass(&rl, 60000, &suppressed));
    CHECK_EQ(suppressed, 0);
    CHECK(!sn_ratelimit_pass(&rl, 60000, &suppressed));
    CHECK(!sn_ratelimit_pass(&rl, 60000, &suppressed));
    CHECK_EQ(rl.suppressed, 2);
}

/* Each wait lies in [delay/2, delay]; the delay doubles up to max and a
 * reset starts over (equal jitter, never a zero wait). */
SN_TEST(backoff_equal_jitter_doubles_to_max)
{
    struct sn_backoff b;
    int64_t want[] = { 100, 200, 400, 800, 1000, 1000 };

    sn_backoff_init(&b, 100, 1000);
    CHECK(sn_backoff_is_first(&b));
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        int64_t w = sn_backoff_next(&b);
        CHECK(w >= want[i] / 2 && w <= want[i]);
    }
    CHECK(!sn_backoff_is_first(&b));
    sn_backoff_reset(&b);
    CHECK(sn_backoff_is_first(&b));
    CHECK(sn_backoff_next(&b) >= 50);
}

/* Query times and integers as API clients write them (#14 items 1 and
 * 11): real dates 1970-2199 only, and digits only, in range. */
SN_TEST(time_parse_real_dates_and_strict_integers)
{
    int64_t v = -1;

    CHECK(sn_time_parse("2024-02-29T00:00:00Z", &v));
    CHECK_EQ(v, 1709164800LL * 1000000000);
    CHECK(sn_time_parse("2026-01-02T03:04:05.5Z", &v));
    CHECK_EQ(v % 1000000000, 500000000);
    CHECK(sn_time_parse("0", &v) && v == 0);
    CHECK(!sn_time_parse("2026-13-45T99:99:99Z", &v));
    CHECK(!sn_time_parse("2026-02-29T00:00:00Z", &v));
    CHECK(!sn_time_parse("2026-04-31T00:00:00Z", &v));
    CHECK(!sn_time_parse("9999-01-01T00:00:00Z", &v));
    CHECK(!sn_time_parse("1969-12-31T23:59:59Z", &v));
    CHECK(!sn_time_parse("-9223371946854775809", &v));
    CHECK(!sn_time_parse("9223372036854775807", &v));
    CHECK(!sn_time_parse("+2026-01-01T00:00:00Z", &v));
    CHECK(!sn_time_parse("2026-01-01T00:00:00.5e3Z", &v));
    v = 7;
    CHECK(sn_time_parse_int("500", 1, 500, &v) && v == 500);
    CHECK(sn_time_parse_int("9223372036854775807", 0, INT64_MAX, &v));
    CHECK(!sn_time_parse_int("501", 1, 500, &v));
    CHECK(!sn_time_parse_int("0", 1, 500, &v));
    CHECK(!sn_time_parse_int("+10", 1, 500, &v));
    CHECK(!sn_time_parse_int(" 10", 1, 500, &v));
    CHECK(!sn_time_parse_int("10 ", 1, 500, &v));
    CHECK(!sn_time_parse_int("-1", 0, 500, &v));
    CHECK(!sn_time_parse_int("", 0, 500, &v));
    CHECK(!sn_time_parse_int("1e3", 0, 5000, &v));
    CHECK(!sn_time_parse_int("9223372036854775808", 0, INT64_MAX, &v));
    CHECK_EQ(v, INT64_MAX); /* untouched by the refusals */
}

/* core/le.h: widths and signedness survive the round trip (times whose
 * low half has bit 31 set, T_NONE, -1 as 32 bits), bytes are
 * little-endian, a short read fails once and for all. */
SN_TEST(le_round_trip)
{
    struct sn_buf b;
    struct sn_le_rd r;
    const int64_t t = 1796617310000019000LL; /* low half: bit 31 set */
    size_t at;

    CHECK((uint32_t)t & 0x80000000u);
    sn_buf_init(&b, 256);
    CHECK_EQ(sn_le_put(&b, (uint64_t)t, 8), SN_OK);
    CHECK_EQ(sn_le_put(&b, (uint64_t)INT64_MIN, 8), SN_OK);
    CHECK_EQ(sn_le_put(&b, (uint32_t)-1, 4), SN_OK);
    CHECK_EQ(sn_le_put(&b, 0x0102, 2), SN_OK);
    at = b.len;
    CHECK_EQ(sn_le_put(&b, 0, 4), SN_OK);
    sn_le_patch32(&b, at, 0xdeadbeefu);
    CHECK_EQ(b.len, 26);
    CHECK_EQ((unsigned char)b.data[0], (unsigned char)t);
    CHECK_EQ((unsigned char)b.data[20], 0x02);
    CHECK_EQ((unsigned char)b.data[22], 0xef);
    sn_le_rd_init(&r, b.data, b.len);
    CHECK_EQ((int64_t)sn_le_get(&r, 8), t);
    CHECK_EQ((int64_t)sn_le_get(&r, 8), INT64_MIN);
    CHECK_EQ((int32_t)(uint32_t)sn_le_get(&r, 4), -1);
    CHECK_EQ(sn_le_get(&r, 2), 0x0102);
    CHECK_EQ(sn_le_get(&r, 4), 0xdeadbeefu);
    CHECK(!r.failed && r.p == r.end);
    CHECK_EQ(sn_le_get(&r, 1), 0);
    CHECK(r.failed);
    sn_le_rd_init(&r, b.data, 3);
    CHECK(sn_le_take(&r, 4) == NULL);
    CHECK(sn_le_take(&r, 1) == NULL); /* failed stays failed */
    sn_buf_fini(&b);
}

/* The escaping one byte at a time, as sn_json_str did before it read
 * sixteen bytes at a time: the reference it must still agree with. */
static void
json_str_ref(struct sn_buf *b, const unsigned char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    sn_buf_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = 0;

        if (c >= 0x80) {
            for (size_t k = 2; k <= 4 && k <= len - i && n == 0; k++)
                if (sn_utf8_valid((const char *)p + i, k))
                    n = k;
            if (n == 0)
                sn_buf_append(b, "\xEF\xBF\xBD", 3);
            else
                sn_buf_append(b, p + i, n);
            i += n ? n : 1;
            continue;
        }
        switch (c) {
        case '"':
            sn_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            sn_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            sn_buf_append(b, "\\n", 2);
            break;
        case '\r':
            sn_buf_append(b, "\\r", 2);
            break;
        case '\t':
            sn_buf_append(b, "\\t", 2);
            break;
        case '\b':
            sn_buf_append(b, "\\b", 2);
            break;
        case '\f':
            sn_buf_append(b, "\\f", 2);
            break;
        default:
            if (c < 0x20) {
                char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                sn_buf_append(b, e, 6);
            } else
                sn_buf_putc(b, (char)c);
        }
        i++;
    }
    sn_buf_putc(b, '"');
}

/* sn_json_str against the bytewise reference: random strings of plain
 * bytes with a special one (escape, control, UTF-8 lead or broken
 * sequence) at every offset of the 16- and 8-byte steps. */
SN_TEST(json_str_like_bytewise)
{
    static const char *const specials[] = {
        "\"",           "\\",           "\n",
        "\x01",         "\x1f",         "\x7f",
        "\xc3\xa9",     "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xff",         "\xc3",         "\xe2\x82",
        "\xed\xa0\x80", "\xc0\xaf",     "\xf4\x90\x80\x80",
        "\0",
    };
    const size_t n_spec = sizeof(specials) / sizeof(specials[0]);
    unsigned char s[96];
    struct sn_buf got, want;
    unsigned seed = 21;

    sn_buf_init(&got, 4096);
    sn_buf_init(&want, 4096);
    for (size_t len = 0; len <= 80; len++) {
        for (size_t at = 0; at <= len; at++) {
            size_t k = (at * 7 + len) % n_spec;
            size_t sl = k == n_spec - 1 ? 1 : strlen(specials[k]);
            size_t n = len;

            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                s[i] = (unsigned char)(' ' + (seed >> 16) % 94);
            }
            if (at + sl <= len)
                memcpy(s + at, specials[k], sl);
            if (at % 5 == 0 && len >= 2) /* a second one further on */
                s[len - 1] = (unsigned char)specials[(k + 3) % n_spec][0];
            sn_buf_reset(&got);
            sn_buf_reset(&want);
            CHECK_EQ(sn_json_str(&got, (const char *)s, n), SN_OK);
            json_str_ref(&want, s, n);
            CHECK_EQ(got.len, want.len);
            CHECK(memcmp(got.data, want.data, want.len) == 0);
        }
    }
    sn_buf_fini(&got);
    sn_buf_fini(&want);
}

/* sn_json_int against printf's %lld: every digit count, both signs,
 * the int64 limits, and the edges of its two-digit steps. */
SN_TEST(json_int_like_printf)
{
    static const int64_t vals[] = {
        0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1009, 10000, 99999,
        100000, 1794694400000000000LL, 1000000000000000000LL,
        9223372036854775807LL, -9223372036854775807LL - 1,
    };
    struct sn_buf b;
    char want[32];

    sn_buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        for (int neg = 0; neg < 2; neg++) {
            int64_t v = neg && vals[i] > INT64_MIN ? -vals[i] : vals[i];

            sn_buf_reset(&b);
            CHECK_EQ(sn_json_int(&b, v), SN_OK);
            snprintf(want, sizeof(want), "%lld", (long long)v);
            CHECK_SLICE(b.data, b.len, want);
        }
    }
    /* Every power of ten and its neighbours. */
    for (int64_t p = 1; p <= 1000000000000000000LL; p *= 10) {
        for (int64_t v = p - 1; v <= p + 1; v++) {
            sn_buf_reset(&b);
            CHECK_EQ(sn_json_int(&b, v), SN_OK);
            snprintf(want, sizeof(want), "%lld", (long long)v);
            CHECK_SLICE(b.data, b.len, want);
        }
        if (p > INT64_MAX / 10)
            break;
    }
    sn_buf_fini(&b);
}

SN_TEST_MAIN(SN_T(arena_alignment_and_reset), SN_T(arena_keeps_regular_chunks),
             SN_T(arena_cap), SN_T(buf_limit), SN_T(json_escapes_and_utf8),
             SN_T(json_str_like_bytewise), SN_T(json_int_like_printf),
             SN_T(status_names), SN_T(durations_and_sizes), SN_T(suggestions),
             SN_T(suggestions_count_a_swap_as_one_edit),
             SN_T(ratelimit_counts_suppressed),
             SN_T(backoff_equal_jitter_doubles_to_max),
             SN_T(time_parse_real_dates_and_strict_integers),
             SN_T(le_round_trip))
