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
    echo "not ok $TAP_N - $*"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# A temp dir removed at exit, and daemons killed by pid.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-test.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1 (bound then released by the kernel).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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

# start_daemon CONFIG LOG: run sentineld in the background, set DPID.
start_daemon() {
    "$SENTINELD" run -c "$1" >"$2.out" 2>"$2" &
    DPID=$!
    PIDS="$PIDS $DPID"
}

# stop_daemon: SIGTERM, wait, return its exit status.
stop_daemon() {
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID"
}

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

tap_done() { [ "$TAP_FAILED" -eq 0 ]; }
