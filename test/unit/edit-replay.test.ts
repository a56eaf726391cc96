// Smoke test of `tandem bench edit-replay` on stories260K F32: a few requests of an editing session made
// from a real file in node_modules, replayed (a) through the prefix cache, (b) with it disabled and (c) by
// llama.cpp (1 thread) reusing its longest common prefix. The cache must reuse tokens after the first
// request and give the same greedy completions as prefilling every prompt whole; llama.cpp must finish
// and prefill no fewer tokens than the cache does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import { createTokenizer } from '../../src/tokenizer';
import { buildEditTrace, type EditTrace } from '../../src/cli/editReplayTrace';
import { replayLlamaCpp, replayTandem, type ReplayPrompts } from '../../src/cli/editReplayRun';

const REQUESTS = 8;

test('edit replay on stories260K: the cache reuses tokens and gives the same greedy text as no cache', async () => {
  const path = await ensureStories260K('f32');
  const gpu = await testGpu();
  const { model, file } = await loadModel(gpu, path, { maxContextTokens: 512 });
  try {
    const tokenizer = createTokenizer(file.metadata);
    const full = buildEditTrace(join(repoRoot(), 'node_modules/lru-cache/dist/esm/index.js'), 120, { prefix: 300, suffix: 100 });
    const trace: EditTrace = { ...full, requests: full.requests.slice(0, REQUESTS), windows: full.windows.slice(0, REQUESTS) };
    assert.equal(trace.requests.length, REQUESTS);
    const p: ReplayPrompts = {
      layout: 'spm', encode: (s) => tokenizer.encode(s, { parseSpecial: false }), fim: { prefix: 0, suffix: 2, middle: 0 }, bos: tokenizer.bosId, maxTokens: 6,
    };

    const a = await replayTandem(model, [trace], p, true);
    const b = await replayTandem(model, [trace], p, false);
    assert.equal(a.records.length, REQUESTS);
    assert.equal(b.records.length, REQUESTS);
    for (let i = 0; i < REQUESTS; i++) {
      const [ra, rb] = [a.records[i], b.records[i]];
      assert.equal(ra.promptTokens, rb.promptTokens);
      assert.equal(ra.reusedTokens + ra.prefilledTokens, ra.promptTokens);
      assert.equal(rb.reusedTokens, 0, `request ${i}: the disabled cache reused tokens`);
      if (i > 0) assert.ok(ra.reusedTokens > 0, `request ${i} (${ra.edit}) reused nothing`);
      assert.deepEqual(ra.tokens, rb.tokens, `request ${i} (${ra.edit}): greedy tokens differ with the cache`);
    }
    assert.ok(a.stats.tokenHitRate > 0.5, `token hit rate ${a.stats.tokenHitRate}`);
    const pool = a.stats.pool;
    assert.equal(pool.usedBlocks + pool.cachedBlocks + pool.freeBlocks, pool.totalBlocks);

    const c = await replayLlamaCpp(path, 512, [trace], p, 1);
    assert.equal(c.records.length, REQUESTS);
    assert.match(c.label, /1 threads/);
    const prefilled = (rs: { prefilledTokens: number }[]) => rs.reduce((s, r) => s + r.prefilledTokens, 0);
    assert.ok(prefilled(c.records) >= prefilled(a.records), `llama.cpp prefilled ${prefilled(c.records)}, tandem ${prefilled(a.records)}`);
  } finally {
    model.dispose();
  }
});
