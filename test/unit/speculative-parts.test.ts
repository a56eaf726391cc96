// The parts of speculative decoding that need no model: the vocabulary check and its id mapping, prompt
// lookup, the adaptive draft length, and the rejection rule on explicit distributions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { checkDraftVocabulary, DraftVocabularyError } from '../../src/engine/draftVocab';
import { lookup, lookupBranches, trieSize } from '../../src/engine/draftNgram';
import { DraftLengthController, MAX_PROBE_EVERY, PROBE_EVERY } from '../../src/engine/draftLength';
import { acceptAlways, acceptStandard } from '../../src/engine/speculativeSampling';
import { Rng } from '../../src/engine/sampler';

const N = 1, C = 3; // TokenType Normal, Control
function vocab(tokens: string[], types: number[], model = 'gpt2'): Map<string, GgufValue> {
  return new Map<string, GgufValue>([['tokenizer.ggml.model', model], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.token_type', types]]);
}

test('vocabulary: identical is the identity; special-only differences are mapped by text; others are refused', () => {
  const t = vocab(['a', 'b', 'c', '<|fim_prefix|>', '<|im_end|>'], [N, N, N, C, C]);
  assert.ok(checkDraftVocabulary(t, 5, vocab(['a', 'b', 'c', '<|fim_prefix|>', '<|im_end|>'], [N, N, N, C, C]), 5).identity);
  // The draft has the two special tokens swapped and lacks a padding row: mapped by text.
  const m = checkDraftVocabulary(t, 6, vocab(['a', 'b', 'c', '<|im_end|>', '<|fim_prefix|>'], [N, N, N, C, C]), 5);
  assert.ok(!m.identity);
  assert.deepEqual([0, 1, 2, 3, 4].map((id) => m.toTarget(id)), [0, 1, 2, 4, 3]);
  assert.deepEqual([0, 1, 2, 3, 4].map((id) => m.toDraft(id)), [0, 1, 2, 4, 3]);
  // A special token the target lacks: the draft stops there (-1).
  const extra = checkDraftVocabulary(t, 5, vocab(['a', 'b', 'c', '<|fim_prefix|>', '<|im_end|>', '<|tool|>'], [N, N, N, C, C, C]), 6);
  assert.equal(extra.toTarget(5), -1);
  assert.throws(() => checkDraftVocabulary(t, 5, vocab(['a', 'x', 'c', '<|fim_prefix|>', '<|im_end|>'], [N, N, N, C, C]), 5),
    (e: unknown) => e instanceof DraftVocabularyError && e.code === 'UNSUPPORTED_MODEL' && /token 1 is "x" in the draft and "b"/.test(e.message));
  assert.throws(() => checkDraftVocabulary(t, 5, vocab(['a', 'b', 'c', '<|fim_prefix|>', '<|im_end|>'], [N, N, N, C, C], 'llama'), 5), DraftVocabularyError);
  // A draft vocabulary shorter by special tokens only is accepted; those tokens map by text.
  const short = checkDraftVocabulary(t, 5, vocab(['a', 'b', 'c'], [N, N, N]), 3);
  assert.deepEqual([0, 1, 2].map((id) => short.toTarget(id)), [0, 1, 2]);
});

test('prompt lookup: the longest recent match, continued past the end of the context by itself', () => {
  assert.deepEqual(lookup([5, 6, 7, 8, 1, 5, 6], 3, 1, 4), { tokens: [7, 8, 1], n: 2 });
  // The most recent of two occurrences of the suffix wins.
  assert.deepEqual(lookup([1, 2, 9, 1, 2, 8, 4, 1, 2], 2, 1, 2), { tokens: [8, 4], n: 2 });
  // A repeating pattern repeats on past the end of the context.
  assert.deepEqual(lookup([3, 4, 3, 4], 5, 1, 4).tokens, [3, 4, 3, 4, 3]);
  assert.deepEqual(lookup([1, 2, 3], 4, 1, 4), { tokens: [], n: 0 });
  assert.deepEqual(lookup([1, 2, 3, 9], 3, 2, 4, [[7, 3, 9, 5, 6]]), { tokens: [5, 6], n: 2 });
  assert.deepEqual(lookup([1, 2, 3, 9], 3, 2, 4, []), { tokens: [], n: 0 }, 'a 1-token match is below minNgram');
});

test('prompt lookup branches (tree drafts): distinct continuations, longest match first, the first is lookup\'s; the trie counts shared prefixes once', () => {
  const ctx = [1, 2, 7, 1, 2, 8, 3, 2, 9, 1, 2];
  // Suffix [1, 2] occurs twice (continued by 8 3, then 7 1), then [2] adds 9 1 (and 8, 7 again: skipped).
  assert.deepEqual(lookupBranches(ctx, 2, 1, 4, 5), [[8, 3], [7, 1], [9, 1]]);
  assert.deepEqual(lookupBranches(ctx, 2, 1, 4, 1)[0], lookup(ctx, 2, 1, 4).tokens);
  assert.deepEqual(lookupBranches(ctx, 2, 1, 4, 2), [[8, 3], [7, 1]]);
  assert.deepEqual(lookupBranches([1, 2, 3], 2, 1, 4, 4), []);
  assert.equal(trieSize([[8, 3], [8, 4], [7]]), 4);
  assert.equal(trieSize([]), 0);
});

/** Runs the controller against a simulated source of per-token acceptance a and costs, returns its final k. */
function settle(a: number, draftStepMs: number, verifyMs: (positions: number) => number, seed = 1): number {
  const c = new DraftLengthController({ draftLength: 'auto', maxDraftLength: 16 });
  const rng = new Rng(seed);
  let k = 0;
  for (let pass = 0; pass < 300; pass++) {
    k = c.next();
    let accepted = 0;
    while (accepted < k && rng.next() < a) accepted++;
    c.observe({ drafted: k, accepted, draftPasses: k, draftMs: k * draftStepMs, verifyPositions: k + 1, verifyMs: verifyMs(k + 1) });
  }
  return c.next();
}

test('adaptive draft length: long drafts for a cheap, agreeing draft; none for a useless one; shorter when verifying costs per position', () => {
  const flat = () => 10;
  assert.ok(settle(0.95, 0.5, flat) >= 10, `a=0.95, c=0.05: ${settle(0.95, 0.5, flat)}`);
  const mid = settle(0.7, 1, flat);
  assert.ok(mid >= 2 && mid <= 8, `a=0.7, c=0.1: ${mid}`);
  assert.ok(settle(0.05, 5, flat) <= 1, `a=0.05, c=0.5: ${settle(0.05, 5, flat)}`);
  // A compute-bound verify (a software GPU): each extra position costs as much as the first.
  assert.ok(settle(0.8, 0.5, (n) => 10 * n) <= 1);
  // n-gram drafts cost nothing to draft: the length follows acceptance alone.
  assert.ok(settle(0.9, 0, flat) >= settle(0.5, 0, flat));
  assert.equal(new DraftLengthController({ draftLength: 5 }).next(), 5);
});

test('adaptive draft length with plain pipelined runs: k = 0 is tried once, then priced at their measured cost; probes every 8 plain tokens, backing off to 64', () => {
  // A draft that agrees half the time and costs 0.4 of a 1 ms verify pass; plain runs cost `plainMs` a token.
  const settleWithPlain = (plainMs: number) => {
    const c = new DraftLengthController({ draftLength: 'auto', maxDraftLength: 8 });
    const rng = new Rng(5);
    const ks: number[] = [];
    const runs: number[] = [];
    for (let step = 0; step < 200; step++) {
      const k = c.next(true);
      ks.push(k);
      if (k === 0) {
        const tokens = c.tokensUntilProbe;
        runs.push(tokens);
        c.observePlain(tokens, tokens * plainMs);
        continue;
      }
      let accepted = 0;
      while (accepted < k && rng.next() < 0.5) accepted++;
      c.observe({ drafted: k, accepted, draftPasses: k, draftMs: 0.4 * k, verifyPositions: k + 1, verifyMs: 1 });
    }
    return { c, ks, runs };
  };
  const cheap = settleWithPlain(0.3);
  assert.ok(cheap.ks.indexOf(0) >= 2 && cheap.ks.indexOf(0) <= 3, `k = 0 tried after the first passes: ${cheap.ks.slice(0, 6)}`);
  // Late on: plain runs, each followed by a one-token probe.
  assert.deepEqual(cheap.ks.slice(-4).sort(), [0, 0, 1, 1]);
  // Each plain run lasts until the probe is due; probes that find drafting still does not pay double the
  // interval from PROBE_EVERY to MAX_PROBE_EVERY.
  assert.deepEqual(cheap.runs.slice(0, 5), [PROBE_EVERY, 2 * PROBE_EVERY, 4 * PROBE_EVERY, MAX_PROBE_EVERY, MAX_PROBE_EVERY]);
  assert.equal(cheap.c.next(true), cheap.ks[cheap.ks.length - 1] === 0 ? 1 : 0);
  // Plain runs slower than a verify pass of one position: drafting wins again.
  const dear = settleWithPlain(1.5);
  assert.ok(dear.ks.slice(-20).every((k) => k >= 1), `${dear.ks.slice(-20)}`);
  // Without plain runs on offer nothing changes: next() as before.
  assert.equal(new DraftLengthController({ draftLength: 5 }).next(true), 5);
});

test('rejection rule: the first emitted token follows p for any q; accept-always follows q instead', () => {
  const p = Float64Array.from([0.5, 0.3, 0.15, 0.05]);
  const q = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
  const n = 40000;
  const freq = (rule: typeof acceptStandard) => {
    const rng = new Rng(3);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      let u = rng.next(), x = 0;
      while (x < 3 && (u -= q[x]) >= 0) x++;
      // Logits whose softmax is p at temperature 1 (two rows: the drafted position and the bonus).
      const logits = Float32Array.from([...p, ...p].map(Math.log));
      const v = rule({ draft: [x], targetIds: [0, 0], targetLogits: logits, draftProbs: [q], vocab: 4, sampling: { temperature: 1, topK: 0, topP: 1, seed: 0 }, rng });
      counts[v.accepted === 1 ? x : v.next]++;
    }
    return counts.map((c) => c / n);
  };
  freq(acceptStandard).forEach((f, i) => assert.ok(Math.abs(f - p[i]) < 0.01, `token ${i}: ${f} vs ${p[i]}`));
  const broken = freq(acceptAlways);
  assert.ok(broken.some((f, i) => Math.abs(f - p[i]) > 0.1), `accept-always: ${broken}`);
});
