// Edit-replay benchmark driver (issue 4): runs `tandem bench edit-replay` on stories260K F32 (correctness:
// greedy completions with and without the cache must agree) and on a synthetic GGUF in Qwen2.5-Coder-0.5B's
// widths, Q8_0 (timing). Prints the JSON lines of the runs.
//
// Scaling for a software adapter: --layers (default 2 of the real 24), --prompt-tokens (default 1500) and
// --typed-chars (default 400). On a real GPU: --layers 24.
//
// --requests N replays the first N requests of each session (bounds a run: the no-cache mode prefills every
// prompt whole); --llamacpp-threads N (default cores - 1: llama.cpp's threads spin, and a busy machine
// collapses them); --kv-budget-mib M sizes the KV pool; --switch-every N interleaves the sessions (a file
// switch every N requests) and makes the llama.cpp baseline one slot for all files, as llama-server's;
// --no-cache-requests N runs the cache-disabled mode on the first N requests only (on a software adapter a
// 0.5B-width prompt of ~1,300 tokens takes ~20 s to prefill, and that mode prefills every prompt whole);
// --layouts: some of spm, psm (with the typed middle, as the extension sends it) and psm-whole (all of the
// prefix before the suffix); --draft self:q4_0 (or a GGUF) adds the draft model's prefix-cache figures,
// with --draft-requests N, --draft-length K and --draft-only (skip the no-cache, n-gram and llama.cpp modes).
//
//   node dist-bench/edit-replay.js [--layers N] [--prompt-tokens N] [--typed-chars N] [--requests N]
//     [--kv-budget-mib M] [--llamacpp-threads N] [--no-llamacpp] [--only stories|qwen]
//     [--switch-every N] [--no-cache-requests N] [--layouts L] [--draft D [--draft-requests N] [--draft-length K] [--draft-only]]

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQwen05bModel } from '../src/bench/benchModels';

const { values: v } = parseArgs({
  options: {
    layers: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'typed-chars': { type: 'string' }, 'no-llamacpp': { type: 'boolean' },
    only: { type: 'string' }, 'cache-dir': { type: 'string' }, requests: { type: 'string' }, 'kv-budget-mib': { type: 'string' },
    'llamacpp-threads': { type: 'string' }, 'switch-every': { type: 'string' }, 'no-cache-requests': { type: 'string' }, layouts: { type: 'string' },
    draft: { type: 'string' }, 'draft-requests': { type: 'string' }, 'draft-length': { type: 'string' }, 'draft-only': { type: 'boolean' },
  },
});
const root = resolve(__dirname, '..');
const layers = Number(v.layers ?? 2);
const cacheDir = v['cache-dir'] ?? join(root, '.cache', 'models');
mkdirSync(cacheDir, { recursive: true });

function run(args: string[]): void {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`tandem ${args.join(' ')} exited ${r.status}`);
  }
}

async function main(): Promise<void> {
  const passed = (['requests', 'kv-budget-mib', 'llamacpp-threads', 'switch-every', 'no-cache-requests', 'layouts', 'draft', 'draft-requests', 'draft-length'] as const).flatMap((k) => (v[k] === undefined ? [] : [`--${k}`, v[k]!]));
  const common = ['--typed-chars', v['typed-chars'] ?? '400', ...passed, ...(v['no-llamacpp'] ? ['--no-llamacpp'] : []), ...(v['draft-only'] ? ['--draft-only'] : [])];
  if (v.only !== 'qwen') run(['bench', 'edit-replay', '--model', 'stories260K', ...common]);
  if (v.only !== 'stories') {
    const path = await ensureQwen05bModel(cacheDir, layers);
    run(['bench', 'edit-replay', '--model', path, '--prompt-tokens', v['prompt-tokens'] ?? '1500', ...common]);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
