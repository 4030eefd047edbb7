# Shared by the partition checkpoint scenarios (scale_ckpt_*.sh; sourced
# after lib.sh, kafka_lib.sh and pglib.sh): a mock cluster of 3 brokers
# with a 6-partition events topic, PostgreSQL 15, and detector instances in
# one consumer group with `checkpoints` in PostgreSQL and incidents to
# out_postgres (conf/examples/detector.yaml's shape). The stream is SSH
# brute force from SOURCES sources, each source's lines keyed (so
# partitioned) by its address and interleaved; each source fails exactly
# PER_SOURCE (20) times, which the rule counts as two hits of 10: one
# incident per source with hit_count 20 when no window is lost or counted
# twice, whatever instance saw which part of it.

PER_SOURCE=20
SOURCES=50
TOPIC=sentineld.events
GROUP=sentineld-detectors
PREFIX=203.0.113
WHERE="rule_id = 'ckpt-brute-force' and group_key->>'source.ip' like '$PREFIX.%'"

ckpt_setup() {
    start_broker -b 3 -t "$TOPIC:6" || { not_ok "mock cluster starts"; exit 1; }
    pg_start || { not_ok "PostgreSQL starts"; exit 1; }
    cat >"$TMP/rules.yaml" <<'EOF'
rules:
  - id: ckpt-brute-force
    title: SSH brute force (checkpoint test)
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password "
    extract:
      - regex: '^Failed password for (?<user>\S+) from (?<ip>[0-9.]+) port'
        fields:
          user: user.name
          ip: source.ip:ip
    threshold: {count: 10}
    # Every 10 failures is a hit (each counted exactly once is what this
    # test checks), not once per window.
    refire: every_threshold
    window: 10m
    group_by: [source.ip]
    # Partitions reach a shard in any order: a source's lines stay in
    # order, the lines of sources on other partitions may be behind.
    allowed_lateness: 10m
EOF
    # Event time: the stream spans the last two minutes (the rules'
    # watermark follows the clock before the first event).
    BASE=$(($(date +%s) - 120))
}

# instance NAME [CHECKPOINT_INTERVAL]: start a detector instance; sets DPID.
# A short session timeout so a dead member's partitions move within the
# test's time.
instance() {
    port=$(free_port)
    echo "$port" >"$TMP/$1.port"
    cat >"$TMP/$1.yaml" <<EOF
daemon:
  state_dir: $TMP/$1-state
  workers: 2
http:
  listen: 127.0.0.1:$port
inputs:
  - name: events
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [$TOPIC]
    group: $GROUP
    parser: rfc5424
    commit_interval: 200ms
    checkpoints: "${CKPT_DSN:-$PG_URL}"
    checkpoint_interval: ${2:-300ms}
    kafka.session.timeout.ms: "6000"
    kafka.heartbeat.interval.ms: "500"
detectors:
  - name: rules
    plugin: det_rules
    rules: [$TMP/rules.yaml]
outputs:
  - name: postgres
    plugin: out_postgres
    take: incidents
    dsn: "$PG_URL"
    batch: 500
EOF
    start_daemon "$TMP/$1.yaml" "$TMP/$1.log"
}

# produce FROM TO: failures FROM..TO-1 of every source, interleaved, keyed
# by source address.
produce() {
    python3 - "$SOURCES" "$1" "$2" "$PREFIX" "$BASE" >"$TMP/p$1.tsv" <<'PY'
import sys, time
n, lo, hi, prefix, base = (int(sys.argv[1]), int(sys.argv[2]),
                           int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
for i in range(lo, hi):
    for s in range(n):
        ip = "%s.%d" % (prefix, s + 1)
        t = time.gmtime(base + i * 3 + s % 3)
        print("%s\t<38>1 %s.%06dZ web%02d sshd %d - - "
              "Failed password for user%d from %s port %d ssh2"
              % (ip, time.strftime("%Y-%m-%dT%H:%M:%S", t), s, s, 1000 + s,
                 i, ip, 40000 + i))
PY
    kcat -b "$BOOTSTRAP" -t "$TOPIC" -P -K '	' -z none \
        -X linger.ms=20 <"$TMP/p$1.tsv"
}

q() { pg_psql -c "$1" 2>/dev/null; }
# metric NAME INSTANCE: the sum of a metric over its labels.
metric() {
    curl -s "http://127.0.0.1:$(cat "$TMP/$2.port")/metrics" |
        awk -v m="sentineld_plugin_$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'
}
# consumed NAME...: messages the instances handed to their pipelines.
consumed() {
    t=0
    for i in "$@"; do t=$((t + $(metric kafka_consumed_total "$i"))); done
    echo "$t"
}
# The offsets the group's checkpoint rows cover, summed over partitions
# (a row only claimed so far has next_offset -1001 and covers nothing).
ckpt_covered() {
    q "select coalesce(sum(next_offset), 0) from sentineld_partition_checkpoints where group_id = '$GROUP' and next_offset >= 0"
}
assigned() { grep 'assigned [0-9]* partitions' "$TMP/$1.log" | tail -n 1 | sed 's/.*assigned \([0-9]*\) partitions.*/\1/'; }
# incidents: "count hits" of the stream's incidents.
incidents() {
    q "select count(*)||' '||coalesce(sum(hit_count),0) from incidents where $WHERE"
}
all_done() { test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))"; }
# Sources whose incident row has exactly PER_SOURCE hits (and is alone).
exact_sources() {
    q "select count(*) from (select group_key->>'source.ip' from incidents where $WHERE group by 1 having count(*) = 1 and sum(hit_count) = $PER_SOURCE) x"
}
# Show what went wrong: incidents per source that are not one of 20 hits.
show_bad() {
    q "select group_key->>'source.ip', count(*), string_agg(hit_count::text, ',') from incidents where $WHERE group by 1 having count(*) <> 1 or sum(hit_count) <> $PER_SOURCE order by 1" |
        head -n 10 | while read -r l; do diag "bad: $l"; done
    n=$(q "select count(distinct group_key->>'source.ip') from incidents where $WHERE")
    diag "sources with an incident: $n of $SOURCES"
}
