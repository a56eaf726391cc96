// Prompt lookup: drafts copied from the document itself. Code repeats itself (closing brackets, repeated
// identifiers, the rest of a line the user just deleted), so the tokens that followed the most recent
// earlier occurrence of the context's last n tokens are a cheap and often right guess. No model runs;
// a proposal costs a scan of the context (and of any extra text the caller supplies, such as the suffix
// after the cursor or recently deleted text).

import type { DraftSource, ProposeContext, Proposal } from './draft';

export interface NgramDraftOptions {
  /** Longest suffix matched (tried first). */
  maxNgram?: number;
  /** Shortest suffix matched; a shorter match is "unsure" and proposes nothing. */
  minNgram?: number;
  /** Other token runs to search after the context (suffix, deleted text, other files). */
  corpus?: readonly (readonly number[])[];
}

export class NgramDraft implements DraftSource {
  readonly kind = 'ngram';
  private readonly maxNgram: number;
  private readonly minNgram: number;
  private corpus: readonly (readonly number[])[];

  constructor(o: NgramDraftOptions = {}) {
    this.maxNgram = o.maxNgram ?? 4;
    this.minNgram = o.minNgram ?? 1;
    this.corpus = o.corpus ?? [];
  }

  setCorpus(corpus: readonly (readonly number[])[]): void {
    this.corpus = corpus;
  }

  async propose(context: readonly number[], k: number, _ctx?: ProposeContext): Promise<Proposal> {
    return { tokens: lookup(context, k, this.minNgram, this.maxNgram, this.corpus).tokens, passes: 0 };
  }

  reset(): void {}
}

/**
 * Visits every continuation (up to k tokens) of a suffix of `context` (between min and max tokens long)
 * that occurs earlier, until `visit` returns true: longest suffix first; for each length, its occurrences
 * in the context, most recent first, then in the corpus. `n` is the matched length. (A callback, not a
 * generator: lookup runs once per drafting step, and V8 runs this loop ~1.8x slower as a generator.)
 */
function visitContinuations(context: readonly number[], k: number, minNgram: number, maxNgram: number, corpus: readonly (readonly number[])[], visit: (tokens: number[], n: number) => boolean): void {
  const L = context.length;
  for (let n = Math.min(maxNgram, L - 1); n >= minNgram; n--) {
    // In the context itself: an occurrence ending before the last token, so something follows it.
    for (let end = L - 1; end >= n; end--) {
      if (!matchesSuffix(context, end, context, n)) continue;
      // Past the end of the context the copy continues from itself (a repeating pattern repeats on).
      const tokens: number[] = [];
      for (let i = 0; i < k; i++) tokens.push(end + i < L ? context[end + i] : tokens[end + i - L]);
      if (visit(tokens, n)) return;
    }
    for (const run of corpus) {
      for (let end = run.length - 1; end >= n; end--) {
        if (matchesSuffix(run, end, context, n) && visit(run.slice(end, end + k) as number[], n)) return;
      }
    }
  }
}

/**
 * The continuation (up to k tokens) of the longest suffix of `context` (between min and max tokens) that
 * occurs earlier, most recent occurrence first; then in the corpus. `n` is the matched length (0: none).
 */
export function lookup(context: readonly number[], k: number, minNgram: number, maxNgram: number, corpus: readonly (readonly number[])[] = []): { tokens: number[]; n: number } {
  let found = { tokens: [] as number[], n: 0 };
  visitContinuations(context, k, minNgram, maxNgram, corpus, (tokens, n) => { found = { tokens, n }; return true; });
  return found;
}

/**
 * Up to `branches` distinct continuations for a tree of drafts (one verify pass checks them all,
 * Medusa/SpecInfer-style), in lookup's order, skipping continuations already taken. The first is lookup's.
 */
export function lookupBranches(context: readonly number[], k: number, minNgram: number, maxNgram: number, branches: number, corpus: readonly (readonly number[])[] = []): number[][] {
  const out: number[][] = [];
  const seen = new Set<string>();
  if (branches < 1) return out;
  visitContinuations(context, k, minNgram, maxNgram, corpus, (tokens) => {
    const key = tokens.join();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(tokens);
    }
    return out.length >= branches;
  });
  return out;
}

/** Nodes of the trie of `branches` (shared prefixes counted once): the positions a tree verify pass runs. */
export function trieSize(branches: readonly (readonly number[])[]): number {
  const keys = new Set<string>();
  for (const b of branches) for (let i = 1; i <= b.length; i++) keys.add(b.slice(0, i).join());
  return keys.size;
}

/** True when hay[end-n..end) equals the last n tokens of ctx. */
function matchesSuffix(hay: readonly number[], end: number, ctx: readonly number[], n: number): boolean {
  const L = ctx.length;
  for (let i = 1; i <= n; i++) if (hay[end - i] !== ctx[L - i]) return false;
  return true;
}
