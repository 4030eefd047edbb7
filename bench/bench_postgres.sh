#!/bin/sh
# out_postgres throughput: incident versions (updates) per second into a
# throwaway local PostgreSQL 15 (tests/integration/pglib.sh), through the
# plugin loaded as the daemon loads it (tests/tools/deliver_docs), batch
# 500 by default. N incidents get V versions each, delivered oldest first
# and interleaved (each batch holds several versions of each incident, as
# the outbox would); every version is audited, the newest upserted.
# Durable settings (fsync, synchronous_commit on): one commit per batch.
#   bench/bench_postgres.sh [N_INCIDENTS [VERSIONS [BATCH]]]
#   (after ./scripts/build.sh; as root the server runs as `postgres`)
set -e
cd "$(dirname "$0")/.."
n=${1:-20000}
v=${2:-5}
batch=${3:-500}
b=$PWD/_build
SENTINELD=$b/sentineld
SRCDIR=$PWD
export SENTINELD_PLUGIN_PATH=$b/.plugins SENTINELD_SQL_DIR=$PWD/sql
. tests/integration/lib.sh
. tests/integration/pglib.sh
pg_start
python3 - "$n" "$v" >"$TMP/docs.jsonl" <<'PY'
import json, sys, uuid
n, v = int(sys.argv[1]), int(sys.argv[2])
ev = [{"time": "2026-11-23T10:00:%02d.000000000Z" % k,
       "summary": "Failed password for root from 203.0.113.7 port 4%04d ssh2" % k}
      for k in range(10)]
# 100 incidents per group, each group's versions interleaved.
for g in range(0, n, 100):
    for ver in range(1, v + 1):
        for i in range(g, min(g + 100, n)):
            print(json.dumps({
                "type": "incident", "id": str(uuid.UUID(int=i + 1)),
                "version": ver, "rule_id": "ssh-brute-force",
                "title": "SSH brute force", "description": "failures then success",
                "tags": ["attack.t1110.001"], "severity": "high",
                "base_severity": "medium", "status": "open",
                "pending_approval": None,
                "group_key": {"source.ip": "203.0.113.%d" % (i % 250)},
                "first_seen": "2026-11-23T10:00:01.000000000Z",
                "last_seen": "2026-11-23T10:01:%02d.000000000Z" % ver,
                "hit_count": 10 * ver, "signal_count": ver, "owner": None,
                "previous_id": None,
                "created_at": "2026-11-23T10:00:02.120000000Z",
                "updated_at": "2026-11-23T10:01:%02d.300000000Z" % ver,
                "explanation": {"rule": "ssh-brute-force",
                                "window": {"count": 10 * ver, "threshold": 5,
                                           "seconds": 120},
                                "conditions": [{"expr": "app == 'sshd'",
                                                "actual": "sshd", "pass": True}]},
                "evidence": ev}))
PY
cat >"$TMP/pg.yaml" <<EOC
daemon: { workers: 1, state_dir: $TMP/state }
http: { enabled: false }
outputs:
  - { name: pg, plugin: out_postgres, take: incidents, dsn: "$PG_URL", batch: $batch }
EOC
# CPU seconds the server spent (the postmaster's own plus its reaped
# backends'): on a shared machine the wall-clock rate depends on the
# neighbours, docs per server CPU second does not.
pg_cpu() {
    sleep 0.3 # let the postmaster reap the backend that just exited
    for p in $PGPID $(pgrep -P "$PGPID"); do
        # fields after the ")" of the command name: 14-17 are 12-15 here
        sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
    done | awk -v hz="$(getconf CLK_TCK)" -v pm="$PGPID" '
        NR == 1 { t += $12 + $13 + $14 + $15; next } { t += $12 + $13 }
        END { print t / hz }'
}
run() { # LABEL
    c0=$(pg_cpu)
    "$b/tests/tools/deliver_docs" -c "$TMP/pg.yaml" -b "$batch" <"$TMP/docs.jsonl" 2>>"$TMP/err" >"$TMP/out"
    c1=$(pg_cpu)
    sed "s/^/  $1/" "$TMP/out"
    awk -v d="$docs" -v c0="$c0" -v c1="$c1" -v l="$1" \
        'BEGIN { printf "  %sserver CPU %.2fs: %.0f docs per server CPU second\n", l, c1 - c0, d / (c1 - c0) }'
}
docs=$(wc -l <"$TMP/docs.jsonl")
bytes=$(wc -c <"$TMP/docs.jsonl")
echo "bench_postgres: $docs incident versions ($n incidents x $v), $((bytes / docs)) bytes each, batch $batch, PostgreSQL $(pg_psql -c 'show server_version')"
run "first run: "
run "replay:    "
echo "  rows: $(pg_psql -c 'select count(*) from incidents') incidents, $(pg_psql -c 'select count(*) from incident_audit') audit rows"
