// The CLI side of speculative decoding: `tandem complete --draft <gguf>|ngram|<gguf>+ngram --draft-length
// auto|k`, and `tandem bench speculative`: target-only decoding and speculative decoding with a draft whose
// agreement with the target is controlled, in the same run, as JSON lines.

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel } from '../model/load';
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
import { checkDraftVocabulary } from '../engine/draftVocab';
import { speculativeGenerate } from '../engine/speculative';

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
  dispose(): void;
}

/**
 * `spec`: 'ngram' (prompt lookup), a GGUF path (a draft model, its vocabulary checked against the
 * target's), or '<gguf>+ngram' (both, picked per step by recent acceptance).
 */
export async function loadDraft(gpu: Gpu, target: LlamaModel, targetFile: GgufFile, spec: string): Promise<LoadedDraft> {
  if (spec === 'ngram') return { source: new NgramDraft(), dispose: () => {} };
  const mixed = spec.endsWith('+ngram');
  const path = mixed ? spec.slice(0, -'+ngram'.length) : spec;
  const { model, file } = await loadModel(gpu, path, { maxContextTokens: target.options.maxContextTokens, maxBatchTokens: target.options.maxBatchTokens });
  try {
    const mapping = checkDraftVocabulary(targetFile.metadata, target.config.vocabSize, file.metadata, model.config.vocabSize);
    const draft = new ModelDraft(model, { mapping, minConfidence: 0.3 });
    return { source: mixed ? new MixedDraft(draft) : draft, model, dispose: () => model.dispose() };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

// ---- tandem bench speculative ---------------------------------------------------------------------------

function emit(f: Record<string, unknown> & { name: string; value: number; unit: string }): void {
  const r = (x: unknown) => (typeof x === 'number' && !Number.isInteger(x) ? Math.round(x * 1000) / 1000 : x);
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, r(v)]))) + '\n');
}

/** Ideal speedup of k drafted tokens at per-token acceptance a and draft/target cost ratio c (Leviathan et al.). */
export function idealSpeedup(a: number, k: number, c: number): number {
  const tokens = a >= 1 ? k + 1 : (1 - a ** (k + 1)) / (1 - a);
  return tokens / (k * c + 1);
}

export async function benchSpeculativeCommand(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' }, draft: { type: 'string' }, agreement: { type: 'string' }, tokens: { type: 'string' },
      'prompt-tokens': { type: 'string' }, 'draft-length': { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  if (!v.model || !v.draft) throw new UsageError('bench speculative --model <target.gguf> --draft <draft.gguf> [--agreement 0.5,0.7,0.8,0.9] [--tokens N] [--draft-length auto|k]');
  const agreements = (v.agreement ?? '0.5,0.7,0.8,0.9').split(',').map(Number);
  const nTokens = Number(v.tokens ?? 64);
  const promptLen = Number(v['prompt-tokens'] ?? 32);
  const draftLength = parseDraftLength(v['draft-length']);
  const runs = Number(v.runs ?? 2);
  const gpu = await Gpu.acquire();
  const options = { maxContextTokens: promptLen + nTokens + 64, maxBatchTokens: 32 };
  const { model: target, file: targetFile } = await loadModel(gpu, v.model, options);
  const { model: draft, file: draftFile } = await loadModel(gpu, v.draft, options);
  try {
    checkDraftVocabulary(targetFile.metadata, target.config.vocabSize, draftFile.metadata, draft.config.vocabSize);
    const rng = new Rng(7);
    const prompt = Array.from({ length: promptLen }, () => 3 + Math.floor(rng.next() * (target.config.vocabSize - 3)));
    const tPool = new BlockPool(target.kv.nBlocks, target.options.blockSize);
    const dPool = new BlockPool(draft.kv.nBlocks, draft.options.blockSize);
    const common = { adapter: gpu.adapter.description, target: v.model, draft: v.draft, tokens: nTokens, promptTokens: promptLen };

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

    const reference = [...prompt, ...base.tokens];
    for (const a of agreements) {
      let best: Awaited<ReturnType<typeof speculativeGenerate>> | undefined;
      for (let i = 0; i < runs; i++) {
        const seq = new Sequence(tPool);
        const source = new ControlledDraft(reference, a, { vocab: target.config.vocabSize, seed: 100 + i, inner: new ModelDraft(draft) });
        const r = await speculativeGenerate(target, seq, prompt, { maxTokens: nTokens, draft: source, draftLength });
        seq.clear();
        if (r.tokens.join() !== base.tokens.join()) throw new Error(`speculative output differs from target-only at a=${a}`);
        if (!best || r.decodeMs < best.decodeMs) best = r;
      }
      const s = best!.stats;
      const msPerToken = best!.decodeMs / s.tokens;
      const lengths = s.draftLengths.filter((k) => k > 0);
      const k = lengths.length ? Math.round(lengths.reduce((x, y) => x + y, 0) / lengths.length) : 0;
      const ideal = idealSpeedup(a, k, c);
      const speedup = base.ms / msPerToken;
      emit({
        name: 'speculative speedup', value: speedup, unit: 'x', vs: 'target-only decode', agreement: a, draftLength: v['draft-length'] ?? 'auto', meanK: k,
        ideal, ofIdeal: speedup / ideal, targetPassesPerToken: s.targetPasses / s.tokens, acceptanceRate: s.acceptanceRate, tokensPerPass: s.tokensPerPass,
        c, verifyMsPerPass: s.verifyMs / s.targetPasses, draftMsPerPass: s.draftMs / s.targetPasses, lossless: true, ...common,
      });
    }
  } finally {
    target.dispose();
    draft.dispose();
    gpu.dispose();
  }
}
