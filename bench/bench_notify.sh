#!/bin/sh
# Notification fan-out latency (issue #23): RATE new incidents/s (default
# 1,000 for SECONDS=10) through the real daemon to three out_webhook
# receivers and a Prometheus Alertmanager (Debian prometheus-alertmanager,
# started here on free ports). Each syslog line (TCP, one per incident,
# paced by the sender) carries its send time in its key; a rule opens one
# incident per line (group_by the key), so the latency is from the line's
# sending (before parsing, detection, the store's commit and the relay)
# to the receiver's reading the request: bench/notify_sink.py's arrival
# time for the webhooks, Alertmanager's own updatedAt (ms) for it.
#   bench/bench_notify.sh [RATE [SECONDS]]      (after ./scripts/build.sh)
# BUILD=DIR runs the daemon and plugins of another build (a peer
# checkout's _build), for side-by-side runs with this script.
# Prints p50/p90/p99/max per receiver and all together (the first second
# is warm-up: connections, and left out); the peer in the same run: the
# same incidents through an out_file output into a FIFO, timestamped by
# its reader (the daemon's path without HTTP, so the ratio says what the
# HTTP outputs add on this machine at this moment); each output's
# commit-to-acknowledgement p99 bucket from the daemon's own histogram,
# and the manager's (signal hand-off to batch start and to commit);
# the daemon's CPU per incident, and each thread's (o:<output> a relay,
# i:<input>, w:<n> a worker, incidents the manager, checkpoint the store's
# checkpointer).
# PERF=file records the daemon (perf).
set -e
cd "$(dirname "$0")/.."
src=$PWD
b=${BUILD:-$src/_build}
RATE=${1:-1000}
SECONDS_=${2:-10}
AM=$(command -v prometheus-alertmanager || echo /usr/bin/prometheus-alertmanager)
[ -x "$AM" ] || { echo "prometheus-alertmanager is not installed"; exit 1; }
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
    python3 -c '
import random, socket
while True:
    p = random.randint(20000, 32000)
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
    except OSError:
        continue
    print(p); break'
}
p_sys=$(free_port); p_http=$(free_port); p_am=$(free_port)
p_rx1=$(free_port); p_rx2=$(free_port); p_rx3=$(free_port)
export SENTINELD_PLUGIN_PATH=$b/.plugins

for i in 1 2 3; do
    eval port=\$p_rx$i
    python3 "$src/bench/notify_sink.py" --port "$port" --out "$tmp/rx$i.txt" \
        >"$tmp/rx$i.out" 2>&1 &
    eval rxpid$i=$!
    pids="$pids $!"
done
# The peer: the same incidents through an out_file output into a FIFO,
# timestamped by its reader (the daemon's path without HTTP).
mkfifo "$tmp/peer.fifo"
python3 -c '
import re, sys, time
key = re.compile(r"\"bench\.key\":\"([^\"]+)\"")
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        m = key.search(line)
        out.write("%s %d\n" % (m.group(1) if m else "-", time.time_ns()))
' "$tmp/peer.fifo" "$tmp/peer.txt" &
peerpid=$!
pids="$pids $!"
mkdir -p "$tmp/am" "$tmp/state"
cat >"$tmp/am.yml" <<EOC
route: { receiver: none, group_by: [alertname], group_wait: 1h }
receivers: [ { name: none } ]
EOC
"$AM" --config.file="$tmp/am.yml" --storage.path="$tmp/am" \
    --web.listen-address="127.0.0.1:$p_am" --cluster.listen-address= \
    --log.level=warn >"$tmp/am.log" 2>&1 &
pids="$pids $!"
cat >"$tmp/rules.yaml" <<'EOR'
rules:
  - id: bench-notify
    title: Bench notification
    severity: high
    match: appname == "bench"
    extract:
      - regex: '^notify key=(?<k>\S+)$'
        fields:
          k: bench.key
    group_by: [bench.key]
EOR
hooks=""
for i in 1 2 3; do
    eval port=\$p_rx$i
    hooks="$hooks
  - { name: hook$i, plugin: out_webhook, take: incidents, url: \"http://127.0.0.1:$port/hook\", secret: bench-secret, parallel: ${PARALLEL:-8} }"
done
cat >"$tmp/c.yaml" <<EOC
daemon: { state_dir: $tmp/state, log_level: warn }
http: { listen: "127.0.0.1:$p_http" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$p_sys" ], parser: auto }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $tmp/rules.yaml ] }
outputs:$hooks
  - { name: alertmanager, plugin: out_alertmanager, take: incidents, url: "http://127.0.0.1:$p_am", resend_interval: 10m }
  - { name: peer, plugin: out_file, take: incidents, path: "$tmp/peer.fifo" }
EOC
until curl -sf "http://127.0.0.1:$p_am/-/ready" -o /dev/null; do sleep 0.1; done
for i in 1 2 3; do until grep -q listening "$tmp/rx$i.out"; do sleep 0.05; done; done
$b/sentineld run -c "$tmp/c.yaml" >"$tmp/d.log" 2>&1 &
dpid=$!
pids="$pids $dpid"
until curl -sf "http://127.0.0.1:$p_http/health" -o /dev/null; do sleep 0.1; done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU ticks per thread name (each output's relay thread is "o:<name>",
# where its deliver() runs: parse, HTTP, the receiver's answer).
threads() {
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(cat "$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done 2>/dev/null | awk '{s[$1] += $2} END {for (k in s) print k, s[k]}' | sort
}
hz=$(getconf CLK_TCK)
c0=$(cpu "$dpid")
threads "$dpid" >"$tmp/threads0.txt"
# PERF=file: perf record of the daemon while the lines are sent.
[ -n "$PERF" ] && { perf record -q -g -p "$dpid" -o "$PERF" >/dev/null 2>&1 & pids="$pids $!"; perfpid=$!; }
echo "sending $RATE incidents/s for ${SECONDS_}s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$p_sys" "$RATE" "$SECONDS_" >"$tmp/sent.txt" <<'EOP'
import socket, sys, time
port, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
n = int(rate * secs)
t0 = time.time() + 0.1
for i in range(n):
    due = t0 + i / rate
    d = due - time.time()
    if d > 0:
        time.sleep(d)
    t = time.time_ns()
    s.sendall(b"<134>Dec  7 01:00:00 benchhost bench[1]: notify key=%d-%d\n" % (i, t))
s.close()
print(n)
EOP
n=$(cat "$tmp/sent.txt")
[ -n "$PERF" ] && { kill -INT "$perfpid"; sleep 1; }
# Wait for the outboxes to drain (each receiver has every incident), 30 s at most.
end=$(($(date +%s) + 30))
while [ "$(date +%s)" -lt "$end" ]; do
    curl -s "http://127.0.0.1:$p_http/metrics" >"$tmp/metrics.txt"
    left=$(awk '/^sentineld_outbox_backlog\{/ {s += $2} END {print s + 0}' "$tmp/metrics.txt")
    opened=$(awk '/^sentineld_incidents_opened_total / {print $2}' "$tmp/metrics.txt")
    [ "$left" = 0 ] && [ "${opened:-0}" -ge "$n" ] && break
    sleep 0.5
done
c1=$(cpu "$dpid")
threads "$dpid" >"$tmp/threads1.txt"
sleep 0.5
curl -s "http://127.0.0.1:$p_http/metrics" >"$tmp/metrics.txt"
curl -s "http://127.0.0.1:$p_am/api/v2/alerts?filter=alertname%3D%22bench-notify%22" >"$tmp/alerts.json"
for i in 1 2 3; do eval kill -TERM \$rxpid$i; done
kill -TERM "$dpid"; wait "$dpid" 2>/dev/null || true   # closes the FIFO: the peer's reader ends
wait "$peerpid" 2>/dev/null || true
for i in 1 2 3; do
    while [ ! -s "$tmp/rx$i.txt" ] && kill -0 "$(eval echo \$rxpid$i)" 2>/dev/null; do sleep 0.05; done
done
python3 - "$tmp" "$n" "$RATE" <<'EOP'
import json, sys, datetime
tmp, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
warm = rate  # the first second
def sent(key):
    i, t = key.split("-")
    return int(i), int(t)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]
def show(name, lat, got):
    if not lat:
        print("%-13s nothing received" % name); return
    print("%-13s %6d/%d  p50 %6.1f  p90 %6.1f  p99 %6.1f  max %7.1f ms" % (
        name, got, n, pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat)))
def arrivals(path):
    # "key arrival_ns" lines: the first arrival of each key counts.
    lat, keys = [], set()
    for line in open(path):
        k, t = line.split()
        if k == "-" or k in keys:
            continue
        keys.add(k)
        seq, ts = sent(k)
        if seq >= warm:
            lat.append((int(t) - ts) / 1e6)
    return lat, len(keys)
every = []
for i in (1, 2, 3):
    lat, got = arrivals("%s/rx%d.txt" % (tmp, i))
    show("webhook %d" % i, lat, got)
    every += lat
lat, got = [], 0
for a in json.load(open(tmp + "/alerts.json")):
    k = a["labels"].get("bench_key")
    if not k:
        continue
    got += 1
    seq, ts = sent(k)
    u = a["updatedAt"].replace("Z", "+00:00")
    frac = u[19:u.index("+")] if "." in u else ""
    base = datetime.datetime.fromisoformat(u[:19] + "+00:00").timestamp()
    at = int(base * 1e9) + (int((frac[1:] + "000000000")[:9]) if frac else 0)
    if seq >= warm:
        lat.append((at - ts) / 1e6)
show("alertmanager", lat, got)
every += lat
show("all four", every, n)
lat, got = arrivals(tmp + "/peer.txt")
show("peer: file", lat, got)
EOP
awk '/^sentineld_outbox_ack_latency_milliseconds_bucket/ {
        match($0, /instance="[^"]*"/); inst = substr($0, RSTART + 10, RLENGTH - 11)
        match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
        n[inst]++; les[inst, n[inst]] = le; cnt[inst, n[inst]] = $2 }
     END { for (i in n) { tot = cnt[i, n[i]]; for (k = 1; k <= n[i]; k++)
             if (cnt[i, k] >= 0.99 * tot) { printf "daemon commit->ack p99 <= %s ms  (%s, %d versions)\n", les[i, k], i, tot; break } } }' \
    "$tmp/metrics.txt" | sort
# The manager's stages (a daemon without the histogram prints nothing):
# hand-off to the manager -> its batch's start (queued) and -> commit (stored).
awk '/^sentineld_incident_signal_latency_milliseconds_bucket/ {
        match($0, /stage="[^"]*"/); st = substr($0, RSTART + 7, RLENGTH - 8)
        match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
        n[st]++; les[st, n[st]] = le; cnt[st, n[st]] = $2 }
     END { for (s in n) { tot = cnt[s, n[s]]; for (k = 1; k <= n[s]; k++)
             if (cnt[s, k] >= 0.99 * tot) { printf "daemon signal->%s p99 <= %s ms (%d signals)\n", s, les[s, k], tot; break } } }' \
    "$tmp/metrics.txt" | sort
# The load-independent figure: the daemon's CPU per incident (ingest,
# detection, store, four deliveries); above 1 core at RATE it cannot keep up.
echo "$c0 $c1 $hz $n" | awk '{ s = ($2 - $1) / $3; printf "daemon CPU: %.2f s for %d incidents to 4 outputs (%.3f ms per incident; %.0f%% of one core at the offered rate)\n", s, $4, 1000 * s / $4, 100 * s / ($4 / '"$RATE"') }'
# Each thread that used 10 ms or more (a daemon that does not name its
# threads shows them all as sentineld).
join "$tmp/threads0.txt" "$tmp/threads1.txt" | awk -v hz="$hz" -v n="$n" '
    ($3 - $2) / hz >= 0.01 { printf "thread %-14s %6.2f s CPU, %6.1f us per incident\n", $1, ($3 - $2) / hz, 1e6 * ($3 - $2) / hz / n }'
grep -iE ' error' "$tmp/d.log" | head -5 || true
