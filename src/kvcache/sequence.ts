// A sequence's view of the pool: its block table and how many positions hold valid K/V.
// Appending allocates blocks as needed; rollback (rejected draft tokens, an edit) is truncation.
// A sequence may hold blocks it shares with others (prefix reuse). Full blocks are never written again;
// a partial last block that is shared or registered in the prefix index is copied before the first write
// into it (copy-on-write), so a cached block's contents never change under its readers.

import type { BlockPool } from './blockPool';

/** Copies block `src`'s K/V (every layer) into block `dst` on the GPU, ordered before later passes. */
export type BlockCopier = (src: number, dst: number) => void;

export class Sequence {
  /** Block ids in position order: position p lives in blockTable[p / blockSize], slot p % blockSize. */
  readonly blockTable: number[] = [];
  /** Positions whose K/V are written. */
  length = 0;
  /** Copy-on-write operations done by this sequence. */
  copies = 0;

  /** Without `copyBlock`, the sequence must never hold a shared or registered partial block. */
  constructor(private readonly pool: BlockPool, private readonly copyBlock?: BlockCopier) {}

  /**
   * A sequence over blocks the caller has already retained (one reference each, now owned by the
   * sequence), holding K/V for positions [0, length).
   */
  static adopt(pool: BlockPool, copyBlock: BlockCopier | undefined, blocks: number[], length: number): Sequence {
    if (Math.ceil(length / pool.blockSize) !== blocks.length) throw new RangeError(`${blocks.length} blocks for ${length} positions`);
    const seq = new Sequence(pool, copyBlock);
    seq.blockTable.push(...blocks);
    seq.length = length;
    return seq;
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
    while (this.blockTable.length > keep) this.pool.release(this.blockTable.pop()!);
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
