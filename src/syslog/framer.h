/*
 * RFC 6587 stream framer: splits the byte stream of one TCP or TLS syslog
 * connection into messages, by octet counting (RFC 6587 3.4.1, the only
 * framing RFC 5425 4.3 allows over TLS), non-transparent LF framing (RFC 6587
 * 3.4.2) or per-frame auto-detection as rsyslog's imtcp does. It does not
 * parse messages, read sockets or allocate per frame. The behaviour below is
 * the whole design; tests/data/frame/ shows each rule as a byte stream.
 *
 * Behaviour, rule by rule:
 *  - Frames may be split across feeds at any byte, including inside the
 *    MSG-LEN digits; the frames and errors reported depend only on the
 *    bytes, never on how they were split.
 *  - Octet counting (3.4.1): MSG-LEN SP SYSLOG-MSG, MSG-LEN = NONZERO-DIGIT
 *    *DIGIT. A leading '0', a digit that makes MSG-LEN larger than
 *    max_frame ("too many digits" when it has more digits than max_frame,
 *    otherwise "exceeds the maximum frame size") and any byte other than
 *    SP after the digits are framing errors, reported at that byte. In
 *    octet mode a frame starting with anything but a digit is one too
 *    (including a stray LF between frames).
 *  - Non-transparent framing (3.4.2): the frame ends at LF, or also at NUL
 *    when nul_delim is set (rsyslog's AddtlFrameDelimiter 0, for senders
 *    such as Juniper NetScreen). The delimiter is not delivered. A CR right
 *    before the delimiter is kept unless strip_cr is set (3.4.2 mentions CR
 *    LF trailers; rsyslog keeps the CR, and so do we by default so that the
 *    framer never alters a payload). Empty frames, after CR stripping, are
 *    skipped silently (rsyslog discards zero-sized messages).
 *  - Auto (rsyslog imtcp): decided afresh at every frame start. A digit
 *    starts octet counting, anything else LF framing. So "5 hello\n..."
 *    is an octet frame followed by an empty LF frame (skipped), and a
 *    legacy line that starts with a digit is read as an octet count.
 *  - Oversize: a frame whose payload exceeds max_msg. TRUNCATE delivers its
 *    first max_msg bytes flagged truncated, as soon as they are known to be
 *    too many, then discards the rest of the frame (MSG-LEN counts it out,
 *    or up to the delimiter). REJECT reports "frame exceeds max_msg" at the
 *    frame's first byte and discards the frame the same way. Either way the
 *    stream stays in sync, so this is not a framing error: it never closes.
 *  - Framing errors: on_error(reason, offset of the offending byte). RESYNC
 *    discards from the offending byte (inclusive) up to and including the
 *    next delimiter, then expects a frame start; CLOSE makes feed and
 *    finish return SN_EPEER and ignore all further input.
 *  - End of stream (sn_framer_finish): a partial LF frame is delivered as
 *    it is (rsyslog does so at connection close; it has no CR stripped and
 *    is subject to max_msg); a partial octet frame is an error "truncated
 *    frame at EOF, N of M bytes" (N body bytes seen of MSG-LEN M), also
 *    when its truncated head was delivered or it was rejected; a partial
 *    MSG-LEN is "truncated MSG-LEN at EOF". Both are reported at the EOF
 *    offset (the stream length).
 *
 * Memory: a frame wholly inside the fed buffer is delivered in place (zero
 * copy); only a frame split across feeds is copied into the framer's own
 * buffer of max_msg + 1 bytes (the extra byte holds a CR that may turn out
 * to be a trailer), allocated on first need and kept until fini.
 */
#ifndef SN_SYSLOG_FRAMER_H
#define SN_SYSLOG_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sentineld/plugin.h>

/* Defaults; candidates for core/limits.h. max_msg: RFC 5425 4.3.1 asks
 * receivers to take at least 2048 octets and SHOULD take 8192; 64 KiB is
 * what rsyslog users commonly raise maxMessageSize to. */
#define SN_FRAMER_DEFAULT_MAX_MSG (64 * 1024)
/* Upper bound for opts.max_frame: 1 GiB (ten digits would be absurd). */
#define SN_FRAMER_MAX_FRAME_LIMIT (1024 * 1024 * 1024)
/* Largest MSG-LEN believed by default when max_msg is smaller: a larger
 * count is taken for garbage (a framing error), not a big message, so a
 * desynchronised peer cannot make us count out gigabytes. rsyslog's
 * maxFrameSize plays the same role with 200000. */
#define SN_FRAMER_DEFAULT_MAX_FRAME (1024 * 1024)

enum sn_framing {
    SN_FRAMING_AUTO = 0, /* per frame: digit = octet counting, else LF */
    SN_FRAMING_OCTET,    /* RFC 6587 3.4.1 / RFC 5425 4.3 only */
    SN_FRAMING_LF,       /* RFC 6587 3.4.2 only */
};

enum sn_oversize {
    SN_OVERSIZE_TRUNCATE = 0, /* deliver the first max_msg bytes, flagged */
    SN_OVERSIZE_REJECT,       /* report an error, deliver nothing */
};

enum sn_on_error {
    SN_ON_ERROR_RESYNC = 0, /* skip past the next delimiter and go on */
    SN_ON_ERROR_CLOSE,      /* stop; the caller closes the connection */
};

struct sn_framer_opts {
    enum sn_framing mode;
    size_t max_msg;   /* payload bytes delivered at most; 0: default */
    size_t max_frame; /* largest MSG-LEN that is not a framing error;
                         0: max(max_msg, SN_FRAMER_DEFAULT_MAX_FRAME) */
    enum sn_oversize oversize;
    enum sn_on_error on_error;
    bool nul_delim; /* NUL also ends LF frames */
    bool strip_cr;  /* drop one CR right before the delimiter */
};

/* Counters since init or sn_framer_reset (finish keeps them), for
 * metrics. */
struct sn_framer_stats {
    uint64_t n_frames;    /* delivered, truncated ones included */
    uint64_t n_truncated; /* delivered flagged truncated */
    uint64_t n_rejected;  /* oversize frames dropped under REJECT */
    uint64_t n_errors;    /* framing errors, EOF errors included */
    uint64_t n_empty;     /* empty LF frames skipped */
    uint64_t n_discarded; /* frame bytes dropped: oversize tails,
                             rejected frames and bytes skipped to resync
                             (delimiters and MSG-LEN digits not counted) */
};

/*
 * Called for each message: ptr/len is the payload, borrowed until the
 * callback returns (it points into the fed data or the framer's buffer).
 */
typedef void sn_framer_frame_fn(void *ctx, const char *ptr, size_t len,
                                bool truncated);
/*
 * Called for each framing error and oversize rejection: reason is a short
 * English phrase, borrowed until return; offset counts bytes from the start
 * of the stream (0-based) to the offending byte.
 */
typedef void sn_framer_error_fn(void *ctx, const char *reason, uint64_t offset);

struct sn_framer_cb {
    sn_framer_frame_fn *on_frame;
    sn_framer_error_fn *on_error; /* may be NULL */
};

/* One per connection, in caller storage. Fields past `stats` are private. */
struct sn_framer {
    struct sn_framer_opts opts; /* resolved: no zeros left */
    struct sn_framer_stats stats;

    int state;
    enum sn_status closed_rc; /* returned once closed */
    uint64_t offset;          /* stream offset of the next byte fed */
    uint64_t frame_start;     /* stream offset of the frame's first byte */
    uint64_t msg_len;         /* MSG-LEN of the current octet frame */
    uint64_t got;             /* body bytes of it seen so far */
    unsigned n_digits;        /* MSG-LEN digits seen so far */
    unsigned max_digits;      /* digits of opts.max_frame */
    char *buf;                /* max_msg + 1 bytes, or NULL until needed */
    size_t len;               /* bytes of the current frame in buf */
};

/* True while a frame has begun and not ended (bytes of it were fed): a
 * stream input times such a frame out (in_syslog frame_timeout). */
bool sn_framer_in_frame(const struct sn_framer *f);

/* Fill o with the defaults: auto, 64 KiB, truncate, resync, LF only. */
void sn_framer_opts_default(struct sn_framer_opts *o);

/*
 * Prepare f for a new stream. opts NULL means the defaults. Returns
 * SN_EINVAL when max_msg exceeds SN_RECORD_MAX, max_frame is smaller than
 * max_msg or an enum is out of range. Allocates nothing.
 */
enum sn_status sn_framer_init(struct sn_framer *f,
                              const struct sn_framer_opts *opts);

/* Free the buffer. Accepts NULL. */
void sn_framer_fini(struct sn_framer *f);

/* Stream offset of the first byte (the MSG-LEN for octet counting) of the
 * frame being delivered; valid inside the on_frame callback. */
static inline uint64_t
sn_framer_frame_offset(const struct sn_framer *f)
{
    return f->frame_start;
}

/* Forget the current stream (pending bytes, offsets, stats, closed state)
 * but keep options and buffer, for a new connection. */
void sn_framer_reset(struct sn_framer *f);

/*
 * Frame len bytes of the stream; data is not retained after return. Calls
 * cb->on_frame / cb->on_error synchronously, in stream order, on the
 * caller's thread; they must not call back into f. Returns SN_OK; SN_EPEER
 * once a framing error happened under SN_ON_ERROR_CLOSE (then and on every
 * later call, without callbacks; the caller should close); SN_ENOMEM when
 * the buffer for a split frame could not be allocated (the framer is then
 * closed as well).
 */
enum sn_status sn_framer_feed(struct sn_framer *f, const void *data, size_t len,
                              const struct sn_framer_cb *cb, void *ctx);

/*
 * End of stream: deliver or report what is pending (see the top of this
 * file), then make f ready for a new stream (offsets restart at 0; stats
 * are kept). Returns SN_OK, or the status the stream was closed with
 * (SN_EPEER, SN_ENOMEM).
 */
enum sn_status sn_framer_finish(struct sn_framer *f,
                                const struct sn_framer_cb *cb, void *ctx);

#endif
