// `tandem complete --pass-budget-ms / --passes-in-flight` as a script sees them: the limits reach the
// engine (reported in --json with the prompt's prefill passes), a budget no pass can meet cuts the prompt
// into passes of a block and gives the same tokens, and a bad value is a usage error naming its flag.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K } from '../helpers/testModels';
import { tandem } from '../helpers/cli';
import { MIN_PASS_TOKENS } from '../../src/model/passPacer';
import { DEFAULT_PREFILL_PASS_BUDGET_MS, DEFAULT_PREFILL_PASSES_IN_FLIGHT } from '../../src/model/prefillLimits';

const PROMPT = Array.from({ length: 300 }, (_, i) => 3 + ((i * 37) % 500)).join(',');

test('complete --pass-budget-ms --passes-in-flight: the limits in force, more and smaller passes, the same tokens', async () => {
  const path = await ensureStories260K('f32');
  const run = (...flags: string[]) => {
    const r = tandem('complete', '--model', path, '--prompt-tokens', PROMPT, '--max-tokens', '8', '--no-stop', '--json', ...flags);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { tokens: number[]; prefill: { passes: number; passBudgetMs: number; passesInFlight: number; passTokens: number } };
  };
  const plain = run();
  assert.equal(plain.prefill.passBudgetMs, DEFAULT_PREFILL_PASS_BUDGET_MS);
  assert.equal(plain.prefill.passesInFlight, DEFAULT_PREFILL_PASSES_IN_FLIGHT);
  const cut = run('--pass-budget-ms', '0.000001', '--passes-in-flight', '1');
  assert.equal(cut.prefill.passBudgetMs, 0.000001);
  assert.equal(cut.prefill.passesInFlight, 1);
  // 300 tokens are batches of 128, 128 and 44. The first compiles pipelines and is not measured; the
  // second is (one pass in flight: the third waits for it), so the third runs as passes of a block.
  assert.equal(cut.prefill.passTokens, MIN_PASS_TOKENS);
  assert.equal(plain.prefill.passes, 3);
  assert.equal(cut.prefill.passes, 2 + Math.ceil(44 / MIN_PASS_TOKENS));
  assert.deepEqual(cut.tokens, plain.tokens);
});

test('complete: a bad --pass-budget-ms or --passes-in-flight exits 2 naming the flag', async () => {
  const path = await ensureStories260K('f32');
  for (const [flag, value] of [['--pass-budget-ms', '-1'], ['--pass-budget-ms', 'soon'], ['--passes-in-flight', '0'], ['--passes-in-flight', '1.5']]) {
    const r = tandem('complete', '--model', path, '--prompt', 'x', `${flag}=${value}`);
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${flag}: .*got "${value}"`));
  }
});
