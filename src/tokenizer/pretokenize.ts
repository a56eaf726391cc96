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
// Seed-Coder: Qwen2's list, but punctuation runs stop before a newline instead of taking it in.
const SEED_CODER = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

const DEEPSEEK_LLM_LETTERS = '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+';

const PATTERNS: Record<string, string[]> = {
  default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  llama3: [LLAMA3],
  qwen2: [QWEN2],
  'seed-coder': [SEED_CODER],
  'deepseek-coder': ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'],
  // DeepSeek LLM (and its V2 models): deepseek-coder's list with letters as DeepSeek's tokenizer.json lists
  // them (cased scripts only), ASCII and full-width punctuation runs, and trailing whitespace as a piece of its own.
  'deepseek-llm': ['[\r\n]', DEEPSEEK_LLM_LETTERS, '\\s?[!-/:-~！-／：-～‘-‟　-。]+', '\\s+$', '[一-龥ࠀ-一가-퟿]+', '\\p{N}+'],
  starcoder: ['\\p{N}', GPT2],
  gpt2: [GPT2],
};

// tokenizer.ggml.pre values that share a pattern list (the same case labels as llama.cpp).
const ALIASES: Record<string, keyof typeof PATTERNS> = {
  dbrx: 'llama3', 'smaug-bpe': 'llama3', 'chatglm-bpe': 'llama3', glm4: 'llama3',
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

/**
 * Where byte-level BPE text may be cut after a '\n' so that encoding the parts gives exactly the tokens
 * of the whole (BPE works inside pre-tokens, so a cut where every pattern list above splits anyway
 * changes nothing), by pattern list:
 *  - 'any': a list whose first regex isolates every '\r' and '\n' (deepseek-coder, deepseek-llm): after every '\n'
 *    (deepseek-llm's `\s+$` ends at a piece's end, which a newline always is).
 *  - 'unless-blank': llama3, qwen2 and seed-coder, whose only patterns that match a '\n' end at the last
 *    newline of a run of whitespace (`\s*[\r\n]+`, and llama3's and qwen2's ` ?[^\s\p{L}\p{N}]+[\r\n]*`) and
 *    whose other patterns never start with one: after a '\n' unless the whitespace that follows reaches
 *    another '\r' or '\n' (a blank or whitespace-only line, which `\s*[\r\n]+` takes in with the newline
 *    before it).
 *  - 'lone-newline': the GPT-2 patterns, whose `\s+(?!\S)` takes a run of whitespace but its last
 *    character when something follows, and the whole run at the end of the text: only after a '\n' that
 *    stands alone between non-whitespace (the end of one line's text and the next line's first character).
 * test/unit/tokenizer-line-cache.test.ts checks each against encoding the whole text, on real source files.
 */
export type LineCutRule = 'any' | 'unless-blank' | 'lone-newline';

export function lineCutRule(pre: string): LineCutRule {
  const patterns = preTokenizerPatterns(pre);
  if (patterns === PATTERNS['deepseek-coder'] || patterns === PATTERNS['deepseek-llm']) return 'any';
  if (patterns === PATTERNS.llama3 || patterns === PATTERNS.qwen2 || patterns === PATTERNS['seed-coder']) return 'unless-blank';
  return 'lone-newline';
}

/** \p{White_Space}, the set the patterns' \s stands for. */
const WHITE_SPACE = /\p{White_Space}/u;

function isWhiteSpace(c: string): boolean {
  const code = c.charCodeAt(0);
  if (code < 0x80) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  return WHITE_SPACE.test(c);
}

/**
 * Calls `piece` with consecutive pieces of `text` that together are `text`, cut after a '\n' wherever
 * `rule` allows (one piece per line, except where a line may not start a piece).
 */
export function forEachLinePiece(text: string, rule: LineCutRule, piece: (s: string) => void): void {
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl + 1 < text.length; nl = text.indexOf('\n', nl + 1)) {
    const i = nl + 1;
    if (!cutAllowed(text, i, rule)) continue;
    piece(text.slice(start, i));
    start = i;
  }
  piece(start === 0 ? text : text.slice(start));
}

/** Whether `text` may be cut at `i` (just after a '\n'). */
function cutAllowed(text: string, i: number, rule: LineCutRule): boolean {
  if (rule === 'any') return true;
  if (rule === 'lone-newline') return !isWhiteSpace(text[i]) && (i < 2 || !isWhiteSpace(text[i - 2]));
  let j = i;
  while (j < text.length && isWhiteSpace(text[j])) {
    if (text[j] === '\n' || text[j] === '\r') return false;
    j++;
  }
  return true;
}
