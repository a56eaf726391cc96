// Draft sources: whatever proposes the next tokens for the target to verify. A draft model (a smaller model
// of the same family, or the target's own quantized copy) keeps its own sequence (in a KV pool of its own,
// or in the target's when it runs on the target's KV buffers) and follows the committed text by
// truncation: before each proposal it keeps the longest prefix its cache shares with the committed tokens
// and feeds the rest, so rejected drafts are simply forgotten. Greedy proposals run their passes after the
// first as one GPU chain (LlamaModel.decodeChain): one readback per proposal, not one per token.

import { BlockPool } from '../kvcache/blockPool';
import { Sequence, windowStart } from '../kvcache/sequence';
import type { ForwardRequest, ForwardResult, LlamaModel } from '../model/llama';
import { isGreedy, type Rng, type SamplingOptions } from './sampler';
import { denseDistribution, drawFrom } from './speculativeSampling';
import { IDENTITY_MAPPING, type VocabMapping } from './draftVocab';

/** The part of LlamaModel speculative decoding uses (tests substitute small CPU models). */
export type ForwardModel = Pick<LlamaModel, 'forward' | 'maxBatchTokens' | 'maxLogitRows' | 'config' | 'options'> & { kv: { nBlocks: number; sharedPool?: BlockPool }; decodeChain?: LlamaModel['decodeChain'] };

export interface Proposal {
  /** Drafted token ids (target vocabulary), at most the k asked for; fewer when the draft is unsure. */
  tokens: number[];
  /** Per token, the [vocab] distribution it was sampled from; absent: deterministic (a point mass). */
  probs?: Float64Array[];
  /** Draft forward passes this proposal ran. */
  passes: number;
}

export interface ProposeContext {
  sampling: SamplingOptions;
  rng: Rng;
  /** Target vocabulary size (dense distributions are this long). */
  vocab: number;
  signal?: AbortSignal;
}

export interface DraftSource {
  readonly kind: 'model' | 'ngram' | 'mixed' | 'controlled';
  /** Up to k tokens to follow `context` (every committed token: prompt and output so far). */
  propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal>;
  /** Told how a proposal fared (mixed sources pick by recent acceptance). */
  observe?(proposal: Proposal, accepted: number): void;
  /** Releases what the source holds for the current request (its KV blocks). */
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
   * The pool the draft's sequence allocates from: the target's, when the draft uses the target's KV
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
}

/** Proposals from a draft model: a forward pass per drafted token (greedy: all but the first in one chain). */
export class ModelDraft implements DraftSource {
  readonly kind = 'model';
  readonly pool: BlockPool;
  private readonly seq: Sequence;
  /** Draft-vocabulary tokens whose K/V the draft's sequence holds, in order. */
  private readonly cached: number[] = [];
  private readonly mapping: VocabMapping;
  private readonly minConfidence: number;
  private readonly chain: boolean;
  /** The model's forward gives each argmax's probability (LlamaModel does): no logits needed for minConfidence. */
  private givesProbs = false;
  /** In propose: its sequence is being written, so releaseBlocks must not clear it. */
  private busy = false;
  /** Times the draft gave its blocks back to a pool under pressure, and proposals skipped for want of room (a shared pool). */
  readonly poolStats = { releases: 0, roomless: 0 };

  constructor(readonly model: ForwardModel, o: ModelDraftOptions = {}) {
    this.pool = o.pool ?? model.kv.sharedPool ?? new BlockPool(model.kv.nBlocks, model.options.blockSize);
    this.seq = new Sequence(this.pool);
    this.mapping = o.mapping ?? IDENTITY_MAPPING;
    this.minConfidence = o.minConfidence ?? 0;
    this.chain = o.chain ?? true;
  }

  async propose(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    this.busy = true;
    try {
      return await this.proposeFrom(context, k, ctx);
    } finally {
      this.busy = false;
    }
  }

  private async proposeFrom(context: readonly number[], k: number, ctx: ProposeContext): Promise<Proposal> {
    const greedy = isGreedy(ctx.sampling);
    const wantLogits = !greedy || (this.minConfidence > 0 && !this.givesProbs);
    const vocab = this.model.config.vocabSize;
    const committed = this.mapping.identity ? context : context.map((t) => this.mapping.toDraft(t));
    // Room for the proposal in the draft's own context; none left: no proposal.
    k = Math.min(k, this.model.options.maxContextTokens - committed.length + 1);
    if (k <= 0) return { tokens: [], passes: 0 };
    let keep = 0;
    while (keep < this.cached.length && keep < committed.length - 1 && this.cached[keep] === committed[keep]) keep++;
    this.seq.truncate(keep);
    // A sliding window already released positions the next pass would read: start over.
    if (this.seq.firstHeldPosition > windowStart(keep, this.model.config.slidingWindow ?? 0)) {
      keep = 0;
      this.seq.clear();
    }
    this.cached.length = keep;
    // Draft only into blocks that are free or cached now: in a pool shared with the target, drafting never
    // takes the blocks of the target's idle documents (the pool's pressure hook) nor fails a request
    // with OutOfMemoryError; short of room, no proposal (the target takes a plain step).
    const needed = Math.ceil((committed.length + k) / this.pool.blockSize) - this.seq.blockTable.length;
    if (needed > this.pool.availableBlocks) {
      this.poolStats.roomless++;
      return { tokens: [], passes: 0 };
    }

    const tokens: number[] = [];
    const probs: Float64Array[] = [];
    let passes = 0;
    let feed = committed.slice(keep);
    for (let i = 0; i < k; i++) {
      if (i > 0 && greedy && this.chain && this.model.decodeChain && k - i <= this.model.maxBatchTokens) {
        // The rest of the proposal in one chain: feed[0] (the last drafted token) and each argmax after it.
        const rest = await this.model.decodeChain({ seq: this.seq, token: feed[0], steps: k - i, signal: ctx.signal });
        passes += k - i;
        this.cached.push(feed[0], ...rest.ids.subarray(0, k - i - 1));
        for (let j = 0; j < rest.ids.length; j++) {
          if (this.minConfidence > 0 && rest.probs[j] < this.minConfidence) break;
          const xt = this.mapping.toTarget(rest.ids[j]);
          if (xt < 0 || xt >= ctx.vocab) break;
          tokens.push(xt);
        }
        break;
      }
      const r = await this.forwardAll(feed, wantLogits, ctx.signal);
      passes++;
      this.cached.push(...feed);
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
    return { tokens, probs: greedy ? undefined : probs, passes };
  }

  /** Feeds `tokens` (batches of the model's maximum) and returns the last row's id / logits. */
  private async forwardAll(tokens: number[], wantLogits: boolean, signal?: AbortSignal): Promise<ForwardResult> {
    const B = this.model.maxBatchTokens;
    let r: ForwardResult = { ids: new Uint32Array(0) };
    for (let at = 0; at < tokens.length; at += B) {
      const last = at + B >= tokens.length;
      const req: ForwardRequest = { tokens: tokens.slice(at, at + B), seq: this.seq, logitRows: last ? 1 : 0, wantLogits: last && wantLogits, signal };
      r = await this.model.forward(req);
    }
    return r;
  }

  reset(): void {
    this.seq.clear();
    this.cached.length = 0;
  }

  /**
   * For the target's DocumentCache (DocumentCacheOptions.sharedPool): this draft's pool, when the draft runs
   * on `target`'s KV buffers (one pool for both, draftLoad.ts); undefined when it has buffers of its own.
   */
  sharedPoolWith(target: { kv: unknown }): { pool: BlockPool; release: () => boolean } | undefined {
    return this.model.kv === target.kv ? { pool: this.pool, release: () => this.releaseBlocks() } : undefined;
  }

  /**
   * Gives the draft's blocks back to its pool (the target needs them: a shared pool under pressure), unless
   * a proposal is being drafted; true if any were released. The next proposal re-feeds the context.
   */
  releaseBlocks(): boolean {
    if (this.busy || this.seq.blockTable.length === 0) return false;
    this.reset();
    this.poolStats.releases++;
    return true;
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
