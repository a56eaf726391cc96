// AttentionOp over the paged KV cache: rope_store_kv (rotate q in place, write rotated k and plain v at
// their slots) then causal attention, in one pass as the model encodes them; for one token, the fused
// decode kernel (rotation and store inside attention). A sequence is fed in batches (T in 1, 2, 3, 5, 17;
// later batches start at pos0 > 0 after a cached prefix) through a shuffled, non-contiguous block table,
// and after every batch:
//   - q in qkv equals the f64 rope of the input (normal or NeoX, full or partial n_rot), or for one token
//     the input unchanged (the fused kernel ropes q in workgroup memory); k, v in qkv unchanged;
//   - the K/V caches hold exactly the expected values at block_table[p / BLOCK], slot p % BLOCK, and
//     every other slot still holds its NaN sentinel (so attention reading a wrong slot would give NaN);
//   - out equals the f64 reference computed from contiguous K/V (GQA, sliding window), |Δ| <= 1e-5 max|v|.
// Configurations cover block sizes 16/32/64 with contexts crossing block boundaries, GQA ratios 1, 2, 3
// and 7 (14 heads / 2 kv), head dims 8, 64 and 128, and the lane counts of hardware adapters.
// Every configuration runs with an f32 cache and with an f16 cache (where the adapter has shader-f16):
//   - f16 cache slots hold the f64 reference to within one f16 step (WGSL converts f32 to either f16
//     neighbour, so |got - want| <= 2^-10 |want| plus the rope bound and 2^-24 for subnormals);
//   - attention is compared with the f64 reference over those f16-rounded K and V (the values the store
//     check just verified) at the f32 bound: the kernel must widen f16 to f32 and accumulate in f32, so
//     reading f16 adds no error of its own. (A reference over f16(f64 K) instead would differ by a whole
//     f16 step wherever the GPU's f32 rope lands on the other side of a rounding midpoint.) The error
//     against the unrounded K/V (the precision an f16 cache costs) is printed, not asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/gpu/device';
import { OpContext } from '../../src/ops/context';
import { AttentionOp, attentionLanes, attentionSplits, type AttentionShape } from '../../src/ops/attention';
import { ropeTable } from '../../src/model/rope';
import { alibiSlopes } from '../../src/model/alibi';
import { testGpu } from '../helpers/gpuModel';
import { attentionRef, pagedIndex, ropeRef } from './reference';
import { WorstErrors, assertClose, checked, compare, permutation, randomF32, readF32, readU32, rng, runPass } from './harness';
import { f16BitsToF32 } from '../../src/loaders/quant/f16';
import { KV_TYPES, type KvType } from '../../src/kvcache/kvBuffers';

const BOUND = 1e-5;
const ROPE_BOUND = 1e-6;
/** One f16 step relative to the value (10 mantissa bits) and the f16 subnormal step. */
const F16_STEP = 2 ** -10;
const F16_SUBNORMAL = 2 ** -24;
/** f16 NaN bits: the sentinel of an f16 cache slot nothing should write. */
const F16_NAN = 0x7e00;

let gpu: Gpu;
let ctx: OpContext;
/**
 * The same device, presented as a hardware adapter, so AttentionOp picks the hardware lane counts. Its
 * kernels keep their lane loops rolled (adapter.cpuJit stays true): the GPU's arithmetic, which a GPU's
 * compiler may unroll; unrolled, lavapipe took 321 s rather than 177 s to compile this file's
 * hardware-lane tests on a cold shader cache.
 */
let hwCtx: OpContext;
const worst = new WorstErrors();
let shapes = 0;

before(async () => {
  gpu = await testGpu();
  ctx = new OpContext(gpu, 'attention-test');
  const asHardware = Object.create(gpu, { adapter: { value: { ...gpu.adapter, isSoftware: false } } }) as Gpu;
  hwCtx = new OpContext(asHardware, 'attention-test-hw');
});

after(() => {
  ctx?.dispose();
  hwCtx?.dispose();
  console.log(`attention: ${shapes} configurations\n${worst.summary()}`);
});

interface Config extends AttentionShape {
  /** Batch sizes fed one after another (positions 0..Σ-1). */
  steps: number[];
  theta: number;
  /** Scale of q: larger makes the softmax peaky (scores of tens). */
  qScale: number;
  hardwareLanes?: boolean;
  seed: number;
  /** ALiBi's maximum bias (with alibi: true and nRot 0): the table holds alibiSlopes(nHeads, it). */
  alibiMaxBias?: number;
}

/** A cache buffer of n elements of the KV type, every slot NaN. */
function nanCache(own: OpContext['owner'], kvType: KvType, n: number, label: string): GPUBuffer {
  return kvType === 'f32' ? own.storageFrom(new Float32Array(n).fill(NaN), label) : own.storageFrom(new Uint16Array(n).fill(F16_NAN), label);
}

/** n elements of a cache buffer of the KV type, widened to f32 (n is even: headDim % 4 == 0). */
async function readCache(kvType: KvType, buf: GPUBuffer, n: number): Promise<Float32Array> {
  if (kvType === 'f32') return readF32(gpu, buf, n);
  const halves = new Uint16Array((await readU32(gpu, buf, n / 2)).buffer);
  return Float32Array.from(halves, f16BitsToF32);
}

/**
 * Elements equal where `want` is NaN (both NaN), and elsewhere within ROPE_BOUND x max|want| (f32), or
 * for f16 within that plus one f16 step of the f32 value the kernel converted.
 */
function compareWithSentinels(got: Float32Array, want: Float64Array, kvType: KvType, what: string): void {
  let wantMax = 0;
  for (const w of want) if (!Number.isNaN(w)) wantMax = Math.max(wantMax, Math.abs(w));
  const ropeAbs = ROPE_BOUND * wantMax;
  let maxAbs = 0;
  let maxSteps = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert.ok(Number.isNaN(got[i]), `${what}: element ${i} should be untouched (NaN sentinel), got ${got[i]}`);
      continue;
    }
    const d = Math.abs(got[i] - want[i]);
    const bound = kvType === 'f32' ? ropeAbs : ropeAbs + F16_STEP * (Math.abs(want[i]) + ropeAbs) + F16_SUBNORMAL;
    assert.ok(d <= bound, `${what}: element ${i} got ${got[i]}, want ${want[i]} (${kvType} cache)`);
    maxAbs = Math.max(maxAbs, d);
    maxSteps = Math.max(maxSteps, d / (F16_STEP * Math.abs(want[i]) + F16_SUBNORMAL));
  }
  worst.add(`rope + kv store (${kvType} cache)`, { nmse: 0, maxAbs, maxRel: kvType === 'f32' ? maxAbs / wantMax : maxSteps });
}

async function runConfig(c: Config, kvType: KvType): Promise<void> {
  shapes++;
  const r = rng(c.seed);
  const { nHeads, nKvHeads: nKv, headDim: hd, blockSize: block } = c;
  const rowWidth = (nHeads + 2 * nKv) * hd;
  const maxT = Math.max(...c.steps);
  const positions = c.steps.reduce((a, b) => a + b, 0);
  const blocksUsed = Math.ceil(positions / block);
  // A pool larger than needed, handed out in shuffled order: logical block i lives at pool block table[i].
  const table = permutation(r, blocksUsed + 3).slice(0, blocksUsed);
  const cacheElems = (blocksUsed + 3) * nKv * block * hd;
  const context = c.hardwareLanes ? hwCtx : ctx;
  const own = context.owner;
  const buffers = {
    qkv: own.storage(maxT * rowWidth * 4, 'qkv'),
    ropeTable: own.storageFrom(c.alibi ? alibiSlopes(nHeads, c.alibiMaxBias!) : ropeTable(positions, c.nRot, c.theta), 'rope'),
    blockTable: own.storageFrom(new Uint32Array(table), 'blockTable'),
    kCache: nanCache(own, kvType, cacheElems, 'k'),
    vCache: nanCache(own, kvType, cacheElems, 'v'),
    out: own.storage(maxT * nHeads * hd * 4, 'out'),
    // [T][nHeads][splits][hd + 2]: batches of up to 32 tokens split as decode does.
    partials: own.storage(maxT * nHeads * Math.ceil(positions / Math.max(1, c.splitKeys ?? 1)) * (hd + 2) * 4, 'partials'),
  };
  const op = await checked(gpu, () => new AttentionOp(context, { ...c, kvType }, buffers, 'attn'));
  const lanes = attentionLanes(hd, !c.hardwareLanes && gpu.adapter.isSoftware);

  // Contiguous references [position][nKv][hd]: k rotated, v as given; kStored/vStored: what the cache
  // holds there (equal to kRef/vRef for f32, their verified f16 roundings for f16).
  const kRef = new Float64Array(positions * nKv * hd);
  const vRef = new Float64Array(positions * nKv * hd);
  const kStored = new Float64Array(positions * nKv * hd);
  const vStored = new Float64Array(positions * nKv * hd);
  const kCacheWant = new Float64Array(cacheElems).fill(NaN);
  const vCacheWant = new Float64Array(cacheElems).fill(NaN);

  let pos0 = 0;
  for (const T of c.steps) {
    const what = `${c.alibi ? `alibi ${c.alibiMaxBias} ` : ''}kv ${kvType} splitKeys=${c.splitKeys ?? 0} heads ${nHeads}/${nKv} hd=${hd} nRot=${c.nRot}${c.neox ? ' neox' : ''} block=${block} window=${c.slidingWindow} lanes=${lanes} T=${T} pos0=${pos0}`;
    const qkvIn = randomF32(r, maxT * rowWidth);
    for (let t = 0; t < T; t++) for (let i = 0; i < nHeads * hd; i++) qkvIn[t * rowWidth + i] *= c.qScale;
    gpu.device.queue.writeBuffer(buffers.qkv, 0, qkvIn);
    gpu.device.queue.writeBuffer(buffers.out, 0, new Float32Array(maxT * nHeads * hd).fill(-9));
    // The keys the last query sees (LlamaModel.splitsAt): earlier queries leave later splits empty.
    const span = c.slidingWindow > 0 ? Math.min(c.slidingWindow, pos0 + T) : pos0 + T;
    const splits = attentionSplits(T, span, c.splitKeys ?? 0);
    context.writeStep(T, pos0, T, splits);
    await runPass(gpu, (pass) => op.encode(pass, T, splits));

    const qkvWant = Float64Array.from(qkvIn);
    const qRef = new Float64Array(T * nHeads * hd);
    for (let t = 0; t < T; t++) {
      const p = pos0 + t;
      for (let h = 0; h < nHeads + 2 * nKv; h++) {
        const at = t * rowWidth + h * hd;
        const x = qkvIn.subarray(at, at + hd);
        if (h < nHeads) {
          const q = ropeRef(x, p, c.nRot, c.neox, c.theta);
          // One token: the fused decode kernel ropes q in workgroup memory and leaves qkv as it was.
          if (T > 1) qkvWant.set(q, at);
          qRef.set(q, (t * nHeads + h) * hd);
          continue;
        }
        const isK = h < nHeads + nKv;
        const g = isK ? h - nHeads : h - nHeads - nKv;
        const value = isK ? ropeRef(x, p, c.nRot, c.neox, c.theta) : Float64Array.from(x);
        (isK ? kRef : vRef).set(value, (p * nKv + g) * hd);
        const cacheWant = isK ? kCacheWant : vCacheWant;
        for (let d = 0; d < hd; d++) cacheWant[pagedIndex(table, block, nKv, hd, p, g, d)] = value[d];
      }
    }
    const qkvGot = await readF32(gpu, buffers.qkv, maxT * rowWidth);
    const qkvStats = compare(qkvGot, qkvWant);
    worst.add('rope + kv store', qkvStats);
    assertClose(qkvStats, ROPE_BOUND, `${what}: qkv after rope (${T > 1 ? 'q rotated in place' : 'q unchanged (fused decode)'}, k and v unchanged)`);
    const kCacheGot = await readCache(kvType, buffers.kCache, cacheElems);
    const vCacheGot = await readCache(kvType, buffers.vCache, cacheElems);
    compareWithSentinels(kCacheGot, kCacheWant, kvType, `${what}: k cache`);
    compareWithSentinels(vCacheGot, vCacheWant, kvType, `${what}: v cache`);
    for (let p = pos0; p < pos0 + T; p++) {
      for (let g = 0; g < nKv; g++) {
        for (let d = 0; d < hd; d++) {
          const at = pagedIndex(table, block, nKv, hd, p, g, d);
          kStored[(p * nKv + g) * hd + d] = kvType === 'f32' ? kRef[(p * nKv + g) * hd + d] : kCacheGot[at];
          vStored[(p * nKv + g) * hd + d] = kvType === 'f32' ? vRef[(p * nKv + g) * hd + d] : vCacheGot[at];
        }
      }
    }

    const slopes = c.alibi ? Array.from({ length: nHeads }, (_, h) => alibiSlopes(nHeads, c.alibiMaxBias!)[2 * h]) : undefined;
    const want = attentionRef({ q: qRef, k: kStored, v: vStored, T, pos0, nHeads, nKv, hd, window: c.slidingWindow, alibiSlopes: slopes });
    const got = await readF32(gpu, buffers.out, T * nHeads * hd);
    const unit = new Float64Array(want.length).fill(1); // |v| <= 1: errors relative to max|v|
    const stats = compare(got, want, unit);
    worst.add(`attention hd${hd} (${kvType} cache)`, stats);
    assertClose(stats, BOUND, `${what}: attention out`);
    if (c.alibi && pos0 + T > 8) {
      // The biases move the output far from attention without them, so a kernel that ignored them fails above.
      const plain = compare(got, attentionRef({ q: qRef, k: kStored, v: vStored, T, pos0, nHeads, nKv, hd, window: c.slidingWindow }), unit);
      assert.ok(plain.maxAbs > 0.05, `${what}: ALiBi changes the output by only ${plain.maxAbs}`);
    }
    if (kvType === 'f16') {
      const exact = attentionRef({ q: qRef, k: kRef, v: vRef, T, pos0, nHeads, nKv, hd, window: c.slidingWindow, alibiSlopes: slopes });
      worst.add(`attention hd${hd} (f16 cache) vs unrounded K/V, not asserted`, compare(got, exact, unit));
    }
    pos0 += T;
  }
}

/** Registers the test once per KV type; f16 is skipped (saying so) where the adapter lacks shader-f16. */
function kvTest(name: string, body: (kvType: KvType) => Promise<void>): void {
  for (const kvType of KV_TYPES) {
    test(`${name} [${kvType} cache]`, async (t) => {
      if (kvType === 'f16' && !gpu.device.features.has('shader-f16')) return t.skip('the adapter has no shader-f16');
      await body(kvType);
    });
  }
}

kvTest('GQA 1 (4/4 heads), hd 8, normal rope, block 16: context 45 crosses blocks 16 and 32', async (kvType) => {
  await runConfig({
    nHeads: 4, nKvHeads: 4, headDim: 8, nRot: 8, neox: false, blockSize: 16, slidingWindow: 0,
    steps: [17, 1, 5, 3, 2, 17], theta: 10000, qScale: 2, seed: 1,
  }, kvType);
});

kvTest('GQA 2 (4/2 heads), hd 64, NeoX rope, block 32, peaky softmax: context 43 crosses block 32', async (kvType) => {
  await runConfig({
    nHeads: 4, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 32, slidingWindow: 0,
    steps: [5, 17, 17, 1, 3], theta: 1e6, qScale: 20, seed: 2,
  }, kvType);
});

kvTest('GQA 7 (14/2 heads), hd 128, NeoX rope on 64 of 128 dims, block 64: context 76 crosses block 64', async (kvType) => {
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 128, nRot: 64, neox: true, blockSize: 64, slidingWindow: 0,
    steps: [17, 17, 17, 5, 17, 1, 2], theta: 1e6, qScale: 2, seed: 3,
  }, kvType);
});

// Gemma 2B's heads: multi-query (8 query heads on one KV head) of 256, the widest the config takes; the
// adapter's own lane count, a GPU's, and split attention (8-key splits, merged by attention_combine).
kvTest('MQA (8/1 heads), hd 256, NeoX rope, block 16: own lanes, hardware lanes, and 8-key splits', async (kvType) => {
  const mqa = { nHeads: 8, nKvHeads: 1, headDim: 256, nRot: 256, neox: true, blockSize: 16, slidingWindow: 0, steps: [17, 1, 5, 1, 17, 2], theta: 10000, qScale: 2 };
  await runConfig({ ...mqa, seed: 9 }, kvType);
  await runConfig({ ...mqa, hardwareLanes: true, seed: 10 }, kvType);
  await runConfig({ ...mqa, splitKeys: 8, hardwareLanes: true, seed: 11 }, kvType);
});

kvTest('sliding window 20, GQA 3 (6/2 heads), hd 64, normal rope on 32 of 64 dims, block 16', async (kvType) => {
  await runConfig({
    nHeads: 6, nKvHeads: 2, headDim: 64, nRot: 32, neox: false, blockSize: 16, slidingWindow: 20,
    steps: [17, 5, 1, 17, 3], theta: 10000, qScale: 3, seed: 4,
  }, kvType);
});

kvTest('hardware lane counts (32 lanes for hd 64, 16 for hd 128) on the same device', async (kvType) => {
  await runConfig({
    nHeads: 4, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 32, slidingWindow: 0,
    steps: [5, 17, 17, 1, 3], theta: 1e6, qScale: 20, hardwareLanes: true, seed: 5,
  }, kvType);
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 128, nRot: 64, neox: true, blockSize: 64, slidingWindow: 0,
    steps: [17, 17, 17, 5, 17, 1, 2], theta: 1e6, qScale: 2, hardwareLanes: true, seed: 6,
  }, kvType);
});

// Flash-decoding: one-token steps and batches of 5 and 17 tokens split over 8-key ranges (up to 11 splits
// as the context grows; a batch's first queries leave its last splits empty; a window moves the split
// boundaries), merged by attention_combine for every token; GQA 7 and a sliding window of 37.
kvTest('split attention (8-key splits + combine) in decode and batches: GQA 7 hd 64, and a sliding window of 37', async (kvType) => {
  await runConfig({
    nHeads: 14, nKvHeads: 2, headDim: 64, nRot: 64, neox: true, blockSize: 16, slidingWindow: 0, splitKeys: 8,
    steps: [17, 1, 1, 1, 17, 1, 1, 5, 1, 1], theta: 1e6, qScale: 3, hardwareLanes: true, seed: 7,
  }, kvType);
  await runConfig({
    nHeads: 6, nKvHeads: 2, headDim: 64, nRot: 32, neox: false, blockSize: 16, slidingWindow: 37, splitKeys: 8,
    steps: [17, 17, 1, 1, 1, 17, 1, 1], theta: 10000, qScale: 3, hardwareLanes: true, seed: 8,
  }, kvType);
});

// ALiBi (refact): no rotation (nRot 0); the table holds each head's slope and every score gets
// -slope (p - j). 32 heads / 1 KV head of 64 as Refact-1.6B (slopes 2^-0.25 .. 2^-8), and 12 heads / 2 KV
// heads (ggml's slopes past the largest power of two, 8, for heads 8-11), in batches, one-token steps and
// 8-key splits, with hardware lanes.
kvTest('ALiBi: MQA (32/1 heads) hd 64 as Refact-1.6B, and 12/2 heads (interleaved slopes past 8), with 8-key splits', async (kvType) => {
  const alibi = { nRot: 0, neox: false, alibi: true, alibiMaxBias: 8, blockSize: 16, slidingWindow: 0, theta: 10000, qScale: 2 };
  await runConfig({ ...alibi, nHeads: 32, nKvHeads: 1, headDim: 64, steps: [17, 1, 5, 1, 17, 2], seed: 21 }, kvType);
  await runConfig({ ...alibi, nHeads: 12, nKvHeads: 2, headDim: 32, steps: [5, 17, 1, 3, 1], hardwareLanes: true, seed: 22 }, kvType);
  await runConfig({ ...alibi, nHeads: 12, nKvHeads: 2, headDim: 32, steps: [17, 1, 1, 5, 17, 1], splitKeys: 8, hardwareLanes: true, seed: 23 }, kvType);
});
