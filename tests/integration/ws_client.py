#!/usr/bin/env python3
"""A minimal RFC 6455 client for the live-feed tests (stdlib only).

usage: ws_client.py PORT TOKEN [last_event_id] [--count N] [--ping]
       [--origin URL] [--no-read SECONDS]
Prints the handshake status line, then one line per text frame received
(until N frames or 5 s of silence), and 'close CODE REASON' on a close.
--no-read: connect, then stop reading for SECONDS (a slow client).
--read-after FILE: connect, then read nothing until FILE exists (at most
30 s): a slow client for exactly as long as the test wants.
--slow BPS: a slow link: a 16 KiB receive buffer and at most BPS bytes a
second read, until killed (no silence limit).
"""
import base64, hashlib, os, socket, struct, sys, time


def frame(opcode, payload=b""):
    mask = os.urandom(4)
    hdr = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        hdr += bytes([0x80 | n])
    else:
        hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


RATE = 0  # --slow: bytes per second read at most


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(min(n - len(b), 4096) if RATE else n - len(b))
        if not c:
            raise EOFError
        b += c
        if RATE:
            time.sleep(len(c) / RATE)
    return b


def main():
    a = sys.argv[1:]
    port, token = int(a[0]), a[1]
    last = a[2] if len(a) > 2 and not a[2].startswith("--") else None
    count = int(a[a.index("--count") + 1]) if "--count" in a else 1 << 30
    origin = a[a.index("--origin") + 1] if "--origin" in a else None
    noread = float(a[a.index("--no-read") + 1]) if "--no-read" in a else 0
    gofile = a[a.index("--read-after") + 1] if "--read-after" in a else None
    global RATE
    RATE = float(a[a.index("--slow") + 1]) if "--slow" in a else 0
    s = socket.socket()
    if RATE:
        # Before connecting, so the window the peer sees stays small.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    q = "?access_token=" + token + ("&last_event_id=" + last if last else "")
    req = ("GET /api/v1/ws%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (q, port, key))
    if origin:
        req += "Origin: %s\r\n" % origin
    s.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    lines = head.decode().split("\r\n")
    print(lines[0], flush=True)
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    if " 101 " in lines[0]:
        acc = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("sec-websocket-accept:")]
        print("accept-ok" if acc == [want] else "accept-BAD", flush=True)
    else:
        return
    if noread:
        time.sleep(noread)
    if gofile:

        t0 = time.time()
        while not os.path.exists(gofile) and time.time() - t0 < 30:
            time.sleep(0.05)
    if "--ping" in a:
        s.sendall(frame(0x9, b"hi"))
    got = 0
    s.settimeout(None if RATE else 5)
    try:
        while got < count:
            h = read_exact(s, 2)
            op, n = h[0] & 0x0F, h[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", read_exact(s, 2))[0]
            elif n == 127:
                n = struct.unpack("!Q", read_exact(s, 8))[0]
            p = read_exact(s, n)
            if op == 0x1:
                print(p.decode(), flush=True)
                got += 1
            elif op == 0xA:
                print("pong " + p.decode(), flush=True)
            elif op == 0x8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0
                print("close %d %s" % (code, p[2:].decode()), flush=True)
                return
        while "--ping" in a:
            h = read_exact(s, 2)
            p = read_exact(s, h[1] & 0x7F)
            if h[0] & 0x0F == 0xA:
                print("pong " + p.decode(), flush=True)
                break
    except (socket.timeout, EOFError):
        pass
    s.sendall(frame(0x8, struct.pack("!H", 1000)))


main()
