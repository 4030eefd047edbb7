#!/usr/bin/env python3
"""A notification receiver for tests: an HTTP (or, with --cert/--key,
HTTPS) server on 127.0.0.1 that answers every POST with --status (200)
and appends one JSON line per request to --out: {"path", "headers",
"body" (text), "time"}. Used by tests/integration/notify_*.sh as the
webhook receiver and as Alertmanager's webhook_configs target.

    notify_receiver.py --port P --out FILE [--cert C --key K] [--status N]
"""
import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args()
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            rec = {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "time": time.time(),
            }
            with lock, open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
            answer = b'{"ok":true}' if a.status < 300 else b'{"error":"test"}'
            self.send_response(a.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, fmt, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", a.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
