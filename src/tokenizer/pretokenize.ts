// Byte-level BPE pre-tokenizer regexes by tokenizer.ggml.pre, copied as expressions (not code) from
// llama.cpp's llm_tokenizer_bpe (src/llama-vocab.cpp). llama.cpp applies a list in order: each regex splits
// every piece the previous one produced, keeping both matches and the text between them; that is a
// Hugging Face Sequence of Split pre-tokenizers with behavior 'Isolated'. The strings are in the Oniguruma
// dialect tokenizer.json uses; @huggingface/tokenizers rewrites them for JavaScript (\s becomes
// \p{White_Space}, which is also llama.cpp's whitespace set: U+0085 yes, U+FEFF no).

import { TokenizerError } from '../common/errors';
import { LLAMA3_PRE } from './vocab';

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const LLAMA3 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN2 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

const PATTERNS: Record<string, string[]> = {
  default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  llama3: [LLAMA3],
  qwen2: [QWEN2],
  'deepseek-coder': ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'],
  starcoder: ['\\p{N}', GPT2],
  gpt2: [GPT2],
};

// tokenizer.ggml.pre values that share a pattern list (the same case labels as llama.cpp).
const ALIASES: Record<string, keyof typeof PATTERNS> = {
  dbrx: 'llama3', 'smaug-bpe': 'llama3',
  'deepseek-r1-qwen': 'qwen2', kormo: 'qwen2', f2llmv2: 'qwen2', megrez: 'qwen2', stablelm2: 'qwen2',
  hunyuan: 'qwen2', 'solar-open': 'qwen2',
  refact: 'starcoder', 'command-r': 'starcoder', smollm: 'starcoder', codeshell: 'starcoder', exaone: 'starcoder',
  'minerva-7b': 'starcoder', mellum2: 'starcoder',
  'gpt-2': 'gpt2', 'phi-2': 'gpt2', mpt: 'gpt2', olmo: 'gpt2', jais: 'gpt2', exaone4: 'gpt2', trillion: 'gpt2',
  'granite-docling': 'gpt2', mellum: 'gpt2', 'a.x-4.0': 'gpt2', gigachat: 'gpt2',
};

/** The regexes llama.cpp splits text with before BPE, for a tokenizer.ggml.pre value. */
export function preTokenizerPatterns(pre: string): string[] {
  const name = LLAMA3_PRE.has(pre) ? 'llama3' : (PATTERNS[pre] ? pre : ALIASES[pre]);
  if (!name) {
    throw new TokenizerError(`pre-tokenizer '${pre}' is not supported (known: ${Object.keys(PATTERNS).join(', ')} and their aliases)`);
  }
  return PATTERNS[name];
}
