/* WebSocket framing and handshake; see ws.h. */
#include "http/ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

void
sn_ws_accept_key(const char *key, char out[29])
{
    /* RFC 6455 1.3: the GUID every server appends. */
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[128 + sizeof(guid)];
    size_t kl = strlen(key);

    if (kl > 128)
        kl = 128;
    memcpy(buf, key, kl);
    memcpy(buf + kl, guid, sizeof(guid) - 1);
    SHA1((const unsigned char *)buf, kl + sizeof(guid) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

size_t
sn_ws_frame_header(uint8_t out[10], int opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int
sn_ws_parse(uint8_t *p, size_t n, struct sn_ws_frame *f)
{
    size_t hl = 2;
    uint64_t len;
    uint8_t *mask;

    if (n < 2)
        return 0;
    /* RFC 6455 5.2: no extension negotiated, so RSV bits must be 0; 5.1:
     * a client frame must be masked. */
    if ((p[0] & 0x70) != 0 || (p[1] & 0x80) == 0)
        return -1;
    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0x0f;
    len = p[1] & 0x7f;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        hl = 10;
    }
    if (len > SN_WS_IN_MAX)
        return -1;
    /* RFC 6455 5.5: control frames are short and never fragmented. */
    if ((f->opcode & 0x8) && (len > 125 || !f->fin))
        return -1;
    if (n < hl + 4 + len)
        return 0;
    mask = p + hl;
    for (size_t i = 0; i < len; i++)
        p[hl + 4 + i] ^= mask[i & 3];
    f->header_len = hl + 4;
    f->len = (size_t)len;
    return 1;
}
