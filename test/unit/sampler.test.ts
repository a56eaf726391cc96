// The sampler: greedy is the first maximum; temperature/top-k/top-p shape the distribution as
// documented; the same seed gives the same draws; the empirical frequencies follow the distribution.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, isGreedy, Rng, sample, samplingDistribution, topKOrder } from '../../src/engine/sampler';

const logits = Float32Array.from([1.0, 3.0, 3.0, 0.5, -2.0, 2.0]);

test('greedy: first index of the maximum; temperature 0 and top-k 1 are greedy', () => {
  assert.equal(argmax(logits), 1);
  assert.equal(sample(logits, { temperature: 0, topK: 0, topP: 1, seed: 1 }, new Rng(1)), 1);
  assert.ok(isGreedy({ temperature: 0.8, topK: 1, topP: 1, seed: 0 }));
  assert.equal(sample(logits, { temperature: 0.8, topK: 1, topP: 1, seed: 0 }, new Rng(5)), 1);
});

test('distribution: softmax at the temperature, sorted, top-k and top-p cut and renormalise', () => {
  const all = samplingDistribution(logits, { temperature: 1, topK: 0, topP: 1, seed: 0 });
  assert.deepEqual(Array.from(all.ids), [1, 2, 5, 0, 3, 4]);
  const z = Array.from(logits).reduce((s, l) => s + Math.exp(l), 0);
  all.ids.forEach((id, i) => assert.ok(Math.abs(all.probs[i] - Math.exp(logits[id]) / z) < 1e-12));
  const k2 = samplingDistribution(logits, { temperature: 1, topK: 2, topP: 1, seed: 0 });
  assert.deepEqual(Array.from(k2.ids), [1, 2]);
  assert.ok(Math.abs(k2.probs[0] - 0.5) < 1e-12);
  // p(1) = p(2) ≈ 0.401 each: top-p 0.5 keeps the two of them (the first alone is below 0.5).
  const p = samplingDistribution(logits, { temperature: 1, topK: 0, topP: 0.5, seed: 0 });
  assert.deepEqual(Array.from(p.ids), [1, 2]);
  const cold = samplingDistribution(logits, { temperature: 0.1, topK: 0, topP: 1, seed: 0 });
  assert.ok(cold.probs[0] + cold.probs[1] > 0.999, 'a low temperature concentrates the mass on the maxima');
});

test('seeded: the same seed gives the same draws, another seed other draws', () => {
  const s = { temperature: 1, topK: 0, topP: 1, seed: 0 };
  const draw = (seed: number) => { const r = new Rng(seed); return Array.from({ length: 50 }, () => sample(logits, s, r)); };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
});

test('empirical frequencies follow the distribution (20,000 draws, each within 1.5 points)', () => {
  const s = { temperature: 0.7, topK: 4, topP: 0.95, seed: 0 };
  const { ids, probs } = samplingDistribution(logits, s);
  const r = new Rng(7);
  const counts = new Map<number, number>();
  const n = 20000;
  for (let i = 0; i < n; i++) { const t = sample(logits, s, r); counts.set(t, (counts.get(t) ?? 0) + 1); }
  ids.forEach((id, i) => assert.ok(Math.abs((counts.get(id) ?? 0) / n - probs[i]) < 0.015, `token ${id}`));
  for (const t of counts.keys()) assert.ok(Array.from(ids).includes(t), `token ${t} was cut by top-k/top-p`);
});

test('top-k selection by heap equals the full sort, ties and all, on a 151,936-entry vocabulary', () => {
  const r = new Rng(3);
  const v = new Float32Array(151936);
  for (let i = 0; i < v.length; i++) v[i] = Math.round(r.next() * 2000) / 100; // many exact ties
  const full = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[b] - v[a] || a - b);
  for (const k of [1, 2, 40, 1000]) assert.deepEqual(Array.from(topKOrder(v, k)), full.slice(0, k), `k=${k}`);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) topKOrder(v, 40);
  console.log(`top-40 of 151,936 by heap: ${((performance.now() - t0) / 10).toFixed(2)} ms`);
});
