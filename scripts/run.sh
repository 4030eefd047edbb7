#!/bin/sh
# Build and run sentineld on its working default config from the build
# tree (state in ./var, plugins from _build/.plugins).
set -e
cd "$(dirname "$0")/.."
./scripts/build.sh
mkdir -p var
export SENTINELD_PLUGIN_PATH="$(pwd)/_build/.plugins"
export SENTINELD_STATE_DIR="${SENTINELD_STATE_DIR:-$(pwd)/var}"
export SENTINELD_RULES="${SENTINELD_RULES:-$(pwd)/conf/rules}"
exec ./_build/sentineld run -c conf/sentineld.yaml "$@"
