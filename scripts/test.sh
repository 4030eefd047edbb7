#!/bin/sh
# The whole test suite: unit, corpus and integration tests with real
# components (`make check`), after building.
set -e
cd "$(dirname "$0")/.."
./scripts/build.sh
cd _build
make -j2 check || { tail -80 test-suite.log 2>/dev/null; exit 1; }
