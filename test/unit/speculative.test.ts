// Speculative decoding over small CPU models (speculativeFakeModel.ts), so thousands of runs take seconds:
// greedy output equals target-only greedy decoding for every draft source and draft length; the caches
// after any mix of accepts and rejects equal plain decoding's; the sampled output follows the target's
// distribution (chi-square over 20,000 runs), and a sampler that accepts every draft fails that test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import { generate } from '../../src/engine/generate';
import type { LlamaModel } from '../../src/model/llama';
import { speculativeGenerate } from '../../src/engine/speculative';
import { ModelDraft, type DraftSource } from '../../src/engine/draft';
import { NgramDraft } from '../../src/engine/draftNgram';
import { MixedDraft } from '../../src/engine/draftMixed';
import { ControlledDraft } from '../../src/engine/draftControlled';
import { Rng, type SamplingOptions } from '../../src/engine/sampler';
import { acceptAlways, denseDistribution } from '../../src/engine/speculativeSampling';
import { FakeModel } from './speculativeFakeModel';

const V = 16;
const target = new FakeModel({ vocab: V, seed: 1, sharpness: 6 });

function newSeq(m: FakeModel): Sequence {
  return new Sequence(new BlockPool(m.kv.nBlocks, m.options.blockSize));
}

async function plainGreedy(prompt: number[], n: number) {
  const seq = newSeq(target);
  const r = await generate(target as unknown as LlamaModel, seq, prompt, { maxTokens: n });
  return { tokens: r.tokens, seq, cache: target.tokensOf(seq) };
}

function prompts(count: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const len = 1 + (i % 7) * 3;
    // Half the prompts repeat a short pattern, so n-gram drafts find matches.
    const base = Array.from({ length: 1 + Math.floor(rng.next() * 4) }, () => Math.floor(rng.next() * V));
    return Array.from({ length: len }, (_, j) => (i % 2 ? base[j % base.length] : Math.floor(rng.next() * V)));
  });
}

const drafts: [string, (reference: number[]) => DraftSource][] = [
  ['model draft, exact copy (always right)', () => new ModelDraft(new FakeModel({ vocab: V, seed: 1, sharpness: 0, base: target, noise: 0 }).asModel())],
  ['model draft, noisy', () => new ModelDraft(new FakeModel({ vocab: V, seed: 2, sharpness: 0, base: target, noise: 4 }).asModel())],
  ['model draft, noisy, unsure stops', () => new ModelDraft(new FakeModel({ vocab: V, seed: 3, sharpness: 0, base: target, noise: 4 }).asModel(), { minConfidence: 0.6 })],
  ['n-gram', () => new NgramDraft()],
  ['mixed', () => new MixedDraft(new ModelDraft(new FakeModel({ vocab: V, seed: 4, sharpness: 0, base: target, noise: 3 }).asModel()))],
  ['controlled a=0 (always wrong)', (ref) => new ControlledDraft(ref, 0, { vocab: V })],
  ['controlled a=1 (always right)', (ref) => new ControlledDraft(ref, 1, { vocab: V })],
  ['controlled a=0.6', (ref) => new ControlledDraft(ref, 0.6, { vocab: V, seed: 9 })],
];

test('greedy: every draft source and draft length 1..16 and auto give target-only tokens and caches', async () => {
  const lengths: (number | 'auto')[] = [...Array.from({ length: 16 }, (_, i) => i + 1), 'auto'];
  let runs = 0;
  const accepted = new Map<string, [number, number]>();
  for (const [name, make] of drafts) {
    for (const [pi, prompt] of prompts(12, 5).entries()) {
      const n = [1, 2, 7, 30, 45][pi % 5];
      const plain = await plainGreedy(prompt, n);
      for (const draftLength of lengths) {
        const seq = newSeq(target);
        const r = await speculativeGenerate(target.asModel(), seq, prompt, { maxTokens: n, draft: make([...prompt, ...plain.tokens]), draftLength });
        const what = `${name}, k=${draftLength}, prompt ${pi} (${prompt.length} tokens), ${n} tokens`;
        assert.deepEqual(r.tokens, plain.tokens, what);
        assert.equal(seq.length, plain.seq.length, what);
        assert.deepEqual(target.tokensOf(seq), plain.cache, `cache: ${what}`);
        assert.equal(r.stats.tokens, n);
        assert.ok(r.stats.targetPasses <= n && r.stats.acceptedTokens <= r.stats.draftedTokens);
        const [a, d] = accepted.get(name) ?? [0, 0];
        accepted.set(name, [a + r.stats.acceptedTokens, d + r.stats.draftedTokens]);
        runs++;
      }
    }
  }
  assert.equal(runs, drafts.length * 12 * 17);
  // The mix of accepts and rejects really happened.
  const rate = (name: string) => accepted.get(name)![0] / accepted.get(name)![1];
  assert.equal(rate('controlled a=0 (always wrong)'), 0);
  assert.equal(rate('controlled a=1 (always right)'), 1);
  assert.equal(rate('model draft, exact copy (always right)'), 1);
  for (const name of ['model draft, noisy', 'n-gram', 'mixed', 'controlled a=0.6']) {
    assert.ok(rate(name) > 0.02 && rate(name) < 0.98, `${name}: acceptance ${rate(name)} (wanted a mix of accepts and rejects)`);
  }
});

test('greedy: stop tokens and the callback end the output where plain decoding does', async () => {
  for (const prompt of prompts(6, 11)) {
    const plain = await plainGreedy(prompt, 40);
    const stop = plain.tokens[17];
    const expect = plain.tokens.slice(0, plain.tokens.indexOf(stop));
    const seq = newSeq(target);
    const r = await speculativeGenerate(target.asModel(), seq, prompt, { maxTokens: 40, draft: new ControlledDraft([...prompt, ...plain.tokens], 1, { vocab: V }), draftLength: 8, stopTokens: new Set([stop]) });
    assert.deepEqual(r.tokens, expect);
    assert.equal(r.stoppedBy, 'stopToken');
    assert.ok(seq.length <= prompt.length + expect.length);
    const got: number[] = [];
    await speculativeGenerate(target.asModel(), newSeq(target), prompt, { maxTokens: 40, draft: new NgramDraft(), draftLength: 8, onToken: (id) => got.push(id) < 5 });
    assert.deepEqual(got, plain.tokens.slice(0, 5));
  }
});

// ---- sampling ----------------------------------------------------------------------------------------

const SV = 6;
const sTarget = new FakeModel({ vocab: SV, seed: 21, sharpness: 2.5 });
const sPrompt = [1, 2, 3, 1, 2];

/** The target's exact probability of each 3-token continuation, index t1·V² + t2·V + t3. */
function exactJoint(s: SamplingOptions): Float64Array {
  const out = new Float64Array(SV ** 3);
  const P = (prev: number, cur: number) => denseDistribution(sTarget.logitsAfter(prev, cur), s, SV);
  const p1 = P(sPrompt.at(-2)!, sPrompt.at(-1)!);
  for (let a = 0; a < SV; a++) {
    const p2 = P(sPrompt.at(-1)!, a);
    for (let b = 0; b < SV; b++) {
      const p3 = P(a, b);
      for (let c = 0; c < SV; c++) out[a * SV * SV + b * SV + c] = p1[a] * p2[b] * p3[c];
    }
  }
  return out;
}

/** Pearson's chi-square of counts against probabilities (cells expected under 5 pooled) and its 1e-4 critical value. */
function chiSquare(counts: number[], probs: Float64Array, n: number): { stat: number; critical: number } {
  let stat = 0;
  let df = -1;
  let poolObs = 0;
  let poolExp = 0;
  counts.forEach((c, i) => {
    const e = probs[i] * n;
    if (e < 5) { poolObs += c; poolExp += e; return; }
    stat += (c - e) ** 2 / e;
    df++;
  });
  if (poolExp > 0) { stat += (poolObs - poolExp) ** 2 / Math.max(poolExp, 1e-9); df++; }
  // Wilson–Hilferty: chi2_df quantile ≈ df (1 − 2/(9df) + z √(2/(9df)))³, z = 3.719 for p = 1e-4.
  const critical = df * (1 - 2 / (9 * df) + 3.719 * Math.sqrt(2 / (9 * df))) ** 3;
  return { stat, critical };
}

async function sampleJoint(makeDraft: () => DraftSource, s: SamplingOptions, n: number, broken = false): Promise<number[]> {
  const counts = new Array(SV ** 3).fill(0);
  const draft = makeDraft();
  for (let i = 0; i < n; i++) {
    const r = await speculativeGenerate(sTarget.asModel(), newSeq(sTarget), sPrompt, { maxTokens: 3, draft, draftLength: 4, sampling: { ...s, seed: i + 1 }, acceptanceRule: broken ? acceptAlways : undefined });
    counts[r.tokens[0] * SV * SV + r.tokens[1] * SV + r.tokens[2]]++;
  }
  return counts;
}

const SAMPLINGS: SamplingOptions[] = [
  { temperature: 1, topK: 0, topP: 1, seed: 0 },
  { temperature: 0.8, topK: 4, topP: 0.9, seed: 0 },
];
const sDrafts: [string, () => DraftSource][] = [
  ['noisy model draft', () => new ModelDraft(new FakeModel({ vocab: SV, seed: 22, sharpness: 0, base: sTarget, noise: 3 }).asModel())],
  ['n-gram draft (point masses)', () => new NgramDraft()],
];

for (const s of SAMPLINGS) for (const [name, make] of sDrafts) {
  test(`sampling (T=${s.temperature}, top-k ${s.topK}, top-p ${s.topP}), ${name}: 3-token joint follows the target (chi-square, 20,000 runs); accept-always fails`, async () => {
    const n = 20000;
    const exact = exactJoint(s);
    const good = chiSquare(await sampleJoint(make, s, n), exact, n);
    assert.ok(good.stat < good.critical, `chi-square ${good.stat.toFixed(1)} >= ${good.critical.toFixed(1)}`);
    const bad = chiSquare(await sampleJoint(make, s, n, true), exact, n);
    assert.ok(bad.stat > bad.critical, `the broken sampler passed: chi-square ${bad.stat.toFixed(1)} < ${bad.critical.toFixed(1)}`);
  });
}
