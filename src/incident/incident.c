/*
 * The in-memory incident and its JSON document; see incident.h. Writing
 * the document by hand (core/json.h) keeps the field order fixed and
 * avoids a json-c tree per version on the manager's hot path.
 */
/* _DEFAULT_SOURCE: getrandom(2). */
#define _DEFAULT_SOURCE
#include "incident/incident.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "syslog/timestamp.h"

static const char *const sev_names[] = { "info", "low", "medium", "high",
                                         "critical" };

void
sn_incident_init(struct sn_incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    strcpy(inc->status, "open");
}

void
sn_incident_fini(struct sn_incident *inc)
{
    if (inc == NULL)
        return;
    free(inc->rule_id);
    free(inc->title);
    free(inc->description);
    free(inc->tags);
    free(inc->group_key);
    free(inc->pending);
    free(inc->owner);
    free(inc->explanation);
    free(inc->evidence);
    free(inc->part_input);
    free(inc->part_topic);
    memset(inc, 0, sizeof(*inc));
}

enum sn_status
sn_incident_set(char **field, const char *s, size_t len)
{
    char *c = NULL;

    if (s != NULL) {
        c = malloc(len + 1);
        if (c == NULL)
            return SN_ENOMEM;
        memcpy(c, s, len);
        c[len] = '\0';
    }
    free(*field);
    *field = c;
    return SN_OK;
}

const char *
sn_severity_name(enum sn_severity s)
{
    return (unsigned)s <= SN_SEV_CRITICAL ? sev_names[s] : "info";
}

int
sn_severity_parse(const char *s)
{
    for (int i = 0; i <= SN_SEV_CRITICAL; i++)
        if (strcmp(s, sev_names[i]) == 0)
            return i;
    return -1;
}

/* 8-4-4-4-12 lowercase hex digits, by hand: snprintf with 16
 * conversions cost more than the rest of opening an incident's id. */
static void
uuid_text(const unsigned char *r, char out[SN_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[r[i] >> 4];
        *p++ = hex[r[i] & 15];
    }
    *p = '\0';
}

void
sn_uuid4(char out[SN_UUID_LEN + 1])
{
    unsigned char r[16];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof(r)) {
        /* getrandom is missing only on ancient kernels; the clock and pid
         * still make ids unique per process, which is all we rely on. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(r, &ts, sizeof(ts) < 16 ? sizeof(ts) : 16);
        r[15] ^= (unsigned char)getpid();
    }
    /* RFC 9562 5.4: version 4, variant 10. */
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    uuid_text(r, out);
}

void
sn_uuid5(const unsigned char ns[16], const void *name, size_t len,
         char out[SN_UUID_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    /* RFC 9562 5.5: SHA-1 of namespace then name, first 16 bytes,
     * version 5, variant 10. */
    memset(md, 0, sizeof(md));
    if (c == NULL || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(c, ns, 16) || !EVP_DigestUpdate(c, name, len) ||
        !EVP_DigestFinal_ex(c, md, &n) || n < 16) {
        /* Out of memory only: a random id keeps the incident, at the
         * cost of identity across instances for this one. */
        EVP_MD_CTX_free(c);
        sn_uuid4(out);
        return;
    }
    EVP_MD_CTX_free(c);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    uuid_text(md, out);
}

void
sn_time_rfc3339(int64_t ns, char out[40])
{
    sn_rfc3339_format(ns, out);
}

#define TRY(x) SN_JSON_TRY(x)


static enum sn_status
kraw(struct sn_buf *b, const char *key, const char *json, const char *def)
{
    enum sn_status rc;

    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, key));
    return sn_buf_puts(b, json != NULL && json[0] ? json : def);
}

static enum sn_status
kint(struct sn_buf *b, const char *key, int64_t v)
{
    enum sn_status rc;

    TRY(sn_buf_putc(b, ','));
    TRY(sn_json_key(b, key));
    return sn_json_int(b, v);
}

static enum sn_status
ktime(struct sn_buf *b, const char *key, int64_t ns)
{
    char t[40];

    sn_time_rfc3339(ns, t);
    return sn_json_member_str(b, key, t);
}

enum sn_status
sn_incident_json(const struct sn_incident *inc, bool full, struct sn_buf *out)
{
    enum sn_status rc;

    TRY(SN_BUF_LIT(out, "{\"type\":\"incident\""));
    TRY(sn_json_member_str(out, "id", inc->id));
    TRY(kint(out, "version", inc->version));
    TRY(sn_json_member_str(out, "rule_id", inc->rule_id ? inc->rule_id : ""));
    TRY(sn_json_member_str(out, "title", inc->title ? inc->title : inc->rule_id));
    TRY(sn_json_member_str(out, "description", inc->description));
    TRY(kraw(out, "tags", inc->tags, "[]"));
    TRY(sn_json_member_str(out, "severity", sn_severity_name(inc->severity)));
    TRY(sn_json_member_str(out, "base_severity", sn_severity_name(inc->base_severity)));
    TRY(sn_json_member_str(out, "status", inc->status));
    TRY(kraw(out, "pending_approval", inc->pending, "null"));
    TRY(kraw(out, "group_key", inc->group_key, "{}"));
    TRY(ktime(out, "first_seen", inc->first_seen));
    TRY(ktime(out, "last_seen", inc->last_seen));
    TRY(kint(out, "hit_count", inc->hit_count));
    TRY(kint(out, "signal_count", inc->signal_count));
    TRY(sn_json_member_str(out, "owner", inc->owner));
    TRY(sn_json_member_str(out, "previous_id",
             inc->previous_id[0] ? inc->previous_id : NULL));
    if (inc->degraded)
        TRY(SN_BUF_LIT(out, ",\"degraded\":true"));
    TRY(ktime(out, "created_at", inc->created_at));
    TRY(ktime(out, "updated_at", inc->updated_at));
    if (full) {
        TRY(kraw(out, "explanation", inc->explanation, "null"));
        TRY(kraw(out, "evidence", inc->evidence, "[]"));
    }
    return sn_buf_putc(out, '}');
}
