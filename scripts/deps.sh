#!/bin/sh
# Install the Debian 12 packages sentineld builds and tests with
# (idempotent; uses sudo when not root).
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential autoconf automake libtool pkg-config clang \
libclang-rt-14-dev libevent-dev libyaml-dev libjson-c-dev libssl-dev \
libpcre2-dev libsqlite3-dev librdkafka-dev libpq-dev \
libcurl4-openssl-dev prometheus-alertmanager \
python3 curl rsyslog rsyslog-openssl rsyslog-relp bsdutils openssl kcat postgresql sec \
chromium nodejs sqlite3 \
debhelper dpkg-dev fakeroot lintian systemd adduser util-linux"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # A Debian installed with a root password has no sudo.
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
        echo "deps.sh: missing packages:$missing" >&2
        echo "deps.sh: no sudo here; run it as root: su -c ./scripts/deps.sh" >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
