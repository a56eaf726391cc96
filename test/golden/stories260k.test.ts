// stories260K (real trained weights) converted to an F32 GGUF: greedy decoding from [BOS] must give the
// 200 golden tokens of ../shared/models/stories260K/golden-greedy.json exactly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, stories260KGolden } from '../helpers/testModels';
import { GPU_KERNELS, testGpu, withModel } from '../helpers/gpuModel';
import { generate } from '../../src/engine/generate';
import { Sequence } from '../../src/kvcache/sequence';
import { BlockPool } from '../../src/kvcache/blockPool';
import { speculativeGenerate } from '../../src/engine/speculative';
import { ModelDraft } from '../../src/engine/draft';

// Both kernel configurations run on every adapter: the software one (whole rows per lane, one attention
// workgroup per query) and the GPU one (split-K matvec, flash-decoding over 16-key splits, so the 200
// decode steps go from 1 to 13 splits), since the one this adapter would not pick is otherwise only
// exercised on other hardware.
// The subgroup matvec (splitKsg) runs where the adapter has subgroups.
const CONFIGS = [
  { name: 'software kernels', matvec: 'rows', attentionSplitKeys: 0 },
  { name: 'GPU kernels', ...GPU_KERNELS },
  { name: 'GPU kernels, subgroup matvec', matvec: 'splitKsg', attentionSplitKeys: 16 },
] as const;
for (const { name, matvec, attentionSplitKeys } of CONFIGS) test(`stories260K F32 (${name}): 200 greedy tokens equal the golden tokens`, async (t) => {
  if (matvec === 'splitKsg' && !(await testGpu()).hasSubgroups) return t.skip('the adapter has no subgroups');
  const path = await ensureStories260K('f32');
  const golden = stories260KGolden();
  await withModel(path, { matvec, attentionSplitKeys }, async (model) => {
    const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
    const seq = new Sequence(pool);
    const r = await generate(model, seq, golden.prompt, { maxTokens: golden.greedy_tokens.length });
    assert.deepEqual(r.tokens, golden.greedy_tokens);
  });
});

// The GPU kernels for batches of 2..32 tokens (matvec_split_k_batch.wgsl): a prompt prefilled in batches
// of 8 and speculative verify passes of k + 1 positions run through them; the tokens stay the golden ones.
test('stories260K F32 (GPU kernels): prefill in 8-token batches and speculative verify passes (k = 3, 7) through the split-K batch kernel give the golden tokens', async () => {
  const golden = stories260KGolden();
  const options = { ...GPU_KERNELS, maxBatchTokens: 8 } as const;
  await withModel(await ensureStories260K('f32'), options, async (model) => {
    await withModel(await ensureStories260K('q8_0'), options, async (draftModel) => {
      assert.ok(model.options.matvec === 'splitKi');
      const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
      const prompt = [...golden.prompt, ...golden.greedy_tokens.slice(0, 41)];
      const seq = new Sequence(pool);
      const r = await generate(model, seq, prompt, { maxTokens: golden.greedy_tokens.length - 41 });
      assert.deepEqual(r.tokens, golden.greedy_tokens.slice(41), 'after a prefill in 8-token batches');
      seq.clear();
      // A verify pass takes k + 1 <= maxBatchTokens positions.
      for (const k of [3, 7]) {
        const spec = new Sequence(pool);
        const s = await speculativeGenerate(model, spec, golden.prompt, { maxTokens: golden.greedy_tokens.length, draft: new ModelDraft(draftModel), draftLength: k });
        assert.deepEqual(s.tokens, golden.greedy_tokens, `speculative, k = ${k}`);
        assert.ok(s.stats.acceptedTokens > 50, `accepted ${s.stats.acceptedTokens}`);
        spec.clear();
      }
    });
  });
});
