// The last filter between the model and the ghost text. Each step fixes something users of completion
// extensions complain about: brackets closed twice, the line below typed again, loops of the same line,
// dangling whitespace. Every step is a pure function of (completion, prefix, suffix), tested on captured
// and handmade model outputs.

const OPEN = '([{';
const CLOSE = ')]}';

export interface PostprocessContext {
  /** The text before the cursor (the prompt's window of it is enough). */
  prefix: string;
  /** The text after the cursor. */
  suffix: string;
}

export function postprocess(completion: string, ctx: PostprocessContext): string {
  let t = trimTrailingWhitespace(completion);
  t = cutRepeatedLines(t, ctx.prefix);
  t = cutSuffixLines(t, ctx.suffix);
  t = cutSuffixLineOverlap(t, ctx.suffix);
  t = balanceBrackets(t, ctx.prefix, ctx.suffix);
  t = trimTrailingWhitespace(t);
  if (t.trim() === '' || ctx.suffix.startsWith(t)) return '';
  return t;
}

/** Trailing blanks of every line and trailing blank lines go; leading text and indentation stay. */
export function trimTrailingWhitespace(t: string): string {
  return t.replace(/[ \t\r]+$/gm, '').replace(/\n+$/, '');
}

const cursorLineOf = (prefix: string) => prefix.slice(prefix.lastIndexOf('\n') + 1);
const firstLineOf = (suffix: string) => suffix.slice(0, suffix.indexOf('\n') < 0 ? suffix.length : suffix.indexOf('\n'));
/** Lines worth comparing: long enough not to be a lone brace or keyword. */
const significant = (line: string) => line.trim().length >= 6;

/**
 * Cuts the completion before the first line that repeats: the line before it (a stuck loop), the
 * start of an earlier run of two or more lines (a cycle), or one of the three last lines of the prefix.
 */
export function cutRepeatedLines(t: string, prefix: string): string {
  const lines = t.split('\n');
  const full = (i: number) => (i === 0 ? cursorLineOf(prefix) + lines[0] : lines[i]).trim();
  const prefixLines = prefix.split('\n');
  prefixLines.pop();
  const recent = new Set(prefixLines.map((l) => l.trim()).filter(significant).slice(-3));
  for (let i = 0; i < lines.length; i++) {
    const line = full(i);
    if (!significant(line)) continue;
    if (recent.has(line)) return cutBeforeLine(lines, i);
    if (i > 0 && full(i - 1) === line) return cutBeforeLine(lines, i);
    for (let j = 0; j < i - 1; j++) {
      if (full(j) === line && i + 1 < lines.length && full(j + 1) === full(i + 1)) return cutBeforeLine(lines, i);
    }
  }
  return t;
}

function cutBeforeLine(lines: string[], i: number): string {
  return lines.slice(0, i).join('\n');
}

/** Cuts the completion where its lines start to repeat the lines that already follow the cursor. */
export function cutSuffixLines(t: string, suffix: string): string {
  const after = suffix.split('\n').slice(1).map((l) => l.trim()).filter((l) => l !== '');
  if (after.length === 0) return t;
  const lines = t.split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '' || lines[i].trim() !== after[0]) continue;
    // One matching line is enough for a closer ('}', 'end'), two are asked of anything else.
    const next = lines.slice(i + 1).find((l) => l.trim() !== '');
    if (!significant(lines[i]) || next === undefined || next.trim() === after[1]) return cutBeforeLine(lines, i);
  }
  return t;
}

/** Removes the end of the completion when it is the rest of the cursor's line again (`"foo";` before `";`). */
export function cutSuffixLineOverlap(t: string, suffix: string): string {
  const rest = firstLineOf(suffix).trim();
  if (rest === '' || /^[)\]}]+$/.test(rest)) return t; // closers alone are balanceBrackets' business
  const trimmed = t.replace(/\s+$/, '');
  if (trimmed.length > rest.length && trimmed.endsWith(rest)) return trimmed.slice(0, trimmed.length - rest.length);
  return t;
}

/** Open brackets left at the end of `text`, innermost last; strings and line comments skipped. */
export function openBrackets(text: string, stack: string[] = [], lenient = false): { stack: string[]; mismatchAt: number; unmatchedCloses: number[] } {
  let quote = '';
  const unmatched: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote || (ch === '\n' && quote !== '`')) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    } else if (ch === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else if (OPEN.includes(ch)) {
      stack.push(ch);
    } else if (CLOSE.includes(ch)) {
      const want = OPEN[CLOSE.indexOf(ch)];
      if (stack.length === 0) unmatched.push(i);
      else if (stack[stack.length - 1] === want || lenient) stack.pop();
      else return { stack, mismatchAt: i, unmatchedCloses: unmatched };
    }
  }
  return { stack, mismatchAt: -1, unmatchedCloses: unmatched };
}

/**
 * Keeps brackets balanced with what is around the cursor: a closer that does not match the bracket it
 * would close ends the completion; closers at the end of the completion that the rest of the line also
 * has (`foo(a, b)` typed before `)`) are dropped, so the line is not closed twice.
 */
export function balanceBrackets(t: string, prefix: string, suffix: string): string {
  const before = openBrackets(prefix.slice(-8000), [], true).stack;
  const inCompletion = openBrackets(t, [...before]);
  if (inCompletion.mismatchAt >= 0) t = t.slice(0, inCompletion.mismatchAt).replace(/[ \t]+$/, '');
  const line = firstLineOf(suffix);
  // Does the rest of the line close more than is open once `s` is in?
  const overClosed = (s: string) => {
    const r = openBrackets(s + line, [...before]);
    return (r.mismatchAt >= s.length) || r.unmatchedCloses.some((i) => i >= s.length);
  };
  let kept = t;
  while (overClosed(kept)) {
    const m = /[)\]}]\s*$/.exec(kept);
    // The line over-closes on its own (brackets opened before the window): leave the completion alone.
    if (!m) return t;
    kept = kept.slice(0, m.index);
  }
  return kept;
}
