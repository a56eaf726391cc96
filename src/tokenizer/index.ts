// Public surface of the tokenizer: build one from GGUF metadata with createTokenizer().
export { createTokenizer } from './tokenizer';
export type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer, TokenizerOptions } from './tokenizer';
export { TokenType } from './vocab';
export type { FimTokens, TokenizerModelName } from './vocab';
