// Q5_1: blocks of 32 values as { d: f16, m: f16, qh: u8[4], qs: u8[16] } = 24 bytes (block_q5_1).
// Quants packed as Q5_0 (see q5_0.ts); value = q * d + m. llama.cpp's fallback for Q5_K tensors whose
// rows are not whole superblocks.
// dequantizeQ5_1 matches dequantize_row_q5_1 (the product rounded to f32, then the add, as C without
// FMA contraction) and quantizeQ5_1 quantize_row_q5_1_ref.
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkQ5Blocks, packQ5, q5At } from './q5_0';

export const Q5_1_BLOCK_BYTES = 24;
const fr = Math.fround;

/** [n/32] Q5_1 blocks -> [n] f32 (dequantize_row_q5_1). */
export function dequantizeQ5_1(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkQ5Blocks('Q5_1', elementCount, bytes, Q5_1_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q5_1_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    const m = f16BitsToF32(bytes[at + 2] | (bytes[at + 3] << 8));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = fr(q5At(bytes, at + 4, at + 8, j) * d) + m;
  }
  return out;
}

/** [n] f32 (n a multiple of 32) -> [n/32] Q5_1 blocks (quantize_row_q5_1_ref: d = (max - min) / 31, m = min). */
export function quantizeQ5_1(x: Float32Array): Uint8Array {
  const nBlocks = checkQ5Blocks('Q5_1', x.length, null, Q5_1_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q5_1_BLOCK_BYTES);
  const q = new Array<number>(32);
  for (let b = 0; b < nBlocks; b++) {
    const base = b * 32;
    const at = b * Q5_1_BLOCK_BYTES;
    const { min, id } = writeMinScaleHeader(x, base, 31, out, at);
    for (let j = 0; j < 32; j++) q[j] = Math.trunc(fr(fr(fr(x[base + j] - min) * id) + 0.5)) & 0xff;
    packQ5(out, at + 4, at + 8, q);
  }
  return out;
}

/**
 * The header of a block with a minimum (Q5_1, Q4_1), as ggml's reference quantizers make it: min and max
 * of x[base, base + 32), d = (max - min) / levels, then d and m = min as f16 at out[at..at + 4). Returns
 * min and 1 / d (0 for a constant block), in f32 arithmetic, for the quants.
 */
export function writeMinScaleHeader(x: Float32Array, base: number, levels: number, out: Uint8Array, at: number): { min: number; id: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    min = Math.min(min, x[base + j]);
    max = Math.max(max, x[base + j]);
  }
  const d = fr(fr(max - min) / levels);
  const dh = f32ToF16Bits(d);
  const mh = f32ToF16Bits(min);
  out[at] = dh & 0xff;
  out[at + 1] = dh >> 8;
  out[at + 2] = mh & 0xff;
  out[at + 3] = mh >> 8;
  return { min, id: d !== 0 ? fr(1 / d) : 0 };
}
