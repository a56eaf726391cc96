// The copy loops behind repackBlocks (repack.ts has the layouts and why). Loading is bound by them: a
// 7B model is 27M-60M blocks, so a block must cost tens of nanoseconds, not the ~150-450 ns of a
// subarray + set per span. Quants move as u32 words: DataView reads, since GGUF blocks of 18, 22, 34,
// 110 or 210 bytes leave most source words unaligned; aligned Uint32Array writes, since every GPU
// layout keeps its data and scale runs 4-byte aligned (in the host's byte order: little-endian on every
// platform we ship, as the GPU reads it). f16 scales widen to f32 through a 64K-entry table.

import { f16ToF32Table } from './quant/f16';
import type { GpuLayout, WeightDtype } from './repack';

/** Views of a 4-byte aligned byte array at its own offset. */
interface Views {
  u16: Uint16Array;
  words: Uint32Array;
  f32: Float32Array;
}

function viewsOf(a: Uint8Array): Views {
  if (a.byteOffset % 4 !== 0) throw new Error(`repack: destination at byte offset ${a.byteOffset} is not 4-byte aligned`);
  const whole = a.byteLength >> 2;
  return {
    u16: new Uint16Array(a.buffer, a.byteOffset, a.byteLength >> 1),
    words: new Uint32Array(a.buffer, a.byteOffset, whole),
    f32: new Float32Array(a.buffer, a.byteOffset, whole),
  };
}

/** n little-endian u32 words from byte `at` of the source to word `to` of the destination. */
function copyWords(src: DataView, at: number, dst: Uint32Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i] = src.getUint32(at + 4 * i, true);
}

/** Each byte of a word of 6-bit values (0..63) minus 32, as int8: flip bit 5, and where it is then set
 * (the value was < 32) set bits 6 and 7 too. Bytes do not carry into each other. */
function minus32Bytes(w: number): number {
  const t = w ^ 0x20202020;
  const m = t & 0x20202020;
  return (t | (m << 1) | (m << 2)) >>> 0;
}

/**
 * Q3_K's 12 bytes of packed 6-bit scales at `at` -> 4 words of 16 int8 (s - 32), as unpackQ3_KScales
 * (quant/q3_k.ts) but a word at a time: scale i has its low 4 bits in byte i % 8 (low nibble for i < 8,
 * high for i >= 8) and its high 2 bits at bit 2 * (i / 4) of byte 8 + i % 4.
 */
function unpackQ3_KScaleWords(src: DataView, at: number, out: Uint32Array, to: number): void {
  const lo0 = src.getUint32(at, true);
  const lo1 = src.getUint32(at + 4, true);
  const hi = src.getUint32(at + 8, true);
  out[to] = minus32Bytes((lo0 & 0x0f0f0f0f) | ((hi & 0x03030303) << 4));
  out[to + 1] = minus32Bytes((lo1 & 0x0f0f0f0f) | (((hi >>> 2) & 0x03030303) << 4));
  out[to + 2] = minus32Bytes(((lo0 >>> 4) & 0x0f0f0f0f) | (((hi >>> 4) & 0x03030303) << 4));
  out[to + 3] = minus32Bytes(((lo1 >>> 4) & 0x0f0f0f0f) | (((hi >>> 6) & 0x03030303) << 4));
}

/**
 * IQ4_XS's sub-block scales -> 2 words of 8 int8 (ls - 32), as iq4xsScales (quant/iq4.ts) a word at a
 * time: scale ib has its low 4 bits in nibble ib of scales_l (4 bytes at `at` + 4) and its high 2 bits
 * at bit 2 * ib of scales_h (u16 at `at` + 2).
 */
function iq4xsScaleWords(src: DataView, at: number, out: Uint32Array, to: number): void {
  const h = src.getUint16(at + 2, true);
  const l = src.getUint32(at + 4, true);
  for (let k = 0; k < 2; k++) {
    const x = (l >>> (16 * k)) & 0xffff;
    const y = (h >>> (8 * k)) & 0xff;
    const low = (x & 0xf) | ((x & 0xf0) << 4) | ((x & 0xf00) << 8) | ((x & 0xf000) << 12);
    const high = (y & 3) | ((y & 0xc) << 6) | ((y & 0x30) << 12) | ((y & 0xc0) << 18);
    out[to + k] = minus32Bytes(low | (high << 4));
  }
}

/** Splits the whole GGUF blocks of `src` into `data` and `scales` (both 4-byte aligned) as `layout` (GPU_LAYOUT[dtype]) says. */
export function repackQuantBlocks(dtype: WeightDtype, layout: GpuLayout, src: Uint8Array, data: Uint8Array, scales: Uint8Array): void {
  const blockBytes = layout.ggufBlockBytes;
  const nBlocks = src.byteLength / blockBytes;
  // Typed-array writes past a view's end are dropped silently: check the sizes once, up front.
  if (!Number.isInteger(nBlocks)) throw new RangeError(`repack ${dtype}: ${src.byteLength} bytes is not whole ${blockBytes}-byte blocks`);
  if (data.byteLength < nBlocks * layout.dataBlockBytes || scales.byteLength < nBlocks * layout.scaleBlockBytes) {
    throw new RangeError(`repack ${dtype}: ${nBlocks} blocks need ${nBlocks * layout.dataBlockBytes} + ${nBlocks * layout.scaleBlockBytes} bytes; got ${data.byteLength} + ${scales.byteLength}`);
  }
  const dataWords = layout.dataBlockBytes >> 2;
  const scaleBytes = layout.scaleBlockBytes;
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const d = viewsOf(data).words;
  const s = viewsOf(scales);
  const f16 = f16ToF32Table();
  const scaleWords = scaleBytes >> 2;
  switch (dtype) {
    case 'q8_0': case 'q4_0': case 'iq4_nl':
      // [d f16][quants]: the f16 d to scales[b] as it is.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        s.u16[b] = sv.getUint16(at, true);
        copyWords(sv, at + 2, d, b * dataWords, dataWords);
      }
      return;
    case 'q5_0':
      // [d f16][qh u32][qs 16]: scales = d, 0, qh.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        s.words[2 * b] = sv.getUint16(at, true);
        s.words[2 * b + 1] = sv.getUint32(at + 2, true);
        copyWords(sv, at + 6, d, b * dataWords, dataWords);
      }
      return;
    case 'q4_1': case 'q5_1': case 'q4_k': case 'q5_k':
      // The block's first scaleBytes bytes (d, m/dmin, and qh or packed scales) unchanged, then the quants.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        copyWords(sv, at, s.words, b * scaleWords, scaleWords);
        copyWords(sv, at + scaleBytes, d, b * dataWords, dataWords);
      }
      return;
    case 'q6_k':
      // [ql 128][qh 64][scales i8 16][d f16] -> data = ql qh; scales = the 16 int8, d as f32.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        copyWords(sv, at, d, b * dataWords, dataWords);
        copyWords(sv, at + 192, s.words, b * scaleWords, 4);
        s.f32[b * scaleWords + 4] = f16[sv.getUint16(at + 208, true)];
      }
      return;
    case 'q3_k':
      // [hmask 32][qs 64][scales 12][d f16] -> data = hmask qs; scales = 16 int8 unpacked, d as f32.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        copyWords(sv, at, d, b * dataWords, dataWords);
        unpackQ3_KScaleWords(sv, at + 96, s.words, b * scaleWords);
        s.f32[b * scaleWords + 4] = f16[sv.getUint16(at + 108, true)];
      }
      return;
    case 'q2_k':
      // [scales 16][qs 64][d f16][dmin f16] -> data = qs; scales = the 16 bytes, d and dmin as f32.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        copyWords(sv, at + 16, d, b * dataWords, dataWords);
        copyWords(sv, at, s.words, b * scaleWords, 4);
        s.f32[b * scaleWords + 4] = f16[sv.getUint16(at + 80, true)];
        s.f32[b * scaleWords + 5] = f16[sv.getUint16(at + 82, true)];
      }
      return;
    case 'iq4_xs':
      // [d f16][scales_h u16][scales_l 4][qs 128] -> data = qs; scales = 8 int8 unpacked, d as f32.
      for (let b = 0, at = 0; b < nBlocks; b++, at += blockBytes) {
        copyWords(sv, at + 8, d, b * dataWords, dataWords);
        iq4xsScaleWords(sv, at, s.words, b * scaleWords);
        s.f32[b * scaleWords + 2] = f16[sv.getUint16(at, true)];
      }
      return;
    default:
      throw new Error(`repack: ${dtype} has no block layout`);
  }
}
