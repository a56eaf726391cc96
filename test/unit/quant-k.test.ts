// K-quants (Q4_K, Q5_K, Q6_K): the dequantisers on hand-built blocks whose values follow from ggml's
// dequantize_row_q*_K by hand (every field, the 6-bit scales of sub-blocks 4..7 with their high bits,
// negative Q6_K scales, the fifth/sixth quant bits); the 6-bit scale packing round-trips for every
// value; the quantizers' round trip error; the GPU repack puts each field where the kernels read it.
// The whole-model check against llama.cpp is in test/oracle/model-vs-llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../src/loaders/gguf/types';
import { packScaleMinK4, scaleMinK4 } from '../../src/loaders/quant/kquants';
import { dequantizeQ4_K, quantizeQ4_K } from '../../src/loaders/quant/q4_k';
import { dequantizeQ5_K } from '../../src/loaders/quant/q5_k';
import { dequantizeQ6_K } from '../../src/loaders/quant/q6_k';
import { dequantizeTensor, RUNNABLE_TYPES } from '../../src/loaders/quant/tensor';
import { DTYPE_OF_GGML } from '../../src/loaders/repack';
import { Xoshiro128 } from '../../src/tools/prng';
import { repackedRow, roundTripNmse } from '../helpers/quant';

/** A Q4_K/Q5_K header: d = 1, dmin = 0.5; sub-block 0 (sc 2, m 3), 1 (sc 4, m 6), 5 (sc 33, m 17). */
function kHeader(block: Uint8Array): void {
  block.set([0x00, 0x3c, 0x00, 0x38]);
  const s = 4; // scales[12]
  block[s + 0] = 2;
  block[s + 4] = 3;
  // Sub-block 5: low 4 bits of sc (1) and m (1) in byte 9, top 2 bits of sc (2) in byte 1, of m (1) in byte 5.
  block[s + 1] = (2 << 6) | 4;
  block[s + 5] = (1 << 6) | 6;
  block[s + 9] = 0x11;
}

test('Q4_K hand block: (d * sc) * q - dmin * m per sub-block, low/high nibbles, packed scales of sub-blocks 4..7', () => {
  const b = new Uint8Array(144);
  kHeader(b);
  b[16 + 0] = 0x5a; // weight 0 (sub-block 0, low nibble 10), weight 32 (sub-block 1, high nibble 5)
  b[16 + 64] = 0xf0; // weight 160 (sub-block 5 = pair 2, high nibble 15); weight 128 (sub-block 4: sc 0, m 0)
  const y = dequantizeQ4_K(b, 256);
  assert.equal(y[0], 2 * 10 - 0.5 * 3);
  assert.equal(y[1], -1.5);
  assert.equal(y[32], 4 * 5 - 0.5 * 6);
  assert.equal(y[160], 33 * 15 - 0.5 * 17);
  assert.equal(y[161], -8.5);
  assert.equal(y[128], 0);
  assert.deepEqual(scaleMinK4(b, 4, 5), [33, 17]);
});

test('Q5_K hand block: the fifth bit of weight l of sub-block j is bit j of qh[l]', () => {
  const b = new Uint8Array(176);
  kHeader(b);
  b[16 + 0] = 0b00100001; // qh[0]: bit 0 (sub-block 0) and bit 5 (sub-block 5) of weight 0 of each
  b[48 + 0] = 0x5a;
  b[48 + 64] = 0xf0;
  const y = dequantizeQ5_K(b, 256);
  assert.equal(y[0], 2 * (10 + 16) - 1.5);
  assert.equal(y[32], 4 * 5 - 3);
  assert.equal(y[160], 33 * (15 + 16) - 8.5);
  assert.equal(y[161], -8.5);
});

test('Q6_K hand block: ql nibbles, qh 2-bit pairs, int8 scales per 16 weights, both halves', () => {
  const b = new Uint8Array(210);
  b[208] = 0x00;
  b[209] = 0x38; // d = 0.5
  const sc = (i: number, v: number) => { b[192 + i] = v & 0xff; };
  sc(0, -3); sc(1, 1); sc(2, 4); sc(4, 5); sc(6, -1); sc(8, 2);
  b[0] = 0x21; // weight 0 low nibble 1, weight 64 high nibble 2
  b[32] = 0x07; // weight 32 low nibble 7, weight 96 high nibble 0
  b[128] = 0b11_10_01_00; // qh[0]: weight 0 -> 0, 32 -> 1, 64 -> 2, 96 -> 3
  b[64] = 0x0f; // second half: weight 128 low nibble 15
  b[128 + 32] = 0x03; // qh[32]: weight 128 -> 3
  const y = dequantizeQ6_K(b, 256);
  assert.equal(y[0], 0.5 * -3 * (1 - 32));
  assert.equal(y[32], 0.5 * 4 * ((7 | 16) - 32));
  assert.equal(y[64], 0.5 * 5 * ((2 | 32) - 32));
  assert.equal(y[96], 0.5 * -1 * ((0 | 48) - 32));
  assert.equal(y[16], 0.5 * 1 * -32); // l = 16: the second scale of the first 32
  assert.equal(y[128], 0.5 * 2 * (63 - 32));
});

test('6-bit scale/min packing round-trips every value in every sub-block', () => {
  const out = new Uint8Array(12);
  for (let v = 0; v < 64; v++) {
    for (let j = 0; j < 8; j++) {
      const scales = Array.from({ length: 8 }, (_, i) => (i === j ? v : (v * 7 + i * 13) % 64));
      const mins = Array.from({ length: 8 }, (_, i) => (i === j ? 63 - v : (v * 11 + i * 5) % 64));
      packScaleMinK4(out, 0, scales, mins);
      for (let i = 0; i < 8; i++) assert.deepEqual(scaleMinK4(out, 0, i), [scales[i], mins[i]], `v=${v} j=${j} i=${i}`);
    }
  }
});

test('K-quant quantizers: valid blocks within the expected error on random data; dequantizeTensor dispatches', () => {
  const rng = new Xoshiro128(11);
  const x = rng.fill(new Float32Array(256 * 64), 1);
  // Uniform data: NMSE of 4/5/6-bit round-to-nearest with 6/8-bit scales.
  const bounds: Array<[GgmlType, number]> = [[GgmlType.Q4_K, 6e-3], [GgmlType.Q5_K, 1.5e-3], [GgmlType.Q6_K, 4e-4]];
  for (const [type, maxNmse] of bounds) {
    assert.ok(RUNNABLE_TYPES.includes(type));
    const nmse = roundTripNmse(type, x);
    assert.ok(nmse < maxNmse, `${GgmlType[type]} NMSE ${nmse}`);
  }
  assert.throws(() => quantizeQ4_K(new Float32Array(255)), RangeError);
  assert.throws(() => dequantizeQ6_K(new Uint8Array(209), 256), RangeError);
});

test('GPU repack: Q4_K/Q5_K headers and Q6_K scales + d (as f32) apart, quants contiguous', () => {
  const rng = new Xoshiro128(12);
  const x = rng.fill(new Float32Array(512), 1);
  for (const type of [GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]) {
    const dtype = DTYPE_OF_GGML[type]!;
    const { src, data, scales } = repackedRow(type, x);
    const blockBytes = src.length / 2;
    for (let b = 0; b < 2; b++) {
      const s = src.subarray(b * blockBytes, (b + 1) * blockBytes);
      if (dtype === 'q6_k') {
        assert.deepEqual(data.subarray(b * 192, (b + 1) * 192), s.subarray(0, 192));
        assert.deepEqual(scales.subarray(b * 20, b * 20 + 16), s.subarray(192, 208));
        const d = new DataView(scales.buffer, b * 20 + 16, 4).getFloat32(0, true);
        assert.equal(d, dequantizeTensor(GgmlType.F16, s.subarray(208, 210), 1)[0]);
      } else {
        assert.deepEqual(scales.subarray(b * 16, (b + 1) * 16), s.subarray(0, 16));
        assert.deepEqual(data.subarray(b * (blockBytes - 16), (b + 1) * (blockBytes - 16)), s.subarray(16));
      }
    }
  }
});
