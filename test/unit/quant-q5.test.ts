// Q5_0 and Q5_1 (llama.cpp's fallback types for rows that are not whole 256-weight superblocks, as in
// Qwen2.5 0.5B, d = 896): the dequantisers on hand-built blocks whose values follow from ggml's
// dequantize_row_q5_0/q5_1 by hand (both nibbles, the fifth bit of both halves from every byte of qh);
// the reference quantisers give those blocks back exactly and stay within the expected error on random
// data; the GPU repack puts each field where the kernels read it; llama-quantize's type choice for a
// Q4_K_M file of Qwen2.5 0.5B's shape gives the real file's mix.
// The whole-model check against llama.cpp is in test/oracle/model-vs-llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../src/loaders/gguf/types';
import { matrixType, tensorType, useMoreBits, WEIGHT_TYPES } from '../../src/loaders/llama2c';
import { dequantizeQ5_0, quantizeQ5_0 } from '../../src/loaders/quant/q5_0';
import { dequantizeQ5_1, quantizeQ5_1 } from '../../src/loaders/quant/q5_1';
import { RUNNABLE_TYPES } from '../../src/loaders/quant/tensor';
import { Xoshiro128 } from '../../src/tools/prng';
import { repackedRow, roundTripNmse } from '../helpers/quant';

/**
 * Quants and fifth bits shared by both hand blocks (qh at `qh`, qs at `qs`): element 0 = 10 | 16,
 * 16 = 5, 1 = 12, 17 = 3 | 16, 15 = 0, 31 = 15 | 16, every other element 0. qh bits 0, 17, 31 sit in
 * bytes 0, 2, 3 of the little-endian u32.
 */
function handQuants(b: Uint8Array, qh: number, qs: number): void {
  b[qh + 0] = 0x01;
  b[qh + 2] = 0x02;
  b[qh + 3] = 0x80;
  b[qs + 0] = 0x5a;
  b[qs + 1] = 0x3c;
  b[qs + 15] = 0xf0;
}

test('Q5_0 hand block: ((nibble | qh bit << 4) - 16) * d, low nibbles for 0..15, high for 16..31', () => {
  const b = new Uint8Array(22);
  b.set([0x00, 0x38]); // d = 0.5
  handQuants(b, 2, 6);
  const y = dequantizeQ5_0(b, 32);
  assert.equal(y[0], (26 - 16) * 0.5);
  assert.equal(y[16], (5 - 16) * 0.5);
  assert.equal(y[1], (12 - 16) * 0.5);
  assert.equal(y[17], (19 - 16) * 0.5);
  assert.equal(y[15], -8);
  assert.equal(y[31], (31 - 16) * 0.5);
  assert.equal(y[2], -8);
  // ggml's reference quantizer gives the same block back (d = max / -16 = -8 / -16, q = x / d + 16).
  assert.deepEqual(quantizeQ5_0(y), b);
});

test('Q5_1 hand block: (nibble | qh bit << 4) * d + m', () => {
  const b = new Uint8Array(24);
  b.set([0x00, 0x38, 0x00, 0xc0]); // d = 0.5, m = -2
  handQuants(b, 4, 8);
  const y = dequantizeQ5_1(b, 32);
  assert.equal(y[0], 26 * 0.5 - 2);
  assert.equal(y[16], 5 * 0.5 - 2);
  assert.equal(y[17], 19 * 0.5 - 2);
  assert.equal(y[31], 31 * 0.5 - 2);
  assert.equal(y[15], -2);
  // min -2 and max 13.5: d = 15.5 / 31, m = -2, q = (x - m) / d: the same block back.
  assert.deepEqual(quantizeQ5_1(y), b);
});

test('Q5_0/Q5_1 quantizers: within the expected error on random data; dequantizeTensor dispatches; sizes checked', () => {
  const rng = new Xoshiro128(21);
  const x = rng.fill(new Float32Array(32 * 200), 1);
  // Uniform data, 5 bits per weight with one f16 scale (and min) per 32: NMSE about 1e-3 (measured 9.7e-4, 8.9e-4).
  for (const [type, maxNmse] of [[GgmlType.Q5_0, 1.5e-3], [GgmlType.Q5_1, 1.2e-3]] as const) {
    assert.ok(RUNNABLE_TYPES.includes(type));
    const nmse = roundTripNmse(type, x);
    assert.ok(nmse < maxNmse, `${GgmlType[type]} NMSE ${nmse}`);
  }
  assert.throws(() => quantizeQ5_0(new Float32Array(33)), RangeError);
  assert.throws(() => dequantizeQ5_1(new Uint8Array(23), 32), RangeError);
});

test('GPU repack: qs contiguous; Q5_0 d, 0, qh and Q5_1 d, m, qh as 8 bytes of scales per block', () => {
  const rng = new Xoshiro128(22);
  const x = rng.fill(new Float32Array(64), 1);
  for (const type of [GgmlType.Q5_0, GgmlType.Q5_1]) {
    const { src, data, scales } = repackedRow(type, x);
    assert.deepEqual({ data: data.length, scales: scales.length }, { data: 32, scales: 16 });
    const blockBytes = src.length / 2;
    for (let b = 0; b < 2; b++) {
      const s = src.subarray(b * blockBytes, (b + 1) * blockBytes);
      assert.deepEqual(data.subarray(16 * b, 16 * (b + 1)), s.subarray(blockBytes - 16));
      const header = type === GgmlType.Q5_0 ? [s[0], s[1], 0, 0, ...s.subarray(2, 6)] : [...s.subarray(0, 8)];
      assert.deepEqual([...scales.subarray(8 * b, 8 * (b + 1))], header);
    }
  }
});

test("matrixType: llama-quantize's fallbacks for rows that are not whole superblocks", () => {
  assert.equal(matrixType(GgmlType.Q4_K, 896), GgmlType.Q5_0);
  assert.equal(matrixType(GgmlType.Q5_K, 896), GgmlType.Q5_1);
  assert.equal(matrixType(GgmlType.Q6_K, 896), GgmlType.Q8_0);
  assert.equal(matrixType(GgmlType.Q3_K, 896), GgmlType.IQ4_NL);
  assert.equal(matrixType(GgmlType.Q2_K, 896), GgmlType.IQ4_NL);
  assert.equal(matrixType(GgmlType.IQ4_XS, 896), GgmlType.IQ4_NL);
  assert.equal(matrixType(GgmlType.Q3_K, 100), GgmlType.F16);
  assert.equal(matrixType(GgmlType.Q4_K, 4864), GgmlType.Q4_K);
  assert.equal(matrixType(GgmlType.Q4_K, 100), GgmlType.F16);
  assert.equal(matrixType(GgmlType.Q5_0, 96), GgmlType.Q5_0);
  assert.equal(matrixType(GgmlType.Q5_1, 100), GgmlType.F16);
});

test("q4_k_m_ggml on Qwen2.5 0.5B's shape (24 layers, d 896, ffn 4864, tied): the real Q4_K_M file's mix", () => {
  // llama.cpp on qwen2.5-0.5b-instruct-q4_k_m.gguf: q5_0 132, q8_0 13, q4_K 12, q6_K 12 (+ 121 F32 norms and biases).
  const shape = { nLayers: 24, tiedEmbedding: true };
  const t = WEIGHT_TYPES.q4_k_m_ggml;
  const counts = new Map<string, number>();
  const add = (name: string, rowLength: number) => {
    const k = GgmlType[tensorType(t, name, rowLength, shape)];
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  add('token_embd.weight', 896);
  for (let l = 0; l < 24; l++) {
    for (const m of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up']) add(`blk.${l}.${m}.weight`, 896);
    add(`blk.${l}.ffn_down.weight`, 4864);
  }
  assert.deepEqual(Object.fromEntries(counts), { Q8_0: 13, Q5_0: 132, Q6_K: 12, Q4_K: 12 });
  assert.deepEqual([...Array(24).keys()].filter((l) => useMoreBits(l, 24)), [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]);
  // The every-layer preset is unchanged where rows are whole superblocks.
  assert.equal(tensorType(WEIGHT_TYPES.q4_k_m, 'blk.0.ffn_down.weight', 512), GgmlType.Q6_K);
  assert.equal(tensorType(WEIGHT_TYPES.q4_k_m, 'token_embd.weight', 256, shape), GgmlType.Q4_K);
});
