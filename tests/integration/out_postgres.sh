#!/bin/sh
# out_postgres against a real PostgreSQL 15 (pglib.sh), driven by
# tests/tools/deliver_docs (the plugin loaded as the daemon loads it):
# migrations apply once, are recorded and are never re-applied or edited;
# upserts are idempotent and keep the newest version whatever the order;
# a refused document is isolated and named; PostgreSQL stopped mid-stream
# loses nothing (RETRY, reconnect); bad DSNs are clear errors; concurrent
# starts do not race; TLS when the DSN asks for it.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
tap_plan 36

DRIVER="$BUILDDIR/tests/tools/deliver_docs"

# gen_docs N_INCIDENTS VERSIONS [ORDER [FIRST]]: incident documents as JSON
# lines; ORDER "asc" (default), "desc" (newest version first) or "bad3"
# (ascending, with the third incident's severity one the schema refuses).
gen_docs() {
    python3 - "$@" <<'EOP'
import json, sys, uuid
n, versions = int(sys.argv[1]), int(sys.argv[2])
order = sys.argv[3] if len(sys.argv) > 3 else "asc"
first = int(sys.argv[4]) if len(sys.argv) > 4 else 1
vs = list(range(1, versions + 1))
if order == "desc":
    vs.reverse()
for i in range(first, first + n):
    for v in vs:
        d = {"type": "incident", "id": str(uuid.UUID(int=i)), "version": v,
             "rule_id": "ssh-brute-force", "title": "SSH brute force",
             "description": "many failures", "tags": ["attack.t1110.001"],
             "severity": "critical" if v >= 3 else "high",
             "base_severity": "medium", "status": "open",
             "pending_approval": None,
             "group_key": {"source.ip": "203.0.113.%d" % (i % 250)},
             "first_seen": "2026-11-23T10:00:01.000000000Z",
             "last_seen": "2026-11-23T10:01:%02d.000000000Z" % v,
             "hit_count": 10 * v, "signal_count": v, "owner": None,
             "previous_id": None,
             "created_at": "2026-11-23T10:00:02.120000000Z",
             "updated_at": "2026-11-23T10:01:%02d.300000000Z" % v,
             "explanation": {"window": {"count": 10 * v, "threshold": 5}},
             "evidence": [{"time": "2026-11-23T10:00:01Z", "summary": "x"}]}
        if order == "bad3" and i == first + 2:
            d["severity"] = "bogus"
        print(json.dumps(d))
EOP
}

# config FILE DSN [SCHEMA [BATCH]]
config() {
    cat >"$1" <<EOC
daemon: { workers: 1, state_dir: $TMP/state }
http: { enabled: false }
outputs:
  - name: pg
    plugin: out_postgres
    take: incidents
    dsn: "$2"
    schema: ${3:-public}
    batch: ${4:-500}
    connect_timeout: 2s
EOC
}

metric() { # FILE NAME: the value of sentineld_plugin_NAME
    sed -n "s/^sentineld_plugin_$2{instance=\"pg\"} //p" "$1"
}

pg_start || { not_ok "PostgreSQL 15 starts (initdb, pg_ctl as $PG_USER)"; exit 1; }
ok "PostgreSQL starts as $PG_USER on port $PGPORT"
config "$TMP/pg.yaml" "$PG_URL"

# --- migrations: applied once and recorded ---------------------------------
gen_docs 20 3 >"$TMP/docs.jsonl"
"$DRIVER" -c "$TMP/pg.yaml" --metrics "$TMP/m1" <"$TMP/docs.jsonl" \
    >"$TMP/run1.out" 2>"$TMP/run1.err"
check "first delivery exits 0" test $? -eq 0
check "migration 001 applied and logged" grep -q "applied migration 001_incidents.sql" "$TMP/run1.err"
check "schema_migrations records it with a checksum" test \
    "$(pg_psql -c "select version||' '||name||' '||length(checksum) from schema_migrations")" = "1 001_incidents.sql 64"
check "20 incidents at version 3" test \
    "$(pg_psql -c "select count(*)||' '||min(version)||' '||max(version)||' '||sum(hit_count) from incidents")" = "20 3 3 600"
check "columns filled from the document" test \
    "$(pg_psql -c "select severity||' '||status||' '||(group_key->>'source.ip')||' '||tags[1]||' '||(explanation->'window'->>'count')||' '||last_seen from incidents where id='00000000-0000-0000-0000-000000000001'")" = \
    "critical open 203.0.113.1 attack.t1110.001 30 2026-11-23 10:01:03+00"
check "an audit row per version (60)" test "$(pg_psql -c "select count(*) from incident_audit")" -eq 60
check "counters: 20 upserts, 40 superseded, 1 migration" test \
    "$(metric "$TMP/m1" postgres_upserts_total) $(metric "$TMP/m1" postgres_stale_total) $(metric "$TMP/m1" postgres_migrations_applied_total)" = "20 40 1"

# --- a second start applies nothing; replays change nothing ---------------
pg_psql -c "select id, version, hit_count, severity, last_seen, updated_at from incidents order by id" >"$TMP/before.txt"
applied_at=$(pg_psql -c "select applied_at from schema_migrations")
"$DRIVER" -c "$TMP/pg.yaml" --metrics "$TMP/m2" <"$TMP/docs.jsonl" \
    >"$TMP/run2.out" 2>"$TMP/run2.err"
check "replay exits 0" test $? -eq 0
check "second start applies no migration" test \
    "$(metric "$TMP/m2" postgres_migrations_applied_total) $(pg_psql -c "select count(*) from schema_migrations") $(pg_psql -c "select applied_at from schema_migrations")" = "0 1 $applied_at"
pg_psql -c "select id, version, hit_count, severity, last_seen, updated_at from incidents order by id" >"$TMP/after.txt"
check "replay leaves incidents unchanged" cmp -s "$TMP/before.txt" "$TMP/after.txt"
check "replay adds no audit rows and upserts nothing (60 stale)" test \
    "$(pg_psql -c "select count(*) from incident_audit") $(metric "$TMP/m2" postgres_upserts_total) $(metric "$TMP/m2" postgres_stale_total)" = "60 0 60"
pg_psql -c "delete from incident_audit" 2>"$TMP/del.err"
check "incident_audit is append-only" sh -c \
    "test $? -ne 0 && grep -q 'append-only' '$TMP/del.err'"

# --- versions out of order end with the newest ------------------------------
gen_docs 5 4 desc 100 >"$TMP/desc.jsonl"
"$DRIVER" -c "$TMP/pg.yaml" -b 1 <"$TMP/desc.jsonl" >"$TMP/desc.out" 2>&1
check "newest-first, one per batch: ends at version 4" test \
    "$(pg_psql -c "select count(*)||' '||min(version)||' '||max(hit_count) from incidents where id >= '00000000-0000-0000-0000-000000000064'")" = "5 4 40"
gen_docs 5 5 desc 200 >"$TMP/desc2.jsonl"
"$DRIVER" -c "$TMP/pg.yaml" <"$TMP/desc2.jsonl" >"$TMP/desc2.out" 2>&1
check "newest-first in one batch: ends at version 5, all 25 audited" test \
    "$(pg_psql -c "select min(version)||' '||max(version) from incidents where id >= '00000000-0000-0000-0000-0000000000c8'") $(pg_psql -c "select count(*) from incident_audit where incident_id >= '00000000-0000-0000-0000-0000000000c8'")" = "5 5 25"

# --- a refused document is isolated and named ------------------------------
gen_docs 5 1 bad3 300 >"$TMP/bad.jsonl"
"$DRIVER" -c "$TMP/pg.yaml" --metrics "$TMP/m3" <"$TMP/bad.jsonl" >"$TMP/bad.out" 2>"$TMP/bad.err"
check "a batch with a refused document exits 1 (FAIL)" test $? -eq 1
check "FAIL names the incident, version and constraint" grep -q \
    "FAIL: incident 00000000-0000-0000-0000-00000000012e version 1: 23514: .*incidents_severity_check" "$TMP/bad.out"
check "the 4 good documents of that batch landed" test \
    "$(pg_psql -c "select count(*) from incidents where id between '00000000-0000-0000-0000-00000000012c' and '00000000-0000-0000-0000-000000000130'")" -eq 4
check "rejected_docs counter is 1" test "$(metric "$TMP/m3" postgres_rejected_docs_total)" = 1

# --- PostgreSQL stopped mid-stream: everything lands -----------------------
gen_docs 400 3 asc 1000 >"$TMP/stream.jsonl"   # 1200 versions
python3 -c "
import sys, time
lines = open('$TMP/stream.jsonl').read().splitlines(True)
for i in range(0, len(lines), 50):
    sys.stdout.write(''.join(lines[i:i+50])); sys.stdout.flush(); time.sleep(0.1)
" | "$DRIVER" -c "$TMP/pg.yaml" -b 50 --retry-for 30 --metrics "$TMP/m4" \
    >"$TMP/stream.out" 2>"$TMP/stream.err" &
SPID=$!
PIDS="$PIDS $SPID"
stream_started() {
    [ "$(pg_psql -c "select count(*) from incidents where id >= '00000000-0000-0000-0000-0000000003e8'")" -gt 0 ]
}
wait_for 10 stream_started
pg_stop
sleep 2
pg_start
wait "$SPID"
check "stream with an outage exits 0" test $? -eq 0
check "the outage was retried" grep -q "RETRY in" "$TMP/stream.out"
check "all 400 incidents at version 3 after the outage" test \
    "$(pg_psql -c "select count(*)||' '||min(version) from incidents where id >= '00000000-0000-0000-0000-0000000003e8'")" = "400 3"
check "every version audited once (1200) and a reconnect counted" test \
    "$(pg_psql -c "select count(*) from incident_audit where incident_id >= '00000000-0000-0000-0000-0000000003e8'") $(metric "$TMP/m4" postgres_connects_total)" = "1200 2"

# --- migrations: an edited applied file is refused; a new one applies ------
cp -r "$SRCDIR/sql" "$TMP/sql-edited"
echo "-- edited" >>"$TMP/sql-edited/001_incidents.sql"
SENTINELD_SQL_DIR="$TMP/sql-edited" "$DRIVER" -c "$TMP/pg.yaml" \
    <"$TMP/docs.jsonl" >"$TMP/edit.out" 2>"$TMP/edit.err"
check "an edited applied migration stops the start (exit 2)" test $? -eq 2
check "the error names the file and says it changed" grep -q \
    "migration $TMP/sql-edited/001_incidents.sql was changed after it was applied" "$TMP/edit.err"
cp -r "$SRCDIR/sql" "$TMP/sql-new"
printf 'ALTER TABLE incidents ADD COLUMN note text;\n' >"$TMP/sql-new/002_note.sql"
SENTINELD_SQL_DIR="$TMP/sql-new" "$DRIVER" -c "$TMP/pg.yaml" \
    <"$TMP/docs.jsonl" >"$TMP/new.out" 2>"$TMP/new.err"
check "a new numbered migration is applied once, recorded" test \
    "$?:$(pg_psql -c "select string_agg(name, ',' order by version) from schema_migrations")" = "0:001_incidents.sql,002_note.sql"

printf -- '-- a typo on line 2\nALTER TABLE incidents ADD COLUMN oops texte;\n' >"$TMP/sql-new/003_bad.sql"
SENTINELD_SQL_DIR="$TMP/sql-new" "$DRIVER" -c "$TMP/pg.yaml" \
    <"$TMP/docs.jsonl" >"$TMP/badmig.out" 2>"$TMP/badmig.err"
check "a failing migration names file and line, and is not recorded" sh -c \
    "test $? -eq 2 && grep -q 'migration $TMP/sql-new/003_bad.sql:2 failed: 42704: type \"texte\" does not exist' '$TMP/badmig.err' && test $(pg_psql -c 'select count(*) from schema_migrations') -eq 2"

# --- concurrent first starts in a new schema do not race -------------------
config "$TMP/race.yaml" "$PG_URL" race
for i in 1 2 3 4; do
    gen_docs 10 1 asc $((5000 + i * 100)) |
        "$DRIVER" -c "$TMP/race.yaml" >"$TMP/race$i.out" 2>"$TMP/race$i.err" &
    eval "RPID$i=\$!"
done
rc=0
for i in 1 2 3 4; do eval "wait \$RPID$i" || rc=1; done
check "4 instances migrating schema race at once all succeed" test "$rc" -eq 0
check "schema race: migration applied once, 40 incidents" test \
    "$(pg_psql -c "select count(*) from race.schema_migrations") $(pg_psql -c "select count(*) from race.incidents")" = "1 40"

# --- bad DSNs ---------------------------------------------------------------
config "$TMP/bad-dsn.yaml" "host=127.0.0.1 port"
"$DRIVER" -c "$TMP/bad-dsn.yaml" </dev/null >/dev/null 2>"$TMP/bad-dsn.err"
check "an unparsable DSN is a config error naming it" sh -c \
    "test $? -eq 2 && grep -q 'bad-dsn.yaml.*dsn is not a valid libpq connection string' '$TMP/bad-dsn.err'"
dead=$(free_port)
config "$TMP/down.yaml" "postgresql://sentineld@127.0.0.1:$dead/postgres"
gen_docs 1 1 >"$TMP/one.jsonl"
"$DRIVER" -c "$TMP/down.yaml" --retry-for 1 <"$TMP/one.jsonl" >"$TMP/down.out" 2>"$TMP/down.err"
check "PostgreSQL down at start: start succeeds, deliver RETRYs (exit 3)" sh -c \
    "test $? -eq 3 && grep -q 'cannot connect to PostgreSQL.*$dead.*incidents wait in the outbox' '$TMP/down.err' && grep -q 'RETRY in' '$TMP/down.out'"
"$SENTINELD" run -c "$TMP/down.yaml" >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 10 grep -q "cannot connect to PostgreSQL" "$TMP/daemon.err"
sleep 0.5
check "the daemon keeps running with PostgreSQL down" kill -0 "$DPID"
stop_daemon
check "and stops cleanly" test $? -eq 0

# --- TLS when the DSN asks for it ------------------------------------------
pg_stop
PG_DIR="$TMP/pgtls" PGSOCK="$TMP/pgtls/sock" PGPID=""
if make_certs client.test && pg_start tls; then
    ok "a TLS-only PostgreSQL starts (self-signed CA)"
else
    not_ok "a TLS-only PostgreSQL starts (self-signed CA)"
    diag "$(tail -5 "$TMP/openssl.log" "$PG_DIR/server.log" 2>&1)"
fi
config "$TMP/tls.yaml" "host=127.0.0.1 port=$PGPORT user=sentineld dbname=postgres sslmode=verify-full sslrootcert=$TMP/ca.pem"
"$DRIVER" -c "$TMP/tls.yaml" --retry-for 10 <"$TMP/one.jsonl" >"$TMP/tls.out" 2>"$TMP/tls.err"
rc=$?
check "sslmode=verify-full connects over TLS and writes" sh -c \
    "test $rc -eq 0 && grep -q 'connected to PostgreSQL.*(TLSv1' '$TMP/tls.err' && test $(pg_psql -c 'select count(*) from incidents') -eq 1"
config "$TMP/notls.yaml" "host=127.0.0.1 port=$PGPORT user=sentineld dbname=postgres sslmode=disable"
"$DRIVER" -c "$TMP/notls.yaml" --retry-for 1 <"$TMP/one.jsonl" >"$TMP/notls.out" 2>"$TMP/notls.err"
check "the TLS-only server refuses sslmode=disable, clearly" sh -c \
    "test $? -eq 3 && grep -q 'no encryption' '$TMP/notls.err'"

# What the failing steps said, for the CI log.
if [ "$TAP_FAILED" -gt 0 ]; then
    for f in run1.err stream.out stream.err race1.err down.err tls.out tls.err notls.err; do
        [ -s "$TMP/$f" ] && diag "--- $f" && tail -8 "$TMP/$f" | sed 's/^/# /'
    done
fi
tap_done
