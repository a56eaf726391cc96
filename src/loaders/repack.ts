// GGUF block layouts → the GPU layouts the kernels read (kernels/dtype/*.wgsl).
// F32 and F16 are uploaded as they are. Q8_0 (34-byte blocks: f16 d, 32 x i8) and Q4_0 (18-byte blocks:
// f16 d, 16 bytes of nibbles) are split into the quants, contiguous and 4-byte aligned so a block is
// whole vec4<u32> loads, and the f16 scales in an array of their own.

import { GgmlType } from './gguf/types';

export type WeightDtype = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export const DTYPE_OF_GGML: Partial<Record<GgmlType, WeightDtype>> = {
  [GgmlType.F32]: 'f32',
  [GgmlType.F16]: 'f16',
  [GgmlType.Q8_0]: 'q8_0',
  [GgmlType.Q4_0]: 'q4_0',
};

interface GpuLayout {
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
};

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

/** Splits whole GGUF blocks into the quants and the scales (both written into the given arrays). */
export function repackBlocks(dtype: WeightDtype, src: Uint8Array, data: Uint8Array, scales: Uint8Array): void {
  const l = GPU_LAYOUT[dtype];
  if (l.scaleBlockBytes === 0) {
    data.set(src);
    return;
  }
  const nBlocks = src.byteLength / l.ggufBlockBytes;
  for (let b = 0; b < nBlocks; b++) {
    const s = b * l.ggufBlockBytes;
    scales[2 * b] = src[s];
    scales[2 * b + 1] = src[s + 1];
    data.set(src.subarray(s + 2, s + l.ggufBlockBytes), b * l.dataBlockBytes);
  }
}
