# Shared by reports.sh, reports_pg.sh and reports_remote.sh (sourced
# after lib.sh): the daemon's API as an operator or viewer, SSH failures
# that open the shipped rule pack's incidents, the ids of those
# incidents, and a daemon config writing into PostgreSQL.

# req TOKEN METHOD PATH [BODY]: the status code; the body in $TMP/b ($U).
req() {
    curl -s -o "$TMP/b" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+--data-binary "$4"} "$U$3"
}

# fail IP N: N failures with distinct user names from one address, by
# logger over TCP to 127.0.0.1:$sp (10 open ssh-brute-force, 5 users
# ssh-password-spray).
fail() {
    i=0
    while [ "$i" -lt "$2" ]; do
        i=$((i + 1))
        logger --server 127.0.0.1 --port "$sp" --tcp --rfc3164 \
            -t "sshd[$((2000 + i))]" \
            "Failed password for invalid user u$i from $1 port $((40000 + i)) ssh2"
    done
}

# ids TOKEN NAME...: "BF10=<id> SP11=<id> ..." for the brute-force (BF)
# and spraying (SP) incidents of 203.0.113.<n>; fails until all exist
# (one request and one python3 per poll).
ids() {
    req "$1" GET "/api/v1/incidents?limit=100" >/dev/null || return 1
    shift
    python3 - "$TMP/b" "$@" <<'EOP'
import json, sys
got = {}
for i in json.load(open(sys.argv[1]))["incidents"]:
    ip = i["group_key"].get("source.ip", "")
    name = {"ssh-brute-force": "BF", "ssh-password-spray": "SP"}.get(i["rule_id"])
    if name and ip.startswith("203.0.113."):
        got[name + ip.split(".")[-1]] = i["id"]
want = sys.argv[2:]
assert all(w in got for w in want), got
print(" ".join("%s=%s" % (w, got[w]) for w in want))
EOP
}

# pg_conf STATE HTTP-PORT SYSLOG-PORT AUTO-RESOLVE OUTPUT-LINES HTTP-EXTRA:
# a daemon config on stdout: logger's TCP input, the shipped rules, and
# an out_postgres output `pg` into $PG_URL (pglib.sh) with OUTPUT-LINES
# appended (e.g. "    reports: true"); HTTP-EXTRA goes into http's flow
# map (", report_timeout: 2s").
pg_conf() {
    cat <<EOC
daemon: { state_dir: $1, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$2"$6 }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$3" ] }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ], tick: 100ms }
incidents: { auto_resolve: $4, update_interval: 0s }
outputs:
  - name: pg
    plugin: out_postgres
    take: incidents
    dsn: "$PG_URL"
    migrations_dir: $SRCDIR/sql
    statement_timeout: 10s
$5
EOC
}
