// Self-speculation on stories260K (real weights, software GPU): the F32 model drafts for itself through its
// own weights requantized at load (loadSelfDraft). The requantized copy gives exactly the logits of the
// Q4_0 / Q8_0 files our converter writes, loaded normally; speculative decoding with it gives exactly
// the target-only greedy tokens for every prompt and k in {1, 4, 16}; a Q4_0 model asked for a Q4_0 self
// draft is refused before anything is uploaded.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel } from '../../src/model/llama';
import { generate } from '../../src/engine/generate';
import { speculativeGenerate } from '../../src/engine/speculative';
import { loadSelfDraft, type LoadedDraftModel } from '../../src/engine/draftLoad';
import { SelfDraftUnhelpfulError } from '../../src/engine/draftSelf';
import { disposeStoriesAfterTests, plain, prompts, stories } from './speculativeStories';

const DTYPES = ['q4_0', 'q8_0'] as const;
const self: Partial<Record<(typeof DTYPES)[number], LoadedDraftModel>> = {};

disposeStoriesAfterTests();
before(async () => {
  const m = await stories();
  for (const dtype of DTYPES) self[dtype] = await loadSelfDraft(await testGpu(), m.f32.model, m.f32.file, await ensureStories260K('f32'), dtype);
});
after(() => {
  for (const d of Object.values(self)) d?.model.dispose();
});

/** Logits of every position of `prompt` (batches of the model's maximum), each row [vocab]. */
async function promptLogits(model: LlamaModel, prompt: number[]): Promise<Float32Array[]> {
  const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
  const rows: Float32Array[] = [];
  const step = Math.min(model.maxBatchTokens, model.maxLogitRows);
  for (let at = 0; at < prompt.length; at += step) {
    const tokens = prompt.slice(at, at + step);
    const r = await model.forward({ tokens, seq, logitRows: tokens.length, wantLogits: true });
    const V = model.config.vocabSize;
    for (let i = 0; i < tokens.length; i++) rows.push(r.logits!.slice(i * V, (i + 1) * V));
  }
  seq.clear();
  return rows;
}

test('the requantized copy gives exactly the logits and greedy tokens of our converter\'s Q4_0 / Q8_0 file', async () => {
  const m = await stories();
  for (const dtype of DTYPES) {
    const copy = self[dtype]!;
    assert.equal(copy.weightBytes, m[dtype].file.tensors.reduce((s, t) => s + t.byteSize, 0), `${dtype}: weight bytes`);
    for (const [pi, prompt] of prompts().slice(0, 4).entries()) {
      const got = await promptLogits(copy.model, prompt);
      const want = await promptLogits(m[dtype].model, prompt);
      assert.equal(got.length, prompt.length);
      got.forEach((row, i) => assert.deepEqual(row, want[i], `${dtype}, prompt ${pi}, position ${i}`));
      // And not the F32 model's logits (the copy really is quantized).
      const f32 = await promptLogits(m.f32.model, prompt);
      assert.ok(got.some((row, i) => row.some((x, j) => x !== f32[i][j])), `${dtype}: logits equal F32's`);
    }
    const a = await plain(m[dtype], prompts()[1], 24);
    a.seq.clear();
    const r = await generate(copy.model, new Sequence(new BlockPool(copy.model.kv.nBlocks, copy.model.options.blockSize)), prompts()[1], { maxTokens: 24 });
    assert.deepEqual(r.tokens, a.tokens, `${dtype}: greedy tokens`);
  }
});

test('greedy speculative decoding with self:q4_0 and self:q8_0 drafts, k 1, 4, 16: the target-only tokens exactly', async () => {
  const m = await stories();
  const acceptance: Record<string, [number, number]> = { q4_0: [0, 0], q8_0: [0, 0] };
  for (const [pi, prompt] of prompts().entries()) {
    const N = [32, 40, 17, 32, 9, 24][pi];
    const base = await plain(m.f32, prompt, N);
    base.seq.clear();
    for (const dtype of DTYPES) {
      for (const k of [1, 4, 16]) {
        const seq = new Sequence(m.f32.pool);
        const r = await speculativeGenerate(m.f32.model, seq, prompt, { maxTokens: N, draft: self[dtype]!.draft, draftLength: k });
        seq.clear();
        assert.deepEqual(r.tokens, base.tokens, `self:${dtype}, k=${k}, prompt ${pi}`);
        assert.ok(r.stats.draftPasses > 0, `self:${dtype}, k=${k}, prompt ${pi}: the draft never ran`);
        acceptance[dtype][0] += r.stats.acceptedTokens;
        acceptance[dtype][1] += r.stats.draftedTokens;
      }
    }
  }
  const rate = (d: string) => acceptance[d][0] / acceptance[d][1];
  assert.ok(rate('q8_0') > 0.8, `self:q8_0 acceptance ${rate('q8_0')}`);
  assert.ok(rate('q4_0') > 0.5 && rate('q4_0') < 1, `self:q4_0 acceptance ${rate('q4_0')}`);
});

test('a Q4_0 model asked for a self:q4_0 draft: SelfDraftUnhelpfulError, nothing loaded', async () => {
  const m = await stories();
  const gpu = await testGpu();
  await assert.rejects(loadSelfDraft(gpu, m.q4_0.model, m.q4_0.file, await ensureStories260K('q4_0'), 'q4_0'), SelfDraftUnhelpfulError);
  await assert.rejects(loadSelfDraft(gpu, m.q8_0.model, m.q8_0.file, await ensureStories260K('q8_0'), 'q8_0'), SelfDraftUnhelpfulError);
});
