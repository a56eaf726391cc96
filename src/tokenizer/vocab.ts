// The tokenizer's view of GGUF metadata: the vocabulary, token types, special ids and flags, read and
// checked once, with the defaults and text-based detections llama.cpp applies (src/llama-vocab.cpp,
// llama_vocab::impl::load), so that a GGUF tokenizes here exactly as it does there.

import { TokenizerError } from '../common/errors';
import type { GgufValue } from '../loaders/gguf/types';

/** llama.cpp's token types, as stored in tokenizer.ggml.token_type. */
export enum TokenType {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export type TokenizerModelName = 'llama' | 'gpt2';

export interface FimTokens {
  prefix: number;
  suffix: number;
  middle: number;
  pad?: number;
  repo?: number;
  fileSep?: number;
}

export interface GgufVocab {
  model: TokenizerModelName;
  /** tokenizer.ggml.pre ('default' when absent); only meaningful for gpt2. */
  pre: string;
  tokens: string[];
  /** SPM merge priorities; all zero when the file has none. */
  scores: Float32Array;
  /** Per token, after llama.cpp's overrides (EOG/FIM-looking tokens become Control). */
  types: Uint8Array;
  /** BPE merges as [left, right] pairs, rank = index; empty for SPM. */
  merges: [string, string][];
  bosId?: number;
  eosId?: number;
  unkId?: number;
  addBos: boolean;
  /** SPM: prepend a space to text at the start and after every special token. */
  addSpacePrefix: boolean;
  /** BPE (llama3 family): a pre-token that is itself a vocabulary entry is emitted whole. */
  ignoreMerges: boolean;
  /** End-of-generation ids, the set llama.cpp builds (EOS, EOT, EOM, FIM pad/repo/sep, known texts). */
  eogIds: number[];
  fim?: FimTokens;
}

const K = 'tokenizer.ggml.';

// Texts llama.cpp recognises when the ids are not in the metadata (llama-vocab.cpp, "auto-detect special
// tokens by text"). Earlier entries win where a vocabulary holds several.
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>',
  '<EOT>', '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_PRE_TEXTS = ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>',
  '<|code_prefix|>', '<|prefix|>'];
const FIM_SUF_TEXTS = ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>',
  '<|code_suffix|>', '<|suffix|>'];
const FIM_MID_TEXTS = ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>',
  '<|code_middle|>', '<|middle|>'];
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];
const EOG_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>',
  '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>',
  '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~['];

/** Pre-tokenizer names for which llama.cpp sets ignore_merges and add_bos (the llama3 family). */
export const LLAMA3_PRE = new Set(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0',
  'lfm2', 'jina-v5-nano']);

export function readVocab(meta: Map<string, GgufValue>): GgufVocab {
  const model = meta.get(K + 'model');
  if (typeof model !== 'string') throw new TokenizerError(`${K}model is missing: the GGUF has no tokenizer`);
  if (model !== 'llama' && model !== 'gpt2') {
    throw new TokenizerError(`tokenizer model '${model}' is not supported (only 'llama' SentencePiece and 'gpt2' BPE)`);
  }
  const tokens = stringArray(meta, K + 'tokens', true)!;
  const n = tokens.length;
  if (n === 0) throw new TokenizerError(`${K}tokens is empty`);

  const types = new Uint8Array(n).fill(TokenType.Normal);
  const rawTypes = numberArray(meta, K + 'token_type');
  if (rawTypes) {
    if (rawTypes.length !== n) {
      throw new TokenizerError(`${K}token_type has ${rawTypes.length} entries for ${n} tokens`);
    }
    for (let i = 0; i < n; i++) {
      const t = rawTypes[i];
      types[i] = t >= TokenType.Normal && t <= TokenType.Byte ? t : TokenType.Undefined;
    }
  }
  const scores = new Float32Array(n);
  const rawScores = numberArray(meta, K + 'scores');
  if (rawScores) {
    if (rawScores.length !== n) throw new TokenizerError(`${K}scores has ${rawScores.length} entries for ${n} tokens`);
    scores.set(rawScores);
  }

  const idOf = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (idOf.has(tokens[i])) {
      throw new TokenizerError(`token text ${JSON.stringify(tokens[i])} appears twice (ids ${idOf.get(tokens[i])} and ${i})`);
    }
    idOf.set(tokens[i], i);
  }

  const preRaw = meta.get(K + 'pre');
  const pre = typeof preRaw === 'string' && preRaw !== '' ? preRaw : 'default';
  let merges: [string, string][] = [];
  // llama.cpp's defaults per model type, then the metadata's explicit values.
  let bosId: number | undefined;
  let eosId: number | undefined;
  let unkId: number | undefined;
  let addBos: boolean;
  let addSpacePrefix: boolean;
  let ignoreMerges = false;
  if (model === 'llama') {
    bosId = 1; eosId = 2; unkId = 0;
    addBos = true;
    addSpacePrefix = true;
  } else {
    const rawMerges = stringArray(meta, K + 'merges', false);
    if (!rawMerges) throw new TokenizerError(`${K}merges is missing: a gpt2 (BPE) tokenizer needs its merges`);
    merges = rawMerges.map((m, i) => {
      const at = m.indexOf(' ', 1);
      if (at < 0) throw new TokenizerError(`${K}merges[${i}] = ${JSON.stringify(m)} is not 'left right'`);
      return [m.slice(0, at), m.slice(at + 1)];
    });
    bosId = 11; eosId = 11;
    addSpacePrefix = false;
    addBos = LLAMA3_PRE.has(pre);
    ignoreMerges = LLAMA3_PRE.has(pre);
  }
  const inRange = (id: number | undefined) => (id !== undefined && id >= 0 && id < n ? id : undefined);
  bosId = inRange(optionalId(meta, 'bos_token_id', n) ?? bosId);
  eosId = inRange(optionalId(meta, 'eos_token_id', n) ?? eosId);
  unkId = inRange(optionalId(meta, 'unknown_token_id', n) ?? unkId);
  // GLM-4's pre-tokenizers: llama.cpp drops the BOS id whatever the metadata says (its prompts begin with [gMASK]<sop>).
  if (pre === 'chatglm-bpe' || pre === 'glm4') bosId = undefined;
  addBos = optionalBool(meta, K + 'add_bos_token') ?? addBos;
  addSpacePrefix = optionalBool(meta, K + 'add_space_prefix') ?? addSpacePrefix;

  // A token found by its text is made Control, as llama.cpp does, so it is only parsed as special on request.
  const byText = (texts: string[]): number | undefined => {
    for (const t of texts) {
      const id = idOf.get(t);
      if (id !== undefined) {
        if (types[id] !== TokenType.Control) types[id] = TokenType.Control;
        return id;
      }
    }
    return undefined;
  };
  const eotId = optionalId(meta, 'eot_token_id', n) ?? byText(EOT_TEXTS);
  const eomId = optionalId(meta, 'eom_token_id', n) ?? byText(EOM_TEXTS);
  const fimPre = optionalId(meta, 'fim_pre_token_id', n) ?? optionalId(meta, 'prefix_token_id', n) ?? byText(FIM_PRE_TEXTS);
  const fimSuf = optionalId(meta, 'fim_suf_token_id', n) ?? optionalId(meta, 'suffix_token_id', n) ?? byText(FIM_SUF_TEXTS);
  const fimMid = optionalId(meta, 'fim_mid_token_id', n) ?? optionalId(meta, 'middle_token_id', n) ?? byText(FIM_MID_TEXTS);
  const fimPad = optionalId(meta, 'fim_pad_token_id', n) ?? byText(FIM_PAD_TEXTS);
  const fimRep = optionalId(meta, 'fim_rep_token_id', n) ?? byText(FIM_REP_TEXTS);
  const fimSep = optionalId(meta, 'fim_sep_token_id', n) ?? byText(FIM_SEP_TEXTS);

  const eog = new Set<number>();
  for (const id of [fimPad, fimRep, fimSep, eosId, eotId, eomId]) if (id !== undefined) eog.add(id);
  for (const t of EOG_TEXTS) {
    const id = idOf.get(t);
    if (id !== undefined) {
      eog.add(id);
      types[id] = TokenType.Control;
    }
  }
  let fim: FimTokens | undefined;
  if (fimPre !== undefined && fimSuf !== undefined && fimMid !== undefined) {
    fim = { prefix: fimPre, suffix: fimSuf, middle: fimMid };
    if (fimPad !== undefined) fim.pad = fimPad;
    if (fimRep !== undefined) fim.repo = fimRep;
    if (fimSep !== undefined) fim.fileSep = fimSep;
  }

  return {
    model, pre, tokens, scores, types, merges, bosId, eosId, unkId, addBos, addSpacePrefix, ignoreMerges,
    eogIds: [...eog].sort((a, b) => a - b), fim,
  };
}

function stringArray(meta: Map<string, GgufValue>, key: string, required: boolean): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) {
    if (required) throw new TokenizerError(`${key} is missing`);
    return undefined;
  }
  if (!Array.isArray(v)) throw new TokenizerError(`${key} is not an array`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') throw new TokenizerError(`${key}[${i}] is not a string`);
  }
  return v as string[];
}

function numberArray(meta: Map<string, GgufValue>, key: string): ArrayLike<number> | undefined {
  const v: unknown = meta.get(key);
  if (v === undefined) return undefined;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return v as unknown as ArrayLike<number>;
  if (!Array.isArray(v)) throw new TokenizerError(`${key} is not an array`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number') throw new TokenizerError(`${key}[${i}] is not a number`);
  }
  return v as number[];
}

/** A special-token id from the metadata; an id outside the vocabulary is ignored, as llama.cpp does. */
function optionalId(meta: Map<string, GgufValue>, name: string, n: number): number | undefined {
  const v = meta.get(K + name);
  if (v === undefined) return undefined;
  const id = typeof v === 'bigint' ? Number(v) : v;
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new TokenizerError(`${K}${name} is not an integer`);
  return id >= 0 && id < n ? id : undefined;
}

function optionalBool(meta: Map<string, GgufValue>, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new TokenizerError(`${key} is not a boolean`);
  return v;
}
