#!/bin/bash
# The Debian package, end to end on this machine (needs root: CI runs as
# root; elsewhere it skips). Builds `sentineld` and `sentineld-dev` with
# `dpkg-buildpackage -us -uc -b` from a copy of the source tree, requires
# lintian to report no error, installs both with dpkg, checks the unit with
# `systemd-analyze verify`, then runs tests/install/first_run.sh: `check`
# on /etc/sentineld/sentineld.yaml, the daemon started with the unit's
# ExecStart as the package's user, logger in, the incident out of the API.
# Purges the packages at the end: the state and logs go, the system user
# stays without a login (debian/sentineld.postrm says why). Prints TAP; the
# package's size and file list go to the diagnostics (and $KEEP_DEBS, when
# set, keeps the .debs).
set -u
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
SENTINELD=/usr/bin/sentineld
export SRCDIR SENTINELD
. "$SRCDIR/tests/integration/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root to install the package"
for t in dpkg-buildpackage dh lintian systemd-analyze setpriv logger curl; do
    command -v "$t" >/dev/null || skip_all "$t not installed (scripts/deps.sh)"
done
if dpkg -s sentineld >/dev/null 2>&1; then
    skip_all "a sentineld package is already installed; not touching it"
fi
# The user an earlier run's purge left: removed, so the install below
# shows the package creating it.
if getent passwd sentineld >/dev/null; then
    deluser --quiet --system sentineld >/dev/null 2>&1
    getent group sentineld >/dev/null && delgroup --quiet --system sentineld >/dev/null 2>&1
fi
tap_plan 16

purge() {
    apt-get -o DPkg::Lock::Timeout=600 purge -y -qq sentineld sentineld-dev \
        >"$TMP/purge.log" 2>&1
}
trap 'purge; cleanup' EXIT

# A copy without build trees, so the checkout is left as it was.
mkdir -p "$TMP/src"
tar -C "$SRCDIR" --exclude='./_build*' --exclude=./.git \
    --exclude='./debian/.debhelper' --exclude=./debian/build \
    --exclude=./debian/tmp --exclude='./debian/sentineld*/' \
    --exclude=./var -cf - . | tar -C "$TMP/src" -xf -
start=$(date +%s)
(cd "$TMP/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1
rc=$?
check "dpkg-buildpackage -us -uc -b builds ($(($(date +%s) - start)) s)" \
    test "$rc" -eq 0
[ "$rc" -eq 0 ] || { tail -30 "$TMP/build.log" | sed 's/^/# /'; exit 1; }
deb=$(ls "$TMP"/sentineld_*.deb)
dev=$(ls "$TMP"/sentineld-dev_*.deb)
check "it makes sentineld and sentineld-dev" test -f "$deb" -a -f "$dev"
diag "sentineld: $(stat -c %s "$deb") bytes, installed size \
$(dpkg-deb -f "$deb" Installed-Size) KiB; sentineld-dev: $(stat -c %s "$dev") bytes"
dpkg-deb -c "$deb" | awk '{print "#   " $6 ($7 ? " " $7 " " $8 : "")}'
dpkg-deb -c "$dev" | awk '{print "#   " $6}'
[ -n "${KEEP_DEBS:-}" ] && cp "$deb" "$dev" "$KEEP_DEBS"/

lintian --fail-on error,warning "$deb" "$dev" >"$TMP/lintian.log" 2>&1
rc=$?
sed 's/^/#   lintian: /' "$TMP/lintian.log"
check "lintian reports no error and no warning" test "$rc" -eq 0

apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$deb" "$dev" \
    >"$TMP/install.log" 2>&1
rc=$?
check "dpkg installs both packages" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { tail -20 "$TMP/install.log" | sed 's/^/# /'; exit 1; }
check "the package created its system user" \
    sh -c 'getent passwd sentineld | grep -q nologin'
check "the state directory belongs to it" \
    test "$(stat -c %U /var/lib/sentineld)" = sentineld
check "man sentineld finds sentineld(8)" \
    sh -c 'man -w sentineld | grep -q "/man8/sentineld.8"'
unit=/lib/systemd/system/sentineld.service
systemd-analyze verify "$unit" >"$TMP/verify.log" 2>&1
rc=$?
sed 's/^/#   verify: /' "$TMP/verify.log"
check "systemd-analyze verify accepts the unit" test "$rc" -eq 0
# Every conf/examples/*.yaml ships, and passes check with the package's
# paths once given its database, brokers and receivers.
ex=/usr/share/doc/sentineld/examples
bad=""
for f in "$SRCDIR"/conf/examples/*.yaml; do
    i="$ex/${f##*/}"
    [ -f "$i" ] || { bad="$bad ${f##*/}(missing)"; continue; }
    SENTINELD_PG_URL=postgresql://sentineld@db.example/sentineld \
        SENTINELD_KAFKA_BROKERS=kafka1.example:9092 \
        SENTINELD_ALERTMANAGER_URL=http://alertmanager.example:9093 \
        SENTINELD_WEBHOOK_URL=https://hooks.example/sentineld \
        SENTINELD_WEBHOOK_SECRET=example-secret \
        SLACK_WEBHOOK_URL=https://hooks.slack.example/T0/B0/x \
        /usr/bin/sentineld check -c "$i" >"$TMP/ex.log" 2>&1 ||
        { bad="$bad ${f##*/}"; sed 's/^/#   /' "$TMP/ex.log" | tail -5; }
done
check "every conf/examples/*.yaml is in $ex and passes check there${bad:+ (not:$bad)}" \
    test -z "$bad"
cp -r /usr/share/doc/sentineld-dev/examples "$TMP/example"
gunzip -f "$TMP"/example/*.gz 2>/dev/null
check "the example plugin builds against the installed header and .pc" \
    make -s -C "$TMP/example"

# The unit's ExecStart command line, run as its User= (no systemd here).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
set -- $exec_start
check "the unit starts $1 as $user with /etc/sentineld/sentineld.yaml" \
    test "$1" = /usr/bin/sentineld -a "$4" = /etc/sentineld/sentineld.yaml \
    -a "$user" = sentineld
bash "$SRCDIR/tests/install/first_run.sh" /usr/bin/sentineld "$4" "$user" \
    >"$TMP/first_run.tap" 2>&1
rc=$?
sed 's/^/#   /' "$TMP/first_run.tap"
check "installed package: check, run as $user, logger in, incident out" \
    test "$rc" -eq 0
purge
rc=$?
check "purge removes the packages" test "$rc" -eq 0
check "the system user stays, without a login (its uid is not reused)" \
    sh -c 'getent passwd sentineld | grep -q ":/usr/sbin/nologin$"'
check "the state is removed" test ! -e /var/lib/sentineld
check "nothing of it stays in /etc" test ! -e /etc/sentineld
tap_done
