// Engine benchmark driver (issue: engine core). Synthesizes GGUFs in Qwen2.5-Coder-0.5B's exact widths
// (d 896, ffn 4864, 14 heads / 2 KV heads of 64, vocab 151,936, tied embedding) in F16, Q8_0 and Q4_0,
// then runs `tandem bench decode` and `tandem bench prefill` on each with llama.cpp on the same file as
// the baseline, plus per-kernel GPU timestamps. Prints the JSON lines of the runs.
//
// Scaling for a software adapter: --layers (default 2 of the real 24) and --context (default 512).
// The full-size run for a real GPU is one flag away: --full (24 layers).
// --shape qwen3-0.6b: Qwen3-0.6B's widths instead (d 1024, ffn 3072, 16 heads / 8 KV heads of 128, per-head
// q/k norms, vocab 151,936, tied; --full is its 28 layers); --shape starcoder2-3b: StarCoder2-3B's (d 3072,
// GELU ffn 12288, 24 heads / 2 KV heads of 128, LayerNorms, biases, vocab 49,152; 30 layers); --shape
// starcoderbase-1b: StarCoderBase-1B's (d 2048, GELU ffn 8192, 16 heads / 1 KV head of 128, fused qkv,
// learned positions, vocab 49,152, tied; 24 layers); --shape refact-1.6b: Refact-1.6B's (d 2048, ffn 5632,
// 32 heads / 1 KV head of 64, ALiBi, vocab 49,216; 32 layers); --shape codegemma-2b: CodeGemma-2B's (d 2048, GeGLU ffn 16384, 8 heads / 1 KV head of 256, vocab 256,000, tied;
// 18 layers); --shape qwen3-coder-30b-a3b: Qwen3-Coder-30B-A3B's (d 2048, 32 heads / 4 KV heads of 128,
// 128 experts of ffn 768 per layer, 8 a token, vocab 151,936; 48 layers). See src/bench/benchModels.ts.
//
//   node dist-bench/engine.js [--full] [--shape qwen2.5-0.5b|qwen3-0.6b|starcoder2-3b|starcoderbase-1b|refact-1.6b|codegemma-2b|qwen3-coder-30b-a3b] [--layers N] [--context N] [--tokens N]
//                             [--types f16,q8_0,q4_0] [--no-baseline]
//                             [--matvec rows,splitK] (several: one decode run per variant, for comparison)
//
// --dispatch-bound: decode only, on a model with the real 24 layers (so the real dispatches per pass) but
// widths cut to d 128, ffn 256, vocab 4096, so that a software adapter's pass is as short against the host's
// encoding as a GPU's 0.5B pass is: a stand-in for measuring pipelined greedy decoding (--pipeline-depth
// 1,2,3) without a GPU. Its tok/s say nothing about a GPU's.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { synthesizeModel, type SyntheticSpec } from '../src/tools/synthesize';
import { BENCH_SHAPES, ensureBenchModel, qwen05bSpec, REAL_LAYERS, type BenchShape } from '../src/bench/benchModels';
import type { WeightTypeName } from '../src/loaders/llama2c';

const { values: v } = parseArgs({
  options: {
    full: { type: 'boolean' }, shape: { type: 'string' }, 'dispatch-bound': { type: 'boolean' }, layers: { type: 'string' }, context: { type: 'string' }, tokens: { type: 'string' },
    types: { type: 'string' }, 'no-baseline': { type: 'boolean' }, matvec: { type: 'string' }, runs: { type: 'string' }, 'cache-dir': { type: 'string' },
  },
});
const root = resolve(__dirname, '..');
const shape = (v.shape ?? 'qwen2.5-0.5b') as BenchShape;
if (!BENCH_SHAPES.includes(shape)) throw new Error(`--shape ${shape} (one of ${BENCH_SHAPES.join(', ')})`);
const layers = v.full ? REAL_LAYERS[shape] : Number(v.layers ?? 2);
const context = String(v.context ?? 512);
const tokens = String(v.tokens ?? 16);
const runs = String(v.runs ?? 3);
const types = (v.types ?? 'f16,q8_0,q4_0').split(',') as WeightTypeName[];
const cacheDir = v['cache-dir'] ?? join(root, '.cache', 'models');
mkdirSync(cacheDir, { recursive: true });

function run(args: string[]): void {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`tandem ${args.join(' ')} exited ${r.status}`);
  }
}

async function dispatchBound(): Promise<void> {
  const spec: SyntheticSpec = { ...qwen05bSpec(layers, 'q8_0'), nLayers: 24, dModel: 128, nHeads: 2, nKvHeads: 2, ffnDim: 256, vocabSize: 4096 };
  process.stdout.write(JSON.stringify({ name: 'bench config', layers: 24, dModel: 128, ffnDim: 256, vocabSize: 4096, context: Number(context), decodeTokens: Number(tokens), runs: Number(runs), shape: 'dispatch-bound stand-in: 24 layers, widths cut' }) + '\n');
  const path = join(cacheDir, 'bench-dispatch-bound-24L-d128-q8_0.gguf');
  if (!existsSync(path)) await synthesizeModel(path, spec);
  run(['bench', 'decode', '--model', path, '--context', context, '--tokens', tokens, '--runs', runs, '--pipeline-depth', '1,2,3']);
}

async function main(): Promise<void> {
  if (v['dispatch-bound']) return dispatchBound();
  const shapeName = { 'qwen2.5-0.5b': 'Qwen2.5-Coder-0.5B widths', 'qwen3-0.6b': 'Qwen3-0.6B widths', 'starcoder2-3b': 'StarCoder2-3B widths', 'starcoderbase-1b': 'StarCoderBase-1B widths', 'refact-1.6b': 'Refact-1.6B widths', 'codegemma-2b': 'CodeGemma-2B widths', 'qwen3-coder-30b-a3b': 'Qwen3-Coder-30B-A3B widths' }[shape];
  process.stdout.write(JSON.stringify({ name: 'bench config', layers, realLayers: REAL_LAYERS[shape], context: Number(context), decodeTokens: Number(tokens), runs: Number(runs), shape: shapeName }) + '\n');
  for (const type of types) {
    const path = await ensureBenchModel(cacheDir, shape, layers, type);
    const baseline = v['no-baseline'] ? [] : ['--baseline', 'llamacpp'];
    const matvecs = v.matvec ? v.matvec.split(',').flatMap((m) => ['--matvec', m]) : [];
    if (matvecs.length > 2) {
      // Several decode variants: one run each (the same file, the same process order).
      for (let i = 0; i < matvecs.length; i += 2) run(['bench', 'decode', '--model', path, '--context', context, '--tokens', tokens, '--runs', runs, '--profile', '--pipeline-depth', '1,2,3', ...matvecs.slice(i, i + 2)]);
    } else {
      run(['bench', 'decode', '--model', path, '--context', context, '--tokens', tokens, '--runs', runs, '--profile', '--pipeline-depth', '1,2,3', ...baseline, ...matvecs]);
    }
    run(['bench', 'prefill', '--model', path, '--context', context, '--runs', runs, '--profile', ...baseline]);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
