#!/bin/bash
# The build-tree binary runs uninstalled with no environment at all
# (docs/layout.md): the marker make writes beside it gives it the tree's
# plugins, rules, migrations, default config and state dir; a variable
# set by hand wins; a copy of the binary elsewhere is "installed" and
# ignores the tree.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 8
clean() { env -i PATH=/usr/bin:/bin HOME="$TMP" "$@"; }

clean "$SENTINELD" plugins >"$TMP/plugins" 2>&1
check "plugins: the build tree's, without SENTINELD_PLUGIN_PATH" \
    grep -q "file: $BUILDDIR/.plugins/in_syslog.so" "$TMP/plugins"
clean "$SENTINELD" check >"$TMP/check" 2>&1
check "check with no -c: the tree's conf/sentineld.yaml and rules pass" \
    grep -q "conf/sentineld.yaml: configuration OK" "$TMP/check"
clean SENTINELD_PG_URL=postgresql://u@db.example/x \
    SENTINELD_KAFKA_BROKERS=k.example:9092 \
    "$SENTINELD" check -c "$SRCDIR/conf/examples/full.yaml" >"$TMP/full" 2>&1
check "the tree's sql/ migrations are found (out_postgres in full.yaml)" \
    grep -q "configuration OK" "$TMP/full"
check "version says it runs uninstalled" \
    sh -c "'$SENTINELD' version | grep -q '^uninstalled'"
src=$(cd "$SRCDIR" && pwd)
check "and names the tree's config as $src/conf/sentineld.yaml" \
    sh -c "'$SENTINELD' version | grep -q 'default config $src/conf/sentineld.yaml\$'"
clean SENTINELD_RULES="$TMP/no-such-rules" "$SENTINELD" check >"$TMP/mine" 2>&1
check "a variable set by hand wins over the marker" \
    grep -q "$TMP/no-such-rules" "$TMP/mine"
mkdir -p "$TMP/elsewhere"
cp "$SENTINELD" "$TMP/elsewhere/sentineld"
clean "$TMP/elsewhere/sentineld" version >"$TMP/v" 2>&1
check "a copy elsewhere is installed" grep -q "^installed" "$TMP/v"
clean "$TMP/elsewhere/sentineld" plugins >"$TMP/p2" 2>&1
check "and does not look in the build tree" \
    sh -c "! grep -q '$BUILDDIR/.plugins' '$TMP/p2'"
tap_done
