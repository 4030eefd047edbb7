#!/bin/sh
# The web console in Debian's chromium, driven by playwright-core from npm
# (tests/browser/, installed with `npm ci` into the build tree). The test
# itself is tests/browser/console.js; screenshots are kept in
# $BUILDDIR/tests/browser/artifacts (and, with SCREENSHOTS=DIR, copied
# there: docs/images is made that way).
# Every incident the pages show is made by the daemon from syslog sent
# with logger(1) through the shipped rule pack; nothing is seeded.
. "$SRCDIR/tests/integration/lib.sh"

command -v logger >/dev/null || skip_all "logger not installed"
. "$SRCDIR/tests/integration/browser_lib.sh"
browser_setup
rm -rf "$BR/artifacts"
mkdir -p "$BR/artifacts"

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", feed_history: 1MiB }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [$SRCDIR/conf/rules] }
outputs:
  - { name: alerts, plugin: out_file, path: $TMP/incidents.json, take: incidents }
  - { name: history, plugin: out_history }
EOC
O=$("$SENTINELD" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
O2=$("$SENTINELD" token create --name omar --role operator -c "$TMP/c.yaml" 2>/dev/null)
V=$("$SENTINELD" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

URL="http://127.0.0.1:$hp" SYSLOG_PORT="$sp" OP_TOKEN="$O" OP2_TOKEN="$O2" VIEWER_TOKEN="$V" \
    ARTIFACTS="$BR/artifacts" OPENAPI="$SRCDIR/web/openapi.json" INCIDENT_FILE="$TMP/incidents.json" \
    NODE_PATH="$BR/node_modules" timeout 300 node "$SRCDIR/tests/browser/console.js"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# daemon: /' "$TMP/log"
if [ $rc -eq 0 ] && [ -n "${SCREENSHOTS:-}" ]; then
    mkdir -p "$SCREENSHOTS" && cp "$BR"/artifacts/*.png "$SCREENSHOTS/"
fi
stop_daemon
exit $rc
