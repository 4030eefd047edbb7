#!/bin/sh
# Kafka benchmark with the mock cluster (tests/tools/kafka_broker, 3
# brokers):
#  1. produce: N (default 300,000) RFC 5424 lines from a file through
#     in_file -> parse_rfc5424 -> out_kafka (lz4, key hostname) into a
#     64-partition topic, events/s until every delivery report is in (the
#     oneshot run ends only then);
#  2. consume: that topic through in_kafka -> parse_json -> out_null;
#     events/s from the first to the last message (the group join is
#     excluded: the clock starts at the first consumed message).
#   bench/bench_kafka.sh [N] [WORKERS]      (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
n=${1:-300000}
workers=${2:-0}
b=$PWD/_build
tmp=$(mktemp -d)
bpid=""
dpid=""
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; [ -n "$bpid" ] && kill "$bpid"; rm -rf "$tmp"' EXIT
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
$b/tests/tools/kafka_broker -b 3 -t bench:64 >"$tmp/addr" 2>"$tmp/broker.log" &
bpid=$!
while [ ! -s "$tmp/addr" ]; do sleep 0.05; done
bs=$(cat "$tmp/addr")
now() { date +%s.%N; }

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

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/consume.yaml" <<EOC
daemon: { workers: $workers, state_dir: $tmp/state }
http: { listen: "127.0.0.1:$port" }
inputs:
  - { name: k, plugin: in_kafka, brokers: "$bs", topics: [bench], group: bench, parser: json }
outputs:
  - { name: o, plugin: out_null }
EOC
metric() {
    curl -s "http://127.0.0.1:$port/metrics" |
        awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { print $2 }' | head -n 1
}
$b/sentineld run -c "$tmp/consume.yaml" 2>"$tmp/consume.log" &
dpid=$!
while [ "$(metric sentineld_plugin_kafka_consumed_total)" = "" ] ||
    [ "$(metric sentineld_plugin_kafka_consumed_total)" = 0 ]; do sleep 0.01; done
t0=$(now)
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
kill -TERM $dpid
wait $dpid || true

python3 - "$n" "$c0" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
n, c0 = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3 = map(float, sys.argv[3:7])
print("consume  in_kafka -> parse_json -> out_null: %d events in %.2f s = %.0f events/s"
      % (n - c0, t1 - t0, (n - c0) / (t1 - t0)))
print("produce  in_file -> rfc5424 -> out_kafka (lz4, acked): %d events in %.2f s = %.0f events/s"
      % (n, t3 - t2, n / (t3 - t2)))
PY
