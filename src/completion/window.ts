// Choosing how much of the document goes into the prompt, in tokens, with edges that stay put while the
// user types: the prefix window starts on a line number that is a multiple of `anchorLines`, so it moves
// in jumps rather than a line per keystroke, and the prompt's token prefix (and the KV cache) survives;
// with a document's recent window starts (PrefixStarts) it keeps its start until it has grown to
// PREFIX_WINDOW_GROWTH x its budget.

import { LRUCache } from 'lru-cache';

/** Token count of a text (the model's tokenizer; tests pass a simple counter). */
export type CountTokens = (text: string) => number;

/** Splits into lines, each keeping its '\n' (the last one may lack it). */
export function splitLinesKeepEnds(s: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const nl = s.indexOf('\n', at);
    if (nl < 0) break;
    out.push(s.slice(at, nl + 1));
    at = nl + 1;
  }
  if (at < s.length || out.length === 0) out.push(s.slice(at));
  return out;
}

/** Newlines in text[0, end): the line number of offset `end`, counting from the text's first line. */
export function linesBefore(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export interface PrefixWindow {
  text: string;
  /** Document line number of the window's first line. */
  startLine: number;
}

/**
 * The tail of `prefix` within `budgetTokens`, cut at a line boundary whose document line number
 * (`lineOffset` + index) is a multiple of `anchorLines`, or of a smaller power of two when rounding up to
 * `anchorLines` would leave less than half the lines that fit (a budget of a few lines, or long lines:
 * otherwise the window could shrink to the cursor's line alone). The cursor's line is always kept (cut
 * from its start, by characters, when it alone is over budget).
 */
export function prefixWindow(prefix: string, budgetTokens: number, count: CountTokens, lineOffset = 0, anchorLines = 16): PrefixWindow {
  const lines = splitLinesKeepEnds(prefix);
  let used = 0;
  let start = lines.length;
  while (start > 0) {
    const n = count(lines[start - 1]);
    if (used + n > budgetTokens && start < lines.length) break;
    used += n;
    start--;
  }
  if (start === lines.length - 1 && used > budgetTokens) {
    // One very long line: keep its end, roughly within budget (characters per token from the line itself).
    const last = lines[start];
    const keepChars = Math.max(1, Math.floor((last.length * budgetTokens) / Math.max(1, used)));
    return { text: last.slice(last.length - keepChars), startLine: lineOffset + start };
  }
  if (start > 0) {
    const abs = lineOffset + start;
    const fit = lines.length - start;
    for (let a = anchorLines; a >= 1; a = Math.floor(a / 2)) {
      const anchored = Math.min(lines.length - 1, Math.ceil(abs / a) * a - lineOffset);
      if (lines.length - anchored >= Math.ceil(fit / 2) || a === 1) {
        start = anchored;
        break;
      }
    }
  }
  return { text: lines.slice(start).join(''), startLine: lineOffset + start };
}

/**
 * How far a kept prefix window may grow, as a multiple of its budget, before it starts over at the budget.
 * Moving a window's start changes the position of every token after it, so the whole window is prefilled
 * again (exactly: no KV shifting); keeping the start while the user types costs nothing. A window that
 * grows from B to g*B tokens is prefilled again once every (g - 1)*B typed tokens: with g = 2, about one
 * token of prefill per token typed, where a start that followed the cursor in 16-line steps re-prefilled
 * the window every 16 lines (~6 tokens per token typed for code at ~10 tokens a line and B = 1,024).
 */
export const PREFIX_WINDOW_GROWTH = 2;

/**
 * The window from document line `startLine` to the end of `prefix` (whose first line is document line
 * `lineOffset`), if that line is in `prefix` and the window holds at most `maxTokens`; else undefined.
 * Lines are counted from the cursor back, so at most `maxTokens` tokens are counted.
 */
export function keptPrefixWindow(prefix: string, maxTokens: number, count: CountTokens, lineOffset: number, startLine: number): PrefixWindow | undefined {
  const lines = splitLinesKeepEnds(prefix);
  const first = startLine - lineOffset;
  if (first < 0 || first >= lines.length) return undefined;
  let used = 0;
  for (let i = lines.length - 1; i >= first; i--) {
    used += count(lines[i]);
    if (used > maxTokens) return undefined;
  }
  return { text: lines.slice(first).join(''), startLine };
}

/** The head of `suffix` within `budgetTokens`, whole lines (the cursor's line is always kept, cut by characters when over). */
export function suffixWindow(suffix: string, budgetTokens: number, count: CountTokens): string {
  if (budgetTokens <= 0) return '';
  const lines = splitLinesKeepEnds(suffix);
  let used = 0;
  let end = 0;
  while (end < lines.length) {
    const n = count(lines[end]);
    if (used + n > budgetTokens) break;
    used += n;
    end++;
  }
  if (end === 0) {
    const first = lines[0];
    const n = Math.max(1, count(first));
    return first.slice(0, Math.floor((first.length * budgetTokens) / n));
  }
  return lines.slice(0, end).join('');
}

/** Whole files (their heads) within a shared budget, in the given order; files that do not fit at all are left out. */
export function filesWithin<T extends { text: string }>(files: readonly T[], budgetTokens: number, count: CountTokens): T[] {
  const out: T[] = [];
  let left = budgetTokens;
  for (const f of files) {
    if (left < 16) break;
    const head = suffixWindow(f.text, left, count);
    if (!head.trim()) continue;
    out.push({ ...f, text: head });
    left -= count(head);
  }
  return out;
}

/** Prefix windows to keep: the first of `startLines` whose window holds at most `maxTokens`. */
export interface KeepPrefixWindow {
  startLines: readonly number[];
  maxTokens: number;
}

/**
 * The prefix window of a request: with `keep`, the first kept start (most recent first) whose window still
 * holds at most keep.maxTokens (after a jump and back, the window from before the jump, whose K/V a
 * prefix cache may still hold); else the budget's window, anchored on a line multiple.
 */
export function chooseWindow(prefix: string, budgetTokens: number, count: CountTokens, lineOffset: number, keep?: KeepPrefixWindow): PrefixWindow {
  for (const line of keep?.startLines ?? []) {
    const w = keptPrefixWindow(prefix, keep!.maxTokens, count, lineOffset, line);
    if (w) return w;
  }
  return prefixWindow(prefix, budgetTokens, count, lineOffset);
}

/** Documents whose window starts are remembered (a few numbers each; far more than a KV cache keeps). */
const DOCUMENTS_REMEMBERED = 1024;
/** Window starts remembered per document: the current place and a few it jumped from. */
const STARTS_PER_DOCUMENT = 4;

/** Each document's recent prefix window starts (document lines, the last request's first). */
export class PrefixStarts {
  private readonly lru = new LRUCache<string, number[]>({ max: DOCUMENTS_REMEMBERED });

  /** What to keep for the document's next request with prefix budget `budgetTokens`; undefined without a document. */
  keepFor(documentId: string | undefined, budgetTokens: number): KeepPrefixWindow | undefined {
    if (documentId === undefined) return undefined;
    return { startLines: this.lru.get(documentId) ?? [], maxTokens: budgetTokens * PREFIX_WINDOW_GROWTH };
  }

  /** Records the window the document's request used. */
  remember(documentId: string | undefined, startLine: number): void {
    if (documentId === undefined) return;
    const recent = this.lru.get(documentId) ?? [];
    this.lru.set(documentId, [startLine, ...recent.filter((l) => l !== startLine)].slice(0, STARTS_PER_DOCUMENT));
  }

  /** Forgets a document's starts (tests compare against requests that keep nothing). */
  forget(documentId: string): void {
    this.lru.delete(documentId);
  }
}
