// Can this draft model propose tokens for that target? Only when a token id means the same text to both:
// the same tokenizer, or one whose differences are confined to special tokens (control / user-defined
// entries such as chat or FIM markers, or padding rows past the end of the smaller vocabulary). Special
// tokens that differ are mapped by their text where the other side has it. Anything else is refused at
// load time with a DraftVocabularyError, never discovered as garbage output.

import { TandemError } from '../common/errors';
import type { GgufValue } from '../loaders/gguf/types';
import { TokenType } from '../tokenizer/vocab';

export class DraftVocabularyError extends TandemError {
  // A model pair the engine cannot run together: the CLI's "bad or unsupported model" exit code.
  readonly code = 'UNSUPPORTED_MODEL';
  constructor(detail: string) {
    super(`the draft model's vocabulary does not match the target's: ${detail}`,
      'Use a draft from the same model family (the same tokenizer), or run without --draft (n-gram drafts).');
  }
}

/** Token ids between the two vocabularies; identity for the common case. */
export interface VocabMapping {
  readonly identity: boolean;
  /** Target id of a draft token, or -1 when the target has no such token (the draft stops there). */
  toTarget(draftId: number): number;
  /** Draft id of a target token (one the draft lacks becomes its unknown token, or 0). */
  toDraft(targetId: number): number;
}

export const IDENTITY_MAPPING: VocabMapping = { identity: true, toTarget: (id) => id, toDraft: (id) => id };

interface VocabView {
  model: string;
  tokens: string[];
  types: ArrayLike<number> | undefined;
  /** Rows of the model's embedding / output head (may exceed the tokenizer's entries: padding). */
  rows: number;
  unk: number;
}

function view(meta: Map<string, GgufValue>, rows: number, which: string): VocabView {
  const tokens = meta.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || typeof tokens[0] !== 'string') throw new DraftVocabularyError(`the ${which} has no tokenizer.ggml.tokens`);
  const types = meta.get('tokenizer.ggml.token_type');
  const unk = meta.get('tokenizer.ggml.unknown_token_id');
  return {
    model: String(meta.get('tokenizer.ggml.model') ?? ''),
    tokens: tokens as string[],
    types: Array.isArray(types) ? (types as number[]) : undefined,
    rows,
    unk: typeof unk === 'number' ? unk : 0,
  };
}

const isSpecial = (v: VocabView, id: number) =>
  id >= v.tokens.length || (v.types !== undefined && (v.types[id] === TokenType.Control || v.types[id] === TokenType.UserDefined || v.types[id] === TokenType.Unused));

/**
 * Checks that the draft can speak for the target and returns the id mapping. `*Rows` are the models'
 * vocabulary sizes (embedding rows). Throws DraftVocabularyError naming the first conflicting token.
 */
export function checkDraftVocabulary(target: Map<string, GgufValue>, targetRows: number, draft: Map<string, GgufValue>, draftRows: number): VocabMapping {
  const t = view(target, targetRows, 'target');
  const d = view(draft, draftRows, 'draft');
  if (t.model !== d.model) throw new DraftVocabularyError(`tokenizer '${d.model}' (draft) vs '${t.model}' (target)`);
  const n = Math.max(t.tokens.length, d.tokens.length);
  let mismatches = 0;
  for (let id = 0; id < n; id++) {
    const same = id < t.tokens.length && id < d.tokens.length && t.tokens[id] === d.tokens[id];
    if (same) continue;
    if (isSpecial(t, id) && isSpecial(d, id)) {
      mismatches++;
      continue;
    }
    const tt = id < t.tokens.length ? JSON.stringify(t.tokens[id]) : 'none';
    const dt = id < d.tokens.length ? JSON.stringify(d.tokens[id]) : 'none';
    throw new DraftVocabularyError(`token ${id} is ${dt} in the draft and ${tt} in the target (${d.tokens.length} vs ${t.tokens.length} tokens)`);
  }
  if (mismatches === 0 && d.rows <= t.rows) return IDENTITY_MAPPING;

  // Special-token differences: map by text, else refuse the token (draft) or use the unknown token (target).
  const targetByText = new Map<string, number>();
  t.tokens.forEach((s, id) => { if (!targetByText.has(s)) targetByText.set(s, id); });
  const draftByText = new Map<string, number>();
  d.tokens.forEach((s, id) => { if (!draftByText.has(s)) draftByText.set(s, id); });
  const toTarget = new Int32Array(d.rows).fill(-1);
  for (let id = 0; id < d.rows; id++) {
    if (id < d.tokens.length && id < t.tokens.length && d.tokens[id] === t.tokens[id]) toTarget[id] = id;
    else if (id < d.tokens.length) toTarget[id] = targetByText.get(d.tokens[id]) ?? -1;
    if (toTarget[id] >= t.rows) toTarget[id] = -1;
  }
  const toDraft = new Int32Array(t.rows).fill(d.unk);
  for (let id = 0; id < t.rows; id++) {
    if (id < t.tokens.length && id < d.tokens.length && d.tokens[id] === t.tokens[id]) toDraft[id] = id;
    else if (id < t.tokens.length) toDraft[id] = draftByText.get(t.tokens[id]) ?? d.unk;
    if (toDraft[id] >= d.rows) toDraft[id] = d.unk;
  }
  return { identity: false, toTarget: (id) => toTarget[id] ?? -1, toDraft: (id) => toDraft[id] ?? d.unk };
}
