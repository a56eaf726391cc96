// A sequence's view of the pool: its block table and how many positions hold valid K/V.
// Appending allocates blocks as needed; rollback (rejected draft tokens, an edit) is truncation.

import type { BlockPool } from './blockPool';

export class Sequence {
  /** Block ids in position order: position p lives in blockTable[p / blockSize], slot p % blockSize. */
  readonly blockTable: number[] = [];
  /** Positions whose K/V are written. */
  length = 0;

  constructor(private readonly pool: BlockPool) {}

  get blockSize(): number {
    return this.pool.blockSize;
  }

  /** Makes room for positions [0, nPositions), allocating blocks (throws OutOfMemoryError when full). */
  reserve(nPositions: number): void {
    const need = Math.ceil(nPositions / this.pool.blockSize);
    const added: number[] = [];
    try {
      while (this.blockTable.length < need) {
        const b = this.pool.allocate();
        added.push(b);
        this.blockTable.push(b);
      }
    } catch (e) {
      // Leave the sequence as it was: nothing half-reserved.
      for (const b of added) {
        this.blockTable.pop();
        this.pool.release(b);
      }
      throw e;
    }
  }

  /** Forgets positions >= n and frees blocks no longer needed. */
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
}
