// What a cancel during a long prefill costs, and what keeping it short costs in prefill speed, measured in
// one process on three loads of the same model, alternated round by round:
//   - "unbounded": every batch queued at once (prefillPassesInFlight 1000), no pass budget: the engine
//     before passes were bounded;
//   - "2 in flight": at most two passes queued (the default), no pass budget;
//   - "default": two in flight and the 500 ms pass budget (PassPacer).
// Per variant: prefill tok/s of a --prompt-tokens prompt (median over rounds, ratio to unbounded), its
// passes (one submit each) and how often the pass size changed within a prefill (PassPacer's steadiness), and the
// cancel latency: a prefill aborted --abort-at ms in (one value a round, cycling), timed from the abort to
// prefill's return (the engine answers the cancel then; the GPU may still run one queued pass, which the
// next request's first pass waits behind).
//
// Model: Qwen2.5-Coder-0.5B widths (d 896, ffn 4864, 14 heads / 2 KV heads of 64, vocab 151,936), Q8_0,
// scaled for a software adapter to --layers (default 1 of the real 24: a 128-token pass takes ~1 s on
// lavapipe). On a GPU: --layers 24 --prompt-tokens 1500 --abort-at 20,50,100.
//
//   node dist-bench/prefill-cancel.js [--layers N] [--prompt-tokens N] [--rounds N] [--abort-at ms,ms,...]

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQwen05bModel } from '../src/bench/benchModels';
import { Gpu } from '../src/gpu/device';
import { loadModel, type LoadOptions } from '../src/model/load';
import type { LlamaModel } from '../src/model/llama';
import { BlockPool } from '../src/kvcache/blockPool';
import { Sequence } from '../src/kvcache/sequence';
import { prefill } from '../src/engine/generate';
import { median } from '../src/bench/stats';

const { values: v } = parseArgs({
  options: {
    layers: { type: 'string' }, 'prompt-tokens': { type: 'string' }, rounds: { type: 'string' }, 'abort-at': { type: 'string' }, 'cache-dir': { type: 'string' },
  },
});
const root = resolve(__dirname, '..');
const layers = Number(v.layers ?? 1);
const promptTokens = Number(v['prompt-tokens'] ?? 500);
const rounds = Number(v.rounds ?? 5);
const abortAt = (v['abort-at'] ?? '300,500,700,900,1100').split(',').map(Number);
const cacheDir = v['cache-dir'] ?? join(root, '.cache', 'models');
mkdirSync(cacheDir, { recursive: true });

const VARIANTS: { name: string; options: Partial<LoadOptions> }[] = [
  { name: 'unbounded', options: { prefillPassesInFlight: 1000, prefillPassBudgetMs: 0 } },
  { name: '2 in flight', options: { prefillPassBudgetMs: 0 } },
  { name: 'default', options: {} },
];

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const emit = (line: Record<string, unknown>) => process.stdout.write(JSON.stringify(line) + '\n');

/** Deterministic prompt ids (the content only has to be valid ids). */
const prompt = Array.from({ length: promptTokens }, (_, i) => 3 + ((i * 7919) % 150_000));

/** One timed prefill: tok/s, and the pass size in force at each of its submits (one submit a pass). */
async function timedPrefill(model: LlamaModel): Promise<{ tokPerS: number; passSizes: number[] }> {
  const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
  const queue = model.gpu.device.queue;
  const submit = queue.submit;
  const passSizes: number[] = [];
  queue.submit = (buffers) => { passSizes.push(model.prefillPassTokens); submit.call(queue, buffers); };
  try {
    const t0 = performance.now();
    await prefill(model, seq, prompt, false);
    const ms = performance.now() - t0;
    return { tokPerS: (promptTokens / ms) * 1000, passSizes };
  } finally {
    delete (queue as { submit?: unknown }).submit;
    seq.clear();
  }
}

/** Times the pass size changed from one pass to the next. */
const sizeChanges = (sizes: number[]) => sizes.filter((x, i) => i > 0 && x !== sizes[i - 1]).length;

/** ms from the abort to prefill's return; NaN if the prefill ended before the abort. */
async function cancelLatencyMs(model: LlamaModel, afterMs: number): Promise<number> {
  const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
  const ac = new AbortController();
  let abortedAt: number | undefined;
  const timer = setTimeout(() => { abortedAt = performance.now(); ac.abort(); }, afterMs);
  try {
    await prefill(model, seq, prompt, false, ac.signal);
  } catch {
    // CancelledError: what is measured.
  }
  clearTimeout(timer);
  const ms = abortedAt === undefined ? NaN : performance.now() - abortedAt;
  // Passes still queued finish before the sequence's blocks go back (and before the next variant runs).
  await model.gpu.device.queue.onSubmittedWorkDone();
  seq.clear();
  return ms;
}

async function main(): Promise<void> {
  const path = await ensureQwen05bModel(cacheDir, layers);
  const gpu = await Gpu.acquire();
  const adapter = gpu.adapter.description;
  emit({ name: 'bench config', layers, realLayers: 24, promptTokens, rounds, abortAtMs: abortAt, weights: 'q8_0', shape: 'Qwen2.5-Coder-0.5B widths', adapter });
  const models: LlamaModel[] = [];
  try {
    for (const variant of VARIANTS) {
      models.push((await loadModel(gpu, path, { maxContextTokens: promptTokens + 16, ...variant.options })).model);
    }
    // Compiles the pipelines and lets the pacer measure a pass.
    for (const m of models) await timedPrefill(m);
    const tokPerS: number[][] = models.map(() => []);
    const passes: number[][] = models.map(() => []);
    const changes: number[][] = models.map(() => []);
    const latencyMs: number[][] = models.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, m] of models.entries()) {
        const t = await timedPrefill(m);
        tokPerS[i].push(t.tokPerS);
        passes[i].push(t.passSizes.length);
        changes[i].push(sizeChanges(t.passSizes));
      }
      for (const [i, m] of models.entries()) latencyMs[i].push(await cancelLatencyMs(m, abortAt[r % abortAt.length]));
    }
    const base = { tokPerS: median(tokPerS[0]), latencyMs: median(latencyMs[0].filter((x) => !Number.isNaN(x))) };
    for (const [i, variant] of VARIANTS.entries()) {
      const speed = median(tokPerS[i]);
      const latencies = latencyMs[i].filter((x) => !Number.isNaN(x));
      const latency = median(latencies);
      emit({ name: 'prefill tok/s', variant: variant.name, value: round3(speed), unit: 'tok/s', vs: 'unbounded', ratio: round3(speed / base.tokPerS), passTokens: models[i].prefillPassTokens, promptTokens, rounds, adapter });
      emit({ name: 'passes per prefill, median', variant: variant.name, value: median(passes[i]), unit: 'passes', sizeChangesMedian: median(changes[i]), sizeChangesMax: Math.max(...changes[i]), promptTokens, rounds, adapter });
      emit({ name: 'cancel latency of a prefill', variant: variant.name, value: round3(latency), unit: 'ms', vs: 'unbounded', ratio: round3(latency / base.latencyMs), maxMs: round3(Math.max(...latencies)), cancels: latencies.length, promptTokens, rounds, adapter });
    }
  } finally {
    for (const m of models) m.dispose();
    gpu.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
