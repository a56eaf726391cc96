// The text an editor sends around the cursor: PREFIX_LINES before it (the first on a multiple of
// ANCHOR_LINES, so the start moves in steps and the KV cache keeps it) and SUFFIX_LINES after, each side
// cut to the characters the engine can use at its token budgets. The extension's provider reads these lines
// from a vscode.TextDocument; the soak bench reads them from a string, so both send the same requests.

import { capPrefix, DEFAULT_BUDGETS, MAX_CHARS_PER_TOKEN, type PromptBudgets } from './prompt';
import { PREFIX_WINDOW_GROWTH } from './window';

/** Lines of the document around the cursor sent to the engine (the engine fits them to token budgets). */
export const PREFIX_LINES = 400;
export const SUFFIX_LINES = 100;
/** The prefix starts on a multiple of this line number, so its start moves in steps (KV reuse). */
export const ANCHOR_LINES = 16;
/** Characters of each other open file sent as context (the engine fits them to its budget). */
export const OTHER_FILE_CHARS = 8000;

/** The first line of the prefix and the last line of the suffix for a cursor on `cursorLine`. */
export function requestLines(cursorLine: number, lineCount: number): { startLine: number; endLine: number } {
  return {
    startLine: Math.floor(Math.max(0, cursorLine - PREFIX_LINES) / ANCHOR_LINES) * ANCHOR_LINES,
    endLine: Math.min(lineCount - 1, cursorLine + SUFFIX_LINES),
  };
}

/**
 * The prefix (from `startLine`) and suffix texts cut to what the engine can use: the prefix to its budget
 * with a kept window grown to its limit (buildPrompt's cap; a minified file's long lines stay here), the
 * suffix to its budget.
 */
export function capRequestText(prefix: string, suffix: string, startLine: number, budgets: Pick<PromptBudgets, 'prefixTokens'> & { suffixTokens?: number }): { prefix: string; prefixLineOffset: number; suffix: string } {
  const { prefixText, prefixLineOffset } = capPrefix(prefix, budgets.prefixTokens * PREFIX_WINDOW_GROWTH * MAX_CHARS_PER_TOKEN, startLine);
  return { prefix: prefixText, prefixLineOffset, suffix: suffix.slice(0, (budgets.suffixTokens ?? DEFAULT_BUDGETS.suffixTokens) * MAX_CHARS_PER_TOKEN) };
}
