// CPU bookkeeping of the paged KV pool: fixed-size blocks, a free list and reference counts.
// A block id indexes the same slot range in every layer's K and V buffers (kvBuffers.ts).
// Sharing (prefix reuse) raises a block's refcount; a writer that does not own a block alone must copy it
// first (copy-on-write, done by the sequence that wants to append).

import { OutOfMemoryError } from '../common/errors';

export class BlockPool {
  private readonly refcounts: Uint32Array;
  /** Free block ids, used as a stack (the most recently freed block is reused first: it is warm). */
  private readonly free: number[] = [];

  constructor(readonly nBlocks: number, readonly blockSize: number) {
    if (!Number.isInteger(nBlocks) || nBlocks < 1) throw new RangeError(`nBlocks ${nBlocks}`);
    this.refcounts = new Uint32Array(nBlocks);
    for (let b = nBlocks - 1; b >= 0; b--) this.free.push(b);
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  get usedBlocks(): number {
    return this.nBlocks - this.free.length;
  }

  refcount(block: number): number {
    return this.refcounts[block];
  }

  /** A fresh block with refcount 1. Throws OutOfMemoryError when none is free. */
  allocate(): number {
    const b = this.free.pop();
    if (b === undefined) {
      throw new OutOfMemoryError(`the KV cache is full (${this.nBlocks} blocks of ${this.blockSize} tokens)`);
    }
    this.refcounts[b] = 1;
    return b;
  }

  retain(block: number): void {
    if (this.refcounts[block] === 0) throw new Error(`retain of free block ${block}`);
    this.refcounts[block]++;
  }

  /** Drops one reference; returns true when the block became free. */
  release(block: number): boolean {
    if (this.refcounts[block] === 0) throw new Error(`double release of block ${block}`);
    if (--this.refcounts[block] === 0) {
      this.free.push(block);
      return true;
    }
    return false;
  }
}
