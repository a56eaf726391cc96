// One KV budget for a model and its draft, end to end on stories260K: the engine host (tandem.memoryBudgetMB
// arrives as kvBudgetBytes) and `tandem complete --kv-budget-mib` split it between the target's and the
// draft's pools — together within the budget, the same number of blocks (± one) — and still complete
// exactly as plain decoding does; a budget without one block of each fails the load with OutOfMemoryError
// naming the budget; a Q4_0 model with a self:q4_0 draft fails it with SelfDraftUnhelpfulError.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, ensureSynthetic } from '../helpers/testModels';
import { tandem } from '../helpers/cli';
import { testGpu } from '../helpers/gpuModel';
import type { SyntheticSpec } from '../../src/tools/synthesize';
import { loadModel } from '../../src/model/load';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import { generate } from '../../src/engine/generate';
import { Rng } from '../../src/engine/sampler';
import { speculativeGenerate } from '../../src/engine/speculative';
import { loadSelfDraft, planDraftKv } from '../../src/engine/draftLoad';
import { EngineServer } from '../../src/host/engine/server';
import type { EngineEvent, EngineRequest, KvPoolInfo } from '../../src/host/engine/protocol';
import type { CompletionOptions, CompletionRequest } from '../../src/completion/types';

const opts: CompletionOptions = { maxTokens: 24, multiline: 'always', temperature: 0 };
const req = (prefix: string): CompletionRequest => ({ documentId: 'story', prefix, suffix: '', path: 'story.txt', languageId: 'plaintext' });

/** Sends `m` and resolves with the server's final event for its id (the server answers every request once). */
function ask(server: EngineServer, events: EngineEvent[], m: EngineRequest): Promise<EngineEvent> {
  const seen = events.length;
  const id = (m as { id: number }).id;
  return new Promise((resolve) => {
    const poll = () => {
      const e = events.slice(seen).find((x) => 'id' in x && x.id === id && x.type !== 'chunk' && x.type !== 'progress');
      if (e) resolve(e);
      else setImmediate(poll);
    };
    server.handle(m);
    poll();
  });
}

function assertShared(budget: number, target: KvPoolInfo, draft: KvPoolInfo): void {
  assert.ok(target.bytes + draft.bytes <= budget, `target ${target.bytes} + draft ${draft.bytes} bytes > budget ${budget}`);
  assert.ok(draft.blocks >= 1 && Math.abs(target.blocks - draft.blocks) <= 1, `blocks: target ${target.blocks}, draft ${draft.blocks}`);
}

test('engine host: kvBudgetBytes covers the model and its self:q4_0 draft; completions unchanged; too small a budget and a Q4_0 self draft are typed errors', async () => {
  const events: EngineEvent[] = [];
  const server = new EngineServer((e) => events.push(e));
  try {
    const modelPath = await ensureStories260K('f32');
    const plainLoad = await ask(server, events, { type: 'load', id: 1, params: { modelPath, maxContextTokens: 256 } });
    assert.equal(plainLoad.type, 'loaded', JSON.stringify(plainLoad));
    const plain = await ask(server, events, { type: 'complete', id: 2, request: req('Once upon a time, there was a little'), options: opts });
    assert.ok(plain.type === 'completed' && plain.result.rawText.length > 0, JSON.stringify(plain));

    // Under one context (256 tokens) per model: an equal split.
    const budget = 300 * 1024;
    const loaded = await ask(server, events, { type: 'load', id: 3, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: budget, draftModelPath: 'self:q4_0' } });
    assert.ok(loaded.type === 'loaded' && loaded.info.kv && loaded.info.draft?.kv, JSON.stringify(loaded));
    assertShared(budget, loaded.info.kv, loaded.info.draft.kv);
    assert.ok(loaded.info.draft.kv.tokens < 256, 'the budget was meant to be under a context each');
    assert.equal(loaded.info.draft.name, `${loaded.info.name} itself at Q4_0`);
    assert.ok(loaded.info.draft.weightBytes < loaded.info.weightBytes / 4, `self:q4_0 weights ${loaded.info.draft.weightBytes} of ${loaded.info.weightBytes}`);
    const spec = await ask(server, events, { type: 'complete', id: 4, request: req('Once upon a time, there was a little'), options: { ...opts, draft: 'model' } });
    assert.ok(spec.type === 'completed' && plain.type === 'completed', JSON.stringify(spec));
    assert.equal(spec.result.rawText, plain.result.rawText);
    assert.ok((spec.result.timings.speculative?.draftedTokens ?? 0) > 0, JSON.stringify(spec.result.timings));
    const stats = await ask(server, events, { type: 'stats', id: 5 });
    assert.ok(stats.type === 'stats' && stats.stats.kvBlocksTotal === loaded.info.kv.blocks, JSON.stringify(stats));

    const tooSmall = 10 * 1024;
    const refused = await ask(server, events, { type: 'load', id: 6, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: tooSmall, draftModelPath: 'self:q8_0' } });
    assert.ok(refused.type === 'error' && refused.error.code === 'OUT_OF_MEMORY' && refused.error.message.includes(`KV budget of ${tooSmall} bytes`), JSON.stringify(refused));

    const q4 = await ask(server, events, { type: 'load', id: 7, params: { modelPath: await ensureStories260K('q4_0'), maxContextTokens: 256, draftModelPath: 'self' } });
    assert.ok(q4.type === 'error' && q4.error.name === 'SelfDraftUnhelpfulError' && /already Q4_0-sized/.test(q4.error.message), JSON.stringify(q4));
  } finally {
    server.disposeAll();
  }
});


test('tandem complete --kv-budget-mib with --draft self:q8_0 or a draft GGUF: both pools within the budget, the plain tokens', async () => {
  const model = await ensureStories260K('f32');
  const args = ['complete', '--model', model, '--prompt-tokens', '1', '--max-tokens', '32', '--no-stop', '--json'];
  const plain = tandem(...args);
  assert.equal(plain.status, 0, plain.stderr);
  const mib = 0.25;
  for (const draft of ['self:q8_0', await ensureStories260K('q8_0'), 'self:q4_0+ngram']) {
    const r = tandem(...args, '--draft', draft, '--draft-length', '4', '--kv-budget-mib', String(mib));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tokens, JSON.parse(plain.stdout).tokens, draft);
    assertShared(mib * 2 ** 20, out.kvPools.target, out.kvPools.draft);
    assert.ok(out.speculative.draftedTokens > 0, draft);
  }
  // A budget without a block for each: exit 5 (out of memory), the budget named.
  const r = tandem(...args, '--draft', 'self:q4_0', '--kv-budget-mib', '0.01');
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /KV budget of 10485 bytes/);
});

// A sliding-window model (window 24) whose context (1024) is far longer than what one sequence holds.
const WINDOW_SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 1024,
  ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 24, tokenizer: 'spm-bytes', slidingWindow: 24, outputScale: 8,
};

test('sliding window: the draft\'s share stops at what its one sequence holds (window + slack + batch), and 300 tokens decode as plainly', async () => {
  const gpu = await testGpu();
  const path = await ensureSynthetic('sliding-window-llama', WINDOW_SPEC);
  const options = { maxContextTokens: 1024, maxBatchTokens: 16, blockSize: 16 };
  const plan = await planDraftKv(gpu, path, { kind: 'self', dtype: 'q8_0' }, { ...options, kvBudgetBytes: 2 ** 20 });
  // 24 + 32 (rollback slack) + 16 (one batch) = 72 tokens: 5 blocks, and one more for a partial block.
  assert.equal(plan.split?.draftBlocks, 6, JSON.stringify(plan));
  assert.ok(plan.split!.targetBlocks > 10 * plan.split!.draftBlocks, JSON.stringify(plan));
  const { model: target, file } = await loadModel(gpu, path, { ...options, kvBudgetBytes: plan.targetKvBytes });
  const draft = await loadSelfDraft(gpu, target, file, path, 'q8_0', { kvBudgetBytes: plan.draftKvBytes });
  try {
    assert.equal(draft.model.kv.nBlocks, 6);
    const rng = new Rng(5);
    const prompt = Array.from({ length: 40 }, () => 3 + Math.floor(rng.next() * (WINDOW_SPEC.vocabSize - 3)));
    const pool = new BlockPool(target.kv.nBlocks, target.options.blockSize);
    const seq = new Sequence(pool);
    const plain = await generate(target, seq, prompt, { maxTokens: 300 });
    seq.clear();
    const spec = await speculativeGenerate(target, seq, prompt, { maxTokens: 300, draft: draft.draft, draftLength: 8 });
    seq.clear();
    assert.deepEqual(spec.tokens, plain.tokens);
    assert.ok(spec.stats.acceptedTokens > 0, JSON.stringify(spec.stats));
  } finally {
    draft.model.dispose();
    target.dispose();
  }
  const errors = gpu.takeErrors();
  assert.deepEqual(errors, []);
});
