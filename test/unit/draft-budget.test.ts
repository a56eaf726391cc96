// One KV budget for a model and its draft (src/engine/draftBudget.ts), as arithmetic: both pools fit in the
// budget together and hold the same number of blocks at any budget (the draft caches the same documents
// as the target), and a budget without one block of each is a typed OutOfMemoryError that names it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutOfMemoryError } from '../../src/common/errors';
import { kvBytesPerToken, type KvShape } from '../../src/kvcache/kvBuffers';
import { splitKvBudget } from '../../src/engine/draftBudget';

const shape = (nLayers: number, nKvHeads: number, headDim: number, kvType: KvShape['kvType'] = 'f32'): KvShape => ({ nLayers, nKvHeads, headDim, blockSize: 16, kvType });
// Qwen2.5-Coder 1.5B target and 0.5B draft (28 / 24 layers, 2 KV heads of 128), and stories260K.
const TARGET_1_5B = shape(28, 2, 128);
const DRAFT_0_5B = shape(24, 2, 128);
const STORIES = shape(5, 4, 8);

function blockBytes(s: KvShape): number {
  return kvBytesPerToken(s) * s.blockSize;
}

test('any budget: both pools fit in it and hold the same number of blocks (± one)', () => {
  for (const [target, draft] of [[TARGET_1_5B, DRAFT_0_5B], [STORIES, STORIES], [shape(28, 2, 128, 'f16'), shape(24, 2, 128, 'f16')]]) {
    for (const budget of [1, 3, 7.5, 20, 33, 1024, 6000].map((mib) => Math.floor(mib * 2 ** 20))) {
      const equal = Math.floor(budget / (blockBytes(target) + blockBytes(draft)));
      if (equal < 1) continue;
      const s = splitKvBudget(budget, target, draft);
      assert.ok(s.targetBytes + s.draftBytes <= budget, `${budget}: ${s.targetBytes} + ${s.draftBytes}`);
      assert.equal(s.targetBytes, s.targetBlocks * blockBytes(target));
      assert.equal(s.draftBytes, s.draftBlocks * blockBytes(draft));
      assert.ok(s.draftBlocks >= 1 && Math.abs(s.targetBlocks - s.draftBlocks) <= 1, JSON.stringify(s));
      // Nothing a whole target block could use is left over.
      assert.ok(budget - s.targetBytes - s.draftBytes < blockBytes(target) + blockBytes(draft), JSON.stringify(s));
    }
  }
});

test('bytes follow each model\'s K/V bytes per token: a smaller draft takes less of the budget', () => {
  const s = splitKvBudget(10 * 2 ** 20, TARGET_1_5B, DRAFT_0_5B);
  assert.equal(s.targetBlocks, s.draftBlocks);
  assert.ok(Math.abs(s.draftBytes / s.targetBytes - 24 / 28) < 1e-9, JSON.stringify(s));
});

test('a large budget: the draft keeps growing with the target (no cap at one context)', () => {
  const budget = 1024 * 2 ** 20;
  const s = splitKvBudget(budget, TARGET_1_5B, DRAFT_0_5B);
  assert.ok(s.draftBlocks * 16 > 2 * 4096, `the draft holds ${s.draftBlocks * 16} tokens`);
  assert.equal(s.targetBlocks, Math.floor((budget - s.draftBytes) / blockBytes(TARGET_1_5B)));
  assert.ok(Math.abs(s.targetBlocks - s.draftBlocks) <= 1 && s.targetBytes + s.draftBytes <= budget);
});

test('a budget without one block for each model: OutOfMemoryError naming the budget', () => {
  const tooSmall = blockBytes(TARGET_1_5B) + blockBytes(DRAFT_0_5B) - 1;
  assert.throws(() => splitKvBudget(tooSmall, TARGET_1_5B, DRAFT_0_5B), (e: unknown) => {
    assert.ok(e instanceof OutOfMemoryError);
    assert.match(e.message, new RegExp(`KV budget of ${tooSmall} bytes`));
    assert.equal(e.availableBytes, tooSmall);
    assert.equal(e.neededBytes, tooSmall + 1);
    return true;
  });
  // Exactly one block of each fits.
  const s = splitKvBudget(tooSmall + 1, TARGET_1_5B, DRAFT_0_5B);
  assert.deepEqual([s.targetBlocks, s.draftBlocks], [1, 1]);
});
