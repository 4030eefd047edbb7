#!/bin/bash
# first_run.sh SENTINELD CONFIG [USER]: an installed sentineld met as a new
# user meets it. `check` passes on the installed config; `run` starts with
# it unchanged (as USER when given, the way the systemd unit starts it);
# logger sends twelve failed ssh passwords from one address; the API lists
# the ssh-brute-force incident. Only the ports move (the config's own
# SENTINELD_SYSLOG_PORT / SENTINELD_HTTP_LISTEN variables), so nothing else
# on the machine is disturbed. Prints TAP. Used by `make installcheck`
# (hence distcheck: a real install into a temporary prefix) and by
# tests/package/deb.sh (the Debian package on this machine).
set -u
SENTINELD=$1
CONF=$2
AS_USER=${3:-}
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
export SENTINELD SRCDIR
. "$SRCDIR/tests/integration/lib.sh"
# As installed: no build-tree variables leak in from `make check`.
unset SENTINELD_PLUGIN_PATH SENTINELD_RULES SENTINELD_SQL_DIR \
    SENTINELD_STATE_DIR SENTINELD_CONFIG SENTINELD_LOG_LEVEL
# FIRST_RUN_STATE=temp (make installcheck): the state in a temporary
# directory, through the config's own variable, not the installed one.
[ "${FIRST_RUN_STATE:-}" = temp ] && export SENTINELD_STATE_DIR="$TMP/state" &&
    mkdir -p "$SENTINELD_STATE_DIR"
if [ -n "$AS_USER" ]; then tap_plan 8; else tap_plan 7; fi

# The daemon's user (no capabilities beyond the unit's), or ourselves for
# a user install: a command prefix, so `$!` is the daemon's own pid.
as=()
[ -n "$AS_USER" ] && as=(setpriv --reuid="$AS_USER" --regid="$AS_USER"
    --init-groups --inh-caps=-all --)

check "sentineld check passes on the installed config $CONF" \
    "$SENTINELD" check -c "$CONF"
# The rule pack as the source has it: every conf/rules/*.yaml installed.
missing=""
for r in "$SRCDIR"/conf/rules/*.yaml; do
    [ -f "$(dirname "$CONF")/rules/${r##*/}" ] || missing="$missing ${r##*/}"
done
check "every rule file of conf/rules/ is installed${missing:+ (missing:$missing)}" \
    test -z "$missing"
p_sys=$(free_port)
p_http=$(free_port)
export SENTINELD_SYSLOG_PORT=$p_sys SENTINELD_HTTP_LISTEN=127.0.0.1:$p_http
tok=$("${as[@]}" "$SENTINELD" token create --name first-run-$$ --role viewer \
    -c "$CONF" 2>"$TMP/token.err")
check "a viewer token is created in the state directory" \
    sh -c "echo '$tok' | grep -q '^snt_'"
[ -s "$TMP/token.err" ] && diag "token: $(cat "$TMP/token.err")"

"${as[@]}" "$SENTINELD" run -c "$CONF" >"$TMP/run.out" 2>"$TMP/run.err" &
DPID=$!
PIDS="$PIDS $DPID"
up() { curl -sf "http://127.0.0.1:$p_http/health" >/dev/null; }
check "run starts with the installed config (HTTP answers)" wait_for 30 up
kill -0 "$DPID" 2>/dev/null || diag "run: $(tail -5 "$TMP/run.err")"

for i in $(seq 1 12); do
    logger --server 127.0.0.1 --port "$p_sys" --tcp --rfc3164 \
        -t "sshd[$((700 + i))]" \
        "Failed password for invalid user guest$i from 203.0.113.77 port $((41000 + i)) ssh2"
done
incident() {
    curl -sf -H "Authorization: Bearer $tok" \
        "http://127.0.0.1:$p_http/api/v1/incidents?rule=ssh-brute-force" \
        >"$TMP/incidents.json" &&
        grep -q '203.0.113.77' "$TMP/incidents.json"
}
check "logger's failed passwords open an ssh-brute-force incident (API)" \
    wait_for 30 incident
check "the incident names the rule" grep -q '"ssh-brute-force"' \
    "$TMP/incidents.json"
# Another user (an admin without sudo) is told whose the state is.
if [ -n "$AS_USER" ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$SENTINELD" incidents list -c "$CONF" >/dev/null 2>"$TMP/other.err"
    rc=$?
    check "incidents list as nobody: exit $rc, says the state is $AS_USER's" \
        sh -c "test $rc -eq 1 && grep -q 'belongs to user $AS_USER: run this as root' '$TMP/other.err'"
    sed 's/^/#   /' "$TMP/other.err"
fi
kill -TERM "$DPID" 2>/dev/null
wait "$DPID"
rc=$?
check "SIGTERM stops it cleanly (exit $rc)" test "$rc" -eq 0
[ "$TAP_FAILED" -eq 0 ] || { diag "stderr:"; sed 's/^/#   /' "$TMP/run.err" | tail -20; }
tap_done
