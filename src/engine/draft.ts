// Draft sources: whatever proposes the next tokens for the target to verify. A draft model (a smaller model
// of the same family, or the target's own quantized copy) caches its K/V the way the target does
// (src/kvcache): a sequence per document and a prefix index over its full blocks, in a KV pool of its own
// or in the target's when it runs on the target's KV buffers. Before each proposal it takes the longest
// cached prefix of the committed tokens (the index's blocks, then the document's own sequence) and feeds
// the rest, so rejected drafts are simply forgotten, and coming back to a document, or a prompt that shares
// its start with one seen before, costs the draft a few tokens instead of its whole prompt. Greedy
// proposals run their passes after the first as one GPU chain (LlamaModel.decodeChain): one readback per
// proposal, not one per token.

import { LRUCache } from 'lru-cache';
import { BlockPool } from '../kvcache/blockPool';
import { PrefixCache, type CachedSequence } from '../kvcache/prefixCache';
import type { BlockCopier } from '../kvcache/sequence';
import type { ForwardRequest, ForwardResult, LlamaModel } from '../model/llama';
import { prefixCacheOptionsOf } from './session';
import { isGreedy, type Rng, type SamplingOptions } from './sampler';
import { denseDistribution, drawFrom } from './speculativeSampling';
import { IDENTITY_MAPPING, type VocabMapping } from './draftVocab';

/** The part of LlamaModel speculative decoding uses (tests substitute small CPU models). */
export type ForwardModel = Pick<LlamaModel, 'forward' | 'maxBatchTokens' | 'maxLogitRows' | 'config' | 'options'> & {
  kv: { nBlocks: number; sharedPool?: BlockPool; copyBlock?: BlockCopier };
  decodeChain?: LlamaModel['decodeChain'];
  /** Pipelined greedy passes (GreedyStream); a target with them decodes k = 0 stretches that way. */
  submitFedPass?: LlamaModel['submitFedPass'];
  gpu?: LlamaModel['gpu'];
  pipelineDepth?: number;
};

export interface Proposal {
  /** Drafted token ids (target vocabulary), at most the k asked for; fewer when the draft is unsure. */
  tokens: number[];
  /** Per token, the [vocab] distribution it was sampled from; absent: deterministic (a point mass). */
  probs?: Float64Array[];
  /** Draft forward passes this proposal ran. */
  passes: number;
  /** Committed tokens a draft model had to run before drafting (its cache lacked them); 0 for n-grams. */
  prefilled?: number;
}

export interface ProposeContext {
  sampling: SamplingOptions;
  rng: Rng;
  /** Target vocabulary size (dense distributions are this long). */
  vocab: number;
  signal?: AbortSignal;
  /** The document the text comes from: a draft model keeps a sequence per document. */
  document?: string;
}

export interface DraftSource {
  readonly kind: 'model' | 'ngram' | 'mixed' | 'controlled';
  /** Up to k tokens to follow `context` (every committed token: prompt and output so far). */
  propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal>;
  /** Told how a proposal fared (mixed sources pick by recent acceptance). */
  observe?(proposal: Proposal, accepted: number): void;
  /** Releases what the source holds for its requests (a draft model's sequences; cached blocks stay evictable). */
  reset(): void;
}

export interface ModelDraftOptions {
  mapping?: VocabMapping;
  /**
   * Greedy requests: stop drafting at a token whose draft probability is below this (0 = never stop
   * early). The GPU argmax gives that probability; a model without it has its logits read back.
   * Sampled requests draft until k.
   */
  minConfidence?: number;
  /**
   * The pool the draft's sequences allocate from: the target's, when the draft uses the target's KV
   * buffers (same K/V shape: a self draft), so one pool serves both; default a pool of its own over its
   * model's KV buffers.
   */
  pool?: BlockPool;
  /**
   * Greedy proposals: after the first pass, the rest in one GPU chain with one readback (decodeChain)
   * instead of a round trip per token. Unsure tokens still end the proposal, but after the chain has run
   * (its passes are spent). Default true where the model has decodeChain.
   */
  chain?: boolean;
  /** Documents whose draft sequences are kept (default 16, as the target's DocumentCache). */
  maxDocuments?: number;
  /**
   * false: one sequence for every document and no prefix index, reused by its longest common prefix with
   * the next context only (the draft before it had a prefix cache; the benchmark's baseline). Default true.
   */
  prefixCache?: boolean;
}

/** What a draft model's cache did over its proposals. */
export interface DraftCacheStats {
  proposals: number;
  /** Committed tokens the proposals started from, of them found cached, and run through the draft. */
  contextTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  /** Times the draft gave its blocks back to a pool under pressure, and proposals skipped for want of room. */
  releases: number;
  roomless: number;
}

/**
 * The pool of a draft model's own KV buffers, one per buffers: every ModelDraft made on the same model
 * (the benchmark makes several) allocates from it, so no block is handed out twice, and each one's index
 * keeps its blocks until the pool evicts them.
 */
const ownPools = new WeakMap<object, BlockPool>();

function ownPoolOf(model: ForwardModel): BlockPool {
  let pool = ownPools.get(model.kv);
  if (!pool) ownPools.set(model.kv, (pool = new BlockPool(model.kv.nBlocks, model.options.blockSize)));
  return pool;
}

/** The document key of proposals that name none. */
const NO_DOCUMENT = '';

/** Proposals from a draft model: a forward pass per drafted token (greedy: all but the first in one chain). */
export class ModelDraft implements DraftSource {
  readonly kind = 'model';
  readonly pool: BlockPool;
  readonly cache: PrefixCache;
  /** Each document's sequence (draft-vocabulary tokens); evicted ones release their blocks. */
  private readonly docs: LRUCache<string, { cs?: CachedSequence }>;
  private readonly perDocument: boolean;
  readonly mapping: VocabMapping;
  private readonly minConfidence: number;
  private readonly chain: boolean;
  /** The model's forward gives each argmax's probability (LlamaModel does): no logits needed for minConfidence. */
  private givesProbs = false;
  /** The document a proposal is being drafted for: its sequence is being written, so nothing may release it. */
  private busy?: string;
  readonly stats: DraftCacheStats = { proposals: 0, contextTokens: 0, reusedTokens: 0, prefilledTokens: 0, releases: 0, roomless: 0 };

  constructor(readonly model: ForwardModel, o: ModelDraftOptions = {}) {
    const shared = o.pool ?? model.kv.sharedPool;
    this.pool = shared ?? ownPoolOf(model);
    this.perDocument = o.prefixCache ?? true;
    const base = prefixCacheOptionsOf(model);
    // Its own index, even on the target's pool: the same tokens give the draft other K/V.
    this.cache = new PrefixCache(this.pool, { ...base, namespace: `draft|${base.namespace}`, index: this.perDocument });
    this.docs = new LRUCache({
      max: this.perDocument ? (o.maxDocuments ?? 16) : 1,
      dispose: (d, key) => { if (d.cs && key !== this.busy) { this.cache.release(d.cs); d.cs = undefined; } },
    });
    this.mapping = o.mapping ?? IDENTITY_MAPPING;
    this.minConfidence = o.minConfidence ?? 0;
    this.chain = o.chain ?? true;
    // A pool of its own: under pressure the draft's idle documents let go, then those of the other drafts
    // on the pool (a pool shared with the target: its DocumentCache asks releaseBlocks first, see sharedPoolWith).
    if (!shared) {
      const before = this.pool.onPressure;
      this.pool.onPressure = () => this.releaseBlocks() || (before?.() ?? false);
    }
  }

  async propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    const key = this.perDocument ? (ctx.document ?? NO_DOCUMENT) : NO_DOCUMENT;
    let doc = this.docs.get(key);
    if (!doc) this.docs.set(key, (doc = {}));
    this.busy = key;
    try {
      return await this.proposeFrom(doc, context, k, ctx);
    } finally {
      this.busy = undefined;
      // Evicted from the document LRU while drafting: release now.
      if (this.docs.peek(key) !== doc && doc.cs) { this.cache.release(doc.cs); doc.cs = undefined; }
    }
  }

  private async proposeFrom(doc: { cs?: CachedSequence }, context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    const greedy = isGreedy(ctx.sampling);
    const wantLogits = !greedy || (this.minConfidence > 0 && !this.givesProbs);
    const vocab = this.model.config.vocabSize;
    const committed = this.mapping.identity ? context : context.map((t) => this.mapping.toDraft(t));
    // Room for the proposal in the draft's own context; none left: no proposal.
    k = Math.min(k, this.model.options.maxContextTokens - committed.length + 1);
    if (k <= 0) return { tokens: [], passes: 0 };
    // The longest cached prefix, keeping the last committed token to run (its logits give the first draft).
    const cs = this.cache.acquire(committed, committed.length - 1, doc.cs);
    doc.cs = cs;
    // Every token the sequence will hold once the pass in flight is done: a sliding window releasing
    // blocks mid-pass registers them first, so they stay reusable.
    const written: number[] = committed.slice(0, cs.length);
    this.cache.commitBeforeRelease(cs, () => written);
    const s = this.stats;
    // Draft only into blocks that are free or cached now (a partial last block may need a copy): in a pool
    // shared with the target, drafting never takes the blocks of the target's idle documents (the pool's
    // pressure hook) nor fails a request with OutOfMemoryError; the draft's own idle documents go first;
    // short of room, no proposal (the target takes a plain step).
    const needed = Math.ceil((committed.length + k) / this.pool.blockSize) - cs.seq.blockTable.length + (cs.length % this.pool.blockSize ? 1 : 0);
    if (needed > this.pool.availableBlocks) this.releaseBlocks();
    if (needed > this.pool.availableBlocks) {
      s.roomless++;
      return { tokens: [], passes: 0, prefilled: 0 };
    }
    const prefilled = committed.length - cs.length;
    s.proposals++;
    s.contextTokens += committed.length;
    s.reusedTokens += cs.length;
    s.prefilledTokens += prefilled;

    const tokens: number[] = [];
    const probs: Float64Array[] = [];
    let passes = 0;
    let feed = committed.slice(cs.length);
    try {
      for (let i = 0; i < k; i++) {
        if (i > 0 && greedy && this.chain && this.model.decodeChain && k - i <= this.model.maxBatchTokens) {
          // The rest of the proposal in one chain: feed[0] (the last drafted token) and each argmax after it.
          written.push(feed[0]);
          const rest = await this.model.decodeChain({ seq: cs.seq, token: feed[0], steps: k - i, signal: ctx.signal });
          passes += k - i;
          written.push(...rest.ids.subarray(0, k - i - 1));
          for (let j = 0; j < rest.ids.length; j++) {
            if (this.minConfidence > 0 && rest.probs[j] < this.minConfidence) break;
            const xt = this.mapping.toTarget(rest.ids[j]);
            if (xt < 0 || xt >= ctx.vocab) break;
            tokens.push(xt);
          }
          break;
        }
        written.push(...feed);
        const r = await this.forwardAll(cs, feed, wantLogits, ctx.signal);
        passes++;
        if (r.probs) this.givesProbs = true;
        let x = r.ids[0];
        let q: Float64Array | undefined;
        if (!greedy) {
          q = denseDistribution(r.logits!, ctx.sampling, vocab);
          x = drawFrom(q, ctx.rng);
        } else if (this.minConfidence > 0 && (r.probs?.[0] ?? maxSoftmax(r.logits!)) < this.minConfidence) {
          break;
        }
        const xt = this.mapping.toTarget(x);
        if (xt < 0 || xt >= ctx.vocab) break;
        tokens.push(xt);
        if (q) probs.push(this.mapping.identity && vocab === ctx.vocab ? q : remap(q, this.mapping, ctx.vocab));
        feed = [x];
      }
    } finally {
      // Whatever ran (an error or a cancel may cut a pass short): record it, and register the committed
      // text's full blocks (drafted tokens are not registered: most are rejected, and kept ones are
      // registered as committed text by the next proposal).
      cs.sync(written);
      this.cache.commit(cs, Math.floor(committed.length / this.pool.blockSize));
    }
    return { tokens, probs: greedy ? undefined : probs, passes, prefilled };
  }

  /** Feeds `tokens` (batches of the model's maximum) and returns the last row's id / logits. */
  private async forwardAll(cs: CachedSequence, tokens: number[], wantLogits: boolean, signal?: AbortSignal): Promise<ForwardResult> {
    const B = this.model.maxBatchTokens;
    let r: ForwardResult = { ids: new Uint32Array(0) };
    for (let at = 0; at < tokens.length; at += B) {
      const last = at + B >= tokens.length;
      const req: ForwardRequest = { tokens: tokens.slice(at, at + B), seq: cs.seq, logitRows: last ? 1 : 0, wantLogits: last && wantLogits, signal };
      r = await this.model.forward(req);
    }
    return r;
  }

  /** Releases every document's sequence; their registered blocks stay cached (evictable) for later prompts. */
  reset(): void {
    for (const d of this.docs.values()) if (d.cs) { this.cache.release(d.cs); d.cs = undefined; }
    this.docs.clear();
  }

  /** reset, and forgets every cached block ("Clear Cache"). */
  clear(): void {
    this.reset();
    this.cache.index.clear();
  }

  /**
   * For the target's DocumentCache (DocumentCacheOptions.sharedPool): this draft's pool, when the draft runs
   * on `target`'s KV buffers (one pool for both, draftLoad.ts); undefined when it has buffers of its own.
   */
  sharedPoolWith(target: { kv: unknown }): { pool: BlockPool; release: () => boolean } | undefined {
    return this.model.kv === target.kv ? { pool: this.pool, release: () => this.releaseBlocks() } : undefined;
  }

  /**
   * Gives the blocks of the draft's idle documents back to its pool (the target needs them: a shared pool
   * under pressure); true if any were released. The document being drafted for keeps its sequence; the
   * others re-feed what the index no longer holds on their next proposal.
   */
  releaseBlocks(): boolean {
    let any = false;
    for (const [key, d] of this.docs.entries()) {
      if (key === this.busy || !d.cs || d.cs.seq.blockTable.length === 0) continue;
      this.cache.release(d.cs);
      d.cs = undefined;
      any = true;
    }
    if (any) this.stats.releases++;
    return any;
  }
}

function maxSoftmax(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return 1 / sum;
}

/** A draft-vocabulary distribution moved onto target ids (mass on unmappable tokens is dropped and renormalised). */
function remap(q: Float64Array, m: VocabMapping, vocab: number): Float64Array {
  const out = new Float64Array(vocab);
  let sum = 0;
  for (let d = 0; d < q.length; d++) {
    if (q[d] === 0) continue;
    const t = m.toTarget(d);
    if (t < 0 || t >= vocab) continue;
    out[t] += q[d];
    sum += q[d];
  }
  if (sum > 0) for (let t = 0; t < vocab; t++) out[t] /= sum;
  return out;
}
