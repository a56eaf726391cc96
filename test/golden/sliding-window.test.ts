// Sliding-window models release the KV blocks that fall behind the window (LlamaModel.forward →
// Sequence.releaseBefore). On a synthetic llama with a window of 24 tokens (not a multiple of the
// 16-token block), on the GPU:
//   - a sequence decodes far past what its pool could hold, with logits bitwise equal to the same model
//     keeping every block (the window never reads a released block); without releasing, it runs out;
//   - prefix reuse across random edits of a document longer than the window stays exact (1e-4), including
//     reuse of blocks registered before the window released them (after the document was forgotten);
//   - speculative decoding (n-grams, a model draft, k = 16) gives plain greedy decoding's tokens while both
//     sequences roll back across released blocks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureSynthetic } from '../helpers/testModels';
import { withModel } from '../helpers/gpuModel';
import { Sequence } from '../../src/kvcache/sequence';
import { BlockPool } from '../../src/kvcache/blockPool';
import { DocumentCache } from '../../src/engine/session';
import { generate, prefill } from '../../src/engine/generate';
import { speculativeGenerate } from '../../src/engine/speculative';
import { NgramDraft } from '../../src/engine/draftNgram';
import { ModelDraft } from '../../src/engine/draft';
import { Rng } from '../../src/engine/sampler';
import { OutOfMemoryError } from '../../src/common/errors';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import type { LlamaModel } from '../../src/model/llama';

const WINDOW = 24;
const BLOCK = 16;
// outputScale: peaked next-token distributions, so greedy choices are not near-ties (as with a trained model).
const SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 1024,
  ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 24, tokenizer: 'spm-bytes', slidingWindow: WINDOW, outputScale: 8,
};
/** Bytes of `n` blocks of K+V over all layers, in the model's KV type. */
const blocksBytes = (m: LlamaModel, n: number): number => n * m.kv.blockBytes * 2 * SPEC.nLayers;
const model = (): Promise<string> => ensureSynthetic('sliding-window-llama', SPEC);

function randomTokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => 3 + Math.floor(rng.next() * (SPEC.vocabSize - 3)));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('sliding window: 400 positions through a pool of 8 blocks (128 tokens), logits equal to keeping every block', async () => {
  const path = await model();
  const prompt = randomTokens(new Rng(1), 40);
  const steps = 360;
  await withModel(path, { blockSize: BLOCK, maxBatchTokens: 16, maxContextTokens: 1024, releaseOutOfWindow: false }, async (keepAll) => {
    await withModel(path, { blockSize: BLOCK, maxBatchTokens: 16, maxContextTokens: 1024, kvBudgetBytes: blocksBytes(keepAll, 8) }, async (windowed) => {
      assert.equal(windowed.kv.nBlocks, 8);
      const seqAll = new Sequence(new BlockPool(keepAll.kv.nBlocks, BLOCK));
      const poolW = new BlockPool(windowed.kv.nBlocks, BLOCK);
      const seqW = new Sequence(poolW);
      let a = await prefill(keepAll, seqAll, prompt, true);
      let b = await prefill(windowed, seqW, prompt, true);
      let worst = maxAbsDiff(a.logits!, b.logits!);
      let mostHeld = 0;
      for (let i = 0; i < steps; i++) {
        const next = a.id;
        assert.equal(b.id, next, `step ${i}: greedy token`);
        const ra = await keepAll.forward({ tokens: [next], seq: seqAll, logitRows: 1, wantLogits: true });
        const rb = await windowed.forward({ tokens: [next], seq: seqW, logitRows: 1, wantLogits: true });
        a = { id: ra.ids[0], p: 0, logits: ra.logits };
        b = { id: rb.ids[0], p: 0, logits: rb.logits };
        worst = Math.max(worst, maxAbsDiff(a.logits!, b.logits!));
        mostHeld = Math.max(mostHeld, poolW.usedBlocks);
        poolW.checkInvariants();
      }
      assert.equal(seqW.length, prompt.length + steps);
      // The same kernels over the same K/V in the same order: bitwise equal.
      assert.equal(worst, 0, `logits differ by ${worst}`);
      // Window 24 + slack 32 + the token being written, in blocks of 16 (and one block for alignment).
      assert.ok(mostHeld <= Math.ceil((WINDOW + 32 + 1) / BLOCK) + 1, `held ${mostHeld} blocks`);
      assert.ok(seqW.releasedBlocks >= Math.floor((prompt.length + steps) / BLOCK) - 5, `released ${seqW.releasedBlocks}`);
      seqAll.clear();
      seqW.clear();
      assert.equal(poolW.usedBlocks, 0);

      // Without releasing, the same pool holds 128 positions and the sequence runs out of blocks.
      const poolK = new BlockPool(8, BLOCK);
      const seqK = new Sequence(poolK);
      await assert.rejects(generate(keepAll, seqK, prompt, { maxTokens: steps }), OutOfMemoryError);
      assert.equal(seqK.length, 8 * BLOCK);
      seqK.clear();
    });
  });
});

test('sliding window: prefix reuse across random edits of a document longer than the window stays exact', async () => {
  const path = await model();
  // 24 blocks (384 tokens): the document, the reference sequence and cached blocks, with eviction.
  await withModel(path, { blockSize: BLOCK, maxBatchTokens: 16, maxContextTokens: 1024 }, async (sized) => {
   await withModel(path, { blockSize: BLOCK, maxBatchTokens: 16, maxContextTokens: 1024, kvBudgetBytes: blocksBytes(sized, 24) }, async (m) => {
    const dc = new DocumentCache(m, { maxDocuments: 2 });
    const rng = new Rng(7);
    const rand = (n: number): number => Math.floor(rng.next() * n);
    let doc = [1, ...randomTokens(rng, 150)];
    let cursor = doc.length;
    const history: number[][] = [];
    let worst = 0;
    let holes = 0;
    let reused = 0;
    for (let step = 0; step < 80; step++) {
      const r = rng.next();
      history.push(doc.slice());
      if (r < 0.5) { doc.splice(cursor, 0, ...randomTokens(rng, 1 + rand(3))); cursor += 1; }
      else if (r < 0.65 && cursor > 1) { doc.splice(cursor - 1, 1); cursor--; }
      else if (r < 0.8) cursor = 1 + rand(doc.length);
      else if (r < 0.9 && history.length > 1) { history.pop(); doc = history.pop()!; }
      else doc.push(...randomTokens(rng, 20));
      if (doc.length > 300) doc = doc.slice(0, 200);
      cursor = Math.min(Math.max(cursor, 1), doc.length);
      const prompt = doc.slice(0, Math.max(cursor, 2));
      const got = await dc.prefill('doc', prompt, { wantLogits: true });
      reused += got.reusedTokens;
      // The reference: the whole prompt from scratch, in a fresh sequence on the same pool.
      const seq = new Sequence(dc.pool);
      try {
        const want = (await prefill(m, seq, prompt, true)).logits!;
        worst = Math.max(worst, maxAbsDiff(got.logits!, want));
      } finally {
        seq.clear();
      }
      dc.pool.checkInvariants();
      if (step % 20 === 19) dc.forget('doc');
      if (got.reusedTokens > WINDOW + 32 + BLOCK) holes++;
    }
    assert.ok(worst <= 1e-4, `reused vs scratch logits differ by ${worst}`);
    assert.ok(holes > 10, `only ${holes} requests reused blocks beyond the window`);
    assert.ok(reused > 0);

    // A forgotten document: its blocks were registered before the window released them, so the index
    // still finds the chain and only the window's blocks are taken.
    const prompt = [1, ...randomTokens(new Rng(99), 200)];
    await dc.prefill('a', prompt, { wantLogits: true });
    dc.forget('a');
    const again = await dc.prefill('b', prompt, { wantLogits: true });
    assert.ok(again.reusedTokens >= Math.floor((prompt.length - 1) / BLOCK) * BLOCK, `reused ${again.reusedTokens} of ${prompt.length}`);
    assert.ok(dc.pool.usedBlocks <= Math.ceil((WINDOW + 32 + 16) / BLOCK) + 1, `document holds ${dc.pool.usedBlocks} blocks`);
    assert.ok(dc.pool.stats().evictions > 0, 'the pool never evicted');
    dc.clear();
   });
  });
});

test('sliding window: speculative decoding (n-grams, a model draft, k = 16) equals plain greedy decoding', async () => {
  const path = await model();
  const options = { blockSize: BLOCK, maxBatchTokens: 32, maxContextTokens: 1024 };
  await withModel(path, options, async (target) => {
    await withModel(path, options, async (draftModel) => {
      // A prompt that repeats itself, so n-gram drafts get accepted now and then.
      const rng = new Rng(5);
      const motif = randomTokens(rng, 12);
      const prompt = [1, ...motif, ...randomTokens(rng, 30), ...motif, ...motif];
      const pool = new BlockPool(target.kv.nBlocks, BLOCK);
      const ref = new Sequence(pool);
      const want = await generate(target, ref, prompt, { maxTokens: 200 });
      ref.clear();
      for (const [name, draft] of [['n-gram', new NgramDraft()], ['model draft', new ModelDraft(draftModel)]] as const) {
        const seq = new Sequence(pool);
        const got = await speculativeGenerate(target, seq, prompt, { maxTokens: 200, draft, draftLength: 16 });
        assert.deepEqual(got.tokens, want.tokens, name);
        assert.ok(seq.releasedBlocks > 0, `${name}: nothing released`);
        assert.ok(got.stats.acceptedTokens > 0, `${name}: no draft token accepted`);
        seq.clear();
      }
      pool.checkInvariants();
    });
  });
});
