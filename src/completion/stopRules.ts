// Deciding, while tokens stream in, where a completion ends: single line vs multi-line by context, the end
// of the block by indentation, a line budget. The generator asks after every token and stops the model as
// soon as the answer is known, so no GPU time goes into text that would be thrown away.

import type { MultilineMode } from './types';

const OPENS_BLOCK = /([{([:]|=>|\bdo|\bthen|\belse|\bbegin)\s*$/;
const CLOSER = /^\s*([)}\]]|end\b|fi\b|done\b|esac\b|until\b|\}\s*else\b|else\b|elif\b|except\b|finally\b|catch\b)/;

export function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 4;
    else break;
  }
  return n;
}

/**
 * Multi-line when the cursor ends its line (only closing brackets or nothing after it) and the line is
 * blank so far or opens a block; a single line when text follows the cursor or the line is half written.
 */
export function wantsMultiline(prefix: string, suffix: string, mode: MultilineMode = 'auto'): boolean {
  if (mode !== 'auto') return mode === 'always';
  const rest = suffix.slice(0, suffix.indexOf('\n') < 0 ? suffix.length : suffix.indexOf('\n'));
  if (!/^[\s)\]}'";,]*$/.test(rest)) return false;
  const line = prefix.slice(prefix.lastIndexOf('\n') + 1);
  return line.trim() === '' || OPENS_BLOCK.test(line);
}

export interface StopRuleOptions {
  multiline: boolean;
  /** Most lines of a multi-line completion. */
  maxLines?: number;
}

/** Where to cut `text` (generated so far), or -1 to go on. `final` is true when the model has stopped. */
export type StopRule = (text: string, final: boolean) => number;

/**
 * The cut rule for a completion at the end of `prefix`:
 *  - single line: stop at the first newline that follows some non-blank text;
 *  - multi-line: stop before the first non-blank line indented less than the cursor's line (the block
 *    ended), or at the cursor's indentation when the cursor's line opens a block (a closing line such as
 *    '}' or 'end' at that indentation is kept and ends the completion), or after `maxLines` lines.
 */
export function createStopRule(prefix: string, o: StopRuleOptions): StopRule {
  const cursorLine = prefix.slice(prefix.lastIndexOf('\n') + 1);
  const maxLines = o.maxLines ?? 32;
  return (text, final) => {
    const lines = text.split('\n');
    // Only complete lines are judged; the last one may still grow (unless the model stopped).
    const complete = final ? lines.length : lines.length - 1;
    if (!o.multiline) {
      // Cut at the first newline that follows some non-blank text of the completion.
      let seen = false;
      for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (ch === '\n') {
          if (seen) return i;
        } else if (ch !== ' ' && ch !== '\t' && ch !== '\r') seen = true;
      }
      return -1;
    }
    const base = indentOf(cursorLine);
    const opener = OPENS_BLOCK.test(cursorLine + lines[0]);
    let at = lines[0].length + 1;
    let nonBlank = lines[0].trim() === '' ? 0 : 1;
    for (let i = 1; i < complete; at += lines[i].length + 1, i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      const ind = indentOf(line);
      const firstContent = nonBlank === 0 && cursorLine.trim() === '';
      if (!firstContent) {
        if (ind < base) return at - 1;
        if (opener && ind === base) return CLOSER.test(line) ? at + line.length : at - 1;
      }
      nonBlank++;
      if (i + 1 >= maxLines) return at + line.length;
    }
    return -1;
  };
}
