// GGUF vocabulary -> a Hugging Face tokenizer.json object for @huggingface/tokenizers. Only the model and
// pre-tokenizer go in: special tokens are split out before the library sees the text (tokenizer.ts), the
// SentencePiece space handling is done there too, and decoding works on token bytes (bytes.ts).

import { preTokenizerPatterns } from './pretokenize';
import type { GgufVocab } from './vocab';

export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: readonly never[];
  normalizer: null;
  pre_tokenizer: object | null;
  post_processor: null;
  decoder: null;
  model: object;
}

export function buildTokenizerJson(vocab: GgufVocab): TokenizerJson {
  // A null-prototype object, so a token spelled '__proto__' is an ordinary key.
  const ids: Record<string, number> = Object.create(null);
  for (let i = 0; i < vocab.tokens.length; i++) ids[vocab.tokens[i]] = i;
  const base = { version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    post_processor: null, decoder: null } as const;

  if (vocab.model === 'llama') {
    return {
      ...base,
      pre_tokenizer: null,
      model: {
        type: 'BPE', vocab: ids, merges: sentencePieceMerges(vocab), byte_fallback: true, fuse_unk: false,
        unk_token: vocab.unkId !== undefined ? vocab.tokens[vocab.unkId] : null, ignore_merges: false,
      },
    };
  }
  const splits = preTokenizerPatterns(vocab.pre).map((p) => ({
    type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false,
  }));
  return {
    ...base,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [...splits, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }],
    },
    model: {
      type: 'BPE', vocab: ids, merges: vocab.merges, byte_fallback: false, fuse_unk: false, unk_token: null,
      continuing_subword_prefix: '', end_of_word_suffix: '', ignore_merges: vocab.ignoreMerges,
    },
  };
}

/**
 * SentencePiece BPE as BPE merges. llama.cpp's SPM tokenizer repeatedly joins the adjacent pair of symbols
 * whose concatenation is a vocabulary entry with the highest score (leftmost on ties); a symbol is a
 * single code point or an earlier join. So every split of a vocabulary entry into two such symbols is a
 * merge, ranked by the entry's score, highest first. (Equal scores are ranked by token id, where llama.cpp
 * prefers the leftmost pair; real vocabularies give normal pieces distinct scores.)
 */
export function sentencePieceMerges(vocab: GgufVocab): [string, string][] {
  const { tokens, scores } = vocab;
  const isToken = new Set(tokens);
  const found: { left: string; right: string; id: number }[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const cps = Array.from(tokens[id]);
    if (cps.length < 2) continue;
    let left = '';
    for (let k = 1; k < cps.length; k++) {
      left += cps[k - 1];
      if (k > 1 && !isToken.has(left)) continue;
      const right = cps.slice(k).join('');
      if (k < cps.length - 1 && !isToken.has(right)) continue;
      found.push({ left, right, id });
    }
  }
  // Stable sort: within a score, by id, then by split position.
  found.sort((a, b) => scores[b.id] - scores[a.id] || a.id - b.id);
  return found.map((m) => [m.left, m.right]);
}
