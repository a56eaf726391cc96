// A synthetic SentencePiece vocab for random-weight test models: <unk>, <s>, </s>, the 256 byte
// tokens <0x00>..<0xFF> (so any text encodes through byte fallback), then distinct printable pieces
// ('▁' marks a leading space) with descending scores, up to vocabSize entries.
import { GgufValueType, type GgufMetadataEntry } from '../loaders/gguf/types';
import { TOKEN_TYPE } from '../loaders/llama2c';

export const SPM_MIN_VOCAB = 3 + 256;
const ALPHABET = 'etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ0123456789.,;:(){}[]=+-*/_<>!?"\'#&|';

/** Yields distinct pieces: every character with and without '▁', then two characters, and so on. */
function* pieces(): Generator<string> {
  let prev: string[] = [''];
  for (;;) {
    const next: string[] = [];
    for (const p of prev) for (const c of ALPHABET) next.push(p + c);
    for (const p of next) {
      yield '\u2581' + p;
      yield p;
    }
    prev = next;
  }
}

export function spmBytesVocab(vocabSize: number): GgufMetadataEntry[] {
  if (vocabSize < SPM_MIN_VOCAB) throw new RangeError(`spm-bytes needs vocabSize >= ${SPM_MIN_VOCAB}, got ${vocabSize}`);
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.byte);
    scores.push(0);
  }
  const gen = pieces();
  while (tokens.length < vocabSize) {
    tokens.push(gen.next().value as string);
    types.push(TOKEN_TYPE.normal);
    scores.push(-(tokens.length - SPM_MIN_VOCAB));
  }
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: GgufValueType.UINT32, value });
  return [
    { key: 'tokenizer.ggml.model', type: GgufValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GgufValueType.ARRAY, arrayType: GgufValueType.FLOAT32, value: scores },
    { key: 'tokenizer.ggml.token_type', type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: types },
    u32('tokenizer.ggml.unknown_token_id', 0),
    u32('tokenizer.ggml.bos_token_id', 1),
    u32('tokenizer.ggml.eos_token_id', 2),
    { key: 'tokenizer.ggml.add_bos_token', type: GgufValueType.BOOL, value: true },
  ];
}
