#!/bin/sh
# Parser conformance, differentially: every message of
# tests/data/conformance/messages.lp goes, the same bytes in one UDP
# datagram, to a real rsyslogd (imudp, default parser chain: pmrfc5424
# then pmrfc3164) and to sentineld (in_syslog, parser auto, out_file).
# Both write JSON; conformance_compare.py matches the two records of a
# message (ours by source port, rsyslog's, which has no such property in
# 8.2302, by the raw message) and compares facility, severity, timestamp
# (the UTC instant, when both read one), hostname, app name (rsyslog's
# programname), procid, msgid, structured data (parsed) and msg. Every
# difference is printed; one not listed in
# tests/data/conformance/deviations.txt fails, and so does a listed one
# that no longer occurs (stale list). Both daemons run with TZ=UTC so that
# a BSD timestamp names the same instant in both.
. "$SRCDIR/tests/integration/lib.sh"

RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
"$SENTINELD" plugins parse_auto >/dev/null 2>&1 || skip_all "no parse_auto plugin"
tap_plan 5

DATA="$SRCDIR/tests/data/conformance"
export TZ=UTC
p_rs=$(free_port)
p_sn=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/rs"

cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 1 }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: u, plugin: in_syslog, parser: auto, listen: [ "udp://127.0.0.1:$p_sn" ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/sn.json }
EOC

# One JSON object per message. Control characters are kept as received
# (rsyslog escapes them as #ooo by default: presentation, not parsing);
# no DNS, so a message without a hostname gets the sender's address.
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs" maxMessageSize="64k" net.enableDNS="off"
       parser.escapeControlCharactersOnReceive="off")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$p_rs" ruleset="conf")
template(name="j" type="list") {
    constant(value="{")
    property(name="rawmsg" outname="raw" format="jsonf") constant(value=",")
    property(name="fromhost-ip" outname="fromhost" format="jsonf") constant(value=",")
    property(name="pri" outname="pri" format="jsonf") constant(value=",")
    property(name="syslogfacility" outname="facility" format="jsonf") constant(value=",")
    property(name="syslogseverity" outname="severity" format="jsonf") constant(value=",")
    property(name="timereported" outname="ts" format="jsonf" dateformat="rfc3339") constant(value=",")
    property(name="timegenerated" outname="received" format="jsonf" dateformat="rfc3339") constant(value=",")
    property(name="hostname" outname="hostname" format="jsonf") constant(value=",")
    property(name="syslogtag" outname="tag" format="jsonf") constant(value=",")
    property(name="programname" outname="programname" format="jsonf") constant(value=",")
    property(name="procid" outname="procid" format="jsonf") constant(value=",")
    property(name="msgid" outname="msgid" format="jsonf") constant(value=",")
    property(name="structured-data" outname="sd" format="jsonf") constant(value=",")
    property(name="protocol-version" outname="version" format="jsonf") constant(value=",")
    property(name="msg" outname="msg" format="jsonf")
    constant(value="}\n")
}
ruleset(name="conf") {
    action(type="omfile" file="$TMP/rs.json" template="j")
}
EOC

start_daemon "$TMP/s.yaml" "$TMP/s.log"
"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.out" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
check "sentineld listens" wait_for 10 grep -q "listening on udp://127.0.0.1:$p_sn" "$TMP/s.log"
# imudp says nothing when ready: a port rsyslogd holds is one we cannot bind.
rs_bound() {
    ! python3 -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1', $p_rs))" 2>/dev/null
}
check "rsyslogd listens" wait_for 10 rs_bound

python3 "$SRCDIR/tests/integration/conformance_compare.py" send \
    "$DATA/messages.lp" "$p_rs" "$p_sn" >"$TMP/ports" 2>"$TMP/send.err"
n=$(lines "$TMP/ports")
diag "$n messages sent to both"
# Every message makes one record on each side (none is empty).
check "both wrote a record for each message" \
    wait_until 20 '[ "$(lines "$TMP/rs.json")" -ge "$n" ] && [ "$(lines "$TMP/sn.json")" -ge "$n" ]'
kill -TERM "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
stop_daemon

python3 "$SRCDIR/tests/integration/conformance_compare.py" compare \
    "$DATA/messages.lp" "$TMP/ports" "$TMP/rs.json" "$TMP/sn.json" \
    "$DATA/deviations.txt" >"$TMP/result" 2>&1
rc=$?
sed 's/^/# /' "$TMP/result"
check "every difference from rsyslog is a listed deviation" test $((rc & 1)) -eq 0
check "every listed deviation still occurs" test $((rc & 2)) -eq 0
tap_done
