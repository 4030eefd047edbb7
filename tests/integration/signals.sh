#!/bin/sh
# Signals and lifecycle with the real binary: pidfile, /health and
# /metrics, SIGHUP with a broken config keeps the old pipeline, SIGHUP with
# a good one applies it, SIGTERM drains everything already read.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 9

port=$(free_port)
: >"$TMP/in.log"
write_conf() {
    cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$port" }
inputs:
  - { name: live, plugin: in_file, path: $TMP/in.log, follow: true, poll_interval: 20ms }
outputs:
  - { name: o, plugin: out_file, path: $1 }
EOC
}
write_conf "$TMP/out1.json"
"$SENTINELD" run -c "$TMP/c.yaml" --pidfile "$TMP/pid" 2>"$TMP/log" &
DPID=$!
PIDS="$DPID"
wait_for 5 test -s "$TMP/pid"
check "pidfile holds the daemon's pid" test "$(cat "$TMP/pid")" = "$DPID"
wait_for 30 curl -sf "http://127.0.0.1:$port/health" -o "$TMP/health"
check "/health answers" grep -q '"status":"ok"' "$TMP/health"
echo one >>"$TMP/in.log"
wait_until 5 'test "$(lines "$TMP/out1.json")" -eq 1'
curl -sf "http://127.0.0.1:$port/metrics" >"$TMP/metrics"
check "/metrics counts received records" grep -q '^sentineld_input_records_total{instance="live"} 1$' "$TMP/metrics"

# A broken config: the reload is refused and the old pipeline keeps going.
cp "$TMP/c.yaml" "$TMP/good.yaml"
printf 'inputs:\n  - plugin: in_file\n    path: /x\n    bogus: 1\n' >"$TMP/c.yaml"
kill -HUP "$DPID"
wait_for 5 grep -q "reload failed" "$TMP/log"
check "bad reload is logged with file:line:col" grep -q "c.yaml:4:5: unknown option 'bogus' for plugin in_file" "$TMP/log"
echo two >>"$TMP/in.log"
wait_until 5 'test "$(lines "$TMP/out1.json")" -eq 2'
check "old pipeline still running after a failed reload" test "$(lines "$TMP/out1.json")" -eq 2

# A good config: applied atomically.
write_conf "$TMP/out2.json"
kill -HUP "$DPID"
wait_for 5 grep -q "reload complete" "$TMP/log"
echo three >>"$TMP/in.log"
wait_until 5 'test "$(lines "$TMP/out2.json")" -ge 1'
check "new config applied after a good reload" grep -q '"msg":"three"' "$TMP/out2.json"
curl -sf "http://127.0.0.1:$port/metrics" >"$TMP/metrics"
check "reload failures are counted" grep -q '^sentineld_reload_failures_total 1$' "$TMP/metrics"

# SIGTERM while a large file is being read: what was read is delivered.
python3 -c "
with open('$TMP/in.log','a') as f:
    for i in range(200000): f.write('bulk %d\n' % i)"
sleep 0.3
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM exits 0" test $? -eq 0
check "everything counted as received was delivered" python3 -c "
import re
log=open('$TMP/log').read()
r=re.findall(r\"input 'live': (\d+) received\", log)[-1]
d=re.findall(r\"output 'o': (\d+) delivered\", log)[-1]
# Counters survive reloads: the two lines written before it count too.
n=sum(1 for _ in open('$TMP/out1.json'))+sum(1 for _ in open('$TMP/out2.json'))
assert int(r)==int(d)==n, (r,d,n)"
tap_done
