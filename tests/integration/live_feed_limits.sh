#!/bin/sh
# #14 items 2 and 6 and the per-token feed cap, against the real daemon:
# a WebSocket client that floods pings and never reads is cut off once
# its pongs fill the per-client buffer (the daemon's peak RSS stays
# bounded; it used to grow by hundreds of MB); revoking a token ends its
# open SSE and WebSocket feeds within a second while another token's feed
# goes on; a token may hold http.feed_clients_per_token feeds at most.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 9

WS="python3 $SRCDIR/tests/integration/ws_client.py"
hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", feed_clients_per_token: 2 }
inputs:
  - { name: api, plugin: in_http }
outputs:
  - { name: o, plugin: out_null }
EOC
V=$("$SENTINELD" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
R=$("$SENTINELD" token create --name rev --role viewer -c "$TMP/c.yaml" 2>/dev/null)
F=$("$SENTINELD" token create --name flood --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
U="http://127.0.0.1:$hp"
wait_for 30 curl -sf "$U/health" -o /dev/null
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$DPID/status"; }
metric() {
    curl -s "$U/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# Item 2: the ping flood.
before=$(hwm)
python3 "$SRCDIR/tests/integration/ws_ping_flood.py" "$hp" "$F" 20 >"$TMP/flood"
after=$(hwm)
diag "ping flood: $(cat "$TMP/flood"); peak RSS ${before} kB -> ${after} kB"
check "a client that floods pings without reading is disconnected" \
    grep -q '^disconnected after' "$TMP/flood"
check "the daemon's peak RSS grew by less than 16 MB" \
    test $((after - before)) -lt 16384
check "counted in sentineld_http_stream_control_overflow_total" \
    test "$(metric sentineld_http_stream_control_overflow_total)" -ge 1
check "/health still answers" curl -sf -m 2 "$U/health" -o /dev/null

# Item 6: revocation ends the token's feeds, not the others'.
curl -sN -H "Authorization: Bearer $R" "$U/api/v1/stream" >"$TMP/sse_rev" &
SR=$!
curl -sN -H "Authorization: Bearer $V" "$U/api/v1/stream" >"$TMP/sse_vic" &
SV=$!
$WS "$hp" "$R" >"$TMP/ws_rev" &
WR=$!
PIDS="$PIDS $SR $SV $WR"
wait_for 5 grep -q 'event: hello' "$TMP/sse_rev"
wait_for 5 grep -q 'event: hello' "$TMP/sse_vic"
wait_for 5 grep -q '"hello"' "$TMP/ws_rev"
"$SENTINELD" token revoke --name rev -c "$TMP/c.yaml" 2>/dev/null
check "revoking ends the token's SSE feed within 1 s (event: revoked)" \
    sh -c "i=0; while kill -0 $SR 2>/dev/null && [ \$i -lt 10 ]; do sleep 0.1; i=\$((i+1)); done;
        ! kill -0 $SR 2>/dev/null && grep -q '^event: revoked' '$TMP/sse_rev'"
check "and its WebSocket feed (close 4003)" \
    wait_for 2 grep -q '^close 4003 token revoked' "$TMP/ws_rev"
check "another token's feed goes on" kill -0 "$SV"
kill "$SV" 2>/dev/null

# Per-token cap: vic may hold 2 feeds; the third gets 429.
curl -sN -H "Authorization: Bearer $V" "$U/api/v1/stream" >"$TMP/f1" &
P1=$!
curl -sN -H "Authorization: Bearer $V" "$U/api/v1/stream" >"$TMP/f2" &
P2=$!
PIDS="$PIDS $P1 $P2"
wait_for 5 grep -q 'event: hello' "$TMP/f1"
wait_for 5 grep -q 'event: hello' "$TMP/f2"
code=$(curl -s -m 2 -o "$TMP/f3" -w '%{http_code}' -H "Authorization: Bearer $V" "$U/api/v1/stream")
check "a third feed for one token: 429 too_many_feeds naming the option" \
    sh -c "[ '$code' = 429 ] && grep -q too_many_feeds '$TMP/f3' && grep -q feed_clients_per_token '$TMP/f3'"
check "another token still gets a feed" \
    sh -c "curl -sN -m 1 -H 'Authorization: Bearer $F' '$U/api/v1/stream' | grep -q 'event: hello'"
kill "$P1" "$P2" 2>/dev/null
tap_done
