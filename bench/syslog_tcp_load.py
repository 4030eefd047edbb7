#!/usr/bin/env python3
"""Syslog TCP load generator: N messages of a realistic sshd / sudo / cron /
kernel mix, RFC 5424 or RFC 3164, LF or octet-counted framing (RFC 6587),
over one or more connections. Messages carry "seq=N" so a receiver can
check completeness. Prints what it sent and the send rate; end-to-end
rates (until the receiver has written everything) are measured by
bench_vs_rsyslog.sh.

    bench/syslog_tcp_load.py --port 5514 --count 1000000 --framing octet
"""
import argparse
import random
import socket
import sys
import threading
import time

HOSTS = ['web1', 'web2', 'db1', 'bastion', 'cache3']
IPS = ['203.0.113.%d' % i for i in range(1, 60)] + ['198.51.100.23', '192.0.2.44']
USERS = ['root', 'admin', 'deploy', 'alice', 'bob', 'oracle', 'test', 'ubuntu']


def body(rnd, i):
    """(app, procid, text) for message i; the mix is weighted like a
    busy bastion host: mostly sshd, some sudo and cron, a few kernel."""
    k = rnd.random()
    ip = rnd.choice(IPS)
    user = rnd.choice(USERS)
    if k < 0.45:
        return 'sshd', str(rnd.randrange(1000, 60000)), (
            'Failed password for invalid user %s from %s port %d ssh2 seq=%d'
            % (user, ip, rnd.randrange(1024, 65535), i))
    if k < 0.60:
        return 'sshd', str(rnd.randrange(1000, 60000)), (
            'Accepted publickey for %s from %s port %d ssh2: ED25519 '
            'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s seq=%d'
            % (user, ip, rnd.randrange(1024, 65535), i))
    if k < 0.75:
        return 'sudo', '-', (
            '%s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; '
            'COMMAND=/usr/bin/systemctl restart nginx seq=%d'
            % (user, rnd.randrange(0, 9), user, i))
    if k < 0.90:
        return 'CRON', str(rnd.randrange(1000, 60000)), (
            '(root) CMD (   cd / && run-parts --report /etc/cron.hourly) '
            'seq=%d' % i)
    return 'kernel', '-', (
        '[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 '
        'SRC=%s DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=%d DF '
        'PROTO=TCP SPT=%d DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 seq=%d'
        % (ip, rnd.randrange(65536), rnd.randrange(1024, 65535), i))


def make(count, fmt, framing, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        app, pid, text = body(rnd, i)
        host = HOSTS[i % len(HOSTS)]
        pri = 38 if app in ('sshd', 'sudo') else 78 if app == 'CRON' else 4
        if fmt == '5424':
            msg = '<%d>1 2024-05-01T10:%02d:%02d.%06dZ %s %s %s - - %s' % (
                pri, (i // 60000) % 60, (i // 1000) % 60, i % 1000000, host,
                app, pid, text)
        else:
            tag = app if pid == '-' else '%s[%s]' % (app, pid)
            msg = '<%d>May  1 10:%02d:%02d %s %s: %s' % (
                pri, (i // 60000) % 60, (i // 1000) % 60, host, tag, text)
        m = msg.encode()
        out.append(b'%d %s' % (len(m), m) if framing == 'octet' else m + b'\n')
    return out


def send(host, port, frames, chunk):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    for i in range(0, len(frames), chunk):
        s.sendall(b''.join(frames[i:i + chunk]))
    s.shutdown(socket.SHUT_WR)
    s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=5514)
    ap.add_argument('--count', type=int, default=100000)
    ap.add_argument('--framing', choices=['lf', 'octet'], default='octet')
    ap.add_argument('--format', choices=['5424', '3164'], default='5424')
    ap.add_argument('--connections', type=int, default=1)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    per = a.count // a.connections
    sets = [make(per + (a.count % a.connections if c == 0 else 0), a.format,
                 a.framing, a.seed + c) for c in range(a.connections)]
    nbytes = sum(len(f) for s in sets for f in s)
    t0 = time.monotonic()
    th = [threading.Thread(target=send, args=(a.host, a.port, s, 2000))
          for s in sets]
    for t in th:
        t.start()
    for t in th:
        t.join()
    dt = time.monotonic() - t0
    print('sent %d messages (%.1f MB) in %.2fs: %.0f msgs/s' %
          (a.count, nbytes / 1e6, dt, a.count / dt), file=sys.stderr)


if __name__ == '__main__':
    main()
