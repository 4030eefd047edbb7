#!/bin/sh
# in_file -> parse_raw/parse_json -> out_file end to end with the real
# binary: every line arrives once and in order, JSON fields map into the
# schema, a followed file is read across rotation and truncation, and a
# restart resumes from the saved position without duplicates.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 11

python3 -c "
with open('$TMP/in.log','w') as f:
    for i in range(20000): f.write('line %06d \\u00e9 \"quoted\" \\\\ end\\n' % i)
    f.write('last line without newline')
"
cat >"$TMP/batch.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
"$SENTINELD" run -c "$TMP/batch.yaml" --oneshot 2>"$TMP/batch.log"
check "oneshot run exits 0" test $? -eq 0
check "all 20001 lines delivered once, in order, escaped" python3 -c "
import json
msgs=[json.loads(l)['msg'] for l in open('$TMP/out.json')]
want=['line %06d \u00e9 \"quoted\" \\\\ end' % i for i in range(20000)]+['last line without newline']
assert msgs==want, (len(msgs), msgs[:2])
"
check "summary logs the counts" grep -q "input 'f': 20001 received, 20001 parsed, 0 rejected, 0 dropped" "$TMP/batch.log"

printf '%s\n' '{"hostname":"web1","app":"nginx","msg":"GET /","source":{"ip":"203.0.113.7","port":4242},"pri":14}' 'not json' '{"msg":"after"}' >"$TMP/in.json"
cat >"$TMP/json.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: j, plugin: in_file, path: $TMP/in.json, parser: json, keep_position: false }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out2.json }
EOC
"$SENTINELD" run -c "$TMP/json.yaml" --oneshot 2>"$TMP/json.log"
check "parse_json maps header keys and flattens fields" python3 -c "
import json
rows=[json.loads(l) for l in open('$TMP/out2.json')]
assert len(rows)==2, rows
r=rows[0]
assert r['hostname']=='web1' and r['appname']=='nginx' and r['msg']=='GET /' and r['pri']==14 and r['severity']==6, r
assert r['fields']=={'source.ip':'203.0.113.7','source.port':4242}, r['fields']
assert rows[1]['msg']=='after'
"
check "the malformed line is logged with its offset and counted" grep -q "input 'j': rejected record from $TMP/in.json (source offset 99): parse_json at byte 1: invalid JSON" "$TMP/json.log"

# parse_auto decides per line: RFC 5424, JSON, RFC 3164 (and 5424 that
# fails strict parsing falls back to 3164).
cat >"$TMP/mixed.log" <<'EOL'
<34>1 2026-11-23T10:00:00.5+01:00 web1 sshd 42 ID7 [meta@32473 a="1" a="2"] Failed password
{"hostname":"db1","msg":"from json","user":{"name":"alice"}}
<38>Nov 23 12:00:01 web2 sudo[77]: alice : TTY=pts/0 ; COMMAND=/bin/ls
<13>1 2026-13-01T00:00:00Z bad-month app - - - oops
EOL
cat >"$TMP/auto.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: m, plugin: in_file, path: $TMP/mixed.log, parser: auto, keep_position: false }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out4.json }
EOC
"$SENTINELD" run -c "$TMP/auto.yaml" --oneshot 2>"$TMP/auto.log"
check "parse_auto parses RFC 5424, JSON and RFC 3164 lines" python3 -c "
import json
r=[json.loads(l) for l in open('$TMP/out4.json')]
assert len(r)==4, r
a=r[0]; assert (a['version'],a['hostname'],a['appname'],a['procid'],a['msgid'],a['msg'])==(1,'web1','sshd','42','ID7','Failed password'), a
assert a['sd']=={'meta@32473':{'a':['1','2']}} and a['timestamp_utc_ns']==1795424400500000000, a
assert r[1]['hostname']=='db1' and r[1]['fields']=={'user.name':'alice'}, r[1]
c=r[2]; assert (c['hostname'],c['appname'],c['procid'],c['severity'])==('web2','sudo','77',6), c
assert r[3]['version'] is None and 'rfc5424 rejected; parsed as rfc3164' in r[3]['notes'], r[3]
"

# Follow mode: append, rotate (rename + new file), truncate.
: >"$TMP/live.log"
cat >"$TMP/follow.yaml" <<EOC
daemon: { state_dir: $TMP/fstate }
http: { enabled: false }
inputs:
  - { name: live, plugin: in_file, path: $TMP/live.log, follow: true, poll_interval: 20ms }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out3.json }
EOC
start_daemon "$TMP/follow.yaml" "$TMP/follow.log"
for i in 1 2 3; do echo "a$i" >>"$TMP/live.log"; done
wait_until 5 'test "$(lines "$TMP/out3.json")" -eq 3'
check "appended lines are read" test "$(lines "$TMP/out3.json")" -eq 3
echo "a4" >>"$TMP/live.log"
mv "$TMP/live.log" "$TMP/live.log.1"
echo "b1" >"$TMP/live.log"
wait_until 5 'test "$(lines "$TMP/out3.json")" -eq 5'
check "rotation: old file finished, new file read" python3 -c "
import json
assert [json.loads(l)['msg'] for l in open('$TMP/out3.json')]==['a1','a2','a3','a4','b1']"
: >"$TMP/live.log"
sleep 0.2
echo "c1" >>"$TMP/live.log"
wait_until 5 'test "$(lines "$TMP/out3.json")" -eq 6'
check "truncation: reading starts again at 0" test "$(tail -n1 "$TMP/out3.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["msg"])')" = c1
stop_daemon
check "SIGTERM stops with exit 0" test $? -eq 0
# Restart: the saved position means nothing is read twice.
echo "c2" >>"$TMP/live.log"
start_daemon "$TMP/follow.yaml" "$TMP/follow2.log"
wait_until 5 'test "$(lines "$TMP/out3.json")" -eq 7'
sleep 0.3
stop_daemon
check "restart resumes at the saved position (no duplicates)" python3 -c "
import json
m=[json.loads(l)['msg'] for l in open('$TMP/out3.json')]
assert m==['a1','a2','a3','a4','b1','c1','c2'], m"
tap_done
