// RmsNormOp (kernels/rmsnorm.wgsl): y[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight, one workgroup per row,
// against the f64 reference; per element |got - want| <= 1e-5 |want|. Widths 1, 100 and 900 (not
// multiples of the 64-lane workgroup), T in 1, 2, 3, 5, 17, rows at scales 1e-3..1e3 (eps matters at the
// small end), and SELECT_LAST (the last n_logit_rows rows of the batch, written compactly).
// Rows of y past the ones written must be left untouched.

import { test, before, after } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { RmsNormOp } from '../../src/ops/rmsnorm';
import { testGpu } from '../helpers/gpuModel';
import { rmsnormRef } from './reference';
import { WorstErrors, assertClose, checked, compare, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const EPS = 1e-5;
const MAX_T = 17;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'rmsnorm-test');
});

after(() => {
  ctx?.dispose();
  console.log(`rmsnorm: ${shapes} shapes\n${worst.summary()}`);
});

/** [MAX_T][K] with row t scaled by 10^(-3..3), so some rows are dominated by eps. */
function randomRows(r: () => number, K: number): Float32Array {
  const x = randomF32(r, MAX_T * K);
  for (let t = 0; t < MAX_T; t++) {
    const s = Math.pow(10, -3 + (6 * t) / (MAX_T - 1));
    for (let i = 0; i < K; i++) x[t * K + i] *= s;
  }
  return x;
}

async function checkRmsNorm(K: number, selectLast: boolean, runs: { T: number; logitRows: number }[], seed: number): Promise<void> {
  shapes++;
  const r = rng(seed);
  const weightValues = randomF32(r, K, 2);
  const weight = ctx.owner.storageFrom(weightValues, 'weight');
  const x = ctx.owner.storage(MAX_T * K * 4, 'x');
  const y = ctx.owner.storage(MAX_T * K * 4, 'y');
  const op = await checked(gpu, () => new RmsNormOp(ctx, { x, weight, y, width: K, eps: EPS, selectLast, label: 'norm' }));
  for (const { T, logitRows } of runs) {
    const xv = randomRows(r, K);
    const sentinel = new Float32Array(MAX_T * K).fill(-3.25);
    gpu.device.queue.writeBuffer(x, 0, xv);
    gpu.device.queue.writeBuffer(y, 0, sentinel);
    ctx.writeStep(T, 0, logitRows);
    const rows = selectLast ? logitRows : T;
    await runPass(gpu, (pass) => op.encode(pass, rows));
    const got = await readF32(gpu, y, MAX_T * K);
    const want = Float64Array.from(sentinel);
    want.set(rmsnormRef(xv, K, selectLast ? T - logitRows : 0, rows, weightValues, EPS));
    const stats = compare(got, want, want.map((v) => Math.abs(v) + 1e-30));
    worst.add('rmsnorm', stats);
    assertClose(stats, BOUND, `K=${K} T=${T}${selectLast ? ` last ${logitRows} rows` : ''}`);
  }
}

const ALL_T = [1, 2, 3, 5, 17].map((T) => ({ T, logitRows: T }));

test('K=100 (not a multiple of the workgroup), T in 1, 2, 3, 5, 17', async () => {
  await checkRmsNorm(100, false, ALL_T, 1);
});

test('K=900 (14 strides of 64 lanes + 4), T in 1, 2, 3, 5, 17', async () => {
  await checkRmsNorm(900, false, ALL_T, 2);
});

test('K=1 (most lanes idle)', async () => {
  await checkRmsNorm(1, false, [{ T: 1, logitRows: 1 }, { T: 5, logitRows: 5 }], 3);
});

test('SELECT_LAST normalises the last n_logit_rows rows of the batch into rows 0..n_logit_rows', async () => {
  await checkRmsNorm(100, true, [{ T: 1, logitRows: 1 }, { T: 17, logitRows: 1 }, { T: 5, logitRows: 3 }, { T: 17, logitRows: 17 }], 4);
});
