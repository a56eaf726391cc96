// Q2_K: superblocks of 256 values as { scales: u8[16], qs: u8[64], d: f16, dmin: f16 } = 84 bytes
// (block_q2_K). Sixteen sub-blocks of 16 weights, each with a 4-bit scale (low nibble of scales[i]) and
// a 4-bit min (high nibble). Two halves n of 128; in a half, weight 32j + l (j 0..3, l 0..31) has its
// 2 bits at bit 2j of qs[32n + l] and sub-block 8n + 2j + l/16.
// value = (d * sc) * q - (dmin * m). dequantizeQ2_K matches dequantize_row_q2_K bit for bit (each
// product rounded to f32 as in C, no fused multiply-add).
// quantizeQ2_K: per 16 weights x ≈ scale * q - min (q 0..3, min >= 0), scales and mins as 4 bits
// against d = max scale / 15, dmin = max min / 15, q by round-to-nearest (not ggml's make_qkx2_quants
// search, but valid blocks).
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, QK_K, roundf } from './kquants';

export const Q2_K_BLOCK_BYTES = 84;
const fr = Math.fround;

/** [n/256] Q2_K blocks -> [n] f32 (dequantize_row_q2_K). */
export function dequantizeQ2_K(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('Q2_K', elementCount, bytes, Q2_K_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q2_K_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at + 80] | (bytes[at + 81] << 8));
    const dmin = f16BitsToF32(bytes[at + 82] | (bytes[at + 83] << 8));
    for (let n = 0; n < 2; n++) {
      const qs = at + 16 + 32 * n;
      for (let j = 0; j < 4; j++) {
        const y = b * QK_K + 128 * n + 32 * j;
        for (let half = 0; half < 2; half++) {
          const sc = bytes[at + 8 * n + 2 * j + half];
          const dl = fr(d * (sc & 0x0f));
          const ml = fr(dmin * (sc >> 4));
          for (let l = 16 * half; l < 16 * half + 16; l++) out[y + l] = fr(fr(dl * ((bytes[qs + l] >> (2 * j)) & 3)) - ml);
        }
      }
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] Q2_K blocks. */
export function quantizeQ2_K(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('Q2_K', x.length, null, Q2_K_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q2_K_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q2_K_BLOCK_BYTES;
    const base = b * QK_K;
    const scale = new Array<number>(16);
    const min = new Array<number>(16);
    for (let g = 0; g < 16; g++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 16; l++) {
        lo = Math.min(lo, x[base + 16 * g + l]);
        hi = Math.max(hi, x[base + 16 * g + l]);
      }
      scale[g] = (hi - lo) / 3;
      min[g] = -lo;
    }
    const dBits = f32ToF16Bits(Math.max(...scale) / 15);
    const dminBits = f32ToF16Bits(Math.max(...min) / 15);
    const d = f16BitsToF32(dBits);
    const dmin = f16BitsToF32(dminBits);
    out[at + 80] = dBits & 0xff;
    out[at + 81] = dBits >> 8;
    out[at + 82] = dminBits & 0xff;
    out[at + 83] = dminBits >> 8;
    const L = new Uint8Array(QK_K);
    for (let g = 0; g < 16; g++) {
      const sc = d > 0 ? Math.min(15, roundf(scale[g] / d)) : 0;
      const m = dmin > 0 ? Math.min(15, roundf(min[g] / dmin)) : 0;
      out[at + g] = sc | (m << 4);
      const dl = fr(d * sc);
      const ml = fr(dmin * m);
      for (let l = 0; l < 16; l++) L[16 * g + l] = dl > 0 ? Math.max(0, Math.min(3, roundf((x[base + 16 * g + l] + ml) / dl))) : 0;
    }
    // Packing as quantize_row_q2_K_ref: byte 32n + l holds weights 128n + l + 32j at bit 2j.
    for (let n = 0; n < 2; n++) {
      for (let l = 0; l < 32; l++) {
        const j = 128 * n + l;
        out[at + 16 + 32 * n + l] = L[j] | (L[j + 32] << 2) | (L[j + 64] << 4) | (L[j + 96] << 6);
      }
    }
  }
  return out;
}
