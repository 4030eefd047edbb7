/*
 * Tests for the RFC 6587 framer (src/syslog/framer.c): each rule in
 * framer.h, then a property test feeding the same streams split at every
 * position, byte by byte and in random chunks, which must all give the
 * same frames and errors as one feed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test.h"
#include "syslog/framer.h"

/* Everything the callbacks saw, as text: one line per event. */
struct log {
    char text[1 << 16];
    size_t len;
    int n_frames, n_errors;
    const char *last_ptr; /* payload pointer of the last frame */
};

static void
log_add(struct log *l, const char *s, size_t n)
{
    if (n > sizeof(l->text) - 1 - l->len)
        n = sizeof(l->text) - 1 - l->len;
    memcpy(l->text + l->len, s, n);
    l->len += n;
    l->text[l->len] = '\0';
}

static void
on_frame(void *ctx, const char *p, size_t len, bool truncated)
{
    struct log *l = ctx;
    char head[32];

    l->n_frames++;
    l->last_ptr = p;
    log_add(l, "[", 1);
    log_add(l, p, len);
    snprintf(head, sizeof(head), "]%s\n", truncated ? "T" : "");
    log_add(l, head, strlen(head));
}

static void
on_error(void *ctx, const char *reason, uint64_t offset)
{
    struct log *l = ctx;
    char line[160];

    l->n_errors++;
    snprintf(line, sizeof(line), "E%llu %s\n", (unsigned long long)offset,
             reason);
    log_add(l, line, strlen(line));
}

static const struct sn_framer_cb cbs = { on_frame, on_error };

static struct sn_framer_opts
opts_of(enum sn_framing mode)
{
    struct sn_framer_opts o;

    sn_framer_opts_default(&o);
    o.mode = mode;
    return o;
}

/* Frame s (len bytes) in chunks of `chunk` bytes (0: one feed) into l. */
static enum sn_status
run_chunks(const struct sn_framer_opts *o, const char *s, size_t len,
           size_t chunk, struct log *l)
{
    struct sn_framer f;
    enum sn_status rc = SN_OK, rc2;

    memset(l, 0, sizeof(*l));
    if (sn_framer_init(&f, o) != SN_OK)
        return SN_EINVAL;
    if (chunk == 0)
        chunk = len;
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;

        rc2 = sn_framer_feed(&f, s + i, n, &cbs, l);
        if (rc2 != SN_OK)
            rc = rc2;
    }
    rc2 = sn_framer_finish(&f, &cbs, l);
    if (rc == SN_OK)
        rc = rc2;
    sn_framer_fini(&f);
    return rc;
}

static const char *
frame_str(const struct sn_framer_opts *o, const char *s)
{
    static struct log l;

    run_chunks(o, s, strlen(s), 0, &l);
    return l.text;
}

SN_TEST(lf_basic)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);

    CHECK_STR(frame_str(&o, "<13>a\n<14>bc\n"), "[<13>a]\n[<14>bc]\n");
    /* Digits mean nothing in LF mode. */
    CHECK_STR(frame_str(&o, "5 hello\n"), "[5 hello]\n");
    CHECK_STR(frame_str(&o, ""), "");
}

SN_TEST(lf_empty_frames_skipped)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);
    struct sn_framer f;
    struct log l;

    memset(&l, 0, sizeof(l));
    CHECK_STR(frame_str(&o, "\n\na\n\n\nb\n\n"), "[a]\n[b]\n");
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    sn_framer_feed(&f, "\n\nx\n\n", 5, &cbs, &l);
    CHECK_EQ(f.stats.n_empty, 3);
    CHECK_EQ(f.stats.n_frames, 1);
    sn_framer_fini(&f);
}

SN_TEST(lf_cr)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);

    /* Kept by default, as rsyslog does. */
    CHECK_STR(frame_str(&o, "a\r\nb\r\n"), "[a\r]\n[b\r]\n");
    CHECK_STR(frame_str(&o, "\r\n"), "[\r]\n");
    o.strip_cr = true;
    CHECK_STR(frame_str(&o, "a\r\nb\r\n"), "[a]\n[b]\n");
    /* Only one CR, only right before the delimiter; CR LF alone is empty. */
    CHECK_STR(frame_str(&o, "a\r\r\nb\rc\n\r\n"), "[a\r]\n[b\rc]\n");
    /* At EOF there is no trailer, so nothing is stripped. */
    CHECK_STR(frame_str(&o, "a\r"), "[a\r]\n");
}

SN_TEST(lf_eof_partial_delivered)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);

    CHECK_STR(frame_str(&o, "a\nlast"), "[a]\n[last]\n");
    o.mode = SN_FRAMING_AUTO;
    CHECK_STR(frame_str(&o, "<13>no newline"), "[<13>no newline]\n");
}

SN_TEST(nul_delim)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);
    static const char in[] = "a\0b\nc\0\0d";

    CHECK_STR(frame_str(&o, "a\nb"), "[a]\n[b]\n");
    o.nul_delim = true;
    {
        struct log l;

        run_chunks(&o, in, sizeof(in) - 1, 0, &l);
        CHECK_STR(l.text, "[a]\n[b]\n[c]\n[d]\n");
        o.nul_delim = false;
        run_chunks(&o, in, sizeof(in) - 1, 0, &l);
        CHECK_EQ(l.n_frames, 2);
        CHECK(memcmp(l.text, "[a\0b]\n", 6) == 0);
    }
}

SN_TEST(octet_basic)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);

    CHECK_STR(frame_str(&o, "5 hello6 world!"), "[hello]\n[world!]\n");
    /* The count covers LFs inside the message (RFC 6587 3.4.1). */
    CHECK_STR(frame_str(&o, "11 line1\nline212 x"),
              "[line1\nline2]\nE18 truncated frame at EOF, 1 of 12 bytes\n");
    CHECK_STR(frame_str(&o, "1  x"),
              "[ ]\nE3 frame does not start with MSG-LEN\n");
}

SN_TEST(octet_errors)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);

    /* Leading zero, reported at the '0'; resync after the next LF. */
    CHECK_STR(frame_str(&o, "05 hello\n3 abc"),
              "E0 MSG-LEN has a leading zero\n[abc]\n");
    /* Not followed by SP: reported at the offending byte. */
    CHECK_STR(frame_str(&o, "3 abc12x34\n1 z"),
              "[abc]\nE7 MSG-LEN not followed by SP\n[z]\n");
    /* The offending byte may be the LF itself, which ends the bad frame. */
    CHECK_STR(frame_str(&o, "12\n1 z"), "E2 MSG-LEN not followed by SP\n[z]\n");
    /* Not a digit at a frame start, including a stray LF. */
    CHECK_STR(frame_str(&o, "<13>x\n1 a\n1 b"),
              "E0 frame does not start with MSG-LEN\n[a]\n"
              "E9 frame does not start with MSG-LEN\n[b]\n");
    /* The default max_frame is 1 MiB: seven digits at most. */
    CHECK_STR(frame_str(&o, "10000000 x\n1 a"),
              "E7 MSG-LEN has too many digits\n[a]\n");
    CHECK_STR(frame_str(&o, "2000000 x\n1 a"),
              "E6 MSG-LEN exceeds the maximum frame size\n[a]\n");
    CHECK_STR(frame_str(&o, "99999999999999999999999 x\n1 a"),
              "E6 MSG-LEN exceeds the maximum frame size\n[a]\n");
    /* Resync skips to the end of stream when there is no LF. */
    CHECK_STR(frame_str(&o, "x 1 a"), "E0 frame does not start with MSG-LEN\n");
}

SN_TEST(octet_max_frame_option)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);

    o.max_msg = 4;
    o.max_frame = 100;
    CHECK_STR(frame_str(&o, "100 "),
              "E4 truncated frame at EOF, 0 of 100 bytes\n");
    CHECK_STR(frame_str(&o, "101 \n"),
              "E2 MSG-LEN exceeds the maximum frame size\n");
    CHECK_STR(frame_str(&o, "1000\n"), "E3 MSG-LEN has too many digits\n");
}

SN_TEST(octet_eof)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);

    CHECK_STR(frame_str(&o, "10 abc"),
              "E6 truncated frame at EOF, 3 of 10 bytes\n");
    CHECK_STR(frame_str(&o, "10"), "E2 truncated MSG-LEN at EOF\n");
    CHECK_STR(frame_str(&o, "10 "),
              "E3 truncated frame at EOF, 0 of 10 bytes\n");
}

SN_TEST(auto_mixed)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_AUTO);

    CHECK_STR(frame_str(&o, "5 hello<13>x\n3 abc\n<14>y\n"),
              "[hello]\n[<13>x]\n[abc]\n[<14>y]\n");
    /* A legacy line starting with a digit is read as an octet count,
     * as rsyslog imtcp does. */
    CHECK_STR(frame_str(&o, "2024-01-01 x\n<1>y\n"),
              "E4 MSG-LEN not followed by SP\n[<1>y]\n");
    CHECK_STR(frame_str(&o, "0 x\n<1>y"),
              "E0 MSG-LEN has a leading zero\n[<1>y]\n");
    /* Anything but a digit starts LF framing, SP included. */
    CHECK_STR(frame_str(&o, " 5 x\n"), "[ 5 x]\n");
}

SN_TEST(oversize_truncate)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_AUTO);
    struct sn_framer f;
    struct log l;

    o.max_msg = 4;
    CHECK_STR(frame_str(&o, "abcd\nabcdef\nxy\n"), "[abcd]\n[abcd]T\n[xy]\n");
    CHECK_STR(frame_str(&o, "4 abcd6 abcdef2 xy"), "[abcd]\n[abcd]T\n[xy]\n");
    /* Truncated head delivered, then the EOF error for the rest. */
    CHECK_STR(frame_str(&o, "10 abcdefg"),
              "[abcd]T\nE10 truncated frame at EOF, 7 of 10 bytes\n");
    CHECK_STR(frame_str(&o, "abcdefg"), "[abcd]T\n");

    memset(&l, 0, sizeof(l));
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    sn_framer_feed(&f, "6 abcdefabcdefgh\n", 17, &cbs, &l);
    CHECK_EQ(f.stats.n_truncated, 2);
    CHECK_EQ(f.stats.n_discarded, 2 + 4);
    sn_framer_fini(&f);
}

SN_TEST(oversize_reject)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_AUTO);
    struct sn_framer f;
    struct log l;

    o.max_msg = 4;
    o.oversize = SN_OVERSIZE_REJECT;
    CHECK_STR(frame_str(&o, "ab\nabcdef\nxy\n"),
              "[ab]\nE3 frame exceeds max_msg\n[xy]\n");
    CHECK_STR(frame_str(&o, "2 ab6 abcdef2 xy"),
              "[ab]\nE4 frame exceeds max_msg\n[xy]\n");
    /* A partial octet frame is reported at EOF as well. */
    CHECK_STR(
        frame_str(&o, "6 abc"),
        "E0 frame exceeds max_msg\nE5 truncated frame at EOF, 3 of 6 bytes\n");
    CHECK_STR(frame_str(&o, "abcde"), "E0 frame exceeds max_msg\n");

    memset(&l, 0, sizeof(l));
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    CHECK_EQ(sn_framer_feed(&f, "6 abcdefabcdefgh\nok\n", 20, &cbs, &l), SN_OK);
    CHECK_EQ(f.stats.n_rejected, 2);
    CHECK_EQ(f.stats.n_errors, 0);
    CHECK_EQ(f.stats.n_frames, 1);
    sn_framer_fini(&f);
}

/* max_msg + CR + LF with strip_cr is exactly max_msg: not truncated, also
 * when the CR arrives in a feed of its own. */
SN_TEST(strip_cr_at_limit)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_LF);
    struct log l;
    static const char in[] = "abcd\r\nabcde\r\nabc\r\r\n";
    static const char want[] = "[abcd]\n[abcd]T\n[abc\r]\n";

    o.max_msg = 4;
    o.strip_cr = true;
    for (size_t chunk = 0; chunk <= 7; chunk++) {
        run_chunks(&o, in, sizeof(in) - 1, chunk, &l);
        CHECK_STR(l.text, want);
    }
    run_chunks(&o, "abcd\r", 5, 1, &l);
    CHECK_STR(l.text, "[abcd]T\n");
}

SN_TEST(close_policy)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);
    struct sn_framer f;
    struct log l;

    o.on_error = SN_ON_ERROR_CLOSE;
    memset(&l, 0, sizeof(l));
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    CHECK_EQ(sn_framer_feed(&f, "1 a", 3, &cbs, &l), SN_OK);
    CHECK_EQ(sn_framer_feed(&f, "x\n1 b", 5, &cbs, &l), SN_EPEER);
    CHECK_EQ(sn_framer_feed(&f, "1 c", 3, &cbs, &l), SN_EPEER);
    CHECK_EQ(sn_framer_finish(&f, &cbs, &l), SN_EPEER);
    CHECK_STR(l.text, "[a]\nE3 frame does not start with MSG-LEN\n");
    /* finish made it ready for a new stream. */
    CHECK_EQ(sn_framer_feed(&f, "1 d", 3, &cbs, &l), SN_OK);
    CHECK_STR(l.text, "[a]\nE3 frame does not start with MSG-LEN\n[d]\n");
    sn_framer_fini(&f);

    /* Oversize rejection is not a framing error: it never closes. */
    o.max_msg = 1;
    o.oversize = SN_OVERSIZE_REJECT;
    CHECK_EQ(run_chunks(&o, "2 ab1 c", 7, 0, &l), SN_OK);
    CHECK_STR(l.text, "E0 frame exceeds max_msg\n[c]\n");
}

SN_TEST(zero_copy)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_AUTO);
    struct sn_framer f;
    struct log l;
    static const char in[] = "5 hello<13>x\n";

    memset(&l, 0, sizeof(l));
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    sn_framer_feed(&f, in, 7, &cbs, &l);
    CHECK(l.last_ptr == in + 2);
    CHECK(f.buf == NULL); /* nothing split yet: nothing allocated */
    sn_framer_feed(&f, in + 7, 3, &cbs, &l);
    sn_framer_feed(&f, in + 10, 3, &cbs, &l);
    CHECK(f.buf != NULL);
    CHECK(l.last_ptr == f.buf);
    CHECK_STR(l.text, "[hello]\n[<13>x]\n");
    sn_framer_fini(&f);
    sn_framer_fini(NULL);
}

SN_TEST(offsets_across_feeds)
{
    struct sn_framer_opts o = opts_of(SN_FRAMING_OCTET);
    struct log l;

    /* Split right inside MSG-LEN and before the bad byte. */
    run_chunks(&o, "3 abc1", 6, 0, &l);
    CHECK_STR(l.text, "[abc]\nE6 truncated MSG-LEN at EOF\n");
    run_chunks(&o, "3 abc12x", 8, 1, &l);
    CHECK_STR(l.text, "[abc]\nE7 MSG-LEN not followed by SP\n");
}

SN_TEST(init_validation)
{
    struct sn_framer f;
    struct sn_framer_opts o = opts_of(SN_FRAMING_AUTO);

    CHECK_EQ(sn_framer_init(&f, NULL), SN_OK);
    CHECK_EQ(f.opts.max_msg, SN_FRAMER_DEFAULT_MAX_MSG);
    CHECK_EQ(f.opts.max_frame, SN_FRAMER_DEFAULT_MAX_FRAME);
    CHECK_EQ(f.max_digits, 7);
    o.max_msg = 2 * 1024 * 1024;
    CHECK_EQ(sn_framer_init(&f, &o), SN_OK);
    CHECK_EQ(f.opts.max_frame, 2 * 1024 * 1024);
    o.max_frame = 1024;
    CHECK_EQ(sn_framer_init(&f, &o), SN_EINVAL);
    o.max_msg = 100;
    o.max_frame = (size_t)SN_FRAMER_MAX_FRAME_LIMIT + 1;
    CHECK_EQ(sn_framer_init(&f, &o), SN_EINVAL);
    o.max_frame = 0;
    o.mode = (enum sn_framing)7;
    CHECK_EQ(sn_framer_init(&f, &o), SN_EINVAL);
    sn_framer_fini(&f);
}

/* ---- Property: splitting never changes the output. ------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Du;

static unsigned
rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Feed in random chunk sizes (1..max_chunk). */
static void
run_random(const struct sn_framer_opts *o, const char *s, size_t len,
           unsigned max_chunk, struct log *l)
{
    struct sn_framer f;

    memset(l, 0, sizeof(*l));
    if (sn_framer_init(&f, o) != SN_OK)
        return;
    for (size_t i = 0; i < len;) {
        size_t n = 1 + rnd(max_chunk);

        if (n > len - i)
            n = len - i;
        sn_framer_feed(&f, s + i, n, &cbs, l);
        i += n;
    }
    sn_framer_finish(&f, &cbs, l);
    sn_framer_fini(&f);
}

/* Split at position k into two feeds. */
static void
run_split(const struct sn_framer_opts *o, const char *s, size_t len, size_t k,
          struct log *l)
{
    struct sn_framer f;

    memset(l, 0, sizeof(*l));
    if (sn_framer_init(&f, o) != SN_OK)
        return;
    sn_framer_feed(&f, s, k, &cbs, l);
    sn_framer_feed(&f, s + k, len - k, &cbs, l);
    sn_framer_finish(&f, &cbs, l);
    sn_framer_fini(&f);
}

/* Streams may hold NULs, hence explicit lengths. */
#define STREAM(s) s, sizeof(s) - 1
static const struct {
    const char *s;
    size_t len;
} streams[] = {
    { STREAM("5 hello<13>x\n3 abc\n\n<14>y\r\nz\0w\n") },
    { STREAM("12 abcdefghijkl4 abcd\n\n\n<1>line\n10 1234567890") },
    { STREAM("05 x\n2000000 y\n12345678 z\n3 a\nb1 c9x\n7 abc") },
    { STREAM("abcdefghij\r\nab\r\n\r\n\0\0ab\rc\nlast\r") },
    { STREAM("100 abcdefghij\n<13>abcdefghijkl\n3 xyz") },
    { STREAM("1 a1 b1 c\n\n\n1 d2 e") },
    { STREAM("9999999999999999999999 x\n5 hello\n") },
    { STREAM("7 a\nb\nc\n\n6 abcdef<5>\n") },
    { STREAM("abcd\r\r\nabcd\r\nab\0cdef\r\n\r\r\n") },
};

SN_TEST(property_split_invariance)
{
    static struct log whole, part;
    struct sn_framer_opts o;
    size_t n_streams = sizeof(streams) / sizeof(streams[0]);
    int n_checked = 0, n_bad = 0;

    for (int mode = 0; mode < 3; mode++)
        for (int variant = 0; variant < 8; variant++) {
            o = opts_of((enum sn_framing)mode);
            o.max_msg = (variant & 1) ? 4 : 11;
            o.max_frame = 200;
            o.oversize =
                (variant & 2) ? SN_OVERSIZE_REJECT : SN_OVERSIZE_TRUNCATE;
            o.strip_cr = (variant & 4) != 0;
            o.nul_delim = (variant & 4) != 0;
            o.on_error =
                (variant == 7) ? SN_ON_ERROR_CLOSE : SN_ON_ERROR_RESYNC;
            for (size_t i = 0; i < n_streams; i++) {
                const char *s = streams[i].s;
                size_t len = streams[i].len;

                run_chunks(&o, s, len, 0, &whole);
                for (size_t k = 0; k <= len; k++) {
                    run_split(&o, s, len, k, &part);
                    n_checked++;
                    if (strcmp(part.text, whole.text) != 0 && n_bad++ < 3)
                        printf("# mode %d variant %d stream %zu split %zu:\n"
                               "# got:\n%s# want:\n%s",
                               mode, variant, i, k, part.text, whole.text);
                }
                for (size_t chunk = 1; chunk <= 3; chunk++) {
                    run_chunks(&o, s, len, chunk, &part);
                    n_checked++;
                    if (strcmp(part.text, whole.text) != 0 && n_bad++ < 3)
                        printf("# chunk %zu stream %zu mismatch\n", chunk, i);
                }
                for (int t = 0; t < 20; t++) {
                    run_random(&o, s, len, 1 + rnd(16), &part);
                    n_checked++;
                    if (strcmp(part.text, whole.text) != 0 && n_bad++ < 3)
                        printf("# random stream %zu mismatch\n", i);
                }
            }
        }
    CHECK(n_checked > 1000);
    CHECK_EQ(n_bad, 0);
}

/* Random streams built from frame-ish pieces, random splits. */
SN_TEST(property_random_streams)
{
    static const char *const pieces[] = {
        "5 hello",
        "<13>x\n",
        "\n",
        "\r\n",
        "3 ab",
        "c",
        "0 ",
        "12",
        "x",
        " ",
        "\0",
        "99",
        "abcdefghijklmnop\n",
        "4 a\nb\n",
    };
    static char s[512];
    static struct log whole, part;
    struct sn_framer_opts o;
    int n_bad = 0;

    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;

        for (int k = 0, n = 1 + (int)rnd(20); k < n; k++) {
            const char *pc = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = pc[0] == '\0' ? 1 : strlen(pc);

            if (len + pl > sizeof(s))
                break;
            memcpy(s + len, pc, pl);
            len += pl;
        }
        o = opts_of((enum sn_framing)rnd(3));
        o.max_msg = 1 + rnd(12);
        o.max_frame = o.max_msg + rnd(30);
        o.oversize = rnd(2) ? SN_OVERSIZE_REJECT : SN_OVERSIZE_TRUNCATE;
        o.on_error = rnd(4) ? SN_ON_ERROR_RESYNC : SN_ON_ERROR_CLOSE;
        o.strip_cr = rnd(2);
        o.nul_delim = rnd(2);
        run_chunks(&o, s, len, 0, &whole);
        run_chunks(&o, s, len, 1, &part);
        if (strcmp(part.text, whole.text) != 0 && n_bad++ < 3)
            printf("# byte-by-byte mismatch at iteration %d\n", iter);
        run_random(&o, s, len, 1 + rnd(8), &part);
        if (strcmp(part.text, whole.text) != 0 && n_bad++ < 3)
            printf("# random chunks mismatch at iteration %d\n", iter);
    }
    CHECK_EQ(n_bad, 0);
}

SN_TEST_MAIN(SN_T(lf_basic), SN_T(lf_empty_frames_skipped), SN_T(lf_cr),
             SN_T(lf_eof_partial_delivered), SN_T(nul_delim), SN_T(octet_basic),
             SN_T(octet_errors), SN_T(octet_max_frame_option), SN_T(octet_eof),
             SN_T(auto_mixed), SN_T(oversize_truncate), SN_T(oversize_reject),
             SN_T(strip_cr_at_limit), SN_T(close_policy), SN_T(zero_copy),
             SN_T(offsets_across_feeds), SN_T(init_validation),
             SN_T(property_split_invariance), SN_T(property_random_streams))
