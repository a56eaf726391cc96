// A CPU stand-in for LlamaModel in the speculative-decoding unit tests: a tiny vocabulary, logits that
// depend on the tokens at the current and the previous position as read from its paged "K/V" (the token
// written at each slot of each block, through the sequence's block table, as the GPU kernels read them:
// a sequence whose length or blocks are mismanaged reads the wrong token), and thousands of passes per second.
// A draft is the same function with noise added, so its agreement with the target is partial.

import type { Sequence } from '../../src/kvcache/sequence';
import type { ForwardRequest, ForwardResult } from '../../src/model/llama';
import type { ForwardModel } from '../../src/engine/draft';
import { argmax, Rng } from '../../src/engine/sampler';

export interface FakeModelSpec {
  vocab: number;
  seed: number;
  /** Scale of the logits (larger: more peaked). */
  sharpness: number;
  /** Noise added on top of the `base` model's logits (a draft of that model). */
  noise?: number;
  base?: FakeModel;
  maxBatchTokens?: number;
  maxContextTokens?: number;
}

export class FakeModel {
  readonly config: { vocabSize: number };
  readonly options: { maxBatchTokens: number; maxContextTokens: number; blockSize: number; kvBudgetBytes: number };
  readonly maxLogitRows: number;
  /** [nBlocks][blockSize] token written at each slot (stale slots past a sequence's length stay, as on the GPU). */
  private readonly slots: Int32Array;
  readonly kv: { nBlocks: number; copyBlock: (src: number, dst: number) => void };
  passes = 0;

  constructor(readonly spec: FakeModelSpec) {
    this.config = { vocabSize: spec.vocab };
    this.options = { maxBatchTokens: spec.maxBatchTokens ?? 32, maxContextTokens: spec.maxContextTokens ?? 1024, blockSize: 4, kvBudgetBytes: 0 };
    this.maxLogitRows = this.options.maxBatchTokens;
    const nBlocks = 64;
    const bs = this.options.blockSize;
    this.slots = new Int32Array(nBlocks * bs).fill(-1);
    this.kv = { nBlocks, copyBlock: (src, dst) => this.slots.copyWithin(dst * bs, src * bs, (src + 1) * bs) };
  }

  get maxBatchTokens(): number {
    return this.options.maxBatchTokens;
  }

  asModel(): ForwardModel {
    return this as unknown as ForwardModel;
  }

  /** Logits after `prev` (-1 at position 0) then `cur`. */
  logitsAfter(prev: number, cur: number): Float32Array {
    const s = this.spec;
    const out = s.base ? s.base.logitsAfter(prev, cur) : new Float32Array(s.vocab);
    const rng = new Rng((s.seed * 1000003 + (prev + 1) * 7919 + cur * 104729) >>> 0);
    const scale = s.base ? (s.noise ?? 0) : s.sharpness;
    for (let i = 0; i < s.vocab; i++) out[i] += scale * (rng.next() + rng.next() + rng.next() - 1.5);
    return out;
  }

  /** The tokens a sequence's blocks hold at positions [0, seq.length): what a forward pass would read. */
  tokensOf(seq: Sequence): number[] {
    const bs = this.options.blockSize;
    return Array.from({ length: seq.length }, (_, p) => this.slots[seq.blockTable[Math.floor(p / bs)] * bs + (p % bs)]);
  }

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const { seq, tokens, logitRows: R } = req;
    const T = tokens.length;
    if (T < 1 || T > this.options.maxBatchTokens || R > T) throw new Error(`bad batch ${T}/${R}`);
    const pos0 = seq.length;
    if (pos0 + T > this.options.maxContextTokens) throw new Error('context overflow');
    seq.reserve(pos0 + T);
    const bs = this.options.blockSize;
    const slot = (pos: number): number => {
      const b = seq.blockTable[Math.floor(pos / bs)];
      if (b === undefined || b >= this.kv.nBlocks) throw new Error(`position ${pos} has no block`);
      return b * bs + (pos % bs);
    };
    for (let i = 0; i < T; i++) {
      if (!Number.isInteger(tokens[i]) || tokens[i] < 0 || tokens[i] >= this.spec.vocab) throw new Error(`token ${tokens[i]}`);
      this.slots[slot(pos0 + i)] = tokens[i];
    }
    const cache = { at: (pos: number) => this.slots[slot(pos)] };
    seq.length = pos0 + T;
    this.passes++;
    const ids = new Uint32Array(R);
    const logits = req.wantLogits ? new Float32Array(R * this.spec.vocab) : undefined;
    for (let r = 0; r < R; r++) {
      const pos = pos0 + T - R + r;
      const row = this.logitsAfter(pos > 0 ? cache.at(pos - 1) : -1, cache.at(pos));
      ids[r] = argmax(row);
      logits?.set(row, r * this.spec.vocab);
    }
    return { ids, logits };
  }
}
