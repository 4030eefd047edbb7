#!/bin/bash
# configure --without-kafka --without-postgres --without-curl: builds
# (daemon and plugins) without librdkafka, libpq and libcurl, leaves
# their plugins out, and
# `sentineld check` on a config naming them says which plugin is missing
# and why. Builds in a temp dir from SRCDIR (a second configure; run by
# .ci/run, not by make check). Prints TAP.
set -u
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
SENTINELD=unset
export SRCDIR SENTINELD
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 8

b="$TMP/build"
mkdir -p "$b"
(cd "$b" && "$SRCDIR/configure" -q --enable-werror --without-kafka \
    --without-postgres --without-curl && make -j2 sentineld && make -j2 all-local) \
    >"$TMP/build.log" 2>&1
rc=$?
check "configure --without-kafka --without-postgres --without-curl builds" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { tail -30 "$TMP/build.log" | sed 's/^/# /'; exit 1; }
check "no Kafka or PostgreSQL plugin is built" \
    sh -c "! ls '$b'/.plugins/in_kafka.so '$b'/.plugins/out_kafka.so \
        '$b'/.plugins/out_postgres.so 2>/dev/null | grep -q ."
check "no notification plugin is built" \
    sh -c "! ls '$b'/.plugins/out_webhook.so '$b'/.plugins/out_alertmanager.so 2>/dev/null | grep -q ."
check "and nothing links librdkafka, libpq or libcurl" \
    sh -c "! ldd '$b/sentineld' '$b'/.plugins/*.so | grep -Eq 'librdkafka|libpq|libcurl'"
cd "$SRCDIR/conf/examples" || exit 1
"$b/sentineld" check -c postgres-kafka.yaml >/dev/null 2>"$TMP/err"
rc=$?
sed 's/^/# /' "$TMP/err"
check "check on a config using them fails (exit $rc)" test "$rc" -eq 2
check "naming out_postgres and why" grep -q \
    "postgres-kafka.yaml:[0-9]*:[0-9]*: error: .*plugin 'out_postgres' is not part of this build: built without PostgreSQL support (configure --without-postgres: no libpq)" \
    "$TMP/err"
check "naming out_kafka and why" grep -q \
    "plugin 'out_kafka' is not part of this build: built without Kafka support (configure --without-kafka: no librdkafka)" \
    "$TMP/err"
SENTINELD_ALERTMANAGER_URL=http://127.0.0.1:9 SENTINELD_WEBHOOK_URL=http://127.0.0.1:9 \
    SENTINELD_WEBHOOK_SECRET=x "$b/sentineld" check -c notify.yaml >/dev/null 2>"$TMP/err2"
sed 's/^/# /' "$TMP/err2"
check "check on the notify example names out_alertmanager and why" grep -q \
    "notify.yaml:[0-9]*:[0-9]*: error: .*plugin 'out_alertmanager' is not part of this build: built without libcurl (configure --without-curl)" \
    "$TMP/err2"
tap_done
