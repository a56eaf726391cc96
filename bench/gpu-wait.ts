// How the engine waits for the GPU (src/gpu/dawnTicks.ts): dawn.node's own busy loop (a tick every turn of
// the event loop for as long as the GPU works) against Tandem's policy (busy for `spinMs` after progress,
// then a tick per 1 ms timer), in one process on one loaded model, alternating, so drift on a shared
// machine hits both alike. For each: greedy decode tok/s and prefill tok/s (the engine's own generate()),
// the process's CPU time per generated token, GC pauses, and dawn's ticks. On a software adapter the
// polling core is one its own threads lack, so speed changes there; on a GPU expect CPU time and GC to
// drop and speed to hold (the figure to check there).
//
//   node dist-bench/gpu-wait.js [--model m.gguf] [--layers 2] [--tokens 16] [--prompt 64] [--runs 3] [--spin-ms 2]
//
// Default model: the 0.5B-width Q8_0 benchmark model (bench/engine.ts's), 2 of its 24 layers.

import { PerformanceObserver } from 'node:perf_hooks';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQwen05bModel } from '../src/bench/benchModels';
import { median } from '../src/bench/stats';
import { emit } from '../src/cli/figure';
import { generate } from '../src/engine/generate';
import { Rng } from '../src/engine/sampler';
import { Gpu } from '../src/gpu/device';
import { setSpinMs, tickCounts, DEFAULT_SPIN_MS } from '../src/gpu/dawnTicks';
import { BlockPool } from '../src/kvcache/blockPool';
import { Sequence } from '../src/kvcache/sequence';
import { loadModel } from '../src/model/load';

const { values: v } = parseArgs({ options: {
  model: { type: 'string' }, layers: { type: 'string' }, tokens: { type: 'string' }, prompt: { type: 'string' }, runs: { type: 'string' }, 'spin-ms': { type: 'string' },
} });

interface Sample { decodeTokPerS: number; prefillTokPerS: number; cpuMsPerToken: number; eventLoopBusy: number; gcMs: number; gcs: number; immediateTicks: number; timedTicks: number }

async function main(): Promise<void> {
  const cache = join(process.cwd(), '.cache', 'models');
  mkdirSync(cache, { recursive: true });
  const modelPath = v.model ?? await ensureQwen05bModel(cache, Number(v.layers ?? 2), 'q8_0');
  const tokens = Number(v.tokens ?? 16);
  const promptTokens = Number(v.prompt ?? 64);
  const runs = Number(v.runs ?? 3);
  const spins = (v['spin-ms'] ?? String(DEFAULT_SPIN_MS)).split(',').map(Number);
  const gpu = await Gpu.acquire();
  const { model } = await loadModel(gpu, modelPath, { maxContextTokens: promptTokens + tokens + 16 });
  let gcMs = 0;
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { gcMs += e.duration; gcs++; }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const rng = new Rng(7);
    const prompt = Array.from({ length: promptTokens }, () => 3 + Math.floor(rng.next() * (model.config.vocabSize - 3)));
    const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
    const modes = [{ name: "dawn's busy loop", spinMs: Infinity }, ...spins.map((spinMs) => ({ name: `busy ${spinMs} ms after progress, then 1 ms timers`, spinMs }))];
    const samples: Sample[][] = modes.map(() => []);
    // Run 0 warms the pipelines up and is not kept.
    for (let r = 0; r <= runs; r++) {
      for (const [i, mode] of modes.entries()) {
        setSpinMs(mode.spinMs);
        const seq = new Sequence(pool);
        const cpu0 = process.cpuUsage();
        const ticks0 = tickCounts();
        const gc0 = { gcMs, gcs };
        const elu0 = performance.eventLoopUtilization();
        const g = await generate(model, seq, prompt, { maxTokens: tokens + 1 });
        const cpu = process.cpuUsage(cpu0);
        const elu = performance.eventLoopUtilization(elu0);
        const ticks = tickCounts();
        seq.clear();
        if (r === 0) continue;
        samples[i].push({
          decodeTokPerS: (g.decodePasses / g.decodeMs) * 1000,
          prefillTokPerS: (promptTokens / g.prefillMs) * 1000,
          cpuMsPerToken: (cpu.user + cpu.system) / 1000 / (tokens + 1),
          eventLoopBusy: elu.utilization,
          gcMs: gcMs - gc0.gcMs,
          gcs: gcs - gc0.gcs,
          immediateTicks: ticks.immediate - ticks0.immediate,
          timedTicks: ticks.timed - ticks0.timed,
        });
      }
    }
    setSpinMs(DEFAULT_SPIN_MS);
    const m = samples.map((s) => Object.fromEntries((Object.keys(s[0]) as (keyof Sample)[]).map((k) => [k, median(s.map((x) => x[k]))])) as unknown as Sample);
    const common = { model: modelPath, tokens, promptTokens, runs, adapter: gpu.adapter.description };
    const base = m[0];
    for (const [i, policy] of m.entries()) {
      if (i === 0) continue;
      const at = { policy: modes[i].name, vs: modes[0].name };
      emit({ name: 'decode tok/s, GPU waits as Tandem polls', value: policy.decodeTokPerS, unit: 'tok/s', ratio: policy.decodeTokPerS / base.decodeTokPerS, baseline: base.decodeTokPerS, ...at, ...common });
      emit({ name: 'prefill tok/s, GPU waits as Tandem polls', value: policy.prefillTokPerS, unit: 'tok/s', ratio: policy.prefillTokPerS / base.prefillTokPerS, baseline: base.prefillTokPerS, ...at });
      emit({ name: 'event loop busy share during a request', value: policy.eventLoopBusy, unit: 'fraction', baseline: base.eventLoopBusy, ...at });
      emit({ name: 'process CPU time per generated token (all threads, the adapter\'s too)', value: policy.cpuMsPerToken, unit: 'ms', ratio: policy.cpuMsPerToken / base.cpuMsPerToken, baseline: base.cpuMsPerToken, ...at });
      emit({ name: 'GC pause time per request', value: policy.gcMs, unit: 'ms', baseline: base.gcMs, gcs: policy.gcs, baselineGcs: base.gcs, ...at });
      emit({ name: "dawn's ticks per request", value: policy.immediateTicks + policy.timedTicks, unit: 'ticks', baseline: base.immediateTicks + base.timedTicks, timed: policy.timedTicks, ...at });
    }
  } finally {
    observer.disconnect();
    model.dispose();
    gpu.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
