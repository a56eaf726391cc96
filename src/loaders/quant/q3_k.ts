// Q3_K: superblocks of 256 values as { hmask: u8[32], qs: u8[64], scales: u8[12], d: f16 } = 110 bytes
// (block_q3_K). Sixteen sub-blocks of 16 weights with 6-bit scales s (stored + 32; packed in 12 bytes,
// see unpackQ3_KScales). Two halves n of 128; in a half, weight 32j + l (j 0..3, l 0..31) has its low
// 2 bits at bit 2j of qs[32n + l], its high bit at bit 4n + j of hmask[l], and sub-block 8n + 2j + l/16.
// value = (d * (s - 32)) * (q - 4), q = low | high << 2 (a clear high bit subtracts 4).
// dequantizeQ3_K matches dequantize_row_q3_K bit for bit.
// quantizeQ3_K: per 16 weights a scale amax / 4, scales as 6 bits against d = max scale / 31, q by
// round-to-nearest in -4..3 (not ggml's make_q3_quants search, but valid blocks).
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { checkSuperblocks, QK_K, roundf } from './kquants';

export const Q3_K_BLOCK_BYTES = 110;
const fr = Math.fround;

/**
 * The 16 signed sub-block scales (s - 32, -32..31) from the 12 packed bytes at `at`, into out[outAt ..]
 * (default a new array; the GPU repack writes them in place): scale i keeps its
 * low 4 bits in byte i (i < 8, low nibble) or byte i - 8 (high nibble), its top 2 bits at bit 2(i/4) of
 * byte 8 + i%4 (the aux[] shuffle of dequantize_row_q3_K).
 */
export function unpackQ3_KScales(bytes: Uint8Array, at: number, out: Int8Array = new Int8Array(16), outAt = 0): Int8Array {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? bytes[at + i] & 0x0f : bytes[at + i - 8] >> 4;
    const high = (bytes[at + 8 + (i % 4)] >> (2 * (i >> 2))) & 3;
    out[outAt + i] = (low | (high << 4)) - 32;
  }
  return out;
}

/** Packs 16 6-bit values (0..63, i.e. scale + 32) into 12 bytes at `at` (quantize_row_q3_K_ref). */
export function packQ3_KScales(out: Uint8Array, at: number, biased: ArrayLike<number>): void {
  for (let j = 0; j < 12; j++) out[at + j] = 0;
  for (let j = 0; j < 16; j++) {
    const l = biased[j];
    if (j < 8) out[at + j] = l & 0x0f;
    else out[at + j - 8] |= (l & 0x0f) << 4;
    out[at + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
  }
}

/** [n/256] Q3_K blocks -> [n] f32 (dequantize_row_q3_K). */
export function dequantizeQ3_K(bytes: Uint8Array, elementCount: number): Float32Array {
  const nBlocks = checkSuperblocks('Q3_K', elementCount, bytes, Q3_K_BLOCK_BYTES);
  const out = new Float32Array(elementCount);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q3_K_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[at + 108] | (bytes[at + 109] << 8));
    const scales = unpackQ3_KScales(bytes, at + 96);
    for (let n = 0; n < 2; n++) {
      const qs = at + 32 + 32 * n;
      for (let j = 0; j < 4; j++) {
        const y = b * QK_K + 128 * n + 32 * j;
        const hbit = 4 * n + j;
        for (let half = 0; half < 2; half++) {
          const dl = fr(d * scales[8 * n + 2 * j + half]);
          for (let l = 16 * half; l < 16 * half + 16; l++) {
            const q = ((bytes[qs + l] >> (2 * j)) & 3) - ((bytes[at + l] >> hbit) & 1 ? 0 : 4);
            out[y + l] = fr(dl * q);
          }
        }
      }
    }
  }
  return out;
}

/** [n] f32 (n a multiple of 256) -> [n/256] Q3_K blocks. */
export function quantizeQ3_K(x: Float32Array): Uint8Array {
  const nBlocks = checkSuperblocks('Q3_K', x.length, null, Q3_K_BLOCK_BYTES);
  const out = new Uint8Array(nBlocks * Q3_K_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const at = b * Q3_K_BLOCK_BYTES;
    const base = b * QK_K;
    const scale = new Array<number>(16);
    for (let g = 0; g < 16; g++) {
      let amax = 0;
      for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[base + 16 * g + l]));
      scale[g] = amax / 4;
    }
    const dBits = f32ToF16Bits(Math.max(...scale) / 31);
    const d = f16BitsToF32(dBits);
    out[at + 108] = dBits & 0xff;
    out[at + 109] = dBits >> 8;
    const biased = new Array<number>(16);
    const L = new Uint8Array(QK_K);
    for (let g = 0; g < 16; g++) {
      const sc = d > 0 ? Math.min(31, roundf(scale[g] / d)) : 0;
      biased[g] = sc + 32;
      const dl = fr(d * sc);
      for (let l = 0; l < 16; l++) L[16 * g + l] = (dl > 0 ? Math.max(-4, Math.min(3, roundf(x[base + 16 * g + l] / dl))) : 0) + 4;
    }
    packQ3_KScales(out, at + 96, biased);
    // Packing as quantize_row_q3_K_ref: the high bit of weight w at bit w/32 of hmask[w % 32], the low
    // 2 bits of weights 128n + l + 32j at bit 2j of qs[32n + l].
    for (let w = 0; w < QK_K; w++) if (L[w] > 3) out[at + (w % 32)] |= 1 << (w >> 5);
    for (let n = 0; n < 2; n++) {
      for (let l = 0; l < 32; l++) {
        const j = 128 * n + l;
        out[at + 32 + 32 * n + l] = (L[j] & 3) | ((L[j + 32] & 3) << 2) | ((L[j + 64] & 3) << 4) | ((L[j + 96] & 3) << 6);
      }
    }
  }
  return out;
}
