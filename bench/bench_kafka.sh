#!/bin/sh
# Kafka benchmark with the mock cluster (tests/tools/kafka_broker, 3
# brokers):
#  1. produce: N (default 300,000) RFC 5424 lines from a file through
#     in_file -> parse_rfc5424 -> out_kafka (lz4, key hostname) into a
#     64-partition topic, events/s until every delivery report is in (the
#     oneshot run ends only then);
#  2. consume: that topic through in_kafka -> parse_json -> out_null;
#     events/s from the first to the last message (the group join is
#     excluded: the clock starts at the first consumed message, when the
#     daemon had not read most of the topic by then; always also from the
#     daemon's start, join included), and the
#     CPU the daemon and the mock brokers used meanwhile (/proc/PID/stat:
#     the daemon's CPU per event is what a deployment against a real
#     cluster pays; the brokers share this machine's cores here). Beside
#     it, kcat reading the same topic to /dev/null: the client-side
#     ceiling of librdkafka against this mock cluster on this machine.
#  3. scale-out catch-up: a backlog of B (default 1,000,000) events
#     produced the same way (key procid, so every partition of a
#     256-partition topic gets its share), then consumed through
#     in_kafka -> parse_json -> det_rules (the shipped rule pack) ->
#     out_null, by one instance, then two, then three instances in one
#     group (a fresh group each time, so each reads the whole backlog): the time
#     from starting the instance(s) to the last event processed (group
#     join included: that is what catching up costs), and events/s from
#     the first consumed event. B=0 skips it.
#   bench/bench_kafka.sh [N] [WORKERS] [B]  (after ./scripts/build.sh)
# MIX=attack (default): every backlog event is an SSH password failure
# that two rules of the pack match (the worst case for detection);
# MIX=mixed: 1 event in 100 is, the rest is ordinary server logging.
# HOP=1: also one instance with the repartition hop (docs/scaling.md) as
# conf/examples/detector.yaml runs it (topic_key hostname: the SSH rules,
# grouped by source.ip, go through a 64-partition repartition topic and
# back into the same instance), right after one instance without it;
# HOP=only: those two figures only. HOP_ACK=checkpoint: the matches are
# acknowledged at checkpoints, not per batch (repartition_ack; this
# benchmark writes no checkpoints, so it shows the produce cost alone).
# IN_KAFKA_EXTRA adds in_kafka options to every consumer, e.g.
#   IN_KAFKA_EXTRA='kafka.queued.min.messages: "100000"' (librdkafka's own)
set -e
cd "$(dirname "$0")/.."
n=${1:-300000}
workers=${2:-0}
backlog=${3:-1000000}
b=$PWD/_build
tmp=$(mktemp -d)
bpid=""
dpid=""
# A failed run keeps its logs in $tmp.keep. The daemons go before the
# brokers: a consumer closing with its cluster gone waits for it.
trap 'st=$?; [ -n "$dpid" ] && kill $dpid 2>/dev/null; [ -n "$dpid" ] && sleep 2;
      [ -n "$bpid" ] && kill "$bpid"; [ $st -eq 0 ] || cp -r "$tmp" "$tmp.keep"; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export SENTINELD_PLUGIN_PATH=$b/.plugins

python3 - "$n" "$tmp/in.log" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write("<38>1 2026-11-23T10:00:%02d.%06dZ host%02d sshd %d - - "
                "Failed password for root from 203.0.113.%d port 22 ssh2\n"
                % (i % 60, i % 1000000, i % 50, i, i % 250))
PY
# The mock cluster keeps about 5 MB per partition (older messages are
# deleted, and loads above ~700,000 messages lost some in our runs): the
# default N stays well below that.
$b/tests/tools/kafka_broker -b 3 -t bench:64 -t backlog:256 -t hop.repartition:64 >"$tmp/addr" 2>"$tmp/broker.log" &
bpid=$!
while [ ! -s "$tmp/addr" ]; do sleep 0.05; done
bs=$(cat "$tmp/addr")
now() { date +%s.%N; }
# CPU seconds (user + system, all threads) of a process so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# 1. produce: every message acknowledged (the oneshot run ends only
# when every delivery report is in), and the topic the consumer reads.
cat >"$tmp/produce.yaml" <<EOC
daemon: { workers: $workers, state_dir: $tmp/state2 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $tmp/in.log, keep_position: false, parser: rfc5424 }
outputs:
  - { name: k, plugin: out_kafka, brokers: "$bs", topic: bench, key_field: hostname, compression: lz4, linger: 20ms }
EOC
t2=$(now)
$b/sentineld run -c "$tmp/produce.yaml" --oneshot 2>"$tmp/produce.log"
t3=$(now)
grep -q "'k': $n delivered" "$tmp/produce.log" || { echo "produce: not all delivered"; tail "$tmp/produce.log"; exit 1; }

# kcat on the same topic: what librdkafka alone reaches here.
k0=$(now)
kcat -C -b "$bs" -t bench -e -o beginning -q >/dev/null
k1=$(now)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/consume.yaml" <<EOC
daemon: { workers: $workers, state_dir: $tmp/state }
http: { listen: "127.0.0.1:$port" }
inputs:
  - { name: k, plugin: in_kafka, brokers: "$bs", topics: [bench], group: bench, parser: json${IN_KAFKA_EXTRA:+, $IN_KAFKA_EXTRA} }
outputs:
  - { name: o, plugin: out_null }
EOC
metric() {
    metric_at "$port" "$1"
}
metric_at() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v m="$2" '$1 ~ "^"m"[{ ]" || $1 == m { print $2 }' | head -n 1
}
s0=$(now)
$b/sentineld run -c "$tmp/consume.yaml" 2>"$tmp/consume.log" &
dpid=$!
while [ "$(metric sentineld_plugin_kafka_consumed_total)" = "" ] ||
    [ "$(metric sentineld_plugin_kafka_consumed_total)" = 0 ]; do sleep 0.01; done
t0=$(now)
d0=$(cpu $dpid)
b0=$(cpu $bpid)
c0=$(metric sentineld_plugin_kafka_consumed_total)
last=-1
stall=0
while :; do
    d=$(metric sentineld_output_events_total)
    [ "$d" = "$n" ] && break
    if [ "$d" = "$last" ]; then
        stall=$((stall + 1))
        if [ $stall -gt 250 ]; then
            echo "consume: stalled at $d of $n"
            curl -s "http://127.0.0.1:$port/metrics" | grep -E '^sentineld_(plugin_kafka|pipeline)' | grep -v ' 0$'
            exit 1
        fi
    else
        stall=0
    fi
    last=$d
    sleep 0.02
done
t1=$(now)
d1=$(cpu $dpid)
b1=$(cpu $bpid)
kill -TERM $dpid
wait $dpid || true

python3 - "$n" "$c0" "$t0" "$t1" "$t2" "$t3" "$k0" "$k1" "$d0" "$d1" "$b0" "$b1" "$s0" "$d1" <<'PY'
import sys
n, c0 = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3, k0, k1, d0, d1, b0, b1, s0, dall = map(float, sys.argv[3:15])
# The clock starts at the first sample of the consumed counter; when the
# daemon had already read most of the topic by then (a small N, or a
# machine so busy that the first /metrics answer comes late), that
# interval measures nothing (it was the ZeroDivisionError when the first
# sample already saw all N): then only the figure from the daemon's start
# (group join included) is given, with the CPU of the whole run.
if n - c0 >= n // 2 and t1 > t0:
    print("consume  in_kafka -> parse_json -> out_null: %d events in %.2f s = %.0f events/s;"
          " daemon CPU %.2f s = %.2f us/event, mock brokers %.2f s"
          % (n - c0, t1 - t0, (n - c0) / (t1 - t0), d1 - d0,
             (d1 - d0) / (n - c0) * 1e6, b1 - b0))
else:
    print("consume  in_kafka -> parse_json -> out_null: %d of %d events already"
          " read at the first sample; not timed from there" % (c0, n))
print("consume  in_kafka -> parse_json -> out_null: %d events in %.2f s from the"
      " daemon's start (group join included) = %.0f events/s; daemon CPU %.2f s"
      " = %.2f us/event" % (n, t1 - s0, n / (t1 - s0), dall, dall / n * 1e6))
print("kcat     -C -e -q > /dev/null, same topic: %d messages in %.2f s = %.0f messages/s"
      " (process start and metadata included)" % (n, k1 - k0, n / (k1 - k0)))
print("produce  in_file -> rfc5424 -> out_kafka (lz4, acked): %d events in %.2f s = %.0f events/s"
      % (n, t3 - t2, n / (t3 - t2)))
PY

[ "$backlog" -gt 0 ] || exit 0

# 3. The backlog, acknowledged by the brokers before any consumer starts.
python3 - "$backlog" "$tmp/backlog.log" "${MIX:-attack}" <<'PY'
import sys
n, path, mix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# mixed: what a server fleet logs, of which 1 event in 100 is an SSH
# password failure (the rest matches no rule of the pack, but several
# pass its prefilter: sshd, sudo, kernel, su lines).
benign = [
    ("CRON", "(root) CMD (/usr/lib/job-%d --quiet)"),
    ("systemd", "Started Session %d of User alice."),
    ("kernel", "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 "
     "SRC=198.51.100.%d DST=192.0.2.1 LEN=60 PROTO=TCP SPT=4711 DPT=22"),
    ("nginx", "192.0.2.%d - - \"GET /static/app.js HTTP/1.1\" 200 5120 "
     "\"-\" \"Mozilla/5.0\""),
    ("postfix/smtpd", "connect from unknown[203.0.113.%d]"),
    ("dhclient", "DHCPACK of 10.0.0.%d from 10.0.0.1"),
    ("sshd", "Accepted publickey for deploy from 192.0.2.%d port 50022 "
     "ssh2: ED25519 SHA256:AbCdEf"),
    ("sudo", "   alice : TTY=pts/%d ; PWD=/home/alice ; USER=www-data ; "
     "COMMAND=/usr/bin/systemctl status nginx"),
    ("dockerd", "level=info msg=\"container %d healthy\""),
    ("chronyd", "Selected source 192.0.2.%d (pool.ntp.org)"),
]
with open(path, "w") as f:
    for i in range(n):
        ts = "2026-11-23T10:%02d:%02d.%06dZ" % (i // 600000 % 60,
                                                i // 10000 % 60, i % 1000000)
        if mix == "attack" or i % 100 == 0:
            f.write("<38>1 %s host%02d sshd %d - - Failed password for root "
                    "from 203.0.113.%d port 22 ssh2\n"
                    % (ts, i % 50, i, i % 250))
        else:
            app, msg = benign[i % 97 % len(benign)]
            f.write("<30>1 %s host%02d %s %d - - %s\n"
                    % (ts, i % 50, app, i, msg % (i % 250)))
PY
cat >"$tmp/backlog.yaml" <<EOC
daemon: { workers: $workers, state_dir: $tmp/state3 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $tmp/backlog.log, keep_position: false, parser: rfc5424 }
outputs:
  - { name: k, plugin: out_kafka, brokers: "$bs", topic: backlog, key_field: procid, compression: lz4, linger: 20ms }
EOC
echo "loading a backlog of $backlog events, MIX=${MIX:-attack} (out_kafka, acknowledged)..."
$b/sentineld run -c "$tmp/backlog.yaml" --oneshot 2>"$tmp/backlog.log.err"
grep -q "'k': $backlog delivered" "$tmp/backlog.log.err" || { echo "backlog: not all delivered"; tail "$tmp/backlog.log.err"; exit 1; }
rm -f "$tmp/backlog.log"

# run_group NAME INSTANCES [hop]: start the instances at once in a fresh
# group, wait until together they processed the whole backlog (with hop:
# and read back every compact match they produced); writes
# "seconds-from-start seconds-from-first-event" to $tmp/NAME.t.
run_group() {
    ports=""
    for i in $(seq "$2"); do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        hop_in="" hop_det=""
        if [ "${3:-}" = hop ]; then
            hop_in="  - { name: repartition, plugin: in_kafka, brokers: \"$bs\", topics: [hop.repartition], group: $1.repartition, parser: raw${IN_KAFKA_EXTRA:+, $IN_KAFKA_EXTRA} }"
            hop_det=", topic_key: [hostname], repartition_topic: hop.repartition, repartition_brokers: \"$bs\", repartition_input: repartition, repartition_ack: ${HOP_ACK:-batch}${HOP_LINGER:+, repartition_linger: $HOP_LINGER}"
        fi
        cat >"$tmp/$1-$i.yaml" <<EOC
daemon: { workers: $workers, state_dir: $tmp/$1-$i }
http: { listen: "127.0.0.1:$p" }
inputs:
  - { name: k, plugin: in_kafka, brokers: "$bs", topics: [backlog], group: $1, parser: json${IN_KAFKA_EXTRA:+, $IN_KAFKA_EXTRA} }
$hop_in
detectors:
  - { name: rules, plugin: det_rules, rules: [$PWD/conf/rules]$hop_det }
outputs:
  - { name: o, plugin: out_null, inputs: [k] }
EOC
        ports="$ports $p"
    done
    dpid=""
    s0=$(now)
    bc0=$(cpu $bpid)
    for i in $(seq "$2"); do
        $b/sentineld run -c "$tmp/$1-$i.yaml" 2>"$tmp/$1-$i.log" &
        dpid="$dpid $!"
    done
    first=""
    last=-1
    stall=0
    while :; do
        sum=0
        for p in $ports; do
            v=$(metric_at "$p" sentineld_output_events_total)
            sum=$((sum + ${v:-0}))
        done
        for p in $dpid; do
            kill -0 "$p" 2>/dev/null || {
                wait "$p" && st=0 || st=$?
                echo "catch-up ($1): instance $p died (status $st) at $sum of $backlog; logs in $tmp.keep"
                exit 1
            }
        done
        [ -z "$first" ] && [ "$sum" -gt 0 ] && first=$(now)
        if [ "$sum" -ge "$backlog" ] && [ "${3:-}" = hop ]; then
            hp=0 hc=0
            for p in $ports; do
                v=$(metric_at "$p" sentineld_plugin_repartition_produced_total)
                hp=$((hp + ${v:-0}))
                v=$(metric_at "$p" sentineld_plugin_repartition_consumed_total)
                hc=$((hc + ${v:-0}))
            done
            [ "$hc" -ge "$hp" ] && { echo "$hp" >"$tmp/$1.hop"; break; }
        elif [ "$sum" -ge "$backlog" ]; then
            break
        fi
        if [ "$sum" = "$last" ]; then
            stall=$((stall + 1))
            [ $stall -gt 1500 ] && { echo "catch-up ($1): stalled at $sum of $backlog"; exit 1; }
        else
            stall=0
        fi
        last=$sum
        sleep 0.02
    done
    s1=$(now)
    dc=0
    for p in $dpid; do dc=$(python3 -c "print($dc + $(cpu "$p"))"); done
    bc1=$(cpu $bpid)
    for p in $dpid; do kill -TERM "$p"; done
    for p in $dpid; do
        st=0
        wait "$p" || st=$?
        [ $st -eq 0 ] || echo "catch-up ($1): instance $p exited with status $st (logs kept in $tmp.keep)"
        [ $st -eq 0 ] || cp -r "$tmp" "$tmp.keep"
    done
    dpid=""
    python3 -c "print('%.2f %.2f %.2f %.2f' % ($s1 - $s0, $s1 - $first, $dc, $bc1 - $bc0))" >"$tmp/$1.t"
}
k0=$(now)
kcat -C -b "$bs" -t backlog -e -o beginning -q >/dev/null
k1=$(now)
# report LABEL FILE: one catch-up's figures.
report() {
    python3 - "$backlog" "$1" "$(cat "$2")" <<'PY'
import sys
n, label = int(sys.argv[1]), sys.argv[2]
total, busy, dcpu, bcpu = map(float, sys.argv[3].split())
print("catch-up %s in_kafka -> parse_json -> det_rules -> out_null: "
      "%d events in %.2f s from start (%.2f s from the first event) = "
      "%.0f events/s; daemon CPU %.2f s = %.2f us/event (group join "
      "included), mock brokers %.2f s"
      % (label, n, total, busy, n / busy, dcpu, dcpu / n * 1e6, bcpu))
PY
}
python3 -c "print('kcat     -C -e -q > /dev/null, backlog topic: %d messages in %.2f s = %.0f messages/s' % ($backlog, $k1 - $k0, $backlog / ($k1 - $k0)))"
# Each figure as soon as it is measured: the mock cluster's coordinator
# now and then never settles a group of two (one member gets nothing),
# and that run then ends with "stalled" after the figures it has.
run_group catchup1 1
report "one instance   " "$tmp/catchup1.t"
if [ -n "${HOP:-}" ]; then
    run_group catchup1hop 1 hop
    report "one, with hop  " "$tmp/catchup1hop.t"
    python3 - "$(cat "$tmp/catchup1.t")" "$(cat "$tmp/catchup1hop.t")" "$(cat "$tmp/catchup1hop.hop")" "$backlog" <<'PY'
import sys
a, h = (float(x.split()[1]) for x in sys.argv[1:3])
print("repartition hop: %s compact matches for %s events; events/s with the "
      "hop = %.0f%% of without (cost %.0f%%)"
      % (sys.argv[3], sys.argv[4], 100 * a / h, 100 * (1 - a / h)))
PY
    [ "$HOP" = only ] && exit 0
fi
run_group catchup2 2
report "two instances  " "$tmp/catchup2.t"
run_group catchup3 3
report "three instances" "$tmp/catchup3.t"
