#!/bin/sh
# `when_full: drop` on an event output that cannot keep up (the SQLite
# event history under a flood): the other outputs and the inputs go at
# full speed, and every event the slow output did not get is counted as
# dropped, never lost silently. Without it (block, the default) the slow
# output gets everything and slows the pipeline down instead.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 5
N=100000
python3 -c "
for i in range($N): print('<13>1 2026-11-23T10:00:00Z h app - - - line %06d' % i)" >"$TMP/in.log"
conf() { # MODE
    cat <<EOC
daemon: { state_dir: $TMP/state-$1, workers: 2 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: rfc5424 }
outputs:
  - { name: all, plugin: out_file, path: $TMP/all-$1.json }
  - { name: history, plugin: out_history, when_full: $1 }
EOC
}
summary() { # LOG OUTPUT FIELD: the number before FIELD in the stop summary
    sed -n "s/.*output '$2': \([0-9]*\) delivered, \([0-9]*\) failed, \([0-9]*\) dropped.*/\1 \3/p" "$1"
}
for m in drop block; do
    mkdir -p "$TMP/state-$m"
    conf $m >"$TMP/$m.yaml"
    "$SENTINELD" run -c "$TMP/$m.yaml" --oneshot 2>"$TMP/$m.log"
done
set -- $(summary "$TMP/drop.log" history)
diag "drop: history delivered $1, dropped $2"
check "drop: the fast output got every event" test "$(lines "$TMP/all-drop.json")" -eq $N
check "drop: delivered + dropped = every event (nothing unaccounted)" test $(($1 + $2)) -eq $N
check "drop: the history fell behind and said so (dropped > 0, logged)" \
    sh -c "[ $2 -gt 0 ] && grep -q \"output 'history' cannot keep up\" '$TMP/drop.log'"
set -- $(summary "$TMP/block.log" history)
check "block: the history got every event" test "$1" -eq $N -a "$2" -eq 0
check "block: so did the fast output" test "$(lines "$TMP/all-block.json")" -eq $N
tap_done
