#!/bin/sh
# The issue's full zero-loss run (#20, docs/journal.md): a real rsyslog
# (omrelp, disk-assisted queue) forwards N (default 200,000) lines, SSH
# brute forces from SOURCES (default 100) addresses among them, to
# sentineld (conf/examples/relp.yaml: RELP in, journal on, out_file with
# fsync), killed with -9 KILLS (default 20) times meanwhile. It is
# tests/integration/journal_crash.sh with the long parameters; the CI
# version runs 20,000 lines and 5 kills. Prints the TAP of that script:
# distinct lines, duplicates, incidents per source.
#   bench/journal_soak.sh [N] [KILLS] [SOURCES]  (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
b=$PWD/_build
export SENTINELD=$b/sentineld SRCDIR=$PWD BUILDDIR=$b
export SENTINELD_PLUGIN_PATH=$b/.plugins SENTINELD_SQL_DIR=$PWD/sql
export JOURNAL_N=${1:-200000} JOURNAL_KILLS=${2:-20}
export JOURNAL_SOURCES=${3:-100}
exec sh tests/integration/journal_crash.sh
