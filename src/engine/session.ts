// Per-document prompt caching over one model: each document keeps the sequence of its last request, and a
// new request reuses the longest cached prefix (full blocks from the prefix index, any document's; then the
// document's own partial last block, copied on write when shared), prefills only the rest, and registers
// the finished sequence's full blocks for the next request. Tokens the model generated stay in the
// document's sequence, so a completion the user accepts is already cached when the next request arrives.
//
// Memory: the pool is the model's KV pool, allocated once. When an allocation finds no free or cached
// block, the least recently used idle document drops its sequence (its registered blocks become cached,
// hence evictable); when nothing is left to drop, the request fails with OutOfMemoryError and the others
// keep their state. Documents beyond `maxDocuments` are forgotten least recently used first.

import { LRUCache } from 'lru-cache';
import { BlockPool, type PoolStats } from '../kvcache/blockPool';
import { modelNamespace, PrefixCache, type CachedSequence, type PrefixCacheOptions } from '../kvcache/prefixCache';
import type { ForwardModel } from './draft';
import type { IndexStats } from '../kvcache/prefixIndex';
import { WINDOW_SLACK_TOKENS, type LlamaModel } from '../model/llama';
import { generate, prefill, type GenerateOptions, type GenerateResult } from './generate';
import { speculativeGenerate, type SpeculativeOptions, type SpeculativeStats } from './speculative';

/** A completion's decoding: plain, or speculative with the draft's settings. */
export interface DocumentCompleteOptions extends GenerateOptions {
  speculative?: Pick<SpeculativeOptions, 'draft' | 'draftLength' | 'maxDraftLength' | 'keepDraftState' | 'lengths'>;
}

export interface DocumentCacheOptions {
  /** Documents whose sequences are kept (default 16). */
  maxDocuments?: number;
  /** false: every request prefills its whole prompt (the baseline). Default true. */
  enabled?: boolean;
  /**
   * A pool over the model's KV buffers that a draft model's sequence allocates from too (a draft on the
   * target's buffers, draftLoad.ts), and how to make that draft let go of its blocks: under pressure the
   * draft's blocks go first (the small model re-feeds them cheaply), then idle documents'.
   */
  sharedPool?: { pool: BlockPool; release: () => boolean };
}

export interface PromptStats {
  promptTokens: number;
  /** Prompt tokens whose K/V came from the cache. */
  reusedTokens: number;
  /** Prompt tokens run through the model (promptTokens - reusedTokens). */
  prefilledTokens: number;
  /** Blocks copied on write for this request. */
  copiedBlocks: number;
}

export interface PrefillResult extends PromptStats {
  /** Argmax of the last position. */
  id: number;
  logits?: Float32Array;
  prefillMs: number;
}

export interface CompletionResult extends GenerateResult, PromptStats {
  /** From the request to the first generated token (lookup, copies, prefill, first argmax). */
  ttftMs: number;
  totalMs: number;
  /** Speculative requests: target passes, drafted and accepted tokens. */
  speculative?: SpeculativeStats;
}

export interface CacheStats {
  pool: PoolStats;
  index: IndexStats;
  documents: number;
  requests: number;
  promptTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  /** reusedTokens / promptTokens over all requests. */
  tokenHitRate: number;
  copiedBlocks: number;
  /** Idle documents whose sequences were released to make room (memory pressure). */
  documentsDropped: number;
}

interface DocumentState {
  cs?: CachedSequence;
  busy: boolean;
}

/**
 * A model's prefix-cache settings: the namespace of its K/V, its block copier (copy-on-write) and, for a
 * sliding-window model, the window and the slack its forward passes keep. The documents' cache and a
 * draft model's (ModelDraft) take them alike.
 */
export function prefixCacheOptionsOf(model: Pick<ForwardModel, 'config' | 'options' | 'kv'>): Pick<PrefixCacheOptions, 'namespace' | 'copyBlock' | 'window'> {
  const c = model.config;
  const kv = model.kv;
  return {
    namespace: modelNamespace(model),
    copyBlock: kv.copyBlock && ((src, dst) => kv.copyBlock!(src, dst)),
    window: c.slidingWindow > 0 ? { tokens: c.slidingWindow, slackTokens: model.options.windowSlackTokens ?? WINDOW_SLACK_TOKENS } : undefined,
  };
}

export class DocumentCache {
  readonly pool: BlockPool;
  readonly cache: PrefixCache;
  private readonly docs: LRUCache<string, DocumentState>;
  private totals = { requests: 0, promptTokens: 0, reusedTokens: 0, prefilledTokens: 0, copiedBlocks: 0, documentsDropped: 0 };

  constructor(readonly model: LlamaModel, o: DocumentCacheOptions = {}) {
    this.pool = o.sharedPool?.pool ?? model.kv.sharedPool ?? new BlockPool(model.kv.nBlocks, model.options.blockSize);
    this.cache = new PrefixCache(this.pool, { ...prefixCacheOptionsOf(model), enabled: o.enabled });
    this.docs = new LRUCache<string, DocumentState>({
      max: o.maxDocuments ?? 16,
      dispose: (d) => { if (d.cs && !d.busy) this.cache.release(d.cs); },
    });
    const releaseShared = o.sharedPool?.release;
    this.pool.onPressure = () => (releaseShared?.() ?? false) || this.dropIdleDocument();
  }

  /** Runs `prompt` for document `docId` and returns the last position's argmax (and logits). */
  async prefill(docId: string, prompt: number[], o: { wantLogits?: boolean; signal?: AbortSignal } = {}): Promise<PrefillResult> {
    return this.withDocument(docId, prompt, () => prompt, async (cs) => {
      const t0 = performance.now();
      const rest = prompt.slice(cs.length);
      try {
        const r = await prefill(this.model, cs.seq, rest, o.wantLogits ?? false, o.signal);
        return { id: r.id, logits: r.logits, prefillMs: performance.now() - t0 };
      } finally {
        cs.sync(prompt);
      }
    });
  }

  /**
   * Completes `prompt` for document `docId` (prefill of the uncached part, then decoding). Speculative
   * decoding runs on the same cached sequence: it leaves the prompt and the output but its last token in
   * it, as plain decoding leaves prompt and output (but the last token at maxTokens), and both are recorded
   * by sync. The target's output is the same either way (greedy: the same tokens).
   */
  async complete(docId: string, prompt: number[], o: DocumentCompleteOptions): Promise<CompletionResult> {
    const t0 = performance.now();
    const out: number[] = [];
    return this.withDocument(docId, prompt, () => prompt.concat(out), async (cs) => {
      let firstTokenMs: number | undefined;
      const options: GenerateOptions = { ...o, onToken: (id, p) => { firstTokenMs ??= performance.now(); out.push(id); return o.onToken?.(id, p); } };
      try {
        if (o.speculative) {
          // speculativeGenerate takes the whole prompt and feeds what the sequence lacks.
          const { stats, ...r } = await speculativeGenerate(this.model, cs.seq, prompt, { ...options, ...o.speculative, document: docId });
          // The first token comes out of the first verify pass, inside decodeMs.
          const ttftMs = (firstTokenMs ?? performance.now()) - t0;
          return { ...r, speculative: stats, ttftMs, totalMs: performance.now() - t0 };
        }
        const r = await generate(this.model, cs.seq, prompt.slice(cs.length), options);
        const ttftMs = performance.now() - t0 - r.decodeMs;
        return { ...r, promptTokens: prompt.length, ttftMs, totalMs: performance.now() - t0 };
      } finally {
        cs.sync(prompt.concat(out));
      }
    });
  }

  /** Drops a document's sequence (its registered blocks stay cached). */
  forget(docId: string): void {
    this.docs.delete(docId);
  }

  stats(): CacheStats {
    const t = this.totals;
    return {
      pool: this.pool.stats(), index: this.cache.index.stats(), documents: this.docs.size, ...t,
      tokenHitRate: t.promptTokens ? t.reusedTokens / t.promptTokens : 0,
    };
  }

  /** Forgets every document and every cached block ("Clear Cache"); call between requests. */
  clear(): void {
    this.docs.clear();
    this.cache.index.clear();
  }

  dispose(): void {
    this.docs.clear();
  }

  /**
   * `tokens()` gives the tokens of every position the request has fed so far (prompt, then output): a
   * sliding window releasing blocks mid-request registers them first, so they stay reusable.
   */
  private async withDocument<R>(docId: string, prompt: number[], tokens: () => readonly number[], body: (cs: CachedSequence) => Promise<R>): Promise<R & PromptStats> {
    if (prompt.length === 0) throw new RangeError('empty prompt');
    let doc = this.docs.get(docId);
    if (!doc) {
      doc = { busy: false };
      this.docs.set(docId, doc);
    }
    if (doc.busy) throw new Error(`document ${docId} already has a request running`);
    doc.busy = true;
    try {
      // Keep one token to run: its logits are the answer.
      const cs = this.cache.acquire(prompt, prompt.length - 1, doc.cs);
      doc.cs = cs;
      this.cache.commitBeforeRelease(cs, tokens);
      const copiesBefore = cs.seq.copies;
      const stats: PromptStats = { promptTokens: prompt.length, reusedTokens: cs.length, prefilledTokens: prompt.length - cs.length, copiedBlocks: 0 };
      const t = this.totals;
      t.requests++;
      t.promptTokens += stats.promptTokens;
      t.reusedTokens += stats.reusedTokens;
      t.prefilledTokens += stats.prefilledTokens;
      try {
        const r = await body(cs);
        stats.copiedBlocks = cs.seq.copies - copiesBefore;
        return { ...r, ...stats };
      } finally {
        t.copiedBlocks += cs.seq.copies - copiesBefore;
        this.cache.commit(cs);
      }
    } finally {
      doc.busy = false;
      // Evicted from the document LRU while busy: release now.
      if (this.docs.peek(docId) !== doc && doc.cs) { this.cache.release(doc.cs); doc.cs = undefined; }
    }
  }

  private dropIdleDocument(): boolean {
    for (const d of this.docs.rvalues()) {
      if (d && !d.busy && d.cs && d.cs.length > 0) {
        this.cache.release(d.cs);
        d.cs = undefined;
        this.totals.documentsDropped++;
        return true;
      }
    }
    return false;
  }
}
