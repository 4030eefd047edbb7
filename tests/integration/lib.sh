# Shared helpers for integration scenarios (sourced, POSIX sh + bash).
# Each scenario prints TAP: plan with `tap_plan N`, results with ok/not_ok.
# Environment from `make check`: SENTINELD, SENTINELD_PLUGIN_PATH, SRCDIR.

: "${SENTINELD:?run through make check (SENTINELD unset)}"
: "${SRCDIR:=.}"
TAP_N=0
TAP_FAILED=0

tap_plan() { echo "1..$1"; }
ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() {
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    echo "not ok $TAP_N - $*$(daemon_gone)"
}
# daemon_gone: when the daemon start_daemon started last has exited (a
# zombie counts), " [daemon exited: <the last line of its log>]", so a CI
# summary that shows only result lines tells a dead daemon from a wrong one.
daemon_gone() {
    [ -n "${DPID:-}" ] || return 0
    # Its state letter from /proc: ps needs procps, which CI does not install.
    st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$DPID/stat" 2>/dev/null)
    case "$st" in
    '' | Z*) printf ' [daemon %s exited: %s]' "$DPID" \
        "$(tail -n 1 "${DLOG:-/dev/null}" 2>/dev/null | cut -c1-300)" ;;
    esac
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# check_why DESCRIPTION COMMAND...: like check, but a failure's line also
# carries the command's last line of output (a Python assertion's
# message), so a CI summary that shows only result lines says why.
check_why() {
    d=$1
    shift
    if "$@" >"$TMP/.why" 2>&1; then
        cat "$TMP/.why"
        ok "$d"
    else
        cat "$TMP/.why"
        not_ok "$d ($(tail -n 1 "$TMP/.why" | tr -d "#" | cut -c1-300))"
    fi
}
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# A temp dir removed at exit, and daemons killed by pid.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-test.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ -f "$TMP/.ports" ] && (cd "$PORT_DIR" && xargs rm -f <"$TMP/.ports")
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

# A free port on 127.0.0.1 for a server the test starts (TCP and UDP both
# free). Picked outside the kernel's ephemeral range (32768-60999 on
# Linux): a port the kernel handed out and took back could be handed to
# any client's outgoing connection (PostgreSQL, Kafka, curl) before our
# server binds it, which made a daemon fail to start now and then.
# A port handed out is also reserved (a file in $PORT_DIR, removed when the
# test exits; older than two hours: left by a killed test) so that two tests
# of one `make -j check` never pick the same port before either binds it.
PORT_DIR=${TMPDIR:-/tmp}/sentineld-ports
free_port() {
    mkdir -p "$PORT_DIR"
    python3 -c '
import os, random, socket, sys, time
dir, mine = sys.argv[1], sys.argv[2]
while True:
    p = random.randint(20000, 32000)
    lock = os.path.join(dir, str(p))
    try:
        if time.time() - os.stat(lock).st_mtime > 7200:
            os.unlink(lock)
    except OSError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        continue
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        os.unlink(lock)
        continue
    with open(mine, "a") as f:
        f.write("%d\n" % p)
    print(p)
    break' "$PORT_DIR" "$TMP/.ports"
}

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
    t=$1
    shift
    i=0
    while [ "$i" -lt $((t * 20)) ]; do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# wait_until SECONDS 'SHELL CONDITION': like wait_for, but the condition is
# evaluated afresh each time (write `wait_until 5 'test "$(lines f)" -eq 3'`;
# `wait_for 5 test "$(lines f)" -eq 3` would count the lines only once).
wait_until() {
    t=$1
    shift
    wait_for "$t" eval "$1"
}

# within SECONDS COMMAND...: like wait_for, but bounded by the clock, not
# by a count of tries: for a slow command (one that starts python3).
within() {
    _end=$(($(date +%s) + $1))
    shift
    while [ "$(date +%s)" -lt "$_end" ]; do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    return 1
}

# ssh_failures PORT IP N: N sshd "Failed password" lines from IP, sent by
# logger over TCP to 127.0.0.1:PORT (10 open the shipped ssh-brute-force).
ssh_failures() {
    for i in $(seq 1 "$3"); do
        logger --server 127.0.0.1 --port "$1" --tcp --rfc3164 -t "sshd[$((700 + i))]" \
            "Failed password for invalid user admin from $2 port $((40000 + i)) ssh2"
    done
}

# start_daemon CONFIG LOG: run sentineld in the background, set DPID.
start_daemon() {
    "$SENTINELD" run -c "$1" >"$2.out" 2>"$2" &
    DPID=$!
    DLOG=$2
    PIDS="$PIDS $DPID"
}

# stop_daemon: SIGTERM, wait, return its exit status.
stop_daemon() {
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID"
}

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# plugin_metric HTTP_PORT NAME INSTANCE: the value of a plugin instance's
# counter sentineld_plugin_NAME{instance="INSTANCE"} on /metrics.
plugin_metric() {
    curl -sf "http://127.0.0.1:$1/metrics" |
        sed -n "s/^sentineld_plugin_$2{instance=\"$3\"} //p"
}

# make_certs CLIENT_CN: in $TMP, a CA (ca.pem), a server certificate for
# sentineld.test / 127.0.0.1 (server.pem, server.key), a client
# certificate for CLIENT_CN (client.pem, client.key) signed by the CA, and
# a self-signed one it did not sign (other.pem, other.key). Returns 1 when
# openssl is missing or fails (its output is in $TMP/openssl.log).
make_certs() {
    command -v openssl >/dev/null || return 1
    (
        cd "$TMP" &&
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca \
                -keyout ca.key -out ca.pem &&
            openssl req -newkey rsa:2048 -nodes -subj /CN=sentineld.test \
                -keyout server.key -out server.csr &&
            printf 'subjectAltName=DNS:sentineld.test,IP:127.0.0.1\n' >srv.ext &&
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
                -CAcreateserial -days 2 -extfile srv.ext -out server.pem &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" \
                -keyout client.key -out client.csr &&
            printf 'subjectAltName=DNS:%s\n' "$1" >cli.ext &&
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key \
                -CAcreateserial -days 2 -extfile cli.ext -out client.pem &&
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
                -subj /CN=intruder.test -keyout other.key -out other.pem
    ) >"$TMP/openssl.log" 2>&1
}

tap_done() { [ "$TAP_FAILED" -eq 0 ]; }
