// HeadNormOp (kernels/head_norm.wgsl): each q head and k head of the q|k|v rows becomes
// x / sqrt(mean(x²) + eps) * (q or k weight), in place, against the f64 reference (rmsnormRef on each head
// row); per element |got - want| <= 1e-5 |want|. v heads, and rows past the batch, must be left untouched.
// Shapes: head widths 4 (most of the 32 lanes idle), 36 and 100 (not multiples of the lanes), 64, 128
// (Qwen3) and 256 (the most the attention kernels take); MHA, GQA and MQA; T in 1, 2, 5, 17; heads scaled
// by 10^(-3..3), so eps matters at the small end. And a row's bits do not depend on the batch around it
// (a verify pass must normalise as a decode step does).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { HeadNormOp } from '../../src/ops/headNorm';
import { testGpu } from '../helpers/gpuModel';
import { rmsnormRef } from './reference';
import { WorstErrors, assertClose, checked, compare, firstMismatch, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const EPS = 1e-6;
const MAX_T = 17;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'head-norm-test');
});

after(() => {
  ctx?.dispose();
  console.log(`head_norm: ${shapes} shapes\n${worst.summary()}`);
});

interface Shape { nHeads: number; nKvHeads: number; headDim: number }

/** The expected q|k|v rows: q and k heads of the first T tokens normalised, everything else as it was. */
function reference(x: Float32Array, s: Shape, T: number, qw: Float32Array, kw: Float32Array): Float64Array {
  const HD = s.headDim;
  const heads = s.nHeads + 2 * s.nKvHeads;
  const want = Float64Array.from(x);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < s.nHeads + s.nKvHeads; h++) {
      const row = (t * heads + h) * HD;
      want.set(rmsnormRef(x.subarray(row, row + HD), HD, 0, 1, h < s.nHeads ? qw : kw, EPS), row);
    }
  }
  return want;
}

/** [MAX_T][heads][HD], head row j of the whole buffer scaled by 10^(-3..3) in turn. */
function randomQkv(r: () => number, s: Shape): Float32Array {
  const HD = s.headDim;
  const rows = MAX_T * (s.nHeads + 2 * s.nKvHeads);
  const x = randomF32(r, rows * HD);
  for (let j = 0; j < rows; j++) {
    const scale = Math.pow(10, -3 + (6 * (j % 7)) / 6);
    for (let i = 0; i < HD; i++) x[j * HD + i] *= scale;
  }
  return x;
}

async function checkHeadNorm(s: Shape, seed: number): Promise<void> {
  shapes++;
  const r = rng(seed);
  const n = MAX_T * (s.nHeads + 2 * s.nKvHeads) * s.headDim;
  const qw = randomF32(r, s.headDim, 2);
  const kw = randomF32(r, s.headDim, 2);
  const qkv = ctx.owner.storage(n * 4, 'qkv');
  const op = await checked(gpu, () => new HeadNormOp(ctx, { ...s, eps: EPS }, { qkv, qWeight: ctx.owner.storageFrom(qw, 'qw'), kWeight: ctx.owner.storageFrom(kw, 'kw') }, 'head_norm'));
  for (const T of [1, 2, 5, 17]) {
    const x = randomQkv(r, s);
    gpu.device.queue.writeBuffer(qkv, 0, x);
    ctx.writeStep(T, 0, 1);
    await runPass(gpu, (pass) => op.encode(pass, T));
    const got = await readF32(gpu, qkv, n);
    const want = reference(x, s, T, qw, kw);
    const stats = compare(got, want, want.map((v) => Math.abs(v) + 1e-30));
    worst.add('head_norm', stats);
    assertClose(stats, BOUND, `${s.nHeads}/${s.nKvHeads} heads of ${s.headDim}, T=${T}`);
  }
}

for (const s of [
  { nHeads: 8, nKvHeads: 2, headDim: 4 },
  { nHeads: 3, nKvHeads: 3, headDim: 36 },
  { nHeads: 5, nKvHeads: 1, headDim: 100 },
  { nHeads: 14, nKvHeads: 2, headDim: 64 },
  { nHeads: 16, nKvHeads: 8, headDim: 128 },
  { nHeads: 2, nKvHeads: 1, headDim: 256 },
]) {
  test(`${s.nHeads} q / ${s.nKvHeads} kv heads of ${s.headDim}: q and k heads normalised with their weights, v and later rows untouched, T in 1, 2, 5, 17`, async () => {
    await checkHeadNorm(s, s.headDim * 31 + s.nHeads);
  });
}

test('a row has the same bits in a batch of 17 as alone (a verify pass normalises as decode does)', async () => {
  const s = { nHeads: 16, nKvHeads: 8, headDim: 128 };
  const r = rng(5);
  const rowElems = (s.nHeads + 2 * s.nKvHeads) * s.headDim;
  const qkv = ctx.owner.storage(MAX_T * rowElems * 4, 'qkv');
  const op = await checked(gpu, () => new HeadNormOp(ctx, { ...s, eps: EPS }, { qkv, qWeight: ctx.owner.storageFrom(randomF32(r, 128, 2), 'qw'), kWeight: ctx.owner.storageFrom(randomF32(r, 128, 2), 'kw') }, 'head_norm'));
  const x = randomQkv(r, s);
  gpu.device.queue.writeBuffer(qkv, 0, x);
  ctx.writeStep(MAX_T, 0, 1);
  await runPass(gpu, (pass) => op.encode(pass, MAX_T));
  const batch = await readF32(gpu, qkv, MAX_T * rowElems);
  for (const t of [0, 9, 16]) {
    gpu.device.queue.writeBuffer(qkv, 0, x.subarray(t * rowElems, (t + 1) * rowElems));
    ctx.writeStep(1, t, 1);
    await runPass(gpu, (pass) => op.encode(pass, 1));
    const alone = await readF32(gpu, qkv, rowElems);
    const inBatch = batch.subarray(t * rowElems, (t + 1) * rowElems);
    assert.ok(alone.every((v, i) => Object.is(v, inBatch[i])), `row ${t}: ${firstMismatch(alone, inBatch)}`);
  }
});
