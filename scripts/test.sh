#!/usr/bin/env bash
# The whole test suite: installs what it needs (npm packages, a WebGPU adapter), type-checks, builds,
# then runs every test under node's test runner. Usage: npm test  (or: bash scripts/test.sh [filter])
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MESA_SHADER_CACHE_DIR="$PWD/.cache/mesa"
npx tsc -p tsconfig.json --noEmit
node scripts/build.mjs --tests
filter=${1:-}
mapfile -t files < <(find dist-test -name '*.test.js' | sort | grep -- "$filter")
# The real-editor tests (dist-test/extension) need code-server, Node 24 and chromium: installed once,
# idempotently, only when those tests are selected.
if printf '%s\n' "${files[@]}" | grep -q '^dist-test/extension/'; then
  ext_env=$(bash scripts/ext-setup.sh --env)
  eval "$ext_env"
fi
# The remote-backend tests (dist-test/remote) run a real llama-server: installed once, idempotently, by the
# project's own script (root, Debian); where it cannot be, the tests skip and say why.
if printf '%s\n' "${files[@]}" | grep -q '^dist-test/remote/'; then
  bash scripts/llama-server-setup.sh || echo "llama-server not installed (exit $?): the remote tests will skip"
fi
# One file at a time: the GPU tests share one software adapter on two cores.
node --enable-source-maps --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
