// Editing sessions for the edit-replay benchmark, made from real source files: a developer types one of
// the file's functions back into it character by character, with typos fixed by backspace, pauses (each
// one a completion request, as an editor sends after a debounce), a jump to another function and back,
// and one accepted completion (the next chunk of the real text appears at once). Each request's windows
// are the ones the extension would send (completion/prompt.ts promptWindows, in tokens, with the
// document's kept window starts). Also the FIM prompt builder in both layouts.

import { readFileSync } from 'node:fs';
import { promptWindows, type PromptBudgets } from '../completion/prompt';
import { PREFIX_WINDOW_GROWTH, PrefixStarts, type CountTokens } from '../completion/window';
import { Rng } from '../engine/sampler';

/** The longest prompt of a trace as a multiple of its target length: a prefix window (3/4) grown to its limit and the suffix's (1/4), which does not grow. */
export const MAX_PROMPT_GROWTH = 0.75 * PREFIX_WINDOW_GROWTH + 0.25;

/** The editor state when a completion is requested. */
export interface EditRequest {
  text: string;
  cursor: number;
  /** What happened since the previous request. */
  edit: 'type' | 'backspace' | 'jump' | 'accept' | 'open';
  /** Keystrokes since the previous request (an accepted completion counts as one). */
  keystrokes: number;
  /** What the developer goes on to type at this cursor (up to 80 characters of the real file); absent
   *  away from the function being typed (the side trip of a jump). */
  next?: string;
}

export interface EditTrace {
  file: string;
  requests: EditRequest[];
  /** Each request's windows as character offsets into its text. */
  windows: TraceWindows[];
}

/** A request's windows: the prefix window from prefixStart to the cursor, whose typed middle (PSM, completion/middle.ts) starts at middleStart; the suffix's from the cursor to suffixEnd. */
export interface TraceWindows {
  prefixStart: number;
  middleStart: number;
  suffixEnd: number;
}

/** Picks a function of about `typedChars` characters starting at a line boundary after the first third. */
function pickRegion(text: string, typedChars: number): { start: number; end: number } {
  const re = /^[ \t]*(?:export\s+)?(?:async\s+)?(?:function\b|[A-Za-z_$][\w$]*\s*\([^)]*\)\s*\{)/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m.index < text.length / 3) continue;
    const endLine = text.indexOf('\n', m.index + typedChars);
    if (endLine < 0) break;
    return { start: m.index, end: endLine + 1 };
  }
  const start = text.lastIndexOf('\n', Math.floor(text.length / 2)) + 1;
  return { start, end: Math.min(text.length, start + typedChars) };
}

/** How a trace chooses its windows: the token budgets and the model's token count. */
export interface TraceWindowing {
  budgets: Pick<PromptBudgets, 'prefixTokens' | 'suffixTokens'>;
  count: CountTokens;
}

/** Replays typing `typedChars` characters of `file` (the region is removed first, then typed back). */
export function buildEditTrace(file: string, typedChars: number, windowing: TraceWindowing, seed = 1): EditTrace {
  const source = readFileSync(file, 'utf8');
  const rng = new Rng(seed);
  const region = pickRegion(source, typedChars);
  const goal = source.slice(region.start, region.end);
  let text = source.slice(0, region.start) + source.slice(region.end);
  let cursor = region.start;
  // The extension's windows: the prefix window keeps its start while it grows to PREFIX_WINDOW_GROWTH x its
  // budget and is found again after a jump (PrefixStarts); the suffix window is the head of the text after
  // the cursor, which typing at the cursor does not change.
  const starts = new PrefixStarts();
  const requests: EditRequest[] = [];
  const windows: EditTrace['windows'] = [];
  let keys = 0;
  let typed = 0;
  let away = false;
  const request = (edit: EditRequest['edit']): void => {
    const keep = starts.keepFor(file, windowing.budgets.prefixTokens);
    const w = promptWindows({ prefix: text.slice(0, cursor), suffix: text.slice(cursor) }, windowing.budgets, windowing.count, keep, { typedMiddle: true });
    starts.remember(file, w.prefixStartLine, w.prefix, w.middle.length);
    const next = away ? undefined : goal.slice(typed, typed + 80);
    requests.push({ text, cursor, edit, keystrokes: keys, ...(next ? { next } : {}) });
    windows.push({ prefixStart: cursor - w.prefix.length, middleStart: cursor - w.middle.length, suffixEnd: cursor + w.suffix.length });
    keys = 0;
  };
  const insert = (s: string): void => {
    text = text.slice(0, cursor) + s + text.slice(cursor);
    cursor += s.length;
  };
  const backspace = (): void => {
    text = text.slice(0, cursor - 1) + text.slice(cursor);
    cursor--;
  };
  request('open');
  const jumpAt = Math.floor(goal.length * 0.5);
  const acceptAt = Math.floor(goal.length * 0.75);
  let jumped = false;
  let accepted = false;
  while (typed < goal.length) {
    if (!accepted && typed >= acceptAt) {
      // An accepted completion: the rest of the line (up to 40 characters) appears at once.
      const nl = goal.indexOf('\n', typed);
      const chunk = goal.slice(typed, Math.min(nl < 0 ? goal.length : nl + 1, typed + 40));
      insert(chunk);
      typed += chunk.length;
      keys++;
      accepted = true;
      request('accept');
      continue;
    }
    if (!jumped && typed >= jumpAt) {
      // A jump to another function near the top of the file, a short comment typed there, and back.
      jumped = true;
      const back = cursor;
      const target = text.lastIndexOf('\n', Math.floor(region.start / 3)) + 1;
      cursor = target;
      away = true;
      keys++;
      request('jump');
      const note = '// TODO: check\n';
      for (const ch of note) {
        insert(ch);
        keys++;
        if (ch === ' ' || ch === '\n') request('type');
      }
      cursor = back + note.length;
      away = false;
      keys++;
      request('jump');
      continue;
    }
    if (rng.next() < 0.03) {
      // A typo, noticed after a pause and fixed.
      insert('x');
      keys++;
      request('type');
      backspace();
      keys++;
      request('backspace');
    }
    const ch = goal[typed++];
    insert(ch);
    keys++;
    // Pauses come mostly at word ends.
    const pause = /[\s.,;(){}[\]]/.test(ch) ? 0.5 : 0.1;
    if (rng.next() < pause) request('type');
  }
  if (keys) request('type');
  return { file, requests, windows };
}

export interface FimTokenIds { prefix: number; suffix: number; middle: number }

/** FIM layouts the replay can use: SPM; PSM with the typed middle, as the extension sends it; PSM with all of the prefix before the suffix (tandem.fimTypedMiddle off). */
export const REPLAY_LAYOUTS = ['spm', 'psm', 'psm-whole'] as const;
export type ReplayLayout = (typeof REPLAY_LAYOUTS)[number];

/**
 * The prompt of a request: [BOS] then, in SPM order, <SUF> suffix <PRE> prefix <MID> (typing at the
 * cursor only appends); in PSM order, <PRE> prefix <SUF> suffix <MID> middle, the middle being the end of
 * the prefix window from its anchor (psm-whole: no middle). Each part is tokenized on its own, so its
 * tokens stay stable while the cursor moves on.
 */
export function fimPrompt(r: EditRequest, w: TraceWindows, layout: ReplayLayout, encode: (s: string) => number[], fim: FimTokenIds, bos: number | undefined): number[] {
  const middleStart = layout === 'psm' ? w.middleStart : r.cursor;
  const prefix = encode(r.text.slice(w.prefixStart, middleStart));
  const middle = middleStart < r.cursor ? encode(r.text.slice(middleStart, r.cursor)) : [];
  const suffix = encode(r.text.slice(r.cursor, Math.max(r.cursor, w.suffixEnd)));
  const head = bos === undefined ? [] : [bos];
  return layout === 'spm'
    ? [...head, fim.suffix, ...suffix, fim.prefix, ...prefix, fim.middle]
    : [...head, fim.prefix, ...prefix, fim.suffix, ...suffix, fim.middle, ...middle];
}
