// One KV budget for a model and its draft, end to end. A draft whose K/V has the target's shape (every
// self draft; on stories260K also its Q8_0 file) runs on the target's KV buffers and allocates from the
// target's one pool: the engine host (tandem.memoryBudgetMB arrives as kvBudgetBytes) and `tandem complete
// --kv-budget-mib` give that pool the whole budget and report the draft as sharing it; completions equal
// plain decoding's; under pressure the draft gives its blocks to the target and drafts nothing rather than
// fail a request. A draft of another shape (fewer layers) gets a pool of its own, the budget split between
// the two — the same number of blocks (± one): the draft caches the same documents as the target.
// A budget without one block fails the load with OutOfMemoryError naming it; a Q4_0 model with a
// self:q4_0 draft fails it with SelfDraftUnhelpfulError.

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
import { loadDraftModel, loadSelfDraft, planDraftKv } from '../../src/engine/draftLoad';
import { kvPoolOf } from '../../src/engine/draftBudget';
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

/** One pool for both: the whole budget, less than a block left over. */
function assertOnePool(budget: number, pool: KvPoolInfo): void {
  assert.ok(pool.bytes <= budget && budget - pool.bytes < pool.bytes / pool.blocks, `one pool of ${pool.bytes} bytes (${pool.blocks} blocks) for a budget of ${budget}`);
}

test('engine host: kvBudgetBytes is one pool for the model and its self:q4_0 draft; completions unchanged; too small a budget and a Q4_0 self draft are typed errors', async () => {
  const events: EngineEvent[] = [];
  const server = new EngineServer((e) => events.push(e));
  try {
    const modelPath = await ensureStories260K('f32');
    const plainLoad = await ask(server, events, { type: 'load', id: 1, params: { modelPath, maxContextTokens: 256 } });
    assert.equal(plainLoad.type, 'loaded', JSON.stringify(plainLoad));
    const plain = await ask(server, events, { type: 'complete', id: 2, request: req('Once upon a time, there was a little'), options: opts });
    assert.ok(plain.type === 'completed' && plain.result.rawText.length > 0, JSON.stringify(plain));

    // Under one context (256 tokens) per model: both fit only because they share.
    const budget = 300 * 1024;
    const loaded = await ask(server, events, { type: 'load', id: 3, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: budget, draftModelPath: 'self:q4_0' } });
    assert.ok(loaded.type === 'loaded' && loaded.info.kv && loaded.info.draft?.kvShared === true && loaded.info.draft.kv === undefined, JSON.stringify(loaded));
    assertOnePool(budget, loaded.info.kv);
    assert.ok(loaded.info.kv.tokens < 2 * 256, 'the budget was meant to be under a context each');
    assert.equal(loaded.info.draft.name, `${loaded.info.name} itself at Q4_0`);
    assert.ok(loaded.info.draft.weightBytes < loaded.info.weightBytes / 4, `self:q4_0 weights ${loaded.info.draft.weightBytes} of ${loaded.info.weightBytes}`);
    const spec = await ask(server, events, { type: 'complete', id: 4, request: req('Once upon a time, there was a little'), options: { ...opts, draft: 'model' } });
    assert.ok(spec.type === 'completed' && plain.type === 'completed', JSON.stringify(spec));
    assert.equal(spec.result.rawText, plain.result.rawText);
    assert.ok((spec.result.timings.speculative?.draftedTokens ?? 0) > 0, JSON.stringify(spec.result.timings));
    const stats = await ask(server, events, { type: 'stats', id: 5 });
    assert.ok(stats.type === 'stats' && stats.stats.kvBlocksTotal === loaded.info.kv.blocks, JSON.stringify(stats));

    const tooSmall = 5 * 1024; // half a block of 16 tokens (0.6 KiB a token in f16)
    const refused = await ask(server, events, { type: 'load', id: 6, params: { modelPath, maxContextTokens: 256, kvBudgetBytes: tooSmall, draftModelPath: 'self:q8_0' } });
    assert.ok(refused.type === 'error' && refused.error.code === 'OUT_OF_MEMORY' && refused.error.message.includes(`KV budget of ${tooSmall} bytes`), JSON.stringify(refused));

    const q4 = await ask(server, events, { type: 'load', id: 7, params: { modelPath: await ensureStories260K('q4_0'), maxContextTokens: 256, draftModelPath: 'self' } });
    assert.ok(q4.type === 'error' && q4.error.name === 'SelfDraftUnhelpfulError' && /already Q4_0-sized/.test(q4.error.message), JSON.stringify(q4));
  } finally {
    server.disposeAll();
  }
});


test('tandem complete --kv-budget-mib with --draft self:q8_0 or a draft GGUF of the same shape: one pool of the budget, the plain tokens', async () => {
  const model = await ensureStories260K('f32');
  const args = ['complete', '--model', model, '--prompt-tokens', '1', '--max-tokens', '32', '--no-stop', '--json'];
  const plain = tandem(...args);
  assert.equal(plain.status, 0, plain.stderr);
  const mib = 0.25;
  for (const draft of ['self:q8_0', await ensureStories260K('q8_0'), 'self:q4_0+ngram']) {
    for (const cache of [[], ['--document-cache']]) {
      const r = tandem(...args, ...cache, '--draft', draft, '--draft-length', '4', '--kv-budget-mib', String(mib));
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(out.tokens, JSON.parse(plain.stdout).tokens, `${draft} ${cache}`);
      assert.equal(out.kvPools.draftShared, true, JSON.stringify(out.kvPools));
      assertOnePool(mib * 2 ** 20, out.kvPools.target);
      assert.ok(out.speculative.draftedTokens > 0, draft);
    }
  }
  // A budget without one block: exit 5 (out of memory), the budget named.
  const r = tandem(...args, '--draft', 'self:q4_0', '--kv-budget-mib', '0.004');
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /KV budget of 4194 bytes/);
});

// A sliding-window model (window 24) whose context (1024) is far longer than what one sequence holds.
const WINDOW_SPEC: SyntheticSpec = {
  arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, ffnDim: 128, vocabSize: 320, contextLength: 1024,
  ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 24, tokenizer: 'spm-bytes', slidingWindow: 24, outputScale: 8,
};

test('sliding window, a draft of another shape (1 layer of 2): two pools of as many blocks each, and 300 tokens decode as plainly', async () => {
  const gpu = await testGpu();
  const path = await ensureSynthetic('sliding-window-llama', WINDOW_SPEC);
  const draftPath = await ensureSynthetic('sliding-window-llama-1l', { ...WINDOW_SPEC, nLayers: 1, seed: 25 });
  const options = { maxContextTokens: 1024, maxBatchTokens: 16, blockSize: 16 };
  const plan = await planDraftKv(gpu, path, { kind: 'file', path: draftPath }, { ...options, kvBudgetBytes: 2 ** 20 });
  assert.equal(plan.shareKv, false);
  // As many blocks each; the draft's (1 layer) take half the bytes of the target's (2 layers).
  const equal = plan.split!.draftBlocks;
  assert.ok(equal > 10 && Math.abs(plan.split!.targetBlocks - equal) <= 1, JSON.stringify(plan));
  assert.ok(Math.abs(plan.split!.draftBytes * 2 - plan.split!.targetBytes) <= plan.split!.targetBytes / equal, JSON.stringify(plan));
  const { model: target, file } = await loadModel(gpu, path, { ...options, kvBudgetBytes: plan.targetKvBytes });
  const draft = await loadDraftModel(gpu, target, file, draftPath, { kvBudgetBytes: plan.draftKvBytes });
  try {
    assert.equal(draft.model.kv.nBlocks, equal);
    assert.notEqual(draft.model.kv, target.kv);
    const [t, d] = [kvPoolOf(target), kvPoolOf(draft.model)];
    assert.ok(t.bytes + d.bytes <= 2 ** 20, `target ${t.bytes} + draft ${d.bytes} bytes > the budget`);
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

test('one pool under pressure: the draft drafts only into free or cached blocks, gives its blocks to the target when asked, and the output is plain decoding\'s', async () => {
  const gpu = await testGpu();
  const path = await ensureStories260K('f32');
  const options = { maxContextTokens: 256, maxBatchTokens: 32, blockSize: 16 };
  // 20 blocks: the target's sequence reaches 13 (200 positions); the draft's, riding along, as many.
  const budget = 20 * 16 * 2 * 5 * 4 * 8 * 2; // blocks x tokens x (K, V) x layers x KV heads x head size x f16 bytes
  const plan = await planDraftKv(gpu, path, { kind: 'self', dtype: 'q8_0' }, { ...options, kvType: 'f16', kvBudgetBytes: budget });
  assert.equal(plan.shareKv, true);
  const { model: target, file } = await loadModel(gpu, path, { ...options, kvType: 'f16', kvBudgetBytes: plan.targetKvBytes });
  const draft = await loadSelfDraft(gpu, target, file, path, 'q8_0', { shareKv: true });
  try {
    assert.equal(draft.model.kv, target.kv, 'the draft runs on the target\'s KV buffers');
    assert.equal(target.kv.nBlocks, 20);
    const shared = draft.draft.sharedPoolWith(target)!;
    assert.ok(shared && shared.pool === draft.draft.pool);
    const rng = new Rng(3);
    const prompt = [1, ...Array.from({ length: 40 }, () => 3 + Math.floor(rng.next() * 500))];
    // Two pools over the shared buffers would hand out the same blocks: a sequence of another pool is refused.
    await assert.rejects(target.forward({ tokens: [1], seq: new Sequence(new BlockPool(target.kv.nBlocks, 16)), logitRows: 1, wantLogits: false }), /shared pool/);
    const plainSeq = new Sequence(shared.pool);
    const plain = await generate(target, plainSeq, prompt, { maxTokens: 160 });
    plainSeq.clear();
    // The target's sequence allocates from the shared pool; when it finds no free block, the pool asks the draft.
    shared.pool.onPressure = shared.release;
    const seq = new Sequence(shared.pool);
    const spec = await speculativeGenerate(target, seq, prompt, { maxTokens: 160, draft: draft.draft, draftLength: 4, keepDraftState: true });
    assert.deepEqual(spec.tokens, plain.tokens);
    assert.ok(spec.stats.acceptedTokens > 0, JSON.stringify(spec.stats));
    const ps = draft.draft.stats;
    console.log(JSON.stringify({ name: 'one pool under pressure', value: ps.releases, unit: 'draft releases', roomlessProposals: ps.roomless, ...spec.stats, draftLengths: undefined }));
    assert.ok(ps.releases >= 1 && ps.roomless >= 1, `the pool ran short: ${JSON.stringify(ps)}`);
    seq.clear();
    draft.draft.reset();
    const st = shared.pool.stats();
    assert.equal(st.usedBlocks, 0, JSON.stringify(st));
  } finally {
    draft.model.dispose();
    target.dispose();
  }
  assert.deepEqual(gpu.takeErrors(), []);
});
