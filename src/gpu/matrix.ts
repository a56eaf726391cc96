// A weight matrix [rows][cols] on the GPU in one of the kernels' layouts, split by rows into chunks that
// each fit one storage binding (maxStorageBufferBindingSize: 128 MiB on lavapipe; a 151,936 x 896 f16
// embedding is 272 MB). Filled by streaming rows from a source, so host memory stays bounded.

import { OutOfMemoryError } from '../common/errors';
import { GPU_LAYOUT, ggufRowBytes, gpuRowBytes, repackBlocks, type WeightDtype } from '../loaders/repack';
import { alignTo, writeBytes, type BufferOwner } from './buffers';

export interface MatrixChunk {
  rowStart: number;
  rowCount: number;
  data: GPUBuffer;
  /** f16 block scales for quantized types; null for f32/f16. */
  scales: GPUBuffer | null;
}

export interface GpuMatrix {
  dtype: WeightDtype;
  rows: number;
  cols: number;
  chunks: MatrixChunk[];
  /** Bytes the kernels read for one full pass over the matrix (quants + scales). */
  bytes: number;
}

/** Reads GGUF-layout bytes of rows [rowStart, rowStart + rowCount). */
export type RowSource = (rowStart: number, rowCount: number) => Promise<Uint8Array>;

/** Rows uploaded per writeBuffer: bounds the staging memory on the host. */
const UPLOAD_BYTES = 16 << 20;

export async function uploadMatrix(
  owner: BufferOwner, dtype: WeightDtype, rows: number, cols: number, source: RowSource, label: string,
  maxChunkBytes = owner.device.limits.maxStorageBufferBindingSize,
): Promise<GpuMatrix> {
  const layout = GPU_LAYOUT[dtype];
  if (cols % layout.colMultiple !== 0) {
    throw new Error(`${label}: ${cols} columns is not a multiple of ${layout.colMultiple} (needed by the ${dtype} kernels)`);
  }
  const rowBytes = gpuRowBytes(dtype, cols);
  const srcRowBytes = ggufRowBytes(dtype, cols);
  const rowsPerChunk = Math.floor(Math.min(maxChunkBytes, owner.device.limits.maxBufferSize) / rowBytes.data);
  if (rowsPerChunk < 1) throw new OutOfMemoryError(`${label}: one row (${rowBytes.data} bytes) exceeds the binding size limit`);
  // Even, so every upload's scale offset (2 bytes per block) stays 4-byte aligned for writeBuffer.
  const rowsPerUpload = Math.max(2, Math.floor(UPLOAD_BYTES / srcRowBytes / 2) * 2);
  // writeBuffer copies what it is given before it returns, so one pair of repack arrays serves every
  // upload (a fresh pair each time cost ~10% of a Q8_0 model's load in GC on lavapipe).
  const maxRows = Math.min(rowsPerUpload, rows);
  const quants = rowBytes.scales ? new Uint8Array(maxRows * rowBytes.data) : null;
  const blockScales = rowBytes.scales ? new Uint8Array(alignTo(maxRows * rowBytes.scales, 4)) : null;
  const chunks: MatrixChunk[] = [];
  for (let rowStart = 0; rowStart < rows; rowStart += rowsPerChunk) {
    const rowCount = Math.min(rowsPerChunk, rows - rowStart);
    const data = owner.storage(rowCount * rowBytes.data, `${label}[${rowStart}]`);
    const scales = rowBytes.scales ? owner.storage(alignTo(rowCount * rowBytes.scales, 4), `${label}.scales[${rowStart}]`) : null;
    for (let r = 0; r < rowCount; r += rowsPerUpload) {
      const n = Math.min(rowsPerUpload, rowCount - r);
      const src = await source(rowStart + r, n);
      if (src.byteLength !== n * srcRowBytes) throw new Error(`${label}: source gave ${src.byteLength} bytes for ${n} rows`);
      if (!scales || !quants || !blockScales) {
        writeBytes(owner.device, data, r * rowBytes.data, src);
      } else {
        const q = quants.subarray(0, n * rowBytes.data);
        const s = blockScales.subarray(0, alignTo(n * rowBytes.scales, 4));
        repackBlocks(dtype, src, q, s);
        writeBytes(owner.device, data, r * rowBytes.data, q);
        writeBytes(owner.device, scales, r * rowBytes.scales, s.subarray(0, n * rowBytes.scales));
      }
    }
    chunks.push({ rowStart, rowCount, data, scales });
  }
  return { dtype, rows, cols, chunks, bytes: rows * (rowBytes.data + rowBytes.scales) };
}
