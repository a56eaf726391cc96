// LlamaModel.decodeChain: k greedy one-token passes with the argmax fed back on the GPU and one readback,
// against k forward calls on stories260K (the software adapter's kernels, and the GPU kernels: split-K
// matvec with split attention) and on a sliding-window model across its window: the same ids, the same
// probabilities, and K/V that give the next pass the same logits, bit for bit. A draft model proposing
// through the chain proposes what it proposes pass by pass, and speculative decoding stays lossless.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError, UsageError } from '../../src/common/errors';
import { ModelDraft } from '../../src/engine/draft';
import { DRAFT_MIN_CONFIDENCE } from '../../src/engine/draftLoad';
import { generate } from '../../src/engine/generate';
import { speculativeGenerate } from '../../src/engine/speculative';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel, ModelRuntimeOptions } from '../../src/model/llama';
import { loadModel } from '../../src/model/load';
import { GPU_KERNELS, testGpu } from '../helpers/gpuModel';
import { ensureSlidingWindow24, ensureStories260K } from '../helpers/testModels';

/** Prefills `prompt`, then decodes `steps` tokens by single passes and by one chain; compares them. */
async function compareChain(model: LlamaModel, prompt: number[], steps: number): Promise<{ firstHeldPosition: number }> {
  const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
  const one = new Sequence(pool);
  const chained = new Sequence(pool);
  const prefill = async (seq: Sequence) => {
    let last = 0;
    for (let at = 0; at < prompt.length; at += model.maxBatchTokens) {
      const batch = prompt.slice(at, at + model.maxBatchTokens);
      const r = await model.forward({ tokens: batch, seq, logitRows: at + batch.length === prompt.length ? 1 : 0, wantLogits: false });
      if (r.ids.length) last = r.ids[0];
    }
    return last;
  };
  const first = await prefill(one);
  await prefill(chained);
  const ids: number[] = [];
  const probs: number[] = [];
  let t = first;
  for (let i = 0; i < steps; i++) {
    const r = await model.forward({ tokens: [t], seq: one, logitRows: 1, wantLogits: false });
    t = r.ids[0];
    ids.push(t);
    probs.push(r.probs![0]);
  }
  const chain = await model.decodeChain({ seq: chained, token: first, steps });
  assert.deepEqual([...chain.ids], ids);
  assert.deepEqual([...chain.probs], probs);
  assert.equal(chained.length, one.length);
  // The chain's K/V: the next pass reads all of it.
  const a = await model.forward({ tokens: [t], seq: one, logitRows: 1, wantLogits: true });
  const b = await model.forward({ tokens: [t], seq: chained, logitRows: 1, wantLogits: true });
  assert.deepEqual(b.logits, a.logits);
  const firstHeldPosition = chained.firstHeldPosition;
  one.clear();
  chained.clear();
  return { firstHeldPosition };
}

const VARIANTS: { name: string; options: Partial<ModelRuntimeOptions> }[] = [
  { name: 'adapter defaults', options: {} },
  { name: 'GPU kernels: split-K matvec, attention split every 16 keys', options: GPU_KERNELS },
];

for (const v of VARIANTS) {
  test(`stories260K, ${v.name}: a chain of 1, 7 and 16 passes equals as many forward calls`, async () => {
    const gpu = await testGpu();
    const { model } = await loadModel(gpu, await ensureStories260K('f32'), { maxContextTokens: 256, maxBatchTokens: 32, ...v.options });
    try {
      for (const steps of [1, 7, 16]) await compareChain(model, [1, 403, 407, 261, 378, 10, 281], steps);
    } finally {
      model.dispose();
    }
    assert.deepEqual(gpu.takeErrors(), []);
  });
}

test('sliding window 24: chains that cross the window (released blocks behind it) equal forward calls', async () => {
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, await ensureSlidingWindow24(), { maxContextTokens: 512, maxBatchTokens: 16 });
  try {
    // 60 prompt positions: past the window (24) and its rollback slack (32), so blocks behind it are released.
    const prompt = Array.from({ length: 60 }, (_, i) => 3 + ((i * 37) % 300));
    const { firstHeldPosition } = await compareChain(model, prompt, 16);
    assert.ok(firstHeldPosition > 0, 'blocks behind the window were released');
  } finally {
    model.dispose();
  }
  assert.deepEqual(gpu.takeErrors(), []);
});

test('decodeChain refuses a chain longer than a batch or a token outside the vocabulary, and stops on an aborted signal', async () => {
  const gpu = await testGpu();
  const { model } = await loadModel(gpu, await ensureStories260K('f32'), { maxContextTokens: 256, maxBatchTokens: 8 });
  try {
    const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
    await model.forward({ tokens: [1, 403], seq, logitRows: 1, wantLogits: false });
    await assert.rejects(model.decodeChain({ seq, token: 5, steps: 9 }), UsageError);
    await assert.rejects(model.decodeChain({ seq, token: 512, steps: 2 }), UsageError);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(model.decodeChain({ seq, token: 5, steps: 2, signal: ac.signal }), CancelledError);
    assert.equal(seq.length, 2, 'a refused chain appends nothing');
    seq.clear();
  } finally {
    model.dispose();
  }
});

test('a draft model proposes through the chain (one readback a proposal): the same proposals as pass by pass, the target\'s tokens', async () => {
  const gpu = await testGpu();
  const options = { maxContextTokens: 256, maxBatchTokens: 32 };
  const { model: target } = await loadModel(gpu, await ensureStories260K('f32'), options);
  const { model: draftModel } = await loadModel(gpu, await ensureStories260K('q8_0'), options);
  try {
    let chains = 0;
    const chainOf = draftModel.decodeChain.bind(draftModel);
    draftModel.decodeChain = (req) => { chains++; return chainOf(req); };
    const pool = new BlockPool(target.kv.nBlocks, 16);
    const prompt = [1, 403, 407, 261, 378];
    const seq = new Sequence(pool);
    const plain = await generate(target, seq, prompt, { maxTokens: 96 });
    seq.clear();
    const runs = [];
    for (const chain of [false, true]) {
      const draft = new ModelDraft(draftModel, { minConfidence: DRAFT_MIN_CONFIDENCE, chain });
      const before = chains;
      const r = await speculativeGenerate(target, seq, prompt, { maxTokens: 96, draft, draftLength: 6 });
      seq.clear();
      draft.reset();
      assert.deepEqual(r.tokens, plain.tokens, `chain ${chain}`);
      runs.push({ chain, chains: chains - before, ...r.stats });
    }
    const [loop, chained] = runs;
    assert.equal(loop.chains, 0);
    assert.ok(chained.chains > 0 && chained.chains <= chained.targetPasses, JSON.stringify(chained));
    assert.equal(chained.draftedTokens, loop.draftedTokens);
    assert.equal(chained.acceptedTokens, loop.acceptedTokens);
    assert.ok(chained.draftPasses >= loop.draftPasses, 'a chain runs its passes even past an unsure token');
  } finally {
    draftModel.dispose();
    target.dispose();
  }
});
