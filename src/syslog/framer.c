/*
 * RFC 6587 framing state machine: one struct sn_framer per connection, fed
 * whatever recv() returned. The rules it implements are listed at the top
 * of framer.h; this file owns only how they run fast: memchr for
 * delimiters, frames delivered in place whenever a feed holds them whole,
 * and a copy only for the frame that straddles two feeds.
 */
#include "syslog/framer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

enum state {
    ST_START = 0,  /* at a frame boundary */
    ST_LEN,        /* inside the MSG-LEN digits */
    ST_OCTET,      /* collecting an octet-counted body */
    ST_LF,         /* inside an LF-framed body */
    ST_SKIP_OCTET, /* counting out the rest of an octet frame */
    ST_SKIP_LF,    /* dropping bytes up to and including a delimiter */
    ST_CLOSED,     /* closed_rc says why; all input is ignored */
};

/* What one sn_framer_feed call works on. */
struct run {
    struct sn_framer *f;
    const char *base; /* the fed data; base[0] is at stream offset f->offset */
    const char *end;
    const char *next_lf; /* next LF at or after some p, end when none; NULL
                            until searched (see find_delim) */
    const struct sn_framer_cb *cb;
    void *ctx;
};

static uint64_t
stream_off(const struct run *r, const char *p)
{
    return r->f->offset + (uint64_t)(p - r->base);
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t
min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void
deliver(struct run *r, const char *p, size_t len, bool truncated)
{
    r->f->stats.n_frames++;
    r->f->stats.n_truncated += truncated;
    r->cb->on_frame(r->ctx, p, len, truncated);
}

static void
report(struct run *r, const char *reason, uint64_t offset)
{
    if (r->cb->on_error != NULL)
        r->cb->on_error(r->ctx, reason, offset);
}

static void
close_stream(struct sn_framer *f, enum sn_status rc)
{
    f->state = ST_CLOSED;
    f->closed_rc = rc;
    f->len = 0;
}

/*
 * A framing error at p. RESYNC drops everything from p up to and
 * including the next delimiter: p itself may be that delimiter (the LF
 * after "12"), which then only ends the bad frame.
 */
static void
framing_error(struct run *r, const char *reason, const char *p)
{
    struct sn_framer *f = r->f;

    f->stats.n_errors++;
    report(r, reason, stream_off(r, p));
    f->len = 0;
    if (f->opts.on_error == SN_ON_ERROR_CLOSE)
        close_stream(f, SN_EPEER);
    else
        f->state = ST_SKIP_LF;
}

static bool
ensure_buf(struct sn_framer *f)
{
    if (f->buf == NULL) {
        f->buf = malloc(f->opts.max_msg + 1);
        if (f->buf == NULL) {
            close_stream(f, SN_ENOMEM);
            return false;
        }
    }
    return true;
}

/*
 * The first delimiter in [p, end), or NULL. With NUL as a second
 * delimiter the LF found is remembered for the run: a NUL-delimited
 * stream without LFs would otherwise rescan to the end for every frame.
 */
static const char *
find_delim(struct run *r, const char *p)
{
    const char *lf, *nul;

    if (!r->f->opts.nul_delim)
        return memchr(p, '\n', (size_t)(r->end - p));
    if (r->next_lf == NULL || r->next_lf < p) {
        lf = memchr(p, '\n', (size_t)(r->end - p));
        r->next_lf = lf != NULL ? lf : r->end;
    }
    nul = memchr(p, '\0', (size_t)(r->next_lf - p));
    if (nul != NULL)
        return nul;
    return r->next_lf < r->end ? r->next_lf : NULL;
}

/*
 * A frame of len bytes (delimiter excluded) that has more than max_msg
 * payload bytes; p holds at least its first max_msg.
 */
static void
oversize(struct run *r, const char *p, size_t len)
{
    struct sn_framer *f = r->f;

    if (f->opts.oversize == SN_OVERSIZE_TRUNCATE) {
        deliver(r, p, f->opts.max_msg, true);
        f->stats.n_discarded += len - f->opts.max_msg;
    } else {
        f->stats.n_rejected++;
        f->stats.n_discarded += len;
        report(r, "frame exceeds max_msg", f->frame_start);
    }
}

/*
 * A whole LF frame: len bytes before the delimiter, of which p holds at
 * least min(len, max_msg + 1); ends_cr says whether byte len - 1 is CR.
 */
static void
lf_frame(struct run *r, const char *p, size_t len, bool ends_cr)
{
    struct sn_framer *f = r->f;
    size_t n = len;

    /* RFC 6587 3.4.2: some senders use the two-octet trailer CR LF. */
    if (f->opts.strip_cr && ends_cr)
        n--;
    if (n == 0)
        f->stats.n_empty++; /* as rsyslog, ignore empty lines */
    else if (n <= f->opts.max_msg)
        deliver(r, p, n, false);
    else
        oversize(r, p, len);
}

/* Start a frame at p (not consumed). */
static const char *
at_start(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;

    f->frame_start = stream_off(r, p);
    f->len = 0;
    if (f->opts.mode == SN_FRAMING_LF ||
        (f->opts.mode == SN_FRAMING_AUTO && !is_digit(*p))) {
        f->state = ST_LF;
    } else if (!is_digit(*p)) {
        framing_error(r, "frame does not start with MSG-LEN", p);
    } else if (*p == '0') {
        /* RFC 6587 3.4.1: MSG-LEN = NONZERO-DIGIT *DIGIT. */
        framing_error(r, "MSG-LEN has a leading zero", p);
    } else {
        f->msg_len = 0;
        f->n_digits = 0;
        f->state = ST_LEN;
    }
    return p;
}

static const char *
in_len(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;

    for (; p < r->end && is_digit(*p); p++) {
        f->msg_len = f->msg_len * 10 + (uint64_t)(*p - '0');
        if (++f->n_digits > f->max_digits) {
            framing_error(r, "MSG-LEN has too many digits", p);
            return p;
        }
        if (f->msg_len > f->opts.max_frame) {
            framing_error(r, "MSG-LEN exceeds the maximum frame size", p);
            return p;
        }
    }
    if (p == r->end)
        return p;
    /* RFC 6587 3.4.1: OCTET-COUNTING = MSG-LEN SP SYSLOG-MSG. */
    if (*p != ' ') {
        framing_error(r, "MSG-LEN not followed by SP", p);
        return p;
    }
    f->got = 0;
    if (f->msg_len > f->opts.max_msg &&
        f->opts.oversize == SN_OVERSIZE_REJECT) {
        f->stats.n_rejected++;
        report(r, "frame exceeds max_msg", f->frame_start);
        f->state = ST_SKIP_OCTET;
    } else {
        f->state = ST_OCTET;
    }
    return p + 1;
}

static const char *
in_octet(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;
    bool truncated = f->msg_len > f->opts.max_msg;
    size_t want = truncated ? f->opts.max_msg : (size_t)f->msg_len;
    size_t avail = (size_t)(r->end - p), n;

    if (f->len == 0 && avail >= want) {
        deliver(r, p, want, truncated);
        p += want;
        f->got = want;
    } else {
        if (!ensure_buf(f))
            return r->end;
        n = min_size(want - f->len, avail);
        memcpy(f->buf + f->len, p, n);
        f->len += n;
        f->got += n;
        p += n;
        if (f->len < want)
            return p;
        f->len = 0;
        deliver(r, f->buf, want, truncated);
    }
    f->state = f->got == f->msg_len ? ST_START : ST_SKIP_OCTET;
    return p;
}

static const char *
skip_octet(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;
    size_t n = min_size((size_t)(f->msg_len - f->got), (size_t)(r->end - p));

    f->got += n;
    f->stats.n_discarded += n;
    if (f->got == f->msg_len)
        f->state = ST_START;
    return p + n;
}

static const char *
skip_lf(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;
    const char *q = find_delim(r, p);

    if (q == NULL) {
        f->stats.n_discarded += (size_t)(r->end - p);
        return r->end;
    }
    f->stats.n_discarded += (size_t)(q - p);
    f->state = ST_START;
    return q + 1;
}

/* No delimiter in [p, end): keep the frame's head for the next feed. */
static const char *
lf_keep(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;
    size_t add = (size_t)(r->end - p), cap = f->opts.max_msg + 1;

    if (!ensure_buf(f))
        return r->end;
    /* max_msg + 1 bytes may still be a max_msg payload and its CR. */
    if (f->len + add < cap ||
        (f->len + add == cap && f->opts.strip_cr && r->end[-1] == '\r')) {
        memcpy(f->buf + f->len, p, add);
        f->len += add;
        return r->end;
    }
    memcpy(f->buf + f->len, p, min_size(add, cap - f->len));
    oversize(r, f->buf, f->len + add);
    f->len = 0;
    f->state = ST_SKIP_LF;
    return r->end;
}

static const char *
in_lf(struct run *r, const char *p)
{
    struct sn_framer *f = r->f;
    const char *q;

    if (f->len > 0) {
        size_t add, total, cap = f->opts.max_msg + 1;
        bool ends_cr;

        if ((q = find_delim(r, p)) == NULL)
            return lf_keep(r, p);
        add = (size_t)(q - p);
        total = f->len + add;
        ends_cr = add > 0 ? q[-1] == '\r' : f->buf[f->len - 1] == '\r';
        memcpy(f->buf + f->len, p, min_size(add, cap - f->len));
        f->len = 0;
        f->state = ST_START;
        lf_frame(r, f->buf, total, ends_cr);
        return q + 1;
    }
    /* Whole frames in place, as long as LF framing goes on. */
    while ((q = find_delim(r, p)) != NULL) {
        f->state = ST_START;
        lf_frame(r, p, (size_t)(q - p), q > p && q[-1] == '\r');
        p = q + 1;
        if (p == r->end || (f->opts.mode == SN_FRAMING_AUTO && is_digit(*p)))
            return p;
        f->frame_start = stream_off(r, p);
        f->state = ST_LF;
    }
    return lf_keep(r, p);
}

static void
stream_reset(struct sn_framer *f)
{
    f->state = ST_START;
    f->closed_rc = SN_OK;
    f->offset = 0;
    f->frame_start = 0;
    f->msg_len = 0;
    f->got = 0;
    f->n_digits = 0;
    f->len = 0;
}

void
sn_framer_opts_default(struct sn_framer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = SN_FRAMING_AUTO;
    o->max_msg = SN_FRAMER_DEFAULT_MAX_MSG;
    o->max_frame = 0;
    o->oversize = SN_OVERSIZE_TRUNCATE;
    o->on_error = SN_ON_ERROR_RESYNC;
    o->nul_delim = false;
    o->strip_cr = false;
}

enum sn_status
sn_framer_init(struct sn_framer *f, const struct sn_framer_opts *opts)
{
    struct sn_framer_opts o;
    size_t v;

    memset(f, 0, sizeof(*f));
    if (opts == NULL)
        sn_framer_opts_default(&o);
    else
        o = *opts;
    if (o.mode != SN_FRAMING_AUTO && o.mode != SN_FRAMING_OCTET &&
        o.mode != SN_FRAMING_LF)
        return SN_EINVAL;
    if (o.oversize != SN_OVERSIZE_TRUNCATE && o.oversize != SN_OVERSIZE_REJECT)
        return SN_EINVAL;
    if (o.on_error != SN_ON_ERROR_RESYNC && o.on_error != SN_ON_ERROR_CLOSE)
        return SN_EINVAL;
    if (o.max_msg == 0)
        o.max_msg = SN_FRAMER_DEFAULT_MAX_MSG;
    if (o.max_msg > SN_RECORD_MAX)
        return SN_EINVAL;
    if (o.max_frame == 0)
        o.max_frame = o.max_msg > SN_FRAMER_DEFAULT_MAX_FRAME
                          ? o.max_msg
                          : SN_FRAMER_DEFAULT_MAX_FRAME;
    if (o.max_frame < o.max_msg || o.max_frame > SN_FRAMER_MAX_FRAME_LIMIT)
        return SN_EINVAL;
    f->opts = o;
    for (v = o.max_frame; v > 0; v /= 10)
        f->max_digits++;
    stream_reset(f);
    return SN_OK;
}

void
sn_framer_fini(struct sn_framer *f)
{
    if (f == NULL)
        return;
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
}

void
sn_framer_reset(struct sn_framer *f)
{
    stream_reset(f);
    memset(&f->stats, 0, sizeof(f->stats));
}

enum sn_status
sn_framer_feed(struct sn_framer *f, const void *data, size_t len,
               const struct sn_framer_cb *cb, void *ctx)
{
    struct run r;
    const char *p = data;

    if (f->state == ST_CLOSED || len == 0) {
        f->offset += len;
        return f->state == ST_CLOSED ? f->closed_rc : SN_OK;
    }
    r.f = f;
    r.base = p;
    r.end = p + len;
    r.next_lf = NULL;
    r.cb = cb;
    r.ctx = ctx;
    while (p < r.end) {
        switch (f->state) {
        case ST_START:
            p = at_start(&r, p);
            break;
        case ST_LEN:
            p = in_len(&r, p);
            break;
        case ST_OCTET:
            p = in_octet(&r, p);
            break;
        case ST_LF:
            p = in_lf(&r, p);
            break;
        case ST_SKIP_OCTET:
            p = skip_octet(&r, p);
            break;
        case ST_SKIP_LF:
            p = skip_lf(&r, p);
            break;
        default: /* ST_CLOSED */
            p = r.end;
            break;
        }
    }
    f->offset += len;
    return f->state == ST_CLOSED ? f->closed_rc : SN_OK;
}

enum sn_status
sn_framer_finish(struct sn_framer *f, const struct sn_framer_cb *cb, void *ctx)
{
    struct run r;
    char reason[80];
    enum sn_status rc = SN_OK;

    r.f = f;
    r.base = NULL;
    r.end = NULL;
    r.next_lf = NULL;
    r.cb = cb;
    r.ctx = ctx;
    switch (f->state) {
    case ST_LEN:
        f->stats.n_errors++;
        report(&r, "truncated MSG-LEN at EOF", f->offset);
        break;
    case ST_OCTET:
    case ST_SKIP_OCTET:
        f->stats.n_errors++;
        snprintf(reason, sizeof(reason),
                 "truncated frame at EOF, %llu of %llu bytes",
                 (unsigned long long)f->got, (unsigned long long)f->msg_len);
        report(&r, reason, f->offset);
        break;
    case ST_LF:
        /* No CR stripping: without a delimiter there is no trailer. */
        lf_frame(&r, f->buf, f->len, false);
        break;
    case ST_CLOSED:
        rc = f->closed_rc;
        break;
    default: /* ST_START, ST_SKIP_LF: nothing pending */
        break;
    }
    stream_reset(f);
    return rc;
}

bool
sn_framer_in_frame(const struct sn_framer *f)
{
    return f->state != ST_START && f->state != ST_CLOSED;
}
