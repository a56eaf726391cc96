// Serving a completion without asking the model: the user typed along a suggestion (serve the rest of
// it), or came back to text seen a moment ago. Entries are keyed by the text before the cursor (its tail)
// and the rest of the cursor's line; a lookup also tries the keys of the last few characters typed, so
// typing along is the same lookup as a cache hit.

import { LRUCache } from 'lru-cache';

export interface CachedCompletion {
  text: string;
  /** The completion as first shown, for statistics: 'cache' (same place) or 'typed-along'. */
  source: 'cache' | 'typed-along';
}

export interface CompletionCacheOptions {
  /** Entries kept. */
  maxEntries?: number;
  /** Characters of the text before the cursor that make a key (the tail: what the model saw last). */
  keyChars?: number;
  /** How far back a lookup goes for typed-along reuse, in characters. */
  maxTypedAhead?: number;
}

export class CompletionCache {
  private readonly lru: LRUCache<string, string>;
  private readonly keyChars: number;
  private readonly maxTypedAhead: number;
  hits = 0;
  typedAlongHits = 0;
  misses = 0;

  constructor(o: CompletionCacheOptions = {}) {
    this.lru = new LRUCache({ max: o.maxEntries ?? 256 });
    this.keyChars = o.keyChars ?? 2000;
    this.maxTypedAhead = o.maxTypedAhead ?? 256;
  }

  private key(prefix: string, lineSuffix: string): string {
    return `${prefix.slice(-this.keyChars)}\u0000${lineSuffix}`;
  }

  /** Remembers `text` as the completion at (prefix, rest of line). Empty completions are remembered too. */
  set(prefix: string, suffix: string, text: string): void {
    this.lru.set(this.key(prefix, restOfLine(suffix)), text);
  }

  /**
   * The completion for `prefix`: an entry for exactly this text, or for an earlier text that this one
   * extends by characters the entry's completion starts with (the user typed along). Undefined on a miss.
   */
  get(prefix: string, suffix: string): CachedCompletion | undefined {
    const line = restOfLine(suffix);
    const exact = this.lru.get(this.key(prefix, line));
    if (exact !== undefined) {
      this.hits++;
      return { text: exact, source: 'cache' };
    }
    const limit = Math.min(this.maxTypedAhead, prefix.length);
    for (let k = 1; k <= limit; k++) {
      const typed = prefix.slice(prefix.length - k);
      const earlier = this.lru.get(this.key(prefix.slice(0, prefix.length - k), line));
      if (earlier === undefined) continue;
      if (earlier.length > typed.length && earlier.startsWith(typed)) {
        this.typedAlongHits++;
        return { text: earlier.slice(typed.length), source: 'typed-along' };
      }
      // A newer entry for an earlier place that the typing contradicts: stop looking further back.
      if (earlier.length > 0) break;
    }
    this.misses++;
    return undefined;
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}

function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return nl < 0 ? suffix : suffix.slice(0, nl);
}
