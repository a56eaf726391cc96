// Choosing how much of the document goes into the prompt, in tokens, with edges that stay put while the
// user types: the prefix window starts on a line number that is a multiple of `anchorLines`, so it moves
// in jumps rather than a line per keystroke, and the prompt's token prefix (and the KV cache) survives;
// with a document's recent window starts (PrefixStarts) it keeps its start until it has grown to
// PREFIX_WINDOW_GROWTH x its budget, found again by its text where lines were added or removed above it.

import { detached } from '../common/strings';
import { LRUCache } from 'lru-cache';
import { anchorOf, type MiddleAnchor } from './middle';

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
  /** The kept start it was found from (chooseWindow); absent for the budget's window. */
  kept?: KeptStart;
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
 * A kept window's start: its document line, and the text its first lines began with. Lines inserted or
 * deleted above the window (an import added at the top, a jump elsewhere to type a line) move its line
 * number but not its text, so the start is found again by its head, nearest the remembered line first.
 */
export interface KeptStart {
  line: number;
  head: string;
  /** Where the window's typed middle began (middle.ts), for PSM prompts. */
  middle?: MiddleAnchor;
}

/** Lines of a window's start that identify it (one line such as '}' recurs too often), and at most this many characters of them. */
const HEAD_LINES = 3;
const HEAD_MAX_CHARS = 160;

/** What `KeptStart.head` holds for a window's text: its first HEAD_LINES lines, at most HEAD_MAX_CHARS characters. */
export function windowHead(windowText: string): string {
  let end = 0;
  for (let n = 0; n < HEAD_LINES && end < windowText.length; n++) {
    const nl = windowText.indexOf('\n', end);
    end = nl < 0 ? windowText.length : nl + 1;
  }
  return detached(windowText.slice(0, Math.min(end, HEAD_MAX_CHARS)));
}

/** Whether the text from lines[i] on begins with `head`. */
function headAt(lines: readonly string[], i: number, head: string): boolean {
  let at = 0;
  for (let j = i; j < lines.length && at < head.length; j++) {
    const line = lines[j];
    if (line.length >= head.length - at) return line.startsWith(head.slice(at));
    if (!head.startsWith(line, at)) return false;
    at += line.length;
  }
  return at >= head.length;
}

/** Index into `lines` of the line nearest `expected` whose text begins with `head`; -1 if none does. */
function findHead(lines: readonly string[], expected: number, head: string): number {
  if (head === '') return expected >= 0 && expected < lines.length ? expected : -1;
  // Nearest first: from a remembered line outside `lines`, the nearest lines are those of its end.
  const e = Math.min(Math.max(expected, 0), lines.length - 1);
  for (let d = 0; e - d >= 0 || e + d < lines.length; d++) {
    if (e - d >= 0 && headAt(lines, e - d, head)) return e - d;
    if (d > 0 && e + d < lines.length && headAt(lines, e + d, head)) return e + d;
  }
  return -1;
}

/**
 * The kept window `start` in `prefix` (whose first line is document line `lineOffset`): from the line
 * nearest start.line that begins with start.head to the end of `prefix`, if it holds at most `maxTokens`;
 * else undefined. Lines are counted from the cursor back, so at most `maxTokens` tokens are counted.
 */
export function keptPrefixWindow(prefix: string, maxTokens: number, count: CountTokens, lineOffset: number, start: KeptStart): PrefixWindow | undefined {
  const lines = splitLinesKeepEnds(prefix);
  const first = findHead(lines, start.line - lineOffset, start.head);
  if (first < 0) return undefined;
  let used = 0;
  for (let i = lines.length - 1; i >= first; i--) {
    used += count(lines[i]);
    if (used > maxTokens) return undefined;
  }
  return { text: lines.slice(first).join(''), startLine: lineOffset + first };
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

/** Prefix windows to keep: the first of `starts` whose window holds at most `maxTokens`. */
export interface KeepPrefixWindow {
  starts: readonly KeptStart[];
  maxTokens: number;
}

/**
 * The prefix window of a request: with `keep`, the first kept start (most recent first) whose window still
 * holds at most keep.maxTokens (after a jump and back, the window from before the jump, whose K/V a
 * prefix cache may still hold); else the budget's window, anchored on a line multiple.
 */
export function chooseWindow(prefix: string, budgetTokens: number, count: CountTokens, lineOffset: number, keep?: KeepPrefixWindow): PrefixWindow {
  for (const start of keep?.starts ?? []) {
    const w = keptPrefixWindow(prefix, keep!.maxTokens, count, lineOffset, start);
    if (w) return { ...w, kept: start };
  }
  return prefixWindow(prefix, budgetTokens, count, lineOffset);
}

/** Documents whose window starts are remembered (a few numbers each; far more than a KV cache keeps). */
const DOCUMENTS_REMEMBERED = 1024;
/** Window starts remembered per document: the current place and a few it jumped from. */
const STARTS_PER_DOCUMENT = 4;

/** Each document's recent prefix window starts (the last request's first). */
export class PrefixStarts {
  private readonly lru = new LRUCache<string, KeptStart[]>({ max: DOCUMENTS_REMEMBERED });

  /** What to keep for the document's next request with prefix budget `budgetTokens`; undefined without a document. */
  keepFor(documentId: string | undefined, budgetTokens: number): KeepPrefixWindow | undefined {
    if (documentId === undefined) return undefined;
    return { starts: this.lru.get(documentId) ?? [], maxTokens: budgetTokens * PREFIX_WINDOW_GROWTH };
  }

  /** Records the window the document's request used: its first document line, its text (to the cursor) and how many of its last characters were the typed middle. */
  remember(documentId: string | undefined, startLine: number, windowText: string, middleChars = 0): void {
    if (documentId === undefined) return;
    const start = { line: startLine, head: windowHead(windowText), middle: anchorOf(windowText, middleChars) };
    // A window is its head: the same head at another line is the same window, moved by edits above it.
    const recent = (this.lru.get(documentId) ?? []).filter((s) => s.head !== start.head);
    this.lru.set(documentId, [start, ...recent].slice(0, STARTS_PER_DOCUMENT));
  }

  /** Forgets a document's starts (tests compare against requests that keep nothing). */
  forget(documentId: string): void {
    this.lru.delete(documentId);
  }
}
