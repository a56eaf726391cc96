// f16/bf16 conversions and the Q8_0/Q4_0 block quantizers against hand-checked vectors, exhaustive
// f16 round trips, nearest-value checks, and error bounds on random data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnsupportedQuantError } from '../../src/common/errors';
import { GgmlType } from '../../src/loaders/gguf/types';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/loaders/quant/f16';
import { dequantizeQ4_0, quantizeQ4_0 } from '../../src/loaders/quant/q4_0';
import { dequantizeQ8_0, quantizeQ8_0 } from '../../src/loaders/quant/q8_0';
import { dequantizeTensor, quantizeTensor } from '../../src/loaders/quant/tensor';
import { Xoshiro128 } from '../../src/tools/prng';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('f32 -> f16: rounding to nearest even, subnormals, overflow, inf, nan, signed zero', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65519, 0x7bff],
    [65520, 0x7c00], // halfway between 65504 and 2^16: even is 2^16 = inf
    [1e10, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00], [NaN, 0x7e00], [-0, 0x8000], [0, 0],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0], [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], [5 * 2 ** -25, 0x0002], [2 ** -14 - 2 ** -25, 0x0400], [2 ** -26, 0], [-(2 ** -24), 0x8001],
  ];
  for (const [x, bits] of cases) assert.equal(f32ToF16Bits(x), bits, `f16(${x})`);
});

test('f16 -> f32 -> f16 is the identity on all 63,488 non-NaN bit patterns', () => {
  for (let h = 0; h < 0x10000; h++) {
    const isNan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNan) assert.ok(Number.isNaN(f16BitsToF32(h)));
    else assert.equal(f32ToF16Bits(f16BitsToF32(h)), h, `0x${h.toString(16)}`);
  }
});

test('f32 -> f16 picks a nearest f16 for 100k random values of all magnitudes', () => {
  const rng = new Xoshiro128(7);
  for (let i = 0; i < 100_000; i++) {
    const x = Math.fround((rng.next() * 2 - 1) * 2 ** (rng.next() * 44 - 28));
    const h = f32ToF16Bits(x);
    const err = Math.abs(f16BitsToF32(h) - x);
    for (const nb of [h - 1, h + 1]) {
      if ((nb & 0x7fff) >= 0x7c00 || nb < 0 || (h & 0x7fff) === 0) continue;
      assert.ok(err <= Math.abs(f16BitsToF32(nb) - x), `${x} -> 0x${h.toString(16)} is not nearest`);
    }
  }
});

test('bf16: nearest even on the top 16 bits, quiet NaN, exact widening', () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie, even stays
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, rounds up to even
  assert.equal(f32ToBf16Bits(-Infinity), 0xff80);
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
  assert.equal(bf16BitsToF32(0x4049), 3.140625);
});

test('Q8_0 hand vector: d = amax/127, roundf halves away from zero, 34-byte block', () => {
  const x = new Float32Array(32);
  x.set([0.5, -0.5, 1.5, -2.5, 127, -127, 3.49, 0]); // amax 127 -> d = 1, id = 1
  const q = quantizeQ8_0(x);
  assert.equal(q.length, 34);
  assert.equal(hex(q.subarray(0, 2)), '003c'); // f16 1.0
  assert.deepEqual([...new Int8Array(q.buffer, 2, 8)], [1, -1, 2, -3, 127, -127, 3, 0]);
  assert.deepEqual([...dequantizeQ8_0(q, 32).subarray(0, 8)], [1, -1, 2, -3, 127, -127, 3, 0]);
  // All zeros: d = 0, every q = 0.
  assert.equal(hex(quantizeQ8_0(new Float32Array(32))), '00'.repeat(34));
});

test('Q4_0 hand vector: d = max/-8 (sign kept), q = min(15, trunc(x/d + 8.5)), nibble order', () => {
  const x = new Float32Array(32);
  x.set([-8, 7, 7.6, 0, -0.5, -0.51, 0.5, 3]); // max = -8 -> d = 1
  x[16] = 1; x[17] = -3; x[31] = 7.49;
  const q = quantizeQ4_0(x);
  assert.equal(q.length, 18);
  assert.equal(hex(q.subarray(0, 2)), '003c');
  // element j in the low nibble, element j+16 in the high nibble of byte j
  const lo = [...q.subarray(2)].map((b) => b & 15);
  const hi = [...q.subarray(2)].map((b) => b >> 4);
  assert.deepEqual(lo.slice(0, 8), [0, 15, 15, 8, 8, 7, 9, 11]);
  assert.deepEqual([hi[0], hi[1], hi[15]], [9, 5, 15]);
  const y = dequantizeQ4_0(q, 32);
  assert.deepEqual([...y.subarray(0, 8)], [-8, 7, 7, 0, 0, -1, 1, 3]);
  assert.deepEqual([y[16], y[17], y[31]], [1, -3, 7]);
  // Largest magnitude positive: d = -1, and the first of equal magnitudes decides the sign.
  const z = new Float32Array(32);
  z[0] = 8; z[1] = -8;
  const qz = quantizeQ4_0(z);
  assert.equal(hex(qz.subarray(0, 2)), '00bc'); // f16 -1.0
  assert.deepEqual([...dequantizeQ4_0(qz, 32).subarray(0, 3)], [8, -7, -0]);
});

test('Q8_0 and Q4_0 error bounds on random data (per-block max |err| and NMSE)', () => {
  const rng = new Xoshiro128(3);
  const x = rng.fill(new Float32Array(32 * 512), 1);
  for (const [type, maxErrPerAmax, maxNmse] of [[GgmlType.Q8_0, 1 / 254 + 2 ** -10, 1e-4], [GgmlType.Q4_0, 1 / 8 + 2 ** -8, 0.02]] as const) {
    const y = dequantizeTensor(type, quantizeTensor(type, x), x.length);
    let se = 0;
    let ss = 0;
    for (let b = 0; b < x.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
      for (let j = 0; j < 32; j++) {
        const e = Math.abs(y[b * 32 + j] - x[b * 32 + j]);
        assert.ok(e <= amax * maxErrPerAmax, `${GgmlType[type]} block ${b}: err ${e} > ${amax * maxErrPerAmax}`);
        se += e * e;
        ss += x[b * 32 + j] ** 2;
      }
    }
    assert.ok(se / ss < maxNmse, `${GgmlType[type]} NMSE ${se / ss}`);
  }
});

test('dequantizeTensor: F32/F16/BF16 from unaligned bytes; unrunnable types raise UnsupportedQuantError', () => {
  const x = Float32Array.from([1, -2.5, 0.333, 1e-5]);
  const shifted = new Uint8Array(17).subarray(1);
  shifted.set(quantizeTensor(GgmlType.F32, x));
  assert.deepEqual(dequantizeTensor(GgmlType.F32, shifted, 4), x);
  assert.deepEqual([...dequantizeTensor(GgmlType.F16, quantizeTensor(GgmlType.F16, x), 4)], [...x].map((v) => f16BitsToF32(f32ToF16Bits(v))));
  assert.deepEqual([...dequantizeTensor(GgmlType.BF16, quantizeTensor(GgmlType.BF16, x), 4)], [...x].map((v) => bf16BitsToF32(f32ToBf16Bits(v))));
  assert.throws(() => dequantizeTensor(GgmlType.IQ2_XXS, new Uint8Array(66), 256, 'blk.0.ffn_up.weight'),
    (e: unknown) => e instanceof UnsupportedQuantError && e.tensor === 'blk.0.ffn_up.weight' && e.typeName === 'IQ2_XXS');
  assert.throws(() => quantizeQ8_0(new Float32Array(33)), RangeError);
});
