#!/bin/sh
# Zero loss from rsyslog to incident (docs/journal.md): a real rsyslogd
# (contrib/rsyslog/sentineld-relp.conf as-is: omrelp, disk-assisted queue)
# forwards JOURNAL_N lines, SSH brute forces from JOURNAL_SOURCES
# addresses among them, to sentineld started from conf/examples/relp.yaml
# as-is (RELP in, journal on), which is killed with -9 JOURNAL_KILLS
# times meanwhile. Every line reaches out_file at least once (duplicates
# counted and reported) and every source is exactly one incident whose
# hit count is at least its true count. Then a torn write: the journal's
# last segment gets half a record appended (bytes of a real record, as a
# write cut by a crash leaves them); the daemon starts, cuts it, counts
# it in sentineld_journal_truncated_tails_total, and loses nothing.
# bench/journal_soak.sh runs the issue's 20 kills of 200,000 lines.
. "$SRCDIR/tests/integration/lib.sh"
RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"
tap_plan 9
N=${JOURNAL_N:-20000}
KILLS=${JOURNAL_KILLS:-5}
SOURCES=${JOURNAL_SOURCES:-20}

p_relp=$(free_port)
p_rs=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/rs" "$TMP/state"
export SENTINELD_RELP_LISTEN="127.0.0.1:$p_relp"
export SENTINELD_STATE_DIR="$TMP/state"
export SENTINELD_RULES="$SRCDIR/conf/rules"
export SENTINELD_EVENTS_FILE="$TMP/out.json"
export SENTINELD_INCIDENTS_FILE="$TMP/inc.json"
export SENTINELD_HTTP_LISTEN="127.0.0.1:$hp"
CONF="$SRCDIR/conf/examples/relp.yaml"
run=0
start() {
    run=$((run + 1))
    start_daemon "$CONF" "$TMP/s$run.log"
    wait_for 30 grep -q "listening on relp://" "$TMP/s$run.log"
}
start
check "conf/examples/relp.yaml starts as-is with the journal on" \
    test -n "$(ls "$TMP/state/journal" 2>/dev/null; echo x)"

sed -e "s/port=\"20514\"/port=\"$p_relp\"/" \
    "$SRCDIR/contrib/rsyslog/sentineld-relp.conf" >"$TMP/sentineld-relp.conf"
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$p_rs")
include(file="$TMP/sentineld-relp.conf")
EOC
"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p_rs)).close()"

# N numbered lines; every 100th is an sshd failure from one of SOURCES
# addresses (true count per source written to truth.txt).
python3 - "$p_rs" "$N" "$SOURCES" "$TMP/truth.txt" >"$TMP/feed.log" 2>&1 <<'EOPY' &
import collections, socket, sys, time
port, n, nsrc, truth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.create_connection(('127.0.0.1', port))
count = collections.Counter()
chunk = []
now = lambda: time.strftime('%b %e %H:%M:%S')
for i in range(n):
    if i % 100 == 0:
        src = '198.51.100.%d' % (1 + (i // 100) % nsrc)
        count[src] += 1
        chunk.append('<38>%s gen sshd[%d]: Failed password for '
                     'invalid user jseq%06d from %s port 4%04d ssh2\n'
                     % (now(), 1000 + i % 5000, i, src, i % 10000))
    else:
        chunk.append('<38>%s gen app: jseq %06d payload\n' % (now(), i))
    if len(chunk) == 500:
        s.sendall(''.join(chunk).encode()); chunk = []
        time.sleep(0.05)
s.sendall(''.join(chunk).encode())
s.close()
with open(truth, 'w') as f:
    for k, v in sorted(count.items()):
        f.write('%s %d\n' % (k, v))
EOPY
FEED=$!
spacing=$(( (N / 10000 + 1) * 1 ))
for k in $(seq 1 "$KILLS"); do
    sleep "$spacing"
    kill -9 "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    start
done
wait "$FEED"
cat >"$TMP/tally.py" <<'EOPY'
import collections, re, sys
c = collections.Counter(re.findall(r'jseq ?(\d{6})', open(sys.argv[1]).read()))
want = int(sys.argv[2])
dup = sum(v - 1 for v in c.values())
missing = want - len(c)
print('distinct %d duplicates %d missing %d' % (len(c), dup, missing))
sys.exit(0 if missing == 0 else 1)
EOPY
lines_in() { cat "$TMP/out.json" 2>/dev/null | grep -c 'jseq'; }
wait_until $((60 + N / 250)) '[ "$(lines_in)" -ge "$N" ] && python3 "$TMP/tally.py" "$TMP/out.json" "$N" >/dev/null'
diag "after $KILLS kill -9: $(python3 "$TMP/tally.py" "$TMP/out.json" "$N")"
check "$N lines through omrelp and $KILLS kill -9: every one in out_file" \
    python3 "$TMP/tally.py" "$TMP/out.json" "$N"
cat >"$TMP/incidents.py" <<'EOPY'
import json, sys
truth = dict(l.split() for l in open(sys.argv[2]))
ids, hits = {}, {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get('rule_id') != 'ssh-brute-force':
        continue
    ip = d['group_key'].get('source.ip')
    ids.setdefault(ip, set()).add(d['id'])
    hits[ip] = max(hits.get(ip, 0), d.get('hit_count', 0))
bad = [ip for ip in truth if len(ids.get(ip, ())) != 1 or hits.get(ip, 0) < int(truth[ip])]
print('sources %d incidents %s bad %s' % (len(truth), sum(len(v) for v in ids.values()), bad[:5]))
sys.exit(1 if bad else 0)
EOPY
check "every source is exactly one incident, hit count >= its true count" \
    wait_for 30 python3 "$TMP/incidents.py" "$TMP/inc.json" "$TMP/truth.txt"
diag "$(python3 "$TMP/incidents.py" "$TMP/inc.json" "$TMP/truth.txt")"
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m1"
metric() { awk -v m="$1" '$1 == m { v += $2 } END { print v + 0 }' "$2"; }
diag "$(grep '^sentineld_journal' "$TMP/m1" | grep -v bucket | tr '\n' ' ')"
# The journal's size and segments as gauges. The per-process append and
# fsync counters can be 0 here: when the last restart came after rsyslog
# had sent everything (a slow build, or rsyslog's resume interval), this
# process only replayed; the fsync histogram must still be exported.
check "/metrics: journal bytes, segments and the fsync latency histogram reported" \
    test "$(metric sentineld_journal_bytes "$TMP/m1")" -gt 0 -a \
    "$(metric sentineld_journal_segments "$TMP/m1")" -ge 1 -a \
    "$(grep -c '^sentineld_journal_fsync_microseconds_count' "$TMP/m1")" -ge 1

# Torn write: half of a real record appended to the last segment.
kill -9 "$DPID"; wait "$DPID" 2>/dev/null
seg=$(ls "$TMP/state/journal/"*.seg | tail -1)
first=$(ls "$TMP/state/journal/"*.seg | head -1)
before=$(stat -c %s "$seg")
head -c 40 "$first" >>"$seg"
before_lines=$(lines_in)
dups() { python3 "$TMP/tally.py" "$TMP/out.json" "$N" | awk '{ print $4 }'; }
before_dups=$(dups)
start
check "torn tail: the daemon starts and cuts it back to the last record" \
    wait_for 10 grep -q "record cut short at offset $before" "$TMP/s$run.log"
wait_until 30 'curl -sf "http://127.0.0.1:$hp/health" | grep -q "\"status\":\"ok\""'
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m2"
check "/metrics: one truncated tail counted; /health ok after replay" \
    test "$(metric sentineld_journal_truncated_tails_total "$TMP/m2")" -eq 1 -a \
    "$(stat -c %s "$seg")" -eq "$before"
check "the records replayed at start are counted" \
    test "$(metric sentineld_journal_replayed_records_total "$TMP/m2")" -gt 0
check "nothing acknowledged was lost by the torn tail" \
    python3 "$TMP/tally.py" "$TMP/out.json" "$N"
sleep 1
diag "lines before restart $before_lines, after $(lines_in)"
check "a restart after a quiet spell sends nothing to out_file twice (replayed records only rebuild windows)" \
    test "$(dups)" -eq "$before_dups"
stop_daemon
tap_done
