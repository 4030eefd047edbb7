#!/bin/sh
# Run `sentineld parse` on every tests/data/parse/NAME.in and compare its
# JSON output with NAME.expected.json (semantically: python3 json.loads
# equality), printing TAP. The format is the file name's prefix up to the
# first '-' (rfc3164-cisco.in: --format rfc3164); NAME.args, when present,
# holds extra arguments (e.g. --tz +01:00). Outputs with an "error" key
# must come with exit status 1, all others with 0.
#
# Usage: SENTINELD=path/to/sentineld tests/integration/parse_corpus.sh
# Adding a case needs no code: drop NAME.in and NAME.expected.json in.

NOW=2026-11-23T12:00:00Z

if [ -z "$SENTINELD" ] || [ ! -x "$SENTINELD" ]; then
    echo "SENTINELD must name the sentineld binary" >&2
    exit 2
fi
command -v python3 >/dev/null 2>&1 || { echo "1..0 # SKIP no python3"; exit 77; }

srcdir=${srcdir:-$(dirname "$0")/../..}
data="$srcdir/tests/data/parse"
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
for f in "$data"/*.in; do
    n=$((n + 1))
done
echo "1..$n"

i=0
failed=0
for f in "$data"/*.in; do
    i=$((i + 1))
    name=$(basename "$f" .in)
    format=${name%%-*}
    expected="$data/$name.expected.json"
    args=
    [ -f "$data/$name.args" ] && args=$(cat "$data/$name.args")
    # shellcheck disable=SC2086 # args is a list of words on purpose
    "$SENTINELD" parse --format "$format" --json --now "$NOW" $args \
        <"$f" >"$tmp/out" 2>"$tmp/err"
    status=$?
    if python3 - "$expected" "$tmp/out" "$status" >"$tmp/diag" 2>&1 <<'PY'
import json, sys
want_path, got_path, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    with open(want_path, "rb") as f:
        want = json.loads(f.read())
except OSError as e:
    sys.exit("missing expected output: %s" % e)
raw = open(got_path, "rb").read()
try:
    got = json.loads(raw)
except ValueError as e:
    sys.exit("output is not JSON (%s): %r" % (e, raw[:300]))
want_status = 1 if isinstance(want, dict) and "error" in want else 0
ok = True
if got != want:
    ok = False
    print("got:  " + json.dumps(got, sort_keys=True))
    print("want: " + json.dumps(want, sort_keys=True))
if status != want_status:
    ok = False
    print("exit status %d, want %d" % (status, want_status))
sys.exit(0 if ok else 1)
PY
    then
        echo "ok $i - $name"
    else
        echo "not ok $i - $name"
        sed 's/^/# /' "$tmp/diag" "$tmp/err"
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] || exit 1
exit 0
