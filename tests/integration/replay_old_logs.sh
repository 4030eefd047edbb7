#!/bin/sh
# Old logs reaching a detector that has been running for a while: a file
# followed by in_file (empty at start) gets a day-old sshd log appended
# after the correlation ticker has run several times. Before the fix the
# ticker set the watermark to the clock while no event had arrived, so
# every correlation judged the old lines late and dropped them: the
# brute force in them raised nothing (only per-event rules did). The same
# holds for a consumer whose group forms after a few seconds and then
# reads a backlog. The shipped rule pack, the daemon as users run it.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 4

HTTP=$(free_port)
: >"$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$HTTP" }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: rfc5424,
      follow: true, poll_interval: 100ms }
detectors:
  - { name: d, plugin: det_rules, rules: [$SRCDIR/conf/rules], tick: 200ms }
outputs:
  - { name: inc, plugin: out_file, path: $TMP/inc.json, take: incidents }
EOC
start_daemon "$TMP/c.yaml" "$TMP/d.log"
check "the daemon is up" wait_for 20 curl -sf "http://127.0.0.1:$HTTP/health" -o /dev/null
# Ten ticks with no event at all.
sleep 2

# Yesterday's sshd log, as a relay would have written it: twelve failed
# passwords from one address within a minute, among other lines.
day=$(date -u -d yesterday +%Y-%m-%d)
{
    for i in $(seq 1 12); do
        printf '<38>1 %sT04:00:%02dZ web1 sshd %d - - Failed password for root from 203.0.113.77 port %d ssh2\n' \
            "$day" $((i * 3)) $((1200 + i)) $((50000 + i))
        printf '<30>1 %sT04:00:%02dZ web1 systemd 1 - - Started session %d of user ops.\n' \
            "$day" $((i * 3 + 1)) "$i"
    done
} >>"$TMP/in.log"

check "the brute force in the old lines opens an incident" \
    wait_until 20 "grep -q '\"rule_id\":\"ssh-brute-force\".*203.0.113.77' '$TMP/inc.json'"
check "its times are the log's, not the clock's" python3 - "$TMP/inc.json" "$day" <<'EOP'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
bf = [d for d in docs if d["rule_id"] == "ssh-brute-force"]
assert bf, docs
d = bf[-1]
assert d["group_key"] == {"source.ip": "203.0.113.77"}, d["group_key"]
assert d["hit_count"] >= 10, d["hit_count"]
assert d["first_seen"].startswith(sys.argv[2] + "T04:00:03"), d["first_seen"]
EOP
check "no event was dropped as late" sh -c "
    curl -sf 'http://127.0.0.1:$HTTP/metrics' >'$TMP/metrics' &&
    grep -q '^sentineld_detection_late_dropped_total{instance=\"d\"} 0$' '$TMP/metrics'"
stop_daemon
tap_done
