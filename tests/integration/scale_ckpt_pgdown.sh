#!/bin/sh
# Partition checkpoints while PostgreSQL is down (docs/kafka.md): the
# checkpoints, and so the Kafka commits behind them, are deferred (counted,
# logged once), never skipped; when PostgreSQL is back the next checkpoint
# covers everything. Then the instance is killed with kill -9 and a new
# one takes the partitions over from those checkpoints: every incident
# exactly once with hit_count 20.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 8

ckpt_setup
# A password in the DSN (trust auth ignores it) that no log line may show.
CKPT_DSN="postgresql://sentineld:s3cret-pw@127.0.0.1:$PGPORT/postgres"
instance a
A=$DPID
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
produce 0 5
wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * 5))'
COMMITS=$(metric kafka_commits_total a)

pg_stop
produce 5 10
wait_until 20 'test "$(consumed a)" = $((SOURCES * 10))'
check "PostgreSQL down: checkpoints are deferred and counted" \
    wait_until 20 'test "$(metric kafka_checkpoints_deferred_total a)" -ge 5'
check "... and no offset is committed to Kafka meanwhile" \
    test "$(metric kafka_commits_total a)" = "$COMMITS"
check "the outage is logged once, naming the server but not the password" \
    test "$(grep -c "checkpoints: .* on PostgreSQL 127.0.0.1:$PGPORT/postgres: .*offset commits wait" "$TMP/a.log")" = 1 -a \
    "$(grep -c 's3cret-pw' "$TMP/a.log")" = 0

pg_start || { not_ok "PostgreSQL starts again"; exit 1; }
check "PostgreSQL back: the next checkpoint covers all 10 failures per source" \
    wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * 10))'
check "the recovery is logged" grep -q 'checkpoints: PostgreSQL .* works again' "$TMP/a.log"

kill -9 "$A"
wait "$A" 2>/dev/null
instance b
B=$DPID
check "a new instance restores the 6 partitions from their checkpoints" \
    wait_until 30 'test "$(metric kafka_checkpoint_restores_total b)" -ge 6'
produce 10 20
wait_for 40 all_done
sleep 2
check "every incident is in PostgreSQL exactly once with $PER_SOURCE hits" \
    test "$(incidents)" = "$SOURCES $((SOURCES * PER_SOURCE))" -a \
    "$(exact_sources)" = "$SOURCES"
tap_done || show_bad
DPID=$B
stop_daemon
check "it stops cleanly" test $? -eq 0
