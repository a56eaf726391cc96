// stories260K (real trained weights) converted to an F32 GGUF: greedy decoding from [BOS] must give the
// 200 golden tokens of ../shared/models/stories260K/golden-greedy.json exactly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, stories260KGolden } from '../helpers/testModels';
import { testGpu, withModel } from '../helpers/gpuModel';
import { generate } from '../../src/engine/generate';
import { Sequence } from '../../src/kvcache/sequence';
import { BlockPool } from '../../src/kvcache/blockPool';

// Both kernel configurations run on every adapter: the software one (whole rows per lane, one attention
// workgroup per query) and the GPU one (split-K matvec, flash-decoding over 16-key splits, so the 200
// decode steps go from 1 to 13 splits), since the one this adapter would not pick is otherwise only
// exercised on other hardware.
// The subgroup matvec (splitKsg) runs where the adapter has subgroups.
const CONFIGS = [
  { name: 'software kernels', matvec: 'rows', attentionSplitKeys: 0 },
  { name: 'GPU kernels', matvec: 'splitKi', attentionSplitKeys: 16 },
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
