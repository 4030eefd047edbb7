#!/bin/sh
# A consumer stopped while its group is still assigning (a rolling
# restart of the shipped detector, conf/examples/detector.yaml:
# cooperative-sticky, static membership). librdkafka before 2.3.0
# aborts destroying a cooperative-sticky consumer that joined but got no
# assignment yet (assertion `assignor_state`, librdkafka issue 4312):
# scale_three.sh's instance died with SIGABRT at such a stop. Member A
# holds the topic; a new member joins and gets SIGTERM at several moments
# of its join. The mock coordinator answers a join after about 5 s, and
# the window that aborted (join answered, assignment not yet) is a few
# hundred ms before the assignment: the moments sweep that second (each
# try a new member, so each goes through a whole join). Without the fix,
# 1 or 2 of 6 tries (4.2 to 5.2 s) aborted in our runs. Every stop must be clean
# (exit 0), and A must go on reading.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
tap_plan 4

start_broker -b 1 -t joining:6 || { not_ok "mock broker starts"; exit 1; }
# member NAME: start it (static member NAME, cooperative-sticky, as the
# detector example); sets DPID.
member() {
    cat >"$TMP/$1.yaml" <<EOF
daemon: { state_dir: $TMP/$1-state }
http: { listen: "127.0.0.1:$(free_port)" }
inputs:
  - name: k
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [joining]
    group: joining
    parser: json
    instance_id: $1
    kafka.partition.assignment.strategy: cooperative-sticky
    kafka.session.timeout.ms: "6000"
    kafka.heartbeat.interval.ms: "500"
outputs:
  - { name: o, plugin: out_file, path: $TMP/$1.json }
EOF
    start_daemon "$TMP/$1.yaml" "$TMP/$1.log"
}
member a
A=$DPID
wait_for 30 grep -q 'assigned 6 partitions' "$TMP/a.log"

BAD=""
EARLY=0
n=0
for d in ${DELAYS:-4.3 4.6 4.9 5.2}; do
    n=$((n + 1))
    member b$n
    wait_for 10 grep -q 'running with' "$TMP/b$n.log"
    sleep "$d"
    grep -q 'k: assigned' "$TMP/b$n.log" || EARLY=$((EARLY + 1))
    stop_daemon
    st=$?
    [ "$st" -eq 0 ] || BAD="$BAD $d:$st"
done
check "a new member was stopped before its first assignment at least once ($EARLY of $n)" test "$EARLY" -ge 1
check "every stop of a joining member was clean (exit 0; failed:${BAD:- none})" test -z "$BAD"
check "no assertion of librdkafka in their logs" sh -c "! grep -q 'Assertion' '$TMP'/b[0-9]*.log"
echo '{"msg":"after"}' | kcat -b "$BOOTSTRAP" -t joining -P -k x
wait_for 30 grep -q after "$TMP/a.json"
DPID=$A
stop_daemon
check "A read on after their stops, and stops cleanly" sh -c "test $? -eq 0 && grep -q after '$TMP/a.json'"
