// Q2_K and Q3_K: the dequantisers on hand-built blocks whose values follow from ggml's
// dequantize_row_q2_K / dequantize_row_q3_K by hand (both halves, both 16-weight sub-blocks of a chunk,
// Q2_K's 4-bit mins, Q3_K's high bits in hmask at bit 4n + j and its 6-bit scales split over two bytes,
// negative scales); Q3_K's scale packing round-trips every value at every position; the quantizers'
// round-trip error; the GPU repack puts each field where kernels/dtype/q2_k.wgsl and q3_k.wgsl read it.
// The kernels against these dequantisers: test/kernels/matmul-k.test.ts; the whole model against
// llama.cpp: test/oracle/model-vs-llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../src/loaders/gguf/types';
import { dequantizeQ2_K, quantizeQ2_K } from '../../src/loaders/quant/q2_k';
import { dequantizeQ3_K, packQ3_KScales, unpackQ3_KScales } from '../../src/loaders/quant/q3_k';
import { dequantizeTensor, RUNNABLE_TYPES } from '../../src/loaders/quant/tensor';
import { DTYPE_OF_GGML } from '../../src/loaders/repack';
import { Xoshiro128 } from '../../src/tools/prng';
import { repackedRow, roundTripNmse } from '../helpers/quant';

test('Q2_K hand block: (d * sc) * q - dmin * m per 16 weights, 2-bit quants at bit 2j of qs[32n + l]', () => {
  const b = new Uint8Array(84);
  b.set([0x00, 0x3c, 0x00, 0x38], 80); // d = 1, dmin = 0.5
  b[0] = 0x32; // sub-block 0: sc 2, m 3
  b[1] = 0x64; // sub-block 1 (weights 16..31): sc 4, m 6
  b[2] = 0x15; // sub-block 2 (weights 32..47): sc 5, m 1
  b[11] = 0xf1; // sub-block 11 (half 1, j 1, l >= 16: weights 176..191): sc 1, m 15
  b[16 + 0] = 0b11_10_01_00; // qs[0]: weight 0 -> 0, 32 -> 1, 64 -> 2, 96 -> 3
  b[16 + 16] = 0b00_00_00_11; // qs[16]: weight 16 -> 3
  b[16 + 32 + 20] = 0b00_00_10_00; // qs[52]: weight 128 + 32 + 20 -> 2
  const y = dequantizeQ2_K(b, 256);
  assert.equal(y[0], 2 * 0 - 0.5 * 3);
  assert.equal(y[16], 4 * 3 - 0.5 * 6);
  assert.equal(y[32], 5 * 1 - 0.5 * 1);
  assert.equal(y[64], 0); // sub-block 4: sc 0, m 0
  assert.equal(y[180], 1 * 2 - 0.5 * 15);
  assert.equal(y[181], -7.5);
});

test('Q3_K hand block: signed 6-bit scales, low bits at bit 2j of qs[32n + l], high bit at bit 4n + j of hmask[l]', () => {
  const b = new Uint8Array(110);
  b.set([0x00, 0x38], 108); // d = 0.5
  // Scale 0 = -3 (29 = 0b01_1101), scale 2 = 5 (37 = 0b10_0101), scale 9 = 20 (52 = 0b11_0100); the
  // rest 0 (s = -32). Low nibbles: bytes 0..7 (scales 0..7), high nibbles of bytes 0..7 (scales 8..15);
  // top bits: byte 8 + i % 4 at bit 2 (i / 4).
  b[96 + 0] = 13;
  b[96 + 8] = 1;
  b[96 + 2] = 5;
  b[96 + 10] = 2;
  b[96 + 1] = 4 << 4;
  b[96 + 9] = 3 << 4;
  assert.deepEqual([...unpackQ3_KScales(b, 96)].slice(0, 10), [-3, -32, 5, -32, -32, -32, -32, -32, -32, 20]);
  b[32 + 0] = 0b00_00_01_10; // qs[0]: weight 0 low 2, weight 32 low 1
  b[0] = 0b0000_0001; // hmask[0]: weight 0 (bit 0) high; weight 32 (bit 1) not: q - 4
  b[32 + 32 + 19] = 0b11; // qs[32 + 19]: weight 128 + 19 low 3
  b[19] = 1 << 4; // hmask[19]: weight 128 + 19 (half 1, j 0: bit 4) high
  const y = dequantizeQ3_K(b, 256);
  assert.equal(y[0], 0.5 * -3 * 2);
  assert.equal(y[1], 0.5 * -3 * -4);
  assert.equal(y[32], 0.5 * 5 * (1 - 4));
  assert.equal(y[147], 0.5 * 20 * 3);
  assert.equal(y[148], 0.5 * 20 * -4);
  assert.equal(y[16], 0.5 * -32 * -4); // sub-block 1: s = -32
});

test('Q3_K 6-bit scale packing round-trips every value at every position', () => {
  const out = new Uint8Array(12);
  for (let v = 0; v < 64; v++) {
    for (let j = 0; j < 16; j++) {
      const biased = Array.from({ length: 16 }, (_, i) => (i === j ? v : (v * 7 + i * 13) % 64));
      packQ3_KScales(out, 0, biased);
      assert.deepEqual([...unpackQ3_KScales(out, 0)], biased.map((s) => s - 32), `v=${v} j=${j}`);
    }
  }
});

test('Q2_K/Q3_K quantizers: valid blocks within the expected error on random data; dequantizeTensor dispatches', () => {
  const rng = new Xoshiro128(13);
  const x = rng.fill(new Float32Array(256 * 64), 1);
  // Uniform data: NMSE of 4 asymmetric levels per 16 weights (Q2_K) and 8 symmetric ones (Q3_K), with
  // 4-/6-bit scales, by round-to-nearest.
  const bounds: Array<[GgmlType, number]> = [[GgmlType.Q2_K, 0.09], [GgmlType.Q3_K, 0.03]];
  for (const [type, maxNmse] of bounds) {
    assert.ok(RUNNABLE_TYPES.includes(type));
    const nmse = roundTripNmse(type, x);
    console.log(`${GgmlType[type]} NMSE ${nmse.toExponential(3)}`);
    assert.ok(nmse < maxNmse, `${GgmlType[type]} NMSE ${nmse}`);
  }
  assert.throws(() => quantizeQ2_K(new Float32Array(255)), RangeError);
  assert.throws(() => dequantizeQ3_K(new Uint8Array(109), 256), RangeError);
});

test('GPU repack: Q2_K qs contiguous, its scale bytes then d and dmin as f32 apart; Q3_K hmask + qs contiguous, its scales unpacked to int8 then d as f32', () => {
  const rng = new Xoshiro128(14);
  const x = rng.fill(new Float32Array(512), 1);
  const f32At = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true);
  const f16Of = (bytes: Uint8Array) => dequantizeTensor(GgmlType.F16, bytes, 1)[0];
  for (const type of [GgmlType.Q2_K, GgmlType.Q3_K]) {
    const dtype = DTYPE_OF_GGML[type]!;
    const { src, data, scales } = repackedRow(type, x);
    const blockBytes = src.length / 2;
    for (let b = 0; b < 2; b++) {
      const s = src.subarray(b * blockBytes, (b + 1) * blockBytes);
      if (dtype === 'q2_k') {
        assert.deepEqual(data.subarray(b * 64, (b + 1) * 64), s.subarray(16, 80));
        assert.deepEqual(scales.subarray(b * 24, b * 24 + 16), s.subarray(0, 16));
        assert.equal(f32At(scales, b * 24 + 16), f16Of(s.subarray(80, 82)));
        assert.equal(f32At(scales, b * 24 + 20), f16Of(s.subarray(82, 84)));
      } else {
        assert.deepEqual(data.subarray(b * 96, (b + 1) * 96), s.subarray(0, 96));
        assert.deepEqual(new Int8Array(scales.buffer, b * 20, 16), unpackQ3_KScales(s, 96));
        assert.equal(f32At(scales, b * 20 + 16), f16Of(s.subarray(108, 110)));
      }
    }
  }
});
