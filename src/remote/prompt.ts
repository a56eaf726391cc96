// The FIM prompt as text, for servers that take a raw prompt (/v1/completions, Ollama's raw mode). The
// layouts are the local engine's (completion/templates.ts); the special tokens are written as their text,
// which llama.cpp, vLLM, SGLang and Ollama parse back into the special ids. There is no tokenizer on this
// side, so the token budgets of the windows are counted at ~3 characters a token (code averages 3-4:
// the estimate errs towards a shorter prompt).

import { DEFAULT_BUDGETS, promptWindows, splitMiddle, takesTypedMiddle, type PromptBudgets } from '../completion/prompt';
import { getTemplate, isTemplateName, withOrder, type FimOrder, type Piece, type TemplateName } from '../completion/templates';
import type { CompletionRequest } from '../completion/types';
import { filesWithin, type CountTokens, type KeepPrefixWindow } from '../completion/window';

type Role = 'prefix' | 'suffix' | 'middle' | 'repo' | 'fileSep';

interface FimSpelling {
  roles: Partial<Record<Role, string>>;
  /** The roles' spelling in the suffix-first order, where it differs. */
  spmRoles?: Partial<Record<Role, string>>;
  /** Texts that end a completion: end of text, and any special that starts a new part of the format. */
  stop: string[];
}

const SPELLINGS: Record<TemplateName, FimSpelling> = {
  'qwen2.5-coder': {
    roles: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', repo: '<|repo_name|>', fileSep: '<|file_sep|>' },
    stop: ['<|endoftext|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<|im_end|>'],
  },
  starcoder2: {
    // <repo_name> and <file_sep> are in the layout by their text (templates.ts).
    roles: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>' },
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<file_sep>'],
  },
  starcoder: {
    roles: { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>' },
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'],
  },
  codegemma: {
    roles: { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>' },
    stop: ['<eos>', '<end_of_turn>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|file_separator|>'],
  },
  'deepseek-coder': {
    roles: { prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>' },
    stop: ['<｜end▁of▁sentence｜>', '<|EOT|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
  },
  // "<PRE> P <SUF>S <MID>" and, suffix first, "<PRE> <SUF>S <MID> P": the spaces are part of the format as
  // Code Llama was trained on it.
  codellama: { roles: { prefix: '<PRE> ', suffix: ' <SUF>', middle: ' <MID>' }, spmRoles: { prefix: '<PRE> ', suffix: '<SUF>', middle: ' <MID> ' }, stop: ['<EOT>', '<PRE>', '<SUF>', '<MID>'] },
  codestral: { roles: {}, stop: ['</s>', '[PREFIX]', '[SUFFIX]'] },
  // The server ends at the model's own end of text; these are the parts of the format.
  'seed-coder': { roles: {}, stop: ['<[fim-prefix]>', '<[fim-suffix]>', '<[fim-middle]>'] },
  // Its parts by their text; it answers as the assistant, and a new turn ends the answer.
  codegeex4: { roles: {}, stop: ['<|endoftext|>', '<|user|>', '<|observation|>', '<|code_prefix|>', '<|code_suffix|>', '<|code_middle|>'] },
  'prefix-only': { roles: {}, stop: [] },
};

/** ~3 characters a token (see the file comment). */
export const estimateTokens: CountTokens = (t) => Math.ceil(t.length / 3);

/** The template for a served model: the setting when it names one, else from the model's name. */
export function remoteTemplate(setting: string | undefined, modelName: string): TemplateName {
  if (setting && setting !== 'auto' && isTemplateName(setting)) return setting;
  const n = modelName.toLowerCase();
  if (/qwen/.test(n)) return 'qwen2.5-coder';
  if (/code-?gemma/.test(n)) return 'codegemma';
  if (/starcoder-?2/.test(n)) return 'starcoder2';
  // Refact-1.6B takes StarCoder 1's FIM tokens (its vocabulary is StarCoder's, extended).
  if (/starcoder|refact/.test(n)) return 'starcoder';
  if (/deepseek/.test(n)) return 'deepseek-coder';
  if (/codestral/.test(n)) return 'codestral';
  if (/seed-?coder/.test(n)) return 'seed-coder';
  if (/codegeex/.test(n)) return 'codegeex4';
  if (/code-?llama/.test(n)) return 'codellama';
  return 'prefix-only';
}

export interface TextPrompt {
  text: string;
  stop: string[];
  /** The windows as they went in (post-processing compares against these): the prefix up to the cursor, and its end that went after the middle token. */
  prefix: string;
  middle: string;
  suffix: string;
  /** Document line where the prefix window starts (PrefixStarts.remember). */
  prefixStartLine: number;
}

/** `keep`: the document's recent window starts (PrefixStarts), so a server's prefix cache keeps matching while the user types. */
export function buildTextPrompt(name: TemplateName, req: CompletionRequest, budgets: PromptBudgets = DEFAULT_BUDGETS, count: CountTokens = estimateTokens, keep?: KeepPrefixWindow, order: FimOrder = 'auto', typedMiddle = true): TextPrompt {
  const { template } = withOrder(getTemplate(name), order);
  const spelling = SPELLINGS[name];
  const roles = template.order === 'spm' ? (spelling.spmRoles ?? spelling.roles) : spelling.roles;
  const w = promptWindows(req, budgets, count, keep, { usesSuffix: template.usesSuffix, typedMiddle: takesTypedMiddle(template, typedMiddle) });
  const files = filesWithin(req.contextFiles ?? [], budgets.contextFileTokens, count);
  const pieces = template.layout({ ...splitMiddle(w), suffix: w.suffix, path: req.path || 'untitled', languageId: req.languageId, files, repo: 'workspace' });
  const text = pieces.map((p: Piece) => ('text' in p ? p.text : 'role' in p.special ? roles[p.special.role] ?? '' : p.special.text)).join('');
  return { text, stop: spelling.stop, ...w };
}

/** The windows alone, for servers that lay out the prompt themselves (llama-server's /infill). */
export function windows(req: CompletionRequest, budgets: PromptBudgets = DEFAULT_BUDGETS, count: CountTokens = estimateTokens, keep?: KeepPrefixWindow) {
  return { ...promptWindows(req, budgets, count, keep), files: filesWithin(req.contextFiles ?? [], budgets.contextFileTokens, count) };
}
