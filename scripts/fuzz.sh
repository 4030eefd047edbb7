#!/bin/sh
# Build every libFuzzer target in tests/fuzz/ with clang and run each for
# SECONDS (default 60) on its seed corpus. Exit 1 on any crash.
set -e
cd "$(dirname "$0")/.."
secs=${1:-60}
out=_build-fuzz
mkdir -p "$out"
LIB="src/core/arena.c src/core/buf.c src/core/json.c src/syslog/msg.c \
src/syslog/timestamp.c src/syslog/rfc5424.c src/syslog/rfc3164.c \
src/syslog/detect.c src/rules/sigma_cond.c src/rules/expr_parse.c \
src/rules/expr_lex.c"
# Targets whose library is not built yet are skipped.
[ -f src/syslog/framer.c ] && LIB="$LIB src/syslog/framer.c"
# The scrubber (incidents) needs json-c and PCRE2.
LIB="$LIB src/core/error.c src/incident/scrub.c"
EXT_CFLAGS=$(pkg-config --cflags json-c libpcre2-8)
EXT_LIBS=$(pkg-config --libs json-c libpcre2-8)
# The HTTP target runs the real server, so it links the daemon's core:
# every source under src/ but the CLI and the daemon's wiring, with a
# config.h standing in for configure's.
HTTP_LIB=$(ls src/*/*.c | grep -v -e '^src/cli/' -e '^src/daemon/')
HTTP_CFLAGS="-I$out -DSN_PLUGINDIR=\"/nonexistent\" -DSN_SYSCONFDIR=\"/etc\" \
-DSN_WEBDIR=\"web\" $(pkg-config --cflags libevent libevent_openssl \
libevent_pthreads yaml-0.1 json-c sqlite3 libpcre2-8 openssl)"
HTTP_LIBS="$(pkg-config --libs libevent libevent_openssl libevent_pthreads \
yaml-0.1 json-c sqlite3 libpcre2-8 openssl) -ldl -lpthread -lm"
printf '#define PACKAGE_VERSION "fuzz"\n' >"$out/config.h"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Iinclude -Isrc"
# The daemon's core (HTTP_LIB) is compiled once, two files at a time, for
# the targets that link it (it was compiled whole, on one core, for each).
core_objs() {
    mkdir -p "$out/core"
    # shellcheck disable=SC2086
    printf '%s\n' $HTTP_LIB | FLAGS="$CFLAGS $SAN -fsanitize=fuzzer-no-link $HTTP_CFLAGS" \
        xargs -P2 -n1 sh -c \
        'clang $FLAGS -c "$1" -o "$0/core/$(echo "${1%.c}" | tr / _).o"' \
        "$out" || return 1
    ls "$out"/core/*.o
}
CORE=""
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    lib="$LIB" cflags="$EXT_CFLAGS" libs="$EXT_LIBS"
    if [ "$name" = fuzz_http ] || [ "$name" = fuzz_fold_scan ]; then
        [ -n "$CORE" ] || CORE=$(core_objs) || exit 1
        lib="$CORE" cflags="$HTTP_CFLAGS" libs="$HTTP_LIBS"
    fi
    # The RELP session parser of in_syslog, alone (no sockets, no host).
    if [ "$name" = fuzz_relp ]; then
        lib=plugins/in_syslog/in_syslog_relp.c cflags="" libs=""
    fi
    # shellcheck disable=SC2086
    clang $CFLAGS -fsanitize=fuzzer $SAN $cflags "$t" $lib $libs \
        -o "$out/$name"
    mkdir -p "$out/$name.corpus"
    echo "fuzzing $name for ${secs}s"
    if ! "$out/$name" -max_total_time="$secs" -max_len=4096 \
        "$out/$name.corpus" "$corpus" >"$out/$name.log" 2>&1; then
        tail -40 "$out/$name.log"
        exit 1
    fi
    tail -1 "$out/$name.log"
done
