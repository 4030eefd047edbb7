#!/bin/sh
# Run `sentineld frame` on every tests/data/frame/NAME.in with the
# arguments in NAME.args (one line, split into words; may be empty) and
# compare its output byte for byte with NAME.expected, printing TAP. Every
# case must exit 0: framing errors are output lines, not failures.
#
# Usage: SENTINELD=path/to/sentineld tests/integration/frame_corpus.sh
# Adding a case needs no code: drop NAME.in, NAME.args and NAME.expected in.

if [ -z "$SENTINELD" ] || [ ! -x "$SENTINELD" ]; then
    echo "SENTINELD must name the sentineld binary" >&2
    exit 2
fi

srcdir=${srcdir:-$(dirname "$0")/../..}
data="$srcdir/tests/data/frame"
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
    expected="$data/$name.expected"
    args=
    [ -f "$data/$name.args" ] && args=$(cat "$data/$name.args")
    # shellcheck disable=SC2086 # args is a list of words on purpose
    "$SENTINELD" frame $args <"$f" >"$tmp/out" 2>"$tmp/err"
    status=$?
    ok=1
    if [ ! -f "$expected" ]; then
        echo "# missing $expected" >"$tmp/diag"
        ok=0
    elif ! cmp -s "$expected" "$tmp/out"; then
        {
            echo "output differs (- expected, + got):"
            diff -u "$expected" "$tmp/out" | sed -n '3,40p'
        } >"$tmp/diag"
        ok=0
    elif [ "$status" -ne 0 ]; then
        echo "exit status $status, want 0" >"$tmp/diag"
        ok=0
    fi
    if [ "$ok" -eq 1 ]; then
        echo "ok $i - $name"
    else
        echo "not ok $i - $name"
        sed 's/^/# /' "$tmp/diag" "$tmp/err"
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] || exit 1
exit 0
