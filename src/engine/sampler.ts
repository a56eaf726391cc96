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
 * softmax(logits)[id] at temperature 1: the model's own probability of a token, whatever sampling chose it
 * (the GPU argmax op computes the same for greedy tokens). Float64 sums over the row; a value equal to
 * the maximum counts 1, so a row of -inf is uniform as on the GPU.
 */
export function tokenProbability(logits: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += logits[i] === max ? 1 : Math.exp(logits[i] - max);
  return (logits[id] === max ? 1 : Math.exp(logits[id] - max)) / sum;
}

/**
 * The distribution sampling draws from after temperature, top-k and top-p, as (ids, probabilities)
 * sorted by probability. Speculative decoding needs it explicitly (for its acceptance test).
 */
export function samplingDistribution(logits: ArrayLike<number>, s: SamplingOptions): { ids: Int32Array; probs: Float64Array } {
  const n = logits.length;
  const k = s.topK > 0 ? Math.min(s.topK, n) : n;
  const ids = topKOrder(logits, k);
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

/** a ranks before b: larger logit first, then the lower id (the order a stable sort would give). */
function ranksBefore(logits: ArrayLike<number>, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

/**
 * The k best ids in rank order. For k much smaller than the vocabulary, a heap of the k best so far
 * (O(V log k)) instead of sorting all V (a 151,936-entry sort costs ~15-30 ms a token in JS); the same
 * ids in the same order either way.
 */
export function topKOrder(logits: ArrayLike<number>, k: number): Int32Array {
  const n = logits.length;
  if (k * 8 >= n) {
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => (ranksBefore(logits, a, b) ? -1 : ranksBefore(logits, b, a) ? 1 : 0));
    return Int32Array.from(order.slice(0, k));
  }
  // heap[0] is the worst of the kept ids (a min-heap by rank).
  const heap = new Int32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => ranksBefore(logits, b, a);
  const siftDown = (at: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let w = at;
      if (l < size && worse(heap[l], heap[w])) w = l;
      if (r < size && worse(heap[r], heap[w])) w = r;
      if (w === at) return;
      [heap[at], heap[w]] = [heap[w], heap[at]];
      at = w;
    }
  };
  for (let i = 0; i < n; i++) {
    if (size < k) {
      let at = size++;
      heap[at] = i;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(heap[at], heap[parent])) break;
        [heap[at], heap[parent]] = [heap[parent], heap[at]];
        at = parent;
      }
    } else if (ranksBefore(logits, i, heap[0])) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return Int32Array.from(Array.from(heap).sort((a, b) => (ranksBefore(logits, a, b) ? -1 : 1)));
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
