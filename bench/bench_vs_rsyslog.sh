#!/bin/sh
# The same TCP syslog stream into rsyslog (imtcp -> omfile) and into
# sentineld (in_syslog -> parse_rfc5424 -> out_file), one after the other
# in the same run on this machine, both daemons pinned to the same CPUs,
# each timed from the first byte sent until its last line is written.
# Prints msgs/s for each and the ratio.
#
#   bench/bench_vs_rsyslog.sh [COUNT] [octet|lf] [CONNECTIONS]
#
# Run from the build directory. The sender is bench/loadgen (C, built
# with the rest); without it, bench/syslog_tcp_load.py, which itself
# tops out near 170k msgs/s and then measures the sender, not the daemons.
#
# Environment: SENTINELD (default ./sentineld), SENTINELD_PLUGIN_PATH
# (default ./.plugins), LOADGEN (default ./bench/loadgen), RSYSLOGD
# (default: from PATH), PARSER (default rfc5424), DAEMON_CPUS (taskset
# list for both daemons, default "0,1"), SENDER_CPUS (taskset list for the
# sender; default the CPUs after the first two when there are 4 or more,
# else unpinned, sharing the daemons' CPUs), RSYSLOG_ASYNC (omfile
# asyncWriting, default on), RSYSLOG_TXFLUSH (omfile flushOnTXEnd, default
# on), RSYSLOG_TEMPLATE (raw: the message as received, default; json:
# %jsonmesg%, every parsed field as JSON like sentineld's out_file), OUT_DIR
# (where both output files go, e.g. /dev/shm to take the disk out; default
# the temp dir), PERF (a file: record the sentineld run with
# `perf record -g` into it), KEEP_TMP (keep the temp dir), RULES (rule
# files or directories, comma-separated: sentineld also runs det_rules
# with them, e.g. RULES=../conf/rules for the shipped pack), DET_OPTS
# (more det_rules options in YAML flow style, e.g. DET_OPTS='coalesce:
# false' for an A/B of match signal coalescing), NO_RSYSLOG
# (set: measure sentineld only, for A/B runs of two sentineld builds or
# rule packs), PACKS (several RULES values separated by ';', "none" for
# no rules: one sentineld run per pack after rsyslog's, then a summary of
# msgs/s and CPU microseconds per message of each, e.g.
# PACKS='none;../conf/rules;../conf/rules,../bench/rules100').
#
# Both outputs go through the page cache: sentineld's JSON lines are ~2.5x
# the bytes of rsyslog's raw lines, so on a slow disk or a VM with slow
# page-cache writes large runs measure the file system, not the daemons;
# compare with OUT_DIR=/dev/shm or RSYSLOG_TEMPLATE=json.
set -u
N=${1:-1000000}
FRAMING=${2:-octet}
CONNS=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SENTINELD=${SENTINELD:-./sentineld}
SENTINELD_PLUGIN_PATH=${SENTINELD_PLUGIN_PATH:-$(pwd)/.plugins}
export SENTINELD_PLUGIN_PATH
LOADGEN=${LOADGEN:-./bench/loadgen}
RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd || echo /usr/sbin/rsyslogd)}
PARSER=${PARSER:-rfc5424}
RSYSLOG_ASYNC=${RSYSLOG_ASYNC:-on}
RSYSLOG_TEMPLATE=${RSYSLOG_TEMPLATE:-raw}
NCPU=$(getconf _NPROCESSORS_ONLN)
DAEMON_CPUS=${DAEMON_CPUS:-0,1}
if [ -z "${SENDER_CPUS+set}" ]; then
    SENDER_CPUS=""
    [ "$NCPU" -ge 4 ] && SENDER_CPUS="2-$((NCPU - 1))"
fi
case $FRAMING in octet | lf) ;; *)
    echo "framing must be octet or lf" >&2
    exit 2
    ;;
esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-bench.XXXXXX")
OUTDIR=$TMP
[ -n "${OUT_DIR:-}" ] && OUTDIR=$(mktemp -d "$OUT_DIR/sentineld-bench.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP" "$OUTDIR"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
now() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }
wait_port() {
    i=0
    while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "nothing listens on port $1" >&2; exit 1; }
        sleep 0.1
    done
}
pin_sender() { if [ -n "$SENDER_CPUS" ]; then taskset -c "$SENDER_CPUS" "$@"; else "$@"; fi; }

# watch FILE N: wait until FILE holds N lines; print the CLOCK_MONOTONIC
# time its size last grew. Polls the size only (counting lines while the
# daemon runs would take CPU from it); lines are counted, incrementally,
# once the size has been still for a while. Gives up after 120 s without
# growth and prints "lost COUNT".
cat >"$TMP/watch.py" <<'EOPY'
import os, sys, time
path, want = sys.argv[1], int(sys.argv[2])
size = last_size = lines = counted_to = 0
last_change = time.monotonic()
while True:
    time.sleep(0.01)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = 0
    t = time.monotonic()
    if size != last_size:
        last_size, last_change = size, t
        continue
    # Still for 1.5 s: rsyslog's async writer flushes at least every
    # second, so the file is complete or the daemon is behind.
    if t - last_change < 1.5 or counted_to == size:
        if t - last_change > 120:
            print('lost %d' % (want - lines))
            sys.exit(1)
        continue
    with open(path, 'rb') as f:
        f.seek(counted_to)
        while True:
            b = f.read(8 << 20)
            if not b:
                break
            lines += b.count(b'\n')
            counted_to += len(b)
    if lines >= want:
        print('%.6f' % last_change)
        sys.exit(0)
EOPY

# run NAME PORT OUTFILE PID: send, wait for N lines, print the rate.
run() {
    t_start=$(now)
    if [ -x "$LOADGEN" ]; then
        pin_sender "$LOADGEN" -p "$2" -n "$N" -f "$FRAMING" -c "$CONNS" \
            2>"$TMP/$1.send"
        t0=$(sed -n 's/^loadgen: first byte at monotonic //p' "$TMP/$1.send")
    else
        pin_sender python3 "$HERE/syslog_tcp_load.py" --port "$2" --count "$N" \
            --framing "$FRAMING" --connections "$CONNS" 2>"$TMP/$1.send"
        t0=$t_start
    fi
    t1=$(python3 "$TMP/watch.py" "$3" "$N")
    cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$4/stat" 2>/dev/null)
    python3 - "$1" "$N" "$t0" "$t1" "$TMP/$1.send" "${cpu:-0}" <<'EOPY' | tee "$TMP/$1.rate"
import sys
name, n, t0, t1, send, cpu = sys.argv[1:]
sender = open(send).read().strip().splitlines()[-1].split(': ', 1)[-1]
if t1.startswith('lost'):
    print('%-10s FAILED: %s of %s messages never written' % (name, t1.split()[1], n))
    sys.exit(0)
dt = float(t1) - float(t0)
# CPU seconds per million messages: the fairer figure when the CPUs are
# shared (with the sender, or other load), where msgs/s measures the
# competition as much as the daemon.
print('%-10s %9d msgs in %6.2fs: %9.0f msgs/s  daemon CPU %.1fs = %.2f CPU s '
      'per 1M msgs  (sender: %s)'
      % (name, int(n), dt, int(n) / dt, float(cpu), float(cpu) * 1e6 / int(n),
         sender))
EOPY
}
rate_of() { sed -n 's/.*s: *\([0-9]*\) msgs\/s .*/\1/p' "$TMP/$1.rate"; }
cpu_of() { sed -n 's/.* = \([0-9.]*\) CPU s per 1M.*/\1/p' "$TMP/$1.rate"; }

if [ -x "$LOADGEN" ]; then
    sender="C loadgen"
else
    sender="python sender (slow: build bench/loadgen)"
fi
echo "# $N messages, $FRAMING framing, $CONNS connection(s), $NCPU CPUs;" \
    "daemons on CPUs $DAEMON_CPUS, sender on ${SENDER_CPUS:-any CPU};" \
    "$sender; outputs in $OUTDIR, rsyslog template $RSYSLOG_TEMPLATE"

# rsyslog: imtcp -> main queue -> omfile, message as received, no fsync.
# Sized like a tuned production relay: a large in-memory main queue with
# big dequeue batches and a buffered, asynchronously written output file.
if [ -z "${NO_RSYSLOG:-}" ]; then
rp=$(free_port)
mkdir -p "$TMP/rs"
# flushOnTXEnd off would leave the last partial buffer to the 1 s
# flushInterval (async) or forever (sync): the timing would measure that.
TXFLUSH=${RSYSLOG_TXFLUSH:-on}
case $RSYSLOG_TEMPLATE in
json) tpl='%jsonmesg%\n' ;;
*) tpl='%rawmsg%\n' ;;
esac
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs" maxMessageSize="64k")
main_queue(queue.type="LinkedList" queue.size="2000000"
           queue.dequeueBatchSize="1024" queue.workerThreads="1")
module(load="imtcp" MaxSessions="1024")
template(name="out" type="string" string="$tpl")
input(type="imtcp" address="127.0.0.1" port="$rp")
action(type="omfile" file="$OUTDIR/rsyslog.out" template="out"
       asyncWriting="$RSYSLOG_ASYNC" ioBufferSize="1m" flushOnTXEnd="$TXFLUSH"
       flushInterval="1")
EOC
taskset -c "$DAEMON_CPUS" "$RSYSLOGD" -n -f "$TMP/rsyslog.conf" \
    -i "$TMP/rs.pid" >"$TMP/rs.log" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
wait_port "$rp"
run rsyslog "$rp" "$OUTDIR/rsyslog.out" "$RPID"
kill "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
rm -f "$OUTDIR/rsyslog.out"
fi

# sentineld: in_syslog -> parser -> out_file (JSON, one event per line),
# with det_rules running the rule files of $2 when it is not empty.
run_sentineld() {
    label=$1
    rules=$2
    sp=$(free_port)
    rm -f "$OUTDIR/sentineld.out"
    rm -rf "$TMP/state"
    cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: bench, plugin: in_syslog, parser: $PARSER, listen: [ "tcp://127.0.0.1:$sp" ] }
outputs:
  - { name: o, plugin: out_file, path: $OUTDIR/sentineld.out }
EOC
    if [ -n "$rules" ]; then
        # Absolute paths: the daemon's working directory is not ours.
        list=""
        for r in $(echo "$rules" | tr ',' ' '); do
            list="$list${list:+, }$(cd "$(dirname "$r")" && pwd)/$(basename "$r")"
        done
        cat >>"$TMP/s.yaml" <<EOC
detectors:
  - { name: rules, plugin: det_rules, rules: [ $list ]${DET_OPTS:+, $DET_OPTS} }
EOC
        echo "# $label: det_rules with $list"
    fi
    taskset -c "$DAEMON_CPUS" "$SENTINELD" run -c "$TMP/s.yaml" \
        >"$TMP/s.out" 2>"$TMP/s.log" &
    SPID=$!
    PIDS="$PIDS $SPID"
    wait_port "$sp"
    if [ -n "${PERF:-}" ]; then
        perf record -g -o "$PERF.$label" -p "$SPID" >"$TMP/perf.log" 2>&1 &
        PERFPID=$!
        sleep 0.5
    fi
    run "$label" "$sp" "$OUTDIR/sentineld.out" "$SPID"
    if [ -n "${PERF:-}" ]; then
        kill -INT "$PERFPID"
        wait "$PERFPID"
        echo "# perf data: $PERF.$label (perf report -i $PERF.$label --sort comm,dso,sym)"
    fi
    kill -TERM "$SPID"
    wait "$SPID"
}

if [ -n "${PACKS:-}" ]; then
    # One sentineld run per pack, after rsyslog's, in this run: the
    # labels are sentineld, sentineld+1, sentineld+2, ... in PACKS order
    # (pk, not i: wait_port counts with i).
    pk=0
    labels=""
    old_ifs=$IFS
    IFS=';'
    for pack in $PACKS; do
        IFS=$old_ifs
        [ "$pack" = none ] && pack=""
        label=sentineld
        [ "$pk" -gt 0 ] && label="sentineld+$pk"
        run_sentineld "$label" "$pack"
        labels="$labels $label"
        eval "pack_$pk=\"\${pack:-no rules}\""
        pk=$((pk + 1))
        IFS=';'
    done
    IFS=$old_ifs
    echo "# summary: msgs/s, daemon CPU per message, and against rsyslog"
    r=$(rate_of rsyslog)
    rc=$(cpu_of rsyslog)
    [ -n "$r" ] && printf '%-34s %10s msgs/s  %6.2f us CPU/msg\n' rsyslog "$r" \
        "$(python3 -c "print($rc)")"
    pk=0
    for label in $labels; do
        s=$(rate_of "$label")
        sc=$(cpu_of "$label")
        eval "pack=\$pack_$pk"
        if [ -n "$s" ]; then
            python3 -c "
r = float('${r:-0}' or 0); rc = float('${rc:-0}' or 0)
s = float('$s'); sc = float('$sc')
print('%-34s %10.0f msgs/s  %6.2f us CPU/msg%s' % ('sentineld (' + '$pack'[-24:] + ')', s, sc,
      '  x%.2f msgs/s, x%.2f CPU/msg vs rsyslog' % (s / r, rc / sc) if r and sc else ''))"
        else
            echo "sentineld ($pack): a daemon did not write every message"
        fi
        pk=$((pk + 1))
    done
    exit 0
fi

run_sentineld sentineld "${RULES:-}"

s=$(rate_of sentineld)
if [ -n "${NO_RSYSLOG:-}" ]; then
    [ -n "$s" ] || exit 1
    exit 0
fi
r=$(rate_of rsyslog)
if [ -n "$r" ] && [ -n "$s" ]; then
    python3 -c "print('ratio sentineld/rsyslog: %.2f  (%s framing, %d connection(s), parser %s)' % ($s / $r, '$FRAMING', $CONNS, '$PARSER'))"
    rc=$(cpu_of rsyslog)
    sc=$(cpu_of sentineld)
    [ -n "$rc" ] && [ -n "$sc" ] &&
        python3 -c "print('CPU per message, rsyslog/sentineld: %.2f  (%s vs %s CPU s per 1M msgs)' % ($rc / $sc if $sc else 0, '$rc', '$sc'))"
else
    echo "ratio: n/a (a daemon did not write every message)"
    exit 1
fi
