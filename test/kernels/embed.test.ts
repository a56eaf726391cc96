// EmbedOp (kernels/embed.wgsl + kernels/dtype/*.wgsl): x[t] = dequantised row tokens[t]. Dequantisation
// is exact in f32 (q * d of an int8/nibble and an f16 scale), so the GPU must match the CPU dequantiser
// bit for bit. Every dtype; a table split into chunks of 20 + 17 rows (each dispatch writes only its own
// tokens); widths whose K/4 is not a multiple of the workgroup; T = 1, 5, 17; rows past T untouched.
// With a learned position embedding (starcoder): x[t] = token row + position row pos0 + t, one f32 addition,
// the position table chunked too, batches that start inside a chunk and cross chunk edges.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { EmbedOp } from '../../src/ops/embed';
import { gpuRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { testGpu } from '../helpers/gpuModel';
import { embedRef } from './reference';
import { DTYPES, checked, firstMismatch, randomInt, randomMatrix, readF32, rng, runPass } from './harness';

let gpu: Gpu;
let ctx: OpContext;
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'embed-test');
});

after(() => {
  ctx?.dispose();
  console.log(`embed: ${shapes} shapes, exact (bitwise) equality with the CPU dequantiser`);
});

const VOCAB = 37;
const ROWS_PER_CHUNK = 20;
// K-quants and Q4_1/Q5_0/Q5_1: test/kernels/matmul-k.test.ts, matmul-q5.test.ts.
const WIDTH: Record<WeightDtype, number> = { f32: 260, f16: 4, q8_0: 288, q4_0: 32, q4_1: 32, q5_0: 64, q5_1: 64, q2_k: 256, q3_k: 256, q4_k: 256, q5_k: 256, q6_k: 256, iq4_nl: 32, iq4_xs: 256 };

for (const [i, dtype] of DTYPES.entries()) {
  const K = WIDTH[dtype];
  test(`${dtype}: K=${K}, vocabulary ${VOCAB} in chunks of ${ROWS_PER_CHUNK} + ${VOCAB - ROWS_PER_CHUNK} rows, T in 1, 5, 17`, async () => {
    shapes++;
    const r = rng(100 + i);
    const { matrix, values } = await randomMatrix(ctx.owner, r, dtype, VOCAB, K, ROWS_PER_CHUNK * gpuRowBytes(dtype, K).data);
    assert.equal(matrix.chunks.length, 2);
    const maxT = 17;
    const tokens = ctx.owner.storage(maxT * 4, 'tokens');
    const x = ctx.owner.storage(maxT * K * 4, 'x');
    const op = await checked(gpu, () => new EmbedOp(ctx, matrix, tokens, x));
    // The chunk edges (0, 19 | 20, 36) first, then random ids (repeats allowed).
    const edges = [0, ROWS_PER_CHUNK - 1, ROWS_PER_CHUNK, VOCAB - 1];
    for (const T of [1, 5, 17]) {
      const ids = new Uint32Array(maxT);
      for (let t = 0; t < maxT; t++) ids[t] = t < edges.length && T > 1 ? edges[t] : randomInt(r, 0, VOCAB);
      if (T === 1) ids[0] = VOCAB - 1;
      const sentinel = new Float32Array(maxT * K).fill(-7.5);
      gpu.device.queue.writeBuffer(tokens, 0, ids);
      gpu.device.queue.writeBuffer(x, 0, sentinel);
      ctx.writeStep(T, 0, T);
      await runPass(gpu, (pass) => op.encode(pass, T));
      const got = await readF32(gpu, x, maxT * K);
      const want = sentinel.slice();
      want.set(embedRef(values, K, ids.subarray(0, T)));
      assert.ok(got.every((v, j) => Object.is(v, want[j])), `${dtype} K=${K} T=${T} tokens=${[...ids.subarray(0, T)]}: ${firstMismatch(got, want)}`);
    }
  });
}

// [token dtype, position dtype, K]: the position table in another dtype than the tokens' (llama.cpp leaves
// position_embd F32/F16 in quantized files), and quantized too.
const POSITION_CASES: [WeightDtype, WeightDtype, number][] = [['q8_0', 'f32', 288], ['f16', 'f16', 36], ['q4_k', 'q8_0', 256], ['f32', 'f32', 4]];
const POSITIONS = 45;

for (const [i, [tokenType, positionType, K]] of POSITION_CASES.entries()) {
  test(`positions: ${tokenType} tokens + ${positionType} position rows, K=${K}, ${POSITIONS} positions in chunks of ${ROWS_PER_CHUNK}, batches from pos0 0, 19, 38, 44`, async () => {
    shapes++;
    const r = rng(300 + i);
    const tok = await randomMatrix(ctx.owner, r, tokenType, VOCAB, K, ROWS_PER_CHUNK * gpuRowBytes(tokenType, K).data);
    const pos = await randomMatrix(ctx.owner, r, positionType, POSITIONS, K, ROWS_PER_CHUNK * gpuRowBytes(positionType, K).data);
    assert.equal(pos.matrix.chunks.length, 3);
    const maxT = 17;
    const tokens = ctx.owner.storage(maxT * 4, 'tokens');
    const x = ctx.owner.storage(maxT * K * 4, 'x');
    const op = await checked(gpu, () => new EmbedOp(ctx, tok.matrix, tokens, x, 1, pos.matrix));
    for (const [pos0, T] of [[0, 17], [19, 5], [38, 7], [44, 1]]) {
      const ids = new Uint32Array(maxT);
      for (let t = 0; t < maxT; t++) ids[t] = randomInt(r, 0, VOCAB);
      const sentinel = new Float32Array(maxT * K).fill(-7.5);
      gpu.device.queue.writeBuffer(tokens, 0, ids);
      gpu.device.queue.writeBuffer(x, 0, sentinel);
      ctx.writeStep(T, pos0, T);
      await runPass(gpu, (pass) => op.encode(pass, T));
      const got = await readF32(gpu, x, maxT * K);
      const want = sentinel.slice();
      const rows = embedRef(tok.values, K, ids.subarray(0, T));
      const positionRows = embedRef(pos.values, K, Array.from({ length: T }, (_, t) => pos0 + t));
      want.set(rows.map((v, j) => Math.fround(v + positionRows[j])));
      assert.ok(got.every((v, j) => Object.is(v, want[j])), `${tokenType}+${positionType} K=${K} pos0=${pos0} T=${T}: ${firstMismatch(got, want)}`);
    }
  });
}
