// CPU bookkeeping of the paged KV pool: fixed-size blocks, reference counts, a free list and an LRU of
// cached blocks. A block id indexes the same slot range in every layer's K and V buffers (kvBuffers.ts).
//
// A block is in exactly one of three states:
//   used    refcount > 0 (held by one or more sequences' block tables)
//   cached  refcount 0, registered in the prefix index: its K/V stay valid for a later hit; kept in an LRU
//           and evicted (index entry dropped, block reused) only when an allocation finds no free block
//   free    refcount 0, not registered: on the free list
// Sharing (prefix reuse) raises a block's refcount; a writer that does not own a block alone, or whose block
// is registered, copies it first (copy-on-write, see Sequence.reserve).

import { LRUCache } from 'lru-cache';
import { OutOfMemoryError } from '../common/errors';

export interface PoolStats {
  totalBlocks: number;
  usedBlocks: number;
  cachedBlocks: number;
  freeBlocks: number;
  /** Cached blocks reclaimed for new allocations since the pool was built. */
  evictions: number;
}

export class BlockPool {
  private readonly refcounts: Uint32Array;
  /** 1 where the block is registered in a prefix index (its contents must not change while it is). */
  private readonly registered: Uint8Array;
  /** Free block ids, used as a stack (the most recently freed block is reused first: it is warm). */
  private readonly free: number[] = [];
  /** Unreferenced registered blocks, least recently released first; key and value are the block id. */
  private readonly lru: LRUCache<number, number>;
  private used = 0;
  private evicted = 0;
  /**
   * Told when a cached block is reclaimed, so the index that registered it forgets it. One per prefix
   * index on the pool: a draft model on its target's KV buffers keeps an index of its own in the same pool.
   */
  private readonly evictionListeners: Array<(block: number) => void> = [];
  /**
   * Asked when no block is free or cached: may drop references held by idle owners (documents not in a
   * request) and returns true if that may have released a block. The allocation then tries again.
   */
  onPressure?: () => boolean;

  constructor(readonly nBlocks: number, readonly blockSize: number) {
    if (!Number.isInteger(nBlocks) || nBlocks < 1) throw new RangeError(`nBlocks ${nBlocks}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize ${blockSize}`);
    this.refcounts = new Uint32Array(nBlocks);
    this.registered = new Uint8Array(nBlocks);
    // max is a bound the LRU never reaches on its own: eviction is explicit (pop), never by capacity.
    this.lru = new LRUCache<number, number>({ max: nBlocks + 1 });
    for (let b = nBlocks - 1; b >= 0; b--) this.free.push(b);
  }

  /** Adds a listener told of every cached block the pool reclaims (a prefix index forgets it). */
  addEvictionListener(listener: (block: number) => void): void {
    this.evictionListeners.push(listener);
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  /** Blocks held by at least one sequence. */
  get usedBlocks(): number {
    return this.used;
  }

  get cachedBlocks(): number {
    return this.lru.size;
  }

  /** Blocks an allocation could get now without pressure: free plus cached. */
  get availableBlocks(): number {
    return this.free.length + this.lru.size;
  }

  stats(): PoolStats {
    return { totalBlocks: this.nBlocks, usedBlocks: this.used, cachedBlocks: this.lru.size, freeBlocks: this.free.length, evictions: this.evicted };
  }

  refcount(block: number): number {
    return this.refcounts[block];
  }

  isRegistered(block: number): boolean {
    return this.registered[block] === 1;
  }

  /**
   * A fresh block with refcount 1: a free one, else the least recently used cached one (evicted from the
   * index), else whatever onPressure releases. Throws OutOfMemoryError when all blocks are in use.
   */
  allocate(): number {
    for (;;) {
      let b = this.free.pop();
      if (b === undefined) {
        b = this.lru.pop();
        if (b !== undefined) {
          this.registered[b] = 0;
          this.evicted++;
          for (const listener of this.evictionListeners) listener(b);
        }
      }
      if (b !== undefined) {
        this.refcounts[b] = 1;
        this.used++;
        return b;
      }
      if (!this.onPressure?.()) break;
    }
    throw new OutOfMemoryError(`the KV cache is full: all ${this.nBlocks} blocks of ${this.blockSize} tokens are in use by requests`);
  }

  /** Adds a reference; a cached block (refcount 0, registered) comes back into use. */
  retain(block: number): void {
    this.check(block);
    if (this.refcounts[block] === 0) {
      if (!this.lru.delete(block)) throw new Error(`retain of free block ${block}`);
      this.used++;
    }
    this.refcounts[block]++;
  }

  /** Drops one reference; returns true when the block became free (not merely cached). */
  release(block: number): boolean {
    this.check(block);
    if (this.refcounts[block] === 0) throw new Error(`double release of block ${block}`);
    if (--this.refcounts[block] > 0) return false;
    this.used--;
    if (this.registered[block]) {
      this.lru.set(block, block);
      return false;
    }
    this.free.push(block);
    return true;
  }

  /** Marks a block in use as holding index-registered contents: from now on writers copy it first. */
  markRegistered(block: number): void {
    this.check(block);
    if (this.refcounts[block] === 0) throw new Error(`register of unreferenced block ${block}`);
    this.registered[block] = 1;
  }

  /** The index dropped the block (e.g. a newer entry took its key); an unreferenced one becomes free. */
  unmarkRegistered(block: number): void {
    this.check(block);
    if (!this.registered[block]) return;
    this.registered[block] = 0;
    if (this.refcounts[block] === 0 && this.lru.delete(block)) this.free.push(block);
  }

  /** Throws if the three states do not partition the pool (tests; O(nBlocks)). */
  checkInvariants(): void {
    const onFree = new Uint8Array(this.nBlocks);
    for (const b of this.free) {
      if (onFree[b]) throw new Error(`block ${b} twice on the free list`);
      onFree[b] = 1;
      if (this.refcounts[b] !== 0) throw new Error(`free block ${b} has refcount ${this.refcounts[b]}`);
      if (this.registered[b]) throw new Error(`free block ${b} is registered`);
    }
    let used = 0;
    for (let b = 0; b < this.nBlocks; b++) {
      const inLru = this.lru.has(b);
      if (this.refcounts[b] > 0) {
        used++;
        if (inLru || onFree[b]) throw new Error(`used block ${b} is also cached or free`);
      } else if (inLru) {
        if (!this.registered[b] || onFree[b]) throw new Error(`cached block ${b} unregistered or also free`);
      } else if (!onFree[b]) {
        throw new Error(`block ${b} leaked: refcount 0, neither cached nor free`);
      }
    }
    if (used !== this.used) throw new Error(`used count ${this.used}, counted ${used}`);
    if (used + this.lru.size + this.free.length !== this.nBlocks) throw new Error('pool accounting does not add up');
  }

  private check(block: number): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.nBlocks) throw new RangeError(`block ${block} outside the pool`);
  }
}
