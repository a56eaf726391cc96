// The simulated editor of the soak bench: documents made from real source files, the developer's actions
// with their weights, text no editor should choke on, and the request the extension's provider would build
// for a cursor (completion/editorText.ts, as src/vscode/provider.ts uses it).

import { capRequestText, OTHER_FILE_CHARS, requestLines } from '../completion/editorText';
import type { CompletionRequest } from '../completion/types';
import type { Rng } from '../engine/sampler';

/** Real source files the documents start from by default (not ours: from installed packages), from the repository root. */
export const SOAK_FILES = ['node_modules/lru-cache/dist/esm/index.js', 'node_modules/esbuild/lib/main.js', 'node_modules/@vscode/vsce/out/package.js'];

/** A document in the simulated editor. */
export interface Doc {
  id: string;
  path: string;
  languageId: string;
  text: string;
  cursor: number;
}

export const LANGUAGE_OF: Record<string, string> = { js: 'javascript', mjs: 'javascript', cjs: 'javascript', ts: 'typescript', py: 'python', txt: 'plaintext' };

/** The request the provider builds for a cursor at `doc.cursor` (completion/editorText.ts). */
export function requestAt(doc: Doc, others: Doc[], budgets: { prefixTokens: number; suffixTokens?: number }): CompletionRequest {
  const { text, cursor } = doc;
  const cursorLine = lineOf(text, cursor);
  const { startLine, endLine } = requestLines(cursorLine, lineOf(text, text.length) + 1);
  const startAt = offsetOfLine(text, startLine);
  const endNl = text.indexOf('\n', offsetOfLine(text, endLine));
  const endAt = Math.max(cursor, endNl < 0 ? text.length : endNl);
  const { prefix, prefixLineOffset, suffix } = capRequestText(text.slice(startAt, cursor), text.slice(cursor, endAt), startLine, budgets);
  return {
    documentId: doc.id, prefix, prefixLineOffset, suffix, path: doc.path, languageId: doc.languageId,
    contextFiles: others.filter((o) => o.languageId === doc.languageId && o.text.trim() !== '').map((o) => ({ path: o.path, text: o.text.slice(0, OTHER_FILE_CHARS) })),
  };
}

export function lineOf(text: string, offset: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export function offsetOfLine(text: string, line: number): number {
  let at = 0;
  for (let l = 0; l < line; l++) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return text.length;
    at = nl + 1;
  }
  return at;
}

/** The simulated developer's next action, with its weight (out of 1000). */
const ACTIONS = [
  ['type', 430], ['backspace', 100], ['newline', 60], ['jump', 50], ['switch', 90], ['accept', 80],
  ['cancel', 90], ['supersede', 40], ['paste', 15], ['cut', 15], ['again', 20], ['clear', 8], ['hostile', 6], ['reload', 4],
] as const;
export type Action = (typeof ACTIONS)[number][0];

export function pick(rng: Rng): Action {
  let r = rng.next() * ACTIONS.reduce((s, [, w]) => s + w, 0);
  for (const [a, w] of ACTIONS) if ((r -= w) < 0) return a;
  return 'type';
}

/** Text no editor should choke on: control bytes, NULs, lone surrogates, and one very long line. */
export function hostileText(rng: Rng): string {
  if (rng.next() < 0.5) return 'const x = ' + 'a+'.repeat(20_000) + '1;\n';
  return Array.from({ length: 3000 }, () => String.fromCharCode(Math.floor(rng.next() * 0xe000))).join('');
}
