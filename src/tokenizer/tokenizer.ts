// The tokenizer the engine uses: built once per model load from GGUF metadata, encoding through
// @huggingface/tokenizers and decoding from token bytes. Behaviour follows llama.cpp's llama_tokenize /
// llama_detokenize for the same GGUF (see test/oracle/llamacpp-tokenize.test.ts):
//  - special tokens (Control, UserDefined, Unknown) are cut out of the text first, longest first;
//    with parseSpecial = false only UserDefined ones are (they are ordinary pieces of text, like '<tool_call>');
//  - SentencePiece ('llama') text gets a leading space at its start and after every special token;
//  - no Unicode normalization (llama.cpp has none; Hugging Face's Qwen tokenizer.json applies NFC).

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { LRUCache } from 'lru-cache';
import { TokenizerError } from '../common/errors';
import { detached } from '../common/strings';
import type { GgufValue } from '../loaders/gguf/types';
import { tokenPieceBytes } from './bytes';
import { buildTokenizerJson } from './hfJson';
import { forEachLinePiece, lineCutRule, type LineCutRule } from './pretokenize';
import { readVocab, TokenType, type FimTokens, type GgufVocab, type TokenizerModelName } from './vocab';

export interface EncodeOptions {
  /** Put the BOS id first. Default false; `addBosDefault` says what the model expects at the start of a prompt. */
  addBos?: boolean;
  /**
   * Turn the text of control tokens ('<|fim_prefix|>', '<|endoftext|>', ...) into their ids. Default true.
   * Pass false for text from the user's files, so a literal '<|endoftext|>' in their code stays text.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave out control and unknown tokens instead of writing their text. Default false. */
  skipSpecial?: boolean;
  /**
   * Drop one space from the start of the first token's piece, undoing the space SentencePiece encoding
   * prepends (llama.cpp's detokenize does this). Default: true for 'llama' vocabularies with a space prefix.
   * Pass false when decoding a continuation of earlier text.
   */
  stripLeadingSpace?: boolean;
}

export interface StreamDecoder {
  /** Text completed by this token; bytes of a character split over tokens wait for the rest. */
  push(id: number): string;
  /** What is still held back, with U+FFFD for an incomplete character; the decoder can be reused after. */
  flush(): string;
}

export interface Tokenizer {
  readonly model: TokenizerModelName;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Ids that end generation: EOS, end-of-turn tokens (<|endoftext|>, <|im_end|>), FIM pad/repo/sep. */
  readonly eotIds: readonly number[];
  readonly addBosDefault: boolean;
  readonly fim: FimTokens | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** Decoding for generated tokens, one at a time: a continuation, so no leading space is stripped by default. */
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
  /** The vocabulary entry as stored in the GGUF ('Ġfoo' in byte-level BPE, '▁foo' in SentencePiece). */
  tokenText(id: number): string;
  /** The bytes the token adds to decoded text (possibly part of a UTF-8 character). */
  tokenBytes(id: number): Uint8Array;
  tokenType(id: number): TokenType;
  isEog(id: number): boolean;
}

export interface TokenizerOptions {
  /**
   * Keep the tokens of recently encoded lines (byte-level BPE only): a completion request encodes its
   * whole prompt window, and counts its tokens line by line to choose it, on every keystroke, though
   * only a line or two changed. Default true; false encodes every text whole (tests compare the two).
   */
  lineCache?: boolean;
}

/**
 * Lines whose tokens are kept (LRU), and their size in characters plus 8 per token: a prompt window
 * (~1,300 tokens, ~300 lines) is ~40,000, so this keeps a dozen windows' lines, about 1 MB of heap
 * (measured: 1.7 bytes per unit).
 */
const LINE_CACHE_ENTRIES = 4096;
const LINE_CACHE_SIZE = 1 << 19;
/** Longer lines (minified code) are encoded each time, not kept. */
const LINE_CACHE_MAX_CHARS = 1024;

/** Builds the tokenizer described by a GGUF file's tokenizer.ggml.* metadata. */
export function createTokenizer(meta: Map<string, GgufValue>, options: TokenizerOptions = {}): Tokenizer {
  return new GgufTokenizer(readVocab(meta), options);
}

type Fragment = string | number;

/** Keeps a leading U+FEFF: it is text the model produced, not a byte-order mark to hide. */
const newUtf8Decoder = () => new TextDecoder('utf-8', { ignoreBOM: true });

class GgufTokenizer implements Tokenizer {
  readonly model: TokenizerModelName;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly eotIds: readonly number[];
  readonly addBosDefault: boolean;
  readonly fim: FimTokens | undefined;
  private readonly hf: HfTokenizer;
  private readonly eog: Set<number>;
  /** Ids whose text is cut out of input before BPE, longest text first (llama.cpp's cache_special_tokens). */
  private readonly specialIds: number[];
  private readonly pieceCache: (Uint8Array | undefined)[];
  /** Where text may be cut into lines encoded apart (pretokenize.ts), and their tokens; absent for SentencePiece. */
  private readonly lineCut: LineCutRule | undefined;
  private readonly lineTokens: LRUCache<string, readonly number[]> | undefined;

  constructor(private readonly vocab: GgufVocab, options: TokenizerOptions) {
    this.model = vocab.model;
    this.vocabSize = vocab.tokens.length;
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.eotIds = vocab.eogIds;
    this.eog = new Set(vocab.eogIds);
    this.addBosDefault = vocab.addBos && vocab.bosId !== undefined;
    this.fim = vocab.fim;
    try {
      this.hf = new HfTokenizer(buildTokenizerJson(vocab), {});
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new TokenizerError(`cannot build the tokenizer from the GGUF metadata: ${(e as Error).message}`);
    }
    const special: number[] = [];
    for (let id = 0; id < this.vocabSize; id++) {
      const t = vocab.types[id];
      if ((t === TokenType.Control || t === TokenType.UserDefined || t === TokenType.Unknown) && vocab.tokens[id] !== '') {
        special.push(id);
      }
    }
    const utf8 = new TextEncoder();
    const byteLength = new Map(special.map((id) => [id, utf8.encode(vocab.tokens[id]).length]));
    special.sort((a, b) => byteLength.get(b)! - byteLength.get(a)! || a - b);
    this.specialIds = special;
    this.pieceCache = new Array(this.vocabSize);
    // SentencePiece BPE has no pre-tokenizer: its merges may join anything, so its text is encoded whole.
    if (vocab.model === 'gpt2' && options.lineCache !== false) {
      this.lineCut = lineCutRule(vocab.pre);
      this.lineTokens = new LRUCache({ max: LINE_CACHE_ENTRIES, maxSize: LINE_CACHE_SIZE, sizeCalculation: (ids, line) => line.length + 8 * ids.length });
    }
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const { addBos = false, parseSpecial = true } = options;
    const out: number[] = [];
    if (addBos) {
      if (this.bosId === undefined) throw new TokenizerError('this model has no BOS token');
      out.push(this.bosId);
    }
    if (text === '') return out;
    const spm = this.vocab.model === 'llama';
    let prevSpecial = true;
    for (const frag of this.splitSpecial(text, parseSpecial)) {
      if (typeof frag === 'number') {
        out.push(frag);
        prevSpecial = true;
        continue;
      }
      let piece = frag;
      if (spm) {
        if (this.vocab.addSpacePrefix && prevSpecial) piece = ' ' + piece;
        piece = piece.replaceAll(' ', '▁');
      }
      prevSpecial = false;
      if (this.lineCut) forEachLinePiece(piece, this.lineCut, (line) => this.encodeLine(line, out));
      else for (const id of this.hf.encode(piece, { add_special_tokens: false }).ids) out.push(id);
    }
    return out;
  }

  /** Appends the tokens of `line` (a piece of text that may be encoded on its own) to `out`, from the cache when it holds them. */
  private encodeLine(line: string, out: number[]): void {
    const cache = this.lineTokens!;
    let ids = cache.get(line);
    if (!ids) {
      ids = this.hf.encode(line, { add_special_tokens: false }).ids;
      // detached: the line is a slice of the request's text, which it would otherwise keep alive.
      if (line.length <= LINE_CACHE_MAX_CHARS) cache.set(detached(line), ids);
    }
    for (const id of ids) out.push(id);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    let strip = options.stripLeadingSpace ?? (this.vocab.model === 'llama' && this.vocab.addSpacePrefix);
    for (const id of ids) {
      let bytes = this.pieceBytes(id, options.skipSpecial ?? false);
      if (strip && bytes.length > 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
      strip = false;
      parts.push(bytes);
      total += bytes.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return newUtf8Decoder().decode(all);
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    // TextDecoder in stream mode holds an incomplete trailing sequence and replaces invalid bytes exactly
    // as a one-shot decode of the same bytes would.
    let decoder = newUtf8Decoder();
    let strip = options.stripLeadingSpace ?? false;
    const skipSpecial = options.skipSpecial ?? false;
    return {
      push: (id: number) => {
        let bytes = this.pieceBytes(id, skipSpecial);
        if (strip && bytes.length > 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
        strip = false;
        return decoder.decode(bytes, { stream: true });
      },
      flush: () => {
        const rest = decoder.decode();
        decoder = newUtf8Decoder();
        return rest;
      },
    };
  }

  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id];
  }

  tokenBytes(id: number): Uint8Array {
    return this.pieceBytes(id, false).slice();
  }

  tokenType(id: number): TokenType {
    this.checkId(id);
    return this.vocab.types[id];
  }

  isEog(id: number): boolean {
    return this.eog.has(id);
  }

  private pieceBytes(id: number, skipSpecial: boolean): Uint8Array {
    this.checkId(id);
    if (skipSpecial) {
      const t = this.vocab.types[id];
      if (t === TokenType.Control || t === TokenType.Unknown) return new Uint8Array(0);
    }
    return (this.pieceCache[id] ??= tokenPieceBytes(this.vocab, id));
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }

  /**
   * llama.cpp's tokenizer_st_partition: for each special token, longest first, cut every occurrence out
   * of the text fragments that remain. Control and unknown tokens only when parseSpecial is set.
   */
  private splitSpecial(text: string, parseSpecial: boolean): Fragment[] {
    let frags: Fragment[] = [text];
    for (const id of this.specialIds) {
      const type = this.vocab.types[id];
      if (!parseSpecial && type !== TokenType.UserDefined) continue;
      const special = this.vocab.tokens[id];
      if (!text.includes(special)) continue;
      const next: Fragment[] = [];
      for (const frag of frags) {
        if (typeof frag === 'number' || !frag.includes(special)) {
          next.push(frag);
          continue;
        }
        let from = 0;
        for (let at = frag.indexOf(special); at >= 0; at = frag.indexOf(special, from)) {
          if (at > from) next.push(frag.slice(from, at));
          next.push(id);
          from = at + special.length;
        }
        if (from < frag.length) next.push(frag.slice(from));
      }
      frags = next;
    }
    return frags;
  }
}
