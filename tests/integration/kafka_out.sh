#!/bin/sh
# out_kafka with the mock Kafka cluster: events from in_file reach a
# 6-partition topic once each, keyed by key_field (one key, one partition),
# compressed; a broker outage in the middle of a stream loses nothing; the
# configuration is validated (kafka.* passthrough, the idempotent producer
# cannot be switched off). kcat reads the topic independently.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
tap_plan 11

start_broker -b 3 -t events:6 -t sentineld.alerts:1
check "mock broker prints a bootstrap address" test -n "$BOOTSTRAP"

N=20000
python3 -c "
with open('$TMP/in.log','w') as f:
    for i in range($N):
        f.write('<38>1 2026-11-23T10:00:00Z host%02d sshd %d - - event %06d\n' % (i % 50, i, i))
"
cat >"$TMP/out.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: rfc5424 }
outputs:
  - name: k
    plugin: out_kafka
    brokers: "$BOOTSTRAP"
    topic: events
    key_field: host.name
    compression: lz4
    kafka.client.id: sentineld-test
EOC
"$SENTINELD" run -c "$TMP/out.yaml" --oneshot 2>"$TMP/out.log"
check "oneshot run exits 0" test $? -eq 0
timeout 30 kcat -b "$BOOTSTRAP" -C -t events -e -q -f '%p\t%k\t%s\n' >"$TMP/got.tsv" 2>"$TMP/kcat.log"
check "kcat reads all $N events exactly once, keyed by hostname, one partition per key" python3 -c "
import json, collections
seen=collections.Counter(); part={}
for line in open('$TMP/got.tsv'):
    p,k,v=line.rstrip('\n').split('\t',2)
    e=json.loads(v)
    assert e['hostname']==k, (k, e['hostname'])
    assert part.setdefault(k,p)==p, ('key on two partitions', k)
    seen[e['msg']]+=1
want={'event %06d' % i for i in range($N)}
assert set(seen)==want and max(seen.values())==1, (len(seen), max(seen.values()))
assert len(set(part.values()))>1, 'all keys on one partition'
"

# Bad configuration: clear errors naming the key.
sed 's/kafka.client.id: sentineld-test/kafka.enable.idempotence: "false"/' "$TMP/out.yaml" >"$TMP/bad1.yaml"
"$SENTINELD" run -c "$TMP/bad1.yaml" --oneshot 2>"$TMP/bad1.log"
check "the idempotent producer cannot be switched off" grep -q "kafka.enable.idempotence: must be true" "$TMP/bad1.log"
sed 's/kafka.client.id: sentineld-test/kafka.no.such.setting: 1/' "$TMP/out.yaml" >"$TMP/bad2.yaml"
"$SENTINELD" run -c "$TMP/bad2.yaml" --oneshot 2>"$TMP/bad2.log"
check "an unknown librdkafka setting is an error naming it" grep -q "kafka.no.such.setting: No such configuration property" "$TMP/bad2.log"

# Outage: the brokers go down mid-stream and come back; nothing is lost.
: >"$TMP/live.log"
port=$(free_port)
cat >"$TMP/live.yaml" <<EOC
daemon: { state_dir: $TMP/state2, workers: 2 }
http: { listen: "127.0.0.1:$port" }
inputs:
  - { name: f, plugin: in_file, path: $TMP/live.log, follow: true, poll_interval: 50ms, parser: rfc5424 }
outputs:
  - { name: k, plugin: out_kafka, brokers: "$BOOTSTRAP", topic: live, key_field: procid }
EOC
start_daemon "$TMP/live.yaml" "$TMP/live.err"
python3 -c "
import time
with open('$TMP/live.log','a') as f:
    for i in range(3000):
        f.write('<38>1 2026-11-23T10:00:00Z h sshd %d - - live %05d\n' % (i, i))
        if i % 500 == 0: f.flush(); time.sleep(0.1)
"
sleep 0.5
kill -USR1 "$BROKER_PID"
python3 -c "
with open('$TMP/live.log','a') as f:
    for i in range(3000, 6000):
        f.write('<38>1 2026-11-23T10:00:00Z h sshd %d - - live %05d\n' % (i, i))
"
sleep 3
kill -USR2 "$BROKER_PID"
wait_for 40 sh -c "[ \$(timeout 10 kcat -b '$BOOTSTRAP' -C -t live -e -q -f 'x\n' 2>/dev/null | wc -l) -ge 6000 ]"
curl -s "http://127.0.0.1:$port/metrics" >"$TMP/metrics.txt"
stop_daemon
check "daemon stops cleanly after the outage" test $? -eq 0
timeout 30 kcat -b "$BOOTSTRAP" -C -t live -e -q -f '%s\n' >"$TMP/live.json" 2>/dev/null
check "all 6000 events survive the broker outage, none twice" python3 -c "
import json, collections
c=collections.Counter(json.loads(l)['msg'] for l in open('$TMP/live.json'))
assert set(c)=={'live %05d' % i for i in range(6000)}, len(c)
assert max(c.values())==1, [k for k,v in c.items() if v>1][:5]
"
check "/metrics counts the acknowledged messages and shows the queue depth" python3 -c "
m={}
for l in open('$TMP/metrics.txt'):
    if l.startswith('sentineld_plugin_kafka'):
        k,v=l.rsplit(' ',1); m[k.split('{')[0]]=float(v)
assert m['sentineld_plugin_kafka_produced_total']>=6000, m
assert 'sentineld_plugin_kafka_queue_depth' in m and 'sentineld_plugin_kafka_delivery_errors_total' in m, m
"

# Incidents: deliver() of incident versions (tests/tools/kafka_deliver
# drives the plugin as the relay does, waiting for the acknowledgements),
# keyed by incident id with rule_id/severity/version headers; the brokers
# are down when delivery starts and come back 2 s later.
python3 -c "
import json, uuid
for v in (1, 2, 3):
    for i in range(50):
        print(json.dumps({'type':'incident','id':str(uuid.UUID(int=i+1)),'version':v,
            'rule_id':'ssh-brute-force','title':'SSH brute force',
            'severity':['medium','high','critical'][v-1],'status':'open',
            'group_key':{'source.ip':'203.0.113.%d' % i},'hit_count':10*v,
            'explanation':{'window':{'count':10*v}}}))
" >"$TMP/docs.jsonl"
kill -USR1 "$BROKER_PID"
"$BUILDDIR/tests/tools/kafka_deliver" "$BUILDDIR/.plugins/out_kafka.so" "$BOOTSTRAP" \
    <"$TMP/docs.jsonl" >"$TMP/deliver.out" 2>"$TMP/deliver.err" &
DELIVER=$!
sleep 2
kill -USR2 "$BROKER_PID"
wait "$DELIVER"
check "every incident batch is acknowledged OK once the brokers are back" \
    sh -c "[ \$(grep -c ': OK\$' '$TMP/deliver.out') -eq 2 ] && ! grep -q FAIL '$TMP/deliver.out'"
timeout 30 kcat -b "$BOOTSTRAP" -C -t sentineld.alerts -e -q -f '%k\t%h\t%s\n' >"$TMP/alerts.tsv" 2>/dev/null
check "kcat reads all 150 incident versions on sentineld.alerts, keyed by id, with headers" python3 -c "
import json
rows=[l.rstrip('\n').split('\t',2) for l in open('$TMP/alerts.tsv')]
got={}
for k,h,v in rows:
    d=json.loads(v); hd=dict(x.split('=',1) for x in h.split(','))
    assert k==d['id'] and hd=={'rule_id':'ssh-brute-force','severity':d['severity'],'version':str(d['version'])}, (k,h)
    got.setdefault(k,[]).append(d['version'])
assert len(got)==50 and all(sorted(set(v))==[1,2,3] for v in got.values()), got
"
check "versions of one incident arrive in order" python3 -c "
vs={}
for l in open('$TMP/alerts.tsv'):
    k,h,v=l.split('\t',2)
    ver=int(dict(x.split('=',1) for x in h.split(','))['version'])
    assert ver>=vs.get(k,0), (k, ver, vs.get(k)); vs[k]=ver
"
