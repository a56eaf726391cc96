// Prefix reuse on the CPU side: building a sequence for a new prompt out of cached blocks, and registering
// a sequence's full blocks so later prompts can reuse them. No GPU work happens here except through the
// block copier (copy-on-write of a partial last block, done lazily by Sequence.reserve on the first write).
//
// acquire(prompt) takes, in order:
//   1. the longest chain of full blocks in the prefix index that equals the prompt's start;
//   2. from the caller's previous sequence for the same document, every further block up to the longest
//      common prefix of its tokens and the prompt, the last one usually partial. A partial block held only
//      by this document and not registered is taken over as is; otherwise the first write copies it.
// So typing one character after the cursor costs about one token of prefill, and undo finds the blocks
// that were cached before the edit.
//
// Sliding-window models: blocks behind the window of the new sequence's next position are not taken
// (their entries are RELEASED); the previous sequence's released blocks are holes that the new sequence
// may keep only when its window does not reach them. The index identity (keys, serials) of full blocks
// carries over from the previous sequence, so blocks registered before a window released them keep the
// chain going for the blocks after them.

import type { BlockPool } from './blockPool';
import { RELEASED, Sequence, windowStart, type BlockCopier } from './sequence';
import { chainHash, PrefixIndex, ROOT_SERIAL } from './prefixIndex';

/** A sequence together with the token ids whose K/V it holds and the index identity of its full blocks. */
export class CachedSequence {
  /** tokens[p] is the token at position p; tokens.length === seq.length. */
  readonly tokens: number[];
  /** keys[i] / serials[i]: index identity of full block i, for the first serials.length blocks. */
  readonly keys: number[];
  readonly serials: number[];

  constructor(readonly seq: Sequence, tokens: number[] = [], keys: number[] = [], serials: number[] = []) {
    this.tokens = tokens;
    this.keys = keys;
    this.serials = serials;
  }

  get length(): number {
    return this.seq.length;
  }

  /** Records the tokens of a forward pass that just appended to `seq`. */
  appended(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) this.tokens.push(tokens[i]);
    if (this.tokens.length !== this.seq.length) throw new Error(`sequence holds ${this.seq.length} positions, ${this.tokens.length} tokens recorded`);
  }

  /**
   * Re-reads the token record after forward passes that appended `source`'s tokens beyond it (a prefill
   * or decode loop, possibly cut short by an error): tokens = source[0, seq.length).
   */
  sync(source: readonly number[]): void {
    if (source.length < this.seq.length) throw new Error(`sequence holds ${this.seq.length} positions, only ${source.length} tokens given`);
    for (let p = this.tokens.length; p < this.seq.length; p++) this.tokens.push(source[p]);
    this.tokens.length = this.seq.length;
  }

  /** Rollback to the first n positions. */
  truncate(n: number): void {
    this.seq.truncate(n);
    this.tokens.length = n;
    const fullBlocks = Math.floor(n / this.seq.blockSize);
    if (this.serials.length > fullBlocks) {
      this.serials.length = fullBlocks;
      this.keys.length = fullBlocks;
    }
  }
}

export interface PrefixCacheOptions {
  /** Names everything besides tokens that changes the K/V: model identity, dtype, block size. */
  namespace: string;
  /** GPU copy of one block (every layer); required for copy-on-write. */
  copyBlock?: BlockCopier;
  /** false: nothing is reused or registered (the baseline of the edit-replay benchmark). */
  enabled?: boolean;
  /**
   * false: no prefix index; a new sequence reuses only the caller's previous sequence, by its longest
   * common prefix with the prompt (one slot, as llama-server keeps; a draft model's baseline). Default true.
   */
  index?: boolean;
  /** Replaces the index's chained hash (tests). */
  hash?: typeof chainHash;
  /** Sliding-window model: the window and the slack its forward passes keep (LlamaModel's options). */
  window?: { tokens: number; slackTokens: number };
}

/**
 * The prefix-index namespace of a model's K/V: everything besides the tokens that changes them (the
 * model's name and shapes, the KV type, the block size). Two models that share it must give the same K/V.
 */
export function modelNamespace(model: { config: { name: string; nLayers: number; dModel: number; nKvHeads: number; headDim: number; vocabSize: number }; options: { kvType?: string; blockSize: number } }): string {
  const c = model.config;
  return `${c.name}|${c.nLayers}x${c.dModel}|kv${c.nKvHeads}x${c.headDim}${model.options.kvType}|vocab${c.vocabSize}|block${model.options.blockSize}`;
}

export class PrefixCache {
  readonly index: PrefixIndex;
  readonly enabled: boolean;
  /** Full blocks are registered and looked up in `index` (PrefixCacheOptions.index). */
  readonly indexed: boolean;
  private readonly copyBlock?: BlockCopier;
  private readonly window: { tokens: number; slackTokens: number };

  constructor(readonly pool: BlockPool, o: PrefixCacheOptions) {
    this.index = new PrefixIndex(pool, o.namespace, o.hash);
    this.copyBlock = o.copyBlock;
    this.enabled = o.enabled ?? true;
    this.indexed = o.index ?? true;
    this.window = o.window ?? { tokens: 0, slackTokens: 0 };
  }

  get blockSize(): number {
    return this.pool.blockSize;
  }

  /** An empty sequence on this pool. */
  empty(): CachedSequence {
    return new CachedSequence(new Sequence(this.pool, this.copyBlock));
  }

  /**
   * A sequence holding the K/V of the longest reusable prefix of `prompt`, at most `maxReuse` tokens (pass
   * prompt.length - 1 to keep one token to run for the logits). Consumes `previous` (releases its blocks).
   * Allocates nothing, so it cannot run out of memory.
   */
  acquire(prompt: readonly number[], maxReuse: number, previous?: CachedSequence): CachedSequence {
    const limit = Math.max(0, Math.min(maxReuse, prompt.length));
    if (!this.enabled) {
      if (previous) this.release(previous);
      return this.empty();
    }
    const bs = this.pool.blockSize;
    const W = this.window.tokens;
    const m = this.indexed ? this.index.match(prompt, limit) : { blocks: [], keys: [], serials: [] };
    const matched = m.blocks.length;
    let length = matched * bs;
    // Blocks [matched, holesUpTo) of `previous` are RELEASED and not in the index any more.
    let usePrevious = false;
    let holesUpTo = 0;
    if (previous) {
      const common = Math.min(limit, commonPrefix(previous.tokens, prompt));
      const released = previous.seq.releasedBlocks;
      if (common > length && (released <= matched || released * bs <= windowStart(common, W))) {
        usePrevious = true;
        length = common;
        if (released > matched) holesUpTo = released;
      }
    }
    // Blocks the next forward pass (and a rollback within the slack) does not read are not taken.
    const skip = Math.min(Math.floor(length / bs), Math.max(holesUpTo, Math.floor(windowStart(length, W, this.window.slackTokens) / bs)));
    const blocks: number[] = [];
    for (let i = 0; i * bs < length; i++) {
      if (i < skip) { blocks.push(RELEASED); continue; }
      const b = i < matched ? m.blocks[i] : previous!.seq.blockTable[i];
      this.pool.retain(b);
      blocks.push(b);
    }
    const keys = m.keys.slice();
    const serials = m.serials.slice();
    if (usePrevious && previous && sameRun(previous.serials, serials)) {
      const n = Math.min(Math.floor(length / bs), previous.serials.length);
      for (let i = serials.length; i < n; i++) {
        keys.push(previous.keys[i]);
        serials.push(previous.serials[i]);
      }
    }
    if (previous) this.release(previous);
    const seq = Sequence.adopt(this.pool, this.copyBlock, blocks, length);
    return new CachedSequence(seq, prompt.slice(0, length), keys, serials);
  }

  /**
   * Registers the sequence's full blocks not yet in the index. A block equal to one already cached is
   * replaced by the cached one in the block table, so duplicates go back to the free list.
   */
  commit(cs: CachedSequence, upToBlock = Math.floor(cs.length / this.pool.blockSize)): void {
    if (!this.enabled || !this.indexed) return;
    const bs = this.pool.blockSize;
    const full = Math.min(upToBlock, Math.floor(cs.length / bs));
    for (let i = cs.serials.length; i < full; i++) {
      const parentKey = i === 0 ? this.index.rootKey : cs.keys[i - 1];
      const parentSerial = i === 0 ? ROOT_SERIAL : cs.serials[i - 1];
      const own = cs.seq.blockTable[i];
      // Released before it was registered: the chain cannot go on past it.
      if (own === RELEASED) break;
      const e = this.index.register(own, parentKey, parentSerial, cs.tokens, i * bs);
      if (e.block !== own) {
        this.pool.retain(e.block);
        cs.seq.blockTable[i] = e.block;
        this.pool.release(own);
      }
      cs.keys.push(e.key);
      cs.serials.push(e.serial);
    }
  }

  /**
   * Sliding-window models: before a forward pass releases blocks of `cs` (Sequence.beforeRelease),
   * registers them, their tokens read from `tokens()` (every position fed so far), so they stay reusable.
   */
  commitBeforeRelease(cs: CachedSequence, tokens: () => readonly number[]): void {
    cs.seq.beforeRelease = (upTo) => {
      cs.sync(tokens());
      this.commit(cs, upTo);
    };
  }

  /** Drops the sequence's references; registered blocks stay cached until the pool needs them. */
  release(cs: CachedSequence): void {
    cs.truncate(0);
  }
}

/** True when `a` starts with `prefix`. */
function sameRun(a: readonly number[], prefix: readonly number[]): boolean {
  if (a.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
