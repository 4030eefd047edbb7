#!/bin/sh
# The console is there by default: the build tree's binary, run on the
# shipped conf/sentineld.yaml (no web_root set), serves web/ and the
# OpenAPI document; a configured web_root without a console is a startup
# warning naming the path.
. "$SRCDIR/tests/integration/lib.sh"

tap_plan 4

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_HTTP_LISTEN="127.0.0.1:$hp"
export SENTINELD_SYSLOG_PORT=$sp SENTINELD_RULES="$SRCDIR/conf/rules"
start_daemon "$SRCDIR/conf/sentineld.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
check "GET / serves the console from the build tree" \
    sh -c "curl -sf http://127.0.0.1:$hp/ | grep -q '<title>sentineld console</title>'"
check "GET /api/v1/openapi.json serves the OpenAPI document" \
    sh -c "curl -sf http://127.0.0.1:$hp/api/v1/openapi.json | grep -q '\"openapi\"'"
stop_daemon

# A web_root that does not exist is a config error (check and run, issue
# #17); one that exists without a console is a warning naming the path.
mkdir -p "$TMP/no-console"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp", web_root: "$TMP/no-console" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
EOC
start_daemon "$TMP/c.yaml" "$TMP/log2"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
check "a web_root without a console is a warning naming the path" \
    grep -q "web_root $TMP/no-console has no index.html" "$TMP/log2"
check "and the API still serves" \
    curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
stop_daemon
tap_done
