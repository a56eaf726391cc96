// Shared pieces of ggml's K-quants (Q4_K, Q5_K, Q6_K): 256-weight superblocks (QK_K) of 8 or 16
// sub-blocks. Q4_K and Q5_K pack eight 6-bit sub-block scales and eight 6-bit mins into 12 bytes
// (get_scale_min_k4 in ggml-quants.c): sub-blocks 0..3 keep their low 6 bits in bytes j (scale) and
// j + 4 (min); sub-blocks 4..7 keep their low 4 bits in the nibbles of byte j + 4 and their top 2 bits
// in the spare top bits of bytes j - 4 (scale) and j (min).

export const QK_K = 256;

/** (scale, min) of sub-block j (0..7) from the 12 packed bytes at `at` (get_scale_min_k4). */
export function scaleMinK4(bytes: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [bytes[at + j] & 63, bytes[at + j + 4] & 63];
  const sc = (bytes[at + j + 4] & 0x0f) | ((bytes[at + j - 4] >> 6) << 4);
  const m = (bytes[at + j + 4] >> 4) | ((bytes[at + j] >> 6) << 4);
  return [sc, m];
}

/** Packs eight 6-bit scales and mins into 12 bytes at `at` (the inverse of scaleMinK4). */
export function packScaleMinK4(out: Uint8Array, at: number, scales: ArrayLike<number>, mins: ArrayLike<number>): void {
  for (let j = 0; j < 12; j++) out[at + j] = 0;
  for (let j = 0; j < 8; j++) {
    const ls = scales[j];
    const lm = mins[j];
    if (j < 4) {
      out[at + j] = ls;
      out[at + j + 4] = lm;
    } else {
      out[at + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      out[at + j - 4] |= (ls >> 4) << 6;
      out[at + j] |= (lm >> 4) << 6;
    }
  }
}

export function checkSuperblocks(name: string, elementCount: number, bytes: Uint8Array | null, blockBytes: number): number {
  if (elementCount % QK_K !== 0) throw new RangeError(`${name} needs a multiple of ${QK_K} values, got ${elementCount}`);
  const nBlocks = elementCount / QK_K;
  if (bytes && bytes.length < nBlocks * blockBytes) throw new RangeError(`${name}: ${bytes.length} bytes for ${nBlocks} blocks`);
  return nBlocks;
}

const fr = Math.fround;

/** roundf: halves away from zero. */
export function roundf(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/**
 * Asymmetric sub-block quantization shared by the Q4_K and Q5_K quantizers: for each 32-weight
 * sub-block of one superblock, x ≈ scale * q - min with q in [0, levels], min >= 0 (ggml keeps the
 * sub-block minimum at or below zero). Scales and mins are then quantized to 6 bits against the
 * superblock's d = max scale / 63 and dmin = max min / 63 (rounded to f16 first, as stored).
 * Plain round-to-nearest: not ggml's iterative make_qkx2_quants search, but valid blocks.
 */
export function quantizeSubblocksAsym(
  x: Float32Array, base: number, levels: number, toF16: (v: number) => number, fromF16: (h: number) => number,
): { dBits: number; dminBits: number; sc: number[]; m: number[]; q: number[] } {
  const scale = new Array<number>(8);
  const min = new Array<number>(8);
  for (let j = 0; j < 8; j++) {
    let lo = 0;
    let hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      const v = x[base + 32 * j + l];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    scale[j] = (hi - lo) / levels;
    min[j] = -lo;
  }
  const dBits = toF16(Math.max(...scale) / 63);
  const dminBits = toF16(Math.max(...min) / 63);
  const d = fromF16(dBits);
  const dmin = fromF16(dminBits);
  const sc = scale.map((s) => (d > 0 ? Math.min(63, roundf(s / d)) : 0));
  const m = min.map((v) => (dmin > 0 ? Math.min(63, roundf(v / dmin)) : 0));
  const q = new Array<number>(QK_K);
  for (let j = 0; j < 8; j++) {
    const d1 = fr(d * sc[j]);
    const m1 = fr(dmin * m[j]);
    for (let l = 0; l < 32; l++) {
      const v = x[base + 32 * j + l];
      q[32 * j + l] = d1 > 0 ? Math.max(0, Math.min(levels, roundf((v + m1) / d1))) : 0;
    }
  }
  return { dBits, dminBits, sc, m, q };
}
