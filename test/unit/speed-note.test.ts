// What the extension says about the decode speed measured at load (src/ui/speed.ts): the status bar's
// note on a software adapter says how slow, in tokens/s and seconds per suggestion; the one-time warning
// comes only when a full suggestion takes over SLOW_SUGGESTION_S.
// And a long prefill in progress: the status bar's percentage and tooltip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefillStatus, SLOW_SUGGESTION_S, slowModelWarning, speedNote } from '../../src/ui/speed';

const lavapipe = { name: 'qwen2.5-coder-0.5b', adapter: 'mesa llvmpipe', isSoftwareAdapter: true };

test('status note: a software adapter is named slow, with the measured rate and a suggestion\'s time', () => {
  assert.match(speedNote({ ...lavapipe, decodeTokensPerS: 8 }), /software .* slow \(about 8\.0 tokens\/s here, so a 64-token suggestion takes about 8\.0 s\)/);
  assert.match(speedNote({ ...lavapipe }), /software .* slow\. A GPU driver/);
  assert.equal(speedNote({ ...lavapipe, isSoftwareAdapter: false }), '');
  assert.match(speedNote({ ...lavapipe, isSoftwareAdapter: false, decodeTokensPerS: 250.4 }), /Decoding: about 250 tokens\/s here/);
});

test('slow-model warning: only when a full suggestion takes over the limit', () => {
  assert.equal(slowModelWarning({ ...lavapipe, decodeTokensPerS: 400 }, 64), undefined);
  assert.equal(slowModelWarning({ ...lavapipe, decodeTokensPerS: 64 / SLOW_SUGGESTION_S }, 64), undefined);
  assert.equal(slowModelWarning({ ...lavapipe }, 64), undefined, 'no measurement, no claim');
  const w = slowModelWarning({ ...lavapipe, decodeTokensPerS: 10 }, 64);
  assert.match(w ?? '', /qwen2\.5-coder-0\.5b decodes about 10 tokens\/s on a software \(CPU-emulated\) GPU adapter, mesa llvmpipe: a 64-token suggestion takes about 6 s/);
});

test('a long prefill in the status bar: a percentage that never says 100% before the suggestion, and the tokens in the tooltip', () => {
  assert.deepEqual(prefillStatus({ done: 340, total: 1500 }).percent, '22%');
  assert.equal(prefillStatus({ done: 1499, total: 1500 }).percent, '99%');
  assert.equal(prefillStatus({ done: 0, total: 0 }).percent, '0%');
  assert.match(prefillStatus({ done: 1344, total: 12000 }).tip, /reading the prompt, 1,344 of 12,000 tokens\. Typing on does not lose this/);
});
