// The K-quant and IQ4_XS weight snippets (kernels/dtype/q2_k|q3_k|q4_k|q5_k|q6_k|iq4+iq4_xs[.dot].wgsl) in every kernel that reads
// weights, against the CPU dequantiser (src/loaders/quant/q*_k.ts, bit-exact with ggml) and the f64
// reference: matmul.wgsl (T in 1, 5, 17: the vector and matrix variants), matvec_split_k.wgsl (splitK
// and splitKi, T = 1), matvec_split_k_batch.wgsl (splitKi, T in 2, 9) and embed.wgsl (deq4). Blocks are
// random bytes with sane f16 d/dmin, so every
// bit of the packed 6-bit scales, the high quant bits and negative Q3_K/Q6_K scales are exercised.
// Shapes: K a multiple of 256 (one to three superblocks), N ragged (not a multiple of R x WG, split
// into two row chunks so N_OFFSET is used), colOffset, bias and accumulate.
// Bound as test/kernels/matmul.test.ts: |got - want| <= 1e-5 Σ|x w| per element.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { EmbedOp } from '../../src/ops/embed';
import { defaultTiles } from '../../src/ops/matmul';
import { ggufRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { f32ToF16Bits } from '../../src/loaders/quant/f16';
import { testGpu } from '../helpers/gpuModel';
import { embedRef } from './reference';
import { checkBlockMatmul, uploadBlocks, type BlockMatmulCase } from './blockQuantMatmul';
import { K_DTYPES, WorstErrors, checked, firstMismatch, randomInt, readF32, rng, runPass } from './harness';

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'matmul-k-test');
});

after(() => {
  ctx?.dispose();
  console.log(`matmul-k:\n${worst.summary()}`);
});

/** Random GGUF blocks of `dtype` for [rows][cols]: random bytes, then d (and dmin) set to f16 in [0.002, 0.03). */
function randomKBlocks(r: () => number, dtype: WeightDtype, rows: number, cols: number): Uint8Array {
  const bytes = new Uint8Array(rows * ggufRowBytes(dtype, cols));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  const blockBytes = ggufRowBytes(dtype, 256);
  const setF16 = (at: number) => {
    const h = f32ToF16Bits(0.002 + r() * 0.028);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >> 8;
  };
  for (let at = 0; at < bytes.length; at += blockBytes) {
    if (dtype === 'q6_k') {
      setF16(at + 208);
    } else if (dtype === 'q3_k') {
      setF16(at + 108);
    } else if (dtype === 'iq4_xs') {
      setF16(at);
    } else if (dtype === 'q2_k') {
      setF16(at + 80);
      setF16(at + 82);
    } else {
      setF16(at);
      setF16(at + 2);
    }
  }
  return bytes;
}

const checkMatmul = (c: BlockMatmulCase) => checkBlockMatmul(gpu, ctx, worst, randomKBlocks, c);

for (const [i, dtype] of K_DTYPES.entries()) {
  const K = 256 * (1 + (i % 3)); // 256, 512, 768: one to three superblocks per row
  const bias = i % 3 !== 1;
  const accumulate = i % 3 !== 2;
  test(`${dtype}: matmul K=${K}, N=258 in chunks of 257 + 1, colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T in 1, 5, 17`, async () => {
    await checkMatmul({ dtype, K, N: 258, ts: [1, 5, 17], rowsPerChunk: 257, bias, accumulate, seed: 200 + i });
  });
  for (const matvec of ['splitK', 'splitKi'] as const) {
    test(`${dtype}: ${matvec} matvec K=${1024 - K}, N=37${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T ${matvec === 'splitKi' ? 'in 1, 2, 9 (batch kernel for 2, 9)' : '= 1'}`, async () => {
      await checkMatmul({ dtype, K: 1024 - K, N: 37, ts: matvec === 'splitKi' ? [1, 2, 9] : [1], tiles: defaultTiles(dtype, false, matvec), bias, accumulate, seed: 220 + i });
    });
  }
}

// Granite's residual and logit scales: (x Wᵀ + bias) · 0.22, then added to y, in every kernel variant.
test('q4_k: outScale 0.22 with bias and accumulate: matmul (T 1, 5, 17), splitK (T 1), splitKi (T 1, 2, 9 in the batch kernel)', async () => {
  const common = { dtype: 'q4_k' as const, bias: true, accumulate: true, outScale: 0.22 };
  await checkMatmul({ ...common, K: 512, N: 258, ts: [1, 5, 17], rowsPerChunk: 257, seed: 250 });
  await checkMatmul({ ...common, K: 512, N: 37, ts: [1], tiles: defaultTiles('q4_k', false, 'splitK'), seed: 251 });
  await checkMatmul({ ...common, K: 512, N: 37, ts: [1, 2, 9], tiles: defaultTiles('q4_k', false, 'splitKi'), seed: 252 });
});

test('K-quants: splitK with 4 lanes per row (each lane several sub-blocks of several superblocks), K=768, N=19', async () => {
  for (const [i, dtype] of K_DTYPES.entries()) {
    const tiles = defaultTiles(dtype, false, 'splitK');
    await checkMatmul({ dtype, K: 768, N: 19, ts: [1], tiles: { ...tiles, vector: { ...tiles.vector, LPR: 4 } }, bias: false, accumulate: false, seed: 240 + i });
  }
});

// deq4 in embed.wgsl: the same f32 operations as the CPU dequantiser ((d * sc) * q - dmin * m), so
// equal bit for bit; a table in chunks of 20 + 17 rows, T in 1, 5, 17.
for (const [i, dtype] of K_DTYPES.entries()) {
  test(`${dtype}: embed (deq4) K=512, vocabulary 37 in chunks of 20 + 17, T in 1, 5, 17: equal to the CPU dequantiser`, async () => {
    const r = rng(300 + i);
    const K = 512;
    const { matrix, values } = await uploadBlocks(ctx, dtype, randomKBlocks(r, dtype, 37, K), 37, K, 20);
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
