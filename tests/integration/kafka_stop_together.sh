#!/bin/sh
# Two in_kafka instances of one group stopped with SIGTERM at the same
# moment (a rolling restart, systemctl stop on two hosts): both leave the
# group and exit, with status 0, within seconds. librdkafka 2.0 could hang
# for ever in rd_kafka_consumer_close() here (4 of 16 stops, before
# in_kafka left the group itself first; docs/kafka.md "Stop"). Each round
# is a fresh group: the mock cluster's coordinator is slow to settle a
# group whose members come and go (up to 20 s per join, and one round in
# several never settled), which is not what this test is about.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
ROUNDS=4
tap_plan $ROUNDS

start_broker -b 3 -t sys:12
N=5000
python3 -c "
for i in range($N):
    print('<38>1 2026-11-23T10:00:00Z host%02d sshd %d - - line %06d' % (i % 50, i, i))
" | kcat -b "$BOOTSTRAP" -t sys -P 2>>"$TMP/kcat-p.log"
conf() { # conf NAME ROUND
    cat >"$TMP/$1.yaml" <<EOC
daemon: { state_dir: $TMP/state-$1, workers: 2 }
http: { enabled: false }
inputs:
  - name: k
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [sys]
    group: round$2
    parser: rfc5424
    commit_interval: 200ms
    kafka.session.timeout.ms: 20000
    kafka.heartbeat.interval.ms: 500
outputs:
  - { name: o, plugin: out_file, path: $TMP/out-$1-$2.json }
EOC
}
for r in $(seq $ROUNDS); do
    conf a $r
    conf b $r
    start_daemon "$TMP/a.yaml" "$TMP/a-$r.log"
    pa=$DPID
    start_daemon "$TMP/b.yaml" "$TMP/b-$r.log"
    pb=$DPID
    # Both members hold partitions, or the mock never settled the group
    # (then the stop happens mid-rebalance, which must not hang either).
    wait_for 40 sh -c "grep -q 'assigned [0-9]* partitions' '$TMP/a-$r.log' &&
        grep -q 'assigned [0-9]* partitions' '$TMP/b-$r.log'"
    kill -TERM $pa $pb
    t0=$(date +%s)
    while { kill -0 $pa || kill -0 $pb; } 2>/dev/null &&
        [ $(($(date +%s) - t0)) -lt 25 ]; do
        sleep 0.1
    done
    hung=""
    for p in $pa $pb; do
        kill -0 $p 2>/dev/null && { hung="$hung $p"; kill -9 $p; }
    done
    sa=0; sb=0
    wait $pa || sa=$?
    wait $pb || sb=$?
    check "round $r: both instances stopped together exit 0 within 25 s (hung:${hung:- none}; status $sa $sb)" \
        test -z "$hung" -a $sa -eq 0 -a $sb -eq 0
done
tap_done
