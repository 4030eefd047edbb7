# A throwaway PostgreSQL for integration tests and benchmarks (sourced
# after lib.sh, which provides $TMP, free_port and wait_for). Debian 12's
# `postgresql` package (scripts/deps.sh) is all it needs: initdb and pg_ctl
# from /usr/lib/postgresql/<version>/bin, a cluster in $TMP/pg, a free TCP
# port on 127.0.0.1, the unix socket in $TMP/pg/sock, trust auth. As root
# the server runs as the unprivileged `postgres` user the package creates
# (or nobody), since PostgreSQL refuses to run as root.
#
#   pg_start [tls]   start (again, keeping data and port); sets PGPORT,
#                    PGSOCK, PGPID, PG_URL (postgresql://...127.0.0.1...).
#                    tls: ssl=on with $TMP/server.pem|key (make_certs) and
#                    TCP connections accepted only over TLS.
#   pg_stop          fast shutdown by pid (clients are disconnected)
#   pg_psql ARGS...  psql on the unix socket: unaligned, tuples only,
#                    stops on the first error
# PG_OPTS: extra `postgres` options for pg_start (e.g. "-c fsync=off").

PG_DIR="${PG_DIR:-$TMP/pg}"
PGSOCK="${PGSOCK:-$PG_DIR/sock}"
PGPORT=""
PGPID=""
PG_URL=""

pg_find_bin() {
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    command -v pg_config >/dev/null && d=$(pg_config --bindir) &&
        [ -x "$d/initdb" ] && echo "$d" && return 0
    return 1
}
PG_BIN=$(pg_find_bin) || PG_BIN=""

if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
else
    PG_USER=$(id -un)
fi

pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

pg_psql() {
    psql_bin="$PG_BIN/psql"
    [ -x "$psql_bin" ] || psql_bin=psql
    "$psql_bin" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" \
        -U sentineld -d postgres "$@"
}

pg_start() {
    if [ -z "$PG_BIN" ]; then
        echo "pglib: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
        return 1
    fi
    # The unprivileged server must reach its directory inside $TMP.
    chmod 711 "$TMP"
    ssl=""
    fresh=""
    if [ ! -d "$PG_DIR/data" ]; then
        fresh=yes
        mkdir -p "$PG_DIR" "$PGSOCK"
        [ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$PG_DIR"
        pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U sentineld -A trust \
            -E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
            cat "$PG_DIR/initdb.log" >&2
            return 1
        }
        hba=host
        if [ "${1:-}" = tls ]; then
            hba=hostssl
            cp "$TMP/server.pem" "$TMP/server.key" "$PG_DIR/"
            chmod 600 "$PG_DIR/server.key"
            [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PG_DIR/server.pem" "$PG_DIR/server.key"
        fi
        printf 'local all all trust\n%s all all 127.0.0.1/32 trust\n' "$hba" \
            >"$PG_DIR/data/pg_hba.conf"
        [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PG_DIR/data/pg_hba.conf"
        PGPORT=$(free_port)
    fi
    if [ -f "$PG_DIR/server.pem" ]; then
        ssl="-c ssl=on -c ssl_cert_file=$PG_DIR/server.pem -c ssl_key_file=$PG_DIR/server.key"
    fi
    # A first start may lose its free port to a concurrent test before the
    # server binds it: try another port. A restart keeps its port (clients
    # hold the DSN).
    tries=1
    [ -n "$fresh" ] && tries=3
    while :; do
        # shellcheck disable=SC2086
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
            -o "-p $PGPORT -k $PGSOCK -c listen_addresses=127.0.0.1 $ssl ${PG_OPTS:-}" \
            start >"$PG_DIR/pg_ctl.log" 2>&1 && break
        tries=$((tries - 1))
        if [ "$tries" -gt 0 ] && grep -q "could not bind\|could not create any TCP/IP sockets" "$PG_DIR/server.log"; then
            PGPORT=$(free_port)
            continue
        fi
        cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2
        return 1
    done
    PGPID=$(head -1 "$PG_DIR/data/postmaster.pid")
    PG_URL="postgresql://sentineld@127.0.0.1:$PGPORT/postgres"
    export PGPORT PGSOCK PGPID PG_URL
}

# Fast shutdown (SIGINT): open connections are closed, as in an outage.
pg_stop() {
    [ -n "$PGPID" ] || return 0
    kill -INT "$PGPID" 2>/dev/null
    i=0
    while kill -0 "$PGPID" 2>/dev/null && [ "$i" -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$PGPID" 2>/dev/null; then
        kill -9 "$PGPID" 2>/dev/null
        return 1
    fi
    PGPID=""
}

# lib.sh's cleanup kills -9 what is in $PIDS; the server gets a clean stop
# first so no orphaned backends outlive the test.
pg_cleanup() {
    pg_stop
    cleanup
}
trap pg_cleanup EXIT

# pg_lock_table TABLE SECONDS: a background psql (LOCKPID) holds an ACCESS
# EXCLUSIVE lock on TABLE for SECONDS; returns once the lock is granted
# (a fixed sleep raced a loaded machine: the query under test came first).
pg_lock_table() {
    pg_psql -c "BEGIN; LOCK TABLE $1 IN ACCESS EXCLUSIVE MODE;
        SELECT pg_sleep($2); COMMIT;" >/dev/null 2>&1 &
    LOCKPID=$!
    PIDS="$PIDS $LOCKPID"
    wait_for 10 pg_lock_granted "$1"
}
pg_lock_granted() {
    [ "$(pg_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relname = '$1' AND l.mode = 'AccessExclusiveLock' AND l.granted")" -ge 1 ]
}
# pg_lock_waiter: true once a reading session waits for a lock (a
# report, review or list query; not out_postgres's writer, which waits
# too when a daemon writes a version meanwhile).
pg_lock_waiter() {
    [ "$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
        AND query NOT LIKE 'WITH batch%'")" -ge 1 ]
}
