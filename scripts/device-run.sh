#!/usr/bin/env bash
# Runs on a GPU machine prepared by scripts/device-pack.sh (no Node.js needed there): checks the WebGPU
# adapter, the golden tokens and the kernel tests on the real GPU, then the full-size benchmarks as JSON
# lines: a dispatch's fixed cost, copy bandwidth, every decode matvec variant on the 0.5B shapes, 0.5B
# decode/prefill with 24 layers (each matvec variant), the cost of a verify pass of 1..17 positions (matrix
# vs split-K batch kernel; attention split as decode splits it, or not), the dispatch floor of the 24-layer pass, the 1.5B/0.5B speculative pair at full
# size, the edit replay at 24 layers, a cancel during a long prefill. Part 1 ends with the K-quant and IQ4
# matvecs, which a call cut at ten minutes may lose.
# Each step has a time limit; together the limits pass a ten-minute call, so the steps come in order of
# what matters most, and a call cut short keeps what it wrote to $OUT/device-run.jsonl (when $OUT is set).
# --part=1 runs the checks and the engine core's figures, --part=2 the rest (a call each, on one warm
# machine: the models part 1 synthesizes stay in .cache/device-models for part 2, which makes them if not).
# --quick runs the small sizes (to try the script on a software adapter).
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0; part=all
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --part=1|--part=2) part=${a#--part=} ;;
    *) echo "usage: device-run.sh [--quick] [--part=1|--part=2]" >&2; exit 2 ;;
  esac
done
log=${OUT:-/tmp}/device-run${part/all/}.jsonl; : > "$log"
say() { echo "== $*" | tee -a "$log" >&2; }
if ! ldconfig -p 2>/dev/null | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done; ldconfig
fi
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$nv" ] && export VK_DRIVER_FILES=$nv __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if ! command -v node >/dev/null; then
  xz -d -c .devrun/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
fi
[ -d node_modules/webgpu/dist ] || tar xJf .devrun/nm.tar.xz
export MESA_SHADER_CACHE_DIR=/tmp/mesa
node scripts/probe-adapter.mjs 2>&1 | tee -a "$log" || { say "no WebGPU adapter"; exit 3; }
# A step that fails or runs out of time says so (124: its limit), so a cut-short run is not read as complete.
status() { [ "$1" = 0 ] || say "exit $1$([ "$1" = 124 ] && echo ": timed out after $2 s")"; }
run() { local limit=$1; shift; say "$*"; timeout "$limit" "$@" 2>&1 | grep -v '^Warning' | tee -a "$log"; status "${PIPESTATUS[0]}" "$limit"; }
models=.cache/device-models; mkdir -p "$models"
if [ $quick = 1 ]; then layers=(--layers 2); L=2; limit=300; else layers=(--full); L=24; limit=200; fi
qwen05b=$models/bench-qwen05b-${L}L-q8_0.gguf
if [ "$part" != 2 ]; then
  say "golden: stories260K, 200 greedy tokens"
  timeout 60 node dist/cli.js complete --model .devrun/stories260K-f32.gguf --prompt-tokens 1 --max-tokens 200 --no-stop --json > /tmp/golden.out 2>/dev/null
  node -e 'const fs = require("fs"); const o = JSON.parse(fs.readFileSync("/tmp/golden.out", "utf8"));
    const g = fs.existsSync(".devrun/golden-greedy.json") ? JSON.parse(fs.readFileSync(".devrun/golden-greedy.json", "utf8")).greedy_tokens : undefined;
    let same = 0; while (g && same < g.length && o.tokens[same] === g[same]) same++;
    console.log(JSON.stringify({ name: "golden greedy tokens equal", value: g ? same : null, of: g ? g.length : null, unit: "tokens", adapter: o.adapter }));' 2>&1 | tee -a "$log"
  say "kernel tests"
  timeout 150 node --test --test-concurrency=1 --test-reporter=tap dist-test/kernels/ 2>&1 | grep -E '^# (tests|pass|fail|skipped)|^not ok' | tee -a "$log"
  status "${PIPESTATUS[0]}" 150
  # The fixed cost of a dispatch, host and GPU: what bounds a small model's decode when weights stream fast.
  run 60 node dist/cli.js bench dispatch
  if [ $quick = 1 ]; then
    run 300 node dist/cli.js bench matvec --matvec splitK,splitKi,splitKsg
    run 300 node dist-bench/engine.js "${layers[@]}" --no-baseline --tokens 8 --runs 1 --cache-dir "$models" --types q8_0 --matvec splitKi,splitKsg
  else
    run 120 node dist/cli.js bench matvec --matvec rows,splitK,splitKi,splitKsg
    run 200 node dist-bench/engine.js "${layers[@]}" --no-baseline --tokens 32 --runs 3 --cache-dir "$models" --types q8_0,q4_0,f16 --matvec splitKi,splitKsg
    # Last (the limits above fill the call): the types of K-quant and IQ4 files (the 256-weight ones on
    # Qwen2.5-1.5B's shapes).
    run 120 node dist/cli.js bench matvec --matvec splitKi --dtypes q4_k,q5_k,q6_k,q3_k,q2_k,iq4_xs,iq4_nl,q5_0
  fi
fi
if [ "$part" != 1 ]; then
  # Part 2 on a fresh machine: the Q8_0 model first (engine.js makes it, and times its decode once).
  [ -f "$qwen05b" ] || run "$limit" node dist-bench/engine.js "${layers[@]}" --no-baseline --tokens 8 --runs 1 --cache-dir "$models" --types q8_0
  # A verify pass of k+1 positions against one position: the matrix kernel (rows) and the split-K batch kernel,
  # each with attention split in passes of up to 32 tokens (verify rows exactly decode's) and in decode only (1).
  if [ $quick = 1 ]; then run 120 node dist/cli.js bench verify --model "$qwen05b" --matvec rows,splitKi --split-tokens 1,32 --runs 3
  else run 120 node dist/cli.js bench verify --model "$qwen05b" --matvec rows,splitKi --split-tokens 1,32 --runs 5; fi
  run 60 node dist/cli.js bench dispatch --model "$qwen05b"
  # Load time against a raw upload of the same bytes (what the repack adds) on a real GPU's writeBuffer, and
  # with the repack threads (8: MAX_THREADS, on 16 cores) against the repack on the loading thread; then a self-draft's load.
  run 60 node dist/cli.js bench load --model "$qwen05b" --runs 3
  run 90 node dist/cli.js bench load --model "$qwen05b" --runs 2 --requantize q4_0
  # How GPU waits poll (src/gpu/dawnTicks.ts): dawn's busy loop against 1 ms timers after 0/1/2/5 ms of
  # polling; the default (5) holds only if decode and prefill keep their speed here.
  run 90 node dist-bench/gpu-wait.js --model "$qwen05b" --tokens 64 --prompt 256 --runs 3 --spin-ms 0,1,2,5
  if [ $quick = 0 ]; then
    run 150 node dist-bench/speculative.js --scale 1 --cache-dir "$models"
    run 150 node dist-bench/edit-replay.js --only qwen --layers 24 --no-llamacpp --requests 40 --no-cache-requests 10 --layouts spm --cache-dir "$models"
    # Whether the 500 ms pass budget ever cuts a prefill pass on this GPU (passTokens < 128), what that costs,
    # and how soon a cancel during a 1,500-token prefill is answered.
    run 90 node dist-bench/prefill-cancel.js --layers 24 --prompt-tokens 1500 --abort-at 20,50,100 --rounds 3 --cache-dir "$models"
  fi
fi
say "done: $log"
