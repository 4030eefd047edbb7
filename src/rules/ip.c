/* Address and prefix parsing over slices; see ip.h. */
#include "rules/ip.h"

#include <arpa/inet.h>
#include <string.h>

#include "rules/limits.h"

static const uint8_t v4_mapped[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

void
sn_ip_normalise(struct sn_ip *ip)
{
    if (ip->family == 6 && memcmp(ip->addr, v4_mapped, 12) == 0) {
        memmove(ip->addr, ip->addr + 12, 4);
        memset(ip->addr + 4, 0, 12);
        ip->family = 4;
    }
}

/* inet_pton(AF_INET)'s dotted quad (glibc resolv/inet_pton.c: four
 * decimal octets <= 255, no leading zeros) over a slice of digits and
 * dots only, in one pass; returns -1 when s holds anything else (the
 * caller asks inet_pton then, so a verdict is only final at the end).
 * Every extracted address goes through here. */
static int
parse_v4(const char *s, size_t len, uint8_t addr[4])
{
    unsigned octets = 0, cur = 0;
    bool saw_digit = false, bad = false;

    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';

        if (d <= 9) {
            if (saw_digit && cur == 0)
                bad = true; /* a leading zero */
            cur = cur * 10 + d;
            if (cur > 255) {
                bad = true;
                cur = 256; /* stays > 255 without overflowing */
            }
            if (!saw_digit) {
                saw_digit = true;
                if (++octets > 4)
                    bad = true;
            }
        } else if (s[i] == '.') {
            if (!saw_digit || octets >= 4)
                bad = true;
            else
                addr[octets - 1] = (uint8_t)cur;
            cur = 0;
            saw_digit = false;
        } else {
            return -1;
        }
    }
    if (bad || octets != 4 || !saw_digit)
        return 0;
    addr[3] = (uint8_t)cur;
    return 1;
}

bool
sn_ip_parse_pton(const char *s, size_t len, struct sn_ip *out)
{
    char buf[SN_RULES_IP_TEXT_MAX];

    memset(out, 0, sizeof(*out));
    /* inet_pton needs a C string; addresses are short, so copy. */
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (memchr(buf, ':', len) != NULL) {
        if (inet_pton(AF_INET6, buf, out->addr) != 1)
            return false;
        out->family = 6;
        sn_ip_normalise(out);
        return true;
    }
    /* inet_pton(AF_INET) accepts only dotted quads (no "010", no
     * shorthand), which is what we want from log text. */
    if (inet_pton(AF_INET, buf, out->addr) != 1)
        return false;
    out->family = 4;
    return true;
}

bool
sn_ip_parse(const char *s, size_t len, struct sn_ip *out)
{
    int v4;

    if (len == 0 || len >= SN_RULES_IP_TEXT_MAX)
        return false;
    memset(out, 0, sizeof(*out));
    v4 = parse_v4(s, len, out->addr);
    if (v4 == 1) {
        out->family = 4;
        return true;
    }
    if (v4 == 0) { /* as inet_pton leaves it: nothing written */
        memset(out, 0, sizeof(*out));
        return false;
    }
    return sn_ip_parse_pton(s, len, out);
}

bool
sn_cidr_parse(const char *s, size_t len, struct sn_cidr *out, bool *host_bits)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    unsigned prefix = 0, max;
    bool mapped;

    *host_bits = false;
    memset(out, 0, sizeof(*out));
    mapped = alen > 7 && memchr(s, ':', alen) != NULL &&
             memchr(s, '.', alen) != NULL;
    if (!sn_ip_parse(s, alen, &out->net))
        return false;
    max = out->net.family == 4 ? 32 : 128;
    if (slash == NULL) {
        out->prefix = (uint8_t)max;
        return true;
    }
    if (slash + 1 == s + len)
        return false;
    for (const char *p = slash + 1; p < s + len; p++) {
        if (*p < '0' || *p > '9' || prefix > 128)
            return false;
        prefix = prefix * 10 + (unsigned)(*p - '0');
    }
    /* A mapped network "::ffff:10.0.0.0/104" was normalised to IPv4: its
     * prefix counts the 96 mapping bits, which are gone now. */
    if (mapped && out->net.family == 4) {
        if (prefix < 96)
            return false;
        prefix -= 96;
    }
    if (prefix > max)
        return false;
    out->prefix = (uint8_t)prefix;
    for (unsigned bit = prefix; bit < max; bit++) {
        uint8_t m = (uint8_t)(0x80u >> (bit % 8));
        if (out->net.addr[bit / 8] & m) {
            *host_bits = true;
            out->net.addr[bit / 8] &= (uint8_t)~m;
        }
    }
    return true;
}

bool
sn_cidr_contains(const struct sn_cidr *c, const struct sn_ip *ip)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;

    if (c->net.family != ip->family)
        return false;
    if (memcmp(c->net.addr, ip->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((c->net.addr[full] ^ ip->addr[full]) &
            (uint8_t)(0xff00u >> rest)) == 0;
}

const char *
sn_ip_format(const struct sn_ip *ip, char *buf, size_t len)
{
    sn_ip_text(ip, buf, len);
    return buf;
}

size_t
sn_ip_text(const struct sn_ip *ip, char *buf, size_t len)
{
    /* IPv4 by hand: every group-by on an address formats it per event,
     * and inet_ntop's sprintf was ~6% of `sentineld test` on sshd logs.
     * Same text as inet_ntop (dotted decimal, no leading zeros). */
    if (ip->family == 4 && len >= 16) {
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = ip->addr[i];
            if (i > 0)
                *p++ = '.';
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
        }
        *p = '\0';
        return (size_t)(p - buf);
    }
    if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf,
                  (socklen_t)len) == NULL)
        buf[0] = '\0';
    return strlen(buf);
}
