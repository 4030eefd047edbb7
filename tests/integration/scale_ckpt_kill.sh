#!/bin/sh
# Partition checkpoints (docs/scaling.md, "Partition state"): two detector
# instances in one group keep each partition's detector and incident state
# in PostgreSQL with its offset (in_kafka `checkpoints`). In the middle of
# an attack from 50 sources (7 of each source's 20 failures consumed, so
# every window is open) one instance is killed with kill -9; the survivor
# takes its partitions over from their checkpoints, reads again what the
# dead one consumed after its last checkpoint, and the broker cluster is
# stopped and started again before the rest of the stream arrives. Every
# incident must be in PostgreSQL exactly once with hit_count 20: no window
# lost, split or counted twice. Without checkpoints the killed instance's
# open windows are lost (docs/scaling.md measured 27 of 50 sources wrong
# after a mere SIGTERM).
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 10

ckpt_setup
# A 2 s interval on the instance to be killed, so that its last
# checkpoint is usually behind what it consumed: the survivor then reads
# those records again from the checkpoint's offset.
instance a 2s
A=$DPID
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
instance b
B=$DPID
both() { [ "$(assigned a)" = 3 ] && [ "$(assigned b)" = 3 ]; }
check "two instances in one group share the 6 partitions (3 each)" \
    wait_for 30 both
check "the checkpoint table was created" \
    test "$(q "select count(*) from pg_tables where tablename = 'sentineld_partition_checkpoints'")" = 1

produce 0 5
check "checkpoints cover the first 5 failures of every source" \
    wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * 5))'
produce 5 7
wait_until 20 'test "$(consumed a b)" = $((SOURCES * 7))'
CA=$(metric kafka_checkpoints_total a)
COVERED=$(ckpt_covered)
kill -9 "$A"
wait "$A" 2>/dev/null
diag "at the kill: 7 failures per source consumed; checkpoint rows cover $COVERED of $((SOURCES * 7)) offsets"
check "the killed instance had written checkpoints ($CA)" test "${CA:-0}" -ge 1

check "the survivor takes over all 6 partitions" \
    wait_for 30 grep -q 'assigned 6 partitions' "$TMP/b.log"
check "the survivor restored the 6 partitions from their checkpoints" \
    wait_until 10 'test "$(metric kafka_checkpoint_restores_total b)" -ge 6'

# The broker cluster goes down and comes back while the survivor is busy.
BASE_B=$(consumed b)
produce 7 14
wait_until 20 'test "$(consumed b)" -ge $((BASE_B + SOURCES * 3))'
kill -USR1 "$BROKER_PID"
sleep 3
kill -USR2 "$BROKER_PID"
produce 14 20

wait_for 60 all_done
# Deliveries still in flight would show up as extra rows or hits.
sleep 2
check "every incident is in PostgreSQL exactly once, $PER_SOURCE hits each in total" \
    test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))"
check "each of the $SOURCES sources has one incident of exactly $PER_SOURCE hits" \
    test "$(exact_sources)" = "$SOURCES"
tap_done || show_bad
diag "survivor: checkpoints $(metric kafka_checkpoints_total b), stall $(metric kafka_checkpoint_stall_ms_total b) ms in all, longest $(metric kafka_checkpoint_max_stall_ms b) ms, deferred $(metric kafka_checkpoints_deferred_total b)"

DPID=$B
stop_daemon
check "the survivor stops cleanly" test $? -eq 0
check "its last checkpoint covers the whole stream" \
    test "$(ckpt_covered)" = $((SOURCES * PER_SOURCE))
