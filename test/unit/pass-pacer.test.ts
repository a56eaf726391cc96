// PassPacer: the prefill pass size that keeps a pass within its GPU-time budget, from the last measured pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_PASS_TOKENS, PassPacer } from '../../src/model/passPacer';

test('before any measurement, and with no budget, a pass takes the whole batch', () => {
  assert.equal(new PassPacer(500, 128).passTokens, 128);
  const off = new PassPacer(0, 128);
  off.record(128, 0, 10_000);
  assert.equal(off.passTokens, 128);
});

test('a slow pass shrinks the next to fit the budget, in whole blocks, and a fast one grows it back', () => {
  const p = new PassPacer(500, 128);
  p.record(128, 0, 2_000); // 15.6 ms a token: 32 tokens fit in 500 ms
  assert.equal(p.passTokens, 32);
  p.record(32, 2_000, 2_300); // 9.4 ms a token: 53 fit, 48 in whole blocks
  assert.equal(p.passTokens, 48);
  p.record(48, 2_300, 2_310);
  assert.equal(p.passTokens, 128);
});

test('never below one block, whatever a pass took', () => {
  const p = new PassPacer(500, 128);
  p.record(128, 0, 600_000);
  assert.equal(p.passTokens, MIN_PASS_TOKENS);
});

test('passes queued behind one another are timed from the previous one\'s end, not from their submit', () => {
  const p = new PassPacer(500, 128);
  p.record(64, 0, 400); // 6.25 ms a token: 80 fit
  // Submitted at 10 ms, behind the first: it ran from 400 to 800 ms, not 790 ms.
  p.record(64, 10, 800);
  assert.equal(p.passTokens, 80);
});

test('decode-sized passes do not count: their fixed cost over one token would overstate a token\'s time', () => {
  const p = new PassPacer(500, 128);
  p.record(1, 0, 50);
  p.record(MIN_PASS_TOKENS - 1, 50, 100);
  assert.equal(p.passTokens, 128);
});

test('a pass that compiled pipelines does not count: its compile time is not what the next pass costs', () => {
  const p = new PassPacer(500, 128);
  p.record(64, 0, 30_000, true); // the first pass: seconds of JIT
  assert.equal(p.passTokens, 128);
  p.record(64, 30_000, 30_100); // 1.6 ms a token
  assert.equal(p.passTokens, 128);
  p.record(128, 30_100, 90_000, true);
  assert.equal(p.passTokens, 128, 'a later compile does not shrink a measured size either');
  // And it still sets where the GPU was free: the next pass is timed from its end.
  p.record(128, 30_200, 92_000);
  assert.equal(p.passTokens, 32); // 2,000 ms over 128 tokens: 15.6 ms a token
});
