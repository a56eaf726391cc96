#!/usr/bin/env bash
# Prepares what a GPU machine without Node.js needs to run Tandem's benchmarks (scripts/device-run.sh):
# .devrun/ (this machine's node binary, xz-compressed; the run-time packages webgpu (linux-x64 Dawn only)
# and @huggingface/tokenizers; stories260K as GGUF and its golden tokens) and .gl/ (the Vulkan/EGL loader
# debs, from Debian, when the GPU machine has no libvulkan). Builds dist/, dist-test/ and dist-bench/.
# Then carry these paths (all git-ignored): .devrun .gl dist dist-test dist-bench, and run
#   bash scripts/device-run.sh [--quick] [--part=1|--part=2]
# there. Idempotent: what exists is kept (delete .devrun to rebuild it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
node scripts/build.mjs --tests >/dev/null
mkdir -p .devrun
[ -f .devrun/node.xz ] || xz -c -T0 "$(command -v node)" > .devrun/node.xz
[ -f .devrun/nm.tar.xz ] || tar cJf .devrun/nm.tar.xz node_modules/webgpu/index.js node_modules/webgpu/package.json \
  node_modules/webgpu/dist/linux-x64 node_modules/@huggingface/tokenizers
if [ ! -f .devrun/stories260K-f32.gguf ]; then
  model=$(node dist/cli.js complete --model stories260K --prompt-tokens 1 --max-tokens 1 --json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).model')
  cp "$model" .devrun/stories260K-f32.gguf
fi
golden=../shared/models/stories260K/golden-greedy.json
[ -f .devrun/golden-greedy.json ] || { [ -f "$golden" ] && cp "$golden" .devrun/; } || true
if [ ! -d .gl ] || ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null) \
    || echo "device-pack: could not fetch the loader debs into .gl (needed only where the GPU machine lacks libvulkan)" >&2
fi
du -sh .devrun .gl dist dist-test dist-bench 2>/dev/null | sed 's/^/device-pack: /' >&2
echo "device-pack: carry .devrun .gl dist dist-test dist-bench; run: bash scripts/device-run.sh" >&2
