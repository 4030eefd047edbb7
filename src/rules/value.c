/* Values as text, for string operators and correlation keys. */
#include "rules/value.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "rules/ip.h"

/* "%lld" by hand: ports and pids go through here for every evidence
 * summary and key, and snprintf was a visible share of a match. Same
 * text, including the truncation snprintf would do. */
static int
int_text(int64_t i, char *tmp, size_t tmp_len)
{
    char d[24], *end = d + sizeof(d), *p = end;
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    size_t n;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (i < 0)
        *--p = '-';
    n = (size_t)(end - p);
    if (tmp_len > 0) {
        size_t keep = n < tmp_len ? n : tmp_len - 1;
        memcpy(tmp, p, keep);
        tmp[keep] = '\0';
    }
    return (int)n;
}

bool
sn_value_text(const struct sn_value *v, char *tmp, size_t tmp_len,
              struct sn_str *out)
{
    int n;

    switch (v->type) {
    case SN_VAL_STR:
        *out = v->u.s;
        return true;
    case SN_VAL_INT:
    case SN_VAL_TIME:
        n = int_text(v->type == SN_VAL_INT ? v->u.i : v->u.time_ns, tmp,
                     tmp_len);
        break;
    case SN_VAL_DOUBLE:
        n = snprintf(tmp, tmp_len, "%.17g", v->u.d);
        break;
    case SN_VAL_BOOL:
        n = snprintf(tmp, tmp_len, "%s", v->u.b ? "true" : "false");
        break;
    case SN_VAL_IP: {
        struct sn_ip ip;
        ip.family = v->u.ip.family;
        memcpy(ip.addr, v->u.ip.addr, 16);
        n = (int)sn_ip_text(&ip, tmp, tmp_len);
        break;
    }
    default:
        return false;
    }
    out->ptr = tmp;
    out->len = (size_t)n;
    return true;
}

enum sn_status
sn_value_json(const struct sn_value *v, struct sn_buf *out)
{
    char tmp[64];
    struct sn_str t;

    if (!sn_value_text(v, tmp, sizeof(tmp), &t))
        return SN_BUF_LIT(out, "null");
    switch (v->type) {
    case SN_VAL_STR:
    case SN_VAL_IP:
        return sn_json_str(out, t.ptr, t.len);
    case SN_VAL_DOUBLE:
        /* JSON has no NaN or infinity. */
        if (v->u.d != v->u.d || v->u.d > 1.7e308 || v->u.d < -1.7e308)
            return SN_BUF_LIT(out, "null");
        return sn_buf_append(out, t.ptr, t.len);
    default:
        return sn_buf_append(out, t.ptr, t.len);
    }
}
