#!/bin/sh
# The web console in Debian's chromium, driven by playwright-core from npm
# (tests/browser/, installed with `npm ci` into the build tree). The test
# itself is tests/browser/console.js; screenshots are kept in
# $BUILDDIR/tests/browser/artifacts.
# The live incident comes from a syslog message through the det_signal
# test detector; a rule incident with a full explanation (trace, sequence)
# is written by seed_incident the way the manager does.
. "$SRCDIR/tests/integration/lib.sh"

BR="$BUILDDIR/tests/browser"
rm -rf "$BR/artifacts"
mkdir -p "$BR/artifacts"
cp "$SRCDIR/tests/browser/package.json" "$SRCDIR/tests/browser/package-lock.json" "$BR/"
if ! cmp -s "$BR/package-lock.json" "$BR/node_modules/.installed-lock" 2>/dev/null; then
    (cd "$BR" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1 &&
        cp package-lock.json node_modules/.installed-lock) ||
        { echo "1..1"; echo "not ok 1 - npm ci failed"; sed 's/^/# /' "$TMP/npm.log"; exit 1; }
fi

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s, plugin_path: [$BUILDDIR/tests/plugins/det_signal/.libs] }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: d, plugin: det_signal }
outputs:
  - { name: h, plugin: out_history }
EOC
O=$("$SENTINELD" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
V=$("$SENTINELD" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

URL="http://127.0.0.1:$hp" SYSLOG_PORT="$sp" OP_TOKEN="$O" VIEWER_TOKEN="$V" ARTIFACTS="$BR/artifacts" \
    SEED="'$BUILDDIR/tests/tools/seed_incident' '$TMP/state/sentineld.db' ssh-brute-force 3 'SSH brute force'" \
    NODE_PATH="$BR/node_modules" timeout 120 node "$SRCDIR/tests/browser/console.js"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# daemon: /' "$TMP/log"
stop_daemon
exit $rc
