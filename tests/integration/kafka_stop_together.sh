#!/bin/sh
# Two in_kafka instances of one group stopped with SIGTERM at the same
# moment, just after they joined and while they consume (a rolling
# restart, systemctl stop on two hosts): both leave the group and exit,
# with status 0, within seconds. Before in_kafka left the group itself
# first (docs/kafka.md "Stop"), librdkafka 2.0 hung for ever in
# rd_kafka_consumer_close() here (1 to 4 stops in 16) or aborted
# (rdkafka_cgrp.c assert: !rd_kafka_assignment_in_progress). Each round
# is a fresh group: the mock cluster's coordinator is slow to settle a
# group whose members come and go (up to 20 s per join, and one round in
# several never settled), which is not what this test is about.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
ROUNDS=4
tap_plan $((ROUNDS + 1))

start_broker -b 3 -t sys:64
N=200000
python3 -c "
for i in range($N):
    print('<38>1 2026-11-23T10:00:00Z host%02d sshd %d - - line %06d' % (i % 50, i, i))
" | kcat -b "$BOOTSTRAP" -t sys -P 2>>"$TMP/kcat-p.log"
conf() { # conf NAME ROUND [SESSION_TIMEOUT_MS]
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
    kafka.session.timeout.ms: ${3:-20000}
    kafka.heartbeat.interval.ms: 500
outputs:
  - { name: o, plugin: out_null }
EOC
}
# Running (an exited child the shell has not reaped yet is a zombie, and
# kill -0 still finds it).
running() { [ -r "/proc/$1/stat" ] && ! grep -q ') Z ' "/proc/$1/stat"; }
for r in $(seq $ROUNDS); do
    conf a $r
    conf b $r
    # Started together, stopped together 4 s later: the group has just
    # settled or is still rebalancing, and both are busy consuming.
    start_daemon "$TMP/a.yaml" "$TMP/a-$r.log"
    pa=$DPID
    start_daemon "$TMP/b.yaml" "$TMP/b-$r.log"
    pb=$DPID
    sleep 4
    kill -TERM $pa $pb
    t0=$(date +%s)
    while { running $pa || running $pb; } &&
        [ $(($(date +%s) - t0)) -lt 25 ]; do
        sleep 0.1
    done
    hung=""
    for p in $pa $pb; do
        if running $p; then
            hung="$hung $p"
            # Where it hangs, for the log (gdb is there on developer
            # machines, not always in CI).
            command -v gdb >/dev/null &&
                gdb -p $p -batch -ex 'thread apply all bt 12' 2>&1 |
                grep -E '^(Thread|#)' | sed 's/^/# /'
            kill -9 $p
        fi
    done
    sa=0; sb=0
    wait $pa || sa=$?
    wait $pb || sb=$?
    check "round $r: both instances stopped together exit 0 within 25 s (hung:${hung:- none}; status $sa $sb)" \
        test -z "$hung" -a $sa -eq 0 -a $sb -eq 0
done
# Brokers gone while an instance holds partitions: the stop's offset
# commit cannot be answered, and must not hold the stop (a synchronous
# commit waited for ever: more than 9 minutes in bench_kafka.sh). What
# is left is librdkafka's own: destroying the consumer waits about
# session.timeout.ms (6 s here) for the group it cannot reach.
conf a last 6000
start_daemon "$TMP/a.yaml" "$TMP/a-last.log"
pa=$DPID
wait_for 40 grep -q 'assigned [0-9]* partitions' "$TMP/a-last.log"
sleep 2
kill -9 "$BROKER_PID"
sleep 1
kill -TERM $pa
t0=$(date +%s)
while running $pa && [ $(($(date +%s) - t0)) -lt 60 ]; do sleep 0.1; done
took=$(($(date +%s) - t0))
hung=no
running $pa && { hung=yes; kill -9 $pa; }
sa=0
wait $pa || sa=$?
check "brokers gone: the instance stops within 60 s, status 0 (took ${took} s, hung: $hung, status $sa)" \
    test $hung = no -a $sa -eq 0
tap_done
