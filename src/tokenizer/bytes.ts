// What each token contributes to decoded text, as bytes: decoding is concatenation of these, then UTF-8.
// Mirrors llama.cpp's token_to_piece (src/llama-vocab.cpp) with special = true.

import { TokenType, type GgufVocab } from './vocab';

/** GPT-2's byte -> printable code point table: bytes that are printable map to themselves, the other 68 to 256+. */
function buildByteLevelTables(): { byteOfCodePoint: Map<number, number> } {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const byteOfCodePoint = new Map<number, number>();
  for (const b of keep) byteOfCodePoint.set(b, b);
  let next = 256;
  for (let b = 0; b < 256; b++) if (!keep.includes(b)) byteOfCodePoint.set(next++, b);
  return { byteOfCodePoint };
}

const { byteOfCodePoint } = buildByteLevelTables();
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

function byteTokenValue(text: string): number | undefined {
  // '<0xNN>'
  if (text.length !== 6 || !text.startsWith('<0x') || text[5] !== '>') return undefined;
  const v = parseInt(text.slice(3, 5), 16);
  return Number.isNaN(v) ? undefined : v;
}

/**
 * The bytes of one token's piece. Control, unknown and user-defined tokens are their text as written;
 * byte tokens (<0xNN>) one byte; normal tokens are mapped back from GPT-2's byte alphabet (gpt2) or have
 * '▁' turned into a space (llama); unused and undefined tokens contribute nothing.
 */
export function tokenPieceBytes(vocab: GgufVocab, id: number): Uint8Array {
  const text = vocab.tokens[id];
  switch (vocab.types[id]) {
    case TokenType.Control:
    case TokenType.Unknown:
    case TokenType.UserDefined:
      return utf8.encode(text);
    case TokenType.Byte: {
      const v = byteTokenValue(text);
      return v === undefined ? EMPTY : Uint8Array.of(v);
    }
    case TokenType.Normal:
      return vocab.model === 'llama' ? utf8.encode(text.replaceAll('▁', ' ')) : byteLevelDecode(text);
    default:
      return EMPTY;
  }
}

function byteLevelDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = byteOfCodePoint.get(cp);
    // A character outside the byte alphabet cannot come from a converted tokenizer; keep it as UTF-8.
    if (b !== undefined) out.push(b);
    else out.push(...utf8.encode(ch));
  }
  return Uint8Array.from(out);
}
