#!/bin/bash
# Versions worth delivering (docs/incidents.md "Versions"): a 20 s SSH
# brute force sent with logger, one failure every 0.1 s from one
# address, with incidents.update_interval 15s. ssh-brute-force fires once
# (its 2-minute window) and sends the failures after the 10th as an
# update signal every 5 s of event time, so versions that only add hits
# come faster than the interval lets them out. The outputs get the
# opening version at once and then at most one version per interval
# carrying the counters, plus the acknowledge at once; the last delivered
# version's hit count is every failure the rule counted (nothing lost,
# only batched), and the store agrees with it. A held version is
# delivered by the interval even when no further signal comes.
. "$SRCDIR/tests/integration/lib.sh"
command -v logger >/dev/null || skip_all "logger not installed"

tap_plan 7

sp=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [$SRCDIR/conf/rules], signals_file: $TMP/signals.json }
incidents: { update_interval: 15s }
outputs:
  - { name: alerts, plugin: out_file, path: $TMP/incidents.json, take: incidents }
EOC
O=$("$SENTINELD" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

# 200 failures over 20 s or so: the rule (10 in 2 min, once per window)
# fires once, then an update every 5 s: 5 or 6 signals, each a version
# before the interval.
start=$(date +%s)
for i in $(seq 1 200); do
    logger --server 127.0.0.1 --port "$sp" --tcp --rfc5424 -t sshd \
        "Failed password for root from 203.0.113.9 port $((30000 + i)) ssh2"
    sleep 0.1
done
took=$(($(date +%s) - start))
diag "attack took $took s"

bf() { grep '"rule_id":"ssh-brute-force"' "$TMP/incidents.json" 2>/dev/null; }
last_hits() { bf | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["hit_count"])'; }
# The last update signal comes once the stream has been quiet for 5 s
# and the update interval has passed (up to 10 s after the attack); the
# held tail is delivered within one interval (15 s) after it.
check "the last delivered version carries all 200 hits" \
    wait_until 40 'test "$(last_hits)" = 200'
n=$(bf | wc -l)
sigs=$(grep -c '"rule":"ssh-brute-force"' "$TMP/signals.json")
diag "ssh-brute-force: $sigs signals (1 firing, then updates), versions delivered: $n (store version $(bf | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'))"
# The opening, then one per 15 s until the tail, which goes out at most
# 15 s after the last signal (the attack plus up to 10 s after it);
# fewer than the signals, which each were a version without the interval.
# One per started interval of that span (rounded up: a span of 52 s
# under load started 4 intervals), plus the opening.
bound=$(( 1 + (took + 10 + 15 + 14) / 15 ))
check "a bounded number of versions: $n <= $bound, fewer than the rule's $sigs signals" \
    test "$n" -le "$bound" -a "$n" -lt "$sigs"
check "more than the opening one (counters go out each interval)" test "$n" -ge 2
check "versions delivered in increasing order" sh -c \
    "grep '\"rule_id\":\"ssh-brute-force\"' '$TMP/incidents.json' | python3 -c '
import json, sys
v = [json.loads(l)[\"version\"] for l in sys.stdin]
sys.exit(0 if v == sorted(v) and len(set(v)) == len(v) else 1)'"
id=$(bf | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api=$(curl -sf -H "Authorization: Bearer $O" "http://127.0.0.1:$hp/api/v1/incidents/$id")
check "the store has the same hit count and version as the last delivered" python3 -c '
import json, sys
a = json.loads(sys.argv[1]); l = json.loads(sys.argv[2])
assert a["hit_count"] == l["hit_count"] == 200 and a["version"] == l["version"], (a["version"], l["version"])
' "$api" "$(bf | tail -1)"
# A status change goes out at once, not after the interval.
before=$(bf | wc -l)
curl -sf -X POST -H "Authorization: Bearer $O" -H 'Content-Type: application/json' \
    -d '{"reason":"looking"}' "http://127.0.0.1:$hp/api/v1/incidents/$id/acknowledge" -o /dev/null
check "an acknowledge is delivered at once" \
    wait_until 2 'test "$(bf | wc -l)" -gt "$before" && bf | tail -1 | grep -q "\"status\":\"acknowledged\""'
check "held versions are counted on /metrics" \
    sh -c "curl -sf http://127.0.0.1:$hp/metrics | grep -Eq '^sentineld_incident_versions_held_total [1-9]'"
stop_daemon
tap_done
