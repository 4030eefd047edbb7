#!/bin/sh
# The rules' Aho-Corasick prefilter against Hyperscan on the same literal
# sets (bench/bench_prefilter.c): the shipped pack and, with it,
# bench/rules100, over the messages of every annotated sample line of both
# packs (the MSG after the syslog header) and the loadgen mix. Needs
# Hyperscan's headers (apt-get install libhyperscan-dev, or
# libvectorscan-dev); it is not a build dependency, so this script
# compiles the bench against the build's static libraries.
#
#   cd _build && ../bench/bench_prefilter.sh [ROUNDS]
set -e
ROUNDS=${1:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
[ -f .libs/libsncore.a ] || { echo "run from the build directory" >&2; exit 1; }
[ -f /usr/include/hs/hs.h ] || { echo "no Hyperscan headers (libhyperscan-dev)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-prefilter.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

cc -std=c11 -O2 -DHAVE_CONFIG_H -D_POSIX_C_SOURCE=200809L -I"$TOP/include" \
    -I"$TOP/src" -I. "$HERE/bench_prefilter.c" .libs/libsncore.a \
    -lhs -lyaml -lpcre2-8 -levent -ljson-c -lsqlite3 -lpthread -lm \
    -o "$TMP/bench_prefilter"

# MSG of each sample line: RFC 5424 after the structured data (or "-"),
# RFC 3164 after "tag: ".
python3 - "$TOP"/conf/rules/samples/*.log "$TOP"/bench/rules100/samples/*.log >"$TMP/msgs" <<'PY'
import re, sys
r5424 = re.compile(r'^<\d+>1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$')
r3164 = re.compile(r'^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ [^:]+: ?(.*)$')
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.startswith("<"):
            continue
        m = r5424.match(line) or r3164.match(line)
        if m:
            print(m.group(1))
# The loadgen mix (bench/loadgen.c), one of each.
print("Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2 seq=1")
print("Accepted publickey for deploy from 198.51.100.7 port 4242 ssh2: ED25519 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s seq=2")
print("Accepted password for alice from 192.0.2.7 port 4242 ssh2 seq=3")
print("alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx seq=4")
print("(root) CMD (test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )) seq=5")
print("[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 seq=6")
print("Started nginx.service - session 12 of user bob. seq=7")
PY
echo "# $(wc -l <"$TMP/msgs") messages"
echo "## shipped pack"
"$TMP/bench_prefilter" "$TMP/msgs" "$ROUNDS" -r "$TOP/conf/rules"
echo "## shipped pack + bench/rules100"
"$TMP/bench_prefilter" "$TMP/msgs" "$ROUNDS" -r "$TOP/conf/rules" "$TOP/bench/rules100"
