/* Event accessors and JSON form; see event.h. */
#include "event/event.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/limits.h"
#include "rules/ip.h"
#include "syslog/timestamp.h"

void
sn_event_reset(struct sn_event *ev, struct sn_arena *arena)
{
    sn_syslog_msg_init(&ev->hdr);
    ev->fields = NULL;
    ev->n_fields = 0;
    ev->cap_fields = 0;
    ev->cap_sd = 0;
    ev->arena = arena;
    ev->json.ptr = NULL;
    ev->json.len = 0;
}

void *
sn_event_alloc(struct sn_event *ev, size_t len)
{
    return sn_arena_alloc(ev->arena, len);
}

static struct sn_str *
header_slot(struct sn_syslog_msg *m, enum sn_field f)
{
    switch (f) {
    case SN_F_TIMESTAMP: return &m->timestamp;
    case SN_F_HOSTNAME: return &m->hostname;
    case SN_F_APPNAME: return &m->appname;
    case SN_F_PROCID: return &m->procid;
    case SN_F_MSGID: return &m->msgid;
    case SN_F_MSG: return &m->msg;
    default: return NULL;
    }
}

void
sn_event_set(struct sn_event *ev, enum sn_field f, const char *s, size_t len)
{
    struct sn_str *slot = header_slot(&ev->hdr, f);

    if (slot != NULL) {
        slot->ptr = s;
        slot->len = s != NULL ? len : 0;
    }
}

struct sn_str
sn_event_get(const struct sn_event *ev, enum sn_field f)
{
    struct sn_str *slot = header_slot((struct sn_syslog_msg *)&ev->hdr, f);
    struct sn_str none = { NULL, 0 };

    return slot != NULL ? *slot : none;
}

enum sn_status
sn_event_add_sd(struct sn_event *ev, struct sn_str id, struct sn_str name,
                struct sn_str value)
{
    struct sn_syslog_msg *m = &ev->hdr;

    if (m->n_sd >= SN_EVENT_MAX_SD_PARAMS)
        return SN_ELIMIT;
    if (m->n_sd == ev->cap_sd) {
        uint32_t cap = ev->cap_sd ? ev->cap_sd * 2 : 8;
        struct sn_sd_param *p = sn_arena_alloc(ev->arena, cap * sizeof(*p));

        if (p == NULL)
            return SN_ENOMEM;
        if (m->n_sd > 0)
            memcpy(p, m->sd, m->n_sd * sizeof(*p));
        m->sd = p;
        ev->cap_sd = cap;
    }
    m->sd[m->n_sd].id = id;
    m->sd[m->n_sd].name = name;
    m->sd[m->n_sd].value = value;
    m->n_sd++;
    m->has_sd = true;
    return SN_OK;
}

static bool
key_eq(struct sn_str a, struct sn_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

enum sn_status
sn_event_set_field(struct sn_event *ev, struct sn_str key,
                   const struct sn_value *v)
{
    for (uint32_t i = 0; i < ev->n_fields; i++) {
        if (key_eq(ev->fields[i].key, key)) {
            ev->fields[i].val = *v;
            return SN_OK;
        }
    }
    if (ev->n_fields >= SN_EVENT_MAX_FIELDS)
        return SN_ELIMIT;
    if (ev->n_fields == ev->cap_fields) {
        uint32_t cap = ev->cap_fields ? ev->cap_fields * 2 : 8;
        struct sn_field_entry *p =
            sn_arena_alloc(ev->arena, cap * sizeof(*p));

        if (p == NULL)
            return SN_ENOMEM;
        if (ev->n_fields > 0)
            memcpy(p, ev->fields, ev->n_fields * sizeof(*p));
        ev->fields = p;
        ev->cap_fields = cap;
    }
    ev->fields[ev->n_fields].key = key;
    ev->fields[ev->n_fields].val = *v;
    ev->n_fields++;
    return SN_OK;
}

const struct sn_value *
sn_event_field(const struct sn_event *ev, struct sn_str key)
{
    for (uint32_t i = 0; i < ev->n_fields; i++)
        if (key_eq(ev->fields[i].key, key))
            return &ev->fields[i].val;
    return NULL;
}

static enum sn_status
time_to_json(int64_t ns, struct sn_buf *out)
{
    char tmp[SN_RFC3339_NS_LEN + 1];

    sn_rfc3339_format(ns, tmp);
    return sn_json_str(out, tmp, SN_RFC3339_NS_LEN);
}

enum sn_status
sn_value_to_json(const struct sn_value *v, struct sn_buf *out)
{
    char tmp[INET6_ADDRSTRLEN];

    switch (v->type) {
    case SN_VAL_STR:
        return sn_json_str(out, v->u.s.ptr, v->u.s.len);
    case SN_VAL_INT:
        return sn_json_int(out, v->u.i);
    case SN_VAL_DOUBLE:
        return sn_buf_printf(out, "%.17g", v->u.d);
    case SN_VAL_BOOL:
        return sn_buf_puts(out, v->u.b ? "true" : "false");
    case SN_VAL_IP: {
        /* sn_ip_text writes IPv4 by hand (inet_ntop was 1,800
         * instructions an address); the same text either way. */
        struct sn_ip ip;
        size_t n;
        ip.family = v->u.ip.family == 6 ? 6 : 4;
        memcpy(ip.addr, v->u.ip.addr, sizeof(ip.addr));
        n = sn_ip_text(&ip, tmp, sizeof(tmp));
        if (n == 0)
            return sn_buf_puts(out, "null");
        return sn_json_str(out, tmp, n);
    }
    case SN_VAL_TIME:
        return time_to_json(v->u.time_ns, out);
    case SN_VAL_NULL:
    default:
        return sn_buf_puts(out, "null");
    }
}

/* prefix is a literal like ,"input": with its length. */
static enum sn_status
opt_str(struct sn_buf *out, const char *prefix, size_t plen, const char *s)
{
    enum sn_status rc = sn_buf_append(out, prefix, plen);

    if (rc == SN_OK)
        rc = sn_json_str_or_null(out, s, s ? strlen(s) : 0);
    return rc;
}

#define KEY(lit) lit, sizeof(lit) - 1

enum sn_status
sn_event_render_json(struct sn_event *ev, struct sn_buf *scratch)
{
    enum sn_status rc;
    char *p;

    ev->json.ptr = NULL;
    sn_buf_reset(scratch);
    if ((rc = sn_event_to_json(ev, scratch)) != SN_OK)
        return rc;
    p = sn_arena_memdup(ev->arena, scratch->data, scratch->len);
    if (p == NULL)
        return SN_ENOMEM;
    ev->json.ptr = p;
    ev->json.len = scratch->len;
    return SN_OK;
}

enum sn_status
sn_event_to_json(const struct sn_event *ev, struct sn_buf *out)
{
    enum sn_status rc;

    if (ev->json.ptr != NULL)
        return sn_buf_append(out, ev->json.ptr, ev->json.len);
    rc = sn_buf_putc(out, '{');

    if (rc == SN_OK)
        rc = sn_syslog_msg_json(&ev->hdr, out);
    if (rc == SN_OK && (rc = SN_BUF_LIT(out, ",\"received_ns\":")) == SN_OK)
        rc = sn_json_int(out, ev->rec.recv_ns);
    if (rc == SN_OK)
        rc = opt_str(out, KEY(",\"input\":"), ev->rec.input);
    if (rc == SN_OK)
        rc = opt_str(out, KEY(",\"transport\":"), ev->rec.transport);
    if (rc == SN_OK)
        rc = opt_str(out, KEY(",\"peer\":"), ev->rec.peer);
    if (rc == SN_OK && ev->rec.source_offset >= 0 &&
        (rc = SN_BUF_LIT(out, ",\"source_offset\":")) == SN_OK)
        rc = sn_json_int(out, ev->rec.source_offset);
    if (rc == SN_OK && ev->n_fields > 0) {
        rc = sn_buf_append(out, ",\"fields\":{", 11);
        for (uint32_t i = 0; rc == SN_OK && i < ev->n_fields; i++) {
            if (i > 0)
                rc = sn_buf_putc(out, ',');
            if (rc == SN_OK)
                rc = sn_json_str(out, ev->fields[i].key.ptr,
                                 ev->fields[i].key.len);
            if (rc == SN_OK)
                rc = sn_buf_putc(out, ':');
            if (rc == SN_OK)
                rc = sn_value_to_json(&ev->fields[i].val, out);
        }
        if (rc == SN_OK)
            rc = sn_buf_putc(out, '}');
    }
    if (rc == SN_OK && ev->hdr.n_notes > 0) {
        rc = sn_buf_append(out, ",\"notes\":[", 10);
        for (size_t i = 0; rc == SN_OK && i < ev->hdr.n_notes; i++) {
            if (i > 0)
                rc = sn_buf_putc(out, ',');
            if (rc == SN_OK)
                rc = sn_json_str(out, ev->hdr.notes[i],
                                 strlen(ev->hdr.notes[i]));
        }
        if (rc == SN_OK)
            rc = sn_buf_putc(out, ']');
    }
    if (rc == SN_OK)
        rc = sn_buf_putc(out, '}');
    return rc;
}
