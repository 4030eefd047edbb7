#!/bin/sh
# Live feed under load, the issue's scenario: a fixed offered rate of
# syslog (default 50,000 msgs/s for 20 s, bench/loadgen -r: a bastion mix
# whose sshd failures from ~1,000 addresses open and update ssh-brute-force
# and ssh-password-spray incidents through the shipped rules), once with
# no live feed clients and once with N (default 200, half SSE, half
# WebSocket, all in one bench/feed_clients process pinned to the last CPU).
#
# Per run it prints what the pipeline delivered per second (out_null's
# sentineld_output_events_total over the sending window), the daemon's own
# CPU (utime+stime from /proc/PID/stat, so the clients' CPU on the same
# machine is not counted) per million messages, the signals and incident
# versions produced, and for the clients: how many saw every change up to
# the feed's last position, how many were told of a drop or gap, and any
# hole they were not told of. Then the ratios.
#
# A drop's warning says which side was slow (the client's socket full:
# the clients did not read; room: the daemon did not write), and the
# run-queue wait of the clients and of the control thread says whether
# the machine starved either: both are printed per run with clients.
#
# usage: [UPDATE_INTERVAL=1m] bench/live_feed_load.sh [clients [rate [seconds [repeat]]]]
# repeat (default 1) alternates the two runs that many times and reports
# the median of each: on a shared machine other load moves single runs.
# PERF=file records the daemon (perf record -g) during the last run with
# clients. BURST=N first commits N incident changes in one transaction
# (tests/tools/seed_incident) once the clients are connected: the opening
# burst every client must take at once. (From the source tree, after
# ./scripts/build.sh and `make -C _build tests/tools/seed_incident`.)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$root/_build}  # BUILD=/path: the daemon from another build (ASan)
T=$root/_build            # the load tools always from the plain build
N=${1:-200}
RATE=${2:-50000}
SECS=${3:-20}
REPEAT=${4:-1}
MSGS=$((RATE * SECS))
NCPU=$(nproc)
LAST=$((NCPU - 1))
export SENTINELD_PLUGIN_PATH=$B/.plugins
tmp=$(mktemp -d)
dpid= cpid=
# (|| true: under set -e a kill with nothing left to kill ended the trap,
# and the script, with status 2 before the temp dir was removed.)
trap 'kill $dpid $cpid 2>/dev/null || true; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { # name{labels} -> value
    curl -s "http://127.0.0.1:$hp/metrics" | awk -v k="$1" \
        'index($0, k" ") == 1 { print $2; f=1 } END { if (!f) print 0 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$dpid/stat"; }
# The control thread (tid = pid) runs HTTP and the live feed; the workers,
# inputs, outputs and the incident manager are the other threads.
ctl_ticks() { awk '{ print $14 + $15 }' "/proc/$dpid/task/$dpid/stat"; }
hz=$(getconf CLK_TCK)
# Seconds a task spent runnable but waiting for a CPU (schedstat's second
# field, ns): how much the machine's other load starved it.
waited() { awk '{ printf "%.2f", $2 / 1e9 }' "$1" 2>/dev/null || echo 0; }

run() {
    clients=$1
    hp=$(port); sp=$(port)
    rm -rf "$tmp/state"; mkdir -p "$tmp/state"
    cat >"$tmp/c.yaml" <<EOC
daemon: { state_dir: $tmp/state, log_level: warn }
http: { listen: "127.0.0.1:$hp", rate_limit: 100000, feed_clients_per_token: 1024 }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [$root/conf/rules] }
outputs:
  - { name: o, plugin: out_null }
# UPDATE_INTERVAL (default 0: every version delivered, the feed's worst
# case; the daemon's default 1m batches hit-only updates and a 20 s run
# then feeds the clients next to nothing).
incidents: { update_interval: ${UPDATE_INTERVAL:-0} }
EOC
    # All the clients share one token (200 consoles of one user): lift
    # the per-token feed cap (default 16) that would refuse the rest.
    tok=$("$B/sentineld" token create --name bench --role viewer -c "$tmp/c.yaml" 2>/dev/null)
    "$B/sentineld" run -c "$tmp/c.yaml" 2>"$tmp/log" &
    dpid=$!
    until curl -sf "http://127.0.0.1:$hp/health" >/dev/null 2>&1; do sleep 0.05; done
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $sp)).close()" 2>/dev/null; do
        sleep 0.05
    done
    # The store's first row, so every client starts from a position.
    "$B/tests/tools/seed_incident" "$tmp/state/sentineld.db" warmup 1 warmup >/dev/null
    rm -f "$tmp/ready"
    if [ "$clients" -gt 0 ]; then
        taskset -c "$LAST" "$T/bench/feed_clients" -p "$hp" -t "$tok" \
            -n "$clients" -w 50 -r "$tmp/ready" >"$tmp/clients.out" &
        cpid=$!
        i=0
        until [ -e "$tmp/ready" ]; do
            sleep 0.05; i=$((i + 1))
            [ $i -lt 400 ] || { echo "clients not ready" >&2; exit 1; }
        done
    fi
    if [ -n "${BURST:-}" ]; then
        "$B/tests/tools/seed_incident" "$tmp/state/sentineld.db" burst 2 \
            "opening burst" 192.0.2.1 "$BURST" >/dev/null
    fi
    e0=$(metric 'sentineld_output_events_total{instance="o"}')
    s0=$(metric sentineld_signals_received_total)
    v0=$(metric sentineld_incident_versions_total)
    ppid=
    if [ -n "${PERF:-}" ] && [ "$clients" -gt 0 ]; then
        perf record -g -o "$PERF" -p "$dpid" 2>/dev/null >/dev/null &
        ppid=$!
    fi
    c0=$(cpu_ticks); k0=$(ctl_ticks)
    kw0=$(waited "/proc/$dpid/task/$dpid/schedstat")
    t0=$(date +%s.%N)
    "$T/bench/loadgen" -p "$sp" -n "$MSGS" -c 2 -r "$RATE" -w 16384 \
        2>"$tmp/loadgen.out"
    cat "$tmp/loadgen.out" >&2
    t1=$(date +%s.%N)
    e1=$(metric 'sentineld_output_events_total{instance="o"}')
    c1=$(cpu_ticks)
    # Let the pipeline finish what it holds (delivered counts what came
    # out inside the sending window; the CPU covers all of it).
    i=0
    while [ "$(metric 'sentineld_output_events_total{instance="o"}')" -lt \
            $((e0 + MSGS)) ] && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i + 1))
    done
    c2=$(cpu_ticks)
    [ -z "$ppid" ] || { kill -INT $ppid; wait $ppid || true; }
    s1=$(metric sentineld_signals_received_total)
    v1=$(metric sentineld_incident_versions_total)
    # Then the feed: it polls the store every 100 ms.
    sleep 2
    c3=$(cpu_ticks); k3=$(ctl_ticks)
    kw=$(python3 -c "print('%.2f' % ($(waited "/proc/$dpid/task/$dpid/schedstat") - $kw0))")
    res="no clients"
    if [ "$clients" -gt 0 ]; then
        last=$(curl -sN -m 1 -H "Authorization: Bearer $tok" \
            "http://127.0.0.1:$hp/api/v1/stream" 2>/dev/null |
            sed -n 's/^data: {"seq":\([0-9]*\)}.*/\1/p' | head -1)
        ccpu=$(awk -v hz="$hz" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$cpid/stat")
        cw=$(waited "/proc/$cpid/schedstat")
        kill -TERM $cpid; wait $cpid || true; cpid=
        res="feed last seq $last; $(cat "$tmp/clients.out"); clients' CPU ${ccpu}s"
        # Who was slow: the daemon's drop warning says whether the
        # client's socket was full (the clients did not read) or had room
        # (the daemon did not write); and how long each side waited for a
        # CPU (the clients since they started, the control thread over
        # the run).
        np=$(grep -c 'the peer is not reading' "$tmp/log" || true)
        nd=$(grep -c 'the daemon fell behind' "$tmp/log" || true)
        res="$res
    slow side: $np drops with the client's socket full (the clients did not read), $nd with room (the daemon did not write); waited for a CPU: clients ${cw}s, daemon control thread ${kw}s"
    fi
    dropped=$(metric sentineld_http_stream_dropped_total)
    kill $dpid; wait $dpid 2>/dev/null || true; dpid=
    grep -A30 'Sanitizer' "$tmp/log" >&2 || true
    # The sending window, from loadgen (t0..t1 also holds its build).
    sdt=$(sed -n 's/^sent .* in \([0-9.]*\)s:.*/\1/p' "$tmp/loadgen.out")
    python3 - "$MSGS" "$e0" "$e1" "$t0" "$t1" "$c0" "$c1" "$c2" "$hz" \
        "$s0" "$s1" "$v0" "$v1" "$sdt" "$c3" "$k0" "$k3" <<'EOP' >"$tmp/run.$clients.$rep"
import sys
m, e0, e1, t0, t1, c0, c1, c2, hz, s0, s1, v0, v1, dt, c3, k0, k3 = map(float, sys.argv[1:])
ctl = (k3 - k0) / hz
# CPU per 1M msgs: whole daemon until drained; the pipeline's threads
# alone (all but the control thread, to the end of the feed's settling);
# and the control thread's seconds (HTTP, live feed).
print("%.0f %.1f %.3f %.0f %.0f %.2f %.1f %.2f" % ((e1 - e0) / dt, (c2 - c0) / hz / m * 1e6,
      (c1 - c0) / hz / dt, s1 - s0, v1 - v0, dt, ((c3 - c0) / hz - ctl) / m * 1e6, ctl))
EOP
    read -r rate cpu_m cores sig ver dt pipe_m ctl <"$tmp/run.$clients.$rep"
    echo "clients=$clients: delivered $rate msgs/s over ${dt}s;" \
        "daemon CPU $cpu_m s per 1M msgs ($cores cores busy; pipeline threads" \
        "$pipe_m s per 1M msgs, control thread ${ctl}s);" \
        "signals $sig, incident versions $ver; $(grep -o 'latest chunk.*' "$tmp/loadgen.out")"
    echo "    $res; server-side drops=$dropped"
}
echo "offered: $RATE msgs/s for ${SECS}s ($MSGS messages), $NCPU CPUs; clients on CPU $LAST${BURST:+; opening burst of $BURST changes}"
rep=1
while [ $rep -le "$REPEAT" ]; do
    run 0
    run "$N"
    rep=$((rep + 1))
done
python3 - "$tmp" "$N" "$REPEAT" <<'EOP'
import statistics, sys
tmp, n, rep = sys.argv[1], sys.argv[2], int(sys.argv[3])
def col(clients, i):
    return statistics.median(float(open("%s/run.%s.%d" % (tmp, clients, r)).read().split()[i])
                             for r in range(1, rep + 1))
def one(clients, r):
    return [float(x) for x in open("%s/run.%s.%d" % (tmp, clients, r)).read().split()]
# Each pair ran back to back: its ratio is the least exposed to a change
# in the machine's other load.
for r in range(1, rep + 1):
    a, b = one(0, r), one(n, r)
    print("pair %d: throughput ratio %.3f, daemon CPU per message ratio %.3f, "
          "control thread %.2f us per change per client" % (r, b[0] / a[0], b[1] / a[1],
          b[7] * 1e6 / max(1.0, b[4] * float(n))))
print("median of %d: delivered msgs/s %.0f (0 clients) vs %.0f (%s clients)" % (rep, col(0, 0), col(n, 0), n))
print("throughput ratio (with/without clients): %.3f" % (col(n, 0) / col(0, 0)))
print("daemon CPU s per 1M msgs: %.2f vs %.2f; ratio (with/without): %.3f" % (col(0, 1), col(n, 1), col(n, 1) / col(0, 1)))
print("pipeline threads' CPU s per 1M msgs: %.2f vs %.2f; control thread (HTTP, feed) s: %.2f vs %.2f"
      % (col(0, 6), col(n, 6), col(0, 7), col(n, 7)))
EOP
