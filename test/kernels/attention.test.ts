// AttentionOp over the paged KV cache: rope_store_kv (rotate q in place, write rotated k and plain v at
// their slots) then causal attention, in one pass as the model encodes them. A sequence is fed in
// batches (T in 1, 2, 3, 5, 17; later batches start at pos0 > 0 after a cached prefix) through a
// shuffled, non-contiguous block table, and after every batch:
//   - q in qkv equals the f64 rope of the input (normal or NeoX, full or partial n_rot); k, v in qkv unchanged;
//   - the K/V caches hold exactly the expected values at block_table[p / BLOCK], slot p % BLOCK, and
//     every other slot still holds its NaN sentinel (so attention reading a wrong slot would give NaN);
//   - out equals the f64 reference computed from contiguous K/V (GQA, sliding window), |Δ| <= 1e-5 max|v|.
// Configurations cover block sizes 16/32/64 with contexts crossing block boundaries, GQA ratios 1, 2, 3
// and 7 (14 heads / 2 kv), head dims 8, 64 and 128, and the lane counts of hardware adapters.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { AttentionOp, attentionLanes, attentionSplits, type AttentionShape } from '../../src/ops/attention';
import { ropeTable } from '../../src/model/rope';
import { testGpu } from '../helpers/gpuModel';
import { attentionRef, pagedIndex, ropeRef } from './reference';
import { WorstErrors, assertClose, checked, compare, permutation, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const ROPE_BOUND = 1e-6;

let gpu: Gpu;
let ctx: OpContext;
/** The same device, presented as a hardware adapter, so AttentionOp picks the hardware lane counts. */
let hwCtx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'attention-test');
  const asHardware = Object.create(gpu, { adapter: { value: { ...gpu.adapter, isSoftware: false } } }) as Gpu;
  hwCtx = new OpContext(asHardware, 'attention-test-hw');
});

after(() => {
  ctx?.dispose();
  hwCtx?.dispose();
  console.log(`attention: ${shapes} configurations\n${worst.summary()}`);
});

interface Config extends AttentionShape {
  /** Batch sizes fed one after another (positions 0..Σ-1). */
  steps: number[];
  theta: number;
  /** Scale of q: larger makes the softmax peaky (scores of tens). */
  qScale: number;
  hardwareLanes?: boolean;
  seed: number;
}

/** Elements equal where `want` is NaN (both NaN), and within `bound` x max|want| elsewhere. */
function compareWithSentinels(got: Float32Array, want: Float64Array, what: string): void {
  let wantMax = 0;
  for (const w of want) if (!Number.isNaN(w)) wantMax = Math.max(wantMax, Math.abs(w));
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert.ok(Number.isNaN(got[i]), `${what}: element ${i} should be untouched (NaN sentinel), got ${got[i]}`);
      continue;
    }
    const d = Math.abs(got[i] - want[i]);
    assert.ok(d <= ROPE_BOUND * wantMax, `${what}: element ${i} got ${got[i]}, want ${want[i]}`);
    maxAbs = Math.max(maxAbs, d);
  }
  worst.add('rope + kv store', { nmse: 0, maxAbs, maxRel: maxAbs / wantMax });
}

async function runConfig(c: Config): Promise<void> {
  shapes++;
  const r = rng(c.seed);
  const { nHeads, nKvHeads: nKv, headDim: hd, blockSize: block } = c;
  const rowWidth = (nHeads + 2 * nKv) * hd;
  const maxT = Math.max(...c.steps);
  const positions = c.steps.reduce((a, b) => a + b, 0);
  const blocksUsed = Math.ceil(positions / block);
  // A pool larger than needed, handed out in shuffled order: logical block i lives at pool block table[i].
  const table = permutation(r, blocksUsed + 3).slice(0, blocksUsed);
  const cacheElems = (blocksUsed + 3) * nKv * block * hd;
  const context = c.hardwareLanes ? hwCtx : ctx;
  const own = context.owner;
  const buffers = {
    qkv: own.storage(maxT * rowWidth * 4, 'qkv'),
    ropeTable: own.storageFrom(ropeTable(positions, c.nRot, c.theta), 'rope'),
    blockTable: own.storageFrom(new Uint32Array(table), 'blockTable'),
    kCache: own.storageFrom(new Float32Array(cacheElems).fill(NaN), 'k'),
    vCache: own.storageFrom(new Float32Array(cacheElems).fill(NaN), 'v'),
    out: own.storage(maxT * nHeads * hd * 4, 'out'),
    partials: own.storage(nHeads * Math.ceil(positions / Math.max(1, c.splitKeys ?? 1)) * (hd + 2) * 4, 'partials'),
  };
  const op = await checked(gpu, () => new AttentionOp(context, c, buffers, 'attn'));
  const lanes = attentionLanes(hd, !c.hardwareLanes && gpu.adapter.isSoftware);

  // Contiguous references [position][nKv][hd]: k rotated, v as given.
  const kRef = new Float64Array(positions * nKv * hd);
  const vRef = new Float64Array(positions * nKv * hd);
  const kCacheWant = new Float64Array(cacheElems).fill(NaN);
  const vCacheWant = new Float64Array(cacheElems).fill(NaN);

  let pos0 = 0;
  for (const T of c.steps) {
    const what = `splitKeys=${c.splitKeys ?? 0} heads ${nHeads}/${nKv} hd=${hd} nRot=${c.nRot}${c.neox ? ' neox' : ''} block=${block} window=${c.slidingWindow} lanes=${lanes} T=${T} pos0=${pos0}`;
    const qkvIn = randomF32(r, maxT * rowWidth);
    for (let t = 0; t < T; t++) for (let i = 0; i < nHeads * hd; i++) qkvIn[t * rowWidth + i] *= c.qScale;
    gpu.device.queue.writeBuffer(buffers.qkv, 0, qkvIn);
    gpu.device.queue.writeBuffer(buffers.out, 0, new Float32Array(maxT * nHeads * hd).fill(-9));
    const span = c.slidingWindow > 0 ? Math.min(c.slidingWindow, pos0 + 1) : pos0 + 1;
    const splits = attentionSplits(T, span, c.splitKeys ?? 0);
    context.writeStep(T, pos0, T, splits);
    await runPass(gpu, (pass) => op.encode(pass, T, splits));

    const qkvWant = Float64Array.from(qkvIn);
    const qRef = new Float64Array(T * nHeads * hd);
    for (let t = 0; t < T; t++) {
      const p = pos0 + t;
      for (let h = 0; h < nHeads + 2 * nKv; h++) {
        const at = t * rowWidth + h * hd;
        const x = qkvIn.subarray(at, at + hd);
        if (h < nHeads) {
          const q = ropeRef(x, p, c.nRot, c.neox, c.theta);
          qkvWant.set(q, at);
          qRef.set(q, (t * nHeads + h) * hd);
          continue;
        }
        const isK = h < nHeads + nKv;
        const g = isK ? h - nHeads : h - nHeads - nKv;
        const value = isK ? ropeRef(x, p, c.nRot, c.neox, c.theta) : Float64Array.from(x);
        (isK ? kRef : vRef).set(value, (p * nKv + g) * hd);
        const cacheWant = isK ? kCacheWant : vCacheWant;
        for (let d = 0; d < hd; d++) cacheWant[pagedIndex(table, block, nKv, hd, p, g, d)] = value[d];
      }
    }
    const qkvGot = await readF32(gpu, buffers.qkv, maxT * rowWidth);
    const qkvStats = compare(qkvGot, qkvWant);
    worst.add('rope + kv store', qkvStats);
    assertClose(qkvStats, ROPE_BOUND, `${what}: qkv after rope (q rotated in place, k and v unchanged)`);
    compareWithSentinels(await readF32(gpu, buffers.kCache, cacheElems), kCacheWant, `${what}: k cache`);
    compareWithSentinels(await readF32(gpu, buffers.vCache, cacheElems), vCacheWant, `${what}: v cache`);

    const want = attentionRef({ q: qRef, k: kRef, v: vRef, T, pos0, nHeads, nKv, hd, window: c.slidingWindow });
    const got = await readF32(gpu, buffers.out, T * nHeads * hd);
    const stats = compare(got, want, new Float64Array(want.length).fill(1)); // |v| <= 1: relative to max|v|
    worst.add(`attention hd${hd}`, stats);
    assertClose(stats, BOUND, `${what}: attention out`);
    pos0 += T;
  }
}

test('GQA 1 (4/4 heads), hd 8, normal rope, block 16: context 45 crosses blocks 16 and 32', async () => {
  await runConfig({
    nHeads: 4, nKvHeads: 4, headDim: 8, nRot: 8, neox: false, blockSize: 16, slidingWindow: 0,
    steps: [17, 1, 5, 3, 2, 17], theta: 10000, qScale: 2, seed: 1,
  });
});

test('GQA 2 (4/2 heads), hd 64, NeoX rope, block 32, peaky softmax: context 43 crosses block 32', async () => {
  await runConfig({
    nHeads: 4, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 32, slidingWindow: 0,
    steps: [5, 17, 17, 1, 3], theta: 1e6, qScale: 20, seed: 2,
  });
});

test('GQA 7 (14/2 heads), hd 128, NeoX rope on 64 of 128 dims, block 64: context 76 crosses block 64', async () => {
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 128, nRot: 64, neox: true, blockSize: 64, slidingWindow: 0,
    steps: [17, 17, 17, 5, 17, 1, 2], theta: 1e6, qScale: 2, seed: 3,
  });
});

test('sliding window 20, GQA 3 (6/2 heads), hd 64, normal rope on 32 of 64 dims, block 16', async () => {
  await runConfig({
    nHeads: 6, nKvHeads: 2, headDim: 64, nRot: 32, neox: false, blockSize: 16, slidingWindow: 20,
    steps: [17, 5, 1, 17, 3], theta: 10000, qScale: 3, seed: 4,
  });
});

test('hardware lane counts (32 lanes for hd 64, 16 for hd 128) on the same device', async () => {
  await runConfig({
    nHeads: 4, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 32, slidingWindow: 0,
    steps: [5, 17, 17, 1, 3], theta: 1e6, qScale: 20, hardwareLanes: true, seed: 5,
  });
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 128, nRot: 64, neox: true, blockSize: 64, slidingWindow: 0,
    steps: [17, 17, 17, 5, 17, 1, 2], theta: 1e6, qScale: 2, hardwareLanes: true, seed: 6,
  });
});

// Flash-decoding: one-token steps split over 8-key ranges (up to 8 splits as the context grows, and
// a window that moves the split boundaries), merged by attention_combine; GQA 7 and a sliding window of 37.
test('split decode attention (8-key splits + combine): GQA 7 hd 64, and a sliding window of 37', async () => {
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 16, slidingWindow: 0, splitKeys: 8,
    steps: [17, 1, 1, 1, 17, 1, 1, 5, 1, 1], theta: 1e6, qScale: 3, hardwareLanes: true, seed: 7,
  });
  await runConfig({
    nHeads: 6, nKvHeads: 2, headDim: 64, nRot: 32, neox: false, blockSize: 16, slidingWindow: 37, splitKeys: 8,
    steps: [17, 17, 1, 1, 1, 17, 1, 1], theta: 10000, qScale: 3, hardwareLanes: true, seed: 8,
  });
});
