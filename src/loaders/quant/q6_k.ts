// Q6_K: superblocks of 256 values as { ql: u8[128], qh: u8[64], scales: i8[16], d: f16 } = 210 bytes
// (block_q6_K). Two halves h of 128; in a half, weight 32k + l (k 0..3, l 0..31) has its low 4 bits
// in ql[64h + 32(k & 1) + l] (low nibble for k < 2, high for k >= 2) and its top 2 bits in bits 2k, 2k+1
// of qh[32h + l]; its scale is scales[8h + 2k + l / 16] (16 weights per scale).
// value = (d * sc) * (q - 32). dequantizeQ6_K matches dequantize_row_q6_K bit for bit.
// quantizeQ6_K: per 16 weights a scale amax / 32, scales as int8 against d = max scale / 127, q by
// round-to-nearest (not ggml's make_qx_quants search, but valid blocks).
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, QK_K, roundf } from './kquants';

export const Q6_K_BLOCK_BYTES = 210;
const fr = Math.fround;

/** [n/256] Q6_K blocks -> [n] f32 (dequantize_row_q6_K). */
export function dequantizeQ6_K(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('Q6_K', elementCount, bytes, Q6_K_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q6_K_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at + 208] | (bytes[at + 209] << 8));
    const sc = (i: number) => (bytes[at + 192 + i] << 24) >> 24;
    for (let h = 0; h < 2; h++) {
      const ql = at + 64 * h;
      const qh = at + 128 + 32 * h;
      const y = b * QK_K + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = 8 * h + (l >> 4);
        const q1 = ((bytes[ql + l] & 0x0f) | (((bytes[qh + l] >> 0) & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 0x0f) | (((bytes[qh + l] >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((bytes[qh + l] >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((bytes[qh + l] >> 6) & 3) << 4)) - 32;
        out[y + l] = fr(d * sc(is)) * q1;
        out[y + l + 32] = fr(d * sc(is + 2)) * q2;
        out[y + l + 64] = fr(d * sc(is + 4)) * q3;
        out[y + l + 96] = fr(d * sc(is + 6)) * q4;
      }
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] Q6_K blocks. */
export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('Q6_K', x.length, null, Q6_K_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q6_K_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q6_K_BLOCK_BYTES;
    const base = b * QK_K;
    const scale = new Array<number>(16);
    for (let g = 0; g < 16; g++) {
      let amax = 0;
      for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[base + 16 * g + l]));
      scale[g] = amax / 31;
    }
    const dBits = f32ToF16Bits(Math.max(...scale) / 127);
    const d = f16BitsToF32(dBits);
    out[at + 208] = dBits & 0xff;
    out[at + 209] = dBits >> 8;
    const L = new Uint8Array(QK_K);
    for (let g = 0; g < 16; g++) {
      const sc = d > 0 ? Math.min(127, roundf(scale[g] / d)) : 0;
      out[at + 192 + g] = sc;
      const dg = fr(d * sc);
      for (let l = 0; l < 16; l++) {
        const q = dg > 0 ? Math.max(-32, Math.min(31, roundf(x[base + 16 * g + l] / dg))) : 0;
        L[16 * g + l] = q + 32;
      }
    }
    // Packing as quantize_row_q6_K_ref.
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const j = 128 * h;
        out[at + 64 * h + l] = (L[j + l] & 0x0f) | ((L[j + l + 64] & 0x0f) << 4);
        out[at + 64 * h + l + 32] = (L[j + l + 32] & 0x0f) | ((L[j + l + 96] & 0x0f) << 4);
        out[at + 128 + 32 * h + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
    }
  }
  return out;
}
