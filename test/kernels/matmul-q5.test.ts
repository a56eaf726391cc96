// The Q5_0/Q5_1/IQ4_NL/Q4_1 weight snippets (kernels/dtype/q5_0|q5_1|iq4+iq4_nl|q4_1[.dot].wgsl) in every kernel that
// reads weights, against the CPU dequantiser (src/loaders/quant/q5_0|q5_1|iq4|q4_1.ts, bit-exact with ggml) and the f64
// reference: matmul.wgsl (T in 1, 5, 17: the vector and matrix variants), matvec_split_k.wgsl (splitK
// and splitKi, T = 1), matvec_split_k_batch.wgsl (splitKi, T in 2, 9) and embed.wgsl (deq4). Blocks are random bytes with sane f16 d (and Q5_1/Q4_1 m), so
// every nibble (every IQ4_NL table entry) and every bit of qh (the fifth bits of both halves of a block) is exercised.
// Shapes: K a multiple of 32 but not of 256 (llama.cpp writes these types for such rows: Qwen2.5 0.5B's
// d = 896), N ragged and split into two row chunks, colOffset, bias and accumulate.
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
import { FALLBACK32_DTYPES, WorstErrors, checked, firstMismatch, randomInt, readF32, rng, runPass } from './harness';

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

/** Random GGUF blocks of `dtype` for [rows][cols]: random bytes, then d in [0.002, 0.03) (Q5_1: m in (-0.5, 0]; Q4_1: in (-0.25, 0]) as f16. */
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
    if (dtype === 'q4_1') setF16(at + 2, -8 * d * r());
  }
  return bytes;
}

const checkMatmul = (c: BlockMatmulCase) => checkBlockMatmul(gpu, ctx, worst, randomQ5Blocks, c);

for (const [i, dtype] of FALLBACK32_DTYPES.entries()) {
  const bias = i === 0;
  const accumulate = i === 1;
  // 224 = 7 blocks (as 896 = 28); splitK on 160 = 5 blocks over 4 lanes per row: one lane takes two.
  test(`${dtype}: matmul K=224, N=133 in chunks of 132 + 1, colOffset 3${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T in 1, 5, 17`, async () => {
    await checkMatmul({ dtype, K: 224, N: 133, ts: [1, 5, 17], rowsPerChunk: 132, bias, accumulate, seed: 400 + i });
  });
  for (const matvec of ['splitK', 'splitKi'] as const) {
    test(`${dtype}: ${matvec} matvec K=160, N=37${bias ? ', bias' : ''}${accumulate ? ', accumulate' : ''}, T ${matvec === 'splitKi' ? 'in 1, 2, 9 (batch kernel for 2, 9)' : '= 1'}`, async () => {
      await checkMatmul({ dtype, K: 160, N: 37, ts: matvec === 'splitKi' ? [1, 2, 9] : [1], tiles: defaultTiles(dtype, false, matvec), bias, accumulate, seed: 420 + i });
    });
  }
}

// deq4 in embed.wgsl: the same f32 operations as the CPU dequantiser ((q - 16) * d; q * d + m), so
// equal bit for bit; a table in chunks of 20 + 17 rows, T in 1, 5, 17.
for (const [i, dtype] of FALLBACK32_DTYPES.entries()) {
  test(`${dtype}: embed (deq4) K=96, vocabulary 37 in chunks of 20 + 17, T in 1, 5, 17: equal to the CPU dequantiser`, async () => {
    const r = rng(500 + i);
    const K = 96;
    const { matrix, values } = await uploadBlocks(ctx, dtype, randomQ5Blocks(r, dtype, 37, K), 37, K, 20);
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
