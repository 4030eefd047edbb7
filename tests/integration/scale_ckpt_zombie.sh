#!/bin/sh
# Zombie owners of partition checkpoints are fenced (docs/kafka.md,
# "Partition checkpoints"; docs/scaling.md, "Partition state"). Two
# detector instances in one group, A's checkpoint connection through a
# TCP relay the test can hold. In the middle of an attack A starts a
# checkpoint of records past its last one, its connection hangs (the relay
# holds it) and A is frozen with SIGSTOP for longer than the session
# timeout: the group evicts it and B claims A's partitions (a new
# owner_epoch in their rows), restores them from A's last rows, reads on
# and checkpoints them further. Then A is woken with SIGCONT in the middle
# of its checkpoint, before it can learn from Kafka that it lost its
# partitions, and tries to write its older state over B's rows. Those
# writes must be refused: A counts them in kafka_checkpoint_fenced_total,
# says so in its log, drops the partitions' state, and B's rows stay as B
# wrote them. A rejoins, the partitions are split again, B leaves (A
# reads on the partitions it was fenced on), the attack ends, and every
# incident is in PostgreSQL once with its 20 hits. Without the
# fence A's rows replace B's: the table goes back to what A had.
#
# (A plain SIGSTOP/SIGCONT often does the same, but whether the woken
# instance runs its overdue checkpoint or serves librdkafka's "assignment
# lost" first is a race; the held connection makes it the checkpoint.)
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 14

ckpt_setup

# relay PORT: forward 127.0.0.1:PORT to PostgreSQL; while $TMP/hold
# exists, what clients send is held back (and $TMP/held is created).
RELAY_PORT=$(free_port)
python3 - "$RELAY_PORT" "$PGPORT" "$TMP/hold" "$TMP/held" <<'PY' &
import os, socket, sys, threading, time
port, pg, hold, held = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def pump(src, dst, holdable):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            while holdable and os.path.exists(hold):
                open(held, "w").close()
                time.sleep(0.02)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", pg))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
PIDS="$PIDS $!"

# The table as the version before the fence created it, with a row of
# another group: it must be migrated in place, the row kept.
q "create table sentineld_partition_checkpoints (group_id text not null, topic text not null, partition int not null, next_offset bigint not null, state bytea not null, owner text not null, updated_at timestamptz not null default now(), primary key (group_id, topic, partition)); insert into sentineld_partition_checkpoints values ('older', '$TOPIC', 0, 42, '\\x00', 'old/1')" >/dev/null

CKPT_DSN="postgresql://sentineld@127.0.0.1:$RELAY_PORT/postgres"
instance a 1s
A=$DPID
CKPT_DSN=""
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
instance b
B=$DPID
both() { [ "$(assigned a)" = 3 ] && [ "$(assigned b)" = 3 ]; }
check "two instances in one group share the 6 partitions (3 each)" \
    wait_for 30 both
check "the previous version's table got owner_epoch, its row kept at epoch 0" \
    test "$(q "select next_offset||' '||owner_epoch from sentineld_partition_checkpoints where group_id = 'older'")" = "42 0"

produce 0 5
wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * 5))'
# The offsets A's rows cover (owner host/pid of A).
a_rows() {
    q "select coalesce(sum(next_offset), 0) from sentineld_partition_checkpoints where group_id = '$GROUP' and owner like '%/$A'"
}

# A's next checkpoint hangs on its connection, with records to write.
touch "$TMP/hold"
produce 5 7
wait_for 20 test -e "$TMP/held"
wait_until 20 'test "$(consumed a b)" = $((SOURCES * 7))'
CA=$(consumed a)
kill -STOP "$A"
rm -f "$TMP/hold"
AROWS=$(a_rows)
diag "A frozen in a checkpoint: it consumed $CA records, its rows cover $AROWS"
check "A is frozen holding records past its last checkpoint" \
    test "$AROWS" -lt "$CA"

check "the group evicts A: B takes over all 6 partitions" \
    wait_until 30 'test "$(assigned b)" = 6'
check "B restored A's partitions from their rows" \
    wait_until 10 'test "$(metric kafka_checkpoint_restores_total b)" -ge 3'
produce 7 12
check "B reads on and checkpoints every partition to 12 failures per source" \
    wait_until 30 'test "$(ckpt_covered)" = $((SOURCES * 12))'
EPOCHS=$(q "select string_agg(partition||':'||owner_epoch, ' ' order by partition) from sentineld_partition_checkpoints where group_id = '$GROUP'")
diag "row epochs (partition:epoch) before A wakes: $EPOCHS"

kill -CONT "$A"
# Once A has learned that its partitions are lost, whatever it was going
# to write is written (the checkpoint it was in comes first); until the
# group has rebalanced and the new owners checkpoint, the rows show it.
wait_for 20 grep -q 'partitions lost' "$TMP/a.log"
COVERED=$(ckpt_covered)
diag "after A woke: the rows cover $COVERED offsets"
check "B's rows were not overwritten by A: they still cover 12 failures per source" \
    test "$COVERED" = $((SOURCES * 12))
check "A's stale checkpoint was refused (kafka_checkpoint_fenced_total > 0)" \
    test "$(metric kafka_checkpoint_fenced_total a)" -gt 0
grep 'was taken over' "$TMP/a.log" | while read -r l; do diag "a: $l"; done
check "A's log names the partition and both epochs" \
    grep -q "checkpoints: partition $TOPIC\[[0-9]*\] was taken over: .* has owner_epoch [0-9]* (owner .*), ours is [0-9]*" "$TMP/a.log"
# A rejoins and the group splits the partitions again; then B leaves, so
# A also holds the partitions it was fenced on (paused then) and must
# read them on.
wait_until 30 'test "$(assigned a)" = 3 && test "$(assigned b)" = 3'
produce 12 16
kill -TERM "$B"
wait "$B"
RB=$?
check "B leaves: A takes all 6 partitions, the ones it was fenced on included" \
    wait_until 30 'test "$(assigned a)" = 6'
produce 16 20
wait_for 60 all_done
sleep 2
check "every incident is in PostgreSQL exactly once, $PER_SOURCE hits each in total" \
    test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))"
check "each of the $SOURCES sources has one incident of exactly $PER_SOURCE hits" \
    test "$(exact_sources)" = "$SOURCES"
tap_done || show_bad

kill -TERM "$A"
wait "$A"
RA=$?
check "both stop cleanly (exit $RA and $RB)" test "$RA.$RB" = 0.0
check "the last checkpoints cover the whole stream" \
    test "$(ckpt_covered)" = $((SOURCES * PER_SOURCE))
