/*
 * in_syslog RELP sessions (relp:// and relp+tls://, rsyslog's omrelp):
 * the protocol only, no sockets. stream.c reads a connection and feeds
 * its bytes here; each `syslog` frame is emitted and its "200 OK" is
 * queued, held back until stream.c commits the session (after one
 * flush_sync of the loop's emitter put every record read in this loop
 * iteration into the journal), then written in one go. That is the
 * group commit librelp could not do: it answered each frame as soon as
 * its callback returned, so a durable acknowledgement cost one fdatasync
 * per message. Spec: https://github.com/rsyslog/librelp doc/relp.md;
 * what omrelp expects was read from librelp 1.11 (copen.c, relpframe.c).
 * docs/internals/in_syslog.md ("RELP") describes the whole path.
 */
#include "in_syslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* relp.md "RELP FRAME": TXNR and DATALEN are 1*9DIGIT, COMMAND 1*32ALPHA;
 * the TXNR after 999,999,999 is 1 again. */
#define TXNR_DIGITS 9
#define CMD_MAX     32
#define TXNR_MAX    999999999u
/* A frame that straddles reads keeps its data in a buffer of the session;
 * one up to this size is kept for the next frame, a larger one freed. */
#define DATA_KEEP (64 * 1024)
/* Responses are a few dozen bytes and leave at every commit; the output
 * only grows past a few hundred KiB if the peer stops reading them, and
 * then the connection stops being read (stream.c). A peer that still
 * gets here is broken or hostile. */
#define OUT_MAX (8 * 1024 * 1024)

enum rstate { R_TXNR, R_CMD, R_LEN, R_DATA, R_TRAILER };

struct is_relp_sess {
    struct is_state *s;
    struct sn_emitter *em;
    struct is_ratelimit *rl;
    const char *peer;

    /* The frame being parsed. */
    enum rstate st;
    uint32_t txnr;
    unsigned n_digits;
    char cmd[CMD_MAX + 1];
    unsigned cmd_len;
    uint64_t len; /* DATALEN */
    uint64_t got; /* data bytes consumed so far */
    size_t keep;  /* data bytes kept (oversize truncates) */
    char *data;   /* kept bytes of a frame straddling reads */
    size_t data_len, data_cap;
    const char *direct; /* the whole data inside the current chunk */
    bool in_frame;

    uint32_t next_txnr; /* the TXNR the next command must carry */
    bool is_open;
    bool closing; /* "close" answered (or a fatal 500): close when sent */

    /* Responses: [0, sent) written, [sent, committed) may be written,
     * [committed, len) wait for the next commit. */
    char *out;
    size_t out_len, out_sent, out_committed, out_cap;
    uint64_t acks_held; /* syslog "200 OK"s in [committed, len) */
};

struct is_relp_sess *
is_relp_sess_new(struct is_state *s, struct sn_emitter *em,
                 struct is_ratelimit *rl, const char *peer)
{
    struct is_relp_sess *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->s = s;
    r->em = em;
    r->rl = rl;
    r->peer = peer;
    r->next_txnr = 1;
    return r;
}

void
is_relp_sess_free(struct is_relp_sess *r)
{
    if (r == NULL)
        return;
    free(r->data);
    free(r->out);
    free(r);
}

static enum sn_status
out_append(struct is_relp_sess *r, const char *p, size_t n)
{
    if (r->out_len + n > r->out_cap) {
        size_t cap = r->out_cap ? r->out_cap : 4096;
        char *q;

        /* Written bytes are dropped before the buffer grows. */
        if (r->out_sent > 0) {
            memmove(r->out, r->out + r->out_sent, r->out_len - r->out_sent);
            r->out_len -= r->out_sent;
            r->out_committed -= r->out_sent;
            r->out_sent = 0;
        }
        while (cap < r->out_len + n)
            cap *= 2;
        if (cap > OUT_MAX) {
            if (r->out_len + n > OUT_MAX)
                return SN_ELIMIT;
            cap = OUT_MAX;
        }
        if (cap > r->out_cap) {
            q = realloc(r->out, cap);
            if (q == NULL)
                return SN_ENOMEM;
            r->out = q;
            r->out_cap = cap;
        }
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
    return SN_OK;
}

/* relp.md "rsp": TXNR SP "rsp" SP DATALEN SP DATA LF, DATA starting with
 * a 3-digit code and a human text. */
static enum sn_status
respond(struct is_relp_sess *r, uint32_t txnr, const char *data, size_t len)
{
    char head[48];
    int n = snprintf(head, sizeof(head), "%u rsp %zu ", txnr, len);
    enum sn_status rc = out_append(r, head, (size_t)n);

    if (rc == SN_OK)
        rc = out_append(r, data, len);
    if (rc == SN_OK)
        rc = out_append(r, "\n", 1);
    return rc;
}

/* A 500 that ends the session: the peer resends whatever it has not had
 * a "200 OK" for on its next session. */
static enum sn_status
refuse(struct is_relp_sess *r, const char *why)
{
    char msg[120];
    int n = snprintf(msg, sizeof(msg), "500 %s", why);

    r->s->host->counter_add(r->s->c_relp_errors, 1);
    is_log_limited(r->s, r->rl, SN_LOG_WARN, "relp session from %s: %s",
                   r->peer, why);
    r->closing = true;
    return respond(r, r->txnr, msg, (size_t)n);
}

/* The value of offer `name` in an "open" command's data ("\n"-separated
 * name[=value[,value...]] lines), or NULL; *len gets its length. */
static const char *
offer(const char *p, size_t n, const char *name, size_t *len)
{
    size_t nl = strlen(name);

    while (n > 0) {
        const char *eol = memchr(p, '\n', n);
        size_t line = eol != NULL ? (size_t)(eol - p) : n;

        if (line > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *len = line - nl - 1;
            return p + nl + 1;
        }
        if (eol == NULL)
            break;
        n -= line + 1;
        p = eol + 1;
    }
    return NULL;
}

static bool
list_has(const char *v, size_t n, const char *item)
{
    size_t il = strlen(item);

    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t one = comma != NULL ? (size_t)(comma - v) : n;

        if (one == il && memcmp(v, item, il) == 0)
            return true;
        if (comma == NULL)
            break;
        n -= one + 1;
        v = comma + 1;
    }
    return false;
}

/* copen.c: the answer names the relp_version in use (the client's: the
 * frames are the same in 0 and 1, and a librelp client refuses a higher
 * one than it offered), our software and the commands we take. */
static enum sn_status
on_open(struct is_relp_sess *r, const char *p, size_t n)
{
    const char *v;
    size_t vlen = 0;
    char ans[160];
    int len;

    if (r->is_open)
        return refuse(r, "protocol error: connection already open");
    v = offer(p, n, "relp_version", &vlen);
    if (v == NULL || vlen == 0 || vlen > 9)
        return refuse(r, "invalid or missing relp_version offer");
    for (size_t i = 0; i < vlen; i++)
        if (v[i] < '0' || v[i] > '9')
            return refuse(r, "invalid relp_version offer");
    len = snprintf(ans, sizeof(ans),
                   "200 OK\nrelp_version=%.*s\nrelp_software=sentineld\n"
                   "commands=syslog",
                   (int)vlen, v);
    v = offer(p, n, "commands", &vlen);
    if (v == NULL || !list_has(v, vlen, "syslog"))
        return refuse(r, "required command not supported by client");
    r->is_open = true;
    r->s->host->counter_add(r->s->c_relp_sessions, 1);
    return respond(r, r->txnr, ans, (size_t)len);
}

static enum sn_status
on_syslog(struct is_relp_sess *r, const char *p, size_t n, int64_t recv_ns)
{
    struct is_state *s = r->s;
    struct sn_record rec;
    enum sn_status rc;

    if (!r->is_open)
        return refuse(r, "command disabled: no open session");
    if (r->len > r->keep) {
        s->host->counter_add(s->c_oversize, 1);
        is_log_limited(s, r->rl, SN_LOG_WARN,
                       "%s a RELP message of %llu bytes from %s: over "
                       "max_message_size (%llu bytes)",
                       s->c->oversize == IS_OVERSIZE_REJECT ? "dropped"
                                                            : "truncated",
                       (unsigned long long)r->len, r->peer,
                       (unsigned long long)s->c->max_message_size);
        /* Rejected: answered like any other, or the sender would resend
         * it for ever; it is counted, as on TCP. */
        if (s->c->oversize == IS_OVERSIZE_REJECT)
            n = 0;
    }
    if (n > 0) {
        memset(&rec, 0, sizeof(rec));
        rec.data.ptr = p;
        rec.data.len = n;
        rec.recv_ns = recv_ns;
        rec.peer = r->peer;
        rec.transport = "relp";
        rec.source_offset = -1;
        rec.source_part = -1;
        /* Blocks while the pipeline is full: no answer leaves, the
         * sender's window fills (back-pressure). Fails only at stop
         * (SN_AGAIN): unanswered, the record is the sender's again. */
        rc = s->host->emit(r->em, &rec);
        if (rc != SN_OK)
            return rc;
    }
    rc = respond(r, r->txnr, "200 OK", 6);
    if (rc == SN_OK)
        r->acks_held++;
    return rc;
}

static enum sn_status
dispatch(struct is_relp_sess *r, const char *p, size_t n, int64_t recv_ns)
{
    /* TXNR 0 carries hints, never answered (relp.md "Command semantics");
     * none is defined from client to server. */
    if (r->txnr == 0)
        return SN_OK;
    if (r->txnr != r->next_txnr) {
        r->s->host->counter_add(r->s->c_relp_errors, 1);
        is_log_limited(r->s, r->rl, SN_LOG_WARN,
                       "relp session from %s: transaction %u where %u was "
                       "due; closing",
                       r->peer, r->txnr, r->next_txnr);
        return SN_EPEER;
    }
    r->next_txnr = r->next_txnr == TXNR_MAX ? 1 : r->next_txnr + 1;
    if (strcmp(r->cmd, "syslog") == 0)
        return on_syslog(r, p, n, recv_ns);
    if (strcmp(r->cmd, "open") == 0)
        return on_open(r, p, n);
    if (strcmp(r->cmd, "close") == 0) {
        r->closing = true;
        return respond(r, r->txnr, "200 OK", 6);
    }
    return refuse(r, "unknown command");
}

static enum sn_status
bad_frame(struct is_relp_sess *r, const char *why)
{
    r->s->host->counter_add(r->s->c_relp_errors, 1);
    r->s->host->counter_add(r->s->c_framing_errors, 1);
    is_log_limited(r->s, r->rl, SN_LOG_WARN,
                   "relp session from %s: malformed frame (%s); closing",
                   r->peer, why);
    return SN_EPEER;
}

/* DATALEN read: decide how many data bytes are kept. */
static void
begin_data(struct is_relp_sess *r)
{
    uint64_t max = r->s->c->max_message_size;

    r->keep = (size_t)(r->len < max ? r->len : max);
    r->got = 0;
    r->data_len = 0;
    r->direct = NULL;
    r->st = R_DATA;
}

/* Keep data bytes p[0..n) of a frame straddling reads. */
static enum sn_status
keep_data(struct is_relp_sess *r, const char *p, size_t n)
{
    if (r->got < r->keep) {
        size_t take = r->keep - (size_t)r->got;

        if (take > n)
            take = n;
        if (r->data_cap < r->keep) {
            char *q = realloc(r->data, r->keep);
            if (q == NULL)
                return SN_ENOMEM;
            r->data = q;
            r->data_cap = r->keep;
        }
        memcpy(r->data + r->data_len, p, take);
        r->data_len += take;
    }
    r->got += n;
    return SN_OK;
}

enum sn_status
is_relp_feed(struct is_relp_sess *r, const char *p, size_t n, int64_t recv_ns)
{
    const char *end = p + n;
    enum sn_status rc;

    while (p < end && !r->closing) {
        char c = *p;

        switch (r->st) {
        case R_TXNR:
            if (c >= '0' && c <= '9') {
                if (r->n_digits++ == TXNR_DIGITS)
                    return bad_frame(r, "TXNR over 9 digits");
                r->txnr = r->txnr * 10 + (uint32_t)(c - '0');
                r->in_frame = true;
            } else if (c == ' ' && r->n_digits > 0) {
                r->st = R_CMD;
                r->cmd_len = 0;
            } else {
                return bad_frame(r, "TXNR expected");
            }
            p++;
            break;
        case R_CMD:
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                if (r->cmd_len == CMD_MAX)
                    return bad_frame(r, "command over 32 letters");
                r->cmd[r->cmd_len++] = c;
            } else if (c == ' ' && r->cmd_len > 0) {
                r->cmd[r->cmd_len] = '\0';
                r->st = R_LEN;
                r->n_digits = 0;
                r->len = 0;
            } else {
                return bad_frame(r, "command expected");
            }
            p++;
            break;
        case R_LEN:
            if (c >= '0' && c <= '9') {
                if (r->n_digits++ == TXNR_DIGITS)
                    return bad_frame(r, "DATALEN over 9 digits");
                r->len = r->len * 10 + (uint64_t)(c - '0');
                p++;
            } else if (r->n_digits == 0) {
                return bad_frame(r, "DATALEN expected");
            } else if (r->len == 0) {
                /* No data: this byte must be the trailer. */
                r->keep = 0;
                r->got = 0;
                r->data_len = 0;
                r->direct = NULL;
                r->st = R_TRAILER;
            } else if (c == ' ') {
                begin_data(r);
                p++;
            } else {
                return bad_frame(r, "SP after DATALEN expected");
            }
            break;
        case R_DATA: {
            size_t avail = (size_t)(end - p);
            uint64_t need = r->len - r->got;

            if (r->got == 0 && avail >= need) {
                /* The common case: the whole data is in this chunk. */
                r->direct = p;
                r->got = need;
                p += need;
            } else {
                size_t take = avail < need ? avail : (size_t)need;
                rc = keep_data(r, p, take);
                if (rc != SN_OK)
                    return rc;
                p += take;
            }
            if (r->got == r->len)
                r->st = R_TRAILER;
            break;
        }
        case R_TRAILER:
            if (c != '\n')
                return bad_frame(r, "LF after the data expected");
            p++;
            rc = dispatch(r, r->direct != NULL ? r->direct : r->data,
                          r->direct != NULL ? r->keep : r->data_len, recv_ns);
            if (r->data_cap > DATA_KEEP) {
                free(r->data);
                r->data = NULL;
                r->data_cap = 0;
            }
            r->st = R_TXNR;
            r->txnr = 0;
            r->n_digits = 0;
            r->in_frame = false;
            if (rc != SN_OK)
                return rc;
            break;
        }
    }
    return SN_OK;
}

bool
is_relp_in_frame(const struct is_relp_sess *r)
{
    return r->in_frame;
}

bool
is_relp_has_held(const struct is_relp_sess *r)
{
    return r->out_committed < r->out_len;
}

void
is_relp_commit(struct is_relp_sess *r)
{
    r->out_committed = r->out_len;
    if (r->acks_held > 0)
        r->s->host->counter_add(r->s->c_relp_msgs, r->acks_held);
    r->acks_held = 0;
}

const char *
is_relp_output(const struct is_relp_sess *r, size_t *len)
{
    *len = r->out_committed - r->out_sent;
    return r->out != NULL ? r->out + r->out_sent : "";
}

void
is_relp_consumed(struct is_relp_sess *r, size_t n)
{
    r->out_sent += n;
    if (r->out_sent == r->out_len) {
        r->out_sent = r->out_committed = r->out_len = 0;
    }
}

bool
is_relp_closing(const struct is_relp_sess *r)
{
    return r->closing;
}

void
is_relp_serverclose(struct is_relp_sess *r)
{
    /* relp.md "serverclose": a hint, TXNR 0, no answer expected. It
     * follows the answers committed before, never uncommitted ones. */
    r->out_len = r->out_committed;
    r->acks_held = 0;
    if (out_append(r, "0 serverclose 0\n", 16) == SN_OK)
        r->out_committed = r->out_len;
}
