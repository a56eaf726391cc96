// The typed messages between the extension host and the engine process (child_process.fork with
// 'advanced' serialization: structured clone, so typed arrays and Maps cross as they are).
// Every request carries an id; the engine answers each with exactly one final message (a result or
// 'error'), and a completion may stream 'chunk' messages before its result.

import type { CompletionOptions, CompletionRequest, CompletionResult } from '../../completion/types';
import type { TandemErrorCode } from '../../common/errors';
import type { KvType } from '../../kvcache/kvBuffers';
import type { PrefillLimits } from '../../model/prefillLimits';

export interface LoadParams {
  modelPath: string;
  maxContextTokens?: number;
  kvBudgetBytes?: number;
  /** KV cache element type; unset: the device's default (f16 where it has shader-f16). */
  kvType?: KvType;
  /** A draft GGUF for speculative decoding, loaded with the target (its vocabulary checked: a mismatch fails
   *  the load with DraftVocabularyError, code UNSUPPORTED_MODEL), or 'self:q4_0' / 'self:q8_0' ('self' =
   *  self:q4_0): the target's own weights requantized. Requests choose whether to use it. kvBudgetBytes
   *  then covers both models' KV pools. */
  draftModelPath?: string;
  /**
   * false: no prompt cache, every request prefills its whole prompt (the windows are chosen as usual: a
   * reference for exactness checks, bench/soak.ts). Default true.
   */
  promptCache?: boolean;
  /** Bounds on prefill passes (tandem.prefill.* settings) for the target and the draft; unset fields: the engine's defaults. */
  prefill?: PrefillLimits;
}

export interface ModelInfo {
  path: string;
  name: string;
  architecture: string;
  template: string;
  templateReason: string;
  contextTokens: number;
  weightBytes: number;
  adapter: string;
  isSoftwareAdapter: boolean;
  /** Decode speed measured at load (a few greedy tokens after the warm-up), tokens per second. */
  decodeTokensPerS?: number;
  loadMs: number;
  /** The target's KV pool (blocks, tokens, bytes); with a draft, it and draft.kv share kvBudgetBytes (or it is the one pool of both: draft.kvShared). */
  kv?: KvPoolInfo;
  /**
   * The draft model loaded with the target, if any ('self:q4_0' etc.: the target requantized). kvShared:
   * its K/V has the target's shape and its blocks come from the target's pool (kv), so it has no kv of its own.
   */
  draft?: { path: string; name: string; weightBytes: number; kv?: KvPoolInfo; kvShared?: boolean };
}

export interface KvPoolInfo {
  blocks: number;
  tokens: number;
  bytes: number;
}

export interface EngineStats {
  model: ModelInfo | undefined;
  requests: number;
  cancelled: number;
  generatedTokens: number;
  promptTokens: number;
  /** Decode speed over all requests, tokens per second. */
  decodeTokensPerS: number;
  prefillTokensPerS: number;
  /** Engine-side latency of finished requests (arrival to result), ms. */
  latencyMsP50: number;
  latencyMsP95: number;
  kvBlocksUsed: number;
  kvBlocksTotal: number;
  /** The loaded target's prefill limits in force, and the tokens its next prefill pass may take (PassPacer). */
  prefill?: Required<PrefillLimits> & { passTokens: number };
  /** The per-document prompt cache of the loaded model (prefix reuse across edits). */
  promptCache: PromptCacheStats | undefined;
  /** Requests that decoded speculatively (since the engine started); absent before the first. */
  speculative?: SpeculativeEngineStats;
  rssBytes: number;
  /** The engine's JS heap in use (after a full GC when the stats request asked for one and the process
   *  allows it: gcRan). */
  heapUsedBytes: number;
  gcRan?: boolean;
  /** GPU buffers the engine holds now (weights, KV pools, scratch, staging), counted as they are made and
   *  destroyed. Between requests it stays where it was after the first ones: anything else is a leak. */
  gpuBuffers: { buffers: number; bytes: number };
}

export interface SpeculativeEngineStats {
  requests: number;
  /** Target forward passes of their decoding (each verifies one draft). */
  targetPasses: number;
  draftedTokens: number;
  acceptedTokens: number;
  /** acceptedTokens / draftedTokens. */
  acceptanceRate: number;
  /** Tokens generated per target pass (1 = no gain; plain decoding runs one pass a token). */
  tokensPerPass: number;
  /** Requests per draft source that ran ('ngram', 'model', 'model+ngram'). */
  bySource: Record<string, number>;
  /**
   * The draft model's own prompt cache (a sequence per document and a prefix index, as the target's):
   * committed tokens its proposals started from that it found cached, and those it ran. Absent without a
   * draft model.
   */
  draftCache?: { reusedTokens: number; prefilledTokens: number; tokenHitRate: number };
}

export interface PromptCacheStats {
  documents: number;
  requests: number;
  /** Prompt tokens whose K/V came from the cache, and those run through the model, over all requests. */
  reusedTokens: number;
  prefilledTokens: number;
  /** reusedTokens / (reusedTokens + prefilledTokens). */
  tokenHitRate: number;
  /** KV blocks held by documents, cached (reusable, evictable), free; of blocksTotal. */
  blocksUsed: number;
  blocksCached: number;
  blocksFree: number;
  blocksTotal: number;
  /** Cached blocks reclaimed for new ones, and idle documents dropped to make room. */
  evictions: number;
  documentsDropped: number;
}

export const PREFILL_REPORT_AFTER_MS = 300;
export const PREFILL_REPORT_EVERY_MS = 250;

/** Extension host → engine. A complete request's `request.documentId` (the document's URI) keys the
 *  engine's prompt cache: consecutive requests on one document prefill only what changed. */
export type EngineRequest =
  | { type: 'load'; id: number; params: LoadParams }
  | { type: 'complete'; id: number; request: CompletionRequest; options: CompletionOptions }
  /** Forgets every document's cached prompt ("Tandem: Clear Cache"); runs between two completions. */
  | { type: 'clearCache'; id: number }
  /** New prefill limits (a settings change) for the loaded models, from their next pass; answered at once,
   *  even while a completion runs. A bad value is a USAGE error and changes nothing. */
  | { type: 'tune'; id: number; prefill: PrefillLimits }
  | { type: 'cancel'; id: number; target: number }
  /** gc: run a full garbage collection first where the engine can (node --expose-gc; the soak test's
   *  heap figures), so heapUsedBytes is what is still referenced. */
  | { type: 'stats'; id: number; gc?: boolean }
  | { type: 'dispose'; id: number };

export interface WireError {
  code: TandemErrorCode | 'INTERNAL';
  name: string;
  message: string;
  hint?: string;
}

/** Engine → extension host. */
export type EngineEvent =
  | { type: 'started'; pid: number; node: string }
  | { type: 'progress'; id: number; loadedBytes: number; totalBytes: number }
  | { type: 'loaded'; id: number; info: ModelInfo }
  | { type: 'chunk'; id: number; text: string }
  /** A completion's prompt prefill: `done` of `total` tokens (those the prompt cache lacked) submitted to the
   *  GPU. Sent only for a prefill still running PREFILL_REPORT_AFTER_MS after its request started, then at
   *  most every PREFILL_REPORT_EVERY_MS, and its end (done = total) once reported: a quick one, as on a
   *  GPU or after a keystroke, sends none. */
  | { type: 'prefill'; id: number; done: number; total: number }
  | { type: 'completed'; id: number; result: CompletionResult }
  | { type: 'stats'; id: number; stats: EngineStats }
  | { type: 'cacheCleared'; id: number }
  | { type: 'tuned'; id: number; prefill: Required<PrefillLimits> | undefined }
  | { type: 'disposed'; id: number }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'log'; level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string };
