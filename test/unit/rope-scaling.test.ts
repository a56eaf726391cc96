// Rope scaling read from GGUF metadata (llama.cpp's keys and defaults) and the angles it gives. The
// model-level check against llama.cpp is in test/oracle/model-vs-llamacpp.test.ts; these pin the rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { ModelFormatError, UnsupportedModelError } from '../../src/common/errors';
import { isUnscaled, ropeRates, ropeScalingFromMetadata, type RopeScaling } from '../../src/model/ropeScaling';
import { ropeTable } from '../../src/model/rope';
import { llama3RopeFactors } from '../../src/tools/synthesize';

const meta = (o: Record<string, GgufValue>) => new Map(Object.entries(o).map(([k, v]) => [`llama.${k}`, v]));
const read = (o: Record<string, GgufValue>) => ropeScalingFromMetadata(meta(o), 'llama', 4096);

/** (cos, sin) of pair i at position p. */
const at = (table: Float32Array, nRot: number, p: number, i: number) => [table[2 * (p * (nRot / 2) + i)], table[2 * (p * (nRot / 2) + i) + 1]];

test('no scaling keys: unscaled, and the table is pos * theta^(-2i/nRot) as before', () => {
  const s = read({});
  assert.ok(isUnscaled(s));
  const t = ropeTable(64, 16, 10000, s);
  for (const [p, i] of [[0, 0], [1, 0], [63, 3], [40, 7]]) {
    const a = p * Math.pow(10000, (-2 * i) / 16);
    assert.deepEqual(at(t, 16, p, i), [Math.fround(Math.cos(a)), Math.fround(Math.sin(a))]);
  }
});

test('linear: the factor divides every angle (rope.scaling.factor, or the older rope.scale_linear); a factor with no type is linear, type none ignores it', () => {
  const s = read({ 'rope.scaling.type': 'linear', 'rope.scaling.factor': 4 });
  assert.deepEqual(s, { type: 'linear', factor: 4, originalContext: 4096, attnFactor: 1 });
  const scaled = ropeTable(256, 16, 10000, s);
  const plain = ropeTable(64, 16, 10000);
  for (let p = 0; p < 64; p++) for (let i = 0; i < 8; i++) {
    const [c, sn] = at(scaled, 16, 4 * p, i);
    const [c0, s0] = at(plain, 16, p, i);
    assert.ok(Math.abs(c - c0) < 1e-6 && Math.abs(sn - s0) < 1e-6, `p ${4 * p} pair ${i}`);
  }
  assert.equal(read({ 'rope.scale_linear': 2 }).factor, 2);
  assert.equal(read({ 'rope.scaling.factor': 8 }).type, 'linear');
  assert.equal(read({ 'rope.scaling.factor': 0 }).factor, 1);
  assert.ok(isUnscaled(read({ 'rope.scaling.type': 'none', 'rope.scaling.factor': 4 })));
});

test('YaRN: high frequencies kept, low ones divided by the factor, cos and sin scaled by attn_factor * (1 + 0.1 ln factor)', () => {
  const nRot = 32;
  const s: RopeScaling = read({ 'rope.scaling.type': 'yarn', 'rope.scaling.factor': 4, 'rope.scaling.original_context_length': 4096, 'rope.scaling.attn_factor': 0.9 });
  assert.equal(s.originalContext, 4096);
  const { rate, magnitude } = ropeRates(nRot, 10000, s);
  assert.ok(Math.abs(magnitude - 0.9 * (1 + 0.1 * Math.log(4))) < 1e-12);
  const base = (i: number) => Math.pow(10000, (-2 * i) / nRot);
  // Kept below the pair making 32 turns over 4,096 positions (pair 5 here), divided by 4 from the one making 1 turn (pair 12).
  for (let i = 0; i <= 5; i++) assert.equal(rate[i], base(i), `pair ${i}`);
  for (let i = 12; i < 16; i++) assert.ok(Math.abs(rate[i] - base(i) / 4) < 1e-15, `pair ${i}`);
  for (let i = 6; i < 12; i++) assert.ok(rate[i] < base(i) && rate[i] > base(i) / 4, `pair ${i} is between`);
  const t = ropeTable(8, nRot, 10000, s);
  const [c, sn] = at(t, nRot, 7, 9);
  assert.ok(Math.abs(Math.hypot(c, sn) - magnitude) < 1e-6);
});

test('per-frequency factors divide the rate of each pair, on top of the scaling', () => {
  const ff = llama3RopeFactors(32, 500000, { factor: 8, originalContext: 64, lowFreqFactor: 1, highFreqFactor: 4 });
  assert.equal(ff[0], 1);
  assert.equal(ff[15], 8);
  assert.ok(ff.some((f) => f > 1 && f < 8), 'some pairs are on the smooth ramp');
  const s = read({ 'rope.scaling.factor': 2 });
  const { rate } = ropeRates(32, 500000, s, ff);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(rate[i] - Math.pow(500000, (-2 * i) / 32) / ff[i] / 2) < 1e-15);
});

test('scaling Tandem does not know, or a damaged value: typed errors naming the key', () => {
  assert.throws(() => read({ 'rope.scaling.type': 'longrope' }), UnsupportedModelError);
  assert.throws(() => read({ 'rope.scaling.factor': -2 }), (e: unknown) => e instanceof ModelFormatError && /llama\.rope\.scaling\.factor/.test(e.message));
  assert.throws(() => read({ 'rope.scaling.factor': Number.NaN }), ModelFormatError);
  assert.throws(() => read({ 'rope.scaling.attn_factor': 0 }), (e: unknown) => e instanceof ModelFormatError && /attn_factor/.test(e.message));
  assert.throws(() => read({ 'rope.scaling.type': 7 }), (e: unknown) => e instanceof ModelFormatError && /rope\.scaling\.type/.test(e.message));
});
