// Speculative decoding on stories260K: after a mix of accepts and rejects the paged K/V equal plain
// decoding's and so do the next position's logits; sampled tokens follow the target's distribution
// (chi-square) and an accept-always sampler fails the same test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stories260KGolden } from '../helpers/testModels';
import { readBuffer } from '../../src/gpu/buffers';
import { f16BitsToF32 } from '../../src/loaders/quant/f16';
import { Sequence } from '../../src/kvcache/sequence';
import { speculativeGenerate } from '../../src/engine/speculative';
import { ModelDraft, type DraftSource } from '../../src/engine/draft';
import { NgramDraft } from '../../src/engine/draftNgram';
import { ControlledDraft } from '../../src/engine/draftControlled';
import { denseDistribution, acceptAlways } from '../../src/engine/speculativeSampling';
import type { SamplingOptions } from '../../src/engine/sampler';
import { disposeStoriesAfterTests, plain, prompts, stories, type Loaded } from './speculativeStories';

disposeStoriesAfterTests();
/** K and V of positions [0, seq.length) of every layer, widened to f32: [layer][k|v][position][nKvHeads·headDim]. */
async function readKv(t: Loaded, seq: Sequence): Promise<Float32Array[]> {
  const kv = t.model.kv;
  const { nKvHeads, headDim, blockSize, kvType } = kv.shape;
  const elementBytes = kvType === 'f16' ? 2 : 4;
  const out: Float32Array[] = [];
  for (const buf of [...kv.k, ...kv.v]) {
    const bytes = await readBuffer(t.model.gpu.device, buf, kv.nBlocks * kv.blockBytes);
    const all = kvType === 'f16' ? Float32Array.from(new Uint16Array(bytes), f16BitsToF32) : new Float32Array(bytes);
    const rows = new Float32Array(seq.length * nKvHeads * headDim);
    for (let p = 0; p < seq.length; p++) {
      const block = seq.blockTable[Math.floor(p / blockSize)];
      for (let h = 0; h < nKvHeads; h++) {
        const at = (block * kv.blockBytes) / elementBytes + (h * blockSize + (p % blockSize)) * headDim;
        rows.set(all.subarray(at, at + headDim), (p * nKvHeads + h) * headDim);
      }
    }
    out.push(rows);
  }
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test('rollback: after accepts and rejects the paged K/V and the next logits equal plain decoding\'s', async () => {
  const m = await stories();
  for (const [name, draft, k] of [['Q4_0 draft', new ModelDraft(m.q4_0.model), 5], ['n-gram', new NgramDraft(), 8]] as const) {
    for (const prompt of prompts().slice(1, 3)) {
      const ref = await plain(m.f32, prompt, 40);
      const seq = new Sequence(m.f32.pool);
      const r = await speculativeGenerate(m.f32.model, seq, prompt, { maxTokens: 40, draft, draftLength: k });
      assert.deepEqual(r.tokens, ref.tokens);
      assert.ok(r.stats.acceptedTokens > 0 && r.stats.acceptedTokens < r.stats.draftedTokens, `${name}: a mix (${r.stats.acceptedTokens} of ${r.stats.draftedTokens})`);
      assert.equal(seq.length, ref.seq.length);
      // Batched (verify) and one-token (decode) kernels write the same K/V up to float rounding (and, in
      // an f16 cache, one f16 step where that rounding crosses a midpoint: 2^-10 of the largest |K/V|).
      // Measured on lavapipe: equal, bit for bit, in both cache types.
      const [a, b] = [await readKv(m.f32, seq), await readKv(m.f32, ref.seq)];
      const largest = Math.max(...b.map((x) => x.reduce((mm, v) => Math.max(mm, Math.abs(v)), 0)));
      const bound = m.f32.model.kv.shape.kvType === 'f16' ? 2 ** -10 * largest : 1e-4;
      a.forEach((x, i) => assert.ok(maxDiff(x, b[i]) < bound, `${name}: K/V buffer ${i} differs by ${maxDiff(x, b[i])}`));
      const last = r.tokens[r.tokens.length - 1];
      const la = (await m.f32.model.forward({ tokens: [last], seq, logitRows: 1, wantLogits: true })).logits!;
      const lb = (await m.f32.model.forward({ tokens: [last], seq: ref.seq, logitRows: 1, wantLogits: true })).logits!;
      assert.ok(maxDiff(la, lb) < 1e-3, `${name}: next logits differ by ${maxDiff(la, lb)}`);
      seq.clear();
      ref.seq.clear();
    }
  }
});

/** Pearson's chi-square of counts against probabilities (cells expected under 5 pooled) and its 1e-4 critical value. */
function chiSquare(counts: Map<number, number>, probs: Float64Array, n: number): { stat: number; critical: number } {
  let stat = 0;
  let df = -1;
  let poolObs = 0;
  let poolExp = 0;
  probs.forEach((p, id) => {
    const c = counts.get(id) ?? 0;
    if (p * n < 5) { poolObs += c; poolExp += p * n; return; }
    stat += (c - p * n) ** 2 / (p * n);
    df++;
  });
  if (poolExp > 0 || poolObs > 0) { stat += (poolObs - poolExp) ** 2 / Math.max(poolExp, 1e-9); df++; }
  const critical = df * (1 - 2 / (9 * df) + 3.719 * Math.sqrt(2 / (9 * df))) ** 3;
  return { stat, critical };
}

test('sampling: the first two sampled tokens follow the target\'s distribution (chi-square, 1,000 runs per draft); accept-always fails', async () => {
  const m = await stories();
  const t = m.f32;
  const s: SamplingOptions = { temperature: 1, topK: 12, topP: 1, seed: 0 };
  const prompt = [...stories260KGolden().prompt, ...stories260KGolden().greedy_tokens.slice(0, 12)];
  const seq = new Sequence(t.pool);
  await t.model.forward({ tokens: prompt.slice(0, -1), seq, logitRows: 0, wantLogits: false });
  const p1 = denseDistribution((await t.model.forward({ tokens: [prompt.at(-1)!], seq, logitRows: 1, wantLogits: true })).logits!, s, 512);
  const mode = p1.indexOf(Math.max(...p1));
  const p2 = denseDistribution((await t.model.forward({ tokens: [mode], seq, logitRows: 1, wantLogits: true })).logits!, s, 512);
  reset(seq, prompt.length - 1);
  const n = 1000;
  const run = async (draft: DraftSource, broken: boolean) => {
    const first = new Map<number, number>();
    const second = new Map<number, number>();
    let afterMode = 0;
    for (let i = 0; i < n; i++) {
      const r = await speculativeGenerate(t.model, seq, prompt, { maxTokens: 2, draft, draftLength: 1, sampling: { ...s, seed: 1000 + i }, acceptanceRule: broken ? acceptAlways : undefined });
      first.set(r.tokens[0], (first.get(r.tokens[0]) ?? 0) + 1);
      if (r.tokens[0] === mode) { afterMode++; second.set(r.tokens[1], (second.get(r.tokens[1]) ?? 0) + 1); }
      reset(seq, prompt.length - 1);
    }
    return [chiSquare(first, p1, n), chiSquare(second, p2, afterMode)];
  };
  const reference = [...prompt, mode, mode];
  for (const [name, draft] of [['Q4_0 draft', new ModelDraft(m.q4_0.model)], ['point-mass draft', new ControlledDraft(reference, 0.5, { vocab: 512 })]] as const) {
    for (const [i, c] of (await run(draft, false)).entries()) assert.ok(c.stat < c.critical, `${name}, token ${i + 1}: chi-square ${c.stat.toFixed(1)} >= ${c.critical.toFixed(1)}`);
  }
  const broken = await run(new ControlledDraft(reference, 0.5, { vocab: 512 }), true);
  assert.ok(broken.some((c) => c.stat > c.critical), `accept-always passed: ${broken.map((c) => c.stat.toFixed(1))}`);
  seq.clear();
});

function reset(seq: Sequence, n: number): Sequence {
  seq.truncate(Math.min(n, seq.length));
  return seq;
}
