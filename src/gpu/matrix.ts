// A weight matrix [rows][cols] on the GPU in one of the kernels' layouts, split by rows into chunks that
// each fit one storage binding (maxStorageBufferBindingSize: 128 MiB on lavapipe; a 151,936 x 896 f16
// embedding is 272 MB). Filled by streaming rows from a source in pieces (uploadQueue.ts: repacked on
// worker threads, several in flight), so host memory stays bounded.

import { OutOfMemoryError } from '../common/errors';
import { GPU_LAYOUT, ggufRowBytes, gpuRowBytes, type WeightDtype } from '../loaders/repack';
import { sharedRepackPool } from '../loaders/repackPool';
import { alignTo, type BufferOwner } from './buffers';
import { allSettledOrThrow, UploadQueue } from './uploadQueue';

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

/**
 * Reads GGUF-layout bytes of rows [rowStart, rowStart + rowCount). `into`, when given, is an array of
 * exactly that many bytes the source may fill and return (a reused buffer), or ignore.
 */
export type RowSource = (rowStart: number, rowCount: number, into?: Uint8Array) => Promise<Uint8Array>;

export interface UploadOptions {
  /** The load's pieces in flight (shared by every matrix of a model); by default one for this matrix. */
  queue?: UploadQueue;
  /** GGUF bytes per piece (default UPLOAD_BYTES; tests use small pieces to cross piece and chunk edges). */
  pieceBytes?: number;
}

/** GGUF bytes read per piece (one writeBuffer each): bounds the host memory a piece in flight holds. */
export const UPLOAD_BYTES = 16 << 20;

export async function uploadMatrix(
  owner: BufferOwner, dtype: WeightDtype, rows: number, cols: number, source: RowSource, label: string,
  maxChunkBytes = owner.device.limits.maxStorageBufferBindingSize, options: UploadOptions = {},
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
  const rowsPerUpload = Math.max(2, Math.floor((options.pieceBytes ?? UPLOAD_BYTES) / srcRowBytes / 2) * 2);
  const queue = options.queue ?? new UploadQueue(sharedRepackPool());
  const chunks: MatrixChunk[] = [];
  const pieces: Promise<void>[] = [];
  for (let rowStart = 0; rowStart < rows; rowStart += rowsPerChunk) {
    const rowCount = Math.min(rowsPerChunk, rows - rowStart);
    const data = owner.storage(rowCount * rowBytes.data, `${label}[${rowStart}]`);
    const scales = rowBytes.scales ? owner.storage(alignTo(rowCount * rowBytes.scales, 4), `${label}.scales[${rowStart}]`) : null;
    chunks.push({ rowStart, rowCount, data, scales });
    for (let r = 0; r < rowCount; r += rowsPerUpload) {
      const n = Math.min(rowsPerUpload, rowCount - r);
      pieces.push(queue.run(async () => {
        // GGUF bytes to repack are read straight into memory the repack threads see.
        const into = queue.take(n * srcRowBytes, scales !== null && queue.pool !== null);
        const src = await source(rowStart + r, n, into);
        if (src.byteLength !== n * srcRowBytes) throw new Error(`${label}: source gave ${src.byteLength} bytes for ${n} rows`);
        if (!scales) {
          queue.write(owner.device, data, r * rowBytes.data, src);
          queue.give(into);
          return;
        }
        const out = await queue.repack(dtype, src, n * rowBytes.data, alignTo(n * rowBytes.scales, 4));
        queue.write(owner.device, data, r * rowBytes.data, out.data);
        queue.write(owner.device, scales, r * rowBytes.scales, out.scales.subarray(0, n * rowBytes.scales));
        queue.give(into, out.data, out.scales);
      }));
    }
  }
  // Every piece settles before this returns or throws, so none writes to a buffer its caller has disposed.
  await allSettledOrThrow(pieces);
  return { dtype, rows, cols, chunks, bytes: rows * (rowBytes.data + rowBytes.scales) };
}
