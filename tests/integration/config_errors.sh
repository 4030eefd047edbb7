#!/bin/sh
# `sentineld check` on every tests/data/config/bad-*.yaml: exit 2 and the
# exact file:line:col message in its .expected file (adding a case needs no
# code); good configs exit 0; --json is valid JSON. bad-*.conf files hold
# several mistakes each: check must report all of them in one pass, so
# their .expected holds every line, in order, compared exactly.
. "$SRCDIR/tests/integration/lib.sh"

cd "$SRCDIR/tests/data/config" || exit 1
n=$(ls bad-*.yaml bad-*.conf | wc -l)
tap_plan $((n * 2 + 7))
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
for f in bad-*.conf; do
    exp="${f%.conf}.expected"
    "$SENTINELD" check -c "$f" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 2 ]; then ok "$f exits 2"; else not_ok "$f exits 2 (got $rc)"; fi
    # Only the diagnostics (plugins may also log while they initialise).
    grep "^$f:" "$TMP/err" >"$TMP/diags"
    if cmp -s "$exp" "$TMP/diags"; then
        ok "$f: all $(wc -l <"$exp") errors in one pass, in file order"
    else
        not_ok "$f: expected every line of $exp"
        diff "$exp" "$TMP/diags" | sed 's/^/# /'
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
# What check refuses, run refuses too, at the same position.
"$SENTINELD" run -c bad-multi.conf >/dev/null 2>"$TMP/e"
rc=$?
check "run refuses bad-multi.conf too (exit $rc), naming http.listen" \
    sh -c "test $rc -eq 2 && grep -q 'bad-multi.conf:9:11: http.listen' '$TMP/e'"
# The rule file's own errors come in the same pass, each at its position.
"$SENTINELD" check -c bad-multi.conf >/dev/null 2>"$TMP/e"
check "check bad-multi.conf: every error of its rule file too, at file:line:col" \
    sh -c "grep -q '^multi-rules.yaml:8:5: error: rule \"one\": unknown key' '$TMP/e' &&
        grep -q '^multi-rules.yaml:11:15: error: rule \"two\": unknown severity' '$TMP/e'"
"$SENTINELD" check -c bad-multi.conf --json >"$TMP/j" 2>/dev/null
check "check --json lists the rule file's errors with the config's" python3 -c "
import json
d=json.load(open('$TMP/j'))['diagnostics']
pos={(x['file'],x['line'],x['col']) for x in d if x['level']=='error'}
assert ('multi-rules.yaml',8,5) in pos and ('multi-rules.yaml',11,15) in pos, d
assert ('bad-multi.conf',9,11) in pos, d"
tap_done
