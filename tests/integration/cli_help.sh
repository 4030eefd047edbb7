#!/bin/bash
# The command line as a new user meets it: every command `sentineld help`
# lists, and every subcommand, answers --help with its usage on stdout and
# exit 0; `--version` and `version` print the version; the manual page
# docs/sentineld.8 describes every command `help` lists and renders with
# no warning from man.
. "$SRCDIR/tests/integration/lib.sh"

"$SENTINELD" help >"$TMP/help" 2>&1
# The command names: the indented first words under "commands:".
cmds=$(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}' "$TMP/help")
n=$(echo "$cmds" | grep -c .)
tap_plan 7
check "help exits 0 and lists the commands ($n)" \
    sh -c "'$SENTINELD' help >/dev/null && test $n -ge 10"

for c in $cmds "token create" "token list" "token revoke" "incidents list" \
    "incidents show" "incident ack" "incident report" "audit verify"; do
    for h in --help -h; do
        # shellcheck disable=SC2086 # $c: a command and its verb
        "$SENTINELD" $c $h >"$TMP/out" 2>"$TMP/err"
        rc=$?
        if [ "$rc" -ne 0 ] || ! grep -q "^usage: sentineld" "$TMP/out"; then
            diag "$c $h: exit $rc: $(cat "$TMP/out" "$TMP/err" | head -1)"
            echo "$c $h" >>"$TMP/nohelp"
        fi
    done
done
check "every command and subcommand answers --help and -h (usage, exit 0)" \
    test ! -e "$TMP/nohelp"

"$SENTINELD" --version >"$TMP/v1" 2>&1
rc1=$?
"$SENTINELD" version >"$TMP/v2" 2>&1
rc2=$?
check "--version and version print the version, exit 0" \
    sh -c "test $rc1 -eq 0 -a $rc2 -eq 0 && grep -q '^sentineld [0-9]' '$TMP/v1' && cmp -s '$TMP/v1' '$TMP/v2'"
"$SENTINELD" no-such-command >"$TMP/o" 2>"$TMP/e"
rc=$?
check "an unknown command exits 2 naming it" \
    sh -c "test $rc -eq 2 && grep -q \"unknown command 'no-such-command'\" '$TMP/e'"

man="$SRCDIR/docs/sentineld.8"
missing=""
for c in $cmds; do
    [ "$c" = help ] && continue
    grep -q "^\.B $c\b" "$man" || missing="$missing $c"
done
check "sentineld(8) describes every command${missing:+ (missing:$missing)}" \
    test -z "$missing"
MANWIDTH=80 man --warnings -l "$man" >"$TMP/man.txt" 2>"$TMP/man.err"
rc=$?
sed 's/^/# man: /' "$TMP/man.err"
check "man renders sentineld(8) with no warning" \
    sh -c "test $rc -eq 0 && test ! -s '$TMP/man.err'"
check "its synopsis names run and check" \
    sh -c "grep -q 'sentineld run \[-c FILE\]' '$TMP/man.txt' && grep -q 'sentineld check \[-c FILE\]' '$TMP/man.txt'"
tap_done
