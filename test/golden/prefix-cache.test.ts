// Exactness of prefix reuse on stories260K F32 (and a synthetic starcoder, whose positions are a learned
// embedding added to the tokens' rather than a rotation, and a synthetic refact, whose ALiBi biases come
// from distances at attention time): across random edit scripts on a token list (insert,
// delete, replace, cursor jumps, undo, accepted completions), the logits of a prompt built from cached
// blocks (index hits, a partial block taken over or copied on write) equal those of the same prompt
// prefilled from scratch within 1e-4, and greedy completions give the same tokens. Block sizes 16 and 4
// (and 4-token prefill batches) make edits cross block and batch boundaries often; a small pool forces
// evictions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, ensureSynthetic } from '../helpers/testModels';
import { withModel } from '../helpers/gpuModel';
import { DocumentCache, type PrefillResult } from '../../src/engine/session';
import { generate, prefill } from '../../src/engine/generate';
import { Sequence } from '../../src/kvcache/sequence';
import { Rng } from '../../src/engine/sampler';
import type { LlamaModel } from '../../src/model/llama';

const BOS = 1;

/** The reference: the whole prompt prefilled into a fresh sequence on the same pool. */
async function fromScratch(model: LlamaModel, dc: DocumentCache, tokens: number[]): Promise<Float32Array> {
  const seq = new Sequence(dc.pool);
  try {
    return (await prefill(model, seq, tokens, true)).logits!;
  } finally {
    seq.clear();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

type EditKind = 'type' | 'insert' | 'delete' | 'replace' | 'jump' | 'undo' | 'accept';

/** A model and the bytes of K+V one token takes in its pool (f32). */
interface ScriptModel { path: () => Promise<string>; kvBytesPerToken: number }

// K+V of one token: 2 · 5 layers · 4 kv heads · 8 dims · 4 bytes.
const STORIES: ScriptModel = { path: () => ensureStories260K('f32'), kvBytesPerToken: 1280 };
// Learned absolute positions instead of rope, multi-query (2 · 2 layers · 1 kv head · 16 dims · 4 bytes).
const STARCODER: ScriptModel = {
  path: () => ensureSynthetic('prefix-cache-starcoder', {
    arch: 'starcoder', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 38, tokenizer: 'spm-bytes', outputScale: 8,
  }),
  kvBytesPerToken: 256,
};

// ALiBi instead of positions in K: the bias comes from the distance at attention time (2 · 2 layers · 1 kv head · 16 dims · 4 bytes).
const REFACT: ScriptModel = {
  path: () => ensureSynthetic('prefix-cache-refact', {
    arch: 'refact', nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 1, ffnDim: 128, vocabSize: 300, contextLength: 256,
    ropeTheta: 10000, tiedEmbedding: false, weightType: 'f32', seed: 39, tokenizer: 'spm-bytes', outputScale: 8,
  }),
  kvBytesPerToken: 256,
};

async function editScript(blockSize: number, maxBatchTokens: number, steps: number, seed: number, m: ScriptModel = STORIES): Promise<void> {
  const path = await m.path();
  // 256 tokens in the pool, less than a document plus the reference sequence at their longest: eviction
  // and pressure happen.
  await withModel(path, { blockSize, maxBatchTokens, kvBudgetBytes: 256 * m.kvBytesPerToken, maxContextTokens: 256 }, async (model) => {
    const dc = new DocumentCache(model, { maxDocuments: 2 });
    const rng = new Rng(seed);
    const rand = (n: number): number => Math.floor(rng.next() * n);
    const V = model.config.vocabSize;
    const word = (): number[] => Array.from({ length: 1 + rand(3) }, () => 3 + rand(V - 3));
    let doc = [BOS, ...Array.from({ length: 60 }, () => 3 + rand(V - 3))];
    let cursor = doc.length;
    const history: number[][] = [];
    let lastCompletion: number[] = [];
    let worst = 0;
    let keptSinceLast = false;
    const seen = new Set<EditKind>();
    for (let step = 0; step < steps; step++) {
      // Mostly typing at the cursor, as an editor would see it; sometimes something else.
      const r = rng.next();
      const kind: EditKind = r < 0.4 ? 'type' : r < 0.5 ? 'insert' : r < 0.62 ? 'delete' : r < 0.72 ? 'replace' : r < 0.82 ? 'jump' : r < 0.92 ? 'undo' : 'accept';
      const before = doc.slice();
      if (kind === 'type') { doc.splice(cursor, 0, 3 + rand(V - 3)); cursor++; }
      else if (kind === 'insert') { const w = word(); doc.splice(cursor, 0, ...w); cursor += w.length; }
      else if (kind === 'delete' && cursor > 1) { const n = Math.min(cursor - 1, 1 + rand(3)); doc.splice(cursor - n, n); cursor -= n; }
      else if (kind === 'replace' && doc.length > 1) { doc[1 + rand(doc.length - 1)] = 3 + rand(V - 3); }
      else if (kind === 'jump') cursor = 1 + rand(doc.length);
      else if (kind === 'undo' && history.length) { doc = history.pop()!; cursor = Math.min(cursor, doc.length); }
      else if (kind === 'accept' && lastCompletion.length) { doc.splice(cursor, 0, ...lastCompletion); cursor += lastCompletion.length; }
      if (kind !== 'undo' && kind !== 'jump') history.push(before);
      if (doc.length > 150) { doc = doc.slice(0, 100); cursor = Math.min(cursor, doc.length); }
      seen.add(kind);

      // The prompt a plain (non-FIM) completion would use: the text up to the cursor.
      const prompt = doc.slice(0, cursor);
      // Memory pressure (the reference sequences share the pool) may drop the document's sequence.
      const keptState = (): boolean => dc.stats().documentsDropped === dropped;
      const dropped = dc.stats().documentsDropped;
      const check = async (docId: string, p: number[]): Promise<PrefillResult> => {
        const got = await dc.prefill(docId, p, { wantLogits: true });
        const want = await fromScratch(model, dc, p);
        const d = maxAbsDiff(got.logits!, want);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `step ${step} (${kind}, ${docId}): max |Δlogit| ${d} (reused ${got.reusedTokens} of ${p.length})`);
        return got;
      };
      const got = await check('doc', prompt);
      // Another document over the same text (a second editor, a FIM prompt of the same file).
      if (step % 7 === 3) await check('other', doc.slice(0, 1 + rand(doc.length)));
      if (kind === 'type' && step > 0 && keptSinceLast) {
        assert.equal(got.prefilledTokens, 1, `typing one token at the cursor costs one token of prefill (step ${step})`);
      }
      if (step % 5 === 4) {
        // A greedy completion from the cached state equals one from scratch, token for token.
        const c = await dc.complete('doc', prompt, { maxTokens: 6 });
        const seq = new Sequence(dc.pool);
        const ref = await generate(model, seq, prompt, { maxTokens: 6 });
        seq.clear();
        assert.deepEqual(c.tokens, ref.tokens, `step ${step}: greedy tokens`);
        if (keptState()) assert.equal(c.prefilledTokens, 1, 'the prompt was cached by the prefill just before');
        lastCompletion = c.tokens;
      }
      keptSinceLast = keptState();
      dc.pool.checkInvariants();
    }
    const s = dc.stats();
    for (const k of ['type', 'delete', 'jump', 'undo'] as const) assert.ok(seen.has(k), `the script never did ${k}`);
    assert.ok(s.tokenHitRate > 0.8, `token hit rate ${s.tokenHitRate}`);
    assert.ok(s.copiedBlocks > 0, 'no copy-on-write happened');
    assert.ok(s.pool.evictions > 0, 'the small pool never evicted');
    console.log(JSON.stringify({ model: model.config.architecture, blockSize, worstMaxAbsLogitDiff: worst, ...s }));
    dc.dispose();
    assert.equal(dc.pool.usedBlocks, 0, 'disposing the cache releases every block');
  });
}

test('prefix cache exactness: random edit script, block size 16', () => editScript(16, 128, 200, 11));
test('prefix cache exactness: random edit script, block size 4, 4-token prefill batches', () => editScript(4, 4, 200, 12));
test('prefix cache exactness, learned positions (a synthetic starcoder): random edit script, block size 16', () => editScript(16, 128, 100, 13, STARCODER));
test('prefix cache exactness, ALiBi (a synthetic refact): random edit script, block size 16', () => editScript(16, 128, 100, 14, REFACT));
