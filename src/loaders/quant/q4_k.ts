// Q4_K: superblocks of 256 values as { d: f16, dmin: f16, scales: u8[12], qs: u8[128] } = 144 bytes
// (block_q4_K in ggml-common.h). Eight sub-blocks of 32 with 6-bit scale sc and min m (packed, see
// kquants.ts); value = (d * sc) * q - (dmin * m), q a nibble. Bytes 32p..32p+31 of qs hold sub-block
// 2p in their low nibbles and sub-block 2p + 1 in their high nibbles.
// dequantizeQ4_K matches dequantize_row_q4_K bit for bit (each product rounded to f32 as in C).
// quantizeQ4_K writes valid blocks by round-to-nearest (not ggml's search; see quantizeSubblocksAsym).
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, packScaleMinK4, quantizeSubblocksAsym, QK_K, scaleMinK4 } from './kquants';

export const Q4_K_BLOCK_BYTES = 144;
const fr = Math.fround;

/** [n/256] Q4_K blocks -> [n] f32 (dequantize_row_q4_K). */
export function dequantizeQ4_K(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('Q4_K', elementCount, bytes, Q4_K_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q4_K_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
    const dmin = f16BitsToF32(bytes[at + 2] | (bytes[at + 3] << 8));
    const qs = at + 16;
    let y = b * QK_K;
    for (let p = 0; p < 4; p++) {
      const [sc1, m1] = scaleMinK4(bytes, at + 4, 2 * p);
      const [sc2, m2] = scaleMinK4(bytes, at + 4, 2 * p + 1);
      const d1 = fr(d * sc1), min1 = fr(dmin * m1);
      const d2 = fr(d * sc2), min2 = fr(dmin * m2);
      for (let l = 0; l < 32; l++) out[y++] = fr(d1 * (bytes[qs + 32 * p + l] & 0x0f)) - min1;
      for (let l = 0; l < 32; l++) out[y++] = fr(d2 * (bytes[qs + 32 * p + l] >> 4)) - min2;
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] Q4_K blocks. */
export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('Q4_K', x.length, null, Q4_K_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q4_K_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q4_K_BLOCK_BYTES;
    const { dBits, dminBits, sc, m, q } = quantizeSubblocksAsym(x, b * QK_K, 15, f32ToF16Bits, f16BitsToF32);
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >> 8;
    out[at + 2] = dminBits & 0xff;
    out[at + 3] = dminBits >> 8;
    packScaleMinK4(out, at + 4, sc, m);
    for (let p = 0; p < 4; p++) {
      for (let l = 0; l < 32; l++) out[at + 16 + 32 * p + l] = q[64 * p + l] | (q[64 * p + 32 + l] << 4);
    }
  }
  return out;
}
