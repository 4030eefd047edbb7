#!/bin/sh
# in_file across kill -9: the position it saves is that of the lines
# processed, not only read. An output that does not take what it is
# given (a named pipe nobody reads) keeps 20,000 lines in the pipeline;
# the daemon is killed; a restart with a working output must deliver
# every line (read again), none skipped. A clean stop then saves the
# end: a third run reads nothing twice. An output file left ending in an
# unfinished line (a crash inside a write) is cut back to whole lines at
# the next start, so the next document does not run into it.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

python3 -c "
with open('$TMP/in.log','w') as f:
    for i in range(20000): f.write('line %06d\\n' % i)
"
mkfifo "$TMP/stuck"
# Opens the pipe (so the daemon's open does not block) and never reads.
python3 -c "import os,time; fd=os.open('$TMP/stuck', os.O_RDONLY); time.sleep(300)" &
RPID=$!
PIDS="$PIDS $RPID"
PORT=$(free_port)
cat >"$TMP/stuck.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { listen: "127.0.0.1:$PORT" }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, follow: true, poll_interval: 20ms }
outputs:
  - { name: o, plugin: out_file, path: $TMP/stuck }
EOC
start_daemon "$TMP/stuck.yaml" "$TMP/stuck.log"
read_all() {
    curl -sf "http://127.0.0.1:$PORT/metrics" |
        grep -q '^sentineld_input_records_total{instance="f"} 20000$'
}
wait_for 20 read_all
check "all 20000 lines were read into the pipeline" read_all
# Two position saves (every second) while the output holds everything.
sleep 2.5
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
kill "$RPID" 2>/dev/null

cat >"$TMP/ok.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
"$SENTINELD" run -c "$TMP/ok.yaml" --oneshot 2>"$TMP/ok.log"
check "the restart exits 0" test $? -eq 0
check "every line read but not processed before the kill is read again" \
    python3 -c "
import json
got = set(json.loads(l)['msg'] for l in open('$TMP/out.json'))
missing = [i for i in range(20000) if 'line %06d' % i not in got]
assert not missing, (len(missing), missing[:3])
"
before=$(lines "$TMP/out.json")
echo "line 020000" >>"$TMP/in.log"
"$SENTINELD" run -c "$TMP/ok.yaml" --oneshot 2>"$TMP/ok2.log"
check "after a clean stop, the next run reads only the new line" \
    test "$(lines "$TMP/out.json")" -eq $((before + 1))
check "and it is the new line" \
    test "$(tail -n1 "$TMP/out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["msg"])')" = "line 020000"

# What a crash inside out_file's write leaves: the last line cut short.
size=$(stat -c %s "$TMP/out.json")
truncate -s $((size - 9)) "$TMP/out.json"
echo "line 020001" >>"$TMP/in.log"
"$SENTINELD" run -c "$TMP/ok.yaml" --oneshot 2>"$TMP/ok3.log"
check "the unfinished line is cut off: every line is one JSON document, the new one last" \
    python3 -c "
import json
rows = [json.loads(l) for l in open('$TMP/out.json')]
assert rows[-1]['msg'] == 'line 020001', rows[-1]
assert rows[-2]['msg'] == 'line 019999', rows[-2]
"
check "the cut is logged with the file and offset" \
    grep -q "out.json ended in an unfinished line ([0-9]* bytes at offset [0-9]*" "$TMP/ok3.log"
tap_done
