#!/usr/bin/env python3
"""A hostile WebSocket client for the #14 tests (stdlib only).

usage: ws_ping_flood.py PORT TOKEN SECONDS
Upgrades to /api/v1/ws, then sends 125-byte pings as fast as it can for
up to SECONDS without ever reading (its receive buffer is kept small, so
the daemon's pongs pile up on the daemon's side). Prints
'disconnected after N pings' when the daemon cuts it off, or
'still connected after N pings' when SECONDS pass.
"""
import base64, os, socket, sys, time


def frame(opcode, payload):
    mask = os.urandom(4)
    return (bytes([0x80 | opcode, 0x80 | len(payload)]) + mask +
            bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def main():
    port, token, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /api/v1/ws?access_token=%s HTTP/1.1\r\n"
               "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            print("no handshake", flush=True)
            return
        head += c
    if b" 101 " not in head.split(b"\r\n")[0]:
        print("refused: " + head.split(b"\r\n")[0].decode(), flush=True)
        return
    ping = frame(0x9, b"p" * 125) * 64
    n, t0 = 0, time.time()
    s.settimeout(1)
    while time.time() - t0 < secs:
        try:
            s.sendall(ping)
            n += 64
        except socket.timeout:
            continue
        except OSError:
            print("disconnected after %d pings" % n, flush=True)
            return
    print("still connected after %d pings" % n, flush=True)


main()
