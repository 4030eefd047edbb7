#!/bin/sh
# Zombie owners of partition checkpoints are fenced (docs/kafka.md,
# "Partition checkpoints"; docs/scaling.md, "Partition state"). Two
# detector instances in one group; instance A is frozen with SIGSTOP in
# the middle of an attack, holding records it consumed after its last
# checkpoint, for longer than the session timeout: the group evicts it
# and B claims A's partitions (a new owner_epoch in their rows), restores
# them, reads on and checkpoints them further. Then A is woken with
# SIGCONT: before it learns from Kafka that it lost its partitions, its
# checkpoint timer has long expired and it tries to write its older
# state over B's rows. Those writes must be refused (the rows' epoch is
# no longer A's): A counts them in kafka_checkpoint_fenced_total, says so
# in its log, drops the partitions' state, and B's rows stay as B wrote
# them. A rejoins, the partitions are split again, the attack ends, and
# every incident is in PostgreSQL once with its 20 hits. Without the
# fence A's rows overwrite B's and the table goes back to what A had.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 11

ckpt_setup
# A checkpoints every 5 s: when it is frozen it usually holds records past
# its last checkpoint, and after the freeze (longer than 5 s) its first
# loop turn runs a checkpoint.
instance a 5s
A=$DPID
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
instance b
B=$DPID
both() { [ "$(assigned a)" = 3 ] && [ "$(assigned b)" = 3 ]; }
check "two instances in one group share the 6 partitions (3 each)" \
    wait_for 30 both

produce 0 5
wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * 5))'
# The rows of A's partitions (owner host/pid of A).
a_rows() {
    q "select coalesce(sum(next_offset), 0) from sentineld_partition_checkpoints where group_id = '$GROUP' and owner like '%/$A'"
}
# Freeze A once it holds records its rows do not cover yet (it may have
# just written a checkpoint: then let it go on and try after more input).
# (Not $i: wait_for uses it.)
sent=5
while :; do
    produce "$sent" $((sent + 1))
    sent=$((sent + 1))
    wait_until 20 'test "$(consumed a b)" = $((SOURCES * sent))'
    CA=$(consumed a)
    kill -STOP "$A"
    [ "$(a_rows)" -lt "$CA" ] && break
    kill -CONT "$A"
    [ "$sent" -lt 9 ] || break
done
AROWS=$(a_rows)
diag "A frozen after $sent failures per source: it consumed $CA records, its rows cover $AROWS"
check "A is frozen holding records past its last checkpoint" \
    test "$AROWS" -lt "$CA"

check "the group evicts A: B takes over all 6 partitions" \
    wait_until 30 'test "$(assigned b)" = 6'
check "B restored A's partitions from their rows" \
    wait_until 10 'test "$(metric kafka_checkpoint_restores_total b)" -ge 3'
produce "$sent" 12
check "B reads on and checkpoints every partition to 12 failures per source" \
    wait_until 30 'test "$(ckpt_covered)" = $((SOURCES * 12))' ||
    diag "rows cover $(ckpt_covered)"
EPOCHS=$(q "select string_agg(partition||':'||owner_epoch, ' ' order by partition) from sentineld_partition_checkpoints where group_id = '$GROUP'")
diag "row epochs (partition:epoch) before A wakes: $EPOCHS"

kill -CONT "$A"
check "A's stale checkpoints are refused (kafka_checkpoint_fenced_total > 0)" \
    wait_until 20 'test "$(metric kafka_checkpoint_fenced_total a)" -gt 0'
grep 'was taken over' "$TMP/a.log" | head -n 3 | while read -r l; do diag "a: $l"; done
check "A's log names the partition and both epochs" \
    grep -q "checkpoints: partition $TOPIC\[[0-9]*\] was taken over: .* has owner_epoch [0-9]* (owner .*), ours is [0-9]*" "$TMP/a.log"
# A rejoins and the group splits the partitions again; B's revocation
# writes nothing (no progress), A claims from B's rows.
wait_until 30 'test "$(assigned a)" = 3 && test "$(assigned b)" = 3'
check "B's rows were not overwritten: they still cover 12 failures per source" \
    test "$(ckpt_covered)" = $((SOURCES * 12))

produce 12 20
wait_for 60 all_done
sleep 2
check "every incident is in PostgreSQL exactly once, $PER_SOURCE hits each in total" \
    test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))"
check "each of the $SOURCES sources has one incident of exactly $PER_SOURCE hits" \
    test "$(exact_sources)" = "$SOURCES"
tap_done || show_bad

kill -TERM "$A" "$B"
wait "$A" "$B"
check "both stop; the last checkpoints cover the whole stream" \
    test "$(ckpt_covered)" = $((SOURCES * PER_SOURCE))
