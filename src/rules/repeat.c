/*
 * Relay repeat summaries (repeat.h). The wrappers are fixed text the
 * relay writes in front of (rsyslog) or around (syslog-ng) the message,
 * so they are recognised by their exact prefix and suffix; whatever the
 * repeated message itself contains (an attacker's user name with "]" or
 * "repeated 9 times") is inside them and cannot change the count.
 */
#include "rules/repeat.h"

#include <string.h>

#include "rules/eval.h"

/* rsyslog runtime/msg.c (RepeatedMsgReduction): "message repeated %d
 * times: [%.800s]", the message cut at 800 bytes (then no closing ']'). */
static const char rs_pre[] = "message repeated ";
static const char rs_mid[] = " times: [";
/* syslog-ng lib/logwriter.c (suppress()): "Last message '%.20s' repeated
 * %d times, suppressed by syslog-ng on %s", the message cut at 20 bytes. */
static const char ng_pre[] = "Last message '";
static const char ng_mid[] = "' repeated ";
static const char ng_suf[] = " times, suppressed by syslog-ng on ";

#define LIT_LEN(s) (sizeof(s) - 1)

static bool
has_at(struct sn_str s, size_t at, const char *lit, size_t len)
{
    return at <= s.len && s.len - at >= len && memcmp(s.ptr + at, lit, len) == 0;
}

/* Decimal digits at *at (1 to 9 of them), clamped to SN_REPEAT_MAX. */
static bool
count_at(struct sn_str s, size_t *at, uint32_t *n)
{
    size_t i = *at;
    uint64_t v = 0;

    while (i < s.len && i - *at < 9 && s.ptr[i] >= '0' && s.ptr[i] <= '9')
        v = v * 10 + (uint64_t)(s.ptr[i++] - '0');
    if (i == *at || (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'))
        return false;
    if (v == 0)
        v = 1;
    *n = v > SN_REPEAT_MAX ? SN_REPEAT_MAX : (uint32_t)v;
    *at = i;
    return true;
}

static bool
unwrap_rsyslog(struct sn_str s, struct sn_str *inner, uint32_t *n)
{
    size_t i = LIT_LEN(rs_pre);

    if (!count_at(s, &i, n) || !has_at(s, i, rs_mid, LIT_LEN(rs_mid)))
        return false;
    i += LIT_LEN(rs_mid);
    inner->ptr = s.ptr + i;
    inner->len = s.len - i;
    /* Not cut at 800 bytes: the ']' is rsyslog's. */
    if (inner->len > 0 && inner->ptr[inner->len - 1] == ']')
        inner->len--;
    return true;
}

static bool
unwrap_syslog_ng(struct sn_str s, struct sn_str *inner, uint32_t *n)
{
    size_t host_at, i;

    /* From the end: " times, suppressed by syslog-ng on HOST" (HOST has
     * no blank), then "' repeated N". The message (at most 20 bytes)
     * may itself hold "' repeated ": the last one is syslog-ng's. */
    host_at = s.len;
    while (host_at > 0 && s.ptr[host_at - 1] != ' ')
        host_at--;
    if (host_at < LIT_LEN(ng_pre) + LIT_LEN(ng_mid) + 1 + LIT_LEN(ng_suf) ||
        memcmp(s.ptr + host_at - LIT_LEN(ng_suf), ng_suf, LIT_LEN(ng_suf)) != 0)
        return false;
    i = host_at - LIT_LEN(ng_suf);
    while (i > 0 && s.ptr[i - 1] >= '0' && s.ptr[i - 1] <= '9')
        i--;
    if (i < LIT_LEN(ng_pre) + LIT_LEN(ng_mid) ||
        memcmp(s.ptr + i - LIT_LEN(ng_mid), ng_mid, LIT_LEN(ng_mid)) != 0) {
        return false;
    }
    {
        size_t d = i;
        if (!count_at(s, &d, n) || d != host_at - LIT_LEN(ng_suf))
            return false;
    }
    inner->ptr = s.ptr + LIT_LEN(ng_pre);
    inner->len = i - LIT_LEN(ng_mid) - LIT_LEN(ng_pre);
    return true;
}

bool
sn_repeat_unwrap(struct sn_str s, struct sn_str *inner, uint32_t *n)
{
    if (s.ptr == NULL || s.len < LIT_LEN(ng_pre))
        return false;
    if (s.ptr[0] == 'm' && has_at(s, 0, rs_pre, LIT_LEN(rs_pre)))
        return unwrap_rsyslog(s, inner, n);
    if (s.ptr[0] == 'L' && has_at(s, 0, ng_pre, LIT_LEN(ng_pre)))
        return unwrap_syslog_ng(s, inner, n);
    return false;
}

uint32_t
sn_repeat_count(struct sn_str s)
{
    struct sn_str inner;
    uint32_t n;

    return sn_repeat_unwrap(sn_rule_msg_trim(s), &inner, &n) ? n : 1;
}
