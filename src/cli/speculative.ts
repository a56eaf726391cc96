// The CLI side of speculative decoding: `tandem complete --draft <gguf>|self:q4_0|self:q8_0|ngram|<model>+ngram
// --draft-length auto|k`, and `tandem bench speculative`: target-only decoding and speculative decoding with
// a draft whose agreement with the target is controlled (or the draft's own, 'natural'), in the same run,
// as JSON lines. With a draft model, --kv-budget-mib covers both models' KV pools (one pool when the draft's
// K/V has the target's shape, as a self draft's does).

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel } from '../model/load';
import { logitRowsForDraft } from '../model/workspace';
import type { LlamaModel } from '../model/llama';
import type { GgufFile } from '../loaders/gguf/types';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { generate } from '../engine/generate';
import { Rng } from '../engine/sampler';
import { ModelDraft, type DraftSource } from '../engine/draft';
import { NgramDraft } from '../engine/draftNgram';
import { MixedDraft } from '../engine/draftMixed';
import { ControlledDraft } from '../engine/draftControlled';
import { DRAFT_MIN_CONFIDENCE, loadDraftFrom, parseDraftModelSource, planDraftKv, type DraftModelSource } from '../engine/draftLoad';
import { kvBudgetBytesOf } from './editReplay';
import { kvPoolOf } from '../engine/draftBudget';
import { speculativeGenerate } from '../engine/speculative';
import { median } from '../bench/stats';

export function parseDraftLength(s: string | undefined): number | 'auto' {
  if (s === undefined || s === 'auto') return 'auto';
  const k = Number(s);
  if (!Number.isInteger(k) || k < 0 || k > 64) throw new UsageError(`--draft-length: expected auto or 0..64, got "${s}"`);
  return k;
}

export interface LoadedDraft {
  source: DraftSource;
  /** The draft model, when there is one (the caller disposes it through dispose()). */
  model?: LlamaModel;
  /** The pool the target must allocate from when the draft runs on the target's KV buffers (one pool for both). */
  sharedPool?: { pool: BlockPool; release: () => boolean };
  dispose(): void;
}

/** The model part of a --draft spec ('ngram': none; '<model>+ngram': the model). */
export function draftModelOf(spec: string): DraftModelSource | undefined {
  if (spec === 'ngram') return undefined;
  return parseDraftModelSource(spec.endsWith('+ngram') ? spec.slice(0, -'+ngram'.length) : spec);
}

/**
 * `spec`: 'ngram' (prompt lookup), a GGUF path (a draft model, its vocabulary checked against the
 * target's), 'self:q4_0' / 'self:q8_0' ('self' = self:q4_0: the target's own weights requantized), or
 * '<model>+ngram' (both, picked per step by recent acceptance). `kvBudgetBytes`: the draft's KV pool
 * (planDraftKv's draftKvBytes).
 */
export async function loadDraft(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, targetPath: string, spec: string, o: { kvBudgetBytes?: number; shareKv?: boolean } = {}): Promise<LoadedDraft> {
  const source = draftModelOf(spec);
  if (!source) return { source: new NgramDraft(), dispose: () => {} };
  const { model, draft } = await loadDraftFrom(gpu, target, targetFile, targetPath, source, o);
  return { source: spec.endsWith('+ngram') ? new MixedDraft(draft) : draft, model, sharedPool: draft.sharedPoolWith(target), dispose: () => model.dispose() };
}

// ---- tandem bench speculative ---------------------------------------------------------------------------

/**
 * k greedy passes after `prompt`: as one decodeChain (one readback) and as k forward calls (a readback
 * each), in alternated rounds; medians in ms. Throws if the two give different tokens.
 */
async function chainVsPasses(model: LlamaModel, pool: BlockPool, prompt: number[], k: number, rounds: number): Promise<{ chainMs: number; passesMs: number; rounds: number }> {
  const ms = { chain: [] as number[], passes: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const tokens = { chain: '', passes: '' };
    for (const mode of round % 2 ? (['chain', 'passes'] as const) : (['passes', 'chain'] as const)) {
      const seq = new Sequence(pool);
      let t = (await model.forward({ tokens: prompt, seq, logitRows: 1, wantLogits: false })).ids[0];
      const ids: number[] = [];
      const t0 = performance.now();
      if (mode === 'chain') {
        ids.push(...(await model.decodeChain({ seq, token: t, steps: k })).ids);
      } else {
        for (let i = 0; i < k; i++) ids.push((t = (await model.forward({ tokens: [t], seq, logitRows: 1, wantLogits: false })).ids[0]));
      }
      ms[mode].push(performance.now() - t0);
      tokens[mode] = ids.join();
      seq.clear();
    }
    if (tokens.chain !== tokens.passes) throw new Error(`a draft chain of ${k} gave other tokens than ${k} passes`);
  }
  return { chainMs: median(ms.chain), passesMs: median(ms.passes), rounds };
}

function emit(f: Record<string, unknown> & { name: string; value: number; unit: string }): void {
  const r = (x: unknown) => (typeof x === 'number' && !Number.isInteger(x) ? Math.round(x * 1000) / 1000 : x);
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, r(v)]))) + '\n');
}

/** Ideal speedup of k drafted tokens at per-token acceptance a and draft/target cost ratio c (Leviathan et al.). */
export function idealSpeedup(a: number, k: number, c: number): number {
  const tokens = a >= 1 ? k + 1 : (1 - a ** (k + 1)) / (1 - a);
  return tokens / (k * c + 1);
}

/**
 * --agreement: controlled agreements a (ControlledDraft: the target's known next token with probability a,
 * the draft model still run for its real cost), and/or 'natural': the draft model's own proposals, as
 * `tandem complete --draft` makes them (stopping at tokens it is unsure of).
 */
export async function benchSpeculativeCommand(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, draft: { type: 'string' }, agreement: { type: 'string' }, tokens: { type: 'string' },
      'prompt-tokens': { type: 'string' }, 'draft-length': { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' },
      'kv-budget-mib': { type: 'string' },
    },
  });
  if (!v.model || !v.draft) {
    throw new UsageError('bench speculative --model <target.gguf> --draft <draft.gguf>|self:q4_0|self:q8_0 [--agreement natural,0.5,0.7,0.8,0.9] [--tokens N] [--draft-length auto|k] [--kv-budget-mib M]');
  }
  const agreements = (v.agreement ?? '0.5,0.7,0.8,0.9').split(',').map((a) => (a === 'natural' ? a : Number(a)));
  if (agreements.some((a) => a !== 'natural' && !(a >= 0 && a <= 1))) throw new UsageError(`--agreement: expected natural or numbers in [0, 1], got "${v.agreement}"`);
  const nTokens = Number(v.tokens ?? 64);
  const promptLen = Number(v['prompt-tokens'] ?? 32);
  const draftLength = parseDraftLength(v['draft-length']);
  const runs = Number(v.runs ?? 2);
  const gpu = await Gpu.acquire();
  const source = parseDraftModelSource(v.draft);
  const options = { maxContextTokens: promptLen + nTokens + 64, maxBatchTokens: 32, maxLogitRows: logitRowsForDraft(draftLength) };
  // One KV budget for both models when --kv-budget-mib is given (planDraftKv).
  const kvPlan = await planDraftKv(gpu, v.model, source, { ...options, kvBudgetBytes: kvBudgetBytesOf(v['kv-budget-mib']) });
  const { model: target, file: targetFile } = await loadModel(gpu, v.model, { ...options, kvBudgetBytes: kvPlan.targetKvBytes });
  let loaded: Awaited<ReturnType<typeof loadDraftFrom>> | undefined;
  try {
    loaded = await loadDraftFrom(gpu, target, targetFile, v.model, source, { kvBudgetBytes: kvPlan.draftKvBytes, shareKv: kvPlan.shareKv });
    const draft = loaded.model;
    const rng = new Rng(7);
    const prompt = Array.from({ length: promptLen }, () => 3 + Math.floor(rng.next() * (target.config.vocabSize - 3)));
    // One pool for both when the draft runs on the target's KV buffers (kv.sharedPool), else one each.
    const tPool = target.kv.sharedPool ?? new BlockPool(target.kv.nBlocks, target.options.blockSize);
    const dPool = loaded.draft.pool;
    const common = { adapter: gpu.adapter.description, target: v.model, draft: v.draft, tokens: nTokens, promptTokens: promptLen };
    const targetKv = kvPoolOf(target);
    const draftKv = kvPlan.shareKv ? 'the target\'s pool' : kvPoolOf(draft);
    emit({ name: 'kv pools', value: targetKv.bytes + (typeof draftKv === 'string' ? 0 : draftKv.bytes), unit: 'bytes', budgetBytes: kvBudgetBytesOf(v['kv-budget-mib']) ?? null, targetKv, draftKv, ...common });

    // Baselines, best of `runs` (the first also warms the pipelines): target-only and draft-only decoding.
    const decodeMsPerToken = async (model: LlamaModel, pool: BlockPool) => {
      let best = Infinity;
      let tokens: number[] = [];
      for (let i = 0; i < runs; i++) {
        const seq = new Sequence(pool);
        const r = await generate(model, seq, prompt, { maxTokens: nTokens });
        best = Math.min(best, r.decodeMs / r.decodePasses);
        tokens = r.tokens;
        seq.clear();
      }
      return { ms: best, tokens };
    };
    const base = await decodeMsPerToken(target, tPool);
    const draftOnly = await decodeMsPerToken(draft, dPool);
    const c = draftOnly.ms / base.ms;
    emit({ name: 'target-only decode', value: base.ms, unit: 'ms/token', ...common });
    emit({ name: 'draft-only decode', value: draftOnly.ms, unit: 'ms/token', ...common });
    emit({ name: 'cost ratio c', value: c, unit: 'ratio', vs: 'target-only decode', note: 'one draft decode pass over one target decode pass', ...common });
    for (const k of [4, 8]) {
      const t = await chainVsPasses(draft, dPool, prompt, k, Math.max(runs, 5));
      emit({ name: `draft chain of ${k} passes (one readback) / ${k} passes (a readback each)`, value: t.chainMs / t.passesMs, unit: 'ratio', chainMs: t.chainMs, passesMs: t.passesMs, rounds: t.rounds, note: 'medians of alternated rounds on the draft model; the same tokens', ...common });
    }

    const reference = [...prompt, ...base.tokens];
    for (const a of agreements) {
      let best: Awaited<ReturnType<typeof speculativeGenerate>> | undefined;
      for (let i = 0; i < runs; i++) {
        const seq = new Sequence(tPool);
        const drafter: DraftSource = a === 'natural' ? loaded.draft : new ControlledDraft(reference, a, { vocab: target.config.vocabSize, seed: 100 + i, inner: new ModelDraft(draft) });
        const r = await speculativeGenerate(target, seq, prompt, { maxTokens: nTokens, draft: drafter, draftLength });
        seq.clear();
        if (r.tokens.join() !== base.tokens.join()) throw new Error(`speculative output differs from target-only at agreement ${a}`);
        if (!best || r.decodeMs < best.decodeMs) best = r;
      }
      const s = best!.stats;
      const msPerToken = best!.decodeMs / s.tokens;
      const lengths = s.draftLengths.filter((k) => k > 0);
      const k = lengths.length ? Math.round(lengths.reduce((x, y) => x + y, 0) / lengths.length) : 0;
      // Natural drafts: the ideal at the measured acceptance (as if each token were accepted independently).
      const ideal = idealSpeedup(a === 'natural' ? s.acceptanceRate : a, k, c);
      const speedup = base.ms / msPerToken;
      emit({
        name: 'speculative speedup', value: speedup, unit: 'x', vs: 'target-only decode', agreement: a, draftLength: v['draft-length'] ?? 'auto', meanK: k,
        ideal, ofIdeal: speedup / ideal, targetPassesPerToken: s.targetPasses / s.tokens, acceptanceRate: s.acceptanceRate, tokensPerPass: s.tokensPerPass,
        c, verifyMsPerPass: s.verifyMs / Math.max(1, s.verifyPasses), draftMsPerPass: s.draftMs / Math.max(1, s.verifyPasses),
        plainTokens: s.plainTokens, plainMsPerToken: s.plainTokens ? s.plainMs / s.plainTokens : null, lossless: true,
        ...(a === 'natural' ? { minConfidence: DRAFT_MIN_CONFIDENCE } : {}), ...common,
      });
    }
  } finally {
    loaded?.model.dispose();
    target.dispose();
    gpu.dispose();
  }
}
