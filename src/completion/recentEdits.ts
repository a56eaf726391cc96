// Text the user recently deleted, per document, for prompt-lookup drafts: code deleted a moment ago is
// often typed again (a line cut and rewritten, an undo by hand, a statement moved), and once deleted it
// is no longer in the prompt the n-gram draft searches. The editor does not say what a change removed, so
// the engine finds it by comparing each request's text around the cursor (prefix + suffix, contiguous in
// the document) with the previous request's: after aligning the two windows on their first document
// line, what lies between their common start and common end in the old text and not in the new one was
// removed. Window edges that moved (a re-anchored prefix, a suffix cut elsewhere) are never taken for an
// edit: a removal counts only when both texts agree before and after it. A line deleted a few characters
// per request (backspace or delete held down) comes in pieces; a piece that ends where the previous one
// started (backspace) or starts where it did (delete) is joined to it.

import { detached } from '../common/strings';
import { LRUCache } from 'lru-cache';

/** Snippets kept per document (most recent first), and their length bounds in characters. */
export const DELETIONS_KEPT = 4;
export const MIN_DELETION_CHARS = 6;
export const MAX_DELETION_CHARS = 2000;

export interface Removal {
  text: string;
  /** Where it was: document line of the aligned windows' first line, and the character offset from there. */
  line: number;
  at: number;
  /**
   * Repeated text makes the span ambiguous ("  x;\n  " removed from "  x;\n  y;" could be either
   * indentation): every start in [minAt, maxAt] is an equally valid removal; `textAt` gives its text.
   */
  minAt: number;
  maxAt: number;
  textAt(at: number): string;
}

/**
 * The text `before` (whose first line is document line `beforeLine`) lost on the way to `after`, if any;
 * of the equally valid spans, one that starts a line where there is one, else one that ends a line.
 */
export function removedText(before: string, beforeLine: number, after: string, afterLine: number): Removal | undefined {
  // Align the windows on the later first line.
  if (afterLine > beforeLine) before = dropLines(before, afterLine - beforeLine) ?? '';
  else if (beforeLine > afterLine) after = dropLines(after, beforeLine - afterLine) ?? '';
  if (!before || !after) return undefined;
  // The common end first, then the common start within what is left (a text cut at its end, as a line
  // deleted at the end of the document, still has its last newline in common).
  const n = Math.min(before.length, after.length);
  let b = 0;
  while (b < n && before.charCodeAt(before.length - 1 - b) === after.charCodeAt(after.length - 1 - b)) b++;
  let a = 0;
  while (a < n - b && before.charCodeAt(a) === after.charCodeAt(a)) a++;
  // Both sides of the edit must agree: otherwise an edge of the window moved.
  if (a === 0 || b === 0 || a + b >= before.length) return undefined;
  // Slide the span while it stays a valid removal (some text kept on both sides).
  const len = before.length - b - a;
  let minAt = a;
  while (minAt > 1 && before.charCodeAt(minAt - 1) === before.charCodeAt(minAt - 1 + len)) minAt--;
  let maxAt = a;
  while (maxAt + len < before.length - 1 && before.charCodeAt(maxAt) === before.charCodeAt(maxAt + len)) maxAt++;
  // Prefer a span that starts a line, else one that ends where a line does.
  let at = a;
  const starts = (p: number) => before.charCodeAt(p - 1) === 10;
  const ends = (p: number) => before.charCodeAt(p + len) === 10;
  for (let p = minAt; p <= maxAt; p++) if (starts(p)) { at = p; break; }
  if (!starts(at)) for (let p = minAt; p <= maxAt; p++) if (ends(p)) { at = p; break; }
  const textAt = (p: number) => detached(before.slice(p, p + len));
  return { text: textAt(at), line: Math.max(beforeLine, afterLine), at, minAt, maxAt, textAt };
}

/** `text` without its first `n` lines; undefined when it has no more than n. */
function dropLines(text: string, n: number): string | undefined {
  let at = 0;
  for (let i = 0; i < n; i++) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return undefined;
    at = nl + 1;
  }
  return text.slice(at);
}

interface DocumentText {
  text: string;
  firstLine: number;
  /** Removed snippets, most recent first; `last` is where the first one was (to join the next piece to it). */
  removed: string[];
  last?: { line: number; at: number };
}

export class RecentDeletions {
  private readonly docs = new LRUCache<string, DocumentText>({ max: 64 });

  /**
   * Records a request's text around the cursor and returns the document's recently removed snippets
   * (most recent first, at most DELETIONS_KEPT). Requests without a document have no history.
   */
  observe(documentId: string | undefined, prefix: string, suffix: string, prefixFirstLine = 0): readonly string[] {
    if (documentId === undefined) return [];
    const text = prefix + suffix;
    const doc = this.docs.get(documentId);
    if (!doc) {
      this.docs.set(documentId, { text, firstLine: prefixFirstLine, removed: [] });
      return [];
    }
    const gone = removedText(doc.text, doc.firstLine, text, prefixFirstLine);
    if (gone && gone.text.length <= MAX_DELETION_CHARS) {
      const last = doc.last;
      const len = gone.text.length;
      const within = (p: number) => p >= gone.minAt && p <= gone.maxAt;
      if (last && last.line === gone.line && doc.removed.length && within(last.at - len)) {
        // Backspace: this piece was just before the previous one.
        doc.removed[0] = (gone.textAt(last.at - len) + doc.removed[0]).slice(-MAX_DELETION_CHARS);
        doc.last = { line: gone.line, at: last.at - len };
      } else if (last && last.line === gone.line && doc.removed.length && within(last.at)) {
        // Delete: this piece was just after the previous one (the cursor stayed).
        doc.removed[0] = (doc.removed[0] + gone.textAt(last.at)).slice(0, MAX_DELETION_CHARS);
      } else {
        // A short piece is kept only at the head, where the next piece may join it: typos fixed by
        // backspace never push a deleted line out.
        doc.removed = [gone.text, ...doc.removed.filter((r) => r !== gone.text && r.length >= MIN_DELETION_CHARS)].slice(0, DELETIONS_KEPT);
        doc.last = { line: gone.line, at: gone.at };
      }
    } else if (text !== doc.text) {
      // Typing or moving: the next removal starts a new snippet.
      doc.last = undefined;
    }
    doc.text = text;
    doc.firstLine = prefixFirstLine;
    return doc.removed.filter((r) => r.length >= MIN_DELETION_CHARS && r.trim() !== '');
  }

  forget(documentId: string): void {
    this.docs.delete(documentId);
  }

  /** Forgets every document ("Clear Cache"). */
  clear(): void {
    this.docs.clear();
  }
}
