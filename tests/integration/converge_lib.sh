# Convergence of the incident outputs (sourced after lib.sh, pglib.sh and
# kafka_lib.sh): each writes "id latest-version" lines, sorted, so a test
# compares the store with what PostgreSQL and the alerts topic hold.

# store_ids DB: the incidents the embedded store holds.
store_ids() {
    "$SENTINELD" incidents list --store "$1" --limit 500 --json |
        python3 -c 'import json,sys; [print(i["id"], i["version"]) for i in json.load(sys.stdin)["incidents"]]' |
        sort
}
# pg_ids: the incidents table of the test's PostgreSQL.
pg_ids() {
    pg_psql -c "select id, version from incidents" 2>/dev/null | tr '|' ' ' | sort
}
# kafka_ids TOPIC: the highest version of each incident on the topic,
# read with kcat, independently of sentineld.
kafka_ids() {
    timeout 20 kcat -b "$BOOTSTRAP" -C -t "$1" -e -q -f '%s\n' 2>/dev/null |
        python3 -c '
import json, sys
best = {}
for line in sys.stdin:
    d = json.loads(line)
    best[d["id"]] = max(best.get(d["id"], 0), d["version"])
for k, v in best.items():
    print(k, v)' | sort
}
