// Shared by the kernel tests of block-quantised types whose weights are generated as random GGUF
// blocks (matmul-k, matmul-q5): upload such blocks with their CPU dequantisation, and check MatmulOp
// against the f64 reference with the bound of test/kernels/matmul.test.ts (|got - want| <= 1e-5 Σ|x w|).

import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { uploadMatrix, type GpuMatrix } from '../../src/gpu/matrix';
import type { OpContext } from '../../src/ops/context';
import { MatmulOp, type MatmulTiles } from '../../src/ops/matmul';
import { ggufRowBytes, gpuRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { dequantizeTensor } from '../../src/loaders/quant/tensor';
import { matmulRef } from './reference';
import { GGML_OF_DTYPE, WorstErrors, assertClose, checked, compare, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;

/** GGUF-layout bytes of a random [rows][cols] matrix of `dtype` (each test file makes its own blocks). */
export type RandomBlocks = (r: () => number, dtype: WeightDtype, rows: number, cols: number) => Uint8Array;

/** Uploads GGUF blocks as a GpuMatrix (row chunks of `rowsPerChunk` when given) with their CPU dequantisation. */
export async function uploadBlocks(ctx: OpContext, dtype: WeightDtype, bytes: Uint8Array, rows: number, cols: number, rowsPerChunk?: number): Promise<{ matrix: GpuMatrix; values: Float32Array }> {
  const values = dequantizeTensor(GGML_OF_DTYPE[dtype], bytes, rows * cols);
  const rowBytes = ggufRowBytes(dtype, cols);
  const matrix = await uploadMatrix(ctx.owner, dtype, rows, cols, async (start, count) => bytes.subarray(start * rowBytes, (start + count) * rowBytes),
    `w.${dtype}.${rows}x${cols}`, rowsPerChunk ? rowsPerChunk * gpuRowBytes(dtype, cols).data : undefined);
  return { matrix, values };
}

export interface BlockMatmulCase {
  dtype: WeightDtype;
  K: number;
  N: number;
  ts: number[];
  rowsPerChunk?: number;
  tiles?: MatmulTiles;
  bias: boolean;
  accumulate: boolean;
  /** MatmulArgs.outScale (default 1). */
  outScale?: number;
  seed: number;
}

/** Y = X Wᵀ (+ bias, accumulate) at column offset 3 for each batch size in c.ts, against the reference. */
export async function checkBlockMatmul(gpu: Gpu, ctx: OpContext, worst: WorstErrors, randomBlocks: RandomBlocks, c: BlockMatmulCase): Promise<void> {
  const r = rng(c.seed);
  const { matrix, values: w } = await uploadBlocks(ctx, c.dtype, randomBlocks(r, c.dtype, c.N, c.K), c.N, c.K, c.rowsPerChunk);
  if (c.rowsPerChunk) assert.equal(matrix.chunks.length, Math.ceil(c.N / c.rowsPerChunk));
  const colOffset = 3;
  const yStride = colOffset + c.N + 2;
  const maxRows = Math.max(...c.ts);
  const x = ctx.owner.storage(maxRows * c.K * 4, 'x');
  const y = ctx.owner.storage(maxRows * yStride * 4, 'y');
  const biasValues = c.bias ? randomF32(r, yStride) : undefined;
  const bias = biasValues ? ctx.owner.storageFrom(biasValues, 'bias') : undefined;
  const op = await checked(gpu, () => new MatmulOp(ctx, { weight: matrix, x, y, yStride, colOffset, bias, accumulate: c.accumulate, outScale: c.outScale, label: `mm.${c.dtype}` }, c.tiles));
  for (const m of c.ts) {
    const tile = op.tileFor(m);
    const what = `${c.dtype} K=${c.K} N=${c.N} m=${m} chunks=${matrix.chunks.length} tiles=${JSON.stringify(tile)}${c.outScale !== undefined ? ` outScale=${c.outScale}` : ''}`;
    const xv = randomF32(r, maxRows * c.K);
    const yInit = randomF32(r, maxRows * yStride, 4);
    gpu.device.queue.writeBuffer(x, 0, xv);
    gpu.device.queue.writeBuffer(y, 0, yInit);
    ctx.writeStep(m, 0, m);
    await runPass(gpu, (pass) => op.encode(pass, m));
    const got = await readF32(gpu, y, maxRows * yStride);
    const want = matmulRef({ x: xv, w, m, N: c.N, K: c.K, bias: biasValues, yInit, yStride, colOffset, accumulate: c.accumulate, outScale: c.outScale });
    const stats = compare(got, want.y, want.scale);
    worst.add(`${c.dtype} ${tile === op.tiles.batch ? 'splitK batch' : tile.kind}`, stats);
    assertClose(stats, BOUND, what);
  }
}
