// MatmulOp (kernels/matmul.wgsl + kernels/dtype/*.wgsl) against the f64 reference on the DEQUANTISED
// weights, so the bound is f32 rounding only: |got - want| <= 1e-5 Σ|x w| per element. Every dtype; the
// vector (T = 1) and matrix (T > 1) variants; ragged K (not a multiple of 64) and N (not a multiple of
// R x WG); a 1-row chunk; multi-chunk weights (N_OFFSET) with colOffset, bias and accumulate; logit rows.
// Rows of y past the batch and columns outside [colOffset, colOffset + N) must be left untouched.

import { test, before, after } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { MatmulOp, SPLIT_K_BATCH_MAX_ROWS, defaultTiles, type MatmulTiles } from '../../src/ops/matmul';
import { GPU_LAYOUT, gpuRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { testGpu } from '../helpers/gpuModel';
import { matmulRef } from './reference';
import { DTYPES, WorstErrors, assertClose, checked, compare, randomF32, randomMatrix, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const TS = [1, 2, 3, 5, 17];

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'matmul-test');
});

after(() => {
  ctx?.dispose();
  console.log(`matmul: ${shapes} shapes\n${worst.summary()}`);
});

interface Case {
  dtype: WeightDtype;
  K: number;
  N: number;
  /** Batch sizes run through one op (its pipelines are built once). */
  ts: number[];
  /** Rows per chunk of W (uploadMatrix's maxChunkBytes is derived from it). */
  rowsPerChunk?: number;
  colOffset?: number;
  /** Extra columns of y after colOffset + N. */
  yPad?: number;
  bias?: boolean;
  accumulate?: boolean;
  /** ts are logit rows; step.n_tokens is this (larger) batch. */
  logitsOfBatch?: number;
  tiles?: MatmulTiles;
  seed: number;
}

async function checkMatmul(c: Case): Promise<void> {
  shapes++;
  const r = rng(c.seed);
  const maxChunkBytes = c.rowsPerChunk ? c.rowsPerChunk * gpuRowBytes(c.dtype, c.K).data : undefined;
  const { matrix, values: w } = await randomMatrix(ctx.owner, r, c.dtype, c.N, c.K, maxChunkBytes);
  if (c.rowsPerChunk && matrix.chunks.length !== Math.ceil(c.N / c.rowsPerChunk)) {
    throw new Error(`expected ${Math.ceil(c.N / c.rowsPerChunk)} chunks, got ${matrix.chunks.length}`);
  }
  const colOffset = c.colOffset ?? 0;
  const yStride = colOffset + c.N + (c.yPad ?? 0);
  const maxRows = Math.max(...c.ts);
  const x = ctx.owner.storage(maxRows * c.K * 4, 'x');
  const y = ctx.owner.storage(maxRows * yStride * 4, 'y');
  const biasValues = c.bias ? randomF32(r, yStride) : undefined;
  const bias = biasValues ? ctx.owner.storageFrom(biasValues, 'bias') : undefined;
  const op = await checked(gpu, () => new MatmulOp(ctx, {
    weight: matrix, x, y, yStride, colOffset, bias, accumulate: c.accumulate, rowsFromLogits: c.logitsOfBatch !== undefined, label: 'mm',
  }, c.tiles));

  for (const m of c.ts) {
    const what = `${c.dtype} K=${c.K} N=${c.N} m=${m} chunks=${matrix.chunks.length} colOffset=${colOffset} yStride=${yStride}` +
      `${c.bias ? ' bias' : ''}${c.accumulate ? ' accumulate' : ''}${c.logitsOfBatch ? ` logitRows of T=${c.logitsOfBatch}` : ''}` +
      ` tiles=${JSON.stringify(op.tileFor(m))}`;
    const xv = randomF32(r, maxRows * c.K);
    const yInit = randomF32(r, maxRows * yStride, 4);
    gpu.device.queue.writeBuffer(x, 0, xv);
    gpu.device.queue.writeBuffer(y, 0, yInit);
    if (c.logitsOfBatch !== undefined) ctx.writeStep(c.logitsOfBatch, 0, m);
    else ctx.writeStep(m, 0, m);
    await runPass(gpu, (pass) => op.encode(pass, m));
    const got = await readF32(gpu, y, maxRows * yStride);
    const want = matmulRef({ x: xv, w, m, N: c.N, K: c.K, bias: biasValues, yInit, yStride, colOffset, accumulate: c.accumulate });
    const stats = compare(got, want.y, want.scale);
    worst.add(c.dtype, stats);
    assertClose(stats, BOUND, what);
  }
}

/** A K in [lo, hi) that is a multiple of the dtype's column multiple but not of 64. */
function raggedK(dtype: WeightDtype, r: () => number, lo: number, hi: number): number {
  const cm = GPU_LAYOUT[dtype].colMultiple;
  for (;;) {
    const k = cm * Math.floor((lo + r() * (hi - lo)) / cm);
    if (k >= cm && k % 64 !== 0) return k;
  }
}

// Flags rotate over the dtypes so every dtype runs multi-chunk and both plain store and bias/accumulate
// paths are covered, while each dtype builds only 4 pipelines (lavapipe compiles each in seconds).
const FLAGS: Record<WeightDtype, { bias: boolean; accumulate: boolean }> = {
  f32: { bias: true, accumulate: true },
  f16: { bias: false, accumulate: false },
  q8_0: { bias: false, accumulate: true },
  q4_0: { bias: true, accumulate: false },
  // Q4_1/Q5_0/Q5_1: test/kernels/matmul-q5.test.ts.
  q4_1: { bias: false, accumulate: true },
  q5_0: { bias: true, accumulate: true },
  q5_1: { bias: false, accumulate: false },
  // K-quants (K a multiple of 256, so never ragged vs 64): test/kernels/matmul-k.test.ts.
  q2_k: { bias: true, accumulate: true },
  q3_k: { bias: false, accumulate: true },
  q4_k: { bias: true, accumulate: true },
  q5_k: { bias: false, accumulate: true },
  q6_k: { bias: true, accumulate: false },
  iq4_nl: { bias: false, accumulate: false },
  iq4_xs: { bias: true, accumulate: false },
};

for (const [i, dtype] of DTYPES.entries()) {
  const K = raggedK(dtype, rng(1000 + i), 40, 600);
  const { bias, accumulate } = FLAGS[dtype];
  test(`${dtype}: K=${K} (not a multiple of 64), N=258 in chunks of 257 + 1 rows (ragged vs R x WG, N_OFFSET), ` +
    `colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T in ${TS} (vector and matrix variants)`, async () => {
    await checkMatmul({ dtype, K, N: 258, ts: TS, rowsPerChunk: 257, colOffset: 3, yPad: 2, bias, accumulate, seed: 10 + i });
  });
}

// The real-GPU decode variant (matvec_split_k.wgsl: a workgroup of lanes striding over K shares R rows)
// for every dtype, with the same ragged shapes, chunks, offsets and flags as above.
for (const [i, dtype] of DTYPES.entries()) {
  const K = raggedK(dtype, rng(1000 + i), 40, 600);
  const { bias, accumulate } = FLAGS[dtype];
  test(`${dtype}: splitK matvec, K=${K}, N=258 in chunks of 257 + 1, colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T=1`, async () => {
    await checkMatmul({ dtype, K, N: 258, ts: [1], rowsPerChunk: 257, colOffset: 3, yPad: 2, bias, accumulate, tiles: defaultTiles(dtype, false, 'splitK'), seed: 60 + i });
  });
}

// The subgroup reduction of a row's lane sums (splitKsg = splitKi + matvec_reduce_subgroup.wgsl), every
// dtype, where the adapter has subgroups (lavapipe: 8 lanes); rows narrower and wider than a subgroup.
for (const [i, dtype] of DTYPES.entries()) {
  const K = raggedK(dtype, rng(1100 + i), 40, 600);
  const { bias, accumulate } = FLAGS[dtype];
  test(`${dtype}: splitK matvec with subgroup row sums (splitKsg), K=${K}, N=258 in chunks of 257 + 1, T=1`, async (t) => {
    if (!gpu.hasSubgroups) return t.skip('the adapter has no subgroups');
    await checkMatmul({ dtype, K, N: 258, ts: [1], rowsPerChunk: 257, colOffset: 3, yPad: 2, bias, accumulate, tiles: defaultTiles(dtype, false, 'splitKsg'), seed: 90 + i });
  });
}
test('splitKsg: 4, 16 and 64 lanes per row (within one subgroup, and across several: their sums meet in workgroup memory)', async (t) => {
  if (!gpu.hasSubgroups) return t.skip('the adapter has no subgroups');
  const lpr = (dtype: WeightDtype, LPR: number) => ({ ...defaultTiles(dtype, false, 'splitKsg'), vector: { ...defaultTiles(dtype, false, 'splitKsg').vector, LPR } });
  await checkMatmul({ dtype: 'q4_0', K: 224, N: 37, ts: [1], tiles: lpr('q4_0', 4), seed: 73 });
  await checkMatmul({ dtype: 'q8_0', K: 544, N: 41, ts: [1], tiles: lpr('q8_0', 16), bias: true, seed: 74 });
  await checkMatmul({ dtype: 'f32', K: 484, N: 37, ts: [1], tiles: lpr('f32', 64), accumulate: true, seed: 75 });
  await checkMatmul({ dtype: 'f16', K: 9216, N: 19, ts: [1], tiles: defaultTiles('f16', false, 'splitKsg'), bias: true, seed: 76 });
});

// The A/B layout of x for quantized weights (block-interleaved in workgroup memory), with rmsnorm-free
// plain staging, ragged K and multi-chunk N.
for (const dtype of ['q8_0', 'q4_0'] as const) {
  test(`${dtype}: splitK matvec with block-interleaved x (splitKi), K=288, N=258 in chunks of 257 + 1, T=1`, async () => {
    await checkMatmul({ dtype, K: 288, N: 258, ts: [1], rowsPerChunk: 257, colOffset: 3, yPad: 2, bias: true, accumulate: true, tiles: defaultTiles(dtype, false, 'splitKi'), seed: 80 });
  });
}

// Lanes per row at both ends of the range (4 and 64), and a row too long to stage x in workgroup memory
// (K = 9216 f32 values = 36 KiB), which reads x through the cache instead.
test('splitK matvec: 4 and 64 lanes per row (q4_0, f32), and x not staged (f16, K = 9216)', async () => {
  const lpr = (dtype: WeightDtype, LPR: number) => ({ ...defaultTiles(dtype, false, 'splitK'), vector: { ...defaultTiles(dtype, false, 'splitK').vector, LPR } });
  await checkMatmul({ dtype: 'q4_0', K: 224, N: 37, ts: [1], tiles: lpr('q4_0', 4), seed: 70 });
  await checkMatmul({ dtype: 'f32', K: 484, N: 37, ts: [1], tiles: lpr('f32', 64), seed: 71 });
  await checkMatmul({ dtype: 'f16', K: 9216, N: 19, ts: [1], tiles: defaultTiles('f16', false, 'splitK'), bias: true, seed: 72 });
});

test('f16: ROWS_FROM_LOGITS reads step.n_logit_rows rows, not step.n_tokens', async () => {
  await checkMatmul({ dtype: 'f16', K: 96, N: 300, ts: [1, 3, 5], logitsOfBatch: 17, seed: 50 });
});

// The real-GPU kernel for batches of 2..SPLIT_K_BATCH_MAX_ROWS rows (matvec_split_k_batch.wgsl: verify
// passes of k+1 draft positions, short prefill batches), every dtype, the same ragged shapes, chunks,
// offsets and flags; T crossing its 8 tokens per workgroup (ragged token groups), and T = 33, past the
// limit, which must take the matrix kernel instead.
for (const [i, dtype] of DTYPES.entries()) {
  const K = raggedK(dtype, rng(1200 + i), 40, 600);
  const { bias, accumulate } = FLAGS[dtype];
  const ts = [2, 3, 8, 9, 17, SPLIT_K_BATCH_MAX_ROWS, SPLIT_K_BATCH_MAX_ROWS + 1];
  test(`${dtype}: splitK batch kernel, K=${K}, N=258 in chunks of 257 + 1, colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T in ${ts}`, async () => {
    await checkMatmul({ dtype, K, N: 258, ts, rowsPerChunk: 257, colOffset: 3, yPad: 2, bias, accumulate, tiles: defaultTiles(dtype, false, 'splitKi'), seed: 120 + i });
  });
}
test('splitK batch kernel: logit rows (ROWS_FROM_LOGITS), 4 and 64 lanes per row', async () => {
  await checkMatmul({ dtype: 'q8_0', K: 96, N: 300, ts: [2, 5, 9], logitsOfBatch: 17, tiles: defaultTiles('q8_0', false, 'splitKi'), seed: 130 });
  const lpr = (dtype: WeightDtype, LPR: number): MatmulTiles => {
    const d = defaultTiles(dtype, false, 'splitK');
    return { ...d, vector: { ...d.vector, LPR }, batch: { ...d.batch!, LPR } };
  };
  await checkMatmul({ dtype: 'q4_0', K: 224, N: 37, ts: [2, 7, 12], tiles: lpr('q4_0', 4), seed: 131 });
  await checkMatmul({ dtype: 'f32', K: 484, N: 37, ts: [3, 16], tiles: lpr('f32', 64), accumulate: true, seed: 132 });
  await checkMatmul({ dtype: 'q4_0', K: 288, N: 258, ts: [2, 9, 17], rowsPerChunk: 257, bias: true, tiles: defaultTiles('q4_0', false, 'splitKsg'), seed: 133 });
});
