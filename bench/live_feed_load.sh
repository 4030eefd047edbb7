#!/bin/sh
# Live feed under load: the pipeline's syslog throughput with 0 and with
# N live feed clients (SSE, each reading everything) while incident
# changes stream to them. Prints msgs/s for both runs and what the
# clients received. usage: bench/live_feed_load.sh [clients] [messages]
# (from the source tree, after ./scripts/build.sh; needs python3).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
B=$root/_build
N=${1:-200}
MSGS=${2:-2000000}
export SENTINELD_PLUGIN_PATH=$B/.plugins
tmp=$(mktemp -d)
trap 'kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
    clients=$1
    hp=$(port); sp=$(port)
    rm -rf "$tmp/state"; mkdir -p "$tmp/state"
    cat >"$tmp/c.yaml" <<EOC
daemon: { state_dir: $tmp/state, log_level: warn }
http: { listen: "127.0.0.1:$hp", rate_limit: 100000 }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
outputs:
  - { name: o, plugin: out_null }
EOC
    tok=$("$B/sentineld" token create --name bench --role viewer -c "$tmp/c.yaml" 2>/dev/null)
    "$B/sentineld" run -c "$tmp/c.yaml" 2>"$tmp/log" &
    dpid=$!
    until curl -sf "http://127.0.0.1:$hp/health" >/dev/null 2>&1; do sleep 0.05; done
    # Create the store and its first row so clients start from a position.
    "$B/tests/tools/seed_incident" "$tmp/state/sentineld.db" warmup 1 warmup >/dev/null
    python3 - "$hp" "$tok" "$clients" >"$tmp/clients.out" <<'EOP' &
import asyncio, sys
port, tok, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def one(i, res):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(("GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % tok).encode())
    got = 0
    try:
        while True:
            line = await asyncio.wait_for(r.readline(), 12)
            if not line:
                break
            if line.startswith(b"id: "):
                got += 1
    except asyncio.TimeoutError:
        pass
    res.append(got)
async def main():
    res = []
    await asyncio.gather(*[one(i, res) for i in range(n)])
    print("clients %d received min %d max %d changes" % (len(res), min(res) if res else 0, max(res) if res else 0))
asyncio.run(main())
EOP
    cpid=$!
    sleep 2
    # Incident changes while the flood runs: 500, in bursts of 50.
    (for i in 1 2 3 4 5 6 7 8 9 10; do
        "$B/tests/tools/seed_incident" "$tmp/state/sentineld.db" load 2 load 192.0.2.$i 50 >/dev/null
        sleep 0.3
    done) &
    spid=$!
    t0=$(date +%s.%N)
    "$B/bench/loadgen" -p "$sp" -n "$MSGS" -c 4 -q 2>/dev/null
    while :; do
        got=$(curl -s "http://127.0.0.1:$hp/metrics" | awk '/^sentineld_input_records_total\{instance="syslog"\}/ {print $2}')
        [ "${got:-0}" -ge "$MSGS" ] && break
        sleep 0.02
    done
    t1=$(date +%s.%N)
    wait $spid
    wait $cpid || true
    dropped=$(curl -s "http://127.0.0.1:$hp/metrics" | awk '/^sentineld_http_stream_dropped_total/ {print $2}')
    kill $dpid; wait $dpid 2>/dev/null || true
    rate=$(python3 -c "print(int($MSGS / ($t1 - $t0)))")
    echo "clients=$clients: $rate msgs/s; $(cat "$tmp/clients.out"); dropped=$dropped"
}
run 0
run "$N"
