#!/bin/sh
# CPU per POST of the notification outputs' HTTP client against a plain
# reused libcurl easy handle (bench/bench_http_post.c), both to
# bench/notify_sink.py (keep-alive) on a free port.
#   bench/bench_http_post.sh [N [W]]      (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
b=${BUILD:-$PWD/_build}
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 bench/notify_sink.py --port "$port" --out "$tmp/rx.txt" >"$tmp/rx.out" 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
until grep -q listening "$tmp/rx.out"; do sleep 0.05; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$b/bench/bench_http_post" "http://127.0.0.1:$port/hook" "${1:-20000}" "${2:-8}"
