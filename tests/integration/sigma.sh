#!/bin/sh
# Sigma rules (docs/sigma.md) through the real binary: the test rules of
# tests/rules/sigma verify their samples with the shipped mapping; an
# unsupported construct is an error at file:line:col naming it; a rule
# without a mapping is skipped and `check` says why; --sigma-report
# counts by reason; and the running daemon, fed by logger, opens an
# incident for a Sigma rule that the API shows with its metadata, and
# lists the rule on the rules route.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 14
S="$SENTINELD"
MAP="$SRCDIR/conf/sigma/linux.yaml"

"$S" test -r "$MAP" -r "$SRCDIR/tests/rules/sigma" --verify \
    "$SRCDIR/tests/rules/sigma/samples/constructs.log" 2>"$TMP/verify.out" >/dev/null
check "the Sigma test rules verify every sample with the shipped mapping" \
    grep -q '^verify: 0 sample mismatches, coverage complete$' "$TMP/verify.out"

C="$SRCDIR/tests/rules/sigma/corr"
"$S" test -r "$MAP" -r "$C" --verify "$C/samples/correlations.log" 2>"$TMP/corr.out" >/dev/null
check "Sigma correlations verify their signal samples" \
    grep -q '^verify: 0 sample mismatches, coverage complete$' "$TMP/corr.out"
"$S" test --json -r "$MAP" -r "$C" "$C/samples/correlations.log" >"$TMP/corr.json" 2>/dev/null
check "event_count, value_count, temporal_ordered fire as threshold, distinct, sequence with their window math" python3 -c "
import json
s={o['rule']:o for o in map(json.loads, open('$TMP/corr.json')) if 'kind' in o}
assert s['sgc-count']['kind']=='threshold' and s['sgc-count']['window']['threshold']==3, s['sgc-count']
assert s['sgc-count']['key']=={'source.ip':'203.0.113.5'}, s['sgc-count']['key']
assert s['sgc-count']['sigma']['correlation']=='event_count' and s['sgc-count']['sigma']['rules']==['sgc-fail']
assert s['sgc-users']['kind']=='distinct' and s['sgc-users']['window']['threshold']==3, s['sgc-users']
assert s['sgc-then']['kind']=='sequence' and len(s['sgc-then']['sequence'])==2, s['sgc-then']
assert s['sgc-count']['trace']['matched'] is True and len(s['sgc-count']['evidence']['first'])==3
"

mkdir -p "$TMP/bad" "$TMP/skip" "$TMP/state"
cat >"$TMP/bad/utf16.yml" <<'EOR'
title: Wide strings
id: bad-utf16
logsource: { product: linux, service: sshd }
detection:
  selection:
    CommandLine|utf16le|base64: 'x'
  condition: selection
EOR
"$S" test -r "$MAP" -r "$TMP/bad/utf16.yml" /dev/null >"$TMP/bad.out" 2>&1
rc=$?
check "an unsupported modifier stops the load (exit 2)" test "$rc" -eq 2
check "...with file:line:col and the modifier's name" grep -q \
    "utf16.yml:6:17: error: rule \"bad-utf16\": Sigma modifier \"utf16le\" is not supported" "$TMP/bad.out"

cat >"$TMP/bad/cond.yml" <<'EOR'
title: Aggregation
id: bad-agg
logsource: { product: linux, service: sshd }
detection:
  selection: ['x']
  condition: selection | count() > 5
EOR
"$S" test -r "$MAP" -r "$TMP/bad/cond.yml" /dev/null >"$TMP/cond.out" 2>&1
check "a deprecated aggregation is an error at its column" grep -q \
    "cond.yml:6:24: error: rule \"bad-agg\": aggregation expressions" "$TMP/cond.out"

cat >"$TMP/bad/temporal.yml" <<'EOR'
title: Unordered
id: bad-temporal
correlation:
  type: temporal
  rules: [sgc-fail, sgc-accept]
  timespan: 5m
EOR
"$S" test -r "$MAP" -r "$C" -r "$TMP/bad/temporal.yml" /dev/null >"$TMP/temporal.out" 2>&1
check "an unordered temporal correlation is an error naming it" grep -q \
    "temporal.yml:4:9: error: rule \"bad-temporal\": Sigma correlation type \"temporal\" (in any order) is not supported" "$TMP/temporal.out"

cat >"$TMP/skip/proc.yml" <<'EOR'
title: Process creation
id: skip-proc
logsource: { product: linux, category: process_creation }
detection:
  selection: { Image|endswith: '/nc' }
  condition: selection
level: high
EOR
cat >"$TMP/skip/field.yml" <<'EOR'
title: Unmapped field
id: skip-field
logsource: { product: linux, service: sshd }
detection:
  selection: { ParentImage: '/bin/sh' }
  condition: selection
level: high
EOR
p=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$p" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["udp://127.0.0.1:$(free_port)"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $MAP, $SRCDIR/tests/rules/sigma, $TMP/skip ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
"$S" check -c "$TMP/c.yaml" >"$TMP/check.out" 2>&1
check "check accepts a config whose Sigma rules are skipped" test $? -eq 0
check "...and lists each skipped rule with its reason" sh -c "
grep -q 'proc.yml:3:12: warning: rule \"skip-proc\": skipped: Sigma logsource product=linux category=process_creation has no mapping' '$TMP/check.out' &&
grep -q 'field.yml:5:16: warning: rule \"skip-field\": skipped: Sigma field \"ParentImage\" has no mapping for logsource product=linux service=sshd' '$TMP/check.out'"

cp "$TMP/bad/utf16.yml" "$TMP/skip/"
"$S" check --sigma-report "$TMP/skip" -r "$MAP" >"$TMP/report.out" 2>&1
rc=$?
check "--sigma-report counts loaded, skipped and failing rules (exit 1: errors)" sh -c "
test $rc -eq 1 && grep -q ': 3 files, 0 rules load, 2 skipped, 1 with errors$' '$TMP/report.out' &&
grep -q '^ *1  Sigma modifier \"utf16le\" is not supported' '$TMP/report.out' &&
grep -q '^ *1  Sigma logsource product=linux category=process_creation has no mapping' '$TMP/report.out'"
rm "$TMP/skip/utf16.yml"

# The daemon: logger -> in_syslog -> the Sigma rule sg-keywords (high:
# signals every match) -> an incident on the API.
sp=$(free_port)
cat >"$TMP/d.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$p" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $MAP, $SRCDIR/tests/rules/sigma ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
T=$("$S" token create --name v --role viewer -c "$TMP/d.yaml" 2>/dev/null)
start_daemon "$TMP/d.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$p/health" -o /dev/null
logger --server 127.0.0.1 --port "$sp" --tcp --rfc3164 -t "sshd[4711]" \
    "Disconnecting: bad client public DH value [preauth]"
api() { curl -sf -H "Authorization: Bearer $T" "http://127.0.0.1:$p$1"; }
wait_until 20 'api /api/v1/incidents | grep -q sg-keywords'
api /api/v1/incidents >"$TMP/inc.json"
check "a Sigma rule's match opens an incident visible on the API" python3 -c "
import json
d=json.load(open('$TMP/inc.json'))
i=[x for x in d['incidents'] if x['rule_id']=='sg-keywords']
assert len(i)==1 and i[0]['severity']=='high', i
assert i[0]['title']=='Keywords with wildcards and escapes', i"
id=$(python3 -c "
import json
print([x for x in json.load(open('$TMP/inc.json'))['incidents'] if x['rule_id']=='sg-keywords'][0]['id'])")
api "/api/v1/incidents/$id" >"$TMP/one.json"
check "the incident shows the Sigma metadata (status, references, falsepositives, tags)" python3 -c "
import json
s=json.dumps(json.load(open('$TMP/one.json')))
for w in ['\"status\": \"test\"', 'https://example.org/sigma-keywords', 'broken clients', 'attack.initial-access', '\"service\": \"sshd\"']:
    assert w in s, (w, s[:2000])"
api /api/v1/plugins/rules/rules >"$TMP/rules.json"
check "the rules route lists Sigma rules like native ones, with their metadata" python3 -c "
import json
d=json.load(open('$TMP/rules.json'))
r={x['id']:x for x in d['rules']}
assert len(r)==8 and r['sg-keywords']['matches']==1, r.keys()
k=r['sg-keywords']
assert k['sigma']['format']=='sigma' and k['sigma']['falsepositives']==['broken clients'], k
assert 'msg contains i\"Corrupted MAC on input\"' in k['match'], k['match']
assert 'title: Keywords with wildcards' in k['definition'], k['definition']
assert any('Corrupted MAC' in s['line'] for s in k['samples']), k['samples']"
stop_daemon
check "the daemon exits 0" test $? -eq 0
tap_done
