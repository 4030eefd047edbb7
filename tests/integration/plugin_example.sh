#!/bin/sh
# Out-of-tree plugin: install sentineld into a temporary prefix, build
# contrib/plugin-example there with pkg-config alone, load it and check
# what it wrote.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 4

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
tap_done
