#!/bin/sh
# The module boundaries, checked (TAP; a `make check` test, so CI runs it):
#  1. includes between src/ directories go one way only, down this order
#     (a directory may include its own and any lower layer):
#       core < syslog, metrics, config < rules, event < pipeline, journal, plugin
#       < incident < http < daemon < cli < main.c
#     pipeline, journal and plugin are one layer (the journal stores the
#     pipeline's batches); the loader and the host table are
#     how the pipeline runs plugins.
#  2. plugins/ include only <sentineld/plugin.h>, their own directory,
#     plugins/common and the libraries they link (core, syslog, config,
#     rules): never the daemon's pipeline, incident, http, daemon or cli.
#  3. every header under src/, plugins/ and include/ compiles alone.
#  4. no file under src/http names a plugin (plugins own their routes).
#  5. the incident layer sees the pipeline only through its output port
#     (pipeline/outport.h): no other pipeline header, so struct
#     sn_instance stays incomplete there and the relay cannot come to
#     read the pipeline's runtime structs again.
# Usage: scripts/check-includes.sh (from make check, or with SRCDIR set).
: "${SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
cd "$SRCDIR" || exit 1
echo "1..5"
fail=0

rank() {
    case $1 in
    core) echo 0 ;;
    syslog | metrics | config) echo 1 ;;
    rules | event) echo 2 ;;
    pipeline | plugin | journal) echo 3 ;;
    incident) echo 4 ;;
    http) echo 5 ;;
    daemon) echo 6 ;;
    cli) echo 7 ;;
    main.c) echo 8 ;;
    *) echo unknown ;;
    esac
}

# 1. Layers.
bad=""
for f in $(find src -name '*.[ch]' | sort); do
    from=$(echo "$f" | cut -d/ -f2)
    rf=$(rank "$from")
    for to in $(sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | sort -u); do
        rt=$(rank "$to")
        if [ "$rf" = unknown ] || [ "$rt" = unknown ]; then
            bad="$bad\n$f includes $to/: a directory this script does not rank"
        elif [ "$rt" -gt "$rf" ]; then
            bad="$bad\n$f ($from) includes $to/, a higher layer"
        fi
    done
done
if [ -z "$bad" ]; then
    echo "ok 1 - includes between src/ directories go one way"
else
    echo "not ok 1 - includes between src/ directories go one way"
    printf "$bad\n" | sed '/^$/d; s/^/# /'
    fail=1
fi

# 2. Plugins.
bad=$(grep -rnE '^#include "(pipeline|incident|http|daemon|cli|plugin|event|metrics)/' plugins contrib 2>/dev/null)
if [ -z "$bad" ]; then
    echo "ok 2 - plugins include only plugin.h and the libraries they link"
else
    echo "not ok 2 - plugins include only plugin.h and the libraries they link"
    echo "$bad" | sed 's/^/# /'
    fail=1
fi

# 3. Headers alone.
CC=${CC:-cc}
deps=$(pkg-config --cflags libevent yaml-0.1 json-c openssl libpcre2-8 \
    sqlite3 rdkafka libpq 2>/dev/null)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-includes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=""
for h in $(find include src plugins -name '*.h' | sort); do
    printf '#include "%s"\n' "$SRCDIR/$h" >"$tmp/t.c"
    # config.h (configure's) is where BUILDDIR has it; headers needing it
    # name it themselves.
    if ! $CC -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
        -fsyntax-only -I"$SRCDIR/include" -I"$SRCDIR/src" \
        -I"$(dirname "$SRCDIR/$h")" -I"$SRCDIR/plugins/common" \
        ${BUILDDIR:+-I"$BUILDDIR"} $deps "$tmp/t.c" 2>"$tmp/err"; then
        bad="$bad $h"
        sed 's/^/#   /' "$tmp/err" | head -5 >>"$tmp/why"
    fi
done
if [ -z "$bad" ]; then
    echo "ok 3 - every header compiles alone"
else
    echo "not ok 3 - every header compiles alone:$bad"
    cat "$tmp/why"
    fail=1
fi

# 4. src/http names no plugin (as a word: chain_file is no in_file).
names=$(ls plugins | grep -v '^common$' | paste -sd'|' -)
bad=$(grep -rnwE "$names" src/http)
if [ -z "$bad" ]; then
    echo "ok 4 - no file under src/http names a plugin"
else
    echo "not ok 4 - no file under src/http names a plugin"
    echo "$bad" | sed 's/^/# /'
    fail=1
fi
# 5. The incident layer and the pipeline meet at the output port.
bad=$(grep -rnE '^#include "pipeline/' src/incident | grep -v '"pipeline/outport.h"')
if [ -z "$bad" ]; then
    echo "ok 5 - the incident layer sees outputs only through pipeline/outport.h"
else
    echo "not ok 5 - the incident layer sees outputs only through pipeline/outport.h"
    echo "$bad" | sed 's/^/# /'
    fail=1
fi
exit $fail
