#!/bin/sh
# The shipped rule pack (conf/rules/*.yaml) against its annotated samples
# (conf/rules/samples/*.log): `sentineld test --verify` must pass (every
# annotation holds, every rule has a positive and a negative sample), the
# pack must load without warnings, and each rule gets one TAP line with its
# hit count from the --json summary. The coverage report is printed as TAP
# diagnostics.
. "$SRCDIR/tests/integration/lib.sh"

rules="$SRCDIR/conf/rules"
samples=$(ls "$rules"/samples/*.log 2>/dev/null)
[ -n "$samples" ] || skip_all "no samples in $rules/samples"
command -v python3 >/dev/null 2>&1 || skip_all "no python3"

# shellcheck disable=SC2086 # samples is a list of paths without spaces
"$SENTINELD" test --verify -r "$rules" $samples >"$TMP/out" 2>"$TMP/err"
rc=$?
# shellcheck disable=SC2086
"$SENTINELD" test --verify --json -r "$rules" $samples >"$TMP/json" \
    2>"$TMP/jerr"
jrc=$?
tail -n 1 "$TMP/json" >"$TMP/summary"

# One line per rule: "id hits signals" (nothing when the summary is not
# there); a sequence rule (match "false") is exercised by its signals.
python3 - "$TMP/summary" "$TMP/json" >"$TMP/rules" 2>"$TMP/perr" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
sigs = {}
for l in open(sys.argv[2]):
    o = json.loads(l)
    if o.get("type") == "signal":
        sigs[o["rule"]] = sigs.get(o["rule"], 0) + 1
for rule, hits in s["rules"].items():
    print(rule, hits, sigs.get(rule, 0))
PY
n=$(wc -l <"$TMP/rules" | tr -d ' ')
tap_plan $((n + 9))

# The coverage report: the per-rule hits, then the verify verdict.
sed -n '/^[0-9]* lines, [0-9]* matched$/,$p' "$TMP/out" | sed 's/^/# /'
sed 's/^/# /' "$TMP/err"

if [ "$rc" -eq 0 ]; then
    ok "sentineld test --verify passes on the rule pack samples"
else
    not_ok "sentineld test --verify passes on the rule pack samples (exit $rc)"
fi
check "the verify verdict is: 0 mismatches, coverage complete" \
    grep -q '^verify: 0 sample mismatches, coverage complete$' "$TMP/err"
if grep -q 'warning:\|error:' "$TMP/err"; then
    not_ok "the rule pack loads without warnings"
else
    ok "the rule pack loads without warnings"
fi
check "--json --verify exits 0 too" test "$jrc" -eq 0
# shellcheck disable=SC2086
"$SENTINELD" test --verify --stats -q -r "$rules" $samples >"$TMP/stats" \
    2>/dev/null
sed -n '/^rule  *expect/,$p' "$TMP/stats" | sed 's/^/# /'
check "--stats: every rule and the total at 100% recall and precision" \
    python3 - "$TMP/stats" "$n" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
i = next(k for k, r in enumerate(rows) if r[:2] == ["rule", "expect"])
body = rows[i + 1:]
assert len(body) == int(sys.argv[2]) + 1, (len(body), sys.argv[2])
assert body[-1][0] == "(all" and int(body[-1][3]) > 0, body[-1]
# The rate/absence watchers take every event but tag none (issue #16):
# no sample expects them and none matches them.
watchers = {"host-silent", "log-volume-spike"}
for r in body:
    if r[0] in watchers:
        assert r[1:5] == ["0", "0", "0", "0"], r
    else:
        assert r[-2:] == ["100.0%", "100.0%"], r
PY
"$SENTINELD" test --stats -r "$rules" $samples >/dev/null 2>"$TMP/serr"
check "--stats without --verify is a usage error (exit 2)" \
    sh -c "test $? -eq 2 && grep -q 'needs --verify' '$TMP/serr'"
if [ "$n" -gt 0 ]; then
    ok "the --json summary lists $n rules"
else
    not_ok "the --json summary lists the rules"
    sed 's/^/# /' "$TMP/perr"
fi
while read -r rule hits sigs; do
    if [ "$hits" -gt 0 ] || [ "$sigs" -gt 0 ]; then
        ok "rule $rule: $hits sample lines matched, $sigs signals"
    else
        not_ok "rule $rule: no sample line matched and no signal"
    fi
done <"$TMP/rules"
tap_done

# The benchmark pack (bench/rules100: rules of the shapes users add to
# the shipped pack) proves each of its rules on its own samples, and
# loads next to the shipped pack as one 100-rule set without a warning.
b100="$SRCDIR/bench/rules100"
# shellcheck disable=SC2086
"$SENTINELD" test --verify -q -r "$b100" "$b100"/samples/*.log \
    >"$TMP/b100" 2>"$TMP/b100err"
check "bench/rules100 passes --verify on its samples, coverage complete" \
    grep -q '^verify: 0 sample mismatches, coverage complete$' "$TMP/b100err"
echo '<38>Nov 23 10:00:00 h sshd[1]: x' |
    "$SENTINELD" test --json -q -r "$rules" -r "$b100" - >"$TMP/both" \
        2>"$TMP/botherr"
check "the shipped pack and bench/rules100 load together: 100 rules, no warning" \
    sh -c "! grep -q 'warning:\|error:' '$TMP/botherr' &&
        tail -n 1 '$TMP/both' | python3 -c 'import json, sys; assert len(json.load(sys.stdin)[\"summary\"][\"rules\"]) == 100'"
