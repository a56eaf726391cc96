// `--kv-type` as a script sees it: f16 and f32 caches give stories260K's golden tokens, a fixed
// --kv-budget-mib holds twice the tokens in f16, inspect reports both sizes, a wrong type is a usage error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureStories260K, stories260KGolden } from '../helpers/testModels';
import { tandem } from '../helpers/cli';
import { testGpu } from '../helpers/gpuModel';


test('inspect: KV bytes per token for the default (f16) and for f32', async () => {
  const r = tandem('inspect', await ensureStories260K('f32'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout).memory;
  // stories260K: 5 layers x 4 KV heads x 8 dims, K and V.
  assert.equal(m.kvType, 'f16');
  assert.equal(m.kvBytesPerToken, 2 * 5 * 4 * 8 * 2);
  assert.equal(m.kvBytesPerTokenF32, 2 * 5 * 4 * 8 * 4);
  const text = tandem('inspect', await ensureStories260K('f32'));
  assert.match(text.stdout, /KV 0\.6 KiB\/token \(f16; 1\.3 f32 without shader-f16\)/);
});

test('complete --kv-type f16|f32: golden tokens either way; the same --kv-budget-mib holds twice the tokens in f16', async (t) => {
  if (!(await testGpu()).device.features.has('shader-f16')) return t.skip('the adapter has no shader-f16');
  const golden = stories260KGolden();
  const path = await ensureStories260K('f32');
  // 0.3125 MiB = 16 blocks of 16 tokens x 1280 bytes (f32: 5 layers x 4 KV heads x 8 dims x K,V x 4 bytes).
  const budgetMiB = 0.3125;
  const pools: Record<string, { blocks: number; tokens: number; bytes: number }> = {};
  for (const kvType of ['f32', 'f16']) {
    const r = tandem('complete', '--model', path, '--prompt-tokens', '1', '--max-tokens', '24', '--no-stop', '--json', '--kv-type', kvType, '--kv-budget-mib', String(budgetMiB));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tokens, golden.greedy_tokens.slice(0, 24), `--kv-type ${kvType}`);
    pools[kvType] = out.kvPools.target;
  }
  assert.deepEqual(pools, { f32: { blocks: 16, tokens: 256, bytes: budgetMiB * 2 ** 20 }, f16: { blocks: 32, tokens: 512, bytes: budgetMiB * 2 ** 20 } });
});

test('--kv-type with another value exits 2 naming the choices', async () => {
  const r = tandem('complete', '--model', await ensureStories260K('f32'), '--prompt', 'x', '--kv-type', 'f8');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--kv-type f32\|f16: got "f8"/);
  const b = tandem('bench', 'decode', '--model', await ensureStories260K('f32'), '--kv-type', 'bf16');
  assert.equal(b.status, 2);
});
