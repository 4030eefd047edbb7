#!/bin/sh
# The console overview with 10,000 incidents in the store: syslog over one
# TCP connection (RFC 5424, one "Accepted password" line per address from
# N distinct addresses) through a match rule grouped by source.ip makes N
# incidents; then Chromium (playwright-core, tests/browser) signs in and
# opens the overview REPEAT times, and the page's own figure is printed:
# from the route to the last card drawn (three fetches: the store's
# summary, /health, /metrics; then the DOM), performance.now() in the page
# (data-ms on #overview-view). Also curl's time for the summary alone.
# usage: bench/console_overview.sh [incidents [repeat]]   (after
# ./scripts/build.sh and one `make check TESTS=tests/integration/browser.sh`,
# which installs playwright-core into _build/tests/browser)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
B=$root/_build
N=${1:-10000}
REPEAT=${2:-10}
export SENTINELD_PLUGIN_PATH=$B/.plugins
tmp=$(mktemp -d)
dpid=
trap 'kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(port)
sp=$(port)
mkdir -p "$tmp/state" "$tmp/rules"
cat >"$tmp/rules/login.yaml" <<'EOR'
rules:
  - id: bench-login
    title: SSH login (one incident per address)
    severity: medium      # match rules signal from det_rules' match_signals up
    match: appname == "sshd" and msg startswith "Accepted "
    extract:
      - regex: 'from (?<ip>[0-9.]+) port'
        fields: {ip: source.ip}
    group_by: [source.ip]
EOR
cat >"$tmp/c.yaml" <<EOC
daemon: { state_dir: $tmp/state }
http: { listen: "127.0.0.1:$hp", web_root: "$root/web" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [$tmp/rules, $root/conf/rules] }
EOC
tok=$("$B/sentineld" token create --name bench --role operator -c "$tmp/c.yaml" 2>/dev/null)
"$B/sentineld" run -c "$tmp/c.yaml" >"$tmp/out" 2>"$tmp/log" &
dpid=$!
until curl -sf "http://127.0.0.1:$hp/health" -o /dev/null; do sleep 0.1; done
python3 - "$sp" "$N" <<'EOP'
import socket, sys, datetime
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
lines = []
for i in range(n):
    ip = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    lines.append("<38>1 %s bastion sshd %d - - Accepted password for u%d from %s port 22 ssh2\n" % (now, i, i, ip))
s.sendall("".join(lines).encode())
s.close()
EOP
count() {
    curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$hp/api/v1/incidents/summary" |
        python3 -c 'import json,sys; print(sum(r["n"] for r in json.load(sys.stdin)["by_severity"]))'
}
t0=$(date +%s)
while [ "$(count)" -lt "$N" ]; do sleep 0.5; done
echo "$(count) incidents in the store ($(( $(date +%s) - t0 )) s to fold them)"
for i in 1 2 3; do
    curl -s -o /dev/null -w "GET /api/v1/incidents/summary: %{time_total} s\n" \
        -H "Authorization: Bearer $tok" "http://127.0.0.1:$hp/api/v1/incidents/summary"
done
URL="http://127.0.0.1:$hp" TOKEN="$tok" REPEAT=$REPEAT NODE_PATH="$B/tests/browser/node_modules" \
    node - <<'EOJ'
const { chromium } = require("playwright-core");
(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
    args: process.getuid() === 0 ? ["--no-sandbox"] : [] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(process.env.URL + "/");
  await page.fill("#token", process.env.TOKEN);
  await page.click("#login-btn");
  await page.waitForSelector("#overview-view[data-ready]");
  const ms = [];
  for (let i = 0; i < Number(process.env.REPEAT); i++) {
    await page.goto(process.env.URL + "/#/events");
    await page.waitForSelector("#events-view:not(.hidden)");
    await page.goto(process.env.URL + "/#/");
    await page.waitForSelector("#overview-view[data-ready]");
    ms.push(Number(await page.getAttribute("#overview-view", "data-ms")));
  }
  const open = await page.textContent("#ov-sev a[data-severity=medium] b");
  ms.sort((a, b) => a - b);
  console.log("overview with " + open + " open medium incidents: render " + ms.join(" ") +
    " ms; median " + ms[ms.length >> 1] + " ms, max " + ms[ms.length - 1] + " ms");
  await browser.close();
})();
EOJ
