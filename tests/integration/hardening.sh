#!/bin/bash
# The flags configure probed are in the binaries it built (STYLE.md 9):
# the daemon is PIE with full RELRO (GNU_RELRO + BIND_NOW), calls the
# stack protector and, outside sanitizer builds (which drop it), the
# _FORTIFY_SOURCE checking variants; every plugin has full RELRO too.
. "$SRCDIR/tests/integration/lib.sh"
command -v readelf >/dev/null || skip_all "readelf (binutils) not installed"
tap_plan 5
dyn=$(readelf -d "$SENTINELD")
check "sentineld is a position-independent executable" \
    sh -c "readelf -h '$SENTINELD' | grep -q 'DYN (Position-Independent Executable'"
check "with read-only relocations, bound at start (full RELRO)" \
    sh -c "readelf -lW '$SENTINELD' | grep -q GNU_RELRO && echo '$dyn' | grep -Eq 'BIND_NOW|FLAGS.*NOW'"
check "and the stack protector" \
    sh -c "readelf -sW --dyn-syms '$SENTINELD' | grep -q __stack_chk_fail"
if grep -q -- '-fsanitize' "$BUILDDIR/Makefile"; then
    ok "_FORTIFY_SOURCE # SKIP sanitizer build (fortify is off there)"
else
    check "and _FORTIFY_SOURCE's checked functions" \
        sh -c "readelf -sW --dyn-syms '$SENTINELD' | grep -Eq '__[a-z]+_chk'"
fi
bad=""
for so in "$BUILDDIR"/.plugins/*.so; do
    readelf -d "$so" | grep -Eq 'BIND_NOW|FLAGS.*NOW' || bad="$bad $(basename "$so")"
done
check "every plugin has full RELRO${bad:+ (not:$bad)}" test -z "$bad"
tap_done
