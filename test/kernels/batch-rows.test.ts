// The GPU kernels of a short batch (up to 32 tokens: a verify pass) give each row the bits a one-token
// pass gives it, so speculative decoding's verify rows are decode steps exactly (test/golden/verify-exact
// runs the whole model; these run the kernels alone, with no model file, so device-run.sh checks them on
// a real GPU, whose shader compiler may contract a * b + c differently in two kernels). Compared bit for
// bit, per row, against one-token passes:
//   - the split-K batch matvec against the one-token split-K matvec, every dtype of Q4_K_M files, Q2_K, Q3_K, IQ4_NL, IQ4_XS, Q4_1 and the basic ones;
//   - rmsnorm then the batch matvec, against the matvec that normalises its own input (MODE 1);
//   - silu(gate) · up then the batch matvec, against the matvec that computes it while staging (MODE 2);
//   - attention of a batch split over its keys and merged per token, then the batch output projection,
//     against decode attention (rope fused) whose splits the output projection merges (MODE 3): the batch
//     splits as its last query (6 splits of 8 keys), its first queries leave the last split empty.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { MatmulOp, SPLIT_K_BATCH_MAX_ROWS, defaultTiles, type MatmulArgs } from '../../src/ops/matmul';
import { RmsNormOp } from '../../src/ops/rmsnorm';
import { SiluMulOp } from '../../src/ops/siluMul';
import { AttentionOp, attentionSplits } from '../../src/ops/attention';
import { ropeTable } from '../../src/model/rope';
import { GPU_LAYOUT, type WeightDtype } from '../../src/loaders/repack';
import { testGpu } from '../helpers/gpuModel';
import { checked, randomF32, randomMatrix, readF32, rng, runPass } from './harness';

let gpu: Gpu;
let ctx: OpContext;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'batch-rows-test');
});

after(() => ctx?.dispose());

/** Asserts rows [T][N] of `batch` equal the one-token results `single[t]`, bit for bit. */
function assertRowsEqual(batch: Float32Array, single: Float32Array[], N: number, what: string): void {
  for (const [t, row] of single.entries()) {
    for (let n = 0; n < N; n++) {
      const a = batch[t * N + n];
      if (!Object.is(a, row[n])) assert.fail(`${what}: row ${t}, column ${n}: batch ${a}, one token ${row[n]} (differ by ${a - row[n]})`);
    }
  }
}

/**
 * Runs `op` over T rows of `input` (after `prepare`, the batch's producer op, if any), then each row alone
 * as a one-token pass reading `fusedSource` row t moved to row 0; returns both.
 */
async function batchAndSingles(args: {
  T: number; N: number; y: GPUBuffer; op: MatmulOp; source: GPUBuffer; sourceRow: Float32Array[]; prepare?: (pass: GPUComputePassEncoder) => void;
}): Promise<{ batch: Float32Array; singles: Float32Array[] }> {
  const { T, N, y, op, source, sourceRow } = args;
  sourceRow.forEach((row, t) => gpu.device.queue.writeBuffer(source, t * row.byteLength, row));
  ctx.writeStep(T, 0, T);
  await runPass(gpu, (pass) => {
    args.prepare?.(pass);
    op.encode(pass, T);
  });
  const batch = await readF32(gpu, y, T * N);
  const singles: Float32Array[] = [];
  for (const row of sourceRow) {
    gpu.device.queue.writeBuffer(source, 0, row);
    ctx.writeStep(1, 0, 1);
    await runPass(gpu, (pass) => op.encode(pass, 1));
    singles.push(await readF32(gpu, y, N));
  }
  return { batch, singles };
}

const T = 17;

for (const dtype of ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q2_k', 'q3_k', 'q4_k', 'q6_k', 'iq4_nl', 'iq4_xs'] as WeightDtype[]) {
  test(`${dtype}: the split-K batch matvec over ${T} rows equals ${T} one-token matvecs, bit for bit`, async () => {
    const r = rng(11);
    const K = GPU_LAYOUT[dtype].colMultiple === 256 ? 512 : 896;
    const N = 37;
    const { matrix } = await randomMatrix(ctx.owner, r, dtype, N, K);
    const x = ctx.owner.storage(T * K * 4, 'x');
    const y = ctx.owner.storage(T * N * 4, 'y');
    const op = await checked(gpu, () => new MatmulOp(ctx, { weight: matrix, x, y, yStride: N, label: 'mm' }, defaultTiles(dtype, false)));
    assert.ok(op.tileFor(T) === op.tiles.batch && T <= SPLIT_K_BATCH_MAX_ROWS);
    const rows = Array.from({ length: T }, () => randomF32(r, K));
    const { batch, singles } = await batchAndSingles({ T, N, y, op, source: x, sourceRow: rows });
    assertRowsEqual(batch, singles, N, dtype);
  });
}

test('rmsnorm then the batch matvec equals the matvec that normalises its own input (Q8_0, K = 896 and 64)', async () => {
  for (const K of [896, 64]) {
    const r = rng(12 + K);
    const N = 41;
    const { matrix } = await randomMatrix(ctx.owner, r, 'q8_0', N, K);
    const resid = ctx.owner.storage(T * K * 4, 'resid');
    const h = ctx.owner.storage(T * K * 4, 'h');
    const y = ctx.owner.storage(T * N * 4, 'y');
    const weight = ctx.owner.storageFrom(randomF32(r, K, 2), 'norm');
    const fusedInput: MatmulArgs['fusedInput'] = { mode: 'rmsnorm', x: resid, weight, eps: 1e-6 };
    const op = await checked(gpu, () => new MatmulOp(ctx, { weight: matrix, x: h, y, yStride: N, label: 'qkv', fusedInput }, defaultTiles('q8_0', false)));
    assert.ok(op.fusesInput, 'the one-token matvec normalises its input');
    const norm = new RmsNormOp(ctx, { x: resid, weight, y: h, width: K, eps: 1e-6, label: 'norm' });
    // Rows at scales 1e-2..1e2: the sum of squares' rounding differs by row.
    const rows = Array.from({ length: T }, (_, t) => randomF32(r, K, 10 ** (-2 + (4 * t) / (T - 1))));
    const { batch, singles } = await batchAndSingles({ T, N, y, op, source: resid, sourceRow: rows, prepare: (pass) => norm.encode(pass, T) });
    assertRowsEqual(batch, singles, N, `rmsnorm, K = ${K}`);
  }
});

test('silu(gate) · up then the batch matvec equals the matvec that computes it while staging (Q4_0, F = 352)', async () => {
  const r = rng(13);
  const F = 352;
  const N = 29;
  const { matrix } = await randomMatrix(ctx.owner, r, 'q4_0', N, F);
  const gateUp = ctx.owner.storage(T * 2 * F * 4, 'gateUp');
  const ffn = ctx.owner.storage(T * F * 4, 'ffn');
  const y = ctx.owner.storage(T * N * 4, 'y');
  const op = await checked(gpu, () => new MatmulOp(ctx, { weight: matrix, x: ffn, y, yStride: N, label: 'down', fusedInput: { mode: 'swiglu', x: gateUp } }, defaultTiles('q4_0', false)));
  assert.ok(op.fusesInput, 'the one-token matvec computes silu · up itself');
  const silu = new SiluMulOp(ctx, F, gateUp, ffn);
  const rows = Array.from({ length: T }, () => randomF32(r, 2 * F, 4));
  const { batch, singles } = await batchAndSingles({ T, N, y, op, source: gateUp, sourceRow: rows, prepare: (pass) => silu.encode(pass, T) });
  assertRowsEqual(batch, singles, N, 'silu · up');
});

test('attention split over its keys in a batch of 5, merged per token, then the output projection, equals 5 decode steps (rope fused, splits merged by the projection)', async () => {
  const r = rng(14);
  // GQA 7 (14/2 heads) of 64, NeoX rope, 16-key blocks, 8 keys a split; a 37-token prefix, then 5 tokens.
  const shape = { nHeads: 14, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 16, slidingWindow: 0, splitKeys: 8 };
  const { nHeads, nKvHeads, headDim: hd } = shape;
  const prefix = 37;
  const B = 5;
  const positions = prefix + B;
  const rowWidth = (nHeads + 2 * nKvHeads) * hd;
  const K = nHeads * hd;
  const N = 33;
  const maxSplits = Math.ceil(positions / shape.splitKeys);
  const own = ctx.owner;
  const blocks = Math.ceil(positions / shape.blockSize);
  const cacheBytes = blocks * nKvHeads * shape.blockSize * hd * 4;
  const buffers = {
    qkv: own.storage(prefix * rowWidth * 4, 'qkv'),
    ropeTable: own.storageFrom(ropeTable(positions, shape.nRot, 1e6), 'rope'),
    blockTable: own.storageFrom(new Uint32Array(Array.from({ length: blocks }, (_, i) => blocks - 1 - i)), 'blockTable'),
    kCache: own.storage(cacheBytes, 'k'),
    vCache: own.storage(cacheBytes, 'v'),
    out: own.storage(prefix * K * 4, 'attn'),
    partials: own.storage(B * nHeads * maxSplits * (hd + 2) * 4, 'partials'),
  };
  const attention = await checked(gpu, () => new AttentionOp(ctx, shape, buffers, 'attn'));
  const { matrix } = await randomMatrix(own, r, 'q8_0', N, K);
  const y = own.storage(B * N * 4, 'y');
  const project = await checked(gpu, () => new MatmulOp(ctx, {
    weight: matrix, x: buffers.out, y, yStride: N, label: 'attn_out',
    fusedInput: { mode: 'combine', x: buffers.out, partials: buffers.partials, nHeads, headDim: hd },
  }, defaultTiles('q8_0', false)));
  assert.ok(project.fusesInput, 'the one-token projection merges the splits');
  const prefixRows = randomF32(r, prefix * rowWidth, 2);
  const newRows = Array.from({ length: B }, () => randomF32(r, rowWidth, 2));
  /** The cache as a prefill of the prefix leaves it (a batch of 37: no splits). */
  const fillPrefix = async () => {
    gpu.device.queue.writeBuffer(buffers.qkv, 0, prefixRows);
    ctx.writeStep(prefix, 0, 1, 1);
    await runPass(gpu, (pass) => attention.encode(pass, prefix, 1));
  };

  await fillPrefix();
  newRows.forEach((row, t) => gpu.device.queue.writeBuffer(buffers.qkv, t * row.byteLength, row));
  const splits = attentionSplits(B, prefix + B, shape.splitKeys);
  assert.equal(splits, 6, 'the batch splits as its last query would');
  ctx.writeStep(B, prefix, B, splits);
  await runPass(gpu, (pass) => {
    attention.encode(pass, B, splits);
    project.encode(pass, B);
  });
  const batch = await readF32(gpu, y, B * N);

  await fillPrefix();
  const singles: Float32Array[] = [];
  for (const [t, row] of newRows.entries()) {
    gpu.device.queue.writeBuffer(buffers.qkv, 0, row);
    const s = attentionSplits(1, prefix + t + 1, shape.splitKeys);
    ctx.writeStep(1, prefix + t, 1, s);
    await runPass(gpu, (pass) => {
      attention.encode(pass, 1, s, true);
      project.encode(pass, 1);
    });
    singles.push(await readF32(gpu, y, N));
  }
  assertRowsEqual(batch, singles, N, 'attention and its output projection');
});
