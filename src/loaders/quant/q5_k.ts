// Q5_K: superblocks of 256 values as { d: f16, dmin: f16, scales: u8[12], qh: u8[32], qs: u8[128] } =
// 176 bytes (block_q5_K). Q4_K plus a fifth bit: weight l of sub-block j has its high bit in bit j of
// qh[l]; value = (d * sc) * (nibble + 16 * bit) - (dmin * m).
// dequantizeQ5_K matches dequantize_row_q5_K bit for bit; quantizeQ5_K is round-to-nearest.
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, packScaleMinK4, quantizeSubblocksAsym, QK_K, scaleMinK4 } from './kquants';

export const Q5_K_BLOCK_BYTES = 176;
const fr = Math.fround;

/** [n/256] Q5_K blocks -> [n] f32 (dequantize_row_q5_K). */
export function dequantizeQ5_K(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('Q5_K', elementCount, bytes, Q5_K_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q5_K_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    const dmin = f16BitsToF32(bytes[at + 2] | (bytes[at + 3] << 8));
    const qh = at + 16;
    const qs = at + 48;
    let y = b * QK_K;
    for (let p = 0; p < 4; p++) {
      const [sc1, m1] = scaleMinK4(bytes, at + 4, 2 * p);
      const [sc2, m2] = scaleMinK4(bytes, at + 4, 2 * p + 1);
      const d1 = fr(d * sc1), min1 = fr(dmin * m1);
      const d2 = fr(d * sc2), min2 = fr(dmin * m2);
      const u1 = 1 << (2 * p), u2 = 2 << (2 * p);
      for (let l = 0; l < 32; l++) out[y++] = fr(d1 * ((bytes[qs + 32 * p + l] & 0x0f) + (bytes[qh + l] & u1 ? 16 : 0))) - min1;
      for (let l = 0; l < 32; l++) out[y++] = fr(d2 * ((bytes[qs + 32 * p + l] >> 4) + (bytes[qh + l] & u2 ? 16 : 0))) - min2;
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] Q5_K blocks. */
export function quantizeQ5_K(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('Q5_K', x.length, null, Q5_K_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q5_K_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q5_K_BLOCK_BYTES;
    const { dBits, dminBits, sc, m, q } = quantizeSubblocksAsym(x, b * QK_K, 31, f32ToF16Bits, f16BitsToF32);
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >> 8;
    out[at + 2] = dminBits & 0xff;
    out[at + 3] = dminBits >> 8;
    packScaleMinK4(out, at + 4, sc, m);
    for (let j = 0; j < 8; j++) {
      for (let l = 0; l < 32; l++) {
        const v = q[32 * j + l];
        out[at + 48 + 32 * (j >> 1) + l] |= (v & 0x0f) << (4 * (j & 1));
        out[at + 16 + l] |= (v >> 4) << j;
      }
    }
  }
  return out;
}
