#!/bin/sh
# `sentineld test` reads its files in large chunks: a line that straddles
# a chunk boundary, a line longer than one chunk, a last line without its
# newline, CRLF line ends and standard input must all count and match as
# they did line by line, and an over-long line fails naming file:line.
. "$SRCDIR/tests/integration/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "no python3"

cat >"$TMP/rule.yaml" <<'EOR'
rules:
  - id: ssh-fail
    title: SSH failure
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password"
    extract:
      - regex: 'from (?<ip>\S+) port \d+ ssh2$'
        fields: { ip: source.ip:ip }
    group_by: [source.ip]
    window: 60s
    threshold: {count: 3}
EOR

# 30,000 lines (~2.4 MB: several 1 MiB chunks, so lines straddle their
# boundaries), every third an sshd failure from one of 7 addresses; one
# 1.5 MiB noise line in the middle; the last line has no newline.
python3 - "$TMP/in.log" <<'PY'
import sys
with open(sys.argv[1], "w", newline="") as f:
    for i in range(30000):
        if i == 15000:
            f.write("<38>Nov 14 22:13:20 web1 cron[1]: " + "x" * (3 << 19) + "\n")
        if i % 3 == 0:
            msg = "sshd[%d]: Failed password for root from 203.0.113.%d port %d ssh2" % (i, i % 7, 40000 + i % 1000)
        else:
            msg = "CRON[%d]: (root) CMD (run-parts /etc/cron.hourly)" % i
        end = "" if i == 29999 else ("\r\n" if i % 1000 == 1 else "\n")
        f.write("<38>Nov 14 22:%02d:%02d web%d %s%s" % (i // 3600 % 60, i // 60 % 60, i % 5, msg, end))
PY

"$SENTINELD" test --quiet --json -r "$TMP/rule.yaml" --format rfc3164 \
    "$TMP/in.log" >"$TMP/out" 2>"$TMP/err"
rc=$?
"$SENTINELD" test --quiet --json -r "$TMP/rule.yaml" --format rfc3164 - \
    <"$TMP/in.log" >"$TMP/out2" 2>"$TMP/err2"
rc2=$?
summary() { tail -n 1 "$1" | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["lines"], s["matched"], s["signals"])'; }

tap_plan 5
check "a file: exit 0" [ "$rc" -eq 0 ]
# 30,001 lines (the long one included), 10,000 failures; a line by line
# reader gives the same counts (the last line, without newline, matches).
check "every line read and every failure matched (lines matched signals)" \
    [ "$(summary "$TMP/out")" = "30001 10000 $(grep -c '"type":"signal"' "$TMP/out")" ]
check "signals raised" [ "$(grep -c '"type":"signal"' "$TMP/out")" -gt 0 ]
same_stdin() { [ "$rc2" -eq 0 ] && cmp -s "$TMP/out" "$TMP/out2"; }
check "standard input gives the same output" same_stdin

python3 -c 'import sys; sys.stdout.write("x" * (65 << 20))' >"$TMP/huge.log"
"$SENTINELD" test --quiet -r "$TMP/rule.yaml" "$TMP/huge.log" \
    >/dev/null 2>"$TMP/herr"
hrc=$?
huge_fails() { [ "$hrc" -ne 0 ] && grep -q "huge.log:1: line longer than" "$TMP/herr"; }
check "a line over 64 MiB fails, naming file:line" huge_fails
tap_done
