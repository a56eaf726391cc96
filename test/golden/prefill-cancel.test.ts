// A cancel during a long prefill stops it between batches (LlamaModel's prefillPassesInFlight bound):
// prefill batches read nothing back, so without the bound every batch of the prompt is queued on the GPU
// before a cancel can be seen, and the cancel waits for all of them. What ran before the cancel is kept:
// the sequence's K/V is complete up to its length, so going on from there gives the logits of a prefill
// never cancelled, bit for bit, and the document's next request reuses it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError } from '../../src/common/errors';
import { DocumentCache } from '../../src/engine/session';
import { prefill } from '../../src/engine/generate';
import { BlockPool } from '../../src/kvcache/blockPool';
import { Sequence } from '../../src/kvcache/sequence';
import { withModel } from '../helpers/gpuModel';
import { ensureStories260K } from '../helpers/testModels';

const BATCH = 16;
/** 30 batches: far more than the passes in flight, so the cancel lands while most are not yet submitted. */
const PROMPT = Array.from({ length: 30 * BATCH - 5 }, (_, i) => 3 + ((i * 37) % 500));
const OPTIONS = { maxContextTokens: 512, maxBatchTokens: BATCH };

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
