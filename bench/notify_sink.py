#!/usr/bin/env python3
"""A fast HTTP sink for bench/bench_notify.sh: asyncio, keep-alive,
answers every POST 200 and remembers (arrival time, key) where key is
the first "bench.key" member of the body. On SIGTERM it writes one
"key arrival_ns" line per request to --out and exits.

    notify_sink.py --port P --out FILE
"""
import argparse
import asyncio
import re
import signal
import time

KEY = re.compile(rb'"bench\.key":"([^"]+)"')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    seen = []

    async def conn(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        n = int(line[15:])
                body = await reader.readexactly(n) if n else b""
                now = time.time_ns()
                m = KEY.search(body)
                seen.append((m.group(1).decode() if m else "-", now))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 2\r\n\r\n{}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        srv = await asyncio.start_server(conn, "127.0.0.1", a.port)
        print("listening", a.port, flush=True)
        await stop.wait()
        srv.close()
        with open(a.out, "w") as f:
            for k, t in seen:
                f.write("%s %d\n" % (k, t))

    asyncio.run(run())


if __name__ == "__main__":
    main()
