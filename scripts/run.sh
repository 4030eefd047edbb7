#!/bin/sh
# Build and run sentineld on its working default config from the build
# tree. The build-tree binary finds the tree's plugins, rules, migrations,
# default config and state directory (_build/var) by itself, through the
# marker make writes next to it (docs/layout.md): no environment needed.
set -e
cd "$(dirname "$0")/.."
./scripts/build.sh
exec ./_build/sentineld run "$@"
