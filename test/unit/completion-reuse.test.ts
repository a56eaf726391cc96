// Completions served without the model: typing along a suggestion, a recent completion at the same place,
// and the adaptive debounce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompletionCache } from '../../src/completion/reuse';
import { AdaptiveDebounce, delay } from '../../src/completion/debounce';
import { CompletionService, type CompletionBackend } from '../../src/completion/service';
import type { CompletionResult } from '../../src/completion/types';

test('typing along a suggestion serves the rest of it, character by character', () => {
  const c = new CompletionCache();
  c.set('const total = ', ';\n', 'items.length');
  assert.deepEqual(c.get('const total = ', ';\n'), { text: 'items.length', source: 'cache' });
  assert.deepEqual(c.get('const total = it', ';\n'), { text: 'ems.length', source: 'typed-along' });
  assert.deepEqual(c.get('const total = items.len', ';\n'), { text: 'gth', source: 'typed-along' });
  assert.equal(c.get('const total = items.length', ';\n'), undefined, 'fully typed: nothing left to serve');
  assert.equal(c.get('const total = x', ';\n'), undefined, 'typed something else');
  assert.equal(c.typedAlongHits, 2);
  assert.equal(c.hits, 1);
});

test('the rest of the line is part of the key', () => {
  const c = new CompletionCache();
  c.set('f(', ')', 'a, b');
  assert.equal(c.get('f(', ''), undefined);
  assert.equal(c.get('f(', ')\nmore')?.text, 'a, b');
});

test('least recently used entries go first', () => {
  const c = new CompletionCache({ maxEntries: 2 });
  c.set('a', '', '1');
  c.set('b', '', '2');
  c.get('a', '');
  c.set('c', '', '3');
  assert.equal(c.get('b', ''), undefined);
  assert.equal(c.get('a', '')?.text, '1');
  c.clear();
  assert.equal(c.size, 0);
});

test('adaptive debounce: follows the typing rhythm within its bounds', () => {
  const d = new AdaptiveDebounce({ baseMs: 150, minMs: 50, maxMs: 400 });
  assert.equal(d.next(0), 150, 'no history yet');
  let t = 0;
  for (let i = 0; i < 10; i++) d.next((t += 100));
  assert.equal(d.delayMs(), 130, 'gaps of 100 ms → 1.3 × 100');
  for (let i = 0; i < 16; i++) d.next((t += 20));
  assert.equal(d.delayMs(), 50, 'very fast typing is bounded below');
  for (let i = 0; i < 16; i++) d.next((t += 900));
  assert.equal(d.delayMs(), 400, 'slow typing is bounded above');
  d.configure({ baseMs: 75, adaptive: false });
  assert.equal(d.delayMs(), 75);
});

test('delay resolves false as soon as it is aborted', async () => {
  const ac = new AbortController();
  const p = delay(60_000, ac.signal);
  ac.abort();
  assert.equal(await p, false);
  assert.equal(await delay(1), true);
});

// ---- the service: reuse, debounce and one request in flight, over a fake engine ----

function fakeBackend(answer: (prefix: string) => string) {
  const calls: { prefix: string; signal?: AbortSignal }[] = [];
  const backend: CompletionBackend = {
    async complete(req, _o, run) {
      calls.push({ prefix: req.prefix, signal: run.signal });
      const r: CompletionResult = { text: answer(req.prefix), rawText: '', stoppedBy: 'stopRule', template: 'prefix-only', timings: { promptTokens: 1, generatedTokens: 1, queueMs: 0, tokenizeMs: 0, prefillMs: 0, decodeMs: 0 } };
      return run.signal?.aborted ? { ...r, text: '', stoppedBy: 'cancelled' } : r;
    },
  };
  return { backend, calls };
}

const settings = { debounceMs: 0, adaptiveDebounce: false, options: { maxTokens: 16 } };
const req = (prefix: string) => ({ prefix, suffix: '\n', path: 'a.ts', languageId: 'typescript' });

test('service: the model is asked once; typing along and coming back are served from the cache', async () => {
  const { backend, calls } = fakeBackend(() => 'items.length;');
  const s = new CompletionService(backend, settings);
  assert.deepEqual((await s.provide(req('const n = ')))?.text, 'items.length;');
  assert.deepEqual(await s.provide(req('const n = item')), { text: 's.length;', source: 'typed-along' });
  assert.deepEqual(await s.provide(req('const n = ')), { text: 'items.length;', source: 'cache' });
  assert.equal(calls.length, 1);
  assert.deepEqual(s.stats().served, { model: 1, cache: 1, typedAlong: 1 });
});

test('service: a keystroke during the debounce drops the earlier request before it reaches the engine', async () => {
  const { backend, calls } = fakeBackend((p) => `/* ${p.length} */`);
  const s = new CompletionService(backend, { ...settings, debounceMs: 30 });
  const first = s.provide(req('a'));
  const second = s.provide(req('ab'));
  assert.equal(await first, undefined);
  assert.equal((await second)?.text, '/* 2 */');
  assert.deepEqual(calls.map((c) => c.prefix), ['ab']);
  assert.equal(s.stats().cancelled, 1);
});

test('service: the editor cancelling aborts the engine request; an explicit request skips the debounce', async () => {
  let seen: AbortSignal | undefined;
  let release = () => {};
  const backend: CompletionBackend = {
    complete: (_r, _o, run) => new Promise((resolve) => {
      seen = run.signal;
      release = () => resolve({ text: '', rawText: '', stoppedBy: 'cancelled', template: '', timings: { promptTokens: 0, generatedTokens: 0, queueMs: 0, tokenizeMs: 0, prefillMs: 0, decodeMs: 0 } });
      run.signal?.addEventListener('abort', () => release());
    }),
  };
  const s = new CompletionService(backend, { ...settings, debounceMs: 60_000 });
  const editor = new AbortController();
  const p = s.provide(req('x'), { signal: editor.signal, explicit: true });
  await new Promise((r) => setImmediate(r));
  assert.ok(seen, 'reached the engine without waiting 60 s');
  editor.abort();
  assert.equal(seen!.aborted, true);
  assert.equal(await p, undefined);
});
