#!/bin/sh
# Out-of-tree plugin: install sentineld into a temporary prefix, build
# contrib/plugin-example there with pkg-config alone, load it and check
# what it wrote; its HTTP route answers under /api/v1/plugins/<instance>/
# behind the core's token check.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

dest="$TMP/dest"
make -C "$BUILDDIR" install DESTDIR="$dest" >"$TMP/install.log" 2>&1
check "make install into a temporary DESTDIR" test $? -eq 0
pc=$(find "$dest" -name sentineld-plugin.pc | head -n1)
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$dest"
cp -r "$SRCDIR/contrib/plugin-example" "$TMP/example"
make -C "$TMP/example" >"$TMP/build.log" 2>&1
check "the example builds with pkg-config --cflags --libs sentineld-plugin" test -f "$TMP/example/out_example.so"
cat "$TMP/build.log" | sed 's/^/# /'

bin=$(find "$dest" -type f -name sentineld -perm -u+x | head -n1)
plugdir=$(dirname "$(find "$dest" -name out_file.so | head -n1)")
printf '<13>1 2026-11-23T10:00:00Z web1 nginx - - - hello\nplain line\n' >"$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, plugin_path: [ $TMP/example ] }
http: { enabled: false }
inputs:
  - { plugin: in_file, path: $TMP/in.log, parser: auto }
outputs:
  - { plugin: out_example, path: $TMP/out.txt, prefix: "ex| " }
EOC
SENTINELD_PLUGIN_PATH="$plugdir" "$bin" run -c "$TMP/c.yaml" --oneshot 2>"$TMP/run.log"
rc=$?
check "the installed daemon loads and runs the example" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/# /' "$TMP/run.log"
printf 'ex| web1 nginx: hello\nex| - -: plain line\n' >"$TMP/want.txt"
check "the example wrote one line per event" cmp -s "$TMP/want.txt" "$TMP/out.txt"

# The same plugin serving its route: no token 401, a viewer's token 200.
hp=$(free_port)
mkdir -p "$TMP/state2"
cat >"$TMP/c2.yaml" <<EOC
daemon: { state_dir: $TMP/state2, plugin_path: [ $TMP/example ] }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { plugin: in_file, path: $TMP/in.log, parser: auto }
outputs:
  - { name: ex, plugin: out_example, path: $TMP/out2.txt }
EOC
V=$(SENTINELD_PLUGIN_PATH="$plugdir" "$bin" token create --name v --role viewer -c "$TMP/c2.yaml" 2>/dev/null)
SENTINELD_PLUGIN_PATH="$plugdir" "$bin" run -c "$TMP/c2.yaml" 2>"$TMP/run2.log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_until 20 'test "$(lines "$TMP/out2.txt")" -eq 2'
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hp/api/v1/plugins/ex/lines")
check "the plugin's route needs a token (401)" test "$code" = 401
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H "Authorization: Bearer $V" "http://127.0.0.1:$hp/api/v1/plugins/ex/lines")
check "the plugin's route answers a viewer with its count" sh -c "[ $code = 200 ] && grep -qx '{\"lines\":2}' '$TMP/b'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $V" -X POST "http://127.0.0.1:$hp/api/v1/plugins/ex/lines")
check "another method on the plugin's path: 405" test "$code" = 405
stop_daemon
tap_done
