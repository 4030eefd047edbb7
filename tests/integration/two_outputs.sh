#!/bin/sh
# Two event outputs on one pipeline each get every event: a batch sits in
# both output queues at once, so those queues must not link batches
# through batch->next (they did, and under load batches vanished: the
# stop then waited out shutdown_timeout and counted them as dropped).
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 3

python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write("line %d padding-padding-padding-padding-padding\n" % i)' "$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { workers: 1, state_dir: $TMP/state, shutdown_timeout: 5s }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, keep_position: false, parser: raw }
outputs:
  - { name: a, plugin: out_file, path: $TMP/a.json }
  - { name: b, plugin: out_null }
  - { name: c, plugin: out_file, path: $TMP/c.json }
EOC
"$SENTINELD" run -c "$TMP/c.yaml" --oneshot 2>"$TMP/log"
check "the daemon exits 0" test $? -eq 0
check "every output delivered all 200000 events, none dropped" sh -c "
    [ \$(grep -c ': 200000 delivered, 0 failed, 0 dropped' '$TMP/log') -eq 3 ] &&
    ! grep -q undelivered '$TMP/log'"
check "both files hold every line once" sh -c "
    [ \$(sort -u '$TMP/a.json' | wc -l) -eq 200000 ] && [ \$(sort -u '$TMP/c.json' | wc -l) -eq 200000 ]"
grep -E 'undelivered|delivered' "$TMP/log" | sed 's/^/# /'
tap_done
