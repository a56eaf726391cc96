// llama2.c checkpoint (+ tokenizer.bin) -> llama-architecture GGUF that llama.cpp and Tandem both load.
//
// Checkpoint: 7 x int32 header { dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len }
// (vocab_size < 0 means a separate classifier), then f32 row-major [out][in] tensors:
// token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kvDim][dim], wv[L][kvDim][dim],
// wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim],
// rms_final[dim], two legacy RoPE tables of seq_len*head_size/2 f32, then wcls[vocab][dim] if not shared.
//
// llama2.c rotates adjacent pairs (i, i+1) in each head, which is llama.cpp's "normal" RoPE for arch
// llama, so wq/wk are written unpermuted (as llama.cpp's own convert-llama2c-to-ggml does).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { ModelFormatError } from '../common/errors';
import { writeGguf, type GgufTensorToWrite } from './gguf/writer';
import { GGML_BLOCK_LAYOUT, GgmlType, GgufValueType, type GgufMetadataEntry } from './gguf/types';
import { quantizeTensor } from './quant/tensor';

export type WeightTypeName = 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'iq4_nl' | 'iq4_xs' | 'q4_k_m' | 'q4_k_m_ggml';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** The classifier reuses token_embedding (vocab_size was positive in the header). */
  sharedClassifier: boolean;
}

export interface Llama2cTokenizer {
  maxTokenLength: number;
  /** Pieces as stored (a space is ' ', not '▁'); `<0xNN>` pieces stand for raw bytes. */
  pieces: string[];
  scores: number[];
}

/** Bumped whenever the converter's output changes, so cached conversions are redone. */
export const LLAMA2C_CONVERTER_VERSION = 2;
export const LLAMA2C_HEADER_BYTES = 7 * 4;
export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** llama.cpp token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface WeightType {
  ggml: GgmlType;
  fileType: number;
  /**
   * Tensors (by GGUF name) stored in a higher type, as llama.cpp's mixed K-quant presets do: in every
   * layer, or (layers 'more-bits') only where llama-quantize's use_more_bits picks the layer. With
   * `tiedEmbedding`, a model without output.weight stores token_embd.weight as the output head.
   */
  promoted?: { ggml: GgmlType; names: RegExp; layers?: 'all' | 'more-bits'; tiedEmbedding?: boolean };
}

const Q4_K_M_PROMOTED = /^(output\.weight|blk\.\d+\.(attn_v|ffn_down)\.weight)$/;

/** GGML type and llama.cpp general.file_type (LLAMA_FTYPE_*) per --type. */
export const WEIGHT_TYPES: Record<WeightTypeName, WeightType> = {
  f32: { ggml: GgmlType.F32, fileType: 0 },
  f16: { ggml: GgmlType.F16, fileType: 1 },
  q4_0: { ggml: GgmlType.Q4_0, fileType: 2 },
  q4_1: { ggml: GgmlType.Q4_1, fileType: 3 },
  q8_0: { ggml: GgmlType.Q8_0, fileType: 7 },
  q5_0: { ggml: GgmlType.Q5_0, fileType: 8 },
  q5_1: { ggml: GgmlType.Q5_1, fileType: 9 },
  q2_k: { ggml: GgmlType.Q2_K, fileType: 10 },
  // All Q3_K (LLAMA_FTYPE_MOSTLY_Q3_K_S, whose file is mostly Q3_K).
  q3_k: { ggml: GgmlType.Q3_K, fileType: 11 },
  q4_k: { ggml: GgmlType.Q4_K, fileType: 14 },
  q5_k: { ggml: GgmlType.Q5_K, fileType: 16 },
  q6_k: { ggml: GgmlType.Q6_K, fileType: 18 },
  iq4_nl: { ggml: GgmlType.IQ4_NL, fileType: 25 },
  iq4_xs: { ggml: GgmlType.IQ4_XS, fileType: 30 },
  // Q4_K_M-style: Q4_K, with the output head, attn_v and ffn_down in Q6_K (llama.cpp promotes the
  // latter two in some layers only; every layer here).
  q4_k_m: { ggml: GgmlType.Q4_K, fileType: 15, promoted: { ggml: GgmlType.Q6_K, names: Q4_K_M_PROMOTED } },
  // Q4_K_M as llama-quantize writes it: attn_v and ffn_down in Q6_K only in use_more_bits layers, a tied
  // embedding as the output head. With rows that are not whole superblocks (Qwen2.5 0.5B's d = 896) most
  // matrices fall back to Q5_0 and the Q6_K ones to Q8_0 (see matrixType): the real file's mix.
  q4_k_m_ggml: { ggml: GgmlType.Q4_K, fileType: 15, promoted: { ggml: GgmlType.Q6_K, names: Q4_K_M_PROMOTED, layers: 'more-bits', tiedEmbedding: true } },
};

/** Elements per block of a GGML type (1 for F32, F16, BF16). */
function blockElems(type: GgmlType): number {
  return GGML_BLOCK_LAYOUT[type]?.blockElems ?? 1;
}

/** llama-quantize's type for a K-quant tensor whose rows are not whole superblocks (convert_incompatible_tensor). */
const K_FALLBACK: Partial<Record<GgmlType, GgmlType>> = {
  [GgmlType.Q2_K]: GgmlType.IQ4_NL,
  [GgmlType.Q3_K]: GgmlType.IQ4_NL,
  [GgmlType.IQ4_XS]: GgmlType.IQ4_NL,
  [GgmlType.Q4_K]: GgmlType.Q5_0,
  [GgmlType.Q5_K]: GgmlType.Q5_1,
  [GgmlType.Q6_K]: GgmlType.Q8_0,
};

/**
 * The type a [rows][rowLength] matrix is stored as: block types need whole blocks per row. As
 * llama-quantize: a K-quant or IQ4_XS falls back to IQ4_NL (Q2_K, Q3_K, IQ4_XS) or Q5_0/Q5_1/Q8_0, and
 * anything without whole blocks to F16.
 */
export function matrixType(type: GgmlType, rowLength: number): GgmlType {
  if (rowLength % blockElems(type) === 0) return type;
  const fallback = K_FALLBACK[type];
  if (fallback !== undefined && rowLength % blockElems(fallback) === 0) return fallback;
  return GgmlType.F16;
}

/** llama-quantize's use_more_bits(i_layer, n_layers): the first and last eighth and every third layer between. */
export function useMoreBits(layer: number, nLayers: number): boolean {
  const eighth = Math.floor(nLayers / 8);
  return layer < eighth || layer >= Math.floor((7 * nLayers) / 8) || (layer - eighth) % 3 === 2;
}

/** The model around a tensor, for presets that depend on it (tied embedding, layer count). */
export interface ModelShape {
  nLayers: number;
  tiedEmbedding: boolean;
}

function isPromoted(p: NonNullable<WeightType['promoted']>, name: string, model?: ModelShape): boolean {
  if (p.tiedEmbedding && model?.tiedEmbedding && name === 'token_embd.weight') return p.names.test('output.weight');
  if (!p.names.test(name)) return false;
  const layer = /^blk\.(\d+)\./.exec(name);
  if (!layer || p.layers !== 'more-bits') return true;
  if (!model) throw new RangeError(`${name}: a 'more-bits' preset needs the layer count`);
  return useMoreBits(Number(layer[1]), model.nLayers);
}

/** The type tensor `name` ([rows][rowLength]) is stored as under `weightType`. */
export function tensorType(weightType: WeightType, name: string, rowLength: number, model?: ModelShape): GgmlType {
  const p = weightType.promoted;
  return matrixType(p && isPromoted(p, name, model) ? p.ggml : weightType.ggml, rowLength);
}

/** Whether files of this weight type carry general.quantization_version. */
export function isQuantizedWeightType(weightType: WeightType): boolean {
  return blockElems(weightType.ggml) > 1;
}

export function readLlama2cConfig(header: Buffer, path?: string): Llama2cConfig {
  if (header.length < LLAMA2C_HEADER_BYTES) throw new ModelFormatError('llama2c.header', 'file is shorter than the 28-byte header', path);
  const h = [0, 1, 2, 3, 4, 5, 6].map((i) => header.readInt32LE(i * 4));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSigned, seqLen] = h;
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  h.forEach((v, i) => {
    if (Math.abs(v) < 1 || Math.abs(v) > 1 << 24) throw new ModelFormatError(`llama2c.${names[i]}`, `${v} is out of range`, path);
  });
  if (dim % nHeads !== 0 || (dim / nHeads) % 2 !== 0) {
    throw new ModelFormatError('llama2c.n_heads', `dim ${dim} does not split into ${nHeads} heads of even size`, path);
  }
  if (nHeads % nKvHeads !== 0) throw new ModelFormatError('llama2c.n_kv_heads', `${nKvHeads} does not divide n_heads ${nHeads}`, path);
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocabSigned), seqLen, sharedClassifier: vocabSigned > 0 };
}

/** tokenizer.bin: int32 max_token_length, then per token { f32 score, int32 length, bytes }. */
export function readLlama2cTokenizer(path: string, vocabSize?: number): Llama2cTokenizer {
  const buf = readFileSync(path);
  if (buf.length < 4) throw new ModelFormatError('tokenizer.max_token_length', 'file is shorter than 4 bytes', path);
  const maxTokenLength = buf.readInt32LE(0);
  const pieces: string[] = [];
  const scores: number[] = [];
  const utf8 = new TextDecoder();
  let at = 4;
  while (vocabSize === undefined ? at < buf.length : pieces.length < vocabSize) {
    const field = `tokenizer.token[${pieces.length}]`;
    if (at + 8 > buf.length) throw new ModelFormatError(field, 'file ends inside the token record', path);
    const score = buf.readFloatLE(at);
    const len = buf.readInt32LE(at + 4);
    if (len < 0 || at + 8 + len > buf.length) throw new ModelFormatError(field, `length ${len} runs past the end of the file`, path);
    pieces.push(utf8.decode(buf.subarray(at + 8, at + 8 + len)));
    scores.push(score);
    at += 8 + len;
  }
  return { maxTokenLength, pieces, scores };
}

/** SentencePiece-style GGUF vocab from llama2.c pieces: specials renamed, spaces as '▁', byte pieces typed. */
export function llama2cVocabToGguf(tok: Llama2cTokenizer): GgufMetadataEntry[] {
  const tokens: string[] = [];
  const types: number[] = [];
  tok.pieces.forEach((piece, id) => {
    if (id === UNK_ID) { tokens.push('<unk>'); types.push(TOKEN_TYPE.unknown); return; }
    if (id === BOS_ID) { tokens.push('<s>'); types.push(TOKEN_TYPE.control); return; }
    if (id === EOS_ID) { tokens.push('</s>'); types.push(TOKEN_TYPE.control); return; }
    tokens.push(piece.replaceAll(' ', '\u2581'));
    types.push(piece.length === 0 ? TOKEN_TYPE.control : /^<0x[0-9A-Fa-f]{2}>$/.test(piece) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal);
  });
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: GgufValueType.UINT32, value });
  return [
    { key: 'tokenizer.ggml.model', type: GgufValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GgufValueType.ARRAY, arrayType: GgufValueType.FLOAT32, value: tok.scores },
    { key: 'tokenizer.ggml.token_type', type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: types },
    u32('tokenizer.ggml.unknown_token_id', UNK_ID),
    u32('tokenizer.ggml.bos_token_id', BOS_ID),
    u32('tokenizer.ggml.eos_token_id', EOS_ID),
    { key: 'tokenizer.ggml.add_bos_token', type: GgufValueType.BOOL, value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: GgufValueType.BOOL, value: false },
  ];
}

export interface ConvertOptions {
  type?: WeightTypeName;
  name?: string;
}

/** Converts a llama2.c checkpoint and its tokenizer into a GGUF at outPath, one tensor at a time. */
export async function convertLlama2c(modelPath: string, tokenizerPath: string, outPath: string, opts: ConvertOptions = {}): Promise<void> {
  const weightType = WEIGHT_TYPES[opts.type ?? 'f32'];
  if (!weightType) throw new TypeError(`unknown weight type ${opts.type}`);
  const fd = openSync(modelPath, 'r');
  try {
    const header = Buffer.alloc(LLAMA2C_HEADER_BYTES);
    readSync(fd, header, 0, LLAMA2C_HEADER_BYTES, 0);
    const cfg = readLlama2cConfig(header, modelPath);
    const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = cfg;
    const headDim = dim / nHeads;
    const kvDim = headDim * nKvHeads;

    // Float offsets of each section after the header, in file order.
    const sizes: Array<[string, number]> = [
      ['tok', vocabSize * dim], ['rmsAtt', nLayers * dim], ['wq', nLayers * dim * dim],
      ['wk', nLayers * kvDim * dim], ['wv', nLayers * kvDim * dim], ['wo', nLayers * dim * dim],
      ['rmsFfn', nLayers * dim], ['w1', nLayers * hiddenDim * dim], ['w2', nLayers * dim * hiddenDim],
      ['w3', nLayers * hiddenDim * dim], ['rmsFinal', dim], ['ropeTables', seqLen * headDim],
      ['wcls', cfg.sharedClassifier ? 0 : vocabSize * dim],
    ];
    const offset: Record<string, number> = {};
    let totalFloats = 0;
    for (const [name, n] of sizes) { offset[name] = totalFloats; totalFloats += n; }
    const expectedBytes = LLAMA2C_HEADER_BYTES + totalFloats * 4;
    const fileBytes = fstatSync(fd).size;
    if (fileBytes !== expectedBytes) {
      throw new ModelFormatError('llama2c.size', `file has ${fileBytes} bytes, the header implies ${expectedBytes}`, modelPath);
    }

    // [count] f32 starting `at` floats after the header.
    const readFloats = (at: number, count: number): Float32Array => {
      const out = new Float32Array(count);
      readSync(fd, new Uint8Array(out.buffer), 0, count * 4, LLAMA2C_HEADER_BYTES + at * 4);
      return out;
    };
    const tensors: GgufTensorToWrite[] = [];
    // A row-major [rows][cols] matrix (ggml dims [cols, rows]) or a norm vector (always F32).
    const matrix = (name: string, section: string, index: number, rows: number, cols: number) => {
      const type = tensorType(weightType, name, cols, { nLayers, tiedEmbedding: cfg.sharedClassifier });
      tensors.push({
        name, dims: [cols, rows], type,
        data: () => quantizeTensor(type, readFloats(offset[section] + index * rows * cols, rows * cols), name),
      });
    };
    const norm = (name: string, section: string, index: number) => {
      tensors.push({ name, dims: [dim], type: GgmlType.F32, data: () => new Uint8Array(readFloats(offset[section] + index * dim, dim).buffer) });
    };

    matrix('token_embd.weight', 'tok', 0, vocabSize, dim);
    norm('output_norm.weight', 'rmsFinal', 0);
    if (!cfg.sharedClassifier) matrix('output.weight', 'wcls', 0, vocabSize, dim);
    for (let l = 0; l < nLayers; l++) {
      norm(`blk.${l}.attn_norm.weight`, 'rmsAtt', l);
      matrix(`blk.${l}.attn_q.weight`, 'wq', l, dim, dim);
      matrix(`blk.${l}.attn_k.weight`, 'wk', l, kvDim, dim);
      matrix(`blk.${l}.attn_v.weight`, 'wv', l, kvDim, dim);
      matrix(`blk.${l}.attn_output.weight`, 'wo', l, dim, dim);
      norm(`blk.${l}.ffn_norm.weight`, 'rmsFfn', l);
      matrix(`blk.${l}.ffn_gate.weight`, 'w1', l, hiddenDim, dim);
      matrix(`blk.${l}.ffn_down.weight`, 'w2', l, dim, hiddenDim);
      matrix(`blk.${l}.ffn_up.weight`, 'w3', l, hiddenDim, dim);
    }

    const tok = readLlama2cTokenizer(tokenizerPath, vocabSize);
    const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: GgufValueType.UINT32, value });
    const f32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: GgufValueType.FLOAT32, value });
    const metadata: GgufMetadataEntry[] = [
      { key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' },
      { key: 'general.name', type: GgufValueType.STRING, value: opts.name ?? 'llama2.c model' },
      u32('general.file_type', weightType.fileType),
      ...(isQuantizedWeightType(weightType) ? [u32('general.quantization_version', 2)] : []),
      u32('llama.context_length', seqLen),
      u32('llama.embedding_length', dim),
      u32('llama.feed_forward_length', hiddenDim),
      u32('llama.block_count', nLayers),
      u32('llama.attention.head_count', nHeads),
      u32('llama.attention.head_count_kv', nKvHeads),
      u32('llama.rope.dimension_count', headDim),
      u32('llama.vocab_size', vocabSize),
      f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
      f32('llama.rope.freq_base', 10000),
      ...llama2cVocabToGguf(tok),
    ];
    await writeGguf(outPath, { metadata, tensors });
  } finally {
    closeSync(fd);
  }
}
