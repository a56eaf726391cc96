// PassPacer: the prefill pass size that keeps a pass within its GPU-time budget, from the last measured passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_PASS_TOKENS, PassPacer } from '../../src/model/passPacer';

test('before any measurement, and with no budget, a pass takes the whole batch', () => {
  assert.equal(new PassPacer(500, 128).passTokens, 128);
  const off = new PassPacer(0, 128);
  off.record(128, 0, 10_000);
  assert.equal(off.passTokens, 128);
});

test('a slow pass shrinks the next to fit the budget, in whole blocks, and passes that stay fast grow it back', () => {
  const p = new PassPacer(500, 128);
  p.record(128, 0, 2_000); // 15.6 ms a token: 32 tokens fit in 500 ms
  assert.equal(p.passTokens, 32);
  p.record(32, 2_000, 2_300); // 9.4 ms a token; of two passes the slower counts
  assert.equal(p.passTokens, 32);
  p.record(32, 2_300, 2_600); // median 9.4 ms: 53 fit, 48 in whole blocks
  assert.equal(p.passTokens, 48);
  p.record(48, 2_600, 2_610);
  assert.equal(p.passTokens, 48);
  p.record(48, 2_610, 2_620); // median 0.2 ms a token
  assert.equal(p.passTokens, 128);
});

test('one noisy pass does not move the size; a lasting change does within two passes', () => {
  const p = new PassPacer(500, 128);
  let at = 0;
  const pass = (msPerToken: number): number => {
    p.record(32, at, at + 32 * msPerToken);
    at += 32 * msPerToken;
    return p.passTokens;
  };
  // ~13 ms a token (32 fit), with single passes over 15.6 ms (where 32 no longer fits).
  const sizes = [12.5, 13, 16.5, 12.8, 13.4, 17, 12.2, 13.1].map(pass);
  assert.deepEqual(sizes, [32, 32, 32, 32, 32, 32, 32, 32], 'sized from the latest pass alone, it went 32, 32, 16, 32, 32, 16, ...');
  assert.equal(pass(40), 32);
  assert.equal(pass(40), MIN_PASS_TOKENS, 'two slow passes of three');
  assert.equal(p.msPerToken, 40);
});

test('the budget can change between passes, and applies from the next one', () => {
  const p = new PassPacer(500, 128);
  p.record(64, 0, 640); // 10 ms a token
  assert.equal(p.passTokens, 48);
  p.budget = 1_000;
  assert.equal(p.passTokens, 96);
  p.budget = 0;
  assert.equal(p.passTokens, 128);
  assert.throws(() => { p.budget = -1; }, RangeError);
  assert.throws(() => { p.budget = Number.NaN; }, RangeError);
  assert.equal(p.budget, 0);
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
