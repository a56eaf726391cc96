#!/usr/bin/env bash
# One-time set-up, safe to rerun: npm packages, a WebGPU adapter, the test-model cache.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-webgpu.sh
