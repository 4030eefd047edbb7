/*
 * WebSocket protocol pieces (RFC 6455) used by the live feed: the
 * handshake's accept key, server frame headers and client frame parsing.
 * Our own small layer over evhttp's connection rather than libwebsockets:
 * the feed only sends text frames and answers ping/close, and
 * libwebsockets would run its own listener and event loop beside evhttp
 * (docs/api.md, "Why not libwebsockets"). Pure functions; no I/O.
 */
#ifndef SN_HTTP_WS_H
#define SN_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SN_WS_TEXT = 0x1,
    SN_WS_BINARY = 0x2,
    SN_WS_CLOSE = 0x8,
    SN_WS_PING = 0x9,
    SN_WS_PONG = 0xA,
};

/* Largest client frame accepted: clients only send control frames. */
#define SN_WS_IN_MAX 4096

/* base64(SHA-1(key + GUID)) (RFC 6455 4.2.2); out needs 29 bytes. */
void sn_ws_accept_key(const char *key, char out[29]);

/* A server frame header (FIN set, unmasked) for len payload bytes;
 * returns its size (2, 4 or 10). */
size_t sn_ws_frame_header(uint8_t out[10], int opcode, uint64_t len);

struct sn_ws_frame {
    int opcode;
    bool fin;
    size_t header_len; /* bytes before the payload */
    size_t len;        /* payload bytes */
};

/*
 * Parse the frame at the start of p[0..n). Returns 1 when a whole frame
 * is there (payload unmasked in place), 0 when more bytes are needed,
 * -1 on a protocol error (unmasked client frame, reserved bits, payload
 * over SN_WS_IN_MAX): the caller closes with 1002 or 1009.
 */
int sn_ws_parse(uint8_t *p, size_t n, struct sn_ws_frame *f);

#endif
