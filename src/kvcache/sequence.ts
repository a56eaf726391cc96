// A sequence's view of the pool: its block table and how many positions hold valid K/V.
// Appending allocates blocks as needed; rollback (rejected draft tokens, an edit) is truncation.
// A sequence may hold blocks it shares with others (prefix reuse). Full blocks are never written again;
// a partial last block that is shared or registered in the prefix index is copied before the first write
// into it (copy-on-write), so a cached block's contents never change under its readers.
//
// Sliding-window models: a query at position p reads only positions > p - window, so full blocks that fell
// behind the window are released (releaseBefore) and their table entries become RELEASED. Released entries
// always form a leading run [0, releasedBlocks): a sequence holds about window / blockSize blocks however
// long it grows. A registered block released this way stays cached for prefix reuse like any other.

import type { BlockPool } from './blockPool';

/** Copies block `src`'s K/V (every layer) into block `dst` on the GPU, ordered before later passes. */
export type BlockCopier = (src: number, dst: number) => void;

/** A block-table entry whose block was released (its positions are behind the sliding window). */
export const RELEASED = 0xffffffff;

/**
 * First position a sequence must still hold before a forward pass whose first query is at `nextPos`:
 * that query reads positions > nextPos - window; `slackTokens` more are kept so that a rollback of up to
 * that many positions (rejected draft tokens) still finds its window.
 */
export function windowStart(nextPos: number, window: number, slackTokens = 0): number {
  return window > 0 ? Math.max(0, nextPos + 1 - window - slackTokens) : 0;
}

export class Sequence {
  /** Block ids in position order: position p lives in blockTable[p / blockSize], slot p % blockSize. */
  readonly blockTable: number[] = [];
  /** Positions whose K/V are written. */
  length = 0;
  /** Copy-on-write operations done by this sequence. */
  copies = 0;
  /** Leading block-table entries that are RELEASED (sliding window). */
  releasedBlocks = 0;
  /**
   * Called before releaseBefore drops blocks [releasedBlocks, upTo): the prefix cache registers them
   * first, so they stay reusable as cached blocks.
   */
  beforeRelease?: (upTo: number) => void;

  /** Without `copyBlock`, the sequence must never hold a shared or registered partial block. */
  constructor(readonly pool: BlockPool, private readonly copyBlock?: BlockCopier) {}

  /**
   * A sequence over blocks the caller has already retained (one reference each, now owned by the
   * sequence), holding K/V for positions [0, length).
   */
  static adopt(pool: BlockPool, copyBlock: BlockCopier | undefined, blocks: number[], length: number): Sequence {
    if (Math.ceil(length / pool.blockSize) !== blocks.length) throw new RangeError(`${blocks.length} blocks for ${length} positions`);
    const seq = new Sequence(pool, copyBlock);
    seq.blockTable.push(...blocks);
    seq.length = length;
    while (seq.releasedBlocks < blocks.length && blocks[seq.releasedBlocks] === RELEASED) seq.releasedBlocks++;
    for (let i = seq.releasedBlocks; i < blocks.length; i++) if (blocks[i] === RELEASED) throw new RangeError(`released block ${i} after a live one`);
    if (seq.releasedBlocks * pool.blockSize > length - (length % pool.blockSize)) throw new RangeError('a partial block cannot be released');
    return seq;
  }

  /** Position of the first K/V the sequence still holds. */
  get firstHeldPosition(): number {
    return this.releasedBlocks * this.pool.blockSize;
  }

  get blockSize(): number {
    return this.pool.blockSize;
  }

  /**
   * Makes room for positions [0, nPositions): copies a shared or registered partial last block first, then
   * allocates blocks. Throws OutOfMemoryError when the pool is full, leaving the sequence as it was.
   */
  reserve(nPositions: number): void {
    const bs = this.pool.blockSize;
    if (nPositions > this.length && this.length % bs !== 0) this.makeTailWritable();
    const need = Math.ceil(nPositions / bs);
    const added: number[] = [];
    try {
      while (this.blockTable.length < need) {
        const b = this.pool.allocate();
        added.push(b);
        this.blockTable.push(b);
      }
    } catch (e) {
      // Nothing half-reserved (the copied tail stays: it holds the same K/V).
      for (const b of added) {
        this.blockTable.pop();
        this.pool.release(b);
      }
      throw e;
    }
  }

  /** Forgets positions >= n and releases blocks no longer needed, last block first. */
  truncate(n: number): void {
    if (n < 0 || n > this.length) throw new RangeError(`truncate to ${n} of ${this.length}`);
    this.length = n;
    const keep = Math.ceil(n / this.pool.blockSize);
    while (this.blockTable.length > keep) {
      const b = this.blockTable.pop()!;
      if (b !== RELEASED) this.pool.release(b);
    }
    this.releasedBlocks = Math.min(this.releasedBlocks, keep);
  }

  /**
   * Releases the full blocks whose positions all lie before `pos` (sliding window); returns how many.
   * Their entries become RELEASED; the sequence keeps its length.
   */
  releaseBefore(pos: number): number {
    const upTo = Math.min(Math.floor(pos / this.pool.blockSize), Math.floor(this.length / this.pool.blockSize));
    if (upTo <= this.releasedBlocks) return 0;
    this.beforeRelease?.(upTo);
    const from = this.releasedBlocks;
    for (let i = from; i < upTo; i++) {
      this.pool.release(this.blockTable[i]);
      this.blockTable[i] = RELEASED;
    }
    this.releasedBlocks = upTo;
    return upTo - from;
  }

  /** Releases every block. */
  clear(): void {
    this.truncate(0);
  }

  private makeTailWritable(): void {
    const i = Math.floor(this.length / this.pool.blockSize);
    const src = this.blockTable[i];
    if (this.pool.refcount(src) === 1 && !this.pool.isRegistered(src)) return;
    if (!this.copyBlock) throw new Error(`sequence would write into shared block ${src} and has no block copier`);
    const dst = this.pool.allocate();
    this.copyBlock(src, dst);
    this.blockTable[i] = dst;
    this.pool.release(src);
    this.copies++;
  }
}
