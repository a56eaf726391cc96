// ArgmaxOp (kernels/argmax.wgsl): ids[r] = first index of the largest logit of row r (ties go to the
// lowest index, NaN never wins), compared exactly with the CPU reference, and p[r] = softmax(row)[id]
// against a float64 softmax (relative 1e-4). Vocabularies smaller than the 256-lane workgroup, ragged
// against it, and large (Qwen2's 151,936); 1 and 3 rows; planted maxima at the first and last index; flat
// and peaked rows; ties across lanes and within a lane; rows of ±FLT_MAX, ±inf and NaN.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { ArgmaxOp, splitArgmaxRows } from '../../src/ops/argmax';
import { testGpu } from '../helpers/gpuModel';
import { tokenProbability } from '../../src/engine/sampler';
import { argmaxRef } from './reference';
import { checked, randomF32, readU32, rng, runPass } from './harness';

const FLT_MAX = 3.4028234663852886e38;

let gpu: Gpu;
let ctx: OpContext;
const ops = new Map<number, { op: ArgmaxOp; logits: GPUBuffer; ids: GPUBuffer }>();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'argmax-test');
});

after(() => {
  ctx?.dispose();
  console.log(`argmax: ${shapes} vocabulary sizes, exact ids`);
});

const MAX_ROWS = 4;

/** One op (one pipeline) per vocabulary size, shared by the tests. */
async function opFor(V: number): Promise<{ op: ArgmaxOp; logits: GPUBuffer; ids: GPUBuffer }> {
  let o = ops.get(V);
  if (!o) {
    shapes++;
    const logits = ctx.owner.storage(MAX_ROWS * V * 4, `logits${V}`);
    const ids = ctx.owner.storage(MAX_ROWS * 8, `ids${V}`);
    o = { op: await checked(gpu, () => new ArgmaxOp(ctx, V, logits, ids)), logits, ids };
    ops.set(V, o);
  }
  return o;
}

/** softmax(row)[id] in float64, NaN skipped (the kernel's rule: a value equal to the maximum counts 1). */
function probabilityRef(row: Float32Array, id: number): number {
  const finite = row.filter((v) => !Number.isNaN(v));
  return finite.length ? tokenProbability(finite, finite.indexOf(row[id])) : 0;
}

/**
 * Runs argmax over `rows` (each of length V) and asserts the ids equal the reference's and each p its
 * softmax probability; rows past them keep a sentinel. Returns the probabilities.
 */
async function checkArgmax(V: number, rows: Float32Array[], what: string): Promise<number[]> {
  const { op, logits, ids } = await opFor(V);
  const flat = new Float32Array(rows.length * V);
  rows.forEach((row, i) => flat.set(row, i * V));
  gpu.device.queue.writeBuffer(logits, 0, flat);
  gpu.device.queue.writeBuffer(ids, 0, new Uint32Array(2 * MAX_ROWS).fill(0xdeadbeef));
  ctx.writeStep(17, 0, rows.length);
  await runPass(gpu, (pass) => op.encode(pass, rows.length));
  const out = await readU32(gpu, ids, 2 * MAX_ROWS);
  const got = splitArgmaxRows(out.slice().buffer, MAX_ROWS);
  const want = new Uint32Array(MAX_ROWS).fill(0xdeadbeef);
  want.set(argmaxRef(flat, rows.length, V));
  assert.deepEqual([...got.ids], [...want], `V=${V} ${what}`);
  const probs = [...got.probs.subarray(0, rows.length)];
  rows.forEach((row, r) => {
    const p = probabilityRef(row, want[r]);
    assert.ok(Math.abs(probs[r] - p) <= 1e-4 * p + 1e-30, `V=${V} ${what}, row ${r}: p ${probs[r]}, want ${p}`);
  });
  if (rows.length < MAX_ROWS) assert.equal(out[2 * rows.length], 0xdeadbeef, `V=${V} ${what}: the row past the last was written`);
  return probs;
}

for (const [i, V] of [5, 1000, 32003].entries()) {
  test(`V=${V}: random rows, maxima at the first, last and a random index; 1 and 3 rows`, async () => {
    const r = rng(20 + i);
    const planted = (at: number) => {
      const row = randomF32(r, V, 10);
      row[at] = 11;
      return row;
    };
    await checkArgmax(V, [planted(V - 1)], 'one row, max at V-1');
    await checkArgmax(V, [planted(0), planted(Math.floor(r() * V)), randomF32(r, V, 1e4)], 'three rows');
  });
}

test('ties go to the lowest index: across lanes, within one lane, and the lowest lane not first', async () => {
  const V = 1000;
  const row = (at: number[], base = 0) => {
    const x = new Float32Array(V).fill(base);
    for (const a of at) x[a] = 5;
    return x;
  };
  // 300 and 44 sit in different lanes (256 lanes); 44 and 300 = 44 + 256 share lane 44; 999 and 3.
  await checkArgmax(V, [row([300, 44]), row([44 + 256, 44, 44 + 512]), row([999, 3]), row([], -1)], 'ties');
});

test('huge values: FLT_MAX ties, +inf beats FLT_MAX, -inf and NaN never win over a finite value', async () => {
  const V = 1000;
  const r = rng(7);
  const a = randomF32(r, V, 1);
  a[700] = FLT_MAX;
  a[20] = FLT_MAX;
  const b = new Float32Array(V).fill(-Infinity);
  b[613] = -1e30;
  const c = new Float32Array(V).fill(FLT_MAX);
  c[512] = Infinity;
  const d = randomF32(r, V, 1);
  for (let k = 0; k < V; k += 3) d[k] = NaN;
  d[999] = 2;
  await checkArgmax(V, [a, b, c, d], 'huge values');
});

// A fully masked row (all -inf) or one of -FLT_MAX values still has a first maximum (a sentinel start
// value of -3.4e38 once made these rows return V-1).
test('a row whose maximum is -inf or -FLT_MAX: all -inf gives 0, the one -FLT_MAX among -inf wins, all -FLT_MAX gives 0', async () => {
  const V = 1000;
  const allNegInf = new Float32Array(V).fill(-Infinity);
  const oneNegMax = new Float32Array(V).fill(-Infinity);
  oneNegMax[613] = -FLT_MAX;
  const allNegMax = new Float32Array(V).fill(-FLT_MAX);
  await checkArgmax(V, [allNegInf, oneNegMax, allNegMax], 'rows of -inf / -FLT_MAX');
});

test('probability of the argmax: flat, peaked and ragged rows (V 1, 255, 257, 151,936) against a float64 softmax', async () => {
  const r = rng(41);
  for (const V of [1, 255, 257]) {
    await checkArgmax(V, [randomF32(r, V, 0.01), randomF32(r, V, 5), randomF32(r, V, 30)], 'flat, medium, peaked');
  }
  const V = 151936;
  const peaked = randomF32(r, V, 3);
  peaked[V - 2] = 40;
  // A uniform row: p = 1/V exactly in real numbers; the kernel's float32 sum of 151,936 ones is exact.
  const probs = await checkArgmax(V, [randomF32(r, V, 8), peaked, new Float32Array(V).fill(0.25)], 'Qwen2-sized rows');
  assert.ok(probs[1] > 0.99, `planted maximum p ${probs[1]}`);
  assert.equal(probs[2], Math.fround(1 / V));
});
