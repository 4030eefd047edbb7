#!/bin/sh
# #14 items 1 and 11 against the real daemon: a viewer's counts query whose
# range overflows int64 gets 400 naming the parameter (it used to divide by
# a zero bucket and kill the daemon with SIGFPE); impossible dates, year
# 9999 and buckets past a year in their own unit are refused; a repeated
# query parameter is an error, not "the first wins"; a path with NUL or
# other control bytes is refused (not served as app.js) and logged escaped.
# Numbers in queries (limits, tops, cursors) are digits in range, no sign,
# blank or overflow; a value with %00 is refused, not cut at the NUL; a key
# repeated in another case is a repeat (keys are looked up without case).
# A JSON reason or owner with \u0000 is refused, not stored cut short.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 22

hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", rate_limit: 1000 }
inputs:
  - { name: api, plugin: in_http }
outputs:
  - { name: h, plugin: out_history, max_age: 1d }
EOC
V=$("$SENTINELD" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
O=$("$SENTINELD" token create --name op --role operator -c "$TMP/c.yaml" 2>/dev/null)
A=$("$SENTINELD" token create --name ad --role admin -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
U="http://127.0.0.1:$hp"
wait_for 30 curl -sf "$U/health" -o /dev/null
# One event so out_history creates events.db and queries reach SQLite.
curl -s -o /dev/null -H "Authorization: Bearer $O" -X POST \
    -d '{"host":"h1","app":"a","msg":"hello"}' "$U/api/v1/events"

# get PATH_AND_QUERY: status code on stdout, body in $TMP/b.
get() {
    curl -s --path-as-is -o "$TMP/b" -w '%{http_code}' \
        -H "Authorization: Bearer $V" "$U$1"
}
# refused PATH NEEDLE: 400 bad_query whose message names NEEDLE.
refused() {
    [ "$(get "$1")" = 400 ] && grep -q '"code":"bad_query"' "$TMP/b" &&
        grep -q "$2" "$TMP/b"
}
alive() { curl -sf -m 2 "$U/health" -o /dev/null && kill -0 "$DPID"; }

check "events.db exists (out_history wrote the event)" \
    wait_for 10 test -f "$TMP/state/events.db"
check "counts with since near INT64_MIN: 400 naming since" \
    refused '/api/v1/events/counts?since=-9223371946854775809&until=9223372036854775807' "since"
check "the daemon survived it" alive
check "until past year 2199 (INT64_MAX ns): 400 naming until" \
    refused '/api/v1/events/counts?since=0&until=9223372036854775807' "until"
check "since=0 until=2199-12-31 bucket=366d: the widest valid range is answered" \
    sh -c "[ \"\$(curl -s -o '$TMP/b2' -w '%{http_code}' -H 'Authorization: Bearer $V' \
        '$U/api/v1/events/counts?since=0&until=2199-12-31T00:00:00Z&bucket=366d')\" = 200 ]"
check "impossible date 2026-13-45T99:99:99Z: 400" \
    refused '/api/v1/events?since=2026-13-45T99:99:99Z' "since"
check "31 April and 29 February 2026: 400" sh -c "
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?since=2026-04-31T00:00:00Z')\" = 400 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?since=2026-02-29T00:00:00Z')\" = 400 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?since=2024-02-29T00:00:00Z')\" = 200 ]"
check "year 9999 in incidents and events: 400" sh -c "
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/incidents?until=9999-01-01T00:00:00Z')\" = 400 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?until=9999-01-01T00:00:00Z')\" = 400 ]"
check "signs, blanks and exponents in times: 400" sh -c "
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?since=+2026-01-01T00:00:00Z')\" = 400 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?since=2026-01-01T00:00:00.5e3Z')\" = 400 ]"
check "bucket=400000d (in range as seconds, not as days): 400 naming bucket" \
    refused '/api/v1/events/counts?bucket=400000d' "bucket"
check "bucket=367d: 400; 1d: 200" sh -c "
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events/counts?bucket=367d')\" = 400 ] &&
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events/counts?bucket=1d')\" = 200 ]"
check "repeated since: 400 naming since" \
    refused '/api/v1/events?since=0&since=1' "'since' is given more than once"
check "repeated status on incidents: 400" \
    refused '/api/v1/incidents?status=open&status=resolved' "'status'"
check "field= may repeat (two filters)" \
    test "$(get '/api/v1/events?field=a=1&field=b=2')" = 200
check "/app.js%00.html is refused, not served as app.js" sh -c "
    [ \"\$(curl -s --path-as-is -o '$TMP/js' -w '%{http_code}' '$U/app.js%00.html')\" = 400 ] &&
    ! grep -q 'function' '$TMP/js' &&
    [ \"\$(curl -s --path-as-is -o /dev/null -w '%{http_code}' '$U/app.js%1b.html')\" = 400 ]"
# A raw ESC in the request line and an escaped one in a query value.
python3 - "$hp" <<'EOP'
import socket, sys
for path in (b"/x\x1b[31mRED", b"/api/v1/nothing%1b[2Jclear"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.recv(4096)
    s.close()
EOP
check "no raw ESC byte reaches the log; the escape is written \\x1b" sh -c "
    sleep 0.5; ! grep -q \"\$(printf '\\033')\" '$TMP/log' && grep -q 'x1b\\[2Jclear' '$TMP/log'"
# code TOKEN PATH_AND_QUERY: the status code (-m: the feed stays open).
code() {
    curl -s -m 5 --path-as-is -o "$TMP/b" -w '%{http_code}' \
        -H "Authorization: Bearer $1" "$U$2"
}
check "an encoded NUL in a query value: 400, not read as the bytes before it" sh -c "
    [ \"\$(curl -s --path-as-is -o '$TMP/b' -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/incidents?limit=10%00junk')\" = 400 ] &&
    grep -q 'NUL' '$TMP/b' &&
    [ \"\$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/events?limit=5%00')\" = 400 ]"
nums_refused() {
    for p in '/api/v1/incidents?limit=+10' '/api/v1/incidents?limit=%2010' \
        '/api/v1/events?limit=%2010' '/api/v1/events/counts?top=+3'; do
        [ "$(code "$V" "$p")" = 400 ] || return 1
    done
    [ "$(code "$A" '/api/v1/audit?limit=+5')" = 400 ] &&
        [ "$(code "$V" '/api/v1/incidents?limit=10')" = 200 ]
}
check "limit and top with a sign or a blank: 400 (incidents, events, counts, audit)" nums_refused
cursors_refused() {
    u=0b9c6e1e-1111-4222-8333-944445555666
    for p in '/api/v1/events?cursor=1.99999999999999999999999' \
        '/api/v1/events?cursor=-1.-1' '/api/v1/events?cursor=%201.1' \
        "/api/v1/incidents?cursor=-1:$u" "/api/v1/incidents?cursor=99999999999999999999:$u" \
        "/api/v1/incidents?cursor=1:${u}junk"; do
        [ "$(code "$V" "$p")" = 400 ] || return 1
    done
    [ "$(code "$A" '/api/v1/audit?cursor=9223372036854775808')" = 400 ] &&
        [ "$(code "$A" '/api/v1/audit?cursor=5')" = 200 ] &&
        [ "$(code "$V" '/api/v1/events?cursor=4102444800000000000.1')" = 200 ] &&
        [ "$(code "$V" "/api/v1/incidents?cursor=1:$u")" = 200 ]
}
check "cursors that overflow, carry signs or trail bytes: 400 (events, incidents, audit)" cursors_refused
check "a key repeated in another case is a repeat: 400 on the feed too" sh -c "
    [ \"\$(curl -s -m 5 -o '$TMP/b' -w '%{http_code}' -H 'Authorization: Bearer $V' '$U/api/v1/stream?last_event_id=0&LAST_EVENT_ID=5')\" = 400 ] &&
    grep -q 'more than once' '$TMP/b'"
nul_body() {
    [ "$(curl -s -o "$TMP/b" -w '%{http_code}' -H "Authorization: Bearer $O" \
        --data-binary "$1" "$U/api/v1/incidents/0b9c6e1e-1111-4222-8333-944445555666/$2")" = 400 ] &&
        grep -q '"code":"bad_value"' "$TMP/b" && grep -q "'$3'" "$TMP/b"
}
nul_bodies() {
    nul_body '{"reason":"x\u0000y"}' acknowledge reason &&
        nul_body '{"reason":"x","owner":"al\u0000ice"}' assign owner
}
check "an action's reason or owner with \\u0000: 400 bad_value naming the field" nul_bodies
check "the daemon is still up and stops cleanly" stop_daemon
tap_done
