# Kafka helpers for the integration scenarios (sourced after lib.sh).
# start_broker ARGS...: run tests/tools/kafka_broker in the background,
# set BROKER_PID and BOOTSTRAP (its printed address).
KAFKA_BROKER="$BUILDDIR/tests/tools/kafka_broker"
start_broker() {
    "$KAFKA_BROKER" "$@" >"$TMP/broker.addr" 2>"$TMP/broker.log" &
    BROKER_PID=$!
    PIDS="$PIDS $BROKER_PID"
    wait_for 10 test -s "$TMP/broker.addr" || return 1
    BOOTSTRAP=$(head -n 1 "$TMP/broker.addr")
}
# kcount TOPIC: messages in a topic, read independently of sentineld.
kcount() {
    timeout 30 kcat -b "$BOOTSTRAP" -C -t "$1" -e -q -f 'x\n' 2>/dev/null | wc -l | tr -d ' '
}
