#!/bin/sh
# A burst through the repartition hop (docs/scaling.md, "Ordering and
# windows"): conf/examples/edge.yaml and conf/examples/detector.yaml as
# they ship, the events topic keyed by hostname, one detector reading all
# 6 partitions of the events and of the repartition topic, the shipped
# rule pack (ssh-brute-force: 10 failures in 2 minutes, once per window),
# incidents in PostgreSQL and on the alerts topic.
# Every attacker fails 20 SSH passwords at once, round robin over 4 of 12
# servers (so over several partitions). The detector reads the events
# partition by partition and produces each partition's matches in turn:
# an attacker's matches reach its key grouped by partition, not in time
# order, and its 10th arrival (which fires) is newer than matches still
# to come. Those must count in the fired window, as in time order (its
# update signals, sn_corr_feed_late): every attacker is exactly one
# incident of 20 hits (one firing of 10, the rest updates), in
# PostgreSQL and as the last version on the alerts topic (kcat); before
# late matches counted, all 12 ended at 10 (3 of 3 runs). The test checks from the repartition
# topic itself that the burst did straddle the threshold.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/attack_lib.sh"
tap_plan 6

ATTACKERS=12
PER=20
hop_cluster 1

hop_conf_now

T0=$(date +%s)
hop_detector a
check "the detector holds the 6 partitions of the events and of the repartition topic" \
    wait_for 40 hop_spread a

# Attacker a's failure i is on server web(a%3*4 + i%4 + 1) at second S,
# microsecond a*100 + i: in time order, one after the other over its 4
# servers; each followed by an ordinary login on the same server.
python3 - "$SYSLOG_PORT" "$ATTACKERS" "$PER" <<'PY'
import socket, sys, time
port, n, per = map(int, sys.argv[1:4])
t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
out = []
for a in range(n):
    for i in range(per):
        host = "web%02d" % (a % 3 * 4 + i % 4 + 1)
        out.append("<38>1 %s.%06dZ %s sshd %d - - Failed password for user%d "
                   "from 203.0.113.%d port %d ssh2\n"
                   % (t, a * 100 + i, host, 1000 + a, i, a + 1, 40000 + i))
        out.append("<38>1 %s.%06dZ %s sshd %d - - Accepted publickey for deploy "
                   "from 192.0.2.%d port %d ssh2\n"
                   % (t, a * 100 + i, host, 2000 + a, a + 1, 50000 + i))
s = socket.create_connection(("127.0.0.1", port))
s.sendall("".join(out).encode())
s.close()
PY
wait_until 20 "test \"\$(kcount sentineld.events)\" -ge $((ATTACKERS * PER * 2))"

check_attack_incidents

# The compact matches of ssh-brute-force in the order stage 2 reads them
# (one key is on one repartition partition, read in order): for at least
# one attacker the 10th to arrive is newer than one arriving after it.
check "the burst reached the keys out of time order, across the firing point" sh -c "
    for p in 0 1 2 3 4 5; do
        timeout 20 kcat -b $BOOTSTRAP -C -t $GROUP.repartition -p \$p -e -q -f '%S\n%s' 2>/dev/null
    done >'$TMP/hop.bin'
    python3 - '$TMP/hop.bin' <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
keys, at = {}, 0
while at < len(data):
    nl = data.index(b'\n', at)
    n = int(data[at:nl]); m = data[nl + 1:nl + 1 + n]; at = nl + 1 + n
    if m[:4] == b'SNW1':
        continue  # a watermark beat (docs/scaling.md)
    assert m[:4] == b'SNH1', m[:8]
    o = 4
    l, = struct.unpack_from('<I', m, o); rule = m[o + 4:o + 4 + l]; o += 4 + l
    l, = struct.unpack_from('<I', m, o); o += 4 + l
    h, t = struct.unpack_from('<QQ', m, o)
    if rule == b'ssh-brute-force':
        keys.setdefault(h, []).append(t)
assert len(keys) == $ATTACKERS, len(keys)
straddled = [ts for ts in keys.values() if max(ts[:10]) > min(ts[10:])]
print('# %d of %d attackers straddled the threshold' % (len(straddled), len(keys)))
assert straddled
PY"
check "no ordinary login was seen as an attack" \
    test "$(q "select count(*) from incidents where group_key->>'source.ip' like '192.0.2.%'")" = 0
check "the detector stops cleanly" stop a
DPID=$EDGE
stop_daemon
diag "scenario took $(($(date +%s) - T0)) s"
