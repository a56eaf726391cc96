// From a completion request to the prompt's token ids: windows within the token budgets (window.ts),
// the template's layout (templates.ts), text encoded without parsing specials (a literal '<|endoftext|>'
// in the user's code stays text), and the set of ids that end generation.

import type { Tokenizer } from '../tokenizer';
import { resolveSpecial, type FimTemplate, type Piece } from './templates';
import type { CompletionRequest } from './types';
import { middleStart } from './middle';
import { chooseWindow, filesWithin, linesBefore, suffixWindow, type CountTokens, type KeepPrefixWindow } from './window';

export interface PromptBudgets {
  prefixTokens: number;
  suffixTokens: number;
  contextFileTokens: number;
}

export const DEFAULT_BUDGETS: PromptBudgets = { prefixTokens: 1024, suffixTokens: 256, contextFileTokens: 512 };

/**
 * The suffix budget of a PSM prompt without a typed middle, when the user did not set one: every keystroke
 * then re-reads the whole suffix (it follows the prefix), so its window is kept at half the SPM one,
 * halving what a keystroke costs (bench edit-replay, stories260K: PSM median 28.5 tokens a keystroke with a
 * 25% suffix, 17 with 12.5%, 10.5 with 6.25%). With a typed middle (middle.ts) typing only appends, and
 * the suffix is re-read only when the middle's anchor moves: 2.19 prefilled tokens a keystroke over the
 * whole session with a 25% suffix, 1.68 with 12.5%, so such prompts keep the full suffix. Quality against
 * the longer suffix is unmeasured here (no real model can be downloaded); set tandem.context.suffixTokens.
 */
export const PSM_SUFFIX_TOKENS = 128;

/** Whether `template`'s prompts take a typed middle (middle.ts), with `typedMiddle` the setting (tandem.fimTypedMiddle). */
export function takesTypedMiddle(template: Pick<FimTemplate, 'typedMiddle'>, typedMiddle = true): boolean {
  return typedMiddle && template.typedMiddle;
}

/** The suffix budget of `template` when the user set none (`typedMiddle`: tandem.fimTypedMiddle). */
export function defaultSuffixTokens(template: Pick<FimTemplate, 'order' | 'typedMiddle'>, typedMiddle = true): number {
  return template.order === 'psm' && !takesTypedMiddle(template, typedMiddle) ? PSM_SUFFIX_TOKENS : DEFAULT_BUDGETS.suffixTokens;
}

export interface Prompt {
  tokens: number[];
  /** Ids that end generation: the model's end-of-generation ids and every FIM special of the model. */
  stopIds: Set<number>;
  /** The prefix (all of the window up to the cursor) and suffix as they went into the prompt (post-processing compares against these). */
  prefix: string;
  suffix: string;
  /** The end of `prefix` that went after the middle token (middle.ts); '' when all of it precedes the suffix. */
  middle: string;
  /** Document line number where the prefix window starts (PrefixStarts.remember, for the next request's `keep`). */
  prefixStartLine: number;
}

/**
 * Characters per token at most considered before counting tokens: code averages 3-4 characters a token, so
 * a window of budget x 16 characters fills its token budget, and a minified file's megabyte-long line is
 * not tokenized whole on every keystroke (2 MB lines took 4 s through stories260K's tokenizer).
 */
export const MAX_CHARS_PER_TOKEN = 16;

/**
 * The prompt of `req`. With `keep`, the prefix window starts where one of the document's earlier ones did
 * while that window holds at most `keep.maxTokens`, so typing only appends to the prompt's prefix; else it
 * is the budget's window, anchored on a line multiple (window.ts).
 */
export function buildPrompt(tok: Tokenizer, template: FimTemplate, req: CompletionRequest, budgets: PromptBudgets = DEFAULT_BUDGETS, repo = 'workspace', keep?: KeepPrefixWindow, typedMiddle = true): Prompt {
  const count = (t: string) => tok.encode(t, { parseSpecial: false }).length;
  const w = promptWindows(req, budgets, count, keep, { usesSuffix: template.usesSuffix, typedMiddle: takesTypedMiddle(template, typedMiddle) });
  const files = filesWithin((req.contextFiles ?? []).map((f) => ({ ...f, text: f.text.slice(0, budgets.contextFileTokens * MAX_CHARS_PER_TOKEN) })), budgets.contextFileTokens, count);
  const pieces = template.layout({ ...splitMiddle(w), suffix: w.suffix, path: req.path || 'untitled', languageId: req.languageId, files, repo });
  const tokens: number[] = tok.addBosDefault && tok.bosId !== undefined ? [tok.bosId] : [];
  for (const p of pieces) tokens.push(...pieceIds(tok, p));
  return { tokens, stopIds: stopIds(tok), ...w };
}

export interface PromptWindows {
  /** The prefix window: document text up to the cursor. */
  prefix: string;
  /** Its end from the middle's anchor on, which goes after the middle token; '' without a typed middle. */
  middle: string;
  suffix: string;
  /** Document line number where the prefix window starts. */
  prefixStartLine: number;
}

/** What a template lays out: the prefix before the middle's anchor, and the middle. */
export function splitMiddle(w: Pick<PromptWindows, 'prefix' | 'middle'>): { prefix: string; middle: string } {
  return { prefix: w.prefix.slice(0, w.prefix.length - w.middle.length), middle: w.middle };
}

/** What a layout needs of the windows: a suffix at all, and a typed middle (PSM families, middle.ts). */
export interface WindowShape {
  usesSuffix?: boolean;
  typedMiddle?: boolean;
}

/**
 * The prefix and suffix windows of a request within `budgets` (tokens by `count`): the prefix window kept
 * (`keep`) or the budget's, anchored (chooseWindow); with `typedMiddle`, its end from the kept start's
 * middle anchor (or the cursor's line) on; the head of the suffix ('' when the template does not use one).
 * Text past MAX_CHARS_PER_TOKEN x the budgets is not looked at.
 */
export function promptWindows(req: Pick<CompletionRequest, 'prefix' | 'suffix' | 'prefixLineOffset'>, budgets: Pick<PromptBudgets, 'prefixTokens' | 'suffixTokens'>, count: CountTokens, keep?: KeepPrefixWindow, shape: WindowShape = {}): PromptWindows {
  const maxPrefixTokens = Math.max(budgets.prefixTokens, keep?.maxTokens ?? 0);
  const { prefixText, prefixLineOffset } = capPrefix(req.prefix, maxPrefixTokens * MAX_CHARS_PER_TOKEN, req.prefixLineOffset ?? 0);
  const window = chooseWindow(prefixText, budgets.prefixTokens, count, prefixLineOffset, keep);
  const suffix = shape.usesSuffix !== false ? suffixWindow(req.suffix.slice(0, budgets.suffixTokens * MAX_CHARS_PER_TOKEN), budgets.suffixTokens, count) : '';
  const middle = shape.typedMiddle ? window.text.slice(middleStart(window.text, window.kept?.middle)) : '';
  return { prefix: window.text, middle, suffix, prefixStartLine: window.startLine };
}

/** The last `maxChars` characters of the prefix, with the document line number of their first line. */
export function capPrefix(prefix: string, maxChars: number, lineOffset: number): { prefixText: string; prefixLineOffset: number } {
  if (prefix.length <= maxChars) return { prefixText: prefix, prefixLineOffset: lineOffset };
  const cut = prefix.length - maxChars;
  return { prefixText: prefix.slice(cut), prefixLineOffset: lineOffset + linesBefore(prefix, cut) };
}

function pieceIds(tok: Tokenizer, p: Piece): number[] {
  if ('text' in p) return p.text === '' ? [] : tok.encode(p.text, { parseSpecial: false });
  const id = resolveSpecial(tok, p.special);
  if (id === undefined) {
    // Optional specials (repo name, file separator) that a model lacks are left out; required ones were checked.
    return [];
  }
  return [id];
}

function stopIds(tok: Tokenizer): Set<number> {
  const s = new Set<number>(tok.eotIds);
  if (tok.eosId !== undefined) s.add(tok.eosId);
  const f = tok.fim;
  if (f) for (const id of [f.prefix, f.suffix, f.middle, f.pad, f.repo, f.fileSep]) if (id !== undefined) s.add(id);
  // Codestral's and Seed-Coder's parts, CodeGemma's end of file, StarCoder2's repository tokens (GGUFs that do not name them as FIM tokens),
  // GLM-4's turns (CodeGeeX4 answers as the assistant and ends before the next user turn).
  for (const text of ['[PREFIX]', '[SUFFIX]', '[MIDDLE]', '<|file_separator|>', '<[fim-prefix]>', '<[fim-suffix]>', '<[fim-middle]>', '<file_sep>', '<repo_name>', '<|user|>', '<|assistant|>', '<|observation|>']) {
    const id = resolveSpecial(tok, { text });
    if (id !== undefined) s.add(id);
  }
  return s;
}
