// Q4_1 (a legacy type of whole files: 4-bit quants with an f16 scale and an f16 minimum per 32 weights):
// the dequantiser on a hand-built block whose values follow from ggml's dequantize_row_q4_1 by hand
// (both nibbles of a byte, q * d + m); the reference quantiser gives that block back exactly, clamps at
// 15, and stays within the expected error on random data; the GPU repack puts each field where
// kernels/dtype/q4_1.wgsl reads it. The kernels: test/kernels/matmul-q5.test.ts; the whole model against
// llama.cpp: test/oracle/model-vs-llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../src/loaders/gguf/types';
import { f16BitsToF32, f32ToF16Bits } from '../../src/loaders/quant/f16';
import { dequantizeQ4_1, quantizeQ4_1, Q4_1_BLOCK_BYTES } from '../../src/loaders/quant/q4_1';
import { quantizeQ4_0 } from '../../src/loaders/quant/q4_0';
import { dequantizeTensor, RUNNABLE_TYPES } from '../../src/loaders/quant/tensor';
import { Xoshiro128 } from '../../src/tools/prng';
import { repackedRow, roundTripNmse } from '../helpers/quant';

test('Q4_1 hand block: nibble * d + m, byte j = weights j (low nibble) and j + 16 (high)', () => {
  const b = new Uint8Array(Q4_1_BLOCK_BYTES);
  b.set([0x00, 0x38, 0x00, 0xc0]); // d = 0.5, m = -2
  b[4 + 0] = 0x5a;
  b[4 + 1] = 0x3c;
  b[4 + 15] = 0xf0;
  const y = dequantizeQ4_1(b, 32);
  assert.equal(y[0], 10 * 0.5 - 2);
  assert.equal(y[16], 5 * 0.5 - 2);
  assert.equal(y[1], 12 * 0.5 - 2);
  assert.equal(y[17], 3 * 0.5 - 2);
  assert.equal(y[15], -2);
  assert.equal(y[31], 15 * 0.5 - 2);
  assert.equal(y[2], -2);
  // min -2 and max 5.5: d = 7.5 / 15, m = -2, q = (x - m) / d: the same block back.
  assert.deepEqual(quantizeQ4_1(y), b);
  assert.deepEqual(dequantizeTensor(GgmlType.Q4_1, b, 32), y);
});

test('Q4_1 quantizer: d = (max - min) / 15 from the f32 values, m = min; the maximum rounds to 15, never past it', () => {
  const x = new Float32Array(32).map((_, j) => 0.1 + 0.37 * j);
  const b = quantizeQ4_1(x);
  const d = f16BitsToF32(b[0] | (b[1] << 8));
  const m = f16BitsToF32(b[2] | (b[3] << 8));
  assert.equal(d, f16BitsToF32(f32ToF16Bits(Math.fround(Math.fround(x[31] - x[0]) / 15))));
  assert.equal(m, f16BitsToF32(f32ToF16Bits(x[0])));
  assert.equal(b[4 + 15] >> 4, 15);
  assert.equal(b[4] & 0x0f, 0);
  // A constant block: d = 0, every quant 0, every value m.
  const c = quantizeQ4_1(new Float32Array(32).fill(0.75));
  assert.deepEqual([...c.subarray(4)], new Array(16).fill(0));
  assert.deepEqual([...dequantizeQ4_1(c, 32)], new Array(32).fill(0.75));
});

test('Q4_1 quantizer: within the expected error on random data, better than Q4_0 on skewed blocks; sizes checked', () => {
  const rng = new Xoshiro128(31);
  const x = rng.fill(new Float32Array(32 * 200), 1);
  assert.ok(RUNNABLE_TYPES.includes(GgmlType.Q4_1));
  // Uniform data, 4 bits per weight with an f16 scale and min per 32: NMSE = (range / 15)² / 12 / E[x²]
  // = (2 / 15)² / 12 / (1 / 3) ≈ 4.4e-3 for uniform(-1, 1) data, less as blocks span less than the whole range.
  const nmse = roundTripNmse(GgmlType.Q4_1, x);
  assert.ok(nmse < 4.2e-3, `Q4_1 NMSE ${nmse}`); // measured 3.7e-3 (Q4_0: 4.2e-3)
  // All-positive blocks (a biased channel): the minimum saves the levels Q4_0 spends on negative values.
  const skewed = x.map((v) => 2 + v);
  assert.ok(roundTripNmse(GgmlType.Q4_1, skewed) < roundTripNmse(GgmlType.Q4_0, skewed) / 2);
  assert.equal(quantizeQ4_0(skewed).length * 20 / 18, quantizeQ4_1(skewed).length);
  assert.throws(() => quantizeQ4_1(new Float32Array(33)), RangeError);
  assert.throws(() => dequantizeQ4_1(new Uint8Array(19), 32), RangeError);
});

test('GPU repack: Q4_1 qs contiguous, d | m as one u32 of scales per block', () => {
  const rng = new Xoshiro128(32);
  const x = rng.fill(new Float32Array(64), 1);
  const { src, data, scales } = repackedRow(GgmlType.Q4_1, x);
  assert.deepEqual({ data: data.length, scales: scales.length }, { data: 32, scales: 8 });
  for (let b = 0; b < 2; b++) {
    const s = src.subarray(b * Q4_1_BLOCK_BYTES, (b + 1) * Q4_1_BLOCK_BYTES);
    assert.deepEqual(data.subarray(16 * b, 16 * (b + 1)), s.subarray(4));
    assert.deepEqual(scales.subarray(4 * b, 4 * (b + 1)), s.subarray(0, 4));
  }
});
