// Prefill passes stay short and cancellable. A cancel during a long prefill stops it between batches
// (LlamaModel's prefillPassesInFlight bound): prefill batches read nothing back, so without the bound every
// batch of the prompt is queued on the GPU before a cancel can be seen, and the cancel waits for all of
// them. What ran before the cancel is kept: the sequence's K/V is complete up to its length, so going on
// from there gives the logits of a prefill never cancelled, bit for bit, and the document's next request
// reuses it. A batch that would run longer than prefillPassBudgetMs runs as several passes (PassPacer),
// with the logits of one, and its progress is reported after each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError } from '../../src/common/errors';
import { DocumentCache } from '../../src/engine/session';
import { generate, prefill } from '../../src/engine/generate';
import { NgramDraft } from '../../src/engine/draftNgram';
import { speculativeGenerate } from '../../src/engine/speculative';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import type { LlamaModel, ModelRuntimeOptions } from '../../src/model/llama';
import { MIN_PASS_TOKENS } from '../../src/model/passPacer';
import { GPU_KERNELS, withModel } from '../helpers/gpuModel';
import { ensureStories260K } from '../helpers/testModels';

const BATCH = 16;
/** 30 batches: far more than the passes in flight, so the cancel lands while most are not yet submitted. */
const PROMPT = Array.from({ length: 30 * BATCH - 5 }, (_, i) => 3 + ((i * 37) % 500));
const OPTIONS = { maxContextTokens: 512, maxBatchTokens: BATCH };
/** The adapter's kernels, and the GPU kernels forced (split-K matvec, attention split every 16 keys). */
const KERNEL_VARIANTS: { name: string; options: Partial<ModelRuntimeOptions> }[] = [
  { name: 'adapter kernels', options: {} },
  { name: 'GPU kernels', options: GPU_KERNELS },
];

/** Aborts once the current turn of the event loop (and its microtasks) is over. */
function abortSoon(): AbortSignal {
  const ac = new AbortController();
  setImmediate(() => ac.abort());
  return ac.signal;
}

test('a cancel mid-prefill stops it within the passes in flight, and what ran gives the logits of an uncancelled prefill', async () => {
  await withModel(await ensureStories260K('f32'), OPTIONS, async (model) => {
    const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
    const reference = new Sequence(pool);
    const want = await prefill(model, reference, PROMPT, true);
    reference.clear();

    const seq = new Sequence(pool);
    await assert.rejects(prefill(model, seq, PROMPT, true, abortSoon()), CancelledError);
    // Batches 1 and 2 are queued in the first turn; each later one waits for an earlier one to finish, which
    // takes far longer than one turn of the event loop. Unbounded, all 30 were queued in the first turn.
    assert.ok(seq.length >= BATCH && seq.length <= 4 * BATCH, `${seq.length} positions prefilled before the cancel was seen`);
    assert.equal(seq.length % BATCH, 0, 'whole batches');

    const rest = await prefill(model, seq, PROMPT.slice(seq.length), true);
    assert.equal(rest.id, want.id);
    assert.deepEqual(rest.logits, want.logits, 'the cancelled batches wrote all their K/V');
    seq.clear();
    assert.equal(pool.usedBlocks, 0);
  });
});

test('the document\'s next request reuses what a cancelled prefill ran, and completes as a fresh one does', async () => {
  await withModel(await ensureStories260K('f32'), OPTIONS, async (model) => {
    const request = { maxTokens: 12 };
    const fresh = new DocumentCache(model, { enabled: false });
    const want = await fresh.complete('doc', PROMPT, request);
    fresh.dispose();

    const docs = new DocumentCache(model);
    await assert.rejects(docs.complete('doc', PROMPT, { ...request, signal: abortSoon() }), CancelledError);
    const again = await docs.complete('doc', PROMPT, request);
    assert.ok(again.reusedTokens >= BATCH && again.reusedTokens < PROMPT.length - BATCH, `reused ${again.reusedTokens} of ${PROMPT.length}`);
    assert.deepEqual(again.tokens, want.tokens);
    docs.dispose();
  });
});

/** Submits to the device's queue while `body` runs. */
async function countSubmits<T>(model: LlamaModel, body: () => Promise<T>): Promise<{ submits: number; result: T }> {
  const queue = model.gpu.device.queue;
  const submit = queue.submit;
  let submits = 0;
  queue.submit = (buffers) => { submits++; submit.call(queue, buffers); };
  try {
    return { result: await body(), submits };
  } finally {
    delete (queue as { submit?: unknown }).submit;
  }
}

for (const v of KERNEL_VARIANTS) {
  test(`${v.name}: a batch the pass budget does not allow runs as passes of a block each, with the logits of one pass, and a cancel stops it between them`, async () => {
    const path = await ensureStories260K('f32');
    const prompt = PROMPT.slice(0, 2 * 128);
    const options = { maxContextTokens: 512, maxBatchTokens: 128, ...v.options };
    const want = await withModel(path, { ...options, prefillPassBudgetMs: 0 }, async (model) => {
      const seq = new Sequence(new BlockPool(model.kv.nBlocks, model.options.blockSize));
      const progress: number[] = [];
      const { result, submits } = await countSubmits(model, () => prefill(model, seq, prompt, true, undefined, (done) => progress.push(done)));
      assert.equal(submits, 2, 'no budget: a pass a batch');
      assert.deepEqual(progress, [128, 256]);
      assert.equal(model.prefillPassTokens, 128);
      seq.clear();
      return result;
    });
    // No GPU runs a 128-token pass within a nanosecond: after the first pass, every pass is one block.
    await withModel(path, { ...options, prefillPassBudgetMs: 1e-6 }, async (model) => {
      const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
      const seq = new Sequence(pool);
      assert.equal(model.prefillPassTokens, 128, 'nothing measured yet');
      // A model's first pass is not timed: it may compile pipelines, whose time is not what a pass costs.
      const first = new Sequence(pool);
      await prefill(model, first, prompt.slice(0, 128), false);
      first.clear();
      assert.equal(model.prefillPassTokens, 128, 'a pass that compiled pipelines is not measured');
      // One more pass, read back: measured (a pass without a readback is measured when the GPU is done with it).
      await prefill(model, first, prompt.slice(0, 128), false);
      first.clear();
      assert.equal(model.prefillPassTokens, MIN_PASS_TOKENS);
      const progress: [number, number][] = [];
      const { result, submits } = await countSubmits(model, () => prefill(model, seq, prompt, true, undefined, (done, total) => progress.push([done, total])));
      assert.equal(submits, prompt.length / MIN_PASS_TOKENS, 'a pass a block');
      // Its progress: once a pass, across the two batches of the request.
      assert.deepEqual(progress, Array.from({ length: submits }, (_, i) => [(i + 1) * MIN_PASS_TOKENS, prompt.length]));

      assert.equal(result.id, want.id);
      // Bit for bit: the 16-token passes run the kernels of their 128-token batch (on a GPU, a batch of 16
      // of its own would run the split-K batch matvec and split attention, whose rounding differs).
      assert.deepEqual(result.logits, want.logits);
      seq.clear();

      // One forward of a whole batch, cancelled: it stops between its passes.
      await assert.rejects(model.forward({ tokens: prompt.slice(0, 128), seq, logitRows: 1, wantLogits: false, signal: abortSoon() }), CancelledError);
      assert.ok(seq.length >= MIN_PASS_TOKENS && seq.length <= 4 * MIN_PASS_TOKENS, `${seq.length} positions before the cancel was seen`);
      seq.clear();
      assert.equal(pool.usedBlocks, 0);
    });
  });
}

test('speculative decoding reports the prefill of its prompt as plain decoding does, and gives its tokens', async () => {
  await withModel(await ensureStories260K('f32'), OPTIONS, async (model) => {
    const pool = new BlockPool(model.kv.nBlocks, model.options.blockSize);
    const prompt = PROMPT.slice(0, 5 * BATCH + 3);
    const plain: number[] = [];
    const plainSeq = new Sequence(pool);
    const want = await generate(model, plainSeq, prompt, { maxTokens: 8, onPrefill: (done, total) => { assert.equal(total, prompt.length); plain.push(done); } });
    const spec: number[] = [];
    const seq = new Sequence(pool);
    const got = await speculativeGenerate(model, seq, prompt, { maxTokens: 8, draft: new NgramDraft(), draftLength: 4, onPrefill: (done, total) => { assert.equal(total, prompt.length - 1); spec.push(done); } });
    assert.deepEqual(got.tokens, want.tokens);
    // Plain decoding prefills the whole prompt (its last batch reads the first token); speculative decoding
    // all but the last token (the first verify pass runs it): a pass a batch of 16 either way.
    assert.deepEqual(plain, [16, 32, 48, 64, 80, 83]);
    assert.deepEqual(spec, [16, 32, 48, 64, 80, 82]);
    seq.clear();
    plainSeq.clear();
    assert.equal(pool.usedBlocks, 0);
  });
});
