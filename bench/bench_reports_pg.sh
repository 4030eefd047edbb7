#!/bin/sh
# GET /api/v1/reports from PostgreSQL (out_postgres `reports: true`)
# against the same report from the daemon's own store (`source=local`),
# over the same N incidents: tests/tools/seed_incident writes them into
# the store (with their outbox rows), the daemon relays them to a
# throwaway PostgreSQL 15 (tests/integration/pglib.sh), then each report
# is asked R times, alternating, and /health is timed while the
# PostgreSQL reports run. Prints the median and max per source.
#   bench/bench_reports_pg.sh [N_INCIDENTS [RUNS]]
#   (after ./scripts/build.sh and `make -C _build tests/tools/seed_incident`)
set -e
cd "$(dirname "$0")/.."
n=${1:-20000}
runs=${2:-7}
b=$PWD/_build
SENTINELD=$b/sentineld
SRCDIR=$PWD
export SENTINELD_PLUGIN_PATH=$b/.plugins SENTINELD_SQL_DIR=$PWD/sql
. tests/integration/lib.sh
. tests/integration/pglib.sh
pg_start
hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp", auth: false }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$(free_port)" ] }
outputs:
  - { name: pg, plugin: out_postgres, take: incidents, dsn: "$PG_URL", reports: true }
EOC
# The store exists once the daemon opened it; seed with it stopped.
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
stop_daemon || true
T0=$(date +%s%N)
for r in 0 1 2 3; do
    "$b/tests/tools/seed_incident" "$TMP/state/sentineld.db" "rule-$r" "$r" \
        "bench $r" "198.51.100.$r" $((n / 4)) >/dev/null
done
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
have() { [ "$(pg_psql -c "SELECT count(*) FROM incidents")" -ge $((n / 4 * 4)) ]; }
wait_for 300 have
T1=$(date +%s%N)
U="http://127.0.0.1:$hp/api/v1/reports?since=$T0&until=$T1"
: >"$TMP/t_pg"
: >"$TMP/t_local"
: >"$TMP/t_health"
for i in $(seq 1 "$runs"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$U" >>"$TMP/t_pg" &
    c=$!
    while kill -0 "$c" 2>/dev/null; do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$hp/health" >>"$TMP/t_health"
        sleep 0.02
    done
    wait "$c"
    curl -s -o /dev/null -w '%{time_total}\n' "$U&source=local" >>"$TMP/t_local"
done
curl -s "$U" | python3 -c "import json,sys; print('incidents in the report:', json.load(sys.stdin)['totals']['incidents'])"
for f in pg local health; do
    python3 - "$f" "$TMP/t_$f" <<'PY'
import statistics, sys
x = sorted(float(l) * 1000 for l in open(sys.argv[2]) if l.strip())
print("%-6s n=%3d median %8.1f ms  max %8.1f ms" % (sys.argv[1], len(x),
      statistics.median(x), x[-1]))
PY
done
stop_daemon || true
