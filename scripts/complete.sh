#!/usr/bin/env bash
# Tandem's engine without an editor: set up (npm packages, a WebGPU adapter), build, fetch the default
# model (stories260K; from ../shared/models when present, else Hugging Face) and complete a prompt with it.
# Usage: npm run complete [-- <tandem complete options>]   e.g. npm run complete -- --prompt "Once upon a time" --json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
export TANDEM_CACHE_DIR="${TANDEM_CACHE_DIR:-$PWD/.cache}"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$PWD/.cache/mesa}"
if [ $# -eq 0 ]; then set -- --prompt "Once upon a time, there was a robot who" --max-tokens 120; fi
has_model=0; for a in "$@"; do [ "$a" = --model ] && has_model=1; done
[ $has_model = 1 ] || set -- --model stories260K "$@"
exec node dist/cli.js complete "$@"
