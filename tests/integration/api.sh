#!/bin/sh
# The HTTP API against the real daemon: tokens (created once, stored
# hashed, revoked), every documented route x every role (allowed and
# forbidden, from web/openapi.json's x-sentineld-role), JSON errors with
# stable codes, correlation IDs in responses and logs, secure headers, no
# CORS, body and rate limits, event ingestion, readiness and TLS.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 43

hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", max_body: 64KiB, rate_limit: 1000 }
inputs:
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/tests/data/rules/sshd.yaml ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
  - { name: h, plugin: out_history }
EOC
S="$SENTINELD"
V=$("$S" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
O=$("$S" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
A=$("$S" token create --name ada --role admin -c "$TMP/c.yaml" 2>/dev/null)
check "token create prints a token" sh -c "echo '$V' | grep -qx 'snt_[0-9a-f]\{64\}'"
check "the tokens file is 0600 and holds no secret" \
    sh -c "[ \"\$(stat -c %a '$TMP/state/tokens')\" = 600 ] && ! grep -q '${V#snt_}' '$TMP/state/tokens'"
"$S" token list -c "$TMP/c.yaml" >"$TMP/list"
check "token list names tokens and roles" grep -q '^olga *operator$' "$TMP/list"
check "a duplicate name is refused" sh -c "! '$S' token create --name vic --role admin -c '$TMP/c.yaml' 2>/dev/null"

start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"

# req TOKEN METHOD PATH [BODY]: status code on stdout; body in $TMP/b,
# headers in $TMP/h.
req() {
    set -- "$1" "$2" "$3" "${4-}"
    if [ -n "$4" ]; then
        curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X "$2" \
            -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
            --data-binary "$4" "$U$3"
    else
        curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X "$2" \
            -H "Authorization: Bearer $1" "$U$3"
    fi
}

for p in /health /api/v1/whoami /nope /; do
    curl -s -D "$TMP/h.$$" -o /dev/null "$U$p"
    cat "$TMP/h.$$" >>"$TMP/allh"
done
check "secure headers on every response (200, 401, 404, static)" \
    test "$(grep -ci -e "^Content-Security-Policy: default-src 'self'" \
        -e '^X-Content-Type-Options: nosniff' -e '^X-Frame-Options: DENY' \
        -e '^Referrer-Policy: no-referrer' "$TMP/allh")" -eq 16
curl -s -D "$TMP/h" -o /dev/null -H 'Origin: http://evil.test' "$U/api/v1/whoami"
check "no CORS headers, wildcard or other" sh -c "! grep -qi '^Access-Control' '$TMP/h'"

curl -s -D "$TMP/h" -o "$TMP/b" -H 'X-Correlation-ID: test-cid-42' \
    -H "Authorization: Bearer $V" -X POST -d '{}' "$U/api/v1/events"
check "a client's correlation ID is echoed in header and error" \
    sh -c "grep -qi '^X-Correlation-ID: test-cid-42' '$TMP/h' && grep -q '\"correlation_id\":\"test-cid-42\"' '$TMP/b'"
check "and carried into the log line of that request" grep -q 'cid=test-cid-42.*403 forbidden' "$TMP/log"
curl -s -D "$TMP/h" -o /dev/null -H 'X-Correlation-ID: bad id<script>' "$U/health"
check "an unsafe correlation ID is replaced by a generated one" \
    sh -c "grep -i '^X-Correlation-ID: ' '$TMP/h' | grep -qv script"

# Every documented operation x every role.
python3 - "$U" "$SRCDIR/web/openapi.json" "$V" "$O" "$A" >"$TMP/matrix" <<'EOP'
import json, sys, urllib.request, urllib.error
u, doc, toks = sys.argv[1], json.load(open(sys.argv[2])), {"viewer": sys.argv[3], "operator": sys.argv[4], "admin": sys.argv[5]}
rank = {"public": 0, "viewer": 1, "operator": 2, "admin": 3}
bad = 0
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        need = op["x-sentineld-role"]
        p = path.replace("{id}", "no-such-incident").replace("{action}", "comment").replace("{instance}", "rules")
        for role in ["none", "viewer", "operator", "admin"]:
            if path == "/api/v1/rules/reload" and role == "admin":
                continue  # reloading is checked below, once
            h = {"X-Correlation-ID": "matrix"}
            if role != "none":
                h["Authorization"] = "Bearer " + toks[role]
            data = b'{"reason":"matrix"}' if method == "post" else None
            r = urllib.request.Request(u + p, data=data, headers=h, method=method.upper())
            try:
                code = urllib.request.urlopen(r, timeout=1.5).status
            except urllib.error.HTTPError as e:
                code = e.code
            except Exception:
                code = 200  # a live feed keeps streaming: it was allowed
            if need == "public":
                want = "allowed"
            elif role == "none":
                want = 401
            elif rank[role] < rank[need]:
                want = 403
            else:
                want = "allowed"
            ok = (code not in (401, 403)) if want == "allowed" else code == want
            print("%s %s %s %s as %s: %s" % ("ok" if ok else "BAD", method.upper(), path, want, role, code))
            bad += not ok
sys.exit(1 if bad else 0)
EOP
check "every route x every role: allowed or 401/403 as documented" test $? -eq 0
grep BAD "$TMP/matrix" | sed 's/^/# /'
check "the matrix covered routes" test "$(wc -l <"$TMP/matrix")" -ge 30

check "wrong method: 405 method_not_allowed" \
    sh -c "[ \"\$(curl -s -o '$TMP/b' -w '%{http_code}' -X DELETE '$U/api/v1/rules/reload')\" = 405 ] && grep -q method_not_allowed '$TMP/b'"
check "unknown API route: 404 not_found JSON" \
    sh -c "[ \"\$(curl -s -o '$TMP/b' -w '%{http_code}' '$U/api/v1/nope')\" = 404 ] && grep -q '\"code\":\"not_found\"' '$TMP/b'"

# Events.
code=$(req "$O" POST /api/v1/events '[{"msg":"first","host":"h1"},{"msg":"second"}]')
check "POST /api/v1/events accepts a batch (202)" sh -c "[ $code = 202 ] && grep -q '\"accepted\":2' '$TMP/b'"
wait_for 5 grep -q '"msg":"second"' "$TMP/out.json"
check "posted events reach the outputs through in_http" \
    sh -c "grep -q '\"msg\":\"first\".*\"input\":\"api\".*\"transport\":\"http\"' '$TMP/out.json'"
n0=$(lines "$TMP/out.json")
code=$(req "$O" POST /api/v1/events '{"msg": "broken"')
check "bad JSON: 400 bad_json" sh -c "[ $code = 400 ] && grep -q bad_json '$TMP/b'"
code=$(req "$O" POST /api/v1/events '[{"msg":"ok"}, 42]')
check "wrong type in a batch: 400 wrong_type, nothing taken" \
    sh -c "[ $code = 400 ] && grep -q wrong_type '$TMP/b'"
head -c 70000 /dev/zero | tr '\0' 'x' >"$TMP/big"
code=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -H "Authorization: Bearer $O" \
    -H 'X-Correlation-ID: big-body-1' --data-binary @"$TMP/big" "$U/api/v1/events")
check "a body over max_body: 413 body_too_large in JSON" python3 -c "
import json
d=json.load(open('$TMP/b'))
assert '$code'=='413' and d['error']['code']=='body_too_large' and 'max_body' in d['error']['message'], d"
check "the 413 carries the secure headers and the correlation ID" sh -c "
grep -qi '^Content-Security-Policy: default-src' '$TMP/h' && grep -qi '^X-Frame-Options: DENY' '$TMP/h' &&
grep -qi '^X-Correlation-ID: big-body-1' '$TMP/h' && grep -qi '^Content-Type: application/json' '$TMP/h'"
check "refused bodies are counted" sh -c "curl -s '$U/metrics' | grep -qx 'sentineld_http_body_too_large_total 1'"
# Beyond evhttp's own cap (max_body + 1 MiB here) libevent answers: still
# a 413 the client receives, not a reset.
head -c 1200000 /dev/zero | tr '\0' 'x' >"$TMP/huge"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $O" --data-binary @"$TMP/huge" "$U/api/v1/events")
check "a body beyond libevent's cap: still 413" test "$code" = 413
sleep 0.3
check "nothing from refused requests reached the output" test "$(lines "$TMP/out.json")" -eq "$n0"

code=$(req "$A" POST /api/v1/rules/reload)
check "admin reload answers 200 and reloads" \
    sh -c "[ $code = 200 ] && grep -q 'reload complete' '$TMP/log'"
code=$(req "" GET /health/ready)
check "/health/ready: 200, store writable, inputs and outputs listed" \
    sh -c "[ $code = 200 ] && grep -q '\"writable\":true' '$TMP/b' && grep -q '\"name\":\"api\",\"plugin\":\"in_http\",\"state\":\"running\"' '$TMP/b' && grep -q '\"name\":\"o\"' '$TMP/b'"

# Incidents (seeded the way the incident manager writes them).
SEED="$BUILDDIR/tests/tools/seed_incident"
DB="$TMP/state/sentineld.db"
id=$("$SEED" "$DB" ssh-brute-force 3 "SSH brute force" 203.0.113.7)
crit=$("$SEED" "$DB" root-login 4 "Root login from the internet" 198.51.100.9)
code=$(req "$V" GET '/api/v1/incidents?status=open&severity=high&limit=10')
check "list filters by status and severity" \
    sh -c "[ $code = 200 ] && grep -q '$id' '$TMP/b' && grep -q '$crit' '$TMP/b'"
code=$(req "$V" GET '/api/v1/incidents?q=Root')
check "list free-text search" sh -c "[ $code = 200 ] && grep -q '$crit' '$TMP/b' && ! grep -q '$id' '$TMP/b'"
c1=$(req "$V" GET '/api/v1/incidents?status=bogus')
c2=$(req "$V" GET '/api/v1/incidents?colour=red')
c3=$(req "$V" GET '/api/v1/incidents?limit=0')
check "bad status, unknown parameter, bad limit: 400 bad_query" \
    sh -c "[ $c1$c2$c3 = 400400400 ] && grep -q bad_query '$TMP/b'"
code=$(req "$V" GET /api/v1/incidents/00000000-0000-4000-8000-000000000000)
check "unknown incident: 404 not_found" sh -c "[ $code = 404 ] && grep -q '\"code\":\"not_found\"' '$TMP/b'"

ver() { req "$V" GET "/api/v1/incidents/$1" >/dev/null; sed -n 's/^{"type":"incident","id":"[^"]*","version":\([0-9]*\).*/\1/p' "$TMP/b"; }
v0=$(ver "$id")
bad=""
for body in '{"reason":"x","extra":1}' '{"reason":5}' '{}' '{"reason":""}' \
    '{"reason":"x","owner":"bob"}' '[{"reason":"x"}]' '{"reason":"x"' 'null'; do
    bad="$bad $(req "$O" POST "/api/v1/incidents/$id/acknowledge" "$body")"
    cp "$TMP/b" "$TMP/b.last"
    cat "$TMP/b" >>"$TMP/bad-bodies"
done
check "invalid action bodies: 400 each" test "$bad" = " 400 400 400 400 400 400 400 400"
check "with stable codes: unknown_field wrong_type missing_field bad_json" \
    sh -c "grep -q unknown_field '$TMP/bad-bodies' && grep -q wrong_type '$TMP/bad-bodies' && grep -q missing_field '$TMP/bad-bodies' && grep -q bad_json '$TMP/bad-bodies'"
check "and nothing changed (same version)" test "$(ver "$id")" = "$v0"
code=$(req "$O" POST "/api/v1/incidents/$id/frobnicate" '{"reason":"x"}')
check "unknown action: 404 unknown_action" sh -c "[ $code = 404 ] && grep -q unknown_action '$TMP/b'"

code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H "Authorization: Bearer $O" \
    -H 'X-Correlation-ID: ack-corr-7' -d '{"reason":"on it"}' "$U/api/v1/incidents/$id/acknowledge")
check "acknowledge with a reason: 200, status acknowledged" \
    sh -c "[ $code = 200 ] && grep -q '\"status\":\"acknowledged\"' '$TMP/b'"
req "$V" GET "/api/v1/incidents/$id" >/dev/null
check "the audit entry names who, why and the correlation ID" \
    grep -q '"actor":"olga","action":"acknowledge","reason":"on it","correlation_id":"ack-corr-7"' "$TMP/b"
code=$(req "$O" POST "/api/v1/incidents/$id/acknowledge" '{"reason":"again"}')
check "an action that does not apply: 409 conflict" sh -c "[ $code = 409 ] && grep -q conflict '$TMP/b'"
code=$(req "$O" POST "/api/v1/incidents/$id/assign" '{"reason":"yours","owner":"bob"}')
check "assign sets the owner" sh -c "[ $code = 200 ] && grep -q '\"owner\":\"bob\"' '$TMP/b'"

req "$O" POST "/api/v1/incidents/$crit/suppress" '{"reason":"noise"}' >/dev/null
code=$(req "$O" POST "/api/v1/incidents/$crit/approve" '{"reason":"mine"}')
c2=$(req "$A" POST "/api/v1/incidents/$crit/approve" '{"reason":"agreed"}')
check "suppressing a CRITICAL waits for approval; not by the requester (409), by another (200)" \
    sh -c "[ $code = 409 ] && [ $c2 = 200 ] && grep -q '\"status\":\"suppressed\"' '$TMP/b'"

"$S" token revoke --name vic -c "$TMP/c.yaml" 2>/dev/null
code=$(req "$V" GET /api/v1/whoami)
check "a revoked token is refused (401) without a restart" test "$code" = 401

# Rate limit: a second daemon with a low limit.
hp2=$(free_port)
sed -e "s/$hp/$hp2/" -e 's/rate_limit: 1000/rate_limit: 2, approve_role: admin/' "$TMP/c.yaml" >"$TMP/c2.yaml"
"$S" run -c "$TMP/c2.yaml" 2>"$TMP/log2" &
P2=$!
PIDS="$PIDS $P2"
wait_for 30 curl -sf "http://127.0.0.1:$hp2/health" -o /dev/null
crit2=$("$SEED" "$DB" root-login 4 "Root login" 192.0.2.99)
curl -s -o /dev/null -H "Authorization: Bearer $A" -d '{"reason":"noise"}' "http://127.0.0.1:$hp2/api/v1/incidents/$crit2/suppress"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H "Authorization: Bearer $O" -d '{"reason":"ok"}' "http://127.0.0.1:$hp2/api/v1/incidents/$crit2/approve")
check "approve_role admin: an operator may not approve (403)" \
    sh -c "[ $code = 403 ] && grep -q approve_role '$TMP/b'"
sleep 1
# One keep-alive client, 20 requests in a burst: far over 2/s even on a
# loaded machine.
codes=$(python3 - "$hp2" "$O" <<'EOP'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
out = []
for i in range(20):
    c.request("GET", "/api/v1/whoami", headers={"Authorization": "Bearer " + sys.argv[2]})
    r = c.getresponse()
    body = r.read().decode()
    out.append(str(r.status))
print(" ".join(out))
EOP
)
curl -s "http://127.0.0.1:$hp2/metrics" >"$TMP/m2"
check "rate limit: 429 rate_limited after the burst, counted" \
    sh -c "echo '$codes' | grep -q 429 && grep -q '^sentineld_http_rate_limited_total [1-9]' '$TMP/m2'"
kill "$P2"

# TLS listener.
if make_certs client.test; then
    hp3=$(free_port)
    sed -e "s/$hp/$hp3/" -e "s|web_root:|tls_cert: $TMP/server.pem, tls_key: $TMP/server.key, web_root:|" \
        "$TMP/c.yaml" >"$TMP/c3.yaml"
    "$S" run -c "$TMP/c3.yaml" 2>"$TMP/log3" &
    P3=$!
    PIDS="$PIDS $P3"
    wait_for 30 curl -sf --cacert "$TMP/ca.pem" "https://127.0.0.1:$hp3/health" -o /dev/null
    code=$(curl -s -o "$TMP/b" -w '%{http_code}' --cacert "$TMP/ca.pem" -H "Authorization: Bearer $O" "https://127.0.0.1:$hp3/api/v1/whoami")
    check "TLS listener serves the API over HTTPS" sh -c "[ $code = 200 ] && grep -q olga '$TMP/b'"
    # The CLI reads through it, the certificate checked (docs/reports.md).
    echo "$O" >"$TMP/o.tok"
    "$S" incidents list --url "https://127.0.0.1:$hp3" --cacert "$TMP/ca.pem" \
        --token-file "$TMP/o.tok" --json >"$TMP/tls-list" 2>&1
    t1=$?
    "$S" incidents list --api -c "$TMP/c3.yaml" --cacert "$TMP/ca.pem" \
        --token-file "$TMP/o.tok" --json >"$TMP/tls-api" 2>&1
    t2=$?
    "$S" incidents list --url "https://127.0.0.1:$hp3" --cacert "$TMP/other.pem" \
        --token-file "$TMP/o.tok" >/dev/null 2>"$TMP/tls-bad"
    t3=$?
    diag "$(head -c 300 "$TMP/tls-list") / $(cat "$TMP/tls-bad")"
    check "the CLI over HTTPS: --url https:// and --api with --cacert; another CA refused ($t1 $t2 $t3)" \
        sh -c "[ '$t1 $t2 $t3' = '0 0 1' ] && grep -q '\"incidents\"' '$TMP/tls-list' &&
            cmp -s '$TMP/tls-list' '$TMP/tls-api' &&
            grep -q '^sentineld: cannot reach the daemon at https://127.0.0.1:$hp3: TLS handshake: certificate: ' '$TMP/tls-bad'"
    kill "$P3"
else
    not_ok "TLS listener (openssl could not make certificates)"
    not_ok "the CLI over HTTPS (openssl could not make certificates)"
fi
stop_daemon
check "the daemon stops cleanly" test $? -eq 0
tap_done
