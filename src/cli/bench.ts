// `tandem bench decode|prefill|bandwidth|matvec|verify|dispatch|load`: JSON lines, one per figure, every timing next to a baseline
// measured in the same run (the device's copy bandwidth; llama.cpp on the same GGUF with --baseline).

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { GpuProfiler, type KernelTiming } from '../gpu/profiler';
import { loadModel } from '../model/load';
import { MAX_PIPELINE_DEPTH, type LlamaModel } from '../model/llama';
import type { Linear } from '../model/weights';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { generate, prefill } from '../engine/generate';
import { Rng } from '../engine/sampler';
import { measureBandwidth, type BandwidthResult } from '../bench/bandwidth';
import { benchMatvec, matvecShapesOf } from '../bench/matvec';
import { EXPERT_ORDERS, type ExpertOrder } from '../ops/experts';
import { GPU_LAYOUT, type WeightDtype } from '../loaders/repack';
import { openLlamaCppTimer } from '../bench/llamacppBaseline';
import { MATVEC_KINDS, type MatvecKind } from '../ops/matmul';
import { kvTypeOf } from './kvTypeFlag';
import { measureVerifyCost } from '../bench/verify';
import { SPLIT_ATTENTION_MAX_TOKENS } from '../ops/attention';
import { encodedDispatches } from '../ops/context';
import { benchDispatch } from './benchDispatch';
import { benchLoad } from './benchLoad';
import { emit, type Figure } from './figure';
import { median } from '../bench/stats';

/** `--matvec a,b,...`: the decode variants to run, each checked; `fallback` when the flag is absent. */
function matvecKindsOf(flag: string | undefined, fallback: MatvecKind[]): MatvecKind[] {
  const kinds = (flag ? flag.split(',') : fallback) as MatvecKind[];
  const bad = kinds.find((k) => !MATVEC_KINDS.includes(k));
  if (bad) throw new UsageError(`--matvec: ${MATVEC_KINDS.join('|')} (comma-separated), got "${bad}"`);
  return kinds;
}

/** `--dtypes a,b,...`: weight dtypes the kernels run, each checked ('all': every one). */
function dtypesOf(flag: string | undefined, fallback: WeightDtype[]): WeightDtype[] {
  const all = Object.keys(GPU_LAYOUT) as WeightDtype[];
  const dtypes = flag === 'all' ? all : ((flag ? flag.split(',') : fallback) as WeightDtype[]);
  const bad = dtypes.find((d) => !all.includes(d));
  if (bad !== undefined) throw new UsageError(`--dtypes: ${all.join('|')} or all (comma-separated), got "${bad}"`);
  return dtypes;
}

/** `--<name> a,b,...`: decimal integers in 1..max, each checked; `what` says what they count in the error. */
function integersOf(flag: string, name: string, what: string, max: number): number[] {
  const parts = flag.split(',');
  const bad = parts.find((d) => !(/^\d+$/.test(d) && Number(d) >= 1 && Number(d) <= max));
  if (bad !== undefined) throw new UsageError(`--${name}: ${what}, 1..${max} (comma-separated), got "${bad}"`);
  return parts.map(Number);
}

/** --pipeline-depth a,b,...: greedy decode passes in flight (1..MAX_PIPELINE_DEPTH); default the model's. */
function pipelineDepthsOf(flag: string | undefined, modelDefault: number): number[] {
  return flag === undefined ? [modelDefault] : integersOf(flag, 'pipeline-depth', 'passes in flight', MAX_PIPELINE_DEPTH);
}

/** --split-tokens a,b: each a count of 1..SPLIT_ATTENTION_MAX_TOKENS; unset: [undefined] (the default). */
function splitTokensOf(flag: string | undefined): (number | undefined)[] {
  return flag === undefined ? [undefined] : integersOf(flag, 'split-tokens', 'token counts', SPLIT_ATTENTION_MAX_TOKENS);
}

/** Deterministic prompt ids (benchmarks measure speed; the content only has to be valid ids). */
function benchPrompt(vocab: number, n: number, seed = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(rng.next() * (vocab - 3)));
}

export async function benchCommand(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' }, context: { type: 'string' }, tokens: { type: 'string' }, runs: { type: 'string' },
      baseline: { type: 'string' }, profile: { type: 'boolean' }, matvec: { type: 'string' }, 'batch': { type: 'string' }, json: { type: 'boolean' },
      'kv-type': { type: 'string' }, 'split-keys': { type: 'string' }, 'pipeline-depth': { type: 'string' }, 'pass-budget-ms': { type: 'string' },
      'split-tokens': { type: 'string' }, dtypes: { type: 'string' }, requantize: { type: 'string' }, 'expert-order': { type: 'string' },
    },
  });
  const what = positionals[0];
  if (!['decode', 'prefill', 'bandwidth', 'matvec', 'verify', 'dispatch', 'load'].includes(what)) throw new UsageError('bench decode|prefill|bandwidth|matvec|verify|dispatch|load --model <gguf>');
  if (v.baseline !== undefined && v.baseline !== 'llamacpp' && v.baseline !== 'llamacpp-vulkan') throw new UsageError('--baseline llamacpp|llamacpp-vulkan');
  const context = Number(v.context ?? 512);
  const nTokens = Number(v.tokens ?? 16);
  const runs = Number(v.runs ?? 3);
  const kvType = kvTypeOf(v['kv-type']);
  // bench matvec --dtypes: the K-quants run on 1.5B's shapes (rows of whole superblocks; matvecShapesOf).
  const matvecDtypes = dtypesOf(v.dtypes, ['f32', 'f16', 'q8_0', 'q4_0']);
  // Dawn rounds GPU timestamps to 100 µs unless told not to: profiles (and dispatch costs) need the real values.
  const gpu = await Gpu.acquire({ dawnFlags: v.profile || what === 'dispatch' ? ['enable-dawn-features=allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization'] : [] });
  try {
    const bw = await measureBandwidth(gpu);
    const adapter = gpu.adapter.description;
    emit({ name: 'device copy bandwidth', value: bw.copyBytesPerS / 1e9, unit: 'GB/s', adapter, note: `bytes read + written per second, best copy kernel of kernels/stream.wgsl (${bw.copyConfig})` });
    emit({ name: 'device read bandwidth', value: bw.readBytesPerS / 1e9, unit: 'GB/s', adapter, note: `bytes read per second, best read-and-sum kernel of kernels/stream.wgsl (${bw.readConfig})` });
    if (what === 'bandwidth') return;
    if (what === 'dispatch') {
      const [matvec] = matvecKindsOf(v.matvec, []);
      await benchDispatch(gpu, bw, { model: v.model, matvec, context, prompt: benchPrompt });
      return;
    }
    if (what === 'matvec') {
      const kinds = matvecKindsOf(v.matvec, ['rows', 'splitK']);
      for (const dtype of matvecDtypes) {
        for (const shape of matvecShapesOf(dtype)) {
          if (dtype === 'f32' && shape.rows > 100000 && gpu.adapter.isSoftware) continue;
          for (const kind of kinds) {
            const r = await benchMatvec(gpu, dtype, shape, kind);
            emit({ name: `matvec ${dtype} ${shape.name}`, value: r.bytesPerS / 1e9, unit: 'GB/s', vs: 'device copy bandwidth', ratio: r.bytesPerS / bw.copyBytesPerS,
              readRatio: Math.round((r.bytesPerS / bw.readBytesPerS) * 1000) / 1000, usPerDispatch: Math.round(r.usPerDispatch * 10) / 10, matvec: kind, adapter });
          }
        }
      }
      return;
    }
    if (!v.model) throw new UsageError('bench needs --model <gguf>');
    if (what === 'load') {
      if (v.requantize !== undefined && v.requantize !== 'q4_0' && v.requantize !== 'q8_0') throw new UsageError('--requantize q4_0|q8_0 (the self-draft\'s load)');
      await benchLoad(gpu, v.model, runs, v.baseline as 'llamacpp' | 'llamacpp-vulkan' | undefined, adapter, v.requantize);
      return;
    }
    // --split-keys N: keys per split of decode attention (0: none); default: the adapter's (64 on GPUs).
    const attentionSplitKeys = v['split-keys'] === undefined ? undefined : Number(v['split-keys']);
    if (attentionSplitKeys !== undefined && !(Number.isInteger(attentionSplitKeys) && attentionSplitKeys >= 0)) throw new UsageError(`--split-keys: a count of keys >= 0, got "${v['split-keys']}"`);
    // --expert-order pairs|sorted: the order a mixture's expert matvecs take the (token, slot) pairs in (ops/experts.ts).
    const expertOrder = v['expert-order'] as ExpertOrder | undefined;
    if (expertOrder !== undefined && !EXPERT_ORDERS.includes(expertOrder)) throw new UsageError(`--expert-order ${EXPERT_ORDERS.join('|')}, got "${expertOrder}"`);
    if (what === 'verify') {
      // --matvec a,b: each variant loaded in turn, in the same run (its batch kernel follows: ops/matmul.ts).
      // --split-tokens 1,32: passes of up to that many tokens split attention as decode does (32, the
      // default, makes verify rows decode's bit for bit; 1 splits only decode: what that exactness costs).
      for (const matvec of matvecKindsOf(v.matvec, [gpu.adapter.isSoftware ? 'rows' : 'splitKi'])) {
        for (const attentionSplitTokens of splitTokensOf(v['split-tokens'])) {
          const { model } = await loadModel(gpu, v.model, { maxContextTokens: context + 32, maxBatchTokens: 32, matvec, kvType: kvTypeOf(v['kv-type']), attentionSplitKeys, attentionSplitTokens, expertOrder });
          try {
            const costs = await measureVerifyCost(model, benchPrompt(model.config.vocabSize, context), runs);
            const one = costs[0].ms;
            for (const c of costs) {
              emit({ name: `verify pass of ${c.positions} positions`, value: c.ms, unit: 'ms', vs: 'one-position pass', ratio: c.ms / one,
                matvec, batchKernel: c.positions > 1 && matvec !== 'rows' ? 'matvec_split_k_batch' : c.positions > 1 ? 'matmul' : 'matvec',
                splitKeys: model.options.attentionSplitKeys, splitTokens: attentionSplitTokens ?? SPLIT_ATTENTION_MAX_TOKENS, ...expertOrderField(model), model: v.model, context, adapter });
            }
          } finally {
            model.dispose();
          }
        }
      }
      return;
    }
    if (v.matvec !== undefined && !MATVEC_KINDS.includes(v.matvec as MatvecKind)) throw new UsageError(`--matvec ${MATVEC_KINDS.join('|')}`);
    // --pass-budget-ms N: GPU time a prefill pass may take before batches run as smaller passes (0: none).
    const prefillPassBudgetMs = v['pass-budget-ms'] === undefined ? undefined : Number(v['pass-budget-ms']);
    if (prefillPassBudgetMs !== undefined && !(prefillPassBudgetMs >= 0)) throw new UsageError(`--pass-budget-ms: milliseconds >= 0, got "${v['pass-budget-ms']}"`);
    const { model } = await loadModel(gpu, v.model, { maxContextTokens: context + nTokens + 1, maxBatchTokens: Number(v.batch ?? 128), matvec: v.matvec as MatvecKind | undefined, kvType, attentionSplitKeys, prefillPassBudgetMs, expertOrder });
    try {
      const prompt = benchPrompt(model.config.vocabSize, context);
      const common = { model: v.model, context, adapter, matvec: v.matvec ?? (gpu.adapter.isSoftware ? 'rows' : 'splitKi'), kvType: model.options.kvType, ...expertOrderField(model) };
      let ours: number;
      if (what === 'decode') {
        ours = await benchDecode(model, prompt, nTokens, runs, bw, common, v.profile ?? false, pipelineDepthsOf(v['pipeline-depth'], model.pipelineDepth));
      } else {
        ours = await benchPrefill(model, prompt, runs, common, v.profile ?? false);
      }
      if (v.baseline) {
        const timer = await openLlamaCppTimer(v.model, context + nTokens + 8, v.baseline === 'llamacpp-vulkan' ? 'vulkan' : false);
        try {
          const theirs: number[] = [];
          for (let i = 0; i < runs; i++) {
            theirs.push(what === 'decode' ? await timer.decodeTokensPerS(prompt, nTokens) : await timer.prefillTokensPerS(prompt));
          }
          const t = median(theirs);
          emit({ name: `${what} tok/s`, value: t, unit: 'tok/s', engine: timer.label, ...common });
          emit({ name: `${what} speed, tandem / llama.cpp`, value: ours / t, unit: 'ratio', vs: timer.label, ...common });
        } finally {
          await timer.dispose();
        }
      }
    } finally {
      model.dispose();
    }
  } finally {
    gpu.dispose();
  }
}

/**
 * Decode through generate() (greedy, the engine's own loop) at each pipeline depth in turn, `runs` times,
 * alternating depths so that drift on a shared machine hits them alike; the first depth is the baseline of
 * the ratios. Returns the tok/s of the default depth (the model's) when listed, else of the first.
 */
async function benchDecode(model: LlamaModel, prompt: number[], n: number, runs: number, bw: BandwidthResult, common: Record<string, unknown>, profile: boolean, depths: number[]): Promise<number> {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const rates = depths.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, pipelineDepth] of depths.entries()) {
      const seq = new Sequence(pool);
      // n decode passes: the prefill gives the first token, each pass one more.
      const g = await generate(model, seq, prompt, { maxTokens: n + 1, pipelineDepth });
      rates[i].push((g.decodePasses / g.decodeMs) * 1000);
      seq.clear();
    }
  }
  const bytes = model.weights.bytesPerToken;
  const speeds = rates.map(median);
  for (const [i, pipelineDepth] of depths.entries()) {
    const tokPerS = speeds[i];
    const at = { pipelineDepth, ...common };
    emit({ name: 'decode tok/s', value: tokPerS, unit: 'tok/s', engine: 'tandem', tokens: n, runs, ...at });
    emit({ name: 'decode weight bandwidth', value: (bytes * tokPerS) / 1e9, unit: 'GB/s', vs: 'device copy bandwidth', ratio: (bytes * tokPerS) / bw.copyBytesPerS, weightBytesPerToken: bytes, ...at });
    emit({ name: 'decode weight bandwidth vs read roofline', value: (bytes * tokPerS) / bw.readBytesPerS, unit: 'ratio', vs: 'device read bandwidth', ...at });
    if (i > 0) emit({ name: `decode speed, pipeline depth ${pipelineDepth} / depth ${depths[0]}`, value: tokPerS / speeds[0], unit: 'ratio', vs: `pipeline depth ${depths[0]}`, runs, ...common });
  }
  // One decode step at this context, one pass at a time: its dispatches, and the host's share of it (the
  // synchronous part of forward: encoding every dispatch and the submit; the per-dispatch cost dominates
  // decode on Dawn, and a pipelined loop hides it behind the GPU's work).
  {
    const seq = new Sequence(pool);
    let { id } = await prefill(model, seq, prompt, false);
    const before = encodedDispatches();
    const hostMs: number[] = [];
    const passMs: number[] = [];
    for (let i = 0; i < Math.max(3, Math.min(n, 16)); i++) {
      const t0 = performance.now();
      const pending = model.forward({ tokens: [id], seq, logitRows: 1, wantLogits: false });
      hostMs.push(performance.now() - t0);
      id = (await pending).ids[0];
      passMs.push(performance.now() - t0);
      if (i === 0) emit({ name: 'dispatches per decode token', value: encodedDispatches() - before, unit: 'dispatches', layers: model.config.nLayers, ...common });
    }
    emit({ name: 'host encode and submit per decode pass, median', value: median(hostMs), unit: 'ms', vs: 'decode pass, one at a time', ratio: median(hostMs) / median(passMs), passMs: median(passMs), passes: hostMs.length, ...common });
    seq.clear();
  }
  if (profile) {
    const seq = new Sequence(pool);
    const { id } = await prefill(model, seq, prompt, false);
    const profiler = new GpuProfiler(model.gpu.device);
    try {
      await model.forward({ tokens: [id], seq, logitRows: 1, wantLogits: false, profiler });
      reportKernels(model, await profiler.read(), bw, common, 1);
    } finally {
      profiler.destroy();
      seq.clear();
    }
  }
  const modelDefault = depths.indexOf(model.pipelineDepth);
  return speeds[modelDefault >= 0 ? modelDefault : 0];
}

async function benchPrefill(model: LlamaModel, prompt: number[], runs: number, common: Record<string, unknown>, profile: boolean): Promise<number> {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const seq = new Sequence(pool);
    const t0 = performance.now();
    await prefill(model, seq, prompt, false);
    rates.push((prompt.length / (performance.now() - t0)) * 1000);
    seq.clear();
  }
  const tokPerS = median(rates);
  emit({ name: 'prefill tok/s', value: tokPerS, unit: 'tok/s', engine: 'tandem', runs, batch: model.maxBatchTokens, passTokens: model.prefillPassTokens, ...common });
  emit({ name: 'prefill matmul throughput', value: (tokPerS * 2 * weightCount(model)) / 1e9, unit: 'GFLOP/s', note: '2 FLOP per weight per token, attention not counted', ...common });
  if (profile) {
    const seq = new Sequence(pool);
    const profiler = new GpuProfiler(model.gpu.device);
    try {
      const batch = prompt.slice(0, model.maxBatchTokens);
      await model.forward({ tokens: batch, seq, logitRows: 1, wantLogits: false, profiler });
      reportKernels(model, await profiler.read(), undefined, common, batch.length);
    } finally {
      profiler.destroy();
      seq.clear();
    }
  }
  return tokPerS;
}

function weightCount(model: LlamaModel): number {
  const c = model.config;
  // A token runs the router and `used` experts of a mixture.
  const ffn = c.experts ? c.dModel * c.experts.count + 3 * c.dModel * c.experts.ffnDim * c.experts.used : 3 * c.dModel * c.ffnDim;
  const perLayer = c.dModel * (c.nHeads + 2 * c.nKvHeads) * c.headDim + c.nHeads * c.headDim * c.dModel + ffn;
  return c.nLayers * perLayer + c.vocabSize * c.dModel;
}

/** A mixture's expert order, for the figures of a model that has experts (none for dense models). */
function expertOrderField(model: LlamaModel): { expertOrder?: ExpertOrder } {
  return model.config.experts ? { expertOrder: model.options.expertOrder ?? 'pairs' } : {};
}

/** Per kernel group: time per forward pass, and for matmuls the weight bytes read per second. */
function reportKernels(model: LlamaModel, timings: KernelTiming[], bw: BandwidthResult | undefined, common: Record<string, unknown>, batch: number): void {
  const w = model.weights;
  const bytes = (l: Linear | null) => (l ? l.parts.reduce((s, p) => s + p.matrix.bytes, 0) : 0);
  const x = model.config.experts;
  const usedShare = x ? x.used / x.count : 0;
  const matmulBytes: Record<string, number> = {
    'matmul.qkv': w.layers.reduce((s, L) => s + bytes(L.qkv), 0),
    'matmul.attn_out': w.layers.reduce((s, L) => s + bytes(L.attnOut), 0),
    'matmul.gate_up': w.layers.reduce((s, L) => s + bytes(L.gateUp), 0),
    'matmul.down': w.layers.reduce((s, L) => s + bytes(L.down), 0),
    'matmul.output': w.output.bytes,
    // A mixture: the router, and the `used` of `count` experts a one-token pass reads (bandwidth is reported for decode only).
    'matmul.router': w.layers.reduce((s, L) => s + bytes(L.experts?.router ?? null), 0),
    'matmul.experts_gate_up': w.layers.reduce((s, L) => s + (L.experts ? (L.experts.gate.matrix.bytes + L.experts.up.matrix.bytes) * usedShare : 0), 0),
    'matmul.experts_down': w.layers.reduce((s, L) => s + (L.experts ? L.experts.down.matrix.bytes * usedShare : 0), 0),
    // A shared expert, which every token reads whole.
    'matmul.shexp_gate_up': w.layers.reduce((s, L) => s + bytes(L.sharedExpert?.gateUp ?? null), 0),
    'matmul.shexp_down': w.layers.reduce((s, L) => s + bytes(L.sharedExpert?.down ?? null), 0),
    'matmul.shexp_gate_inp': w.layers.reduce((s, L) => s + bytes(L.sharedExpert?.gate ?? null), 0),
  };
  const byLabel = new Map<string, number>();
  for (const t of timings) byLabel.set(t.label, (byLabel.get(t.label) ?? 0) + t.ns);
  const total = [...byLabel.values()].reduce((a, b) => a + b, 0);
  for (const [label, ns] of byLabel) {
    const f: Figure = { name: `kernel time ${label}`, value: ns / 1e6, unit: 'ms', share: ns / total, batch, dtype: w.output.dtype, ...common };
    const b = matmulBytes[label];
    if (b !== undefined && bw) {
      f.weightGBs = b / ns;
      f.vs = 'device copy bandwidth';
      f.ratio = b / ns / (bw.copyBytesPerS / 1e9);
    }
    emit(f);
  }
}
