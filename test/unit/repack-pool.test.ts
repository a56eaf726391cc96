// The repack worker threads (src/loaders/repackPool.ts) and the upload queue that feeds them
// (src/gpu/uploadQueue.ts): the threads' output equals the loading thread's repack for every quantized
// type, many jobs at once; the queue keeps at most `slots` pieces in flight, in order, and stops a load
// at its first failure; buffers are reused; a thread that dies fails its jobs with a clear error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU_LAYOUT, isQuantized, repackBlocks, type WeightDtype } from '../../src/loaders/repack';
import { findRepackWorker, RepackPool, repackThreadsFor, sharedRepackPool } from '../../src/loaders/repackPool';
import { UploadQueue } from '../../src/gpu/uploadQueue';
import { alignTo } from '../../src/gpu/buffers';
import { Xoshiro128 } from '../../src/tools/prng';

const QUANTIZED = (Object.keys(GPU_LAYOUT) as WeightDtype[]).filter(isQuantized);
const pools: RepackPool[] = [];

function newPool(threads: number, path = findRepackWorker()): RepackPool {
  assert.ok(path, 'repackWorker.js is built beside the test bundles (scripts/build.mjs)');
  const pool = new RepackPool(path, threads);
  pools.push(pool);
  return pool;
}

after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function randomBlocks(rng: Xoshiro128, dtype: WeightDtype, nBlocks: number): Uint8Array {
  const src = new Uint8Array(nBlocks * GPU_LAYOUT[dtype].ggufBlockBytes);
  for (let i = 0; i < src.length; i++) src[i] = Math.floor(rng.next() * 256);
  return src;
}

test('the test build has a repack worker, and the process pool uses one thread per core but one', () => {
  assert.ok(findRepackWorker(), 'dist-test/repackWorker.js');
  assert.ok(sharedRepackPool() !== null || process.env.TANDEM_REPACK_THREADS === '0');
  assert.equal(repackThreadsFor(1), 1);
  assert.equal(repackThreadsFor(2), 1);
  assert.equal(repackThreadsFor(6), 5);
  assert.equal(repackThreadsFor(64), 8);
});

test('repack on worker threads equals the loading thread repack, for every quantized type, jobs in parallel', async () => {
  const queue = new UploadQueue(newPool(2));
  const rng = new Xoshiro128(3);
  const jobs = QUANTIZED.flatMap((dtype) => [1, 7, 37].map((nBlocks) => ({ dtype, nBlocks })));
  await Promise.all(jobs.map(({ dtype, nBlocks }) => queue.run(async () => {
    const l = GPU_LAYOUT[dtype];
    const src = randomBlocks(rng, dtype, nBlocks);
    const want = { data: new Uint8Array(nBlocks * l.dataBlockBytes), scales: new Uint8Array(alignTo(nBlocks * l.scaleBlockBytes, 4)) };
    repackBlocks(dtype, src, want.data, want.scales);
    // From the caller's own array (copied to shared memory) and from one the queue gave (read in place).
    const shared = queue.take(src.byteLength, true);
    shared.set(src);
    for (const from of [src, shared]) {
      const got = await queue.repack(dtype, from, want.data.byteLength, want.scales.byteLength);
      assert.deepEqual(got.data, want.data, `${dtype} x${nBlocks}: quants`);
      // The last scale word may hold padding the repack does not write.
      const scaleBytes = nBlocks * l.scaleBlockBytes;
      assert.deepEqual(got.scales.subarray(0, scaleBytes), want.scales.subarray(0, scaleBytes), `${dtype} x${nBlocks}: scales`);
      queue.give(got.data, got.scales);
    }
    queue.give(shared);
    assert.deepEqual(src.byteLength, nBlocks * l.ggufBlockBytes, 'the caller keeps its array');
  })));
});

test('the queue runs at most `slots` tasks at once, in the order asked', async () => {
  const queue = new UploadQueue(newPool(3));
  assert.equal(queue.slots, 4);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const wakes: (() => void)[] = [];
  const tasks = Array.from({ length: 11 }, (_, i) => queue.run(async () => {
    started.push(i);
    peak = Math.max(peak, ++running);
    await new Promise<void>((wake) => wakes.push(wake));
    running--;
    return i;
  }));
  // Release the tasks one at a time, newest first among those running, until all have run.
  while (started.length < 11 || wakes.length > 0) {
    await new Promise((r) => setImmediate(r));
    wakes.pop()?.();
  }
  assert.deepEqual(await Promise.all(tasks), [...Array(11).keys()]);
  assert.equal(peak, 4);
  assert.deepEqual(started, [...Array(11).keys()]);
});

test('after a failed task, the tasks not yet started reject with the first error and never run', async () => {
  const queue = new UploadQueue(null);
  assert.equal(queue.slots, 1);
  const ran: number[] = [];
  const bad = new Error('tensor.blk.0.attn_q.weight: file ended');
  const results = await Promise.allSettled([0, 1, 2, 3].map((i) => queue.run(async () => {
    ran.push(i);
    if (i === 1) throw bad;
  })));
  assert.deepEqual(ran, [0, 1]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected']);
  for (const r of results.slice(1)) assert.equal((r as PromiseRejectedResult).reason, bad);
  // fail() from outside the queue (a missing tensor found elsewhere) stops it the same way.
  const other = new UploadQueue(null);
  other.fail(bad);
  await assert.rejects(other.run(async () => 1), (e) => e === bad);
});

test('take() reuses the buffers given back, of the right kind and size, and ignores foreign arrays', () => {
  const pool = newPool(1);
  const queue = new UploadQueue(pool);
  const a = queue.take(100_000);
  const s = queue.take(100_000, true);
  assert.ok(s.buffer instanceof SharedArrayBuffer && !(a.buffer instanceof SharedArrayBuffer));
  queue.give(a, s, new Uint8Array(1 << 20), new Uint8Array(new SharedArrayBuffer(1 << 20)));
  assert.equal(queue.take(90_000).buffer, a.buffer, 'a plain buffer comes back for a plain request');
  assert.equal(queue.take(120_000, true).buffer, s.buffer, 'sized in powers of two: 100,000 bytes took 128 KiB');
  assert.ok(queue.take(1 << 20).buffer.byteLength >= 1 << 20, 'the foreign arrays were not kept');
  // Shared buffers belong to the pool, so the next load's queue reuses them.
  const next = new UploadQueue(pool);
  const t = next.take(100_000, true);
  next.give(t);
  assert.equal(new UploadQueue(pool).take(70_000, true).buffer, t.buffer);
  assert.throws(() => new UploadQueue(null).take(10, true), /shared memory is for a repack pool/);
});

test('a repack that throws on a thread rejects that job only; the pool goes on', async () => {
  const pool = newPool(1);
  const queue = new UploadQueue(pool);
  // 3 q8_0 blocks into quants sized for 2: the word loop runs past the end.
  const src = queue.take(3 * 34, true);
  await assert.rejects(pool.repack('q8_0', { src, data: queue.take(64, true), scales: queue.take(8, true) }), /repack of q8_0 blocks failed/);
  assert.equal(pool.broken, null);
  const ok = await queue.repack('q8_0', src, 96, 8);
  assert.equal(ok.data.byteLength, 96);
});

test('a thread that dies fails its jobs with a clear error; the queue repacks them on its own thread instead', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-repack-'));
  const dying = join(dir, 'dying.js');
  writeFileSync(dying, 'process.exit(3);\n');
  const pool = newPool(1, dying);
  const queue = new UploadQueue(pool);
  const direct = [0, 1].map(() => pool.repack('q8_0', { src: queue.take(34, true), data: queue.take(32, true), scales: queue.take(4, true) }));
  for (const j of direct) await assert.rejects(j, /repack worker pool: a worker thread exited \(code 3\)/);
  assert.match(pool.broken ?? '', /exited/);
  // Through the queue nothing is lost: the blocks are still in shared memory.
  const rng = new Xoshiro128(9);
  const src = randomBlocks(rng, 'q4_k', 3);
  const want = { data: new Uint8Array(3 * 128), scales: new Uint8Array(3 * 16) };
  repackBlocks('q4_k', src, want.data, want.scales);
  const got = await queue.repack('q4_k', src, want.data.byteLength, want.scales.byteLength);
  assert.deepEqual([got.data, got.scales], [want.data, want.scales]);
});

test('a thread that cannot start at all (here: a path Worker refuses) fails the jobs; the queue repacks them itself', async () => {
  const pool = newPool(1, 'not/an/absolute/path.js');
  await assert.rejects(pool.repack('q8_0', { src: pool.shared.take(34), data: pool.shared.take(32), scales: pool.shared.take(4) }), /no worker thread could start/);
  assert.match(pool.broken ?? '', /no worker thread could start/);
  const queue = new UploadQueue(pool);
  const src = randomBlocks(new Xoshiro128(4), 'q8_0', 2);
  const want = { data: new Uint8Array(64), scales: new Uint8Array(4) };
  repackBlocks('q8_0', src, want.data, want.scales);
  const got = await queue.repack('q8_0', src, 64, 4);
  assert.deepEqual([got.data, got.scales], [want.data, want.scales]);
});
