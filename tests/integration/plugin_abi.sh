#!/bin/sh
# The loader's handshake: a plugin built for another ABI (an ABI 2 one
# among them) is refused with a message naming both versions and the file;
# a plugin lacking its kind's work callback is refused naming both; a
# descriptor shorter than the daemon's (an older plugin.h of the same ABI)
# loads and runs; a detector whose detect() fails is counted on /metrics
# and logged while its batches still reach the outputs; a missing plugin
# names every path searched; `sentineld plugins` lists kinds, ABI and
# options.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 14

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

# An ABI 2 plugin: what every plugin built before ABI 3 looks like to the
# loader (abi = 2 in the first field).
sed 's/SN_PLUGIN_ABI + 41/2/; s/out_old/out_abi2/g' "$TMP/out_old.c" >"$TMP/out_abi2.c"
${CC:-cc} -shared -fPIC -I"$SRCDIR/include" -o "$TMP/plugins/out_abi2.so" "$TMP/out_abi2.c"
sed 's/out_old/out_abi2/' "$TMP/c.yaml" >"$TMP/c3.yaml"
"$SENTINELD" check -c "$TMP/c3.yaml" 2>"$TMP/err3"
check "ABI 2 plugin: refused naming ABI 2 and ABI $abi_now" grep -qF "plugin $TMP/plugins/out_abi2.so was built for plugin ABI 2 but this sentineld has ABI $abi_now" "$TMP/err3"

# An output with neither write() nor deliver(): refused at load, before
# anything calls it.
cat >"$TMP/out_nowrite.c" <<'EOC'
#include <sentineld/plugin.h>
SN_PLUGIN_EXPORT const struct sn_plugin sn_plugin_out_nowrite = {
    SN_PLUGIN_HEADER, .name = "out_nowrite", .kind = SN_KIND_OUTPUT,
};
EOC
${CC:-cc} -shared -fPIC -I"$SRCDIR/include" -o "$TMP/plugins/out_nowrite.so" "$TMP/out_nowrite.c"
sed 's/out_old/out_nowrite/' "$TMP/c.yaml" >"$TMP/c4.yaml"
"$SENTINELD" check -c "$TMP/c4.yaml" 2>"$TMP/err4"
check "missing callback: exit 2" test $? -eq 2
check "missing callback: the plugin and the callback are named" grep -qF "plugin out_nowrite ($TMP/plugins/out_nowrite.so) lacks the write or deliver callback every output plugin must have" "$TMP/err4"

# A detector whose descriptor stops before the fields appended in ABI 3
# (routes), as one built against an older plugin.h of this ABI; its
# detect() always fails.
cat >"$TMP/det_fail.c" <<'EOC'
#include <sentineld/plugin.h>
static enum sn_status
init(const struct sn_host *h, struct sn_instance *i, const void *c, void **s,
     char *e, size_t el)
{
    (void)h; (void)i; (void)c; (void)e; (void)el;
    *s = (void *)1;
    return SN_OK;
}
static enum sn_status detect(void *s, struct sn_batch *b) { (void)s; (void)b; return SN_EIO; }
SN_PLUGIN_EXPORT const struct sn_plugin sn_plugin_det_fail = {
    .abi = SN_PLUGIN_ABI,
    .struct_size = offsetof(struct sn_plugin, routes),
    .name = "det_fail", .kind = SN_KIND_DETECTOR,
    .init = init, .detect = detect,
};
EOC
${CC:-cc} -shared -fPIC -I"$SRCDIR/include" -o "$TMP/plugins/det_fail.so" "$TMP/det_fail.c"
hp=$(free_port)
printf 'one\ntwo\nthree\n' >"$TMP/in.log"
cat >"$TMP/c5.yaml" <<EOC
daemon: { state_dir: $TMP/state, plugin_path: [ $TMP/plugins ] }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: raw }
detectors:
  - { name: bad, plugin: det_fail }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
start_daemon "$TMP/c5.yaml" "$TMP/d5.log"
wait_until 20 'test "$(lines "$TMP/out.json")" -eq 3'
check "short descriptor loads; a failing detector's events still reach the outputs" test "$(lines "$TMP/out.json")" -eq 3
wait_for 10 sh -c "curl -s http://127.0.0.1:$hp/metrics | grep -q '^sentineld_detector_errors_total{instance=\"bad\"} [1-9]'"
check "detect() failures are counted per detector" sh -c "curl -s http://127.0.0.1:$hp/metrics | grep -q '^sentineld_detector_errors_total{instance=\"bad\"} [1-9]'"
check "detect() failures are logged with the detector and the status" grep -q "detector 'bad' failed on a batch of [0-9]* events: input/output error" "$TMP/d5.log"
stop_daemon
check "the daemon stops cleanly" test $? -eq 0

# Two instances claiming one route (in_http's POST /api/v1/events).
cat >"$TMP/c6.yaml" <<EOC
inputs:
  - { name: a, plugin: in_http }
  - { name: b, plugin: in_http }
outputs:
  - { plugin: out_null }
EOC
"$SENTINELD" check -c "$TMP/c6.yaml" 2>"$TMP/err6"
check "two instances claiming one route: refused naming both" grep -qF "c6.yaml:3:5: error: input 'b' would serve POST /api/v1/events, which 'a' (line 2) serves already; keep one" "$TMP/err6"

sed 's/out_old/out_gone/' "$TMP/c.yaml" >"$TMP/c2.yaml"
"$SENTINELD" check -c "$TMP/c2.yaml" 2>"$TMP/err2"
check "missing plugin: every searched path is named" grep -qF "plugin 'out_gone' not found; searched: $TMP/plugins/out_gone.so, " "$TMP/err2"

"$SENTINELD" plugins in_file >"$TMP/list"
check "plugins lists kind and ABI" grep -q "^in_file (input, ABI $abi_now" "$TMP/list"
check "plugins lists options with defaults and help" grep -q "poll_interval *duration *default 250ms" "$TMP/list"
"$SENTINELD" plugins det_rules >"$TMP/list2"
check "plugins lists a plugin's HTTP routes with their roles" grep -qF "GET    /api/v1/plugins/<instance>/rules  (viewer)" "$TMP/list2"
tap_done
