// Choosing the next token from a row of logits: greedy, or sampling with temperature, top-k and top-p
// from a seeded generator (the same seed gives the same text).

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all). */
  topP: number;
  seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export function isGreedy(s: SamplingOptions): boolean {
  return s.temperature <= 0 || s.topK === 1;
}

/** splitmix32: a small, fast, seedable generator of uniform [0, 1) numbers. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x100000000;
  }
}

/** First index of the largest value (numpy's and llama.cpp's tie rule). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * The distribution sampling draws from after temperature, top-k and top-p, as (ids, probabilities)
 * sorted by probability. Speculative decoding needs it explicitly (for its acceptance test).
 */
export function samplingDistribution(logits: ArrayLike<number>, s: SamplingOptions): { ids: Int32Array; probs: Float64Array } {
  const n = logits.length;
  const k = s.topK > 0 ? Math.min(s.topK, n) : n;
  // Partial selection of the top k would be faster; a full sort of 150k is ~15 ms, fine per token for now.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => logits[b] - logits[a] || a - b);
  const ids = Int32Array.from(order.slice(0, k));
  const max = logits[ids[0]];
  const probs = new Float64Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    probs[i] = Math.exp((logits[ids[i]] - max) / s.temperature);
    sum += probs[i];
  }
  let keep = k;
  let acc = 0;
  for (let i = 0; i < k; i++) {
    probs[i] /= sum;
    acc += probs[i];
    if (acc >= s.topP && keep === k) keep = i + 1;
  }
  if (keep < k) {
    const kept = probs.subarray(0, keep);
    const ksum = kept.reduce((a, b) => a + b, 0);
    for (let i = 0; i < keep; i++) kept[i] /= ksum;
    return { ids: ids.slice(0, keep), probs: Float64Array.from(kept) };
  }
  return { ids, probs };
}

export function sample(logits: ArrayLike<number>, s: SamplingOptions, rng: Rng): number {
  if (isGreedy(s)) return argmax(logits);
  const { ids, probs } = samplingDistribution(logits, s);
  let u = rng.next();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i];
    if (u < 0) return ids[i];
  }
  return ids[ids.length - 1];
}
