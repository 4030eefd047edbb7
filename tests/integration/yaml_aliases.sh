#!/bin/sh
# Billion laughs: a ~500-byte YAML file of nested aliases (9 levels of 9)
# would expand to 387 million nodes. Every path that reads YAML through
# src/config/yaml.c refuses it within seconds with file:line:col, in
# bounded memory: `sentineld check`, `sentineld run`, SIGHUP with the
# file as the new config, and POST /api/v1/rules/reload with it as a rule
# file (the daemon keeps running the old rules).
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 11

# The laughs, under keys both loaders accept as YAML (the semantic checks
# come after loading, which is where the time and memory went).
cat >"$TMP/laughs.yaml" <<'EOY'
lists:
  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
EOY
check "the file is about 500 bytes" test "$(wc -c <"$TMP/laughs.yaml")" -lt 600
MSG='laughs.yaml:[0-9]*:[0-9]*: .*aliases expand to more than 10000 nodes'

# bounded RUN...: at most 20 s and 1 GiB of address space (unbounded, the
# loader took 1.5 GB and never finished).
# 1 GiB of address space, except in a sanitizer build, whose shadow
# memory reserves terabytes of it (there the time bound alone holds).
if grep -q -- '-fsanitize' "$BUILDDIR/Makefile"; then
    vlimit() { :; }
else
    vlimit() { ulimit -v "$1"; }
fi
bounded() { (vlimit 1048576 && exec timeout 20 "$@"); }

bounded "$SENTINELD" check -c "$TMP/laughs.yaml" >/dev/null 2>"$TMP/check.err"
check "check refuses it with exit 2" test $? -eq 2
check "check names file:line:col and the alias limit" grep -q "$MSG" "$TMP/check.err"
bounded "$SENTINELD" run -c "$TMP/laughs.yaml" >/dev/null 2>"$TMP/run.err"
check "run refuses it with exit 2" test $? -eq 2
check "run names file:line:col" grep -q "$MSG" "$TMP/run.err"

# A running daemon: SIGHUP with the laughs as its config, then the
# laughs as its rule file and a reload through the API.
hp=$(free_port)
mkdir -p "$TMP/state"
cp "$SRCDIR/tests/data/rules/sshd.yaml" "$TMP/rules.yaml"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $TMP/rules.yaml ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
A=$("$SENTINELD" token create --name ada --role admin -c "$TMP/c.yaml" 2>/dev/null)
cp "$TMP/c.yaml" "$TMP/live.yaml"
(vlimit 2097152 && exec "$SENTINELD" run -c "$TMP/live.yaml") >/dev/null 2>"$TMP/log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

cp "$TMP/laughs.yaml" "$TMP/live.yaml"
kill -HUP "$DPID"
wait_until 20 'grep -q "reload failed" "$TMP/log"'
check "SIGHUP with the laughs as config fails the reload in bounded time" \
    grep -q "reload failed" "$TMP/log"
check "and logs file:line:col" grep -q "live.yaml:[0-9]*:[0-9]*: .*aliases expand" "$TMP/log"
cp "$TMP/c.yaml" "$TMP/live.yaml"

cp "$TMP/laughs.yaml" "$TMP/rules.yaml"
code=$(timeout 30 curl -s -o "$TMP/b" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $A" "http://127.0.0.1:$hp/api/v1/rules/reload")
check "rule reload with the laughs answers 422 (got $code)" test "$code" = 422
check "and the log names the rule file's line:col" \
    grep -q "rules.yaml:[0-9]*:[0-9]*: .*aliases expand" "$TMP/log"
check "the daemon still answers /health" curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
rss=$(awk '/VmHWM/ {print $2}' "/proc/$DPID/status")
check "its peak memory stayed under 200 MB (${rss} kB)" test "${rss:-999999}" -lt 204800
stop_daemon
tap_done
