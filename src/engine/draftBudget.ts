// One KV budget for a model and its draft. The user gives one number (tandem.memoryBudgetMB, the CLI's
// --kv-budget-mib); the target's pool and the draft's pool are cut from it so that both hold the same
// number of blocks: bytes in proportion to each model's K/V bytes per token (kvBytesPerToken), since every
// token the target keeps the draft must also have fed. The draft keeps one sequence (ModelDraft), so it
// never needs more than that sequence holds at its longest (one full context; with a sliding window, the
// window and its slack): what an equal split would give it beyond that goes to the target, whose pool
// also caches other documents' prompts.
//
// This split is for a draft whose K/V shape differs from the target's (layers, KV heads, head size): each
// model's attention reads its own per-layer buffers (src/kvcache, llama.ts), so one free list over both
// would need one byte arena with per-model views — a change to the KV cache itself. With the split, the
// budget still bounds both, and each model's rollback stays a block-table truncation. A draft of the
// target's own shape (every self draft) needs no split: it runs on the target's buffers and allocates from
// the target's pool (draftLoad.ts, planDraftKv's shareKv).

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
 * blocks, the draft's capped at the blocks of `draftMaxTokens` (its one sequence at its longest), the rest to
 * the target. Throws OutOfMemoryError when the budget holds no block of each.
 */
export function splitKvBudget(budgetBytes: number, target: KvShape, draft: KvShape, draftMaxTokens: number): KvBudgetSplit {
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
  const draftBlocks = Math.min(equalBlocks, Math.ceil(draftMaxTokens / bs));
  const draftBytes = draftBlocks * draftBlockBytes;
  const targetBlocks = Math.floor((budgetBytes - draftBytes) / targetBlockBytes);
  return { targetBytes: targetBlocks * targetBlockBytes, draftBytes, targetBlocks, draftBlocks };
}

/** The draft's pool when the caller gives no budget: its one sequence at its longest (the target keeps its own default). */
export function draftDefaultKvBytes(draft: KvShape, draftMaxTokens: number): number {
  return Math.ceil(draftMaxTokens / draft.blockSize) * kvBytesPerToken(draft) * draft.blockSize;
}

/** What a loaded model's KV pool holds: blocks, tokens, bytes (every layer's K and V). */
export function kvPoolOf(model: { kv: { nBlocks: number; blockBytes: number; capacityTokens: number }; config: { nLayers: number } }): { blocks: number; tokens: number; bytes: number } {
  return { blocks: model.kv.nBlocks, tokens: model.kv.capacityTokens, bytes: model.kv.nBlocks * model.kv.blockBytes * 2 * model.config.nLayers };
}
