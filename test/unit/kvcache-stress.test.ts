// The KV pool, prefix index and prefix cache on the CPU under 10,000 random operations, with a shadow of
// the GPU cache: every slot holds the id of the token prefix whose K/V a real forward pass would have
// written there. After every operation: the pool's three states partition it, every block's refcount
// equals the references the live sequences hold (no leak, nothing freed while referenced), registered
// blocks are never written, and every sequence (in particular one the index just built) reads exactly
// its own token prefix through its block table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockPool } from '../../src/kvcache/blockPool';
import { PrefixCache, type CachedSequence } from '../../src/kvcache/prefixCache';
import { chainHash } from '../../src/kvcache/prefixIndex';
import { RELEASED, Sequence, windowStart } from '../../src/kvcache/sequence';
import { OutOfMemoryError } from '../../src/common/errors';
import { Rng } from '../../src/engine/sampler';

class Shadow {
  /** [block][slot] → prefix id (0: never written). */
  readonly slots: Int32Array;
  private readonly ids = new Map<string, number>();
  readonly prefixes: string[] = [''];

  constructor(readonly nBlocks: number, readonly bs: number) {
    this.slots = new Int32Array(nBlocks * bs);
  }

  prefixId(tokens: readonly number[], p: number): number {
    const key = tokens.slice(0, p + 1).join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.prefixes.length;
      this.ids.set(key, id);
      this.prefixes.push(key);
    }
    return id;
  }

  /** The positions of `seq` whose slots do not hold the K/V of `tokens`' prefix. */
  mismatches(seq: Sequence, tokens: readonly number[]): number[] {
    const bad: number[] = [];
    // Positions behind a sliding window are released: nothing to check there.
    for (let p = seq.firstHeldPosition; p < seq.length; p++) {
      const b = seq.blockTable[Math.floor(p / this.bs)];
      if (this.slots[b * this.bs + (p % this.bs)] !== this.prefixId(tokens, p)) bad.push(p);
    }
    return bad;
  }
}

interface Doc {
  tokens: number[];
  history: number[][];
  cs?: CachedSequence;
  busy: boolean;
}

interface StressOptions {
  nBlocks: number;
  bs: number;
  vocab: number;
  weakHash: boolean;
  /** A sliding-window model: forward passes release blocks behind the window (as LlamaModel.forward). */
  window?: { tokens: number; slackTokens: number };
}

function runStress(seed: number, nOps: number, o: StressOptions): Record<string, number> {
  const rng = new Rng(seed);
  const rand = (n: number): number => Math.floor(rng.next() * n);
  const pool = new BlockPool(o.nBlocks, o.bs);
  const shadow = new Shadow(o.nBlocks, o.bs);
  const copyBlock = (src: number, dst: number): void => {
    assert.ok(pool.refcount(src) > 0, `copy from unreferenced block ${src}`);
    shadow.slots.copyWithin(dst * o.bs, src * o.bs, (src + 1) * o.bs);
  };
  // A 3-bit hash: most lookups meet a colliding entry, which only the token and parent checks reject.
  const weak: typeof chainHash = (k, t, f, e) => chainHash(k, t, f, e) % 8;
  const cache = new PrefixCache(pool, { namespace: 'stress', copyBlock, hash: o.weakHash ? weak : undefined, window: o.window });
  const docs: Doc[] = Array.from({ length: 4 }, () => ({ tokens: [], history: [], busy: false }));
  // Sequences outside the cache (a plain generation holding blocks), to put the pool under pressure.
  const plain: Sequence[] = [];
  pool.onPressure = () => {
    const idle = docs.find((d) => d.cs && !d.busy && d.cs.length > 0);
    if (!idle) return false;
    cache.release(idle.cs!);
    idle.cs = undefined;
    return true;
  };
  const counts: Record<string, number> = {};
  const count = (k: string): void => { counts[k] = (counts[k] ?? 0) + 1; };

  /** What a forward pass does to the cache: release blocks behind a window, reserve, write each new position's slot. */
  const forward = (seq: Sequence, tokens: readonly number[], n: number): void => {
    const p0 = seq.length;
    if (o.window) {
      assert.ok(seq.firstHeldPosition <= windowStart(p0, o.window.tokens), `position ${p0}'s window reads released position ${seq.firstHeldPosition - 1}`);
      if (seq.releaseBefore(windowStart(p0, o.window.tokens, o.window.slackTokens)) > 0) count('windowRelease');
    }
    seq.reserve(p0 + n);
    if (o.window) {
      const live = seq.blockTable.length - seq.releasedBlocks;
      assert.ok(live <= Math.ceil((o.window.tokens + o.window.slackTokens + n) / o.bs) + 1, `${live} blocks held for a window of ${o.window.tokens}`);
    }
    for (let p = p0; p < p0 + n; p++) {
      const b = seq.blockTable[Math.floor(p / o.bs)];
      assert.equal(pool.refcount(b), 1, `write into shared block ${b}`);
      assert.ok(!pool.isRegistered(b), `write into registered block ${b}`);
      shadow.slots[b * o.bs + (p % o.bs)] = shadow.prefixId(tokens, p);
    }
    seq.length = p0 + n;
  };

  const request = (d: Doc, extra: number): void => {
    if (d.tokens.length === 0) return;
    d.busy = true;
    const cs = cache.acquire(d.tokens, d.tokens.length - 1, d.cs);
    d.cs = cs;
    // As DocumentCache does: blocks a window releases are registered first (cs.tokens is current here).
    cs.seq.beforeRelease = (upTo) => cache.commit(cs, upTo);
    if (cs.seq.releasedBlocks > 0) count('reuseBehindWindow');
    assert.deepEqual(shadow.mismatches(cs.seq, d.tokens), [], 'a reused prefix holds other tokens\' K/V');
    count(cs.length > 0 ? 'reuse' : 'noReuse');
    try {
      const rest = d.tokens.slice(cs.length);
      forward(cs.seq, d.tokens, rest.length);
      cs.appended(rest);
      cache.commit(cs);
      // "Generation": a few more tokens, kept in the sequence like a completion the user may accept.
      const gen = Array.from({ length: extra }, () => rand(o.vocab));
      const all = d.tokens.concat(gen);
      for (let i = 0; i < gen.length; i++) {
        forward(cs.seq, all, 1);
        cs.appended([gen[i]]);
      }
      cache.commit(cs);
      if (rng.next() < 0.3) { d.history.push(d.tokens); d.tokens = all; count('accept'); }
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      // The sequence stays consistent: the K/V it has are still valid for a later request.
      cs.truncate(Math.min(cs.length, cs.tokens.length));
      count('oom');
    } finally {
      d.busy = false;
    }
  };

  const edit = (d: Doc): void => {
    const t = d.tokens;
    const at = rand(t.length + 1);
    const r = rng.next();
    d.history.push(t.slice());
    if (r < 0.35) t.splice(at, 0, ...Array.from({ length: 1 + rand(3) }, () => rand(o.vocab)));
    else if (r < 0.55) t.splice(at, 1 + rand(3));
    else if (r < 0.7) t.splice(at, 1, rand(o.vocab));
    else if (r < 0.8) t.push(...Array.from({ length: 1 + rand(2 * o.bs) }, () => rand(o.vocab)));
    else if (d.history.length > 1) { d.history.pop(); d.tokens = d.history.pop()!; count('undo'); }
    if (d.tokens.length > 6 * o.bs) d.tokens = d.tokens.slice(0, 4 * o.bs);
  };

  const checkAll = (): void => {
    pool.checkInvariants();
    const expected = new Uint32Array(o.nBlocks);
    for (const d of docs) if (d.cs) for (const b of d.cs.seq.blockTable) if (b !== RELEASED) expected[b]++;
    for (const s of plain) for (const b of s.blockTable) if (b !== RELEASED) expected[b]++;
    for (let b = 0; b < o.nBlocks; b++) assert.equal(pool.refcount(b), expected[b], `block ${b} refcount`);
    for (const d of docs) if (d.cs) {
      assert.equal(d.cs.tokens.length, d.cs.length);
      assert.deepEqual(shadow.mismatches(d.cs.seq, d.cs.tokens), []);
    }
    for (const e of cache.index.entries()) {
      assert.ok(pool.isRegistered(e.block), `entry on unregistered block ${e.block}`);
      // An entry's slots hold prefixes ending in exactly its tokens.
      for (let s = 0; s < o.bs; s++) {
        const prefix = shadow.prefixes[shadow.slots[e.block * o.bs + s]].split(',');
        assert.equal(Number(prefix[prefix.length - 1]), e.tokens[s], `entry of block ${e.block} slot ${s}`);
      }
    }
  };

  for (let op = 0; op < nOps; op++) {
    const d = docs[rand(docs.length)];
    const r = rng.next();
    if (r < 0.55) { edit(d); request(d, rand(3)); count('edit+request'); }
    else if (r < 0.65) { request(d, rand(2 * o.bs)); count('request'); }
    else if (r < 0.72) { if (d.cs) { d.cs.truncate(rand(d.cs.length + 1)); count('truncate'); } }
    else if (r < 0.77) { if (d.cs) { cache.release(d.cs); d.cs = undefined; count('release'); } }
    else if (r < 0.85) {
      const s = new Sequence(pool);
      try { forward(s, Array.from({ length: 3 * o.bs }, () => rand(o.vocab)), 1 + rand(3 * o.bs)); plain.push(s); count('plainAlloc'); }
      catch (e) { if (!(e instanceof OutOfMemoryError)) throw e; count('oom'); }
    } else if (r < 0.93) { const s = plain.splice(rand(plain.length), 1)[0]; s?.clear(); }
    else {
      // Another document starts from this one's text (shared blocks across documents).
      const other = docs[rand(docs.length)];
      if (other !== d) { other.history.push(other.tokens); other.tokens = d.tokens.slice(0, rand(d.tokens.length + 1)); request(other, 1); count('fork'); }
    }
    checkAll();
  }
  // Releasing everything leaves only cached and free blocks.
  for (const d of docs) if (d.cs) cache.release(d.cs);
  for (const s of plain) s.clear();
  pool.checkInvariants();
  assert.equal(pool.usedBlocks, 0);
  assert.equal(pool.cachedBlocks + pool.freeBlocks, o.nBlocks);
  const st = cache.index.stats();
  return { ...counts, evictions: pool.stats().evictions, hits: st.blockHits, rejected: st.rejectedHits };
}

test('kvcache stress: 10,000 random operations keep pool, refcounts, CoW and index exact (block size 4)', () => {
  const c = runStress(1, 10_000, { nBlocks: 40, bs: 4, vocab: 3, weakHash: false });
  // The run must actually exercise what it claims to.
  for (const k of ['reuse', 'oom', 'undo', 'accept', 'truncate', 'release', 'fork', 'plainAlloc']) assert.ok((c[k] ?? 0) > 0, `${k} never happened: ${JSON.stringify(c)}`);
  assert.ok(c.evictions > 100 && c.hits > 1000, JSON.stringify(c));
});

test('kvcache stress: a 3-bit hash (collisions everywhere) never yields a wrong block (block size 3)', () => {
  const c = runStress(2, 10_000, { nBlocks: 24, bs: 3, vocab: 4, weakHash: true });
  assert.ok(c.rejected > 100 && c.hits > 500, JSON.stringify(c));
});

test('kvcache stress: a sliding window of 9 tokens releases blocks behind it, and reuse stays exact (block size 4)', () => {
  const c = runStress(3, 10_000, { nBlocks: 40, bs: 4, vocab: 3, weakHash: false, window: { tokens: 9, slackTokens: 2 } });
  for (const k of ['reuse', 'windowRelease', 'reuseBehindWindow', 'oom', 'truncate', 'fork']) assert.ok((c[k] ?? 0) > 0, `${k} never happened: ${JSON.stringify(c)}`);
  assert.ok(c.hits > 1000, JSON.stringify(c));
});

test('kvcache: a partial block shared by two documents is copied before either writes into it', () => {
  const pool = new BlockPool(8, 4);
  const copies: [number, number][] = [];
  const cache = new PrefixCache(pool, { namespace: 't', copyBlock: (s, d) => { copies.push([s, d]); } });
  const a = cache.acquire([1, 2, 3, 4, 5, 6], 5, undefined);
  a.seq.reserve(6); a.seq.length = 6; a.appended([1, 2, 3, 4, 5, 6]);
  cache.commit(a);
  assert.equal(cache.index.stats().entries, 1);
  // Typing one more token: the full block comes from the index, the partial one is taken over, no copy.
  const b = cache.acquire([1, 2, 3, 4, 5, 6, 7], 6, a);
  assert.equal(b.length, 6);
  b.seq.reserve(7);
  assert.equal(copies.length, 0);
  b.seq.length = 7; b.appended([7]);
  // Deleting token 3 (inside the registered full block): positions 0..1 are reused, the write copies.
  const c = cache.acquire([1, 2, 4, 5, 6, 7], 5, b);
  assert.equal(c.length, 2);
  c.seq.reserve(3);
  assert.equal(copies.length, 1);
  assert.equal(pool.refcount(copies[0][0]), 0, 'the registered original stays cached, unreferenced');
  assert.ok(pool.isRegistered(copies[0][0]));
  cache.release(c);
  pool.checkInvariants();
});
