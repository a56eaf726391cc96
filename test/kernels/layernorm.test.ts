// LayerNormOp (kernels/layernorm.wgsl): y[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, one
// workgroup per row, against the f64 reference; per element |got - want| <= 1e-5 (|want| + |weight| + |bias|):
// x - mean in f32 loses ~1e-7 of the offset, which the weight scales.
// Widths 1, 100 and 900 (not multiples of the 64-lane workgroup), T in 1, 2, 3, 5, 17, rows at scales
// 1e-3..1e3 around offsets of 10x their spread (a one-pass E[x²] - E[x]² would lose them), and SELECT_LAST
// (the last n_logit_rows rows of the batch, written compactly). Rows of y past the ones written stay untouched.

import { test, before, after } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { LayerNormOp } from '../../src/ops/layerNorm';
import { testGpu } from '../helpers/gpuModel';
import { WorstErrors, assertClose, checked, compare, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const EPS = 1e-5;
const MAX_T = 17;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'layernorm-test');
});

after(() => {
  ctx?.dispose();
  console.log(`layernorm:\n${worst.summary()}`);
});

function layerNormRef(x: Float32Array, K: number, rowStart: number, rows: number, w: Float32Array, b: Float32Array): Float64Array {
  const y = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const src = (rowStart + r) * K;
    let mean = 0;
    for (let i = 0; i < K; i++) mean += x[src + i];
    mean /= K;
    let v = 0;
    for (let i = 0; i < K; i++) v += (x[src + i] - mean) ** 2;
    const scale = 1 / Math.sqrt(v / K + EPS);
    for (let i = 0; i < K; i++) y[r * K + i] = (x[src + i] - mean) * scale * w[i] + b[i];
  }
  return y;
}

/** [MAX_T][K]: row t spread by 10^(-3..3) around an offset of 10x that. */
function randomRows(r: () => number, K: number): Float32Array {
  const x = randomF32(r, MAX_T * K);
  for (let t = 0; t < MAX_T; t++) {
    const s = Math.pow(10, -3 + (6 * t) / (MAX_T - 1));
    for (let i = 0; i < K; i++) x[t * K + i] = x[t * K + i] * s + 10 * s;
  }
  return x;
}

async function checkLayerNorm(K: number, selectLast: boolean, runs: { T: number; logitRows: number }[], seed: number): Promise<void> {
  const r = rng(seed);
  const w = randomF32(r, K, 2);
  const b = randomF32(r, K, 1);
  const x = ctx.owner.storage(MAX_T * K * 4, 'x');
  const y = ctx.owner.storage(MAX_T * K * 4, 'y');
  const op = await checked(gpu, () => new LayerNormOp(ctx, { x, weight: ctx.owner.storageFrom(w, 'w'), bias: ctx.owner.storageFrom(b, 'b'), y, width: K, eps: EPS, selectLast, label: 'norm' }));
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
    want.set(layerNormRef(xv, K, selectLast ? T - logitRows : 0, rows, w, b));
    const stats = compare(got, want, want.map((v, j) => Math.abs(v) + (j < rows * K ? Math.abs(w[j % K]) + Math.abs(b[j % K]) : 0) + 1e-30));
    worst.add('layernorm', stats);
    assertClose(stats, BOUND, `K=${K} T=${T}${selectLast ? ` last ${logitRows} rows` : ''}`);
  }
}

const ALL_T = [1, 2, 3, 5, 17].map((T) => ({ T, logitRows: T }));

test('K=100 (not a multiple of the workgroup), T in 1, 2, 3, 5, 17', async () => {
  await checkLayerNorm(100, false, ALL_T, 1);
});

test('K=900 (14 strides of 64 lanes + 4), T in 1, 2, 3, 5, 17', async () => {
  await checkLayerNorm(900, false, ALL_T, 2);
});

test('K=1 (the row is its mean: y = bias)', async () => {
  await checkLayerNorm(1, false, [{ T: 1, logitRows: 1 }, { T: 5, logitRows: 5 }], 3);
});

test('SELECT_LAST normalises the last n_logit_rows rows of the batch into rows 0..n_logit_rows', async () => {
  await checkLayerNorm(100, true, [{ T: 1, logitRows: 1 }, { T: 17, logitRows: 1 }, { T: 5, logitRows: 3 }, { T: 17, logitRows: 17 }], 4);
});
