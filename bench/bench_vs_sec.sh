#!/bin/sh
# SEC (Debian `sec`, the Simple Event Correlator) and sentineld's
# correlation engine on the same generated RFC 3164 file with the same
# threshold rule: 5 sshd password failures from one address within 60 s.
# SEC runs a SingleWithThreshold rule over the file (--notail); sentineld
# runs `sentineld test --quiet --json -r RULE --format rfc3164 FILE` (one
# thread: read, parse, match, extract, correlate, render signals: what
# det_rules does per event, plus the parser), printing only the signals. Prints events/s for each, the ratio, and
# the signals each found. Prints wall and CPU (user + system) seconds
# of each, events/s by both and the ratios; on a busy machine compare the
# CPU figures. The engine alone (no file, no parsing) is measured by
# _build/bench/bench_correlate and _build/bench/bench_rules.
#
#   bench/bench_vs_sec.sh [LINES] [FAIL_PERCENT] [ADDRESSES]
#
# Defaults: 1,000,000 lines, 55% sshd failures from 5,000 source
# addresses, skewed as attacks are (address = 5000 * u^3 for uniform u:
# the busiest 1% of addresses send about a fifth of the failures, the
# tail a handful each); the rest is ordinary noise (cron, systemd,
# kernel, nginx); 1,000 lines per second of event time. The rule fires
# once per window and key in both (sentineld's refire: per_window, SEC's
# SingleWithThreshold), and sentineld prints every signal it raises
# (firing and the window's update) as JSON. Run from the build directory.
# Environment: SENTINELD (default ./sentineld), SEC (default: from PATH),
# KEEP_TMP (keep the temp dir), BASELINE (another sentineld binary, e.g.
# a build of main: run on the same file after this one, its row and
# its output compared byte for byte with this one's).
#
# Note: SEC's windows are wall-clock, not event time, so its signal count
# depends on how fast it reads; the two counts agree only when SEC gets
# through each 60 s of the file's time in under 60 s of its own.
set -e
LINES=${1:-1000000}
FAIL_PCT=${2:-55}
ADDRS=${3:-5000}
SENTINELD=${SENTINELD:-./sentineld}
SEC=${SEC:-$(command -v sec || true)}
[ -x "$SENTINELD" ] || { echo "no $SENTINELD (run from _build)" >&2; exit 1; }
[ -n "$SEC" ] || { echo "sec is not installed (apt-get install sec)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-sec.XXXXXX")
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$TMP"' EXIT

python3 - "$LINES" "$FAIL_PCT" "$ADDRS" >"$TMP/in.log" <<'PY'
import random, sys, time
n, pct, addrs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
t0 = 1700000000
noise = [
    "CRON[{p}]: (root) CMD (run-parts /etc/cron.hourly)",
    "systemd[1]: Started Session {p} of user alice.",
    "kernel: [{p}.123456] eth0: link up, 1000Mbps, full-duplex",
    "nginx[{p}]: 192.0.2.10 - - \"GET /index.html HTTP/1.1\" 200 612",
    "postfix/smtpd[{p}]: connect from mail.example.org[198.51.100.3]",
    "sshd[{p}]: Accepted publickey for deploy from 192.0.2.44 port 50022 ssh2",
]
out = sys.stdout
for i in range(n):
    ts = time.strftime("%b %d %H:%M:%S", time.gmtime(t0 + i // 1000))
    p = 1000 + i % 30000
    if rnd.randrange(100) < pct:
        a = min(addrs - 1, int(addrs * rnd.random() ** 3))
        ip = "203.0.%d.%d" % (a // 256, a % 256)
        msg = "sshd[%d]: Failed password for root from %s port %d ssh2" % (p, ip, 30000 + i % 30000)
    else:
        msg = noise[i % len(noise)].format(p=p)
    out.write("<38>%s web%d %s\n" % (ts, i % 7, msg))
PY

cat >"$TMP/rule.sec" <<'EOS'
type=SingleWithThreshold
ptype=RegExp
pattern=sshd\[\d+\]: Failed password for .* from (\S+) port \d+ ssh2$
desc=ssh brute force from $1
action=write - SIGNAL $1
window=60
thresh=5
EOS

cat >"$TMP/rule.yaml" <<'EOR'
rules:
  - id: ssh-brute
    title: SSH brute force
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password"
    extract:
      - regex: 'from (?<ip>\S+) port \d+ ssh2$'
        fields: { ip: source.ip:ip }
    group_by: [source.ip]
    window: 60s
    threshold: {count: 5}
EOR

# Run a command with stdout to a file; print "wall user sys" seconds of
# it (getrusage of the child), so CPU time is reported next to wall time:
# on a shared machine wall time mostly measures the neighbours.
timed() {
    out=$1
    shift
    python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if rc != 0:
    sys.exit("%s exited %d" % (sys.argv[2], rc))
print("%.3f %.3f %.3f" % (wall, ru.ru_utime, ru.ru_stime))
PY
}

set -- $(timed "$TMP/sec.out" "$SEC" --conf="$TMP/rule.sec" --input="$TMP/in.log" \
    --notail --nointcontexts --log=/dev/null)
sec_wall=$1 sec_cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { print u + s }')
sec_sig=$(grep -c '^SIGNAL' "$TMP/sec.out" || true)

set -- $(timed "$TMP/sn.out" "$SENTINELD" test --quiet --json -r "$TMP/rule.yaml" \
    --format rfc3164 "$TMP/in.log")
sn_wall=$1 sn_cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { print u + s }')
sn_sig=$(grep -c '"state":"firing"' "$TMP/sn.out" || true)
sn_upd=$(grep -c '"state":"update"' "$TMP/sn.out" || true)

base_wall= base_cpu=
if [ -n "${BASELINE:-}" ]; then
    set -- $(timed "$TMP/base.out" "$BASELINE" test --quiet --json -r "$TMP/rule.yaml" \
        --format rfc3164 "$TMP/in.log")
    base_wall=$1 base_cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { print u + s }')
    if cmp -s "$TMP/sn.out" "$TMP/base.out"; then same=identical; else same=DIFFERENT; fi
fi

awk -v n="$LINES" -v aw="$sec_wall" -v ac="$sec_cpu" -v bw="$sn_wall" \
    -v bc="$sn_cpu" -v sa="$sec_sig" -v sb="$sn_sig" \
    -v pct="$FAIL_PCT" -v addrs="$ADDRS" -v su="$sn_upd" 'BEGIN {
    printf "input: %d lines (%s%% sshd failures over %s addresses), rule: 5 failures from one address in 60 s; both read the same file\n", n, pct, addrs;
    printf "%-15s %8s %8s %14s %14s %9s\n", "", "wall s", "CPU s", "events/s wall", "events/s CPU", "signals";
    printf "%-15s %8.2f %8.2f %14.0f %14.0f %9d\n", "sec", aw, ac, n / aw, n / ac, sa;
    printf "%-15s %8.2f %8.2f %14.0f %14.0f %9d\n", "sentineld test", bw, bc, n / bw, n / bc, sb;
    printf "sentineld also printed %d update signals (matches absorbed by fired windows)\n", su;
    printf "ratio sentineld/sec: %.1fx wall, %.1fx CPU\n", aw / bw, ac / bc;
}'
if [ -n "$base_wall" ]; then
    awk -v n="$LINES" -v aw="$sec_wall" -v ac="$sec_cpu" -v bw="$base_wall" \
        -v bc="$base_cpu" -v tw="$sn_wall" -v tc="$sn_cpu" -v same="$same" 'BEGIN {
        printf "%-15s %8.2f %8.2f %14.0f %14.0f\n", "baseline test", bw, bc, n / bw, n / bc;
        printf "ratio baseline/sec: %.1fx wall, %.1fx CPU; this build vs baseline: %.2fx wall, %.2fx CPU; signals %s\n", aw / bw, ac / bc, bw / tw, bc / tc, same;
    }'
fi
