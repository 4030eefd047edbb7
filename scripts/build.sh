#!/bin/sh
# Bootstrap, configure (warnings are errors) and build out of tree in
# _build/ (so a sanitizer build can sit beside it in _build-asan/).
set -e
cd "$(dirname "$0")/.."
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --enable-werror -q
make -j2
