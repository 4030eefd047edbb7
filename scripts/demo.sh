#!/bin/sh
# A newcomer's first look at sentineld:
#
#   ./scripts/demo.sh            start a demo instance (temp dir, the
#                                shipped rule pack, the console on :8514),
#                                print an admin token, then stream traffic
#   ./scripts/demo.sh --send HOST:PORT
#                                only stream the traffic, as RFC 5424 over
#                                TCP (octet-counted), into a running
#                                instance's syslog input
#
# The stream: normal traffic (cron, sessions, logins, nginx) with an SSH
# brute force (one address, many failures), a password spray (one address,
# many users) and a crash-looping service (systemd restarts) mixed in, so
# incidents show up in the console within a minute. Needs python3.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)

send() {
    python3 - "$1" "${DEMO_SECONDS:-45}" <<'EOP'
import random, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
secs = float(sys.argv[2])
s = socket.create_connection((host, int(port)))
def line(host, app, msg, pri=38):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06dZ" % (time.time() % 1 * 1e6)
    m = "<%d>1 %s %s %s %d - - %s" % (pri, ts, host, app, random.randint(100, 30000), msg)
    b = m.encode()
    s.sendall(b"%d %s" % (len(b), b))  # RFC 6587 octet counting
normal = [
    ("web1", "CRON", "(root) CMD (/usr/lib/sysstat/sa1 1 1)", 78),
    ("web1", "systemd-logind", "New session 4{n} of user deploy.", 30),
    ("db1", "sshd", "Accepted publickey for deploy from 192.0.2.44 port 6{n} ssh2: ED25519 SHA256:q1w2e3", 38),
    ("web2", "nginx", "192.0.2.{n} - - \"GET /health HTTP/1.1\" 200 2", 30),
    ("db1", "postgres", "checkpoint complete: wrote {n} buffers", 30),
]
users = ["admin", "oracle", "test", "ubuntu", "pi", "postgres", "git", "guest"]
t0, n, sent = time.time(), 0, 0
while time.time() - t0 < secs:
    n += 1
    for _ in range(20):  # ~200 lines/s of normal traffic
        h, app, msg, pri = random.choice(normal)
        line(h, app, msg.format(n=random.randint(10, 99)), pri)
        sent += 1
    el = time.time() - t0
    if 3 < el < 25 and n % 2 == 0:   # brute force: ~5 failures/s from one address
        line("web1", "sshd", "Failed password for root from 203.0.113.7 port %d ssh2" % random.randint(30000, 60000))
    if 8 < el < 30 and n % 5 == 0:   # spray: many users, one address
        u = users[(n // 5) % len(users)]
        line("web2", "sshd", "Failed password for invalid user %s from 198.51.100.23 port %d ssh2" % (u, random.randint(30000, 60000)))
    if 12 < el < 40 and n % 20 == 0: # crash loop: a restart every 2 s
        line("app1", "systemd", "payments.service: Scheduled restart job, restart counter is at %d." % (n // 20), 30)
    time.sleep(0.1)
print("demo: sent %d lines in %.0f s" % (sent, time.time() - t0))
EOP
}

if [ "${1:-}" = "--send" ]; then
    send "${2:?--send HOST:PORT}"
    exit 0
fi

bin=${SENTINELD:-$here/_build/sentineld}
[ -x "$bin" ] || { echo "demo: build first (./scripts/build.sh)" >&2; exit 2; }
export SENTINELD_PLUGIN_PATH=${SENTINELD_PLUGIN_PATH:-$here/_build/.plugins}
dir=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-demo.XXXXXX")
http=${DEMO_HTTP:-127.0.0.1:8514}
syslog=${DEMO_SYSLOG:-127.0.0.1:5514}
cat >"$dir/demo.yaml" <<EOC
daemon: { state_dir: $dir/state, log_level: info }
http: { listen: "$http", web_root: "$here/web" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://$syslog"], parser: auto }
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: ["$here/conf/rules"] }
outputs:
  - { name: incidents, plugin: out_file, path: "$dir/incidents.json", take: incidents }
  - { name: history, plugin: out_history }   # the console's Events page
EOC
mkdir -p "$dir/state"
token=$("$bin" token create --name demo --role admin -c "$dir/demo.yaml" 2>/dev/null)
"$bin" run -c "$dir/demo.yaml" 2>"$dir/sentineld.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
i=0
until curl -sf "http://$http/health" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$dir/sentineld.log" >&2; exit 1; }
    sleep 0.1
done
cat <<EOM

  sentineld demo is running (pid $pid, files in $dir)

  Console:  http://$http/
  Token:    $token        (role admin; paste it into the console)

  Streaming normal traffic with an SSH brute force, a password spray and
  a crash-looping service for ${DEMO_SECONDS:-45} s; watch the incident list.
  Ctrl-C stops the demo.

EOM
send "$syslog"
echo "demo: traffic done; the console stays up until Ctrl-C"
wait $pid
