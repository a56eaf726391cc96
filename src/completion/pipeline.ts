// One completion on a loaded model: prompt (template + windows), generation with the stop rule and the
// confidence threshold checked after every token, a time budget, cancellation between tokens, then
// post-processing. Generation is plain or speculative (a draft proposes, the target verifies: the same
// text). Runs wherever the model is: in the engine process behind the extension, or in-process in tests
// and the CLI.

import { CancelledError } from '../common/errors';
import { generate, type GenerateOptions, type GenerateResult, type PrefillProgress } from '../engine/generate';
import type { DraftSource, ModelDraft } from '../engine/draft';
import { NgramDraft } from '../engine/draftNgram';
import { DraftLengthController } from '../engine/draftLength';
import { MixedDraft } from '../engine/draftMixed';
import { speculativeGenerate, type SpeculativeStats } from '../engine/speculative';
import type { SamplingOptions } from '../engine/sampler';
import { DocumentCache, type DocumentCacheOptions } from '../engine/session';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import type { LlamaModel } from '../model/llama';
import type { Tokenizer } from '../tokenizer';
import { postprocess } from './postprocess';
import { buildPrompt, DEFAULT_BUDGETS, defaultSuffixTokens, type PromptBudgets } from './prompt';
import { createStopRule, wantsMultiline } from './stopRules';
import { chooseTemplate } from './templates';
import { PREFIX_WINDOW_GROWTH, PrefixStarts } from './window';
import { RecentDeletions } from './recentEdits';
import type { CompletionOptions, CompletionRequest, CompletionResult, DraftMode, GeneratedTokens, SpeculativeTimings } from './types';

export interface CompletionModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
  /** general.name of the GGUF. */
  name: string;
  /** The model's KV pool (the documents' cache owns it; requests without a documentId borrow from it). */
  pool: BlockPool;
  /** Each document's prompt K/V, reused by its next request (prefix reuse across edits). */
  documents: DocumentCache;
  /**
   * The draft model (vocabulary already checked against the target), when one is loaded. It caches its
   * K/V as the documents' cache does: a sequence per document and a prefix index, kept between requests,
   * so a keystroke re-runs a few draft tokens and a switch back to a document about as few. Correctness
   * never depends on it (the target verifies every token).
   */
  draft?: ModelDraft;
  /** Draft-length controllers kept across requests, by draft source and draft-length setting. */
  draftLengths?: Map<string, DraftLengthController>;
  /**
   * Each document's recent prefix window starts: the next request keeps one while its window has grown
   * less than PREFIX_WINDOW_GROWTH x the budget, so the prompt's cached K/V holds while the user types
   * (and when they come back after a jump).
   */
  prefixStarts: PrefixStarts;
  /** Each document's recently deleted text, searched by n-gram drafts after the prompt (recentEdits.ts). */
  recentEdits: RecentDeletions;
}

export function completionModel(model: LlamaModel, tokenizer: Tokenizer, o: DocumentCacheOptions = {}, draft?: ModelDraft): CompletionModel {
  // A draft on the target's KV buffers allocates from the documents' pool (one pool for both, draftLoad.ts).
  const documents = new DocumentCache(model, { ...o, sharedPool: draft?.sharedPoolWith(model) });
  return { model, tokenizer, name: model.config.name, pool: documents.pool, documents, draft, prefixStarts: new PrefixStarts(), recentEdits: new RecentDeletions() };
}

/** The model's draft-length controller for this source and setting: what it learnt (acceptance, pass costs) carries over. */
function draftLengthsFor(m: CompletionModel, ran: SpeculativeTimings['draft'], draftLength: number | 'auto'): DraftLengthController {
  m.draftLengths ??= new Map();
  const key = `${ran}|${draftLength}`;
  let c = m.draftLengths.get(key);
  if (!c) m.draftLengths.set(key, (c = new DraftLengthController({ draftLength })));
  return c;
}

/**
 * The draft source for one request, or none; 'model' falls back to none and 'model+ngram' to n-grams
 * without a draft model. `corpus()`: token runs the n-gram drafts search after the prompt (text the user
 * deleted), made only when n-grams are in use.
 */
function draftFor(m: CompletionModel, mode: DraftMode | undefined, corpus: () => number[][]): { source: DraftSource; ran: SpeculativeTimings['draft'] } | undefined {
  switch (mode ?? 'off') {
    case 'ngram': return { source: new NgramDraft({ corpus: corpus() }), ran: 'ngram' };
    case 'model': return m.draft ? { source: m.draft, ran: 'model' } : undefined;
    case 'model+ngram': return m.draft ? { source: new MixedDraft(m.draft, { corpus: corpus() }), ran: 'model+ngram' } : { source: new NgramDraft({ corpus: corpus() }), ran: 'ngram' };
    default: return undefined;
  }
}

function speculativeTimings(ran: SpeculativeTimings['draft'], s: SpeculativeStats): SpeculativeTimings {
  return { draft: ran, targetPasses: s.targetPasses, draftPasses: s.draftPasses, draftPrefilledTokens: s.draftPrefilledTokens, draftedTokens: s.draftedTokens, acceptedTokens: s.acceptedTokens, draftMs: s.draftMs, verifyMs: s.verifyMs };
}

/**
 * Budgets scaled down so prompt + completion fit the model's context, with the prefix window grown to
 * `prefixGrowth` x its budget (1: no growth; the engine lets kept windows grow, see PREFIX_WINDOW_GROWTH).
 */
export function fitBudgets(want: PromptBudgets, maxContextTokens: number, maxTokens: number, prefixGrowth = 1): PromptBudgets {
  const room = Math.max(16, maxContextTokens - maxTokens - 8);
  const total = want.prefixTokens * prefixGrowth + want.suffixTokens + want.contextFileTokens;
  if (total <= room) return want;
  const f = room / total;
  return {
    prefixTokens: Math.floor(want.prefixTokens * f),
    suffixTokens: Math.floor(want.suffixTokens * f),
    contextFileTokens: Math.floor(want.contextFileTokens * f),
  };
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Raw text as it streams (before post-processing), batched per token. */
  onText?: (text: string) => void;
  /** The prompt's prefill, after each pass: tokens submitted of those the cache lacked. */
  onPrefill?: PrefillProgress;
  now?: () => number;
}

export async function runCompletion(m: CompletionModel, req: CompletionRequest, o: CompletionOptions, run: RunOptions = {}): Promise<CompletionResult> {
  const now = run.now ?? (() => performance.now());
  const t0 = now();
  const { template } = chooseTemplate(m.tokenizer, m.name, o.template ?? 'auto', o.fimOrder);
  const maxTokens = Math.max(1, Math.min(o.maxTokens, m.model.options.maxContextTokens - 16));
  const budgets = fitBudgets({
    prefixTokens: o.prefixTokens ?? DEFAULT_BUDGETS.prefixTokens,
    suffixTokens: o.suffixTokens ?? defaultSuffixTokens(template, o.typedMiddle),
    contextFileTokens: o.contextFileTokens ?? DEFAULT_BUDGETS.contextFileTokens,
  }, m.model.options.maxContextTokens, maxTokens, PREFIX_WINDOW_GROWTH);
  // A document's prefix window keeps its start while it grows (the cached K/V stays valid); a request
  // without a document (no cache to keep) takes the budget's window.
  const keep = m.prefixStarts.keepFor(req.documentId, budgets.prefixTokens);
  const prompt = buildPrompt(m.tokenizer, template, req, budgets, undefined, keep, o.typedMiddle ?? true);
  m.prefixStarts.remember(req.documentId, prompt.prefixStartLine, prompt.prefix, prompt.middle.length);
  // Every request, drafting or not: the comparison with the previous request finds what was deleted.
  const deleted = m.recentEdits.observe(req.documentId, req.prefix, req.suffix, req.prefixLineOffset ?? 0);
  const tokenizeMs = now() - t0;
  const multiline = wantsMultiline(req.prefix, req.suffix, o.multiline);
  const rule = createStopRule(prompt.prefix, { multiline });
  const sampling: SamplingOptions = { temperature: o.temperature ?? 0, topK: 40, topP: 0.95, seed: 1 };
  const decoder = m.tokenizer.createStreamDecoder();
  let raw = '';
  let cutAt = -1;
  let stoppedBy: CompletionResult['stoppedBy'] = 'maxTokens';
  const deadline = o.timeBudgetMs ? t0 + o.timeBudgetMs : Infinity;
  let generated = 0;
  let prefillMs = 0;
  let decodeMs = 0;
  let reusedTokens: number | undefined;
  let speculative: SpeculativeTimings | undefined;
  const minP = o.minTokenProbability ?? 0;
  const tokens: GeneratedTokens = { ids: [], probabilities: [], offsets: [] };
  let lowConfidence: CompletionResult['lowConfidence'];
  const generateOptions: GenerateOptions = {
    maxTokens,
    sampling,
    stopTokens: prompt.stopIds,
    signal: run.signal,
    onPrefill: run.onPrefill,
    onToken: (id, p) => {
      generated++;
      tokens.ids.push(id);
      tokens.probabilities.push(p);
      tokens.offsets.push(raw.length);
      // Cut before the first unsure token: its text never reaches raw (NaN, unknown, never cuts).
      if (p < minP) {
        lowConfidence = { at: raw.length, tokenIndex: tokens.ids.length - 1, probability: p };
        stoppedBy = 'lowConfidence';
        return false;
      }
      const piece = decoder.push(id);
      raw += piece;
      if (piece) run.onText?.(piece);
      cutAt = rule(raw, false);
      if (cutAt >= 0) { stoppedBy = 'stopRule'; return false; }
      if (now() > deadline) { stoppedBy = 'timeBudget'; return false; }
      return true;
    },
  };
  const draft = draftFor(m, o.draft, () => deleted.map((t) => m.tokenizer.encode(t, { parseSpecial: false })));
  // The draft model's KV follows the text from request to request (see CompletionModel.draft).
  const draftLength = o.draftLength ?? 'auto';
  const spec = draft && { draft: draft.source, draftLength, keepDraftState: true, lengths: draftLengthsFor(m, draft.ran, draftLength) };
  try {
    let r: GenerateResult;
    if (req.documentId !== undefined) {
      // The document's previous prompt (and the tokens generated after it) stays in the cache: only the
      // tokens after the longest common prefix are prefilled.
      const c = await m.documents.complete(req.documentId, prompt.tokens, { ...generateOptions, speculative: spec });
      reusedTokens = c.reusedTokens;
      if (c.speculative) speculative = speculativeTimings(draft!.ran, c.speculative);
      r = c;
    } else {
      const seq = new Sequence(m.pool);
      try {
        if (spec) {
          const s = await speculativeGenerate(m.model, seq, prompt.tokens, { ...generateOptions, ...spec });
          speculative = speculativeTimings(draft!.ran, s.stats);
          r = s;
        } else {
          r = await generate(m.model, seq, prompt.tokens, generateOptions);
        }
      } finally {
        seq.clear();
      }
    }
    prefillMs = r.prefillMs;
    decodeMs = r.decodeMs;
    if (r.stoppedBy === 'stopToken') stoppedBy = 'stopToken';
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
    stoppedBy = 'cancelled';
  }
  // A low-confidence cut drops the bytes of a character the unsure token would have completed.
  if (!lowConfidence) raw += decoder.flush().replace(/\uFFFD$/, '');
  if (cutAt < 0) cutAt = rule(raw, true);
  const kept = cutAt >= 0 ? raw.slice(0, cutAt) : raw;
  const empty = stoppedBy === 'cancelled' || (lowConfidence !== undefined && kept.trim() === '');
  const text = empty ? '' : postprocess(kept, { prefix: prompt.prefix, suffix: req.suffix });
  return {
    text,
    rawText: raw,
    stoppedBy,
    template: template.name,
    timings: { promptTokens: prompt.tokens.length, generatedTokens: generated, queueMs: 0, tokenizeMs, reusedTokens, prefillMs, decodeMs, speculative },
    lowConfidence,
    tokens,
  };
}
