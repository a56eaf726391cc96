// GeluOp (kernels/gelu.wgsl): m[t][i] = gelu(u[t][i]) = 0.5 u (1 + tanh(sqrt(2/π) u (1 + 0.044715 u²)))
// (0 at u <= -10, u at u >= 10), against the f64 reference. Per element |got - want| <= 1e-5 (|want| + 0.1 |u|):
// for negative u, 1 + tanh(...) cancels, so f32 tanh's few ulp of 1 become an absolute error of ~1e-7 |u| on an
// output near 0 (llama.cpp computes it the same way). Widths 1, 65 and 200
// (ragged against the 64-lane workgroup), T in 1, 2, 3, 5, 17, inputs in ±12 plus the clamps' edges and ±1000.
// Rows past T must be left untouched. Gated (GeGLU): m[t][i] = gelu(g) · u over rows [gate (F) | up (F)], per
// element within 1e-5 (|want| + 0.1 |g u|).

import { test, before, after } from 'node:test';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { GeluOp } from '../../src/ops/gelu';
import { testGpu } from '../helpers/gpuModel';
import { WorstErrors, assertClose, checked, compare, randomF32, readF32, rng, runPass } from './harness';

const BOUND = 1e-5;
const MAX_T = 17;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'gelu-test');
});

after(() => {
  ctx?.dispose();
  console.log(`gelu:\n${worst.summary()}`);
});

function geluRef(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)));
}

for (const gated of [false, true]) {
  for (const [i, F] of [1, 65, 200].entries()) {
    test(`${gated ? 'gated, ' : ''}F=${F}, T in 1, 2, 3, 5, 17, inputs up to ±1000 and at the clamps`, async () => {
      const r = rng(40 + i + (gated ? 10 : 0));
      const W = gated ? 2 * F : F;
      const input = ctx.owner.storage(MAX_T * W * 4, 'up');
      const out = ctx.owner.storage(MAX_T * F * 4, 'out');
      const op = await checked(gpu, () => new GeluOp(ctx, F, input, out, gated));
      for (const T of [1, 2, 3, 5, 17]) {
        const v = randomF32(r, MAX_T * W, 12);
        const edges = [1000, -1000, 10, -10, 9.999, -9.999, 1e-30, 0];
        for (let k = 0; k < edges.length && k < MAX_T; k++) v[k * W] = edges[k];
        const sentinel = new Float32Array(MAX_T * F).fill(-5.5);
        gpu.device.queue.writeBuffer(input, 0, v);
        gpu.device.queue.writeBuffer(out, 0, sentinel);
        ctx.writeStep(T, 0, T);
        await runPass(gpu, (pass) => op.encode(pass, T));
        const got = await readF32(gpu, out, MAX_T * F);
        const want = Float64Array.from(sentinel);
        const scale = Float64Array.from(sentinel, () => 1e-30);
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < F; j++) {
            const g = v[t * W + j];
            const u = gated ? v[t * W + F + j] : 1;
            want[t * F + j] = geluRef(g) * u;
            scale[t * F + j] += Math.abs(want[t * F + j]) + 0.1 * Math.abs(g * u);
          }
        }
        for (let j = T * F; j < want.length; j++) scale[j] += Math.abs(want[j]);
        const stats = compare(got, want, scale);
        worst.add(gated ? 'geglu' : 'gelu', stats);
        assertClose(stats, BOUND, `${gated ? 'gated ' : ''}F=${F} T=${T}`);
      }
    });
  }
}
