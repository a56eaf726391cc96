// One KV budget for a model and its draft. The user gives one number (tandem.memoryBudgetMB, the CLI's
// --kv-budget-mib); the target's pool and the draft's pool are cut from it so that both hold the same
// number of blocks: bytes in proportion to each model's K/V bytes per token (kvBytesPerToken). Every token
// the target runs the draft must have fed too, and the draft caches documents the way the target does
// (a sequence per document and a prefix index, ModelDraft), so the two caches hold the same working set:
// with fewer draft blocks, a document the target still has cached would cost the draft its whole prompt.
//
// This split is for a draft whose K/V shape differs from the target's (layers, KV heads, head size): each
// model's attention reads its own per-layer buffers (src/kvcache, llama.ts), so one free list over both
// would need one byte arena with per-model views — a change to the KV cache itself. With the split, the
// budget still bounds both, and each model's rollback stays a block-table truncation. A draft of the
// target's own shape (every self draft) needs no split: it runs on the target's buffers and allocates from
// the target's pool (draftLoad.ts, planDraftKv's shareKv), where the LRU of cached blocks divides the
// pool between the two as they use it.

import { OutOfMemoryError } from '../common/errors';
import { kvBytesPerToken, type KvShape, type KvType } from '../kvcache/kvBuffers';
import type { ModelConfig } from '../model/config';

export interface KvBudgetSplit {
  /** Bytes for the target's KV pool and for the draft's; targetBytes + draftBytes <= the budget. */
  targetBytes: number;
  draftBytes: number;
  /** Blocks of blockSize tokens each pool holds. */
  targetBlocks: number;
  draftBlocks: number;
}

export function kvShapeOf(c: Pick<ModelConfig, 'nLayers' | 'nKvHeads' | 'headDim'>, blockSize: number, kvType: KvType): KvShape {
  return { nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim, blockSize, kvType };
}

/**
 * Splits `budgetBytes` between the target's and the draft's KV pools (same block size): equal numbers of
 * blocks. Throws OutOfMemoryError when the budget holds no block of each.
 */
export function splitKvBudget(budgetBytes: number, target: KvShape, draft: KvShape): KvBudgetSplit {
  if (target.blockSize !== draft.blockSize) throw new RangeError(`block sizes differ: target ${target.blockSize}, draft ${draft.blockSize}`);
  const bs = target.blockSize;
  // Bytes of one block (blockSize tokens, every layer's K and V) in each pool.
  const targetBlockBytes = kvBytesPerToken(target) * bs;
  const draftBlockBytes = kvBytesPerToken(draft) * bs;
  const equalBlocks = Math.floor(budgetBytes / (targetBlockBytes + draftBlockBytes));
  if (equalBlocks < 1) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
    throw new OutOfMemoryError(
      `a KV budget of ${budgetBytes} bytes (${mib(budgetBytes)}) holds no block of ${bs} tokens for both the model (${targetBlockBytes} bytes) and its draft (${draftBlockBytes} bytes)`,
      targetBlockBytes + draftBlockBytes, budgetBytes);
  }
  // What is left after equal blocks (less than one block of each) goes to the target if it makes a block.
  const draftBlocks = equalBlocks;
  const draftBytes = draftBlocks * draftBlockBytes;
  const targetBlocks = Math.floor((budgetBytes - draftBytes) / targetBlockBytes);
  return { targetBytes: targetBlocks * targetBlockBytes, draftBytes, targetBlocks, draftBlocks };
}

/**
 * The draft's pool when the caller gives no budget: as many blocks as the target's default pool
 * (`targetDefaultBytes`, that of `target`'s shape), at the draft's bytes per block.
 */
export function draftDefaultKvBytes(target: KvShape, draft: KvShape, targetDefaultBytes: number): number {
  const blocks = Math.floor(targetDefaultBytes / (kvBytesPerToken(target) * target.blockSize));
  return blocks * kvBytesPerToken(draft) * draft.blockSize;
}

/** What a loaded model's KV pool holds: blocks, tokens, bytes (every layer's K and V). */
export function kvPoolOf(model: { kv: { nBlocks: number; blockBytes: number; capacityTokens: number }; config: { nLayers: number } }): { blocks: number; tokens: number; bytes: number } {
  return { blocks: model.kv.nBlocks, tokens: model.kv.capacityTokens, bytes: model.kv.nBlocks * model.kv.blockBytes * 2 * model.config.nLayers };
}
