// EmbedOp (kernels/embed.wgsl + kernels/dtype/*.wgsl): x[t] = dequantised row tokens[t]. Dequantisation
// is exact in f32 (q * d of an int8/nibble and an f16 scale), so the GPU must match the CPU dequantiser
// bit for bit. Every dtype; a table split into chunks of 20 + 17 rows (each dispatch writes only its own
// tokens); widths whose K/4 is not a multiple of the workgroup; T = 1, 5, 17; rows past T untouched.

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
