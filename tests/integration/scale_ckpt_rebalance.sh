#!/bin/sh
# Partition checkpoints across clean hand-overs (docs/scaling.md,
# "Partition state"): two detector instances in one group; after 13 of
# each source's 20 failures (every incident open with 10 hits, every
# second window open with 3) one instance is stopped with SIGTERM, which
# checkpoints its partitions on revocation; the survivor restores them,
# and a third instance joining mid-stream moves half of them again. Every
# incident must be in PostgreSQL exactly once, the one opened before the
# hand-overs (same id), with hit_count 20.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 9

ckpt_setup
instance a
A=$DPID
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
instance b
B=$DPID
both() { [ "$(assigned "$1")" = 3 ] && [ "$(assigned "$2")" = 3 ]; }
check "two instances in one group share the 6 partitions (3 each)" \
    wait_for 30 both a b

produce 0 13
half_done() { test "$(incidents)" = "$SOURCES $((SOURCES * 10))"; }
check "after 13 failures per source: $SOURCES incidents of 10 hits" \
    wait_for 30 half_done
q "select id from incidents where $WHERE order by 1" >"$TMP/ids.before"

DPID=$A
stop_daemon
check "SIGTERM: the leaving instance checkpoints its partitions and exits 0" \
    test $? -eq 0
check "the survivor takes over all 6 partitions from their checkpoints" \
    wait_until 30 'grep -q "assigned 6 partitions" "$TMP/b.log" && test "$(metric kafka_checkpoint_restores_total b)" -ge 6'

produce 13 16
instance c
C=$DPID
check "a third instance joins: the partitions are split again (3 and 3)" \
    wait_for 30 both b c
produce 16 20

wait_for 40 all_done
sleep 2
check "every incident is in PostgreSQL exactly once, $PER_SOURCE hits each in total" \
    test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))"
check "each of the $SOURCES sources has one incident of exactly $PER_SOURCE hits" \
    test "$(exact_sources)" = "$SOURCES"
q "select id from incidents where $WHERE order by 1" >"$TMP/ids.after"
check "the incidents opened before the hand-overs are the ones completed after them" \
    cmp -s "$TMP/ids.before" "$TMP/ids.after"
tap_done || show_bad
diag "stalls: b $(metric kafka_checkpoint_stall_ms_total b) ms in $(metric kafka_checkpoints_total b) checkpoints (longest $(metric kafka_checkpoint_max_stall_ms b) ms), c $(metric kafka_checkpoint_stall_ms_total c) ms in $(metric kafka_checkpoints_total c) (longest $(metric kafka_checkpoint_max_stall_ms c) ms)"

DPID=$C
stop_daemon
RC=$?
DPID=$B
stop_daemon
check "both stop cleanly" test $? -eq 0 -a "$RC" -eq 0
