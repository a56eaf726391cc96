// Q4_1: blocks of 32 values as { d: f16, m: f16, qs: u8[16] } = 20 bytes (block_q4_1). Byte j of qs holds
// element j in its low nibble and element j + 16 in its high nibble, as Q4_0; value = q * d + m (no -8:
// the block's minimum is stored instead, so an asymmetric block wastes no levels).
// dequantizeQ4_1 matches dequantize_row_q4_1 (the product rounded to f32, then the add, as C without FMA
// contraction) and quantizeQ4_1 quantize_row_q4_1_ref (d = (max - min) / 15, m = min), bit for bit.
import { f16BitsToF32 } from './f16';
import { checkQ5Blocks } from './q5_0';
import { writeMinScaleHeader } from './q5_1';

export const Q4_1_BLOCK_BYTES = 20;
const fr = Math.fround;

/** [n/32] Q4_1 blocks -> [n] f32 (dequantize_row_q4_1). */
export function dequantizeQ4_1(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkQ5Blocks('Q4_1', elementCount, bytes, Q4_1_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q4_1_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    const m = f16BitsToF32(bytes[at + 2] | (bytes[at + 3] << 8));
    for (let j = 0; j < 16; j++) {
      const q = bytes[at + 4 + j];
      out[b * 32 + j] = fr((q & 0x0f) * d) + m;
      out[b * 32 + 16 + j] = fr((q >> 4) * d) + m;
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 32) -> [n/32] Q4_1 blocks (quantize_row_q4_1_ref). */
export function quantizeQ4_1(x: Float32Array): Uint8Array {
  const nBlocks = checkQ5Blocks('Q4_1', x.length, null, Q4_1_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q4_1_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const base = b * 32;
    const at = b * Q4_1_BLOCK_BYTES;
    const { min, id } = writeMinScaleHeader(x, base, 15, out, at);
    // (x - min) * id is in [0, 15] up to rounding; ggml clamps at 15 (MIN(15, (int8_t)(v + 0.5f))).
    const quant = (v: number): number => Math.min(15, Math.trunc(fr(fr(fr(v - min) * id) + 0.5)));
    for (let j = 0; j < 16; j++) out[at + 4 + j] = quant(x[base + j]) | (quant(x[base + 16 + j]) << 4);
  }
  return out;
}
