// Model load time against its floor, measured in the same process: loadModel (read the GGUF, repack the
// quantized blocks into the kernels' layouts, upload) and a raw upload of the same tensor bytes in the
// same chunk size with no repack, so the ratio is what our loader adds to reading and copying. A first,
// untimed load compiles the model's kernels (the pipeline cache keeps them) and brings the file into the
// page cache; then the runs alternate, so that drift hits all alike. Each run also loads the model with
// the repack on the loading thread (no worker threads), the same engine without that feature. The
// repack is also timed alone per weight type: one thread against a memcpy (TypedArray.set) of the same
// bytes, and the pool's threads against one thread.

import type { Gpu } from '../gpu/device';
import { alignTo, BufferOwner, writeBytes } from '../gpu/buffers';
import { readTensorBytes } from '../loaders/gguf/reader';
import type { GgufFile } from '../loaders/gguf/types';
import { DTYPE_OF_GGML, GPU_LAYOUT, ggufRowBytes, gpuRowBytes, repackBlocks, type WeightDtype } from '../loaders/repack';
import { loadModel } from '../model/load';
import { UPLOAD_BYTES } from '../gpu/matrix';
import { UploadQueue } from '../gpu/uploadQueue';
import type { RepackPool } from '../loaders/repackPool';
import type { RequantDtype } from '../loaders/quant/requantize';
import { median } from './stats';

/** The loader's own read size, so the floor reads in the same steps. */
const CHUNK_BYTES = UPLOAD_BYTES;

export interface LoadTimes {
  /** Tensor bytes in the file. */
  fileBytes: number;
  loadMs: number[];
  /** The same loads with the repack on the loading thread. */
  loadOneThreadMs: number[];
  rawUploadMs: number[];
}

/** Every tensor's bytes, read in CHUNK_BYTES pieces and written to GPU buffers as they are. */
async function rawUpload(gpu: Gpu, file: GgufFile): Promise<void> {
  const owner = new BufferOwner(gpu.device, 'bench-load-raw');
  try {
    const maxBytes = Math.min(gpu.limits.maxBufferSize, gpu.limits.maxStorageBufferBindingSize);
    for (const t of file.tensors) {
      for (let bufStart = 0; bufStart < t.byteSize; bufStart += maxBytes) {
        const size = Math.min(maxBytes, t.byteSize - bufStart);
        const buf = owner.storage(size, t.name);
        for (let at = 0; at < size; at += CHUNK_BYTES) {
          writeBytes(gpu.device, buf, at, await readTensorBytes(file, t, bufStart + at, Math.min(CHUNK_BYTES, size - at)));
        }
      }
    }
    await gpu.device.queue.onSubmittedWorkDone();
  } finally {
    owner.dispose();
  }
}

async function timedLoad(gpu: Gpu, file: GgufFile, repackPool: RepackPool | null, requantize?: RequantDtype): Promise<number> {
  const t0 = performance.now();
  const { model } = await loadModel(gpu, file.path, { maxContextTokens: 64, maxBatchTokens: 16, repackPool, requantize });
  await gpu.device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  model.dispose();
  return ms;
}

/**
 * `pool`: the repack threads the timed loads use (null: the loading thread, as the second load of each
 * run). `requantize`: the loads are the self-draft's (the raw upload stays the file's bytes as they are).
 */
export async function measureLoad(gpu: Gpu, file: GgufFile, runs: number, pool: RepackPool | null, requantize?: RequantDtype): Promise<LoadTimes> {
  const times: LoadTimes = { fileBytes: file.tensors.reduce((s, t) => s + t.byteSize, 0), loadMs: [], loadOneThreadMs: [], rawUploadMs: [] };
  await timedLoad(gpu, file, pool, requantize); // the warm-up
  for (let r = 0; r < runs; r++) {
    times.loadMs.push(await timedLoad(gpu, file, pool, requantize));
    times.loadOneThreadMs.push(await timedLoad(gpu, file, null, requantize));
    const t0 = performance.now();
    await rawUpload(gpu, file);
    times.rawUploadMs.push(performance.now() - t0);
  }
  return times;
}

export interface RepackSpeed {
  dtype: WeightDtype;
  bytes: number;
  repackBytesPerS: number;
  memcpyBytesPerS: number;
  /** With the pool: its threads each repacking copies of the same bytes at once. */
  threads?: { count: number; repackBytesPerS: number };
}

/**
 * Per quantized weight type in the file: up to CHUNK_BYTES of its largest tensor, repacked and copied
 * `runs` times; with `pool`, also repacked on all its threads at once (two pieces per thread).
 */
export async function measureRepack(file: GgufFile, runs: number, pool: RepackPool | null): Promise<RepackSpeed[]> {
  const largest = new Map<WeightDtype, GgufFile['tensors'][number]>();
  for (const t of file.tensors) {
    const dtype = DTYPE_OF_GGML[t.type];
    if (!dtype || GPU_LAYOUT[dtype].scaleBlockBytes === 0 || t.dims.length < 2) continue;
    if ((largest.get(dtype)?.byteSize ?? 0) < t.byteSize) largest.set(dtype, t);
  }
  const out: RepackSpeed[] = [];
  for (const [dtype, t] of largest) {
    const cols = t.dims[0];
    const rowBytes = ggufRowBytes(dtype, cols);
    const rows = Math.max(1, Math.min(t.dims[1], Math.floor(CHUNK_BYTES / rowBytes)));
    const src = await readTensorBytes(file, t, 0, rows * rowBytes);
    const gpuBytes = gpuRowBytes(dtype, cols);
    const data = new Uint8Array(rows * gpuBytes.data);
    const scales = new Uint8Array(alignTo(rows * gpuBytes.scales, 4));
    const copy = new Uint8Array(src.byteLength);
    const repackMs: number[] = [];
    const memcpyMs: number[] = [];
    for (let r = 0; r <= runs; r++) {
      let t0 = performance.now();
      repackBlocks(dtype, src, data, scales);
      const repack = performance.now() - t0;
      t0 = performance.now();
      copy.set(src);
      const memcpy = performance.now() - t0;
      if (r === 0) continue; // the first run compiles the loops
      repackMs.push(repack);
      memcpyMs.push(memcpy);
    }
    const speed: RepackSpeed = { dtype, bytes: src.byteLength, repackBytesPerS: src.byteLength / (median(repackMs) / 1000), memcpyBytesPerS: src.byteLength / (median(memcpyMs) / 1000) };
    if (pool) speed.threads = { count: pool.maxThreads, repackBytesPerS: await threadedRepackBytesPerS(pool, dtype, src, data.byteLength, scales.byteLength, runs) };
    out.push(speed);
  }
  return out;
}

async function threadedRepackBytesPerS(pool: RepackPool, dtype: WeightDtype, src: Uint8Array, dataBytes: number, scaleBytes: number, runs: number): Promise<number> {
  const queue = new UploadQueue(pool);
  const pieces = Array.from({ length: 2 * pool.maxThreads }, () => {
    const shared = queue.take(src.byteLength, true);
    shared.set(src);
    return { src: shared, data: queue.take(dataBytes, true), scales: queue.take(scaleBytes, true) };
  });
  const ms: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    await Promise.all(pieces.map((p) => pool.repack(dtype, p)));
    if (r > 0) ms.push(performance.now() - t0); // the first run starts the threads and compiles the loops
  }
  return (pieces.length * src.byteLength) / (median(ms) / 1000);
}
