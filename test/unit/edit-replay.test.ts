// Smoke test of `tandem bench edit-replay` on stories260K F32: a few requests of an editing session made
// from a real file in node_modules, replayed (a) through the prefix cache, (b) with it disabled and (c) by
// llama.cpp (1 thread) reusing its longest common prefix, and (d) through the cache with n-gram drafts.
// The cache must reuse tokens after the first request and give the same greedy completions as prefilling
// every prompt whole; n-gram drafting must not change them either and must report what it drafted;
// llama.cpp must finish and prefill no fewer tokens than the cache does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureStories260K, repoRoot } from '../helpers/testModels';
import { testGpu } from '../helpers/gpuModel';
import { loadModel } from '../../src/model/load';
import { createTokenizer } from '../../src/tokenizer';
import { buildEditTrace, fimPrompt, type EditTrace } from '../../src/cli/editReplayTrace';
import { replayLlamaCpp, replayOrder, replayTandem, type ReplayPrompts } from '../../src/cli/editReplayRun';
import { ngramAgainstTypedText } from '../../src/cli/editReplayNgram';
import { PREFIX_WINDOW_GROWTH } from '../../src/completion/window';

const REQUESTS = 8;

/** The first `n` requests of an editing session typing `typedChars` into `file` (under the repository), windows of 90 + 30 tokens. */
function session(file: string, typedChars: number, n: number, tokenizer: ReturnType<typeof createTokenizer>): EditTrace {
  const count = (s: string) => tokenizer.encode(s, { parseSpecial: false }).length;
  const full = buildEditTrace(join(repoRoot(), file), typedChars, { budgets: { prefixTokens: 90, suffixTokens: 30 }, count });
  return { ...full, requests: full.requests.slice(0, n), windows: full.windows.slice(0, n) };
}

/** SPM prompts through stories260K's tokenizer; it has no FIM tokens, so their ids are stand-ins. */
function spmPrompts(tokenizer: ReturnType<typeof createTokenizer>, maxTokens: number): ReplayPrompts {
  return { layout: 'spm', encode: (s) => tokenizer.encode(s, { parseSpecial: false }), fim: { prefix: 0, suffix: 2, middle: 0 }, bos: tokenizer.bosId, maxTokens };
}

test('edit replay on stories260K: the cache reuses tokens and gives the same greedy text as no cache', async () => {
  const path = await ensureStories260K('f32');
  const gpu = await testGpu();
  const { model, file } = await loadModel(gpu, path, { maxContextTokens: 512 });
  try {
    const tokenizer = createTokenizer(file.metadata);
    const trace = session('node_modules/lru-cache/dist/esm/index.js', 120, REQUESTS, tokenizer);
    assert.equal(trace.requests.length, REQUESTS);
    const p = spmPrompts(tokenizer, 6);

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
    const d = await replayTandem(model, [trace], p, true, 'ngram');
    for (let i = 0; i < REQUESTS; i++) {
      assert.deepEqual(d.records[i].tokens, a.records[i].tokens, `request ${i}: n-gram drafts changed the greedy tokens`);
      const sp = d.records[i].speculative;
      assert.ok(sp, `request ${i}: no speculative stats`);
      assert.ok(sp.acceptedTokens <= sp.draftedTokens && sp.targetPasses >= 1);
    }
    assert.match(d.records[0].mode, /^tandem cache\+ngram spm$/);
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

test('n-gram drafts against the text typed next: a continuation the prompt repeats is drafted whole; an unseen one costs a pass a token', () => {
  const encode = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const trace = (next: string): EditTrace => ({ file: 'x.js', requests: [{ text: '', cursor: 0, edit: 'type', keystrokes: 1, next }], windows: [{ prefixStart: 0, middleStart: 0, suffixEnd: 0 }] });
  const prompt = encode('abcdef|abc');
  const seen = ngramAgainstTypedText([trace('def')], [[prompt]], encode, 3);
  assert.deepEqual(seen, { requests: 1, tokens: 3, passes: 1, draftedTokens: 3, acceptedTokens: 3 });
  const unseen = ngramAgainstTypedText([trace('xyz')], [[prompt]], encode, 3);
  assert.equal(unseen.passes, 3);
  assert.equal(unseen.acceptedTokens, 0);
  const none = ngramAgainstTypedText([{ ...trace('q'), requests: [{ text: '', cursor: 0, edit: 'jump', keystrokes: 1 }] }], [[prompt]], encode, 3);
  assert.equal(none.requests, 0, 'a request away from the typed function has no continuation to check');
  // Two branches: 'abx' is drafted from the second occurrence of 'ab' only; one pass keeps it whole.
  const twice = encode('abxabyab');
  assert.equal(ngramAgainstTypedText([trace('x')], [[twice]], encode, 1).acceptedTokens, 0, 'one branch: the most recent match, y');
  const tree = ngramAgainstTypedText([trace('x')], [[twice]], encode, 1, 32, 2);
  assert.equal(tree.acceptedTokens, 1);
  assert.equal(tree.draftedTokens, 2, 'two one-token branches: two trie nodes');
});

test('edit trace windows are the ones the extension sends: within the token budgets, kept while typing, found again after the jump and its typed line', () => {
  const count = (s: string) => s.length; // a token per character
  const budgets = { prefixTokens: 600, suffixTokens: 200 };
  const t = buildEditTrace(join(repoRoot(), 'node_modules/lru-cache/dist/esm/index.js'), 200, { budgets, count });
  const prefixOf = (i: number) => t.requests[i].text.slice(t.windows[i].prefixStart, t.requests[i].cursor);
  t.requests.forEach((r, i) => {
    assert.ok(prefixOf(i).length <= PREFIX_WINDOW_GROWTH * budgets.prefixTokens, `request ${i}: prefix window of ${prefixOf(i).length}`);
    assert.ok(t.windows[i].suffixEnd - r.cursor <= budgets.suffixTokens, `request ${i}: suffix window over budget`);
  });
  const jumps = t.requests.flatMap((r, i) => (r.edit === 'jump' ? [i] : []));
  assert.equal(jumps.length, 2);
  const [away, back] = jumps;
  assert.ok(prefixOf(away).length <= budgets.prefixTokens, 'a new window is within the budget');
  // Back from the jump (a line was typed above the window meanwhile): the window from before it.
  assert.equal(prefixOf(back).slice(0, prefixOf(away - 1).length), prefixOf(away - 1));
  assert.ok(t.windows[back].prefixStart > t.windows[away - 1].prefixStart, 'the window moved down with the typed line');
  // While typing, a window keeps its start: each request's prefix window extends the previous one's.
  const typing = t.requests.map((r, i) => i).filter((i) => i > 0 && t.requests[i].edit === 'type' && t.requests[i - 1].edit === 'type' && i < away);
  const kept = typing.filter((i) => prefixOf(i).startsWith(prefixOf(i - 1)));
  assert.ok(kept.length >= typing.length - 1, `${typing.length - kept.length} of ${typing.length} typing requests moved the window start`);
});

test('edit trace PSM prompts: with the typed middle, typing only appends (the prefix part before the anchor stays); psm-whole re-reads the suffix', () => {
  const count = (s: string) => s.length;
  const budgets = { prefixTokens: 600, suffixTokens: 200 };
  const t = buildEditTrace(join(repoRoot(), 'node_modules/lru-cache/dist/esm/index.js'), 200, { budgets, count });
  const encode = (s: string) => [...s].map((c) => c.charCodeAt(0) + 10);
  const fim = { prefix: 1, suffix: 2, middle: 3 };
  t.requests.forEach((r, i) => {
    const w = t.windows[i];
    assert.ok(w.prefixStart <= w.middleStart && w.middleStart <= r.cursor, `request ${i}: middle inside the prefix window`);
    assert.ok(w.middleStart === w.prefixStart || r.text[w.middleStart - 1] === '\n', `request ${i}: the middle starts a line`);
  });
  const prefilled = (layout: 'psm' | 'psm-whole') => {
    let total = 0;
    for (let i = 1; i < t.requests.length; i++) {
      if (t.requests[i].edit !== 'type' || t.requests[i - 1].edit !== 'type') continue;
      const a = fimPrompt(t.requests[i - 1], t.windows[i - 1], layout, encode, fim, undefined);
      const b = fimPrompt(t.requests[i], t.windows[i], layout, encode, fim, undefined);
      let same = 0;
      while (same < a.length && a[same] === b[same]) same++;
      total += b.length - same;
    }
    return total;
  };
  const withMiddle = prefilled('psm');
  const whole = prefilled('psm-whole');
  assert.ok(withMiddle * 10 < whole, `typed middle ${withMiddle} tokens, whole prefix ${whole}`);
  // The same text in both PSM prompts and in SPM.
  const r = t.requests[5];
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y).join();
  assert.equal(sorted(fimPrompt(r, t.windows[5], 'psm', encode, fim, undefined)), sorted(fimPrompt(r, t.windows[5], 'psm-whole', encode, fim, undefined)));
  assert.equal(sorted(fimPrompt(r, t.windows[5], 'psm', encode, fim, undefined)), sorted(fimPrompt(r, t.windows[5], 'spm', encode, fim, undefined)));
});

test('replay order: sessions whole, or interleaved a file switch every N requests (each session in its own order)', () => {
  const t = (n: number): EditTrace => ({ file: `f${n}`, requests: Array.from({ length: n }, () => ({ text: '', cursor: 0, edit: 'type' as const, keystrokes: 1 })), windows: [] });
  const traces = [t(5), t(2), t(4)];
  const key = (o: { trace: number; i: number }[]) => o.map((s) => `${s.trace}.${s.i}`).join(' ');
  assert.equal(key(replayOrder(traces)), '0.0 0.1 0.2 0.3 0.4 1.0 1.1 2.0 2.1 2.2 2.3');
  assert.equal(key(replayOrder(traces, 2)), '0.0 0.1 1.0 1.1 2.0 2.1 0.2 0.3 2.2 2.3 0.4');
});

test('edit replay interleaved over two files: llama.cpp with one slot for both prefills more than the cache, same greedy text', async () => {
  const path = await ensureStories260K('f32');
  const gpu = await testGpu();
  const { model, file } = await loadModel(gpu, path, { maxContextTokens: 512 });
  try {
    const tokenizer = createTokenizer(file.metadata);
    const traces = ['node_modules/lru-cache/dist/esm/index.js', 'node_modules/esbuild/lib/main.js'].map((f) => session(f, 80, 6, tokenizer));
    const p = spmPrompts(tokenizer, 4);
    const order = replayOrder(traces, 3);
    const a = await replayTandem(model, traces, p, true, undefined, order);
    const c = await replayLlamaCpp(path, 512, traces, p, 1, order);
    assert.equal(c.records[0].mode, 'llama.cpp one slot spm');
    assert.deepEqual(c.records.map((r) => `${r.file}#${r.i}`), a.records.map((r) => `${r.file}#${r.i}`));
    const prefilled = (rs: { prefilledTokens: number; i: number }[]) => rs.filter((r) => r.i > 0).reduce((s, r) => s + r.prefilledTokens, 0);
    // Switching back to a file: the cache still holds it, the one slot holds the other file.
    assert.ok(prefilled(c.records) > 2 * prefilled(a.records), `llama.cpp one slot prefilled ${prefilled(c.records)}, tandem ${prefilled(a.records)}`);
    const same = a.records.filter((r, k) => r.tokens.join() === c.records[k].tokens.join()).length;
    assert.ok(same >= a.records.length - 1, `greedy texts differ on ${a.records.length - same} requests`);
  } finally {
    model.dispose();
  }
});
