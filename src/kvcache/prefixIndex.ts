// The prefix index (nano-vllm's scheme): every full block whose K/V are cached is keyed by a chained hash
//   key(block i) = hash(key(block i-1), token ids of block i),   key(-1) = hash(namespace)
// where the namespace names everything else that changes K/V (model, block size). The hash only finds a
// candidate: a hit is accepted after checking the block's token ids one by one and that its parent is the
// entry the previous block matched (by serial number, never reused), so by induction a hit holds the K/V of
// exactly the same token prefix. Registered blocks are immutable (the pool makes writers copy them) and
// are forgotten when the pool evicts them.

import type { BlockPool } from './blockPool';

/** The chain before block 0. */
export const ROOT_SERIAL = 0;

export interface IndexEntry {
  readonly key: number;
  /** Unique per registration, never reused: the identity of "this token prefix's K/V". */
  readonly serial: number;
  readonly parentSerial: number;
  readonly tokens: Uint32Array;
  readonly block: number;
}

export interface IndexMatch {
  /** Matched blocks in position order (not retained: the caller retains them). */
  blocks: number[];
  keys: number[];
  serials: number[];
}

export interface IndexStats {
  entries: number;
  /** Full blocks looked up / found by `match` since the index was built. */
  blockLookups: number;
  blockHits: number;
  /** Candidates whose key matched but whose tokens or parent did not (hash collisions, stale chains). */
  rejectedHits: number;
}

/** A 53-bit hash of (parent key, tokens[from, to)): two 32-bit murmur3-style lanes. */
export function chainHash(parentKey: number, tokens: ArrayLike<number>, from: number, to: number): number {
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca6b;
  const step = (x: number): void => {
    let k = Math.imul(x, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h1 = Math.imul((h1 ^ k) << 13 | (h1 ^ k) >>> 19, 5) + 0xe6546b64;
    h2 = Math.imul(h2 ^ Math.imul(x ^ 0x27d4eb2f, 0x165667b1), 0x27d4eb2d) + (h1 >>> 7);
  };
  step(parentKey >>> 0);
  step(Math.floor(parentKey / 0x100000000));
  step(to - from);
  for (let i = from; i < to; i++) step(tokens[i]);
  const fmix = (h: number): number => {
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  return (fmix(h1 ^ h2) & 0x1fffff) * 0x100000000 + fmix(h2 + Math.imul(h1, 31));
}

export class PrefixIndex {
  readonly rootKey: number;
  private readonly byKey = new Map<number, IndexEntry>();
  private readonly byBlock = new Map<number, IndexEntry>();
  private nextSerial = ROOT_SERIAL + 1;
  private lookups = 0;
  private hits = 0;
  private rejected = 0;

  /** `hash` replaces chainHash in tests (a weak one forces collisions, which the token check must catch). */
  constructor(private readonly pool: BlockPool, readonly namespace: string, private readonly hash: typeof chainHash = chainHash) {
    const codes = Array.from(namespace, (c) => c.codePointAt(0)!);
    this.rootKey = hash(0, codes, 0, codes.length);
    pool.addEvictionListener((block) => this.forget(block));
  }

  get blockSize(): number {
    return this.pool.blockSize;
  }

  stats(): IndexStats {
    return { entries: this.byKey.size, blockLookups: this.lookups, blockHits: this.hits, rejectedHits: this.rejected };
  }

  /** The longest chain of cached full blocks equal to tokens[0, n·blockSize) with n·blockSize <= maxTokens. */
  match(tokens: ArrayLike<number>, maxTokens: number): IndexMatch {
    const bs = this.pool.blockSize;
    const out: IndexMatch = { blocks: [], keys: [], serials: [] };
    let parentKey = this.rootKey;
    let parentSerial = ROOT_SERIAL;
    for (let end = bs; end <= Math.min(maxTokens, tokens.length); end += bs) {
      const key = this.hash(parentKey, tokens, end - bs, end);
      this.lookups++;
      const e = this.byKey.get(key);
      if (!e) break;
      if (e.parentSerial !== parentSerial || !sameTokens(e.tokens, tokens, end - bs)) {
        this.rejected++;
        break;
      }
      this.hits++;
      out.blocks.push(e.block);
      out.keys.push(key);
      out.serials.push(e.serial);
      parentKey = key;
      parentSerial = e.serial;
    }
    return out;
  }

  /**
   * Registers `block` (in use, full, holding the K/V of tokens[from, from + blockSize) after the chain
   * `parentSerial`) and returns its entry. If an equal entry exists, returns that one and registers nothing:
   * the caller may switch to the existing block and drop its duplicate.
   */
  register(block: number, parentKey: number, parentSerial: number, tokens: ArrayLike<number>, from: number): IndexEntry {
    const bs = this.pool.blockSize;
    if (from + bs > tokens.length) throw new RangeError(`register of a partial block (${tokens.length - from} of ${bs} tokens)`);
    const key = this.hash(parentKey, tokens, from, from + bs);
    const old = this.byKey.get(key);
    if (old && old.parentSerial === parentSerial && sameTokens(old.tokens, tokens, from)) return old;
    // A stale chain or a hash collision holds the key: the newer contents take it.
    if (old) this.drop(old);
    const mine = this.byBlock.get(block);
    if (mine) this.drop(mine);
    const e: IndexEntry = { key, serial: this.nextSerial++, parentSerial, tokens: Uint32Array.from({ length: bs }, (_, i) => tokens[from + i]), block };
    this.byKey.set(key, e);
    this.byBlock.set(block, e);
    this.pool.markRegistered(block);
    return e;
  }

  entryOf(block: number): IndexEntry | undefined {
    return this.byBlock.get(block);
  }

  /** Every entry (tests). */
  entries(): IterableIterator<IndexEntry> {
    return this.byKey.values();
  }

  /** Forgets every entry; unreferenced blocks go back to the free list, referenced ones stop being shared. */
  clear(): void {
    for (const e of [...this.byKey.values()]) this.drop(e);
    this.byBlock.clear();
  }

  /** The pool reclaimed `block`. */
  private forget(block: number): void {
    const e = this.byBlock.get(block);
    if (!e) return;
    this.byBlock.delete(block);
    if (this.byKey.get(e.key) === e) this.byKey.delete(e.key);
  }

  private drop(e: IndexEntry): void {
    if (this.byKey.get(e.key) === e) this.byKey.delete(e.key);
    this.byBlock.delete(e.block);
    this.pool.unmarkRegistered(e.block);
  }
}

function sameTokens(a: Uint32Array, tokens: ArrayLike<number>, from: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== tokens[from + i]) return false;
  return true;
}
