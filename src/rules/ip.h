/*
 * IPv4/IPv6 addresses and CIDR prefixes parsed from byte slices (event
 * fields are not NUL-terminated) for the rules engine's ip literals,
 * `cidr` and typed extraction. IPv4-mapped IPv6 (::ffff:a.b.c.d) is
 * normalised to IPv4 so a v4 network matches both spellings.
 */
#ifndef SN_RULES_IP_H
#define SN_RULES_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sn_ip {
    uint8_t family;   /* 4 or 6 */
    uint8_t addr[16]; /* network order; 4 bytes used for IPv4 */
};

struct sn_cidr {
    struct sn_ip net; /* host bits cleared */
    uint8_t prefix;   /* 0..32 or 0..128 */
};

/* Parse a textual address (no brackets, no zone id). Returns false on any
 * other text. */
bool sn_ip_parse(const char *s, size_t len, struct sn_ip *out);
/* The same through inet_pton only: the reference the hand-written
 * dotted-quad path of sn_ip_parse must agree with (tests). */
bool sn_ip_parse_pton(const char *s, size_t len, struct sn_ip *out);
/* Parse "addr/prefix" or a bare address (full-length prefix). Host bits
 * set below the prefix are an error (*host_bits set) so "10.0.0.1/8" is
 * caught at load time instead of silently meaning 10.0.0.0/8. */
bool sn_cidr_parse(const char *s, size_t len, struct sn_cidr *out,
                   bool *host_bits);
/* True when ip lies inside c (mapped IPv6 was normalised by the parser). */
bool sn_cidr_contains(const struct sn_cidr *c, const struct sn_ip *ip);
/* Normalise an IPv4-mapped IPv6 address in place to IPv4. */
void sn_ip_normalise(struct sn_ip *ip);
/* Canonical text (inet_ntop); buf must hold 46 bytes. Returns buf. */
const char *sn_ip_format(const struct sn_ip *ip, char *buf, size_t len);
/* The same, returning the text's length (no strlen for the caller). */
size_t sn_ip_text(const struct sn_ip *ip, char *buf, size_t len);

#endif
