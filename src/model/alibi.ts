// ALiBi (attention with linear biases, Press et al. 2022): no rotation; the score of query p on key j
// gets -slope_h (p - j), a steeper penalty on distance for earlier heads. The slopes as ggml's soft_max
// computes them: with n the largest power of two <= nHeads, m0 = 2^(-maxBias / n), m1 = 2^(-maxBias / 2n);
// head h < n has m0^(h + 1), and the heads past n interleave between them with m1^(2 (h - n) + 1).

/** [nHeads] (slope, 0) in f32, each rounded as ggml's powf in f32 rounds it: the attention kernel's `rope` binding for an ALiBi model. */
export function alibiSlopes(nHeads: number, maxBias: number): Float32Array {
  if (!(Number.isInteger(nHeads) && nHeads > 0)) throw new RangeError(`ALiBi over ${nHeads} heads`);
  const n = 2 ** Math.floor(Math.log2(nHeads));
  const m0 = Math.fround(2 ** Math.fround(-maxBias / n));
  const m1 = Math.fround(2 ** Math.fround(-(maxBias / 2) / n));
  const out = new Float32Array(2 * nHeads);
  for (let h = 0; h < nHeads; h++) out[2 * h] = h < n ? m0 ** (h + 1) : m1 ** (2 * (h - n) + 1);
  return out;
}
