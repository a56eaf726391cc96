// A character-level stand-in for the model tokenizer: one id per UTF-16 unit (1000 + code), special
// tokens by text. Enough to test prompt layouts and budgets exactly without a model file.
import type { Tokenizer } from '../../src/tokenizer';
import { TokenType } from '../../src/tokenizer';
import type { FimTokens } from '../../src/tokenizer';

export interface FakeSpec {
  specials: string[];
  fim?: { prefix: string; suffix: string; middle: string; pad?: string; repo?: string; fileSep?: string };
  eot?: string[];
  bos?: string;
}

export function fakeTokenizer(spec: FakeSpec): Tokenizer {
  const specials = [...spec.specials];
  const id = (t: string) => {
    const i = specials.indexOf(t);
    if (i < 0) throw new Error(`no special ${t}`);
    return i;
  };
  const byLength = [...specials].sort((a, b) => b.length - a.length);
  let fim: FimTokens | undefined;
  if (spec.fim) {
    fim = { prefix: id(spec.fim.prefix), suffix: id(spec.fim.suffix), middle: id(spec.fim.middle) };
    if (spec.fim.pad) fim.pad = id(spec.fim.pad);
    if (spec.fim.repo) fim.repo = id(spec.fim.repo);
    if (spec.fim.fileSep) fim.fileSep = id(spec.fim.fileSep);
  }
  const decodeOne = (i: number) => (i < 1000 ? specials[i] : String.fromCharCode(i - 1000));
  const tok: Tokenizer = {
    model: 'gpt2',
    vocabSize: 1000 + 65536,
    bosId: spec.bos ? id(spec.bos) : undefined,
    eosId: spec.eot?.length ? id(spec.eot[0]) : undefined,
    eotIds: (spec.eot ?? []).map(id),
    addBosDefault: !!spec.bos,
    fim,
    encode(text, o = {}) {
      const out: number[] = [];
      if (o.addBos && spec.bos) out.push(id(spec.bos));
      for (let i = 0; i < text.length;) {
        const s = o.parseSpecial === false ? undefined : byLength.find((t) => text.startsWith(t, i));
        if (s) { out.push(id(s)); i += s.length; continue; }
        out.push(1000 + text.charCodeAt(i));
        i++;
      }
      return out;
    },
    decode: (ids) => ids.map(decodeOne).join(''),
    createStreamDecoder: () => ({ push: decodeOne, flush: () => '' }),
    tokenText: decodeOne,
    tokenBytes: (i) => new TextEncoder().encode(decodeOne(i)),
    tokenType: (i) => (i < 1000 ? TokenType.Control : TokenType.Normal),
    isEog: (i) => (spec.eot ?? []).some((t) => id(t) === i),
  };
  return tok;
}

export const QWEN_LIKE: FakeSpec = {
  specials: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'],
  fim: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', pad: '<|fim_pad|>', repo: '<|repo_name|>', fileSep: '<|file_sep|>' },
  eot: ['<|endoftext|>'],
};
/** CodeGemma: Qwen's FIM spellings, its own file separator (a FIM id in the GGUF), BOS, no repository token. */
export const CODEGEMMA_LIKE: FakeSpec = {
  specials: ['<bos>', '<eos>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|file_separator|>', '<end_of_turn>'],
  fim: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', fileSep: '<|file_separator|>' },
  eot: ['<eos>', '<end_of_turn>'],
  bos: '<bos>',
};
/** Seed-Coder: its FIM tokens only by text (its GGUFs name no FIM ids), BOS. */
export const SEEDCODER_LIKE: FakeSpec = {
  specials: ['<[begin▁of▁sentence]>', '<[end▁of▁sentence]>', '<[fim-suffix]>', '<[fim-prefix]>', '<[fim-middle]>'],
  eot: ['<[end▁of▁sentence]>'],
  bos: '<[begin▁of▁sentence]>',
};
/** CodeGeeX4 (GLM-4's vocabulary): its FIM tokens named by the GGUF as llama.cpp finds them, the turns by text, no BOS. */
export const CODEGEEX_LIKE: FakeSpec = {
  specials: ['<|endoftext|>', '[gMASK]', '<sop>', '<|user|>', '<|assistant|>', '<|observation|>', '<|code_prefix|>', '<|code_suffix|>', '<|code_middle|>'],
  fim: { prefix: '<|code_prefix|>', suffix: '<|code_suffix|>', middle: '<|code_middle|>' },
  eot: ['<|endoftext|>', '<|user|>'],
};
/** StarCoder2 as its GGUFs give it: llama.cpp's FIM spellings find no repository or file-separator id (<repo_name>, <file_sep>). */
export const STARCODER_LIKE: FakeSpec = {
  specials: ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<repo_name>', '<file_sep>'],
  fim: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', pad: '<fim_pad>' },
  eot: ['<|endoftext|>'],
};
/** StarCoder 1 / StarCoderBase: the same FIM spelling, <reponame> and <filename> but no <file_sep>. */
export const STARCODER1_LIKE: FakeSpec = {
  specials: ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<filename>', '<gh_stars>', '<reponame>'],
  fim: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', pad: '<fim_pad>', repo: '<reponame>' },
  eot: ['<|endoftext|>'],
};
export const DEEPSEEK_LIKE: FakeSpec = {
  specials: ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<|EOT|>'],
  fim: { prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>' },
  eot: ['<｜end▁of▁sentence｜>', '<|EOT|>'],
  bos: '<｜begin▁of▁sentence｜>',
};
export const CODELLAMA_LIKE: FakeSpec = {
  specials: ['<s>', '</s>', '▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>'],
  fim: { prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>' },
  eot: ['</s>', '▁<EOT>'],
  bos: '<s>',
};
export const CODESTRAL_LIKE: FakeSpec = {
  specials: ['<s>', '</s>', '[PREFIX]', '[SUFFIX]', '[MIDDLE]'],
  eot: ['</s>'],
  bos: '<s>',
};
export const PLAIN: FakeSpec = { specials: ['<s>', '</s>'], eot: ['</s>'], bos: '<s>' };
