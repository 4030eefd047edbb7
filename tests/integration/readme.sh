#!/bin/bash
# The README's commands: its first two blocks stay the install+build+run
# and the whole-suite commands, and every fenced block marked
# <!-- tested --> (or <!-- tested: retry -->, retried for up to 30 s: it
# waits for something the daemon does asynchronously) runs and succeeds,
# in order, as a sysadmin would type it: `sentineld` on PATH (the build
# tree's), the daemon started on the default config, in a scratch
# directory that has the checkout's conf/ and contrib/. The README's ports
# 5514 and 8514 become free ones.
. "$SRCDIR/tests/integration/lib.sh"

readme="$SRCDIR/README.md"
# Blocks as files: $TMP/blocks/NNN.sh (+ NNN.retry when marked so).
mkdir -p "$TMP/blocks"
awk -v dir="$TMP/blocks" '
    /^<!-- tested(: retry)? -->$/ { mark = ($0 ~ /retry/) ? "retry" : "once"; next }
    /^```/ && !inblock {
        inblock = 1; n++
        if (mark != "") { f = sprintf("%s/%03d.sh", dir, n); if (mark == "retry") print "" > (f ".retry") }
        else f = ""
        mark = ""; next
    }
    /^```/ && inblock { inblock = 0; if (f != "") close(f); f = ""; next }
    inblock && f != "" { print > f }
    inblock && n <= 2 { print > (dir "/first" n) }
    !inblock && NF && $0 !~ /^<!--/ { mark = "" }
' "$readme"
blocks=$(ls "$TMP"/blocks/*.sh 2>/dev/null)
nb=$(echo "$blocks" | grep -c .)
tap_plan $((nb + 3))

check "README's first command: install, build, run on the embedded default" \
    test "$(cat "$TMP/blocks/first1")" = "./scripts/deps.sh && ./scripts/run.sh"
check "README's second command: the whole test suite" \
    test "$(cat "$TMP/blocks/first2")" = "./scripts/deps.sh && ./scripts/test.sh"

mkdir -p "$TMP/bin" "$TMP/work" "$TMP/state"
ln -s "$SENTINELD" "$TMP/bin/sentineld"
ln -s "$SRCDIR/conf" "$TMP/work/conf"
ln -s "$SRCDIR/contrib" "$TMP/work/contrib"
p_sys=$(free_port)
p_http=$(free_port)
export PATH="$TMP/bin:$PATH"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_SYSLOG_PORT=$p_sys \
    SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http"
# The daemon with no -c: the build tree's default config, as scripts/run.sh.
(cd "$TMP/work" && exec sentineld run) >"$TMP/d.out" 2>"$TMP/d.log" &
DPID=$!
PIDS="$PIDS $DPID"
check "the daemon starts on the default config" \
    wait_for 20 grep -q "listening on tcp://127.0.0.1:$p_sys" "$TMP/d.log"

for b in $blocks; do
    sed -e "s/5514/$p_sys/g" -e "s/8514/$p_http/g" "$b" >"$b.run"
    run() { (cd "$TMP/work" && bash -e "$b.run") >"$b.out" 2>&1; }
    if [ -e "$b.retry" ]; then wait_for 30 run; else run; fi
    rc=$?
    first=$(grep -v '^\s*$' "$b" | head -1)
    check "README block: $first" test "$rc" -eq 0
    [ "$rc" -eq 0 ] || sed 's/^/#   /' "$b.out" | tail -15
done
stop_daemon
tap_done
