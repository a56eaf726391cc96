// A CPU stand-in for LlamaModel in the speculative-decoding unit tests: a tiny vocabulary, logits that
// depend on the tokens at the current and the previous position as read from its own per-sequence cache
// (so a sequence whose length is mismanaged reads the wrong "K/V"), and thousands of passes per second.
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
  readonly kv = { nBlocks: 64 };
  /** Token written at each position, per sequence (stale slots past seq.length stay, as on the GPU). */
  readonly caches = new WeakMap<Sequence, number[]>();
  passes = 0;

  constructor(readonly spec: FakeModelSpec) {
    this.config = { vocabSize: spec.vocab };
    this.options = { maxBatchTokens: spec.maxBatchTokens ?? 32, maxContextTokens: spec.maxContextTokens ?? 1024, blockSize: 4, kvBudgetBytes: 0 };
    this.maxLogitRows = this.options.maxBatchTokens;
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

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const { seq, tokens, logitRows: R } = req;
    const T = tokens.length;
    if (T < 1 || T > this.options.maxBatchTokens || R > T) throw new Error(`bad batch ${T}/${R}`);
    const pos0 = seq.length;
    if (pos0 + T > this.options.maxContextTokens) throw new Error('context overflow');
    seq.reserve(pos0 + T);
    const cache = this.caches.get(seq) ?? [];
    this.caches.set(seq, cache);
    for (let i = 0; i < T; i++) {
      if (!Number.isInteger(tokens[i]) || tokens[i] < 0 || tokens[i] >= this.spec.vocab) throw new Error(`token ${tokens[i]}`);
      cache[pos0 + i] = tokens[i];
    }
    seq.length = pos0 + T;
    this.passes++;
    const ids = new Uint32Array(R);
    const logits = req.wantLogits ? new Float32Array(R * this.spec.vocab) : undefined;
    for (let r = 0; r < R; r++) {
      const pos = pos0 + T - R + r;
      const row = this.logitsAfter(pos > 0 ? cache[pos - 1] : -1, cache[pos]);
      ids[r] = argmax(row);
      logits?.set(row, r * this.spec.vocab);
    }
    return { ids, logits };
  }
}
