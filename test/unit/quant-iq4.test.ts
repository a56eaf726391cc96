// IQ4_NL and IQ4_XS: the dequantisers on hand-built blocks whose values follow from ggml's
// dequantize_row_iq4_nl / dequantize_row_iq4_xs by hand (the table kvalues_iq4nl, low and high nibbles,
// IQ4_XS's 6-bit sub-block scales split over scales_l nibbles and scales_h bit pairs, negative scales);
// the quantizers' round-trip error; the GPU repack puts each field where kernels/dtype/iq4*.wgsl read it.
// The kernels against these dequantisers: test/kernels/matmul-q5.test.ts (IQ4_NL), matmul-k.test.ts
// (IQ4_XS); the whole model against llama.cpp: test/oracle/model-vs-llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../src/loaders/gguf/types';
import { dequantizeIQ4_NL, dequantizeIQ4_XS, iq4xsScales, IQ4NL_VALUES, quantizeIQ4_NL } from '../../src/loaders/quant/iq4';
import { dequantizeTensor, RUNNABLE_TYPES } from '../../src/loaders/quant/tensor';
import { DTYPE_OF_GGML } from '../../src/loaders/repack';
import { Xoshiro128 } from '../../src/tools/prng';
import { repackedRow, roundTripNmse } from '../helpers/quant';

test('IQ4_NL hand block: d * kvalues[nibble], byte j = weights j (low) and j + 16 (high)', () => {
  const b = new Uint8Array(36);
  b.set([0x00, 0x38], 0); // block 0: d = 0.5
  b[2 + 0] = 0xf0; // weight 0 -> index 0 (-127), weight 16 -> index 15 (113)
  b[2 + 15] = 0x78; // weight 15 -> index 8 (1), weight 31 -> index 7 (-10)
  b.set([0x00, 0xc0], 18); // block 1: d = -2
  b[20 + 3] = 0x5a; // weight 32 + 3 -> index 10 (25), weight 32 + 19 -> index 5 (-35)
  const y = dequantizeIQ4_NL(b, 64);
  assert.deepEqual([y[0], y[16], y[15], y[31]], [0.5 * -127, 0.5 * 113, 0.5 * 1, 0.5 * -10]);
  assert.deepEqual([y[35], y[51]], [-2 * 25, -2 * -35]);
  assert.equal(y[1], 0.5 * -127);
});

test('IQ4_XS hand block: 6-bit scales from scales_l nibbles and scales_h bit pairs, minus 32, per 32 weights', () => {
  const b = new Uint8Array(136);
  b.set([0x00, 0x38], 0); // d = 0.5
  // Sub-block 0: ls = 40 (low 8 in scales_l[0] low nibble, top 2 in scales_h bits 0-1 = 2) -> 8.
  // Sub-block 3: ls = 5 (scales_l[1] high nibble 5, scales_h bits 6-7 = 0) -> -27.
  // Sub-block 7: ls = 63 (scales_l[3] high nibble 15, scales_h bits 14-15 = 3) -> 31.
  b[4 + 0] = 0x08;
  b[4 + 1] = 0x50;
  b[4 + 3] = 0xf0;
  const h = (2 << 0) | (0 << 6) | (3 << 14);
  b[2] = h & 0xff;
  b[3] = h >> 8;
  assert.deepEqual([...iq4xsScales(b, 0)], [8, -32, -32, -27, -32, -32, -32, 31]);
  b[8 + 0] = 0x1f; // sub-block 0: weight 0 -> index 15, weight 16 -> index 1
  b[8 + 48 + 2] = 0x08; // sub-block 3: weight 96 + 2 -> index 8
  b[8 + 112 + 15] = 0x30; // sub-block 7: weight 224 + 31 -> index 3
  const y = dequantizeIQ4_XS(b, 256);
  assert.equal(y[0], 0.5 * 8 * 113);
  assert.equal(y[16], 0.5 * 8 * -104);
  assert.equal(y[98], 0.5 * -27 * 1);
  assert.equal(y[255], 0.5 * 31 * -65);
  assert.equal(y[32], 0.5 * -32 * -127); // sub-block 1: ls 0, index 0
});

test('IQ4_NL/IQ4_XS quantizers: valid blocks within the expected error on random data; dequantizeTensor dispatches', () => {
  const rng = new Xoshiro128(15);
  const x = rng.fill(new Float32Array(256 * 64), 1);
  // Uniform data: 16 non-linear levels (dense near zero, so worse than 4-bit uniform levels on uniform data).
  for (const [type, maxNmse] of [[GgmlType.IQ4_NL, 0.007], [GgmlType.IQ4_XS, 0.007]] as const) {
    assert.ok(RUNNABLE_TYPES.includes(type));
    const nmse = roundTripNmse(type, x);
    console.log(`${GgmlType[type]} NMSE ${nmse.toExponential(3)}`);
    assert.ok(nmse < maxNmse, `${GgmlType[type]} NMSE ${nmse}`);
  }
  // The table's ends are reachable: a block's largest-magnitude value maps to -127 (d = max / -127).
  const one = new Float32Array(32).fill(0.01);
  one[5] = -2;
  const back = dequantizeIQ4_NL(quantizeIQ4_NL(one), 32);
  assert.ok(Math.abs(back[5] + 2) < 2e-3, `${back[5]}`);
  assert.equal(IQ4NL_VALUES.length, 16);
  assert.throws(() => quantizeIQ4_NL(new Float32Array(31)), RangeError);
  assert.throws(() => dequantizeIQ4_XS(new Uint8Array(135), 256), RangeError);
});

test('GPU repack: IQ4_NL d then qs as Q4_0; IQ4_XS qs contiguous, its scales unpacked to int8 then d as f32', () => {
  const rng = new Xoshiro128(16);
  const x = rng.fill(new Float32Array(512), 1);
  for (const type of [GgmlType.IQ4_NL, GgmlType.IQ4_XS]) {
    const dtype = DTYPE_OF_GGML[type]!;
    const { src, data, scales } = repackedRow(type, x);
    if (dtype === 'iq4_nl') {
      for (let b = 0; b < 16; b++) {
        assert.deepEqual(scales.subarray(2 * b, 2 * b + 2), src.subarray(18 * b, 18 * b + 2));
        assert.deepEqual(data.subarray(16 * b, 16 * b + 16), src.subarray(18 * b + 2, 18 * b + 18));
      }
    } else {
      for (let b = 0; b < 2; b++) {
        const s = src.subarray(136 * b, 136 * (b + 1));
        assert.deepEqual(data.subarray(128 * b, 128 * (b + 1)), s.subarray(8));
        assert.deepEqual(new Int8Array(scales.buffer, 12 * b, 8), iq4xsScales(s, 0));
        assert.equal(new DataView(scales.buffer, 12 * b + 8, 4).getFloat32(0, true), dequantizeTensor(GgmlType.F16, s.subarray(0, 2), 1)[0]);
      }
    }
  }
});
