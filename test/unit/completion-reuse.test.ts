// Completions served without the model: typing along a suggestion, a recent completion at the same place,
// and the adaptive debounce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompletionCache } from '../../src/completion/reuse';
import { AdaptiveDebounce, delay } from '../../src/completion/debounce';

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
