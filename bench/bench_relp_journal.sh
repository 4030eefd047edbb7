#!/bin/sh
# The journal's cost (docs/journal.md), one run, same machine:
#  1. RELP: the same N (default 20,000) lines from one rsyslog (imtcp ->
#     omrelp, the contrib snippet's action) into sentineld (relp://,
#     journal on, fsync_interval 0 and 100ms, out_file) and into a second
#     rsyslog (imrelp -> omfile). msgs/s from the first line sent to the
#     last one written; CPU per message of the receiving process.
#  2. TCP: M (default 1,000,000) lines over one connection into sentineld
#     (tcp://, out_null) with the journal off and on; msgs/s until the
#     input counted them all.
#   bench/bench_relp_journal.sh [N] [M] [ROUNDS]  (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
n=${1:-20000}
m=${2:-1000000}
b=$PWD/_build
export SENTINELD_PLUGIN_PATH=$b/.plugins
T=$(mktemp -d /tmp/bench-relp.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
port() { python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
now() { date +%s.%N; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
feed() { # PORT COUNT
    python3 - "$1" "$2" <<'EOPY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
n = int(sys.argv[2])
for k in range(0, n, 1000):
    s.sendall(b''.join(b'<38>Dec  6 10:00:00 gen app[1]: bench %08d payload payload\n' % i
                       for i in range(k, min(n, k + 1000))))
s.close()
EOPY
}
# sender rsyslog: imtcp -> omrelp to $1
sender() {
    mkdir -p "$T/snd$1"
    cat >"$T/snd$1.conf" <<EOC
global(workDirectory="$T/snd$1")
module(load="imtcp")
module(load="omrelp")
input(type="imtcp" address="127.0.0.1" port="$2")
action(type="omrelp" target="127.0.0.1" port="$1"
       queue.type="LinkedList" queue.size="500000" queue.filename="q$1"
       queue.saveOnShutdown="on" action.resumeRetryCount="-1")
EOC
    rsyslogd -n -f "$T/snd$1.conf" -i "$T/snd$1.pid" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    for i in $(seq 50); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$2))" 2>/dev/null && break; sleep 0.1; done
}
relp_run() { # LABEL RECEIVER_PID OUTFILE SENDER_PORT
    c0=$(cpu "$2"); t0=$(now)
    feed "$4" "$n"
    while [ "$(lines "$3")" -lt "$n" ]; do sleep 0.05; done
    t1=$(now); c1=$(cpu "$2")
    rate=$(echo "$n / ($t1 - $t0)" | bc)
    echo "$1: $n msgs in $(echo "$t1 - $t0" | bc) s = $rate msgs/s, CPU $(echo "scale=1; ($c1 - $c0) * 1000000 / $tck / $n" | bc) us/msg"
}
for fi in 0 100ms; do
    rp=$(port); sp=$(port); hp=$(port)
    mkdir -p "$T/st$fi"
    cat >"$T/s$fi.yaml" <<EOC
daemon: { state_dir: $T/st$fi, journal: { enabled: true, fsync_interval: $fi } }
http: { listen: "127.0.0.1:$hp" }
inputs: [ { name: relp, plugin: in_syslog, listen: [ "relp://127.0.0.1:$rp" ] } ]
outputs: [ { name: o, plugin: out_file, path: $T/out$fi.json } ]
EOC
    "$b/sentineld" run -c "$T/s$fi.yaml" 2>"$T/s$fi.log" &
    sp_pid=$!; PIDS="$PIDS $sp_pid"
    sleep 1
    sender "$rp" "$sp"
    relp_run "RELP -> sentineld (journal on, fsync_interval $fi)" "$sp_pid" "$T/out$fi.json" "$sp"
    [ "$fi" = 0 ] && rate0=$rate
    grep -E '^sentineld_journal_(fsync_microseconds_count|records_total)' <<EOM | tr '\n' ' '; echo
$(curl -s "http://127.0.0.1:$hp/metrics")
EOM
done
rp=$(port); sp=$(port)
mkdir -p "$T/rcv"
cat >"$T/rcv.conf" <<EOC
global(workDirectory="$T/rcv")
module(load="imrelp")
input(type="imrelp" port="$rp" address="127.0.0.1")
action(type="omfile" file="$T/rsyslog.out")
EOC
rsyslogd -n -f "$T/rcv.conf" -i "$T/rcv.pid" >/dev/null 2>&1 &
r_pid=$!; PIDS="$PIDS $r_pid"
sleep 1
sender "$rp" "$sp"
relp_run "RELP -> rsyslog (imrelp -> omfile)" "$r_pid" "$T/rsyslog.out" "$sp"
echo "RELP, journal on (fsync_interval 0) vs rsyslog: $(echo "scale=2; $rate0 / $rate" | bc)x"

# The machine is shared and noisy: ROUNDS (default 3) alternating
# off/on runs, each figure the median of its runs.
rounds=${3:-3}
offs="" ons=""
for r in $(seq "$rounds"); do
for j in false true; do
    tp=$(port); hp=$(port)
    rm -rf "$T/tcp$j"; mkdir -p "$T/tcp$j"
    cat >"$T/t$j.yaml" <<EOC
daemon: { state_dir: $T/tcp$j, journal: { enabled: $j } }
http: { listen: "127.0.0.1:$hp" }
inputs: [ { name: tcp, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$tp" ] } ]
outputs: [ { name: o, plugin: out_null } ]
EOC
    "$b/sentineld" run -c "$T/t$j.yaml" 2>"$T/t$j.log" &
    d=$!; PIDS="$PIDS $d"
    sleep 1
    c0=$(cpu "$d"); t0=$(now)
    feed "$tp" "$m"
    while [ "$(curl -s "http://127.0.0.1:$hp/metrics" | awk '$1 ~ /^sentineld_output_events_total/ { v += $2 } END { print v + 0 }')" -lt "$m" ]; do sleep 0.05; done
    t1=$(now); c1=$(cpu "$d")
    rate=$(echo "$m / ($t1 - $t0)" | bc)
    echo "TCP -> sentineld (journal $j): $m msgs in $(echo "$t1 - $t0" | bc) s = $rate msgs/s, CPU $(echo "scale=2; ($c1 - $c0) * 1000000 / $tck / $m" | bc) us/msg"
    if [ "$j" = false ]; then offs="$offs $rate"; else ons="$ons $rate"; fi
    kill "$d"; wait "$d" 2>/dev/null || true
done
done
median() { echo $* | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
off=$(median $offs) on=$(median $ons)
echo "TCP, journal on vs off (medians of $rounds): $on / $off msgs/s = $(echo "100 * $on / $off" | bc) %"
