// ExpertFfnOp (ops/experts.ts: moe_route, matvec_experts, moe_combine) against an f64 reference of
// llama.cpp's build_moe_ffn for qwen3moe: from router logits [T][E], the k most probable experts of each
// token in descending order (ties: the lower index first), their softmax probabilities renormalised to
// sum 1 (or as they are: qwen2moe's), and x[t] += Σ_j w_j · down_e(silu(gate_e h_t) · up_e h_t). Checked:
//   - the routes (expert ids exactly, weights to 1e-6 relative);
//   - x per element within 1e-5 of the rounding scale (|x| + Σ_j w_j Σ_n |Wd| (|act| + its own scale));
//   - ragged shapes (E 3..9, k 1..E, T 1..9, widths not multiples of the workgroup), a tie in the logits,
//     and expert matrices cut into chunks of whole experts (3 chunks: each dispatch skips the pairs whose
//     expert another chunk holds);
//   - every dtype family: f32, f16, Q8_0, Q4_0, Q4_K, Q6_K;
//   - a batch's rows equal one-token passes bit for bit (what verify-exact needs of the experts);
//   - ExpertOrder 'sorted': `order` lists the pairs expert by expert, each expert's in pair order (a case
//     with 20 pairs an expert), and x has the bits of the batch order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { EXPERT_ORDERS, ExpertFfnOp, ROUTE_BYTES, type ExpertOrder } from '../../src/ops/experts';
import { gpuRowBytes, type WeightDtype } from '../../src/loaders/repack';
import { testGpu } from '../helpers/gpuModel';
import { WorstErrors, assertClose, checked, compare, firstMismatch, randomF32, randomMatrix, readF32, readU32, rng, runPass } from './harness';

const BOUND = 1e-5;

let gpu: Gpu;
let ctx: OpContext;
const worst = new WorstErrors();

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'experts-test');
});

after(() => {
  ctx?.dispose();
  console.log(`experts:\n${worst.summary()}`);
});

interface Case {
  dtype: WeightDtype;
  E: number;
  k: number;
  d: number;
  F: number;
  T: number;
  /** Experts per chunk of each matrix (default: all in one). */
  perChunk?: number;
  /** The weights as softmax gives them, not renormalised (qwen2moe). */
  raw?: boolean;
  seed: number;
}

const silu = (g: number) => g / (1 + Math.exp(-g));

/** The reference routes of one token: ids by descending logit (ties: lower index), weights renormalised unless `raw`. */
function routeRef(logits: Float32Array, k: number, raw = false): { ids: number[]; w: number[] } {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const m = logits[order[0]];
  let s = 0;
  for (const l of logits) s += Math.exp(l - m);
  const p = order.slice(0, k).map((e) => Math.exp(logits[e] - m) / s);
  const sum = Math.max(p.reduce((a, b) => a + b, 0), 6.103515625e-5);
  return { ids: order.slice(0, k), w: raw ? p : p.map((v) => v / sum) };
}

const CASES: Case[] = [
  { dtype: 'f32', E: 3, k: 1, d: 20, F: 12, T: 1, seed: 1 },
  { dtype: 'f32', E: 5, k: 2, d: 68, F: 36, T: 9, perChunk: 2, seed: 2 },
  { dtype: 'f32', E: 4, k: 4, d: 64, F: 132, T: 3, seed: 3 },
  // qwen2moe: the two weights as softmax gives them (they sum to less than 1).
  { dtype: 'f32', E: 6, k: 2, d: 36, F: 20, T: 5, raw: true, seed: 10 },
  // 20 pairs an expert.
  { dtype: 'f32', E: 3, k: 2, d: 32, F: 16, T: 30, seed: 9 },
  { dtype: 'f16', E: 6, k: 3, d: 100, F: 52, T: 5, perChunk: 2, seed: 4 },
  { dtype: 'q8_0', E: 9, k: 2, d: 96, F: 160, T: 7, perChunk: 4, seed: 5 },
  { dtype: 'q4_0', E: 7, k: 3, d: 64, F: 96, T: 4, seed: 6 },
  { dtype: 'q4_k', E: 4, k: 2, d: 256, F: 512, T: 3, perChunk: 3, seed: 7 },
  { dtype: 'q6_k', E: 3, k: 2, d: 256, F: 256, T: 2, seed: 8 },
];

for (const c of CASES) {
  test(`experts ${c.dtype}: E ${c.E}, k ${c.k}, d ${c.d}, F ${c.F}, T ${c.T}${c.perChunk ? `, ${c.perChunk} experts a chunk` : ''}${c.raw ? ', weights not renormalised' : ''}: routes and x against the f64 reference; batch rows equal one-token passes; the sorted order gives the same bits`, async () => {
    const r = rng(c.seed);
    const own = ctx.owner;
    const chunkBytes = (rows: number, cols: number) => (c.perChunk ? c.perChunk * rows * gpuRowBytes(c.dtype, cols).data : undefined);
    const gate = await randomMatrix(own, r, c.dtype, c.E * c.F, c.d, chunkBytes(c.F, c.d));
    const up = await randomMatrix(own, r, c.dtype, c.E * c.F, c.d, chunkBytes(c.F, c.d));
    const down = await randomMatrix(own, r, c.dtype, c.E * c.d, c.F, chunkBytes(c.d, c.F));
    if (c.perChunk) assert.equal(gate.matrix.chunks.length, Math.ceil(c.E / c.perChunk));
    const { T, k, d, F, E } = c;
    const h = randomF32(r, T * d);
    const x0 = randomF32(r, T * d);
    const logits = randomF32(r, T * E, 3);
    // A tie between the two largest logits of the last token: the lower index goes first.
    const last = logits.subarray((T - 1) * E, T * E);
    const top = Array.from(last.keys()).sort((a, b) => last[b] - last[a]);
    if (E > 1) last[Math.max(top[0], top[1])] = last[Math.min(top[0], top[1])];
    const b = {
      h: own.storageFrom(h, 'h'), x: own.storage(T * d * 4, 'x'), logits: own.storageFrom(logits, 'logits'),
      routes: own.storage(T * k * ROUTE_BYTES, 'routes'), order: own.storage(T * k * 4, 'order'),
      gateUp: own.storage(T * k * 2 * F * 4, 'gateUp'), out: own.storage(T * k * d * 4, 'out'),
    };
    const matrices = { gate: { matrix: gate.matrix, rowsPerExpert: F }, up: { matrix: up.matrix, rowsPerExpert: F }, down: { matrix: down.matrix, rowsPerExpert: d } };
    const ops = await checked(gpu, () => Object.fromEntries(EXPERT_ORDERS.map((order) => [order, new ExpertFfnOp(ctx, { count: E, used: k, ffnDim: F, normalizeWeights: !c.raw, weightsScale: 1, denseLeadingLayers: 0, shared: null }, d, matrices, b, 'experts', { order })])));
    const run = async (n: number, order: ExpertOrder = 'pairs') => {
      ctx.writeStep(n, 0, n);
      await runPass(gpu, (pass) => ops[order].encode((_, body) => body(pass), n));
    };
    gpu.device.queue.writeBuffer(b.x, 0, x0);
    await run(T);
    const routes = await readU32(gpu, b.routes, T * k * 2);
    const got = await readF32(gpu, b.x, T * d);
    // The pairs expert by expert (each expert's in pair order): the same sums, so the same bits.
    gpu.device.queue.writeBuffer(b.x, 0, x0);
    await run(T, 'sorted');
    const ids = Array.from({ length: T * k }, (_, z) => routes[2 * z]);
    assert.deepEqual([...await readU32(gpu, b.order, T * k)], Array.from(ids.keys()).sort((a, z) => ids[a] - ids[z] || a - z), 'sorted order');
    const sorted = await readF32(gpu, b.x, T * d);
    assert.equal(firstMismatch(sorted, got), 'equal', 'the sorted order gives other bits');

    const want = new Float64Array(T * d);
    const scale = new Float64Array(T * d);
    for (let t = 0; t < T; t++) {
      const ref = routeRef(logits.subarray(t * E, (t + 1) * E), k, c.raw);
      for (let j = 0; j < k; j++) {
        const z = t * k + j;
        assert.equal(routes[2 * z], ref.ids[j], `token ${t} slot ${j}: expert ${routes[2 * z]}, want ${ref.ids[j]}`);
        const w = new Float32Array(routes.buffer, (2 * z + 1) * 4, 1)[0];
        assert.ok(Math.abs(w - ref.w[j]) <= 1e-6 * ref.w[j] + 1e-9, `token ${t} slot ${j}: weight ${w}, want ${ref.w[j]}`);
      }
      for (let i = 0; i < d; i++) {
        want[t * d + i] = x0[t * d + i];
        scale[t * d + i] = Math.abs(x0[t * d + i]);
      }
      ref.ids.forEach((e, j) => {
        const act = new Float64Array(F);
        const actScale = new Float64Array(F);
        for (let n = 0; n < F; n++) {
          let g = 0;
          let u = 0;
          let gs = 0;
          let us = 0;
          for (let q = 0; q < d; q++) {
            const hv = h[t * d + q];
            const wg = gate.values[(e * F + n) * d + q];
            const wu = up.values[(e * F + n) * d + q];
            g += hv * wg;
            u += hv * wu;
            gs += Math.abs(hv * wg);
            us += Math.abs(hv * wu);
          }
          act[n] = silu(g) * u;
          actScale[n] = Math.abs(act[n]) + gs * Math.abs(u) + Math.abs(silu(g)) * us;
        }
        for (let i = 0; i < d; i++) {
          let o = 0;
          let os = 0;
          for (let n = 0; n < F; n++) {
            const wd = down.values[(e * d + i) * F + n];
            o += wd * act[n];
            os += Math.abs(wd) * actScale[n];
          }
          want[t * d + i] += ref.w[j] * o;
          scale[t * d + i] += ref.w[j] * os;
        }
      });
    }
    const stats = compare(got, want, scale);
    worst.add(c.dtype, stats);
    assertClose(stats, BOUND, `experts ${JSON.stringify(c)}`);

    // Each token alone (its rows moved to row 0): the bits of its batch row.
    for (let t = 0; t < T; t++) {
      gpu.device.queue.writeBuffer(b.h, 0, h.subarray(t * d, (t + 1) * d));
      gpu.device.queue.writeBuffer(b.logits, 0, logits.subarray(t * E, (t + 1) * E));
      gpu.device.queue.writeBuffer(b.x, 0, x0.subarray(t * d, (t + 1) * d));
      await run(1);
      const single = await readF32(gpu, b.x, d);
      for (let i = 0; i < d; i++) {
        if (!Object.is(single[i], got[t * d + i])) assert.fail(`token ${t}, element ${i}: one-token pass ${single[i]}, batch row ${got[t * d + i]}`);
      }
    }
  });
}
