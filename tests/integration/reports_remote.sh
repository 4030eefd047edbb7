#!/bin/sh
# The CLI and the API for incidents another instance opened (issue #23,
# docs/reports.md "Which store"): two real daemons fed by logger over TCP
# write into one PostgreSQL; the first reads it (out_postgres
# `reports: true`). `sentineld incident report ID --url` and `--api` ask
# the first daemon for the review of an incident the second opened and
# print PostgreSQL's review, equal to the second's own review in its
# versions and actions; `incidents show --url` and GET
# /api/v1/incidents/{id} find that incident through the report source
# too, a document the console's schema (web/openapi.json Incident,
# checked with tests/browser/schema.js in node) accepts. The fleet's
# list: GET /api/v1/incidents?source=configured on the first daemon
# lists PostgreSQL's 5 incidents, the second's included, with the local
# list's filters and cursor paging (an IncidentPage), and `incidents list
# --url --source configured` prints it; the second daemon, without a
# report source, answers 400 no_report_source. A report that times out,
# and one whose client leaves while PostgreSQL holds it up (the daemon
# sees the EOF on its socket): both queries are cancelled in PostgreSQL
# while the lock still holds. The CLI's errors name the URL: nothing listening, no token or a
# wrong one (401), an unknown incident (404). The report limits are
# configurable and hold: http.report_max_incidents (3 here) refuses a
# PostgreSQL report over 5 incidents and passes the local one of 3, and
# http.report_timeout (2 s here) answers a report PostgreSQL holds up on a
# table lock with 504 report_timeout, counted on /metrics, which the CLI
# also reports for a review.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/report_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/browser_lib.sh"
command -v logger >/dev/null || { echo "Bail out! logger not installed"; exit 1; }
tap_plan 19

pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
hp=$(free_port)
sp=$(free_port)
hp2=$(free_port)
sp2=$(free_port)
mkdir -p "$TMP/state" "$TMP/state2"
pg_conf "$TMP/state" "$hp" "$sp" 60s "    reports: true" \
    ", report_timeout: 2s, report_max_incidents: 3, web_root: \"$SRCDIR/web\"" >"$TMP/c.yaml"
pg_conf "$TMP/state2" "$hp2" "$sp2" 60s "" "" >"$TMP/c2.yaml"
S="$SENTINELD"
"$S" token create --name vic --role viewer -c "$TMP/c.yaml" >"$TMP/vic.tok" 2>/dev/null
V2=$("$S" token create --name val --role viewer -c "$TMP/c2.yaml" 2>/dev/null)
O1=$("$S" token create --name oscar --role operator -c "$TMP/c.yaml" 2>/dev/null)
O2=$("$S" token create --name olga --role operator -c "$TMP/c2.yaml" 2>/dev/null)
start_daemon "$TMP/c2.yaml" "$TMP/log2"
DPID2=$DPID
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
wait_for 30 curl -sf "http://127.0.0.1:$hp2/health" -o /dev/null
V=$(cat "$TMP/vic.tok")
U1="http://127.0.0.1:$hp"
U2="http://127.0.0.1:$hp2"

# This instance: 3 incidents (brute force and spraying from .10, spraying
# from .12); the other: 2 (from .20), acknowledged and resolved there.
fail 203.0.113.10 12
fail 203.0.113.12 6
sp_keep=$sp
sp=$sp2
fail 203.0.113.20 12
sp=$sp_keep
U=$U2
wait_until 20 'ids "$O2" BF20 >"$TMP/ids2"'
eval "$(cat "$TMP/ids2")"
c="$(req "$O2" POST "/api/v1/incidents/$BF20/acknowledge" '{"reason":"seen"}')"
c="$c $(req "$O2" POST "/api/v1/incidents/$BF20/resolve" '{"reason":"blocked"}')"
pg_status() { pg_psql -c "SELECT status FROM incidents WHERE id = '$1'"; }
counts() {
    n1=$(sqlite3 "$TMP/state/sentineld.db" "SELECT count(*) FROM incidents" 2>/dev/null)
    [ "$n1" = 3 ] && [ "$(pg_psql -c "SELECT count(*) FROM incidents")" = 5 ] &&
        [ "$(pg_status "$BF20")" = resolved ]
}
wait_for 30 counts
check "3 incidents here, 5 in PostgreSQL, the other's resolved there ($c)" \
    eval '[ "$c" = "200 200" ] && counts'

# The review through the first daemon's API, which reads PostgreSQL;
# its own store has no such incident.
"$S" incident report "$BF20" --format json -c "$TMP/c2.yaml" >"$TMP/own.json" 2>"$TMP/own.err"
"$S" incident report "$BF20" --format json -c "$TMP/c.yaml" >/dev/null 2>"$TMP/local.err"
rl=$?
"$S" incident report "$BF20" --format json --url "$U1" --token-file "$TMP/vic.tok" \
    >"$TMP/remote.json" 2>"$TMP/remote.err"
rr=$?
check "incident report --url: the other instance's review from PostgreSQL (exit $rr; local store: exit $rl, $(cat "$TMP/local.err"))" \
    python3 - "$TMP/remote.json" "$TMP/own.json" "$rr" "$rl" <<'EOP'
import json, sys
pg, own = (json.load(open(f)) for f in sys.argv[1:3])
assert sys.argv[3] == "0" and sys.argv[4] != "0", sys.argv[3:]
assert pg["summary"]["id"] == own["summary"]["id"], (pg["summary"], own["summary"])
assert pg["summary"]["resolved_by"] == own["summary"]["resolved_by"] == "olga"
key = lambda v: [(x["version"], x["status"], x["actor"]) for x in v]
assert key(pg["versions"]) == key(own["versions"]), (pg["versions"], own["versions"])
assert [a["reason"] for a in pg["actions"]] == [a["reason"] for a in own["actions"]] == ["seen", "blocked"]
assert own["not_recorded"] is None and "refused actions" in pg["not_recorded"], pg["not_recorded"]
print("# %d versions, actions %s" % (len(pg["versions"]), [a["action"] for a in pg["actions"]]))
EOP
SENTINELD_TOKEN=$V "$S" incident report "$BF20" --api -c "$TMP/c.yaml" >"$TMP/remote.md" 2>"$TMP/md.err"
check "--api (the config's http.listen) and \$SENTINELD_TOKEN: the Markdown review ($?, $(cat "$TMP/md.err"))" \
    sh -c "grep -q '^| Incident | $BF20 |' '$TMP/remote.md' &&
        grep -q '^> \*\*Not in this review:\*\* PostgreSQL records' '$TMP/remote.md'"

# The incident itself: the API falls back to the report source.
U=$U1
c=$(req "$V" GET "/api/v1/incidents/$BF20")
cp "$TMP/b" "$TMP/inc.json"
"$S" incidents show "$BF20" --url "$U1" --token-file "$TMP/vic.tok" >"$TMP/show" 2>&1
rs=$?
check "GET /api/v1/incidents/{id} and incidents show --url find it in PostgreSQL ($c, exit $rs)" \
    python3 - "$TMP/inc.json" "$c" "$TMP/show" "$BF20" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "200", d
assert d["type"] == "incident" and d["id"] == sys.argv[4], d
assert d["status"] == "resolved" and d["read_from"] == "pg", d
assert "refused actions" in d["not_recorded"], d
assert [(a["actor"], a["action"]) for a in d["audit"]] == [
    ("sentineld", "open"), ("olga", "acknowledge"), ("olga", "resolve")], d["audit"]
show = open(sys.argv[3]).read()
assert show.startswith("incident %s (version " % sys.argv[4]) and "resolved" in show, show
EOP

# The list is the daemon's own store's (as GET /api/v1/incidents), with
# the filters passed on.
"$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --rule ssh-password-spray \
    --limit 5 --json >"$TMP/list.json" 2>&1
check "incidents list --url --rule --limit --json: this daemon's 2 spraying incidents ($?)" \
    python3 -c "
import json, sys
l = json.load(open('$TMP/list.json'))['incidents']
assert sorted(i['group_key']['source.ip'] for i in l) == ['203.0.113.10', '203.0.113.12'], l
assert {i['rule_id'] for i in l} == {'ssh-password-spray'}, l"

# schema_check SCHEMA FILE: FILE is a components.schemas.SCHEMA of
# web/openapi.json, as the console reads it (tests/browser/schema.js in
# node); what differs goes to the TAP log.
schema_check() {
    node -e '
const { checker } = require(require("path").resolve(process.argv[1]));
const fs = require("fs");
const errs = checker(JSON.parse(fs.readFileSync(process.argv[2], "utf8")))(
    process.argv[3], JSON.parse(fs.readFileSync(process.argv[4], "utf8")));
for (const e of errs) console.log("# " + e);
process.exit(errs.length ? 1 : 0);' "$SRCDIR/tests/browser/schema.js" \
        "$SRCDIR/web/openapi.json" "$1" "$2"
}

# The fleet's list through the first daemon: PostgreSQL's 5 incidents,
# the second daemon's BF20 and SP20 among them, filtered and paged as the
# local list is.
c=$(req "$V" GET "/api/v1/incidents?source=configured&limit=100")
cp "$TMP/b" "$TMP/fleet.json"
pages=""
cur=""
for pg in 1 2 3 4; do
    c2=$(req "$V" GET "/api/v1/incidents?source=configured&limit=2${cur:+&cursor=$cur}")
    pages="$pages $c2"
    cp "$TMP/b" "$TMP/page$pg.json"
    cur=$(python3 -c "import json; print(json.load(open('$TMP/b'))['next_cursor'] or '')")
    [ -n "$cur" ] || break
done
c3=$(req "$V" GET "/api/v1/incidents?source=configured&rule=ssh-brute-force&status=resolved&severity=medium&q=203.0.113.2")
cp "$TMP/b" "$TMP/filtered.json"
check "?source=configured: PostgreSQL's 5 incidents, the other daemon's too, paged by 2 and filtered ($c;$pages; $c3)" \
    python3 - "$TMP" "$BF20" <<'EOP'
import glob, json, sys
tmp, bf20 = sys.argv[1:3]
full = json.load(open(tmp + "/fleet.json"))
l = full["incidents"]
assert full["read_from"] == "pg" and full["next_cursor"] is None, full
ips = sorted((i["rule_id"], i["group_key"]["source.ip"]) for i in l)
assert ips == [("ssh-brute-force", "203.0.113.10"), ("ssh-brute-force", "203.0.113.20"),
               ("ssh-password-spray", "203.0.113.10"), ("ssh-password-spray", "203.0.113.12"),
               ("ssh-password-spray", "203.0.113.20")], ips
assert [i["last_seen"] for i in l] == sorted((i["last_seen"] for i in l), reverse=True), l
mine = [i for i in l if i["id"] == bf20]
assert len(mine) == 1 and mine[0]["status"] == "resolved", mine
assert all("evidence" not in i and "explanation" not in i for i in l), l[0]
paged = []
for f in sorted(glob.glob(tmp + "/page*.json")):
    p = json.load(open(f))
    paged += [i["id"] for i in p["incidents"]]
assert paged == [i["id"] for i in l], (paged, [i["id"] for i in l])
f = json.load(open(tmp + "/filtered.json"))["incidents"]
assert [i["id"] for i in f] == [bf20], f
print("# %d incidents, pages %s" % (len(l), paged))
EOP
schema_check IncidentPage "$TMP/fleet.json"
rp=$?
U=$U2
c4=$(req "$V2" GET "/api/v1/incidents?source=configured")
cp "$TMP/b" "$TMP/nosrc.json"
U=$U1
"$S" incidents list --source configured -c "$TMP/c.yaml" >/dev/null 2>"$TMP/e0"
r0=$?
check "an IncidentPage as web/openapi.json says ($rp); no report source: 400 there, exit 2 without --url ($c4 $r0)" \
    sh -c "[ '$rp $c4 $r0' = '0 400 2' ] &&
        grep -q '\"code\":\"no_report_source\"' '$TMP/nosrc.json' &&
        grep -q 'give --url or --api' '$TMP/e0'"
"$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --source configured \
    --rule ssh-brute-force >"$TMP/fleet.txt" 2>&1
rf=$?
sed 's/^/# /' "$TMP/fleet.txt"
check "incidents list --url --source configured: both daemons' brute-force incidents ($rf)" \
    sh -c "[ $rf = 0 ] && head -1 '$TMP/fleet.txt' | grep -q \"^read from report source 'pg'\" &&
        grep -q '^$BF20 ' '$TMP/fleet.txt' && grep -q '203.0.113.10' '$TMP/fleet.txt' &&
        [ \$(grep -c ' ssh-brute-force ' '$TMP/fleet.txt') = 2 ]"

# The same fleet list paged by the CLI: --limit 2, each page's
# next_cursor passed back with --cursor (--json), and the text's
# "next page: --cursor C" line naming it; a cursor that is not one
# refused, saying so.
# The incidents may still change meanwhile (late hits move last_seen, a
# quiet period resolves): the API's list is taken before and after the
# CLI's, and the whole is taken again (3 tries) until both agree.
api_ids() { # api_ids QUERY OUT: the ids of the API's answer, one per line
    req "$V" GET "/api/v1/incidents?source=configured&$1" >/dev/null
    python3 -c "import json,sys; print(''.join(i['id'] + '\\n' for i in json.load(open(sys.argv[1]))['incidents']), end='')" "$TMP/b" >"$2"
}
cli_pages() {
    cur=""
    : >"$TMP/cli_ids"
    for pg in 1 2 3 4; do
        "$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --source configured \
            --limit 2 ${cur:+--cursor "$cur"} --json >"$TMP/cli_page.json" 2>"$TMP/cli_page.err" || break
        cur=$(python3 -c "
import json, sys
p = json.load(open(sys.argv[1]))
with open(sys.argv[2], 'a') as f:
    f.write(''.join(i['id'] + '\\n' for i in p['incidents']))
print(p['next_cursor'] or '')" "$TMP/cli_page.json" "$TMP/cli_ids")
        [ -n "$cur" ] || break
    done
    "$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --source configured \
        --limit 2 >"$TMP/cli_text.txt" 2>&1
    next=$(sed -n 's/^next page: --cursor //p' "$TMP/cli_text.txt")
    "$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --source configured \
        --limit 2 --cursor "$next" --json >"$TMP/cli_next.json" 2>&1
    rn=$?
    # The API's own second page, for the text's next-page line.
    cur2=$(req "$V" GET "/api/v1/incidents?source=configured&limit=2" >/dev/null &&
        python3 -c "import json; print(json.load(open('$TMP/b'))['next_cursor'] or '')")
    api_ids "limit=2&cursor=$cur2" "$TMP/api_page2"
}
for try in 1 2 3; do
    api_ids "limit=100" "$TMP/api_before"
    cli_pages
    api_ids "limit=100" "$TMP/api_after"
    cmp -s "$TMP/api_before" "$TMP/api_after" && break
    diag "the fleet list changed while the CLI paged it (try $try); again"
done
"$S" incidents list --url "$U1" --token-file "$TMP/vic.tok" --source configured \
    --cursor not-a-cursor >/dev/null 2>"$TMP/cli_bad.err"
rb=$?
sed 's/^/# /' "$TMP/cli_bad.err"
check "incidents list --source configured --limit 2 --cursor: the CLI pages the fleet list as the API does (exit $rn, bad cursor: exit $rb)" \
    python3 - "$TMP" "$rn" "$rb" <<'EOP'
import json, sys
tmp, rn, rb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
full = open(tmp + "/api_after").read().split()
got = open(tmp + "/cli_ids").read().split()
assert len(full) == 5 and got == full, (got, full)
second = open(tmp + "/api_page2").read().split()
nxt = [i["id"] for i in json.load(open(tmp + "/cli_next.json"))["incidents"]]
assert rn == 0 and nxt == second, (rn, nxt, second)
assert rb != 0 and "cursor" in open(tmp + "/cli_bad.err").read(), rb
EOP

# The console renders the incident page from components.schemas.Incident.
schema_check Incident "$TMP/inc.json"
rc=$?
check "that document is an Incident as web/openapi.json describes it, which the console renders ($rc)" \
    test "$rc" = 0

# Its page in the console (Chromium): title and hits as the API gave them,
# where it was read from, and no action buttons for an operator, since
# actions change only the store that holds it.
browser_setup
URL="$U1" OP_TOKEN="$O1" INCIDENT_ID="$BF20" TITLE="$(python3 -c "import json; print(json.load(open('$TMP/inc.json'))['title'])")" \
    HITS="$(python3 -c "import json; print(json.load(open('$TMP/inc.json'))['hit_count'])")" \
    NODE_PATH="$BR/node_modules" timeout 120 node "$SRCDIR/tests/browser/remote_page.js" >"$TMP/page" 2>&1
rc=$?
sed 's/^/# /' "$TMP/page"
check "the console's page of that incident: its title and hits, 'read from pg', no action buttons ($rc)" \
    test "$rc" = 0

# The CLI's errors name the daemon's URL.
dead=$(free_port)
"$S" incident report "$BF20" --url "http://127.0.0.1:$dead" >/dev/null 2>"$TMP/e1"
r1=$?
"$S" incident report "$BF20" --url "$U1" >/dev/null 2>"$TMP/e2"
r2=$?
echo "not-a-token" >"$TMP/bad.tok"
"$S" incidents show "$BF20" --url "$U1" --token-file "$TMP/bad.tok" >/dev/null 2>"$TMP/e3"
r3=$?
"$S" incident report 00000000-0000-4000-8000-000000000000 --url "$U1" \
    --token-file "$TMP/vic.tok" >/dev/null 2>"$TMP/e4"
r4=$?
"$S" incident report "$BF20" --url "127.0.0.1:$hp" >/dev/null 2>"$TMP/e5"
r5=$?
for f in e1 e2 e3 e4 e5; do diag "$f: $(cat "$TMP/$f")"; done
check "nothing listening: exit 1 naming the URL ($r1)" sh -c "[ $r1 = 1 ] &&
    grep -q '^sentineld: cannot reach the daemon at http://127.0.0.1:$dead: Connection refused' '$TMP/e1'"
check "no token, a wrong token: 401 naming the URL and how to give one ($r2 $r3)" sh -c "
    [ '$r2 $r3' = '1 1' ] && grep -q '^sentineld: $U1 refused the request (401): .*--token-file FILE' '$TMP/e2' &&
    grep -q '(401)' '$TMP/e3'"
check "an unknown incident: 404 from both stores; a URL with no scheme refused as usage ($r4 $r5)" sh -c "
    [ '$r4 $r5' = '1 2' ] &&
    grep -q \"^sentineld: $U1 answered 404: no incident with id 00000000-0000-4000-8000-000000000000\" '$TMP/e4' &&
    grep -q 'expected http://HOST\[:PORT\] or https://HOST\[:PORT\]' '$TMP/e5'"

# http.report_max_incidents: 3.
T1=$(date +%s%N)
T0=$((T1 - 3600000000000))
c1=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1")
cp "$TMP/b" "$TMP/lim.json"
c2=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1&source=local")
check "report_max_incidents 3: PostgreSQL's 5 refused, the store's 3 reported ($c1 $c2)" sh -c "
    [ '$c1 $c2' = '400 200' ] && grep -q 'more than 3 incidents were opened' '$TMP/lim.json' &&
    grep -q '\"incidents\":3' '$TMP/b'"

# http.report_timeout: 2 s, while PostgreSQL holds incidents locked 6 s.
# The report and the review time out (504), and their queries are then
# cancelled in PostgreSQL; then a client that leaves while its report
# waits on the lock: its query is cancelled at once, not when the lock
# goes.
metric() {
    curl -s "$U1/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $2}'
}
PGC='sentineld_plugin_postgres_report_cancels_total{instance="pg"}'
m0=$(metric sentineld_http_report_timeouts_total)
a0=$(metric sentineld_http_report_abandoned_total)
k0=$(metric "$PGC")
pg_lock_table incidents 6
curl -s -o "$TMP/slow.json" -w '%{http_code} %{time_total}' \
    -H "Authorization: Bearer $V" "$U1/api/v1/reports?since=$T1" >"$TMP/slow" &
SLOW=$!
"$S" incident report "$BF20" --url "$U1" --token-file "$TMP/vic.tok" >/dev/null 2>"$TMP/e6"
r6=$?
wait "$SLOW"
m1=$(metric sentineld_http_report_timeouts_total)
wait_until 3 '! pg_lock_waiter'
held1=no
pg_lock_granted incidents && held1=yes
k1=$(metric "$PGC")
curl -s -o /dev/null -H "Authorization: Bearer $V" "$U1/api/v1/reports?since=$T1" &
CURL=$!
wait_for 10 pg_lock_waiter
kill "$CURL"
wait "$CURL"
t0=$(date +%s%N)
wait_until 3 '! pg_lock_waiter'
t1=$(date +%s%N)
held2=no
pg_lock_granted incidents && held2=yes
a1=$(metric sentineld_http_report_abandoned_total)
k2=$(metric "$PGC")
wait "$LOCKPID"
c=$(req "$V" GET "/api/v1/reports?since=$T1")
diag "$(cat "$TMP/slow.json") / $(cat "$TMP/e6")"
check "a report PostgreSQL holds up: 504 report_timeout after 2 s ($(cat "$TMP/slow"))" \
    python3 - "$TMP/slow" "$TMP/slow.json" <<'EOP'
import json, sys
code, took = open(sys.argv[1]).read().split()
e = json.load(open(sys.argv[2]))["error"]
assert code == "504" and 1.9 <= float(took) < 4.5, (code, took)
assert e["code"] == "report_timeout", e
assert e["message"] == "report source 'pg' did not answer within 2000 ms (http.report_timeout)", e
EOP
check "the CLI says so for a review (exit $r6); both counted ($m0 -> $m1) and cancelled in PostgreSQL while the lock holds ($k0 -> $k1, $held1)" sh -c "
    [ $r6 = 1 ] && [ '${m0:-x} ${m1:-x} ${k0:-x} ${k1:-x} $held1' = '0 2 0 2 yes' ] &&
    grep -q \"^sentineld: $U1 answered 504: report source 'pg' did not answer within 2000 ms\" '$TMP/e6'"
check "a client that left: its query cancelled after $(((t1 - t0) / 1000000)) ms, the lock still held ($held2); counted ($a0 -> $a1, $k1 -> $k2); the next report $c" \
    sh -c "[ '$held2 $c' = 'yes 200' ] && [ $(((t1 - t0) / 1000000)) -lt 2000 ] &&
        [ '${a0:-x} ${a1:-x} ${k2:-x}' = '0 1 3' ] &&
        grep -q \"the client left before the answer from 'pg' was ready; asked it to stop\" '$TMP/log'"

kill -TERM "$DPID2"
wait "$DPID2"
check "the daemon stops cleanly (ASan: nothing leaked or freed twice)" stop_daemon
tap_done
