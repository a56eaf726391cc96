#!/usr/bin/env bash
# Installs a real llama.cpp `llama-server` for the remote-backend tests: Debian forky's llama.cpp-tools
# (CPU backends) in a chroot under .cache/llama-server/rootfs, without touching the host's packages (only
# `debootstrap` is installed on the host). Idempotent: a second run only prints the version (~0.1 s).
# Needs root (debootstrap, chroot) on Debian; elsewhere it exits 2 with the reason, and the tests skip.
# usage: scripts/llama-server-setup.sh [ROOTFS_DIR]          (~45 s the first time, ~180 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTFS=${1:-$PWD/.cache/llama-server/rootfs}
ready() { [ -x "$ROOTFS/usr/bin/llama-server" ] && [ -f "$ROOTFS/.tandem-ready" ]; }
version() { chroot "$ROOTFS" /usr/bin/llama-server --version 2>&1 | head -1; }
if ready; then version; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "llama-server-setup: needs root (debootstrap and chroot)" >&2; exit 2; }
# One install at a time (test files and colleagues' runs may call this together); the others wait, then find it done.
mkdir -p "$(dirname "$ROOTFS")"
exec 9>"$ROOTFS.lock"
flock 9
if ready; then version; exit 0; fi
[ -f /etc/debian_version ] && [ -f /etc/apt/sources.list.d/debian.sources ] || { echo "llama-server-setup: needs a Debian host" >&2; exit 2; }
MIRROR=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)   # the host's own Debian mirror
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
# A half-built chroot from an interrupted run is rebuilt from scratch (debootstrap refuses to resume).
rm -rf "$ROOTFS.tmp"
# bookworm's debootstrap has no "forky" script; sid's works (release signatures are still checked)
debootstrap --variant=minbase forky "$ROOTFS.tmp" "$MIRROR" /usr/share/debootstrap/scripts/sid >/dev/null
# the mirror serves a frozen snapshot whose Release file may be past its Valid-Until date: accept that, inside the chroot only
echo 'Acquire::Check-Valid-Until "false";' > "$ROOTFS.tmp/etc/apt/apt.conf.d/99snapshot-no-valid-until"
chroot "$ROOTFS.tmp" apt-get update -qq
chroot "$ROOTFS.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends llama.cpp-tools >/dev/null
chroot "$ROOTFS.tmp" apt-get clean
touch "$ROOTFS.tmp/.tandem-ready"
rm -rf "$ROOTFS" && mv "$ROOTFS.tmp" "$ROOTFS"
version
