#!/bin/sh
# p50/p99/max latency from signal_emit to out_kafka's delivery report at a
# fixed rate of new incidents (default 1,000/s for 10 s) against the mock
# Kafka cluster (tests/tools/kafka_broker, 3 brokers, acks=all):
#   bench/bench_incident_latency.sh [RATE [SECONDS [LINGER]]]
# (after ./scripts/build.sh). The store is in a directory under /tmp.
set -e
cd "$(dirname "$0")/.."
b=$PWD/_build
tmp=$(mktemp -d)
bpid=""
trap '[ -n "$bpid" ] && kill "$bpid"; rm -rf "$tmp"' EXIT
export SENTINELD_PLUGIN_PATH=$b/.plugins
$b/tests/tools/kafka_broker -b 3 -t sentineld.alerts:4 >"$tmp/addr" \
    2>"$tmp/broker.log" &
bpid=$!
while [ ! -s "$tmp/addr" ]; do sleep 0.05; done
$b/bench/bench_incident_latency "$(cat "$tmp/addr")" "${1:-1000}" \
    "${2:-10}" "${3:-5ms}"
