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
# BASELINE=/other/_build: also run that build's daemon on a store of its
# own fed the same syslog, and alternate every measurement between the two
# (this build first), so a before/after on a shared machine sees the same
# load; the medians and their ratio are printed.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
B=$root/_build
N=${1:-10000}
REPEAT=${2:-10}
export SENTINELD_PLUGIN_PATH=$B/.plugins
tmp=$(mktemp -d)
dpid=
bpid=
trap 'kill $dpid $bpid 2>/dev/null || true; rm -rf "$tmp"' EXIT
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
URLS="this=http://127.0.0.1:$hp"
ports=$sp
if [ -n "${BASELINE:-}" ]; then
    # Its own store, folded from the same syslog at the same time, so both
    # are measured as a running daemon has them (write-ahead log and all).
    mkdir -p "$tmp/bstate"
    cp "$tmp/state/tokens" "$tmp/bstate/"
    bp=$(port)
    bsp=$(port)
    sed -e "s|$tmp/state|$tmp/bstate|" -e "s|127.0.0.1:$hp|127.0.0.1:$bp|" \
        -e "s|127.0.0.1:$sp|127.0.0.1:$bsp|" "$tmp/c.yaml" >"$tmp/b.yaml"
    SENTINELD_PLUGIN_PATH=$BASELINE/.plugins "$BASELINE/sentineld" run -c "$tmp/b.yaml" \
        >"$tmp/bout" 2>"$tmp/blog" &
    bpid=$!
    URLS="$URLS baseline=http://127.0.0.1:$bp"
    ports="$ports $bsp"
fi
for u in $URLS; do
    until curl -sf "${u#*=}/health" -o /dev/null; do sleep 0.1; done
done
python3 - "$N" $ports <<'EOP'
import socket, sys, datetime
n = int(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
lines = []
for i in range(n):
    ip = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    lines.append("<38>1 %s bastion sshd %d - - Accepted password for u%d from %s port 22 ssh2\n" % (now, i, i, ip))
data = "".join(lines).encode()
for port in sys.argv[2:]:
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.sendall(data)
    s.close()
EOP
count() {
    curl -s -H "Authorization: Bearer $tok" "$1/api/v1/incidents/summary" |
        python3 -c 'import json,sys; print(sum(r["n"] for r in json.load(sys.stdin)["by_severity"]))'
}
t0=$(date +%s)
for u in $URLS; do
    while [ "$(count "${u#*=}")" -lt "$N" ]; do sleep 0.5; done
    echo "${u%%=*}: $(count "${u#*=}") incidents in the store ($(( $(date +%s) - t0 )) s to fold them)"
done
for i in 1 2 3; do
    for u in $URLS; do
        curl -s -o /dev/null -w "${u%%=*}: GET /api/v1/incidents/summary: %{time_total} s\n" \
            -H "Authorization: Bearer $tok" "${u#*=}/api/v1/incidents/summary"
    done
done
URLS="$URLS" TOKEN="$tok" REPEAT=$REPEAT NODE_PATH="$B/tests/browser/node_modules" \
    node - <<'EOJ'
const { chromium } = require("playwright-core");
(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
    args: process.getuid() === 0 ? ["--no-sandbox"] : [] });
  const runs = [];
  for (const u of process.env.URLS.split(" ")) {
    const [name, url] = [u.slice(0, u.indexOf("=")), u.slice(u.indexOf("=") + 1)];
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url + "/");
    await page.fill("#token", process.env.TOKEN);
    await page.click("#login-btn");
    await page.waitForSelector("#overview-view[data-ready]");
    runs.push({ name, url, page, ms: [], fetch: [] });
  }
  for (let i = 0; i < Number(process.env.REPEAT); i++) {
    for (const r of runs) { // alternated: both see the same load
      await r.page.goto(r.url + "/#/events");
      await r.page.waitForSelector("#events-view:not(.hidden)");
      await r.page.goto(r.url + "/#/");
      await r.page.waitForSelector("#overview-view[data-ready]");
      r.ms.push(Number(await r.page.getAttribute("#overview-view", "data-ms")));
      r.fetch.push(Number(await r.page.getAttribute("#overview-view", "data-fetch-ms")));
    }
  }
  const med = [];
  for (const r of runs) {
    const open = await r.page.textContent("#ov-sev a[data-severity=medium] b");
    r.ms.sort((a, b) => a - b);
    med.push(r.ms[r.ms.length >> 1]);
    console.log(r.name + ": overview with " + open + " open medium incidents: render " +
      r.ms.join(" ") + " ms; median " + r.ms[r.ms.length >> 1] + " ms, max " +
      r.ms[r.ms.length - 1] + " ms" + (r.fetch.some((v) => v > 0) ? "; of it the three fetches: median " +
      r.fetch.sort((a, b) => a - b)[r.fetch.length >> 1] + " ms" : ""));
  }
  if (med.length === 2)
    console.log("median ratio this/baseline: " + (med[0] / med[1]).toFixed(3));
  await browser.close();
})();
EOJ
