/*
 * in_kafka dead letters: a message the parser chain rejected (or too large
 * for the pipeline) goes to a dead-letter topic, with headers naming the
 * reason and where it came from, or to a file as one JSON line, and is
 * counted; the partition goes on. Called from worker threads.
 */
#include "in_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum sn_status
ik_dlq_open(struct ik_state *s, char *err, size_t err_len)
{
    s->dlq_fd = -1;
    if (s->c->dlq_file != NULL) {
        s->dlq_fd = open(s->c->dlq_file,
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (s->dlq_fd < 0) {
            snprintf(err, err_len, "dead_letter_file %s: %s", s->c->dlq_file,
                     strerror(errno));
            return SN_EIO;
        }
    }
    if (s->c->dlq_topic != NULL) {
        const char *fixed[] = { "enable.idempotence", "true", "acks", "all",
                                NULL };
        char why[512];
        rd_kafka_conf_t *conf = kafka_conf_build(&s->ctx, s->c->brokers, fixed,
                                                 NULL, err, err_len);
        if (conf == NULL)
            return SN_ECONFIG;
        s->dlq_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (s->dlq_rk == NULL) {
            rd_kafka_conf_destroy(conf);
            snprintf(err, err_len, "dead-letter producer: %s", why);
            return SN_EPLUGIN;
        }
        s->dlq_t = rd_kafka_topic_new(s->dlq_rk, s->c->dlq_topic, NULL);
        if (s->dlq_t == NULL) {
            snprintf(err, err_len, "dead-letter topic %s: %s", s->c->dlq_topic,
                     rd_kafka_err2str(rd_kafka_last_error()));
            return SN_EPLUGIN;
        }
    }
    return SN_OK;
}

void
ik_dlq_flush(struct ik_state *s)
{
    if (s->dlq_rk != NULL && rd_kafka_outq_len(s->dlq_rk) > 0)
        rd_kafka_flush(s->dlq_rk, 10000);
}

void
ik_dlq_close(struct ik_state *s)
{
    if (s->dlq_rk != NULL) {
        ik_dlq_flush(s);
        if (s->dlq_t != NULL)
            rd_kafka_topic_destroy(s->dlq_t);
        rd_kafka_destroy(s->dlq_rk);
        s->dlq_rk = NULL;
        s->dlq_t = NULL;
    }
    if (s->dlq_fd >= 0)
        close(s->dlq_fd);
    s->dlq_fd = -1;
}

/* JSON string body with the few escapes JSON requires. */
static size_t
escape(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static void
to_file(struct ik_state *s, const struct sn_record *rec, const char *why)
{
    /* Bounded: a dead letter is cut at 64 KiB of escaped data. */
    size_t cap = 64 * 1024 + 1024, n;
    char *line = malloc(cap), wbuf[400];

    if (line == NULL)
        return;
    n = (size_t)snprintf(line, cap,
                         "{\"topic\":\"%s\",\"partition\":%d,\"offset\":%lld,"
                         "\"reason\":\"",
                         rec->peer ? rec->peer : "", (int)rec->source_part,
                         (long long)rec->source_offset);
    n += escape(line + n, cap - n - 32, why, strlen(why));
    n += (size_t)snprintf(line + n, cap - n, "\",\"data\":\"");
    n += escape(line + n, cap - n - 4, rec->data.ptr, rec->data.len);
    line[n++] = '"';
    line[n++] = '}';
    line[n++] = '\n';
    pthread_mutex_lock(&s->dlq_lock);
    if (write(s->dlq_fd, line, n) != (ssize_t)n) {
        snprintf(wbuf, sizeof(wbuf), "%s", strerror(errno));
        s->ctx.host->counter_add(s->c_dead_failed, 1);
        s->ctx.host->log(s->ctx.inst, SN_LOG_ERROR,
                         "dead_letter_file %s: %s", s->c->dlq_file, wbuf);
    }
    pthread_mutex_unlock(&s->dlq_lock);
    free(line);
}

void
ik_rejected(void *state, const struct sn_record *rec, const char *why)
{
    struct ik_state *s = state;

    s->ctx.host->counter_add(s->c_dead, 1);
    if (s->dlq_fd >= 0)
        to_file(s, rec, why);
    if (s->dlq_t != NULL) {
        char part[16], off[24];
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
        rd_kafka_resp_err_t e;

        snprintf(part, sizeof(part), "%d", (int)rec->source_part);
        snprintf(off, sizeof(off), "%lld", (long long)rec->source_offset);
        rd_kafka_header_add(hdrs, "reason", 6, why, -1);
        rd_kafka_header_add(hdrs, "source_topic", 12,
                            rec->peer ? rec->peer : "", -1);
        rd_kafka_header_add(hdrs, "source_partition", 16, part, -1);
        rd_kafka_header_add(hdrs, "source_offset", 13, off, -1);
        do {
            /* produceva: producev's macros are GNU extensions. */
            rd_kafka_vu_t vu[4];
            rd_kafka_error_t *err;

            vu[0].vtype = RD_KAFKA_VTYPE_RKT;
            vu[0].u.rkt = s->dlq_t;
            vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
            vu[1].u.i = RD_KAFKA_MSG_F_COPY;
            vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
            vu[2].u.mem.ptr = (void *)rec->data.ptr;
            vu[2].u.mem.size = rec->data.len;
            vu[3].vtype = RD_KAFKA_VTYPE_HEADERS;
            vu[3].u.headers = hdrs;
            err = rd_kafka_produceva(s->dlq_rk, vu, 4);
            e = err == NULL ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(err);
            if (err != NULL)
                rd_kafka_error_destroy(err);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(s->dlq_rk, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(hdrs);
            s->ctx.host->counter_add(s->c_dead_failed, 1);
            s->ctx.host->log(s->ctx.inst, SN_LOG_ERROR,
                             "dead-letter topic %s: %s", s->c->dlq_topic,
                             rd_kafka_err2str(e));
        }
    }
    if (s->dlq_fd < 0 && s->dlq_t == NULL)
        s->ctx.host->log(s->ctx.inst, SN_LOG_DEBUG,
                         "rejected %s [%d] offset %lld (no dead-letter "
                         "destination configured): %s",
                         rec->peer ? rec->peer : "", (int)rec->source_part,
                         (long long)rec->source_offset, why);
}
