#!/bin/sh
# `sentineld check` on every tests/data/config/bad-*.yaml: exit 2 and the
# exact file:line:col message in its .expected file (adding a case needs no
# code); good configs exit 0; --json is valid JSON.
. "$SRCDIR/tests/integration/lib.sh"

cd "$SRCDIR/tests/data/config" || exit 1
n=$(ls bad-*.yaml | wc -l)
tap_plan $((n * 2 + 4))
export SN_TEST_STATE="$TMP"
for f in bad-*.yaml; do
    exp="${f%.yaml}.expected"
    "$SENTINELD" check -c "$f" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 2 ]; then ok "$f exits 2"; else not_ok "$f exits 2 (got $rc)"; fi
    if grep -qF -f "$exp" "$TMP/err"; then
        ok "$f: $(cat "$exp")"
    else
        not_ok "$f: expected '$(cat "$exp")'"
        sed 's/^/# got: /' "$TMP/err"
    fi
done
check "good config passes" "$SENTINELD" check -c good-minimal.yaml
"$SENTINELD" check -c bad-unknown-option.yaml --json >"$TMP/j" 2>/dev/null
check "--json output is JSON with the position" python3 -c "
import json,sys
d=json.load(open('$TMP/j'))['diagnostics'][0]
assert d['file']=='bad-unknown-option.yaml' and d['line']==9 and d['col']==5, d
assert 'did you mean' in d['message']"
SENTINELD_RULES="$SRCDIR/conf/rules" "$SENTINELD" check -c "$SRCDIR/conf/sentineld.yaml" >/dev/null 2>"$TMP/e"
check "shipped default config passes" test $? -eq 0
"$SENTINELD" run -c bad-unknown-plugin.yaml >/dev/null 2>"$TMP/e"
check "run refuses a bad config with exit 2" test $? -eq 2
tap_done
