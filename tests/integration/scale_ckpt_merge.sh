#!/bin/sh
# Restore merges and re-evaluates (issue #19): a topic keyed by hostname,
# 20 attackers each failing 12 SSH passwords spread over 4 servers whose
# partitions are split between two detector instances (partitions 0 and 2
# on one, 3 and 5 on the other, as range and round-robin assignment both
# give). Each instance counts 6 failures per attacker: nothing fires (the
# split scale-out docs/scaling.md warns about). One instance is killed
# with -9; the survivor restores its partitions from their checkpoints
# and merges each attacker's 6 failures into the 6 it holds: the
# threshold of 10 is crossed by the merge and must fire then, once per
# attacker, with 10 hits. Before the fix the restored window replaced the
# survivor's and nothing ever fired.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/ckpt_lib.sh"
tap_plan 7

SOURCES=20
PER_SOURCE=12
ckpt_setup

# produce_hosts: failure i of every attacker goes to server i % 4, each
# server's lines to its own partition, keyed by the server's name.
produce_hosts() {
    for h in 0 1 2 3; do
        part=$(echo "0 2 3 5" | cut -d' ' -f$((h + 1)))
        python3 - "$SOURCES" "$PER_SOURCE" "$PREFIX" "$BASE" "$h" >"$TMP/h$h.tsv" <<'PY'
import sys, time
n, per, prefix, base, h = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                           int(sys.argv[4]), int(sys.argv[5]))
for i in range(h, per, 4):
    for s in range(n):
        ip = "%s.%d" % (prefix, s + 1)
        t = time.gmtime(base + i * 3 + s % 3)
        print("srv%d\t<38>1 %s.%06dZ srv%d sshd %d - - "
              "Failed password for user%d from %s port %d ssh2"
              % (h, time.strftime("%Y-%m-%dT%H:%M:%S", t), s, h, 1000 + s,
                 i, ip, 40000 + i))
PY
        kcat -b "$BOOTSTRAP" -t "$TOPIC" -p "$part" -P -K '	' -z none \
            -X linger.ms=20 <"$TMP/h$h.tsv" || return 1
    done
}

instance a
A=$DPID
wait_for 20 grep -q 'assigned 6 partitions' "$TMP/a.log"
instance b
B=$DPID
both() { [ "$(assigned a)" = 3 ] && [ "$(assigned b)" = 3 ]; }
check "two instances share the 6 partitions (3 each)" wait_for 30 both

produce_hosts
check "both instances consumed every failure" \
    wait_until 30 'test "$(consumed a b)" = $((SOURCES * PER_SOURCE))'
check "the checkpoints cover every failure" \
    wait_until 20 'test "$(ckpt_covered)" = $((SOURCES * PER_SOURCE))'
# The split: 6 failures of each attacker on each instance, none fires.
sleep 1
check "split 6 + 6 over two instances, no attacker is detected" \
    test "$(incidents)" = "0 0"

kill -9 "$A"
wait "$A" 2>/dev/null
check "the survivor takes over all 6 partitions" \
    wait_for 30 grep -q 'assigned 6 partitions' "$TMP/b.log"
check "every attacker is one incident of 10 hits once the windows merge" \
    wait_until 30 'test "$(incidents)" = "$SOURCES $((SOURCES * 10))"'
# Late deliveries would show as a second incident or more hits.
sleep 2
check "each of the $SOURCES attackers has exactly one incident with 10 hits" \
    test "$(q "select count(*) from (select group_key->>'source.ip' from incidents where $WHERE group by 1 having count(*) = 1 and sum(hit_count) = 10) x")" = "$SOURCES"
tap_done || show_bad
