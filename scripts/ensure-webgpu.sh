#!/usr/bin/env bash
# Makes sure a WebGPU adapter exists. On a machine with no GPU driver, Dawn needs a Vulkan driver;
# Debian bookworm's Mesa 22.3 lavapipe is too old for Dawn, Mesa 25 from bookworm-backports works
# (see ../shared/ENVIRONMENT.md). Idempotent: does nothing when an adapter is already found.
set -euo pipefail
cd "$(dirname "$0")/.."

probe() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }

if probe; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || ! grep -q bookworm /etc/os-release 2>/dev/null; then
  echo "tandem: no WebGPU adapter found. Install a Vulkan driver (on Debian bookworm, as root:" >&2
  echo "  add bookworm-backports and run: apt-get install -t bookworm-backports mesa-vulkan-drivers)" >&2
  exit 3
fi

src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" >"$src"
fi
echo "tandem: installing Mesa lavapipe (software Vulkan) from bookworm-backports..." >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
probe || { echo "tandem: Mesa installed but still no WebGPU adapter" >&2; node scripts/probe-adapter.mjs; exit 3; }
