/* struct sn_syslog_msg helpers and its JSON form; see msg.h. */
#include "syslog/msg.h"

#include <string.h>

#include "core/json.h"

void
sn_syslog_msg_init(struct sn_syslog_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->pri = -1;
    m->version = -1;
}

void
sn_syslog_msg_note(struct sn_syslog_msg *m, const char *note)
{
    if (m->n_notes < SN_SYSLOG_MAX_NOTES)
        m->notes[m->n_notes++] = note;
}

/* Append `prefix` (a literal such as ,"hostname": with its length) and the
 * string or null. Keys are literals so the hot path runs no strlen. */
static enum sn_status
str_field(struct sn_buf *b, const char *prefix, size_t plen, struct sn_str s)
{
    enum sn_status rc = sn_buf_append(b, prefix, plen);

    if (rc == SN_OK)
        rc = sn_json_str_or_null(b, s.ptr, s.len);
    return rc;
}

static bool
str_eq(struct sn_str a, struct sn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* {"id":{"name":"v","rep":["a","b"]},...}: params of one SD-ID are
 * contiguous (one SD-ELEMENT each), names may repeat within it. */
static enum sn_status
sd_json(const struct sn_syslog_msg *m, struct sn_buf *b)
{
    enum sn_status rc = SN_OK;
    size_t i = 0;

    if (!m->has_sd)
        return sn_buf_append(b, "null", 4);
    rc = sn_buf_putc(b, '{');
    while (rc == SN_OK && i < m->n_sd) {
        size_t end = i;
        bool first = true;

        while (end < m->n_sd && str_eq(m->sd[end].id, m->sd[i].id))
            end++;
        if (i > 0)
            rc = sn_buf_putc(b, ',');
        if (rc == SN_OK)
            rc = sn_json_str(b, m->sd[i].id.ptr, m->sd[i].id.len);
        if (rc == SN_OK)
            rc = sn_buf_append(b, ":{", 2);
        for (size_t j = i; rc == SN_OK && j < end; j++) {
            size_t n_same = 0, k;
            bool seen_before = false;

            if (m->sd[j].name.ptr == NULL)
                continue;
            for (k = i; k < j; k++)
                if (str_eq(m->sd[k].name, m->sd[j].name))
                    seen_before = true;
            if (seen_before)
                continue;
            for (k = j; k < end; k++)
                if (str_eq(m->sd[k].name, m->sd[j].name))
                    n_same++;
            if (!first)
                rc = sn_buf_putc(b, ',');
            first = false;
            if (rc == SN_OK)
                rc = sn_json_str(b, m->sd[j].name.ptr, m->sd[j].name.len);
            if (rc == SN_OK)
                rc = sn_buf_putc(b, ':');
            if (rc == SN_OK && n_same > 1)
                rc = sn_buf_putc(b, '[');
            for (k = j, n_same = 0; rc == SN_OK && k < end; k++) {
                if (!str_eq(m->sd[k].name, m->sd[j].name))
                    continue;
                if (n_same++ > 0)
                    rc = sn_buf_putc(b, ',');
                if (rc == SN_OK)
                    rc = sn_json_str(b, m->sd[k].value.ptr, m->sd[k].value.len);
            }
            if (rc == SN_OK && n_same > 1)
                rc = sn_buf_putc(b, ']');
        }
        if (rc == SN_OK)
            rc = sn_buf_putc(b, '}');
        i = end;
    }
    if (rc == SN_OK)
        rc = sn_buf_putc(b, '}');
    return rc;
}

static enum sn_status
int_or_null(struct sn_buf *b, const char *prefix, size_t plen, int v)
{
    enum sn_status rc = sn_buf_append(b, prefix, plen);

    if (rc != SN_OK)
        return rc;
    if (v < 0)
        return SN_BUF_LIT(b, "null");
    return sn_json_int(b, v);
}

#define KEY(lit) lit, sizeof(lit) - 1

enum sn_status
sn_syslog_msg_json(const struct sn_syslog_msg *m, struct sn_buf *b)
{
    enum sn_status rc;

    rc = int_or_null(b, KEY("\"pri\":"), m->pri);
    if (rc == SN_OK)
        rc = int_or_null(b, KEY(",\"facility\":"), m->pri < 0 ? -1 : m->pri / 8);
    if (rc == SN_OK)
        rc = int_or_null(b, KEY(",\"severity\":"), m->pri < 0 ? -1 : m->pri % 8);
    if (rc == SN_OK)
        rc = int_or_null(b, KEY(",\"version\":"), m->version);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"timestamp\":"), m->timestamp);
    if (rc == SN_OK && m->has_time &&
        (rc = SN_BUF_LIT(b, ",\"timestamp_utc_ns\":")) == SN_OK)
        rc = sn_json_int(b, m->time_ns);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"hostname\":"), m->hostname);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"appname\":"), m->appname);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"procid\":"), m->procid);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"msgid\":"), m->msgid);
    if (rc == SN_OK && (rc = SN_BUF_LIT(b, ",\"sd\":")) == SN_OK)
        rc = sd_json(m, b);
    if (rc == SN_OK)
        rc = str_field(b, KEY(",\"msg\":"), m->msg);
    return rc;
}
