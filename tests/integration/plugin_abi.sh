#!/bin/sh
# The loader's handshake: a plugin built for another ABI is refused with a
# message naming both versions and the file; a missing plugin names every
# path searched; `sentineld plugins` lists kinds, ABI and options.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 5

mkdir -p "$TMP/plugins"
cat >"$TMP/out_old.c" <<'EOC'
#include <sentineld/plugin.h>
__attribute__((visibility("default"))) const struct sn_plugin sn_plugin_out_old = {
    .abi = SN_PLUGIN_ABI + 41, .struct_size = sizeof(struct sn_plugin),
    .name = "out_old", .kind = SN_KIND_OUTPUT,
};
EOC
${CC:-cc} -shared -fPIC -I"$SRCDIR/include" -o "$TMP/plugins/out_old.so" "$TMP/out_old.c"
cat >"$TMP/c.yaml" <<EOC
daemon: { plugin_path: [ $TMP/plugins ] }
inputs:
  - { plugin: in_file, path: "-" }
outputs:
  - { plugin: out_old }
EOC
"$SENTINELD" check -c "$TMP/c.yaml" 2>"$TMP/err"
check "wrong ABI: exit 2" test $? -eq 2
abi_now=$(grep '^#define SN_PLUGIN_ABI ' "$SRCDIR/include/sentineld/plugin.h" | awk '{print $3}')
check "wrong ABI: both versions and the file are named" grep -qF "plugin $TMP/plugins/out_old.so was built for plugin ABI $((abi_now + 41)) but this sentineld has ABI $abi_now" "$TMP/err"

sed 's/out_old/out_gone/' "$TMP/c.yaml" >"$TMP/c2.yaml"
"$SENTINELD" check -c "$TMP/c2.yaml" 2>"$TMP/err2"
check "missing plugin: every searched path is named" grep -qF "plugin 'out_gone' not found; searched: $TMP/plugins/out_gone.so, " "$TMP/err2"

"$SENTINELD" plugins in_file >"$TMP/list"
check "plugins lists kind and ABI" grep -q "^in_file (input, ABI $abi_now" "$TMP/list"
check "plugins lists options with defaults and help" grep -q "poll_interval *duration *default 250ms" "$TMP/list"
tap_done
