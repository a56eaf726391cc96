// Deciding which drafted tokens to keep. Greedy: keep while the draft equals the target's argmax, then the
// target's own token. Sampling: the rejection rule of Leviathan et al. / Chen et al. (2023): keep draft
// token x with probability min(1, p(x)/q(x)); at the first rejection draw from norm(max(0, p − q)); when all
// k are kept draw the bonus token from the target's next distribution. The emitted tokens are then
// distributed exactly as the target's own samples, whatever the draft proposes.
//
// Distributions here are dense over the target's vocabulary ([vocab] f64, summing to 1), after the
// request's temperature / top-k / top-p (samplingDistribution), so p and q are the distributions that
// plain sampling would draw from. A draft that proposes deterministically (n-grams, a greedy draft model)
// has q = a point mass at its token (`q` undefined).

import { type Rng, samplingDistribution, type SamplingOptions } from './sampler';

/** [vocab] probabilities of each token id after temperature, top-k and top-p. */
export function denseDistribution(logits: ArrayLike<number>, sampling: SamplingOptions, vocab = logits.length): Float64Array {
  const { ids, probs } = samplingDistribution(logits, sampling);
  const out = new Float64Array(vocab);
  for (let i = 0; i < ids.length; i++) out[ids[i]] = probs[i];
  return out;
}

/** Draws an index from weights that need not sum to 1 (a zero total draws from `fallback`). */
export function drawFrom(weights: ArrayLike<number>, rng: Rng, fallback?: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  if (!(total > 0)) {
    if (fallback) return drawFrom(fallback, rng);
    throw new RangeError('draw from an all-zero distribution');
  }
  let u = rng.next() * total;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] <= 0) continue;
    last = i;
    u -= weights[i];
    if (u < 0) return i;
  }
  return last;
}

/** What a verify pass decided: `accepted` of the drafted tokens are kept, then `next` comes from the target. */
export interface Verdict {
  accepted: number;
  next: number;
}

export interface VerifyInput {
  /** Drafted token ids d_1..d_k (target vocabulary). */
  draft: readonly number[];
  /** The target's argmax of each of the k+1 verified rows (greedy). */
  targetIds: ArrayLike<number>;
  /** [k+1][vocab] target logits (sampling). */
  targetLogits?: Float32Array;
  /** Per drafted token, the draft's distribution it was drawn from; undefined: a point mass at the token. */
  draftProbs?: (Float64Array | undefined)[];
  vocab: number;
  sampling: SamplingOptions;
  rng: Rng;
}

/** A rule that turns a verify pass into kept tokens; `acceptStandard` is the lossless one. */
export type AcceptanceRule = (v: VerifyInput) => Verdict;

export function acceptGreedy(v: VerifyInput): Verdict {
  let j = 0;
  while (j < v.draft.length && v.draft[j] === v.targetIds[j]) j++;
  return { accepted: j, next: v.targetIds[j] };
}

/** The target's sampling distribution at verified row `row`. */
export function targetRow(v: VerifyInput, row: number): Float64Array {
  const logits = v.targetLogits!.subarray(row * v.vocab, (row + 1) * v.vocab);
  return denseDistribution(logits, v.sampling, v.vocab);
}

/** The lossless rule: accept with min(1, p/q), else resample from norm(max(0, p − q)). */
export function acceptStandard(v: VerifyInput): Verdict {
  for (let i = 0; i < v.draft.length; i++) {
    const p = targetRow(v, i);
    const x = v.draft[i];
    const q = v.draftProbs?.[i];
    const qx = q ? q[x] : 1;
    // qx > 0: x was drawn from q. u < p/q, with u in [0, 1), accepts with probability min(1, p/q).
    if (v.rng.next() * qx < p[x]) continue;
    const residual = new Float64Array(v.vocab);
    for (let t = 0; t < v.vocab; t++) residual[t] = Math.max(0, p[t] - (q ? q[t] : t === x ? 1 : 0));
    // p − q ≤ 0 everywhere only when p = q up to rounding (then a rejection is itself a rounding event).
    return { accepted: i, next: drawFrom(residual, v.rng, p) };
  }
  const k = v.draft.length;
  return { accepted: k, next: drawFrom(targetRow(v, k), v.rng) };
}

/** Deliberately wrong (keeps every drafted token): the statistical tests must catch it. */
export function acceptAlways(v: VerifyInput): Verdict {
  const k = v.draft.length;
  return { accepted: k, next: drawFrom(targetRow(v, k), v.rng) };
}

