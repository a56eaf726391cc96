// f16 vs f32 KV cache, measured in one run: `tandem bench decode --profile` on the same synthetic GGUF with
// --kv-type f32 and --kv-type f16, alternated (f32, f16, f32, f16, ... `--rounds` times each) so drift in
// a shared machine's speed hits both alike. Prints the decode JSON lines of every run, then per context one
// line per figure with the median over rounds of the f16/f32 ratio within a round (a round's two runs are
// back to back, so load from other work on the machine cancels out better than in a ratio of medians,
// and the per-round ratios are printed): decode tok/s, and the attention kernels' GPU time
// per decode step (timestamps; it reads K and V of every cached position, so it is what the f16 cache
// halves the bytes of). Before those, in this process: the attention kernels alone (one layer's rope +
// store + attention for one token over `context` cached keys, 50 dispatches a submit, 5 rounds alternated;
// src/bench/attentionKv.ts), a steadier figure than one profiled forward pass.
//
// Model: Qwen2.5-Coder-0.5B widths (d 896, ffn 4864, 14 heads / 2 KV heads of 64, vocab 151,936), Q8_0,
// scaled for a software adapter to --layers (default 2 of the real 24); --context (default 512; several:
// 512,2048).
//
//   node dist-bench/kv-type.js [--layers N] [--context 512,2048] [--tokens N] [--runs N] [--rounds N] [--kernels-only]

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQwen05bModel } from '../src/bench/benchModels';
import { Gpu } from '../src/gpu/device';
import { benchAttentionKv } from '../src/bench/attentionKv';
import { median } from '../src/bench/stats';

const { values: v } = parseArgs({
  options: {
    layers: { type: 'string' }, context: { type: 'string' }, tokens: { type: 'string' }, runs: { type: 'string' },
    rounds: { type: 'string' }, 'cache-dir': { type: 'string' }, 'kernels-only': { type: 'boolean' },
  },
});
const root = resolve(__dirname, '..');
const layers = Number(v.layers ?? 2);
const contexts = (v.context ?? '512').split(',').map(Number);
const tokens = String(v.tokens ?? 16);
const runs = String(v.runs ?? 3);
const rounds = Number(v.rounds ?? 2);
const cacheDir = v['cache-dir'] ?? join(root, '.cache', 'models');
mkdirSync(cacheDir, { recursive: true });

interface Line { name: string; value: number; [k: string]: unknown }

/** The JSON lines of one `tandem bench decode --profile` run (echoed to stdout as they are). */
function benchDecode(path: string, context: number, kvType: string): Line[] {
  const args = ['bench', 'decode', '--model', path, '--context', String(context), '--tokens', tokens, '--runs', runs, '--profile', '--kv-type', kvType];
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`tandem ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  for (const l of lines) if (l.name === 'decode tok/s' || l.name === 'kernel time attention') process.stdout.write(JSON.stringify(l) + '\n');
  return lines;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const path = await ensureQwen05bModel(cacheDir, layers);
  process.stdout.write(JSON.stringify({ name: 'bench config', layers, realLayers: 24, contexts, decodeTokens: Number(tokens), runsPerProcess: Number(runs), rounds, weights: 'q8_0', shape: 'Qwen2.5-Coder-0.5B widths' }) + '\n');
  const gpu = await Gpu.acquire();
  try {
    for (const context of contexts) {
      const [f32, f16] = await benchAttentionKv(gpu, context, ['f32', 'f16']);
      process.stdout.write(JSON.stringify({ name: 'decode attention step (kernels alone), f16 KV', value: round3(f16.usPerStep), unit: 'us', vs: 'the same, f32 KV', baseline: round3(f32.usPerStep),
        ratio: round3(f16.usPerStep / f32.usPerStep), kvBytesRead: f16.kvBytesRead, kvBytesReadF32: f32.kvBytesRead, context, adapter: gpu.adapter.description,
        note: 'one layer of Qwen2.5-Coder-0.5B attention (14/2 heads x 64), rope + K/V store + attention for one token' }) + '\n');
    }
  } finally {
    gpu.dispose();
  }
  if (v['kernels-only']) return;
  for (const context of contexts) {
    const got: Record<string, { tokPerS: number[]; attentionMs: number[]; adapter?: unknown }> = { f32: { tokPerS: [], attentionMs: [] }, f16: { tokPerS: [], attentionMs: [] } };
    for (let i = 0; i < rounds; i++) {
      for (const kvType of ['f32', 'f16']) {
        const lines = benchDecode(path, context, kvType);
        const tok = lines.find((l) => l.name === 'decode tok/s');
        const attn = lines.find((l) => l.name === 'kernel time attention');
        if (!tok || !attn) throw new Error(`bench decode --kv-type ${kvType} printed no tok/s or attention time`);
        if (tok.kvType !== kvType) throw new Error(`asked for --kv-type ${kvType}, the run used ${String(tok.kvType)}`);
        got[kvType].tokPerS.push(tok.value);
        got[kvType].attentionMs.push(attn.value);
        got[kvType].adapter = tok.adapter;
      }
    }
    const common = { context, layers, adapter: got.f16.adapter, rounds };
    const ratios = (f: 'tokPerS' | 'attentionMs') => got.f16[f].map((x, i) => x / got.f32[f][i]);
    const out = (l: Record<string, unknown>) => process.stdout.write(JSON.stringify(l) + '\n');
    out({ name: 'decode tok/s, f16 KV', value: round3(median(got.f16.tokPerS)), unit: 'tok/s', vs: 'decode tok/s, f32 KV', baseline: round3(median(got.f32.tokPerS)),
      ratio: round3(median(ratios('tokPerS'))), roundRatios: ratios('tokPerS').map(round3), ...common });
    out({ name: 'attention time per decode step, f16 KV', value: round3(median(got.f16.attentionMs)), unit: 'ms', vs: 'the same, f32 KV', baseline: round3(median(got.f32.attentionMs)),
      ratio: round3(median(ratios('attentionMs'))), roundRatios: ratios('attentionMs').map(round3),
      note: `all ${layers} layers' attention (rope + store + attention) per token, GPU timestamps`, ...common });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
