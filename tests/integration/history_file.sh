#!/bin/sh
# out_history's file: a second out_history instance (it would write the
# same <state_dir>/events.db) is refused by `sentineld check` with its
# file:line:col; an events.db deleted while the daemon runs is noticed at
# the next batch, logged, counted, and created afresh, and the search API
# follows the new file instead of answering from the deleted one.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 8

hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/two.yaml" <<EOC
daemon: { state_dir: $TMP/state }
inputs:
  - { name: api, plugin: in_http }
outputs:
  - { name: history, plugin: out_history }
  - { name: again, plugin: out_history, max_rows: 5000 }
EOC
"$SENTINELD" check -c "$TMP/two.yaml" 2>"$TMP/err"
check "a second out_history: check fails" test $? -ne 0
check "with file:line:col naming both instances" grep -q \
    "^$TMP/two.yaml:6:5: error: output 'again': a second out_history instance (the first is 'history', line 5) would write the same file under daemon.state_dir; keep one" "$TMP/err"

cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", auth: false }
inputs:
  - { name: api, plugin: in_http }
outputs:
  - { name: history, plugin: out_history }
EOC
start_daemon "$TMP/c.yaml" "$TMP/log"
U="http://127.0.0.1:$hp"
wait_for 30 curl -sf "$U/health" -o /dev/null
# post MSG...: one event per argument through POST /api/v1/events.
post() {
    python3 -c '
import json, sys
print(json.dumps([{"host": "h1", "app": "a", "msg": m} for m in sys.argv[1:]]))' "$@" |
        curl -s -o /dev/null -w '%{http_code}' --data-binary @- "$U/api/v1/events"
}
# found: the msgs GET /api/v1/events returns, sorted, space-separated.
found() {
    curl -s "$U/api/v1/events?limit=100" | python3 -c '
import json, sys
print(" ".join(sorted(e["event"]["msg"] for e in json.load(sys.stdin)["events"])))'
}
metric() {
    curl -s "$U/metrics" | awk -v k="$1" 'index($0, k" ") == 1 { print $2 }'
}
post one two three >/dev/null
wait_until 20 'test "$(found)" = "one three two"'
check "events are searchable before the deletion" test "$(found)" = "one three two"

rm -f "$TMP/state/events.db"
post four five >/dev/null
wait_until 20 'test "$(found 2>/dev/null)" = "five four"'
check "after the deletion the search answers from the new file" test "$(found)" = "five four"
check "the deletion is logged" grep -q "events.db was deleted while open: opening it afresh" "$TMP/log"
check "and counted" test "$(metric 'sentineld_plugin_history_reopened_total{instance="history"}')" = 1
check "the new file holds the new events only" python3 -c "
import sqlite3
n = sqlite3.connect('$TMP/state/events.db').execute('select count(*) from events').fetchone()[0]
assert n == 2, n"
stop_daemon
check "the daemon stops cleanly" test $? -eq 0
tap_done
