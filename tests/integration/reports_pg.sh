#!/bin/sh
# GET /api/v1/reports from PostgreSQL (out_postgres `reports: true`,
# docs/reports.md "Which store"): the real daemon fed by logger over TCP
# opens brute-force, spraying and auth-failure incidents (several rules
# and severities), an operator acknowledges, resolves and suppresses some
# through the API and the quiet period auto-resolves the rest. Once
# PostgreSQL holds every version, the report answered from PostgreSQL
# (the default with `reports: true`) equals the one from the daemon's own
# store (`source=local`) per day and per week, up to PostgreSQL's µs
# times (±1 ms on durations); the 400s come before any query; /health
# stays fast while the report waits on a table lock and the report is
# answered late; a client that leaves meanwhile costs nothing (its answer
# goes to a closed connection; ASan checks the daemon at exit); a reload
# answers a waiting report (503) and the new pipeline answers the next;
# PostgreSQL down is a 503 naming the source. A second instance writing
# into the same tables shows in the first one's report from PostgreSQL
# and not in its own store's, and the post-incident review of one of its
# incidents downloads from the first instance (read from PostgreSQL),
# equal to the second instance's own review but for what PostgreSQL does
# not record, which the review states.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/report_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
command -v logger >/dev/null || { echo "Bail out! logger not installed"; exit 1; }
tap_plan 17

pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
pg_conf "$TMP/state" "$hp" "$sp" 8s "    reports: true" "" >"$TMP/c.yaml"
S="$SENTINELD"
O=$("$S" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
V=$("$S" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"
T0=$(date +%s%N)

fail 203.0.113.10 12
fail 203.0.113.11 12
fail 203.0.113.12 6

wait_until 20 'ids "$V" BF10 BF11 SP10 SP11 SP12 >"$TMP/ids"'
eval "$(cat "$TMP/ids")"
act() {
    c=$(req "$O" POST "/api/v1/incidents/$1/$2" "{\"reason\":\"$3\"${4:+,\"owner\":\"$4\"}}")
    [ "$c" = 200 ] || diag "$2 $1: $(cat "$TMP/b")" >&2
    echo "$c"
}
codes="$(act "$BF10" acknowledge looking) $(act "$BF10" assign mine olga)"
codes="$codes $(act "$SP10" resolve scanner) $(act "$SP11" suppress pentest)"
sleep 0.3
codes="$codes $(act "$BF11" acknowledge late) $(act "$BF10" resolve blocked)"
check "the operator's actions were applied ($codes)" \
    test "$codes" = "200 200 200 200 200 200"

# PostgreSQL holds every version once nothing is open and each incident's
# version there is the store's (the quiet period resolves the rest).
fingerprint_sqlite() {
    sqlite3 "$TMP/state/sentineld.db" "SELECT count(*) || ':' || sum(version)
        || ':' || sum(status IN ('open','acknowledged')) FROM incidents" 2>/dev/null
}
fingerprint_pg() {
    pg_psql -c "SELECT count(*) || ':' || sum(version) || ':' ||
        count(*) FILTER (WHERE status IN ('open','acknowledged')) FROM incidents" 2>/dev/null
}
synced() {
    a=$(fingerprint_sqlite)
    [ -n "$a" ] && [ "${a##*:}" = 0 ] && [ "$a" = "$(fingerprint_pg)" ]
}
check "PostgreSQL holds every version ($(wait_for 30 synced; fingerprint_pg))" synced
diag "incident_audit: $(pg_psql -c "SELECT string_agg(action || '=' || n, ' ') FROM
    (SELECT action, count(*) n FROM incident_audit GROUP BY 1 ORDER BY 1) a")"

T1=$(date +%s%N)
metric() {
    curl -s "$U/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $2}'
}
m0=$(metric 'sentineld_plugin_postgres_reports_total{instance="pg"}')
same() { # same GROUP: PostgreSQL's answer and the store's, ±1 ms
    c1=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1&group=$1")
    cp "$TMP/b" "$TMP/pg-$1.json"
    c2=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1&group=$1&source=local")
    cp "$TMP/b" "$TMP/local-$1.json"
    [ "$c1 $c2" = "200 200" ] || { diag "$1: $c1 $c2 $(cat "$TMP/pg-$1.json")"; return 1; }
    python3 - "$TMP/pg-$1.json" "$TMP/local-$1.json" <<'EOP'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def same(x, y, path):
    if isinstance(x, dict) and isinstance(y, dict):
        assert x.keys() == y.keys(), (path, x.keys(), y.keys())
        for k in x:
            same(x[k], y[k], path + "." + k)
    elif isinstance(x, list) and isinstance(y, list):
        assert len(x) == len(y), (path, x, y)
        for i, (p, q) in enumerate(zip(x, y)):
            same(p, q, "%s[%d]" % (path, i))
    elif path.endswith("_ms") and x is not None and y is not None:
        assert abs(x - y) <= 1, (path, x, y)
    else:
        assert x == y, (path, x, y)
same(a, b, "")
t = a["totals"]
assert t["incidents"] >= 5 and t["acknowledged"] == 2 and t["suppressed"] == 1, t
assert t["auto_resolved"] >= 2, t
print("# %s: %d incidents, %d acknowledged, %d auto-resolved" % (
    sys.argv[1].rsplit("-", 1)[1], t["incidents"], t["acknowledged"],
    t["auto_resolved"]))
EOP
}
check "per day, PostgreSQL's report is the store's" same day
check "per week too" same week
m1=$(metric 'sentineld_plugin_postgres_reports_total{instance="pg"}')
check "out_postgres answered them ($m0 -> $m1 in postgres_reports_total)" \
    test "$((m1 - m0))" -eq 2

bad=""
for qs in "group=month" "source=pg" "since=$T1&until=$T0" "since=0&until=$T1"; do
    bad="$bad$(req "$V" GET "/api/v1/reports?$qs") "
    sed 's/.*"message":"\([^"]*\)".*/\1/' "$TMP/b" >>"$TMP/msgs"
done
m2=$(metric 'sentineld_plugin_postgres_reports_total{instance="pg"}')
check "bad parameters are refused before any query ($bad, $m1 -> $m2)" sh -c "
    [ '$bad' = '400 400 400 400 ' ] && [ '$m1' = '$m2' ] &&
    grep -q \"^source 'pg': expected configured or local\" '$TMP/msgs'"

# A second instance (its own store, no `reports`) writes into the same
# tables: the report from PostgreSQL now counts both instances'
# incidents, the first instance's own store still only its own.
hp2=$(free_port)
sp2=$(free_port)
mkdir -p "$TMP/state2"
sed -e "s|$TMP/state|$TMP/state2|" -e "s|127.0.0.1:$hp|127.0.0.1:$hp2|" \
    -e "s|127.0.0.1:$sp|127.0.0.1:$sp2|" -e "/reports: true/d" \
    "$TMP/c.yaml" >"$TMP/c2.yaml"
DPID1=$DPID
start_daemon "$TMP/c2.yaml" "$TMP/log2"
DPID2=$DPID
DPID=$DPID1
wait_for 30 curl -sf "http://127.0.0.1:$hp2/health" -o /dev/null
sp_keep=$sp
sp=$sp2
fail 203.0.113.20 12
sp=$sp_keep
both() {
    n1=$(sqlite3 "$TMP/state/sentineld.db" "SELECT count(*) FROM incidents")
    n2=$(sqlite3 "$TMP/state2/sentineld.db" "SELECT count(*) FROM incidents" 2>/dev/null)
    [ "${n2:-0}" -ge 2 ] && [ "$(pg_psql -c "SELECT count(*) FROM incidents")" = $((n1 + n2)) ]
}
wait_for 20 both
T2=$(date +%s%N)
c1=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T2")
cp "$TMP/b" "$TMP/fleet.json"
c2=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T2&source=local")
cp "$TMP/b" "$TMP/own.json"
check "the report from PostgreSQL covers both instances, the store one ($c1 $c2)" \
    python3 - "$TMP/fleet.json" "$TMP/own.json" "$TMP/state2/sentineld.db" <<'EOP'
import collections, json, sqlite3, sys
fleet, own = (json.load(open(f)) for f in sys.argv[1:3])
db = sqlite3.connect(sys.argv[3])
other = collections.Counter(r for (r,) in db.execute("SELECT rule_id FROM incidents"))
def per_rule(r):
    c = collections.Counter()
    for v in r["volume"]:
        c[v["rule_id"]] += v["n"]
    return c
assert per_rule(fleet) == per_rule(own) + other, (per_rule(fleet), per_rule(own), other)
assert fleet["totals"]["incidents"] == own["totals"]["incidents"] + sum(other.values())
ips = [s["group_key"].get("source.ip") for s in fleet["top_sources"]]
assert "203.0.113.20" in ips and "203.0.113.20" not in [
    s["group_key"].get("source.ip") for s in own["top_sources"]], ips
print("# fleet %d incidents = this instance %d + the other %d" % (
    fleet["totals"]["incidents"], own["totals"]["incidents"], sum(other.values())))
EOP

# The post-incident review of an incident the second instance opened and
# an operator handled there (acknowledged, resolved, then a refused
# acknowledgement): the first instance's store has no such incident
# (404 with source=local), its report source (PostgreSQL) has; that
# review's summary, versions, actions and timeline are the second
# instance's own review's, up to PostgreSQL's µs times, and it says what
# PostgreSQL does not record (the refused action is only in the other's).
O2=$("$S" token create --name olga --role operator -c "$TMP/c2.yaml" 2>/dev/null)
U1=$U
U="http://127.0.0.1:$hp2"
wait_until 20 'ids "$O2" BF20 >"$TMP/ids2"'
eval "$(cat "$TMP/ids2")"
O_keep=$O
O=$O2
codes="$(act "$BF20" acknowledge seen) $(act "$BF20" resolve blocked)"
codes="$codes $(req "$O2" POST "/api/v1/incidents/$BF20/acknowledge" '{"reason":"again"}')"
O=$O_keep
pg_status() { pg_psql -c "SELECT status FROM incidents WHERE id = '$1'"; }
wait_until 20 '[ "$(pg_status "$BF20")" = resolved ]'
c3=$(req "$O2" GET "/api/v1/incidents/$BF20/report?format=json")
cp "$TMP/b" "$TMP/rv-own.json"
U=$U1
c1=$(req "$V" GET "/api/v1/incidents/$BF20/report?format=json")
cp "$TMP/b" "$TMP/rv-pg.json"
c2=$(req "$V" GET "/api/v1/incidents/$BF20/report?format=json&source=local")
# An id that is no UUID is not sent to PostgreSQL (a 404, no query).
r0=$(metric 'sentineld_plugin_postgres_reports_total{instance="pg"}')
c4=$(req "$V" GET "/api/v1/incidents/no-such-id/report")
r1=$(metric 'sentineld_plugin_postgres_reports_total{instance="pg"}')
check "the other instance's incident: its review from PostgreSQL, 404 in this store ($codes; $c1 $c2 $c3; $c4 $r0 -> $r1)" \
    test "$codes $c1 $c2 $c3 $c4 $r0" = "200 200 409 200 404 200 404 $r1"
check "that review is the other instance's own (summary, versions, actions, timeline)" \
    python3 - "$TMP/rv-pg.json" "$TMP/rv-own.json" <<'EOP'
import json, sys
pg, own = (json.load(open(f)) for f in sys.argv[1:3])
from datetime import datetime, timezone
def ns(t):  # PostgreSQL keeps µs (rounded): times compare within 1 µs
    d = datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 10**9 + int(t[20:29])
class T(str):
    def __eq__(a, b):
        return isinstance(b, str) and abs(ns(a) - ns(b)) <= 1000
    __hash__ = str.__hash__
def norm(x):
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v) for v in x]
    return T(x) if isinstance(x, str) and len(x) == 30 and x[:2] == "20" and x.endswith("Z") else x
s1, s2 = norm(pg["summary"]), norm(own["summary"])
for k in s2:
    if k.endswith("_ms"):
        assert abs((s1[k] or 0) - (s2[k] or 0)) <= 1, (k, s1[k], s2[k])
    else:
        assert s1[k] == s2[k], (k, s1[k], s2[k])
assert s2["acknowledged_by"] == "olga" and s2["resolved_by"] == "olga", s2
assert norm(pg["versions"]) == norm(own["versions"]), (pg["versions"], own["versions"])
key = lambda a: (a["at"], a["actor"], a["action"], a["reason"], a["result"])
ok = [key(a) for a in norm(own["actions"]) if a["result"] == "ok"]
assert [key(a) for a in norm(pg["actions"])] == ok, (pg["actions"], ok)
refused = [a for a in own["actions"] if a["result"] == "refused"]
assert len(refused) == 1 and refused[0]["reason"] == "again", own["actions"]
tl = lambda r, kinds: [(t["at"], t["kind"], t["actor"]) for t in norm(r["timeline"])
                       if t["kind"] in kinds and "refused" not in t["what"]]
kinds = ("event", "signal", "action", "notification")
assert tl(pg, kinds) == tl(own, kinds), (tl(pg, kinds), tl(own, kinds))
assert norm(pg["evidence"]) == norm(own["evidence"]) and pg["explanation"] == own["explanation"]
assert own["not_recorded"] is None
assert "refused actions" in pg["not_recorded"] and "notify" in pg["not_recorded"], pg
sig = lambda r: sum(t["kind"] == "signal" for t in r["timeline"])
print("# %d versions, %d actions (+1 refused only in the other's store), "
      "signal rows %d (own store %d), timeline %d (%d)" % (
    len(pg["versions"]), len(pg["actions"]), sig(pg), sig(own),
    len(pg["timeline"]), len(own["timeline"])))
EOP
c=$(curl -s -D "$TMP/h" -o "$TMP/rv.md" -w '%{http_code}' -H "Authorization: Bearer $V" \
    "$U/api/v1/incidents/$BF20/report")
check "the console's download (Markdown) from PostgreSQL says what it lacks ($c)" sh -c "
    [ $c = 200 ] && grep -qi 'content-disposition: attachment; filename=\"incident-$BF20.md\"' '$TMP/h' &&
    grep -q '^> \*\*Not in this review:\*\* PostgreSQL records one row per incident version only: refused actions' '$TMP/rv.md' &&
    grep -q '^| Incident | $BF20 |' '$TMP/rv.md'"
kill -TERM "$DPID2"
wait "$DPID2"

# A slow PostgreSQL: a transaction holds incidents locked for 3 s. The
# report waits for it; /health and the store's report do not.
pg_lock_table incidents 3
# A client that gives up after 1 s, then one that waits.
curl -s -m 1 -o /dev/null -H "Authorization: Bearer $V" \
    "$U/api/v1/reports?since=$T0&until=$T1" &
GONE=$!
curl -s -o "$TMP/late.json" -w '%{http_code} %{time_total}' \
    -H "Authorization: Bearer $V" "$U/api/v1/reports?since=$T0&until=$T1" \
    >"$TMP/late" &
LATE=$!
curl -s -o "$TMP/late-rv.json" -w '%{http_code} %{time_total}' \
    -H "Authorization: Bearer $V" "$U/api/v1/incidents/$BF20/report?format=json" \
    >"$TMP/late-rv" &
LATERV=$!
slow=""
for i in 1 2 3 4 5 6; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "$U/health")
    slow="$slow $t"
    sleep 0.2
done
tl=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $V" \
    "$U/api/v1/reports?since=$T0&until=$T1&source=local")
wait "$GONE"
wait "$LATE"
wait "$LATERV"
wait "$LOCKPID"
check "/health stays fast while the report waits on PostgreSQL ($slow; local report $tl s)" \
    python3 -c "import sys; assert max(map(float, sys.argv[1:])) < 0.5" $slow $tl
check "the waiting report and review are answered once the lock goes ($(cat "$TMP/late"); $(cat "$TMP/late-rv"))" \
    python3 - "$TMP/late" "$TMP/late.json" "$TMP/pg-day.json" "$TMP/late-rv" "$TMP/late-rv.json" "$TMP/rv-pg.json" <<'EOP'
import json, sys
for f in (sys.argv[1], sys.argv[4]):
    code, took = open(f).read().split()
    assert code == "200" and float(took) >= 2.0, (f, code, took)
assert json.load(open(sys.argv[2]))["totals"] == json.load(open(sys.argv[3]))["totals"]
assert json.load(open(sys.argv[5])) == json.load(open(sys.argv[6]))
EOP

# A reload (SIGHUP) while a report waits on the lock: out_postgres stops,
# cancels the query and answers it; the new pipeline's out_postgres
# answers the next one.
pg_lock_table incidents 4
curl -s -o "$TMP/rl.json" -w '%{http_code}' -H "Authorization: Bearer $V" \
    "$U/api/v1/reports?since=$T0&until=$T1" >"$TMP/rl" &
RL=$!
wait_for 10 pg_lock_waiter
kill -HUP "$DPID"
wait "$RL"
wait "$LOCKPID"
wait_for 10 grep -q "reload complete" "$TMP/log"
c=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1")
check "a reload answers the waiting report with 503, the new pipeline with 200 ($(cat "$TMP/rl") $c)" \
    sh -c "[ '$(cat "$TMP/rl")' = 503 ] && [ $c = 200 ] &&
        grep -q 'report_source_unavailable' '$TMP/rl.json'"
diag "$(sed 's/.*"message":"\([^"]*\)".*/\1/' "$TMP/rl.json")"

# An incident PostgreSQL does not hold (the relay is behind, or it was
# purged there): its review comes from this instance's store.
pg_psql -c "DELETE FROM incidents WHERE id = '$BF10'" >/dev/null
c=$(req "$V" GET "/api/v1/incidents/$BF10/report?format=json")
check "an incident PostgreSQL lacks is reviewed from this store ($c)" python3 -c "
import json, sys
r = json.load(open('$TMP/b'))
assert '$c' == '200' and r['summary']['id'] == '$BF10' and r['not_recorded'] is None, r
assert [a['reason'] for a in r['actions']] == ['looking', 'mine', 'blocked'], r['actions']"

pg_stop
c=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1")
check "PostgreSQL down: 503 naming the source ($c)" sh -c "
    [ $c = 503 ] && grep -q '\"report_source_unavailable\".*report source .pg.' '$TMP/b'"
e=$(metric 'sentineld_plugin_postgres_report_errors_total{instance="pg"}')
check "counted in postgres_report_errors_total ($e)" test "${e:-0}" -ge 1
check "the daemon stops cleanly (ASan: nothing leaked or freed twice)" stop_daemon
tap_done
