// The output projection's fused input (matvec_split_k.wgsl MODE 3): in decode with split attention, the
// matvec merges the splits' partial softmax states while staging x, instead of a separate combine
// dispatch. Against the f64 reference (merge the partials, then x · Wᵀ): heads of 64 and 128 dims,
// 1 to 13 splits, splits without keys (l = 0, as a short context leaves the last ones), partial maxima
// far apart; with one split the kernel must read x as attention wrote it, ignoring stale partials.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { MatmulOp } from '../../src/ops/matmul';
import type { WeightDtype } from '../../src/loaders/repack';
import { testGpu } from '../helpers/gpuModel';
import { matmulRef } from './reference';
import { assertClose, checked, compare, randomF32, randomMatrix, readF32, rng, runPass } from './harness';

let gpu: Gpu;
let ctx: OpContext;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'matvec-combine-test');
});

after(() => ctx?.dispose());

/** attention_combine.wgsl in f64: out[h][d] = Σ_s acc_s[d] e^(m_s − M) / Σ_s l_s e^(m_s − M) over splits with l > 0. */
function combineRef(partials: Float32Array, nHeads: number, hd: number, splits: number): Float32Array {
  const out = new Float32Array(nHeads * hd);
  for (let h = 0; h < nHeads; h++) {
    let M = -Infinity;
    for (let s = 0; s < splits; s++) {
      const b = (h * splits + s) * (hd + 2);
      if (partials[b + hd + 1] > 0) M = Math.max(M, partials[b + hd]);
    }
    let L = 0;
    const acc = new Float64Array(hd);
    for (let s = 0; s < splits; s++) {
      const b = (h * splits + s) * (hd + 2);
      if (!(partials[b + hd + 1] > 0)) continue;
      const f = Math.exp(partials[b + hd] - M);
      L += partials[b + hd + 1] * f;
      for (let d = 0; d < hd; d++) acc[d] += partials[b + d] * f;
    }
    for (let d = 0; d < hd; d++) out[h * hd + d] = acc[d] / L;
  }
  return out;
}

async function check(dtype: WeightDtype, nHeads: number, hd: number, N: number, splitCounts: number[], seed: number): Promise<void> {
  const r = rng(seed);
  const K = nHeads * hd;
  const { matrix, values: w } = await randomMatrix(ctx.owner, r, dtype, N, K);
  const maxSplits = Math.max(...splitCounts);
  const x = ctx.owner.storage(K * 4, 'attn');
  const partials = ctx.owner.storage(nHeads * maxSplits * (hd + 2) * 4, 'partials');
  const y = ctx.owner.storage(N * 4, 'y');
  const op = await checked(gpu, () => new MatmulOp(ctx, {
    weight: matrix, x, y, yStride: N, accumulate: true, label: 'attn_out',
    fusedInput: { mode: 'combine', x, partials, nHeads, headDim: hd },
  }, 'splitKi'));
  assert.ok(op.fusesInput, 'the splitK matvec stages and merges its input');
  for (const splits of splitCounts) {
    // Partials: acc of magnitude l (a weighted sum of V rows), maxima spread over ±20, the last split of
    // some heads without keys.
    const p = new Float32Array(nHeads * splits * (hd + 2));
    for (let h = 0; h < nHeads; h++) {
      for (let s = 0; s < splits; s++) {
        const b = (h * splits + s) * (hd + 2);
        const empty = splits > 1 && s === splits - 1 && h % 2 === 1;
        const l = empty ? 0 : 0.5 + 8 * r();
        for (let d = 0; d < hd; d++) p[b + d] = empty ? 0 : (2 * r() - 1) * l;
        p[b + hd] = empty ? -3e38 : 40 * r() - 20;
        p[b + hd + 1] = l;
      }
    }
    const xv = randomF32(r, K);
    const yInit = randomF32(r, N, 2);
    gpu.device.queue.writeBuffer(partials, 0, p);
    gpu.device.queue.writeBuffer(x, 0, xv);
    gpu.device.queue.writeBuffer(y, 0, yInit);
    ctx.writeStep(1, 0, 1, splits);
    await runPass(gpu, (pass) => op.encode(pass, 1));
    const got = await readF32(gpu, y, N);
    // One split: attention wrote x itself and the partials are stale (here: random), so x is the input.
    const input = splits > 1 ? combineRef(p, nHeads, hd, splits) : xv;
    const want = matmulRef({ x: input, w, m: 1, N, K, yInit, yStride: N, accumulate: true });
    assertClose(compare(got, want.y, want.scale), 1e-5, `${dtype} ${nHeads} heads x ${hd}, ${splits} splits`);
  }
}

test('output projection merges split attention while staging: 14 heads x 64 (Qwen2.5 0.5B), Q8_0, 1..13 splits', async () => {
  await check('q8_0', 14, 64, 37, [1, 2, 5, 13], 1);
});

test('output projection merges split attention while staging: 12 heads x 128 (Qwen2.5 1.5B), F16 and Q4_0, 1 and 8 splits', async () => {
  await check('f16', 12, 128, 19, [8, 1], 2);
  await check('q4_0', 12, 128, 41, [3, 8], 3);
});
