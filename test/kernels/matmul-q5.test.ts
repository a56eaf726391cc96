// The Q5_0/Q5_1 weight snippets (kernels/dtype/q5_0|q5_1[.dot].wgsl) in every kernel that reads
// weights, against the CPU dequantiser (src/loaders/quant/q5_0|q5_1.ts, bit-exact with ggml) and the f64
// reference: matmul.wgsl (T in 1, 5, 17: the vector and matrix variants), matvec_split_k.wgsl (splitK
// and splitKi, T = 1) and embed.wgsl (deq4). Blocks are random bytes with sane f16 d (and Q5_1 m), so
// every nibble and every bit of qh (the fifth bits of both halves of a block) is exercised.
// Shapes: K a multiple of 32 but not of 256 (llama.cpp writes these types for such rows: Qwen2.5 0.5B's
// d = 896), N ragged and split into two row chunks, colOffset, bias and accumulate.
// Bound as test/kernels/matmul.test.ts: |got - want| <= 1e-5 Σ|x w| per element.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { uploadMatrix, type GpuMatrix } from '../../src/gpu/matrix';
import { OpContext } from '../../src/ops/context';
import { EmbedOp } from '../../src/ops/embed';
import { MatmulOp, defaultTiles, type MatmulTiles } from '../../src/ops/matmul';
import { ggufRowBytes, gpuRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';
import { f32ToF16Bits } from '../../src/loaders/quant/f16';
import { testGpu } from '../helpers/gpuModel';
import { embedRef, matmulRef } from './reference';
import { GGML_OF_DTYPE, Q5_DTYPES, WorstErrors, assertClose, checked, compare, firstMismatch, randomF32, randomInt, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'matmul-q5-test');
});

after(() => {
  ctx?.dispose();
  console.log(`matmul-q5:\n${worst.summary()}`);
});

/** Random GGUF blocks of `dtype` for [rows][cols]: random bytes, then d in [0.002, 0.03) (Q5_1: m in (-0.5, 0]) as f16. */
function randomQ5Blocks(r: () => number, dtype: WeightDtype, rows: number, cols: number): Uint8Array {
  const bytes = new Uint8Array(rows * ggufRowBytes(dtype, cols));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  const setF16 = (at: number, v: number) => {
    const h = f32ToF16Bits(v);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >> 8;
  };
  const blockBytes = ggufRowBytes(dtype, 32);
  for (let at = 0; at < bytes.length; at += blockBytes) {
    const d = 0.002 + r() * 0.028;
    setF16(at, d);
    if (dtype === 'q5_1') setF16(at + 2, -16 * d * r());
  }
  return bytes;
}

async function randomQ5Matrix(r: () => number, dtype: WeightDtype, rows: number, cols: number, rowsPerChunk?: number): Promise<{ matrix: GpuMatrix; values: Float32Array }> {
  const bytes = randomQ5Blocks(r, dtype, rows, cols);
  const values = dequantizeTensor(GGML_OF_DTYPE[dtype], bytes, rows * cols);
  const rowBytes = ggufRowBytes(dtype, cols);
  const matrix = await uploadMatrix(ctx.owner, dtype, rows, cols, async (start, count) => bytes.subarray(start * rowBytes, (start + count) * rowBytes),
    `w.${dtype}.${rows}x${cols}`, rowsPerChunk ? rowsPerChunk * gpuRowBytes(dtype, cols).data : undefined);
  return { matrix, values };
}

interface Case {
  dtype: WeightDtype;
  K: number;
  N: number;
  ts: number[];
  rowsPerChunk?: number;
  tiles?: MatmulTiles;
  bias: boolean;
  accumulate: boolean;
  seed: number;
}

async function checkMatmul(c: Case): Promise<void> {
  const r = rng(c.seed);
  const { matrix, values: w } = await randomQ5Matrix(r, c.dtype, c.N, c.K, c.rowsPerChunk);
  if (c.rowsPerChunk) assert.equal(matrix.chunks.length, Math.ceil(c.N / c.rowsPerChunk));
  const colOffset = 3;
  const yStride = colOffset + c.N + 2;
  const maxRows = Math.max(...c.ts);
  const x = ctx.owner.storage(maxRows * c.K * 4, 'x');
  const y = ctx.owner.storage(maxRows * yStride * 4, 'y');
  const biasValues = c.bias ? randomF32(r, yStride) : undefined;
  const bias = biasValues ? ctx.owner.storageFrom(biasValues, 'bias') : undefined;
  const op = await checked(gpu, () => new MatmulOp(ctx, { weight: matrix, x, y, yStride, colOffset, bias, accumulate: c.accumulate, label: 'mmq5' }, c.tiles));
  for (const m of c.ts) {
    const what = `${c.dtype} K=${c.K} N=${c.N} m=${m} chunks=${matrix.chunks.length} tiles=${JSON.stringify(op.tiles[m === 1 ? 'vector' : 'matrix'])}`;
    const xv = randomF32(r, maxRows * c.K);
    const yInit = randomF32(r, maxRows * yStride, 4);
    gpu.device.queue.writeBuffer(x, 0, xv);
    gpu.device.queue.writeBuffer(y, 0, yInit);
    ctx.writeStep(m, 0, m);
    await runPass(gpu, (pass) => op.encode(pass, m));
    const got = await readF32(gpu, y, maxRows * yStride);
    const want = matmulRef({ x: xv, w, m, N: c.N, K: c.K, bias: biasValues, yInit, yStride, colOffset, accumulate: c.accumulate });
    const stats = compare(got, want.y, want.scale);
    worst.add(`${c.dtype} ${op.tiles[m === 1 ? 'vector' : 'matrix'].kind}`, stats);
    assertClose(stats, BOUND, what);
  }
}

for (const [i, dtype] of Q5_DTYPES.entries()) {
  const bias = i === 0;
  const accumulate = i === 1;
  // 224 = 7 blocks (as 896 = 28); splitK on 160 = 5 blocks over 4 lanes per row: one lane takes two.
  test(`${dtype}: matmul K=224, N=133 in chunks of 132 + 1, colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T in 1, 5, 17`, async () => {
    await checkMatmul({ dtype, K: 224, N: 133, ts: [1, 5, 17], rowsPerChunk: 132, bias, accumulate, seed: 400 + i });
  });
  for (const matvec of ['splitK', 'splitKi'] as const) {
    test(`${dtype}: ${matvec} matvec K=160, N=37${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T=1`, async () => {
      await checkMatmul({ dtype, K: 160, N: 37, ts: [1], tiles: defaultTiles(dtype, false, matvec), bias, accumulate, seed: 420 + i });
    });
  }
}

// deq4 in embed.wgsl: the same f32 operations as the CPU dequantiser ((q - 16) * d; q * d + m), so
// equal bit for bit; a table in chunks of 20 + 17 rows, T in 1, 5, 17.
for (const [i, dtype] of Q5_DTYPES.entries()) {
  test(`${dtype}: embed (deq4) K=96, vocabulary 37 in chunks of 20 + 17, T in 1, 5, 17: equal to the CPU dequantiser`, async () => {
    const r = rng(500 + i);
    const K = 96;
    const { matrix, values } = await randomQ5Matrix(r, dtype, 37, K, 20);
    assert.equal(matrix.chunks.length, 2);
    const maxT = 17;
    const tokens = ctx.owner.storage(maxT * 4, 'tokens');
    const x = ctx.owner.storage(maxT * K * 4, 'x');
    const op = await checked(gpu, () => new EmbedOp(ctx, matrix, tokens, x));
    for (const T of [1, 5, 17]) {
      const ids = new Uint32Array(maxT);
      for (let t = 0; t < maxT; t++) ids[t] = t < 4 && T > 1 ? [0, 19, 20, 36][t] : randomInt(r, 0, 37);
      const sentinel = new Float32Array(maxT * K).fill(-7.5);
      gpu.device.queue.writeBuffer(tokens, 0, ids);
      gpu.device.queue.writeBuffer(x, 0, sentinel);
      ctx.writeStep(T, 0, T);
      await runPass(gpu, (pass) => op.encode(pass, T));
      const got = await readF32(gpu, x, maxT * K);
      const want = sentinel.slice();
      want.set(embedRef(values, K, ids.subarray(0, T)));
      assert.ok(got.every((v, j) => Object.is(v, want[j])), `${dtype} T=${T}: ${firstMismatch(got, want)}`);
    }
  });
}
