// GGUF block layouts → the GPU layouts the kernels read (kernels/dtype/*.wgsl).
// F32 and F16 are uploaded as they are. Q8_0 (34-byte blocks: f16 d, 32 x i8) and Q4_0 (18-byte blocks:
// f16 d, 16 bytes of nibbles) are split into the quants, contiguous and 4-byte aligned so a block is
// whole vec4<u32> loads, and the f16 scales in an array of their own. Q4_1 (20-byte blocks: f16 d, f16 m,
// 16 bytes of nibbles) keeps its quants the same way and d | m as one u32 of scales (its first 4 bytes).
// Q5_0/Q5_1 (22/24-byte blocks of 32) keep their 16 qs bytes as one vec4<u32> in data and put the rest
// in 8 bytes of scales (one vec2<u32>): q5_0 = d (f16), 0 (f16), qh (u32); q5_1 = d, m (f16), qh, i.e.
// the block's first 8 bytes unchanged.
// K-quants (256-weight superblocks) are split the same way, so a kernel reads a superblock's quants as
// whole vec4<u32> and its scales as aligned words:
//   q4_k (144-byte block_q4_K): data = qs[128] (8 vec4<u32>); scales = d, dmin (f16) + the 12 bytes of
//        6-bit packed sub-block scales/mins, i.e. the block's first 16 bytes unchanged (one vec4<u32>).
//   q5_k (176-byte block_q5_K): data = qh[32] then qs[128] (10 vec4<u32>); scales as q4_k.
//   q6_k (210-byte block_q6_K): data = ql[128] then qh[64] (12 vec4<u32>); scales = the 16 int8
//        sub-block scales then d widened to f32 (exact), 20 bytes (5 u32).
//   q3_k (110-byte block_q3_K): data = hmask[32] then qs[64] (6 vec4<u32>); scales as q6_k: the 16
//        sub-block scales unpacked from their 6-bit packing to int8 (s - 32), then d as f32.
//   q2_k (84-byte block_q2_K): data = qs[64] (4 vec4<u32>); scales = the 16 bytes of 4-bit scale |
//        4-bit min, then d and dmin widened to f32, 24 bytes (6 u32).
// IQ4_NL (18-byte blocks of 32) as Q4_0: data = qs[16], scales = d (f16). IQ4_XS (136-byte block_iq4_xs):
// data = qs[128] (8 vec4<u32>, one per 32-weight sub-block); scales = the 8 sub-block scales unpacked
// from scales_l/scales_h to int8 (ls - 32), then d widened to f32, 12 bytes (3 u32).

import { GgmlType } from './gguf/types';
import { repackQuantBlocks } from './repackBlocks';

export type WeightDtype = 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'iq4_nl' | 'iq4_xs';

export const DTYPE_OF_GGML: Partial<Record<GgmlType, WeightDtype>> = {
  [GgmlType.F32]: 'f32',
  [GgmlType.F16]: 'f16',
  [GgmlType.Q8_0]: 'q8_0',
  [GgmlType.Q4_0]: 'q4_0',
  [GgmlType.Q4_1]: 'q4_1',
  [GgmlType.Q5_0]: 'q5_0',
  [GgmlType.Q5_1]: 'q5_1',
  [GgmlType.Q2_K]: 'q2_k',
  [GgmlType.Q3_K]: 'q3_k',
  [GgmlType.Q4_K]: 'q4_k',
  [GgmlType.Q5_K]: 'q5_k',
  [GgmlType.Q6_K]: 'q6_k',
  [GgmlType.IQ4_NL]: 'iq4_nl',
  [GgmlType.IQ4_XS]: 'iq4_xs',
};

export interface GpuLayout {
  /** Elements per GGUF block, bytes per GGUF block. */
  blockElems: number;
  ggufBlockBytes: number;
  /** Bytes of quants (or plain values) per block on the GPU, and of scales. */
  dataBlockBytes: number;
  scaleBlockBytes: number;
  /** The row length must be a multiple of this for the kernels. */
  colMultiple: number;
}

export const GPU_LAYOUT: Record<WeightDtype, GpuLayout> = {
  f32: { blockElems: 1, ggufBlockBytes: 4, dataBlockBytes: 4, scaleBlockBytes: 0, colMultiple: 4 },
  f16: { blockElems: 1, ggufBlockBytes: 2, dataBlockBytes: 2, scaleBlockBytes: 0, colMultiple: 4 },
  q8_0: { blockElems: 32, ggufBlockBytes: 34, dataBlockBytes: 32, scaleBlockBytes: 2, colMultiple: 32 },
  q4_0: { blockElems: 32, ggufBlockBytes: 18, dataBlockBytes: 16, scaleBlockBytes: 2, colMultiple: 32 },
  q4_1: { blockElems: 32, ggufBlockBytes: 20, dataBlockBytes: 16, scaleBlockBytes: 4, colMultiple: 32 },
  q5_0: { blockElems: 32, ggufBlockBytes: 22, dataBlockBytes: 16, scaleBlockBytes: 8, colMultiple: 32 },
  q5_1: { blockElems: 32, ggufBlockBytes: 24, dataBlockBytes: 16, scaleBlockBytes: 8, colMultiple: 32 },
  q2_k: { blockElems: 256, ggufBlockBytes: 84, dataBlockBytes: 64, scaleBlockBytes: 24, colMultiple: 256 },
  q3_k: { blockElems: 256, ggufBlockBytes: 110, dataBlockBytes: 96, scaleBlockBytes: 20, colMultiple: 256 },
  q4_k: { blockElems: 256, ggufBlockBytes: 144, dataBlockBytes: 128, scaleBlockBytes: 16, colMultiple: 256 },
  q5_k: { blockElems: 256, ggufBlockBytes: 176, dataBlockBytes: 160, scaleBlockBytes: 16, colMultiple: 256 },
  q6_k: { blockElems: 256, ggufBlockBytes: 210, dataBlockBytes: 192, scaleBlockBytes: 20, colMultiple: 256 },
  iq4_nl: { blockElems: 32, ggufBlockBytes: 18, dataBlockBytes: 16, scaleBlockBytes: 2, colMultiple: 32 },
  iq4_xs: { blockElems: 256, ggufBlockBytes: 136, dataBlockBytes: 128, scaleBlockBytes: 12, colMultiple: 256 },
};

/** True for the block-quantized dtypes (their GPU layout has a scales array). */
export function isQuantized(dtype: WeightDtype): boolean {
  return GPU_LAYOUT[dtype].scaleBlockBytes > 0;
}

/** GPU bytes of `rows` rows of `cols` weights: quants (or values) and scales. */
export function gpuRowBytes(dtype: WeightDtype, cols: number): { data: number; scales: number } {
  const l = GPU_LAYOUT[dtype];
  const blocks = cols / l.blockElems;
  return { data: blocks * l.dataBlockBytes, scales: blocks * l.scaleBlockBytes };
}

export function ggufRowBytes(dtype: WeightDtype, cols: number): number {
  const l = GPU_LAYOUT[dtype];
  return (cols / l.blockElems) * l.ggufBlockBytes;
}

/** Splits whole GGUF blocks into the quants and the scales (both written into the given arrays, 4-byte aligned). */
export function repackBlocks(dtype: WeightDtype, src: Uint8Array, data: Uint8Array, scales: Uint8Array): void {
  const l = GPU_LAYOUT[dtype];
  if (l.scaleBlockBytes === 0) {
    data.set(src);
    return;
  }
  repackQuantBlocks(dtype, l, src, data, scales);
}
