#!/bin/sh
# Event search and analytics against the real daemon: syslog over TCP into
# out_history (<state_dir>/events.db), then GET /api/v1/events by host,
# app, rule, severity, text, extracted field and time range, cursor paging,
# exact counts per time bucket grouped by host, rule and a field, bad
# parameters refused with 400 bad_query, viewer allowed, no token 401, and
# retention by age and by row count.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 22

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", rate_limit: 1000 }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$sp" ], parser: auto }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/tests/data/rules/sshd.yaml ] }
outputs:
  - { name: h, plugin: out_history, max_age: 1d, max_rows: 1000 }
EOC
V=$("$SENTINELD" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"

# T0: a whole minute half an hour ago, so the default range (24 h) holds
# every event and buckets start on it.
T0=$(python3 -c 'import time; print((int(time.time()) // 60 - 30) * 60)')
NS=000000000
# send: RFC 5424 lines "OFFSET PRI HOST APP MSG" on stdin, over TCP.
send() {
    python3 -c '
import socket, sys, time
t0 = int(sys.argv[2]); out = []
for l in sys.stdin:
    off, pri, host, app, msg = l.rstrip("\n").split(" ", 4)
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + int(off)))
    out.append("<%s>1 %s %s %s 1 - - %s\n" % (pri, ts, host, app, msg))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall("".join(out).encode()); s.close()' "$sp" "$T0"
}
send <<'EOM'
0 38 web1 sshd Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2
10 38 web1 sshd Failed password for invalid user admin from 203.0.113.7 port 4243 ssh2
70 38 web1 sshd Failed password for invalid user admin from 203.0.113.7 port 4244 ssh2
20 38 web2 sshd Failed password for root from 198.51.100.9 port 22 ssh2
30 78 web1 cron (root) CMD (run-parts /etc/cron.hourly)
130 3 db1 kernel disk error on sda
200 190 web2 nginx GET / 200
-172800 38 old1 sshd two days old, past max_age
EOM

# get QUERY [TOKEN]: status code on stdout, body in $TMP/b.
get() {
    curl -s -o "$TMP/b" -w '%{http_code}' -H "Authorization: Bearer ${2-$V}" \
        "$U$1"
}
# n QUERY: events returned by a search.
n() {
    get "/api/v1/events?$1" >/dev/null
    python3 -c "import json; print(json.load(open('$TMP/b'))['count'])"
}
check "seven events stored and searchable" wait_until 10 'test "$(n "")" = 7'
check "by host: web1 has 4" test "$(n host=web1)" = 4
check "by app: cron has 1" test "$(n app=cron)" = 1
check "by rule: 4 ssh-auth-failure" test "$(n rule=ssh-auth-failure)" = 4
check "by extracted field source.ip" test "$(n field=source.ip=203.0.113.7)" = 3
check "two field filters must both match" \
    test "$(n 'field=user.name=root&field=source.ip=198.51.100.9')" = 1
check "by severity name (err) and by text" \
    test "$(n severity=err)$(n q=disk)$(n 'q=nothing%20like%20this')" = 110
check "by time range, newest first, with the event JSON" sh -c "
    [ \"\$(curl -s -o '$TMP/tr' -w '%{http_code}' -H 'Authorization: Bearer $V' \
        '$U/api/v1/events?since=$((T0 + 60))$NS&until=$((T0 + 200))$NS')\" = 200 ] &&
    python3 -c \"
import json; d = json.load(open('$TMP/tr'))
e = [x['event'] for x in d['events']]
assert [x['hostname'] for x in e] == ['db1', 'web1'], e
assert d['events'][0]['time_ns'] == ($T0 + 130) * 10**9, d
assert e[1]['fields']['source.port'] == 4244, e[1]\""
check "the age retention drops an event older than max_age" \
    test "$(n "since=$((T0 - 200000))$NS&host=old1")" = 0

check "cursor paging visits every event once" python3 -c "
import json, urllib.request
seen, cur = [], None
while True:
    q = '$U/api/v1/events?limit=3' + ('&cursor=' + cur if cur else '')
    r = urllib.request.Request(q, headers={'Authorization': 'Bearer $V'})
    d = json.load(urllib.request.urlopen(r))
    assert d['count'] <= 3
    seen += [e['id'] for e in d['events']]
    cur = d['next_cursor']
    if cur is None: break
assert len(seen) == 7 == len(set(seen)), seen"

# counts QUERY PYTHON-ASSERTION over d (the reply).
counts() {
    [ "$(get "/api/v1/events/counts?since=$T0$NS&until=$((T0 + 180))$NS&bucket=60s&$1")" = 200 ] &&
        python3 -c "
import json; d = json.load(open('$TMP/b'))
s = {x['key']: x['counts'] for x in d['series']}
$2" 2>>"$TMP/counts.err"
}
check "counts per minute grouped by host are exact" counts group_by=host \
    "assert d['total'] == 6 and len(d['buckets']) == 3, d
assert d['buckets'][1] - d['buckets'][0] == 60 * 10**9, d
assert s == {'web1': [3, 1, 0], 'web2': [1, 0, 0], 'db1': [0, 0, 1]}, s
assert d['series'][0]['key'] == 'web1' and d['series'][0]['total'] == 4, d"
check "counts grouped by rule (null: no rule)" counts group_by=rule \
    "assert s == {'ssh-auth-failure': [3, 1, 0], None: [1, 0, 1]}, s"
check "counts grouped by an extracted field, top 1 and other" \
    counts 'group_by=source.ip&top=1' \
    "assert s == {'203.0.113.7': [2, 1, 0]} and d['other'] == 3, d"
check "counts ungrouped with a filter" counts 'app=sshd' \
    "assert s == {None: [3, 1, 0]} and d['group_by'] is None, d"
cat "$TMP/counts.err" 2>/dev/null | sed 's/^/# /'

# bad QUERY [ROUTE]: 400 with code bad_query naming the parameter.
bad() {
    [ "$(get "${2-/api/v1/events}?$1")" = 400 ] &&
        grep -q '"code":"bad_query"' "$TMP/b" && grep -q "$3" "$TMP/b"
}
check "limit out of range: 400 bad_query" bad limit=0 /api/v1/events limit
check "limit above 1000: 400" bad limit=1001 /api/v1/events limit
ok_all=0
for q in "since=yesterday since" "since=20$NS&until=10$NS since" \
    "colour=red colour" "field=nokey field" "severity=loud severity" \
    "cursor=x cursor"; do
    set -- $q
    bad "$1" /api/v1/events "$2" || { ok_all=1; diag "not refused: $1"; }
done
check "bad time, reversed range, unknown parameter, bad field/severity/cursor: 400" \
    test $ok_all -eq 0
ok_all=0
for q in "bucket=soon bucket" "bucket=1s buckets" "group_by=a;b group_by" \
    "top=99 top"; do
    set -- $q
    bad "$1" /api/v1/events/counts "$2" || { ok_all=1; diag "not refused: $1"; }
done
check "counts: bad bucket, too many buckets, bad group_by, top: 400" \
    test $ok_all -eq 0
check "no token: 401; unknown token: 401" sh -c "
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' '$U/api/v1/events')\" = 401 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' '$U/api/v1/events/counts')\" = 401 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer snt_nope' '$U/api/v1/events')\" = 401 ]"

# Row retention: 1500 more events; the store keeps the newest 1000.
seq 1 1500 | sed 's/^\(.*\)$/\1 14 bulk app bulk event \1/' | send
check "row retention keeps max_rows, newest first" wait_until 10 '
    [ "$(get "/api/v1/events/counts?since=$((T0 - 3600))$NS")" = 200 ] &&
    grep -q "\"total\":1000," "$TMP/b" && test "$(n "host=bulk&limit=1")" = 1 &&
    grep -q "bulk event 1500" "$TMP/b"'
check "history counters on /metrics" sh -c "
    curl -s '$U/metrics' | grep -q '^sentineld_plugin_history_events_total{instance=\"h\"} 1508' &&
    curl -s '$U/metrics' | grep -q '^sentineld_plugin_history_pruned_total{instance=\"h\"} 508'"
stop_daemon
check "daemon stops cleanly" test $? -eq 0
tap_done
