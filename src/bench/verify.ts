// The cost of a verify pass: one forward pass over T positions (the k + 1 of speculative decoding) after a
// `context`-token prompt, against a one-token pass at the same position, in the same run. Speculative
// decoding pays off when this ratio stays near 1 (a memory-bound GPU reading the weights once per pass);
// the ideal-speedup formula assumes exactly 1.

import type { LlamaModel } from '../model/llama';
import { BlockPool } from '../kvcache/blockPool';
import { Sequence } from '../kvcache/sequence';
import { prefill } from '../engine/generate';
import { median } from './stats';

export const VERIFY_POSITIONS = [1, 2, 3, 5, 9, 17];

export interface VerifyCost {
  positions: number;
  /** Median wall milliseconds of one pass, readback of every row's argmax included. */
  ms: number;
}

/** Median pass time per batch size; each pass is rolled back, so every one starts at the same position. */
export async function measureVerifyCost(model: LlamaModel, prompt: number[], runs: number, positions = VERIFY_POSITIONS): Promise<VerifyCost[]> {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const seq = new Sequence(pool);
  try {
    await prefill(model, seq, prompt, false);
    const base = seq.length;
    const out: VerifyCost[] = [];
    for (const T of positions.filter((t) => t <= model.maxBatchTokens && t <= model.maxLogitRows)) {
      const tokens = prompt.slice(0, T);
      const times: number[] = [];
      // One warm-up pass builds the pipelines of this batch size.
      for (let r = 0; r < runs + 1; r++) {
        const t0 = performance.now();
        await model.forward({ tokens, seq, logitRows: T, wantLogits: false });
        if (r > 0) times.push(performance.now() - t0);
        seq.truncate(base);
      }
      out.push({ positions: T, ms: median(times) });
    }
    return out;
  } finally {
    seq.clear();
  }
}
