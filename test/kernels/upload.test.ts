// uploadMatrix through the repack worker threads (several pieces in flight, out of order) writes the
// same GPU bytes as one piece at a time repacked on the loading thread, for every dtype: random GGUF
// blocks, pieces of a few rows, and row chunks whose edges fall inside pieces, so every piece offset
// and chunk edge is crossed; both equal each chunk's rows repacked in one call. What the bytes mean to a kernel is tested by the matmul and embed tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { alignTo, BufferOwner, readBuffer } from '../../src/gpu/buffers';
import { uploadMatrix, type GpuMatrix } from '../../src/gpu/matrix';
import { UploadQueue } from '../../src/gpu/uploadQueue';
import { GPU_LAYOUT, ggufRowBytes, gpuRowBytes, repackBlocks, type WeightDtype } from '../../src/loaders/repack';
import { findRepackWorker, RepackPool } from '../../src/loaders/repackPool';
import { Xoshiro128 } from '../../src/tools/prng';
import { testGpu } from '../helpers/gpuModel';

let gpu: Gpu;
let owner: BufferOwner;
let pool: RepackPool;

before(async () => {
  gpu = await testGpu();
  owner = new BufferOwner(gpu.device, 'upload-test');
  const worker = findRepackWorker();
  assert.ok(worker, 'repackWorker.js is built beside the test bundles');
  pool = new RepackPool(worker, 2);
});

after(async () => {
  owner?.dispose();
  await pool?.close();
});

async function gpuBytes(m: GpuMatrix): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const c of m.chunks) {
    out.push(new Uint8Array(await readBuffer(gpu.device, c.data, c.data.size)));
    if (c.scales) out.push(new Uint8Array(await readBuffer(gpu.device, c.scales, c.scales.size)));
  }
  return out;
}

for (const dtype of Object.keys(GPU_LAYOUT) as WeightDtype[]) {
  test(`upload ${dtype}: worker threads, pieces in flight, write what the loading thread writes`, async () => {
    const cols = GPU_LAYOUT[dtype].colMultiple * 2;
    const rows = 45;
    const rowBytes = ggufRowBytes(dtype, cols);
    const rng = new Xoshiro128(5);
    const blocks = new Uint8Array(rows * rowBytes);
    for (let i = 0; i < blocks.length; i++) blocks[i] = Math.floor(rng.next() * 256);
    // f16/f32 values stay as they are; NaN patterns included, since they are bytes to the upload.
    let reads = 0;
    const source = async (start: number, count: number, into?: Uint8Array) => {
      reads++;
      const bytes = blocks.subarray(start * rowBytes, (start + count) * rowBytes);
      if (!into || reads % 2 === 0) return bytes.slice(); // both kinds of source: ignoring `into`, and filling it
      into.set(bytes);
      return into;
    };
    // Chunks of 17 rows (edges inside pieces of 4 rows); pieces finish out of order on two threads.
    const chunkBytes = 17 * gpuRowBytes(dtype, cols).data;
    const pieceBytes = 4 * rowBytes;
    const threaded = await uploadMatrix(owner, dtype, rows, cols, source, `${dtype}-threads`, chunkBytes, { queue: new UploadQueue(pool), pieceBytes });
    const inline = await uploadMatrix(owner, dtype, rows, cols, source, `${dtype}-inline`, chunkBytes, { queue: new UploadQueue(null), pieceBytes });
    assert.equal(threaded.chunks.length, 3);
    const [a, b] = [await gpuBytes(threaded), await gpuBytes(inline)];
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], b[i], `${dtype}: buffer ${i}`);
    // And both equal each chunk's rows repacked in one call, with nothing written past them.
    const per = gpuRowBytes(dtype, cols);
    let i = 0;
    for (const c of threaded.chunks) {
      const want = { data: new Uint8Array(c.rowCount * per.data), scales: new Uint8Array(alignTo(c.rowCount * per.scales, 4)) };
      repackBlocks(dtype, blocks.subarray(c.rowStart * rowBytes, (c.rowStart + c.rowCount) * rowBytes), want.data, want.scales);
      assert.deepEqual(a[i].subarray(0, want.data.length), want.data, `${dtype}: chunk at row ${c.rowStart}, quants`);
      assert.ok(a[i++].subarray(want.data.length).every((x) => x === 0), `${dtype}: nothing past the chunk's quants`);
      if (!c.scales) continue;
      const scaleBytes = c.rowCount * per.scales;
      assert.deepEqual(a[i].subarray(0, scaleBytes), want.scales.subarray(0, scaleBytes), `${dtype}: chunk at row ${c.rowStart}, scales`);
      assert.ok(a[i++].subarray(scaleBytes).every((x) => x === 0), `${dtype}: nothing past the chunk's scales`);
    }
  });
}
