#!/bin/sh
# Cost of in_kafka partition checkpoints (docs/scaling.md, "Partition
# state"): a backlog of N (default 300,000) raw RFC 5424 SSH failures from
# 2,000 sources, keyed by source, in a 12-partition topic on the mock
# cluster (1 broker), consumed by one instance through parse_rfc5424 ->
# det_rules (a threshold rule per source) -> out_null, once without
# checkpoints and once with `checkpoints` in PostgreSQL 15 at INTERVAL
# (default 1s). Prints events/s from the first consumed message to the
# last event out of the detectors, and for the checkpointed run the number of checkpoints, the
# total and longest stall, and the bytes written.
# THRESHOLD (default 10) is the rule's count: 10 makes an incident storm
# (each source fires every 10 failures, 15,000 signals per 150,000
# events), so the checkpoints wait for the incident manager's backlog;
# 1000 fires nothing and measures the detector state alone.
#   bench/bench_ckpt.sh [N] [INTERVAL] [THRESHOLD]  (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
n=${1:-300000}
interval=${2:-1s}
threshold=${3:-10}
b=$PWD/_build
SENTINELD=$b/sentineld
SRCDIR=$PWD
BUILDDIR=$b
export SENTINELD_PLUGIN_PATH=$b/.plugins SENTINELD_SQL_DIR=$PWD/sql
. tests/integration/lib.sh
. tests/integration/kafka_lib.sh
. tests/integration/pglib.sh
pg_start
start_broker -b 1 -t bench:12
python3 - "$n" >"$TMP/in.tsv" <<'PY'
import sys, time
n = int(sys.argv[1])
base = int(time.time()) - 3600
for i in range(n):
    s = i % 2000
    ip = "10.%d.%d.%d" % (s // 65536, (s // 256) % 256, s % 256)
    t = time.gmtime(base + i * 3600 // n)
    print("%s\t<38>1 %s.%06dZ web%02d sshd %d - - Failed password for u%d "
          "from %s port %d ssh2" % (ip, time.strftime("%Y-%m-%dT%H:%M:%S", t),
                                    i % 1000000, s % 50, i, i % 7, ip,
                                    1024 + i % 60000))
PY
kcat -b "$BOOTSTRAP" -t bench -P -K '	' -z lz4 -X linger.ms=50 <"$TMP/in.tsv"
cat >"$TMP/rules.yaml" <<EOF
rules:
  - id: bench-brute-force
    title: SSH brute force (benchmark)
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password "
    extract:
      - regex: '^Failed password for (?<user>\\S+) from (?<ip>[0-9.]+) port'
        fields:
          ip: source.ip:ip
    threshold: {count: $threshold}
    window: 10m
    group_by: [source.ip]
    allowed_lateness: 2h
EOF
metric() {
    curl -s "http://127.0.0.1:$port/metrics" |
        awk -v m="sentineld_plugin_$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'
}
core() {
    curl -s "http://127.0.0.1:$port/metrics" |
        awk -v m="sentineld_$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'
}
now() { python3 -c 'import time; print(time.time())'; }
run() {
    port=$(free_port)
    cat >"$TMP/$1.yaml" <<EOF
daemon: { state_dir: $TMP/$1-state }
http: { listen: 127.0.0.1:$port }
inputs:
  - name: k
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [bench]
    group: bench-$1
    parser: rfc5424
$2
detectors:
  - { name: rules, plugin: det_rules, rules: [$TMP/rules.yaml] }
outputs:
  - { name: o, plugin: out_null }
EOF
    "$SENTINELD" run -c "$TMP/$1.yaml" 2>"$TMP/$1.log" &
    dpid=$!
    PIDS="$PIDS $dpid"
    # From the first message taken from Kafka (the group join excluded)
    # to the last event through the detectors into the output.
    until [ "$(metric kafka_consumed_total)" -gt 0 ] 2>/dev/null; do sleep 0.005; done
    t0=$(now)
    until [ "$(core output_events_total)" -ge "$n" ] 2>/dev/null; do sleep 0.01; done
    t1=$(now)
    echo "$1: $(python3 -c "print(round($n / ($t1 - $t0)))") events/s ($n events, $(python3 -c "print(round($t1 - $t0, 2))") s)"
    if [ -n "$2" ]; then
        sleep 2
        echo "  checkpoints $(metric kafka_checkpoints_total), rows $(metric kafka_checkpoint_rows_total), bytes $(metric kafka_checkpoint_bytes_total), in checkpoints $(metric kafka_checkpoint_duration_ms_total) ms, pipeline dry (stall) $(metric kafka_checkpoint_stall_ms_total) ms in all, longest $(metric kafka_checkpoint_max_stall_ms) ms, state $(metric kafka_checkpoint_state_ms_total) ms, state and PostgreSQL $(metric kafka_checkpoint_write_ms_total) ms, deferred $(metric kafka_checkpoints_deferred_total)"
    fi
    kill "$dpid"
    wait "$dpid" || true
}
run plain ""
run ckpt "    checkpoints: \"$PG_URL\"
    checkpoint_interval: $interval"
