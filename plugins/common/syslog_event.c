/* Library parser -> event adapter for the syslog parser plugins. */
/* _DEFAULT_SOURCE: tm_gmtoff (the local UTC offset) is a BSD field. */
#define _DEFAULT_SOURCE
#include "syslog_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "syslog/detect.h"
#include "syslog/rfc3164.h"
#include "syslog/rfc5424.h"

const struct sn_option syslog_parser_options[] = {
    { "timezone", SN_OPT_STRING, "local",
      offsetof(struct syslog_conf, timezone),
      "zone of RFC 3164 timestamps that name none: local, UTC or +hh:mm", 0, 0,
      NULL, false },
    { "fallback", SN_OPT_BOOL, "true", offsetof(struct syslog_conf, fallback),
      "a message RFC 5424 rejects is parsed as RFC 3164 (rsyslog's chain)", 0,
      0, NULL, false },
    { 0 },
};

/* What one worker thread keeps between records: the arena for unescaped
 * SD values, and the RFC 3164 timestamp memo (a stream repeats a stamp
 * for every line of a second; each record has its own receive time, so
 * mostly the stamp's text part hits, not the year inference). */
struct scratch {
    struct sn_arena arena;
    struct sn_rfc3164_memo memo;
};

static void
scratch_free(void *p)
{
    struct scratch *sc = p;

    sn_arena_fini(&sc->arena);
    free(sc);
}

static bool
parse_tz(const char *s, bool *local, int32_t *off)
{
    int h, m = 0;
    char sign;

    *local = false;
    *off = 0;
    if (strcmp(s, "local") == 0) {
        *local = true;
        return true;
    }
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0)
        return true;
    if (sscanf(s, "%c%2d:%2d", &sign, &h, &m) < 2 ||
        (sign != '+' && sign != '-') || h > 14 || m > 59)
        return false;
    *off = (h * 3600 + m * 60) * (sign == '-' ? -1 : 1);
    return true;
}

enum sn_status
syslog_parser_init(const struct sn_host *host, enum syslog_mode mode,
                   const struct syslog_conf *c, void **state, char *err,
                   size_t err_len)
{
    struct syslog_parser *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return SN_ENOMEM;
    s->host = host;
    s->mode = mode;
    s->fallback = c->fallback;
    atomic_store(&s->tz_second, -1);
    if (pthread_key_create(&s->scratch, scratch_free) != 0) {
        free(s);
        return SN_ENOMEM;
    }
    *state = s;
    if (!parse_tz(c->timezone, &s->tz_local, &s->tz_fixed)) {
        snprintf(err, err_len,
                 "timezone '%s' is not local, UTC or +hh:mm/-hh:mm",
                 c->timezone);
        return SN_ECONFIG;
    }
    return SN_OK;
}

void
syslog_parser_destroy(void *state)
{
    struct syslog_parser *s = state;

    if (s == NULL)
        return;
    pthread_key_delete(s->scratch);
    free(s);
}

static int32_t
tz_offset(struct syslog_parser *s, int64_t now_ns)
{
    int64_t sec = now_ns / 1000000000LL;
    struct tm tm;
    time_t t = (time_t)sec;

    if (!s->tz_local)
        return s->tz_fixed;
    if (atomic_load_explicit(&s->tz_second, memory_order_relaxed) == sec)
        return atomic_load_explicit(&s->tz_offset, memory_order_relaxed);
    localtime_r(&t, &tm);
    atomic_store(&s->tz_offset, (int32_t)tm.tm_gmtoff);
    atomic_store(&s->tz_second, sec);
    return (int32_t)tm.tm_gmtoff;
}

static struct scratch *
scratch(struct syslog_parser *s)
{
    struct scratch *sc = pthread_getspecific(s->scratch);

    if (sc == NULL) {
        sc = malloc(sizeof(*sc));
        if (sc == NULL)
            return NULL;
        sn_arena_init(&sc->arena, 16 * 1024, 0);
        sn_rfc3164_memo_init(&sc->memo);
        if (pthread_setspecific(s->scratch, sc) != 0) {
            scratch_free(sc);
            return NULL;
        }
    }
    sn_arena_reset(&sc->arena);
    return sc;
}

static bool
inside(const struct sn_record *rec, const char *p)
{
    return p >= rec->data.ptr && p <= rec->data.ptr + rec->data.len;
}

/* Header slices point into the record, which the event owns already;
 * SD values unescaped into the scratch arena are copied to the event. */
static enum sn_status
to_event(struct syslog_parser *s, const struct sn_record *rec,
         const struct sn_syslog_msg *m, struct sn_event *ev)
{
    const struct sn_host *h = s->host;
    static const enum sn_field fields[] = { SN_F_TIMESTAMP, SN_F_HOSTNAME,
                                            SN_F_APPNAME,   SN_F_PROCID,
                                            SN_F_MSGID,     SN_F_MSG };
    const struct sn_str *vals[] = { &m->timestamp, &m->hostname, &m->appname,
                                    &m->procid,    &m->msgid,    &m->msg };

    h->event_set_pri(ev, m->pri);
    h->event_set_version(ev, m->version);
    for (size_t i = 0; i < 6; i++)
        if (vals[i]->ptr != NULL)
            h->event_set(ev, fields[i], vals[i]->ptr, vals[i]->len);
    if (m->has_time)
        h->event_set_time(ev, m->time_ns);
    h->event_set_has_sd(ev, m->has_sd);
    for (size_t i = 0; i < m->n_sd; i++) {
        struct sn_sd_param p = m->sd[i];
        enum sn_status rc;

        if (p.value.ptr != NULL && !inside(rec, p.value.ptr)) {
            char *copy = h->event_alloc(ev, p.value.len + 1);
            if (copy == NULL)
                return SN_ENOMEM;
            memcpy(copy, p.value.ptr, p.value.len);
            p.value.ptr = copy;
        }
        rc = h->event_add_sd(ev, p.id, p.name, p.value);
        if (rc != SN_OK)
            return rc;
    }
    for (size_t i = 0; i < m->n_notes; i++)
        h->event_note(ev, m->notes[i]);
    return SN_OK;
}

enum sn_status
syslog_parser_parse(void *state, const struct sn_record *rec,
                    struct sn_event *ev, char *why, size_t why_len,
                    size_t *offset)
{
    struct syslog_parser *s = state;
    struct scratch *sc = scratch(s);
    struct sn_arena *a;
    struct sn_syslog_msg m;
    struct sn_parse_error err;
    enum sn_status rc = SN_EINVAL;
    bool try5424 = s->mode == MODE_RFC5424;
    bool rejected5424 = false;

    if (sc == NULL)
        return SN_ENOMEM;
    a = &sc->arena;
    memset(&err, 0, sizeof(err));
    if (s->mode == MODE_AUTO) {
        enum sn_syslog_format f =
            sn_syslog_detect(rec->data.ptr, rec->data.len);

        if (f == SN_FMT_JSON && s->json_parse != NULL)
            return s->json_parse(s->host, 8, rec, ev, why, why_len, offset);
        try5424 = f == SN_FMT_RFC5424;
    }
    if (try5424) {
        rc = sn_rfc5424_parse(rec->data.ptr, rec->data.len, a, &m, &err);
        rejected5424 = rc != SN_OK;
        if (rc != SN_OK && !(s->fallback || s->mode == MODE_AUTO)) {
            snprintf(why, why_len, "%s", err.reason);
            *offset = err.offset;
            return rc;
        }
    }
    if (!try5424 || rejected5424) {
        struct sn_rfc3164_opts o;
        struct sn_parse_error err3;

        o.now_ns = rec->recv_ns;
        o.tz_offset_sec = tz_offset(s, rec->recv_ns);
        memset(&err3, 0, sizeof(err3));
        rc = sn_rfc3164_parse_memo(rec->data.ptr, rec->data.len, &o, &sc->memo,
                                   a, &m, &err3);
        if (rc != SN_OK) {
            snprintf(why, why_len, "%s",
                     rejected5424 ? err.reason : err3.reason);
            *offset = rejected5424 ? err.offset : err3.offset;
            return rc;
        }
        if (rejected5424)
            sn_syslog_msg_note(&m, "rfc5424 rejected; parsed as rfc3164");
    }
    return to_event(s, rec, &m, ev);
}
