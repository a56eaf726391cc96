// A draft model's prefix cache: a sequence per document and a prefix index over its full blocks, so that
// coming back to a document (or a prompt sharing its start with one seen before) costs the draft the new
// tokens only, where one sequence for every document re-ran the whole prompt at each switch. The draft's
// proposals must not change: they are compared with a draft that starts from nothing at every proposal,
// on a CPU model that reads its "K/V" through the block table (speculativeFakeModel.ts), so a block holding
// the wrong tokens changes the proposal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelDraft } from '../../src/engine/draft';
import { GREEDY, Rng } from '../../src/engine/sampler';
import { FakeModel } from './speculativeFakeModel';

const V = 16;
const target = new FakeModel({ vocab: V, seed: 1, sharpness: 6 });
/** Instances of one draft model: each has KV buffers (slots) of its own. */
const draftModel = () => new FakeModel({ vocab: V, seed: 2, sharpness: 0, base: target, noise: 3 }).asModel();
const ctx = (document?: string) => ({ sampling: GREEDY, rng: new Rng(1), vocab: V, document });

function randomTokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rng.next() * V));
}

/** A draft that runs every proposal from nothing (one sequence, reset after each proposal). */
function freshProposer() {
  const d = new ModelDraft(draftModel(), { prefixCache: false });
  return async (context: number[], k: number) => {
    const p = await d.propose(context, k, ctx());
    d.reset();
    return p.tokens;
  };
}

test('draft prefix cache: a switch back to a document costs its new tokens, a shared start is reused, the proposals are unchanged', async () => {
  const rng = new Rng(7);
  const a = randomTokens(rng, 45);
  const b = randomTokens(rng, 50);
  // C shares A's first 33 tokens: 8 full blocks of 4.
  const c = [...a.slice(0, 33), ...randomTokens(rng, 14)];
  const cached = new ModelDraft(draftModel());
  const oneSlot = new ModelDraft(draftModel(), { prefixCache: false });
  const fresh = freshProposer();
  const steps: Array<[string, number[], number, number]> = [
    // document, context, prefilled with the cache, prefilled with one sequence for every document
    ['A', a, a.length, a.length],
    ['B', b, b.length, b.length],
    ['A', [...a, 3], 1, a.length + 1],
    ['B', [...b, 5, 6], 2, b.length + 2],
    ['C', c, c.length - 32, c.length],
  ];
  for (const [doc, context, withCache, withOneSlot] of steps) {
    const want = await fresh(context, 6);
    const p = await cached.propose(context, 6, ctx(doc));
    const q = await oneSlot.propose(context, 6, ctx(doc));
    assert.deepEqual(p.tokens, want, `${doc}: cached proposal`);
    assert.deepEqual(q.tokens, want, `${doc}: one-sequence proposal`);
    assert.equal(p.prefilled, withCache, `${doc}: prefilled with the cache`);
    assert.equal(q.prefilled, withOneSlot, `${doc}: prefilled with one sequence`);
    cached.pool.checkInvariants();
  }
  assert.equal(cached.stats.proposals, steps.length);
  assert.equal(cached.stats.prefilledTokens, steps.reduce((s, x) => s + x[2], 0));
  assert.equal(cached.stats.reusedTokens + cached.stats.prefilledTokens, cached.stats.contextTokens);
  cached.reset();
  oneSlot.reset();
  assert.equal(cached.pool.stats().usedBlocks, 0, 'reset releases every document');
  assert.ok(cached.pool.stats().cachedBlocks > 0, 'registered blocks stay cached after reset');
  // After reset the index still holds the documents' committed blocks.
  const again = await cached.propose([...a, 3, 9], 6, ctx('A'));
  assert.ok(again.prefilled! <= 2 + 4, `prefilled ${again.prefilled} after reset`);
  cached.clear();
  assert.equal(cached.pool.stats().usedBlocks + cached.pool.stats().cachedBlocks, 0, 'clear forgets everything');
});

test('draft prefix cache: random edits over four documents in a small pool give a fresh draft\'s proposals, with no leak', async () => {
  const rng = new Rng(11);
  // 64 blocks of 4 tokens: four documents of up to ~70 tokens do not all fit, so documents are
  // released and cached blocks evicted along the way.
  const cached = new ModelDraft(draftModel(), { maxDocuments: 3 });
  const oneSlot = new ModelDraft(draftModel(), { prefixCache: false });
  const fresh = freshProposer();
  const docs = Array.from({ length: 4 }, () => randomTokens(rng, 20 + Math.floor(rng.next() * 30)));
  let reused = 0;
  for (let step = 0; step < 300; step++) {
    const d = Math.floor(rng.next() * docs.length);
    const text = docs[d];
    const r = rng.next();
    const at = Math.floor(rng.next() * (text.length + 1));
    if (r < 0.4) text.push(...randomTokens(rng, 1 + Math.floor(rng.next() * 3)));
    else if (r < 0.6) text.splice(at, 0, ...randomTokens(rng, 1 + Math.floor(rng.next() * 4)));
    else if (r < 0.75 && text.length > 8) text.splice(at, 1 + Math.floor(rng.next() * 3));
    else if (r < 0.85) text[Math.min(at, text.length - 1)] = Math.floor(rng.next() * V);
    if (text.length > 70) text.splice(0, text.length - 70);
    const k = 1 + Math.floor(rng.next() * 8);
    const want = await fresh(text, k);
    const p = await cached.propose(text, k, ctx(`doc${d}`));
    assert.deepEqual(p.tokens, want, `step ${step}, document ${d}, ${text.length} tokens, k=${k}`);
    const q = await oneSlot.propose(text, k, ctx(`doc${d}`));
    assert.deepEqual(q.tokens, want, `one sequence: step ${step}`);
    reused += text.length - p.prefilled!;
    cached.pool.checkInvariants();
  }
  assert.equal(reused, cached.stats.reusedTokens);
  // Random edits anywhere in the text leave less to reuse than typing does; the switches between
  // documents are what one sequence loses.
  assert.ok(reused > 1.5 * oneSlot.stats.reusedTokens, `reused ${reused} with the cache, ${oneSlot.stats.reusedTokens} with one sequence, of ${cached.stats.contextTokens}`);
  assert.ok(cached.pool.stats().evictions > 0 || cached.stats.releases > 0, 'the pool ran short at some point');
  cached.reset();
  assert.equal(cached.pool.stats().usedBlocks, 0);
  cached.pool.checkInvariants();
});

test('draft prefix cache: a proposal cut short by a cancel (or a failed pass) leaves a consistent cache; the next proposal is a fresh draft\'s', async () => {
  const rng = new Rng(5);
  const fake = new FakeModel({ vocab: V, seed: 2, sharpness: 0, base: target, noise: 3 });
  const realForward = fake.forward.bind(fake);
  let failAt = -1;
  let calls = 0;
  let afterReserve = false;
  fake.forward = async (req) => {
    if (calls++ === failAt) {
      // A pass may fail before it takes blocks (a cancel seen first) or after (a lost device mid-kernel).
      if (afterReserve) req.seq.reserve(req.seq.length + req.tokens.length);
      throw new Error('cancelled mid-pass');
    }
    return realForward(req);
  };
  const cached = new ModelDraft(fake.asModel());
  const fresh = freshProposer();
  const text = randomTokens(rng, 70);
  for (let step = 0; step < 40; step++) {
    text.push(...randomTokens(rng, 1 + Math.floor(rng.next() * 3)));
    if (step % 9 === 4) text.splice(Math.floor(rng.next() * text.length), 3);
    const context = text.slice(Math.max(0, text.length - 100));
    // Every third proposal fails on one of its passes (the first: the prompt feed; later: a drafted token).
    if (step % 3 === 0) {
      calls = 0;
      // Every combination: the prompt feed or a drafted token's pass, before or after it took blocks.
      const i = step / 3;
      failAt = i % 2;
      afterReserve = Math.floor(i / 2) % 2 === 1;
      await assert.rejects(cached.propose(context, 6, ctx('doc')), /cancelled mid-pass/);
      failAt = -1;
      cached.pool.checkInvariants();
    }
    const want = await fresh(context, 6);
    const p = await cached.propose(context, 6, ctx('doc'));
    assert.deepEqual(p.tokens, want, `step ${step}`);
    cached.pool.checkInvariants();
  }
  cached.reset();
  assert.equal(cached.pool.stats().usedBlocks, 0);
});
