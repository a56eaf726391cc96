// `tandem complete`: load a model, run a prompt, print the completion (or JSON with tokens, the model's
// probability of each, and timings). With --document-cache the prompts (--prompt may repeat) run in order
// as one document's requests through the prefix cache, as an editor's successive requests do (with --draft,
// speculatively on the cached sequence), and --json reports the cache's state after each.

import { UsageError } from '../common/errors';
import { Gpu } from '../gpu/device';
import { loadModel, readModelConfig } from '../model/load';
import { logitRowsForDraft } from '../model/workspace';
import { resolveModel } from '../models/catalog';
import { createTokenizer, type Tokenizer } from '../tokenizer';
import type { LlamaModel } from '../model/llama';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { generate } from '../engine/generate';
import type { SamplingOptions } from '../engine/sampler';
import { speculativeGenerate, type SpeculativeStats } from '../engine/speculative';
import { draftModelOf, loadDraft, type LoadedDraft } from './speculative';
import { planDraftKv } from '../engine/draftLoad';
import { kvPoolOf } from '../engine/draftBudget';
import { DocumentCache } from '../engine/session';
import type { KvType } from '../kvcache/kvBuffers';
import type { PrefillLimits } from '../model/prefillLimits';

export interface CompleteArgs {
  model: string;
  prompt?: string;
  promptTokens?: number[];
  maxTokens: number;
  sampling: SamplingOptions;
  json: boolean;
  /** Stop at the model's end-of-generation tokens (default true). */
  stopAtEog: boolean;
  /** Speculative decoding: a draft GGUF, 'self:q4_0' | 'self:q8_0', 'ngram', or '<model>+ngram' (see cli/speculative.ts). */
  draft?: string;
  draftLength?: number | 'auto';
  /** The KV pool's size (default: load.ts's); with a draft model, both models' pools together. */
  kvBudgetBytes?: number;
  /** Run the prompts through a DocumentCache (prefix reuse between them); stats in --json. */
  documentCache?: boolean;
  /** KV cache element type (default: the device's, f16 where it has shader-f16). */
  kvType?: KvType;
  /** Further prompts after `prompt`, only with `documentCache`. */
  morePrompts?: string[];
  /** Bounds on prefill passes (default: prefillLimits.ts's). */
  prefill?: PrefillLimits;
}

export function parseTokenList(s: string): number[] {
  const ids = s.split(/[\s,]+/).filter(Boolean).map(Number);
  if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--prompt-tokens: expected comma-separated token ids, got "${s}"`);
  return ids;
}

export async function completeCommand(a: CompleteArgs): Promise<void> {
  const t0 = performance.now();
  const modelPath = await resolveModel(a.model, (s) => process.stderr.write(`tandem: ${s}\n`));
  const gpu = await Gpu.acquire();
  // With a draft model, --kv-budget-mib covers both models' KV pools (planDraftKv).
  const draftSource = a.draft ? draftModelOf(a.draft) : undefined;
  // The tokenizer before the upload: a file it cannot serve is refused before the weights are read. The
  // header read here serves the draft's plan and the load too.
  const opened = await readModelConfig(modelPath);
  const tokenizer = createTokenizer(opened.file.metadata);
  const kvPlan = draftSource ? await planDraftKv(gpu, modelPath, draftSource, { opened, kvBudgetBytes: a.kvBudgetBytes, kvType: a.kvType }) : undefined;
  const { model, file } = await loadModel(gpu, modelPath, {
    opened,
    kvBudgetBytes: kvPlan ? kvPlan.targetKvBytes : a.kvBudgetBytes, kvType: a.kvType, maxLogitRows: logitRowsForDraft(a.draft ? a.draftLength : undefined),
    prefillPassBudgetMs: a.prefill?.passBudgetMs, prefillPassesInFlight: a.prefill?.passesInFlight,
  });
  let draft: LoadedDraft | undefined;
  const loadMs = performance.now() - t0;
  try {
    if (a.draft) draft = await loadDraft(gpu, model, file, modelPath, a.draft, { kvBudgetBytes: kvPlan?.draftKvBytes, shareKv: kvPlan?.shareKv });
    let prompt: number[];
    if (a.promptTokens) {
      prompt = a.promptTokens;
    } else {
      prompt = tokenizer.encode(a.prompt ?? '', { addBos: tokenizer.addBosDefault, parseSpecial: true });
    }
    if (prompt.length === 0) throw new UsageError('the prompt is empty (give --prompt text or --prompt-tokens ids)');
    if (a.documentCache) {
      const prompts = [prompt, ...(a.morePrompts ?? []).map((p) => tokenizer.encode(p, { addBos: tokenizer.addBosDefault, parseSpecial: true }))];
      await completeWithCache(a, model, tokenizer, prompts, loadMs, modelPath, gpu.adapter, draft);
      return;
    }
    // A draft on the target's KV buffers: one pool for both.
    const seq = new Sequence(draft?.sharedPool?.pool ?? new BlockPool(model.kv.nBlocks, model.options.blockSize));
    const decoder = tokenizer.createStreamDecoder();
    const stream = !a.json;
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    const probabilities: number[] = [];
    let prefillPasses = 0;
    const options = {
      maxTokens: a.maxTokens,
      sampling: a.sampling,
      stopTokens: a.stopAtEog ? new Set(tokenizer.eotIds) : undefined,
      signal: ac.signal,
      onToken: (id: number, p: number) => {
        probabilities.push(p);
        if (stream) process.stdout.write(decoder.push(id));
      },
      // Called once a prefill pass.
      onPrefill: () => { prefillPasses++; },
    };
    let speculative: SpeculativeStats | undefined;
    const r = draft
      ? await speculativeGenerate(model, seq, prompt, { ...options, draft: draft.source, draftLength: a.draftLength ?? 'auto' }).then((x) => { speculative = x.stats; return x; })
      : await generate(model, seq, prompt, options);
    process.off('SIGINT', onSigint);
    const text = tokenizer.decode(r.tokens, { stripLeadingSpace: false });
    if (a.json) {
      process.stdout.write(JSON.stringify({
        model: modelPath,
        promptTokens: prompt,
        tokens: r.tokens,
        // The model's probability of each token (softmax of its logits at temperature 1).
        probabilities: probabilities.map(round6),
        text,
        stoppedBy: r.stoppedBy,
        timings: {
          loadMs: round(loadMs),
          prefillMs: round(r.prefillMs),
          decodeMs: round(r.decodeMs),
          prefillTokensPerS: round((prompt.length / r.prefillMs) * 1000),
          decodeTokensPerS: r.tokens.length > 1 ? round(((speculative ? r.tokens.length : r.decodePasses) / r.decodeMs) * 1000) : null,
        },
        ...(speculative ? { speculative: { ...speculative, draftLengths: undefined, draft: a.draft } } : {}),
        // The prompt's prefill passes, the limits in force, and the pass size the pacer ended with.
        prefill: { passes: prefillPasses, ...model.prefillLimits, passTokens: model.prefillPassTokens },
        kvPools: kvPools(model, draft),
        adapter: gpu.adapter,
      }) + '\n');
    } else {
      process.stdout.write(decoder.flush() + '\n');
    }
  } finally {
    draft?.dispose();
    model.dispose();
    gpu.dispose();
  }
}

/** Each prompt as a request on one document: later prompts reuse what earlier ones left cached. */
async function completeWithCache(a: CompleteArgs, model: LlamaModel, tokenizer: Tokenizer, prompts: number[][], loadMs: number, modelPath: string, adapter: unknown, draft?: LoadedDraft): Promise<void> {
  const dc = new DocumentCache(model, { sharedPool: draft?.sharedPool });
  try {
    for (const prompt of prompts) {
      const decoder = tokenizer.createStreamDecoder();
      const probabilities: number[] = [];
      const r = await dc.complete('cli', prompt, {
        maxTokens: a.maxTokens,
        sampling: a.sampling,
        stopTokens: a.stopAtEog ? new Set(tokenizer.eotIds) : undefined,
        onToken: (id: number, p: number) => {
          probabilities.push(p);
          if (!a.json) process.stdout.write(decoder.push(id));
        },
        // The draft keeps its state between the prompts, as in the editor.
        speculative: draft && { draft: draft.source, draftLength: a.draftLength ?? 'auto', keepDraftState: true },
      });
      if (!a.json) {
        process.stdout.write(decoder.flush() + '\n');
        continue;
      }
      process.stdout.write(JSON.stringify({
        model: modelPath,
        promptTokens: prompt,
        tokens: r.tokens,
        probabilities: probabilities.map(round6),
        text: tokenizer.decode(r.tokens, { stripLeadingSpace: false }),
        stoppedBy: r.stoppedBy,
        timings: { loadMs: round(loadMs), ttftMs: round(r.ttftMs), prefillMs: round(r.prefillMs), decodeMs: round(r.decodeMs), totalMs: round(r.totalMs) },
        ...(r.speculative ? { speculative: { ...r.speculative, draftLengths: undefined, draft: a.draft } } : {}),
        kvPools: kvPools(model, draft),
        // This request: how much of its prompt came from the cache.
        prompt: { tokens: r.promptTokens, reusedTokens: r.reusedTokens, prefilledTokens: r.prefilledTokens, copiedBlocks: r.copiedBlocks },
        // The cache after it: pool blocks used/cached/free, index hits, totals and hit rate so far.
        cache: dc.stats(),
        adapter,
      }) + '\n');
    }
  } finally {
    dc.dispose();
  }
}

/** Blocks, tokens and bytes of the target's KV pool and, with a draft model, of the draft's (or that it shares the target's). */
function kvPools(model: LlamaModel, draft?: LoadedDraft) {
  if (draft?.sharedPool) return { target: kvPoolOf(model), draftShared: true };
  return { target: kvPoolOf(model), ...(draft?.model ? { draft: kvPoolOf(draft.model) } : {}) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
