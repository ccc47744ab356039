#!/bin/bash
# tests/install-deps.sh - install (as root, with apt-get) everything the build
# and the whole test suite need on Debian 12: compilers and autotools, the
# libraries of the modules, the reference pmacct 1.7.7 for differential
# tests, and the peers and tools the tests start.  README's test command and
# .ci/run both run this first.
set -eu
export DEBIAN_FRONTEND=noninteractive

# tshark asks whether non-root users may capture: answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

# Each component lists its packages in tests/deps/<component>.txt.
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(sed -e 's/#.*//' "$here"/deps/*.txt | tr -s ' \t\n' ' ')

# Servers installed for the tests (PostgreSQL, MariaDB, RabbitMQ, nginx,
# sshd, ...) are started by the tests themselves on high ports in temp dirs:
# keep their packages from starting system services while installing.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    $pkgs </dev/null

# The reference daemons are never run as services here.
systemctl disable --now pmacctd nfacctd sfacctd uacctd 2>/dev/null || true
pmacctd -V 2>&1 | head -n 1
