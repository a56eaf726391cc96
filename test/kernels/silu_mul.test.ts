// SiluMulOp (kernels/silu_mul.wgsl): m[t][i] = silu(gate[t][i]) * up[t][i] over the fused [gate | up] row,
// against the f64 reference. Per element |got - want| <= 1e-5 (|want| + 1e-6 |up|): WGSL's exp is only
// accurate to a few ulp per unit of |x|, and for very negative gates silu underflows to ±0. Widths 1, 65
// and 200 (ragged against the 64-lane workgroup), T in 1, 2, 3, 5, 17, gates in ±12 plus ±100 and ±1000.
// With a row gate (qwen2moe's shared expert), each token's row times sigmoid(its logit), logits in ±8 plus ±100.

import { test, before, after } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { SiluMulOp } from '../../src/ops/siluMul';
import { testGpu } from '../helpers/gpuModel';
import { siluMulRef } from './reference';
import { WorstErrors, assertClose, checked, compare, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const MAX_T = 17;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'silu-test');
});

after(() => {
  ctx?.dispose();
  console.log(`silu_mul: ${shapes} shapes\n${worst.summary()}`);
});

for (const [i, F] of [1, 65, 200].entries()) {
  test(`F=${F}, T in 1, 2, 3, 5, 17, gates up to ±1000`, async () => {
    shapes++;
    const r = rng(10 + i);
    const gu = ctx.owner.storage(MAX_T * 2 * F * 4, 'gateUp');
    const out = ctx.owner.storage(MAX_T * F * 4, 'out');
    const op = await checked(gpu, () => new SiluMulOp(ctx, F, gu, out));
    for (const T of [1, 2, 3, 5, 17]) {
      const v = randomF32(r, MAX_T * 2 * F, 12);
      const extremes = [100, -100, 1000, -1000];
      for (let k = 0; k < extremes.length && k < MAX_T; k++) v[k * 2 * F] = extremes[k];
      const sentinel = new Float32Array(MAX_T * F).fill(-5.5);
      gpu.device.queue.writeBuffer(gu, 0, v);
      gpu.device.queue.writeBuffer(out, 0, sentinel);
      ctx.writeStep(T, 0, T);
      await runPass(gpu, (pass) => op.encode(pass, T));
      const got = await readF32(gpu, out, MAX_T * F);
      const want = Float64Array.from(sentinel);
      want.set(siluMulRef(v, T, F));
      const scale = want.map((w, j) => Math.abs(w) + (j < T * F ? 1e-6 * Math.abs(v[Math.floor(j / F) * 2 * F + F + (j % F)]) : 0) + 1e-30);
      const stats = compare(got, want, scale);
      worst.add('silu_mul', stats);
      assertClose(stats, BOUND, `F=${F} T=${T}`);
    }
  });
}

test('a row gate: F=65, T in 1, 5, 17, each row times the sigmoid of its own logit (logits up to ±100)', async () => {
  shapes++;
  const r = rng(20);
  const F = 65;
  const gu = ctx.owner.storage(MAX_T * 2 * F * 4, 'gateUp');
  const gate = ctx.owner.storage(MAX_T * 4, 'rowGate');
  const out = ctx.owner.storage(MAX_T * F * 4, 'out');
  const op = await checked(gpu, () => new SiluMulOp(ctx, F, gu, out, gate));
  for (const T of [1, 5, 17]) {
    const v = randomF32(r, MAX_T * 2 * F, 12);
    const logits = randomF32(r, MAX_T, 8);
    logits[0] = 100;
    if (T > 1) logits[1] = -100;
    gpu.device.queue.writeBuffer(gu, 0, v);
    gpu.device.queue.writeBuffer(gate, 0, logits);
    gpu.device.queue.writeBuffer(out, 0, new Float32Array(MAX_T * F).fill(-5.5));
    ctx.writeStep(T, 0, T);
    await runPass(gpu, (pass) => op.encode(pass, T));
    const got = await readF32(gpu, out, T * F);
    const plain = siluMulRef(v, T, F);
    const want = plain.map((m, j) => m / (1 + Math.exp(-logits[Math.floor(j / F)])));
    const scale = want.map((w, j) => Math.abs(w) + 1e-6 * Math.abs(v[Math.floor(j / F) * 2 * F + F + (j % F)]) + 1e-30);
    const stats = compare(got, want, scale);
    worst.add('silu_mul with a row gate', stats);
    assertClose(stats, BOUND, `row gate T=${T}`);
  }
});
