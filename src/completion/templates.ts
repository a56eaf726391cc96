// Fill-in-the-middle prompt formats, one per model family, and the choice among them from the GGUF's
// FIM tokens and name. A template lays out pieces (special tokens by role or text, and plain text); the
// prompt builder (prompt.ts) turns them into token ids. Layout rule: what changes least comes first, so
// consecutive requests share the longest token prefix in the KV cache.
//
// Order: PSM (prefix, suffix, middle) or SPM (suffix first). Under typing, SPM only appends to the prompt,
// so a keystroke costs ~2 prefilled tokens; PSM re-runs the whole suffix after the edit (bench edit-replay,
// 0.5B widths, ~1,435-token prompts: median 2 against 144 tokens per keystroke) unless the text typed since
// the middle's anchor goes after the middle token (middle.ts: the typed middle, on for the PSM families
// here but Code Llama), which makes typing append there too. A family gets SPM by default when it was
// trained on it (Code Llama: both orders; Codestral: suffix first only; Seed-Coder: documented suffix
// first; CodeGeeX4: documented suffix first), PSM when it was trained on PSM only (Qwen2.5-Coder, DeepSeek-Coder, StarCoder, StarCoder2): a format the
// model never saw costs quality, which no cache saving is worth. CodeGemma was trained on both orders (its
// report says so), but only its PSM spelling is documented, so it keeps PSM with the typed middle.
// `tandem.fimOrder` overrides where the family has both.

import type { Tokenizer } from '../tokenizer';
import { TokenType } from '../tokenizer';
import type { ContextFile } from './types';

export const TEMPLATE_NAMES = ['qwen2.5-coder', 'deepseek-coder', 'starcoder2', 'starcoder', 'codegemma', 'codellama', 'codestral', 'seed-coder', 'codegeex4', 'prefix-only'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** FIM order: the family's default, prefix-suffix-middle, or suffix first. */
export const FIM_ORDERS = ['auto', 'psm', 'spm'] as const;
export type FimOrder = (typeof FIM_ORDERS)[number];
type Layout = (x: TemplateInput) => Piece[];

/** A special token named by its FIM role (ids from the GGUF) or by its text in the vocabulary. */
export type SpecialRef = { role: 'prefix' | 'suffix' | 'middle' | 'repo' | 'fileSep' } | { text: string };
export type Piece = { special: SpecialRef } | { text: string };

export interface TemplateInput {
  /** The prefix up to the middle's anchor, and the typed middle from there to the cursor (middle.ts; '' unless the template takes one). */
  prefix: string;
  middle: string;
  suffix: string;
  path: string;
  languageId: string;
  files: ContextFile[];
  /** Repository (workspace folder) name for formats that carry one. */
  repo: string;
}

export interface FimTemplate {
  name: TemplateName;
  /** The specials a model must have for this template (checked when it is chosen or forced). */
  requires: SpecialRef[];
  /** 'spm' puts the suffix first: typing at the cursor then only appends to the prompt. */
  order: 'psm' | 'spm' | 'prefix';
  /** Uses the suffix at all (prefix-only does not). */
  usesSuffix: boolean;
  /**
   * Puts the text typed since the middle's anchor after the middle token (middle.ts), so typing appends to
   * a PSM prompt. The PSM families whose vocabularies encode a text piece as it is (byte-level BPE, and
   * CodeGemma's SentencePiece without a space prefix); Code Llama's SentencePiece vocabulary starts each
   * piece with a space, which would change the middle's text. The split is at a line start, where those
   * pre-tokenizers mostly cut anyway (FIM training splits documents at random characters and tokenizes the
   * parts on their own).
   */
  typedMiddle: boolean;
  layout: Layout;
  /** The family's layouts in the other order, where it was trained on that one too (Code Llama: PSM). */
  otherOrders?: Partial<Record<'psm' | 'spm', Layout>>;
}

const role = (r: 'prefix' | 'suffix' | 'middle' | 'repo' | 'fileSep'): Piece => ({ special: { role: r } });
const special = (text: string): Piece => ({ special: { text } });
const text = (t: string): Piece => ({ text: t });

/** Line comment opener per language, for formats that give other files as comments. */
export function lineComment(languageId: string): string {
  if (/^(python|shellscript|ruby|perl|r|yaml|toml|dockerfile|makefile|powershell|elixir|julia|coffeescript)$/.test(languageId)) return '#';
  if (/^(sql|lua|haskell|ada|elm)$/.test(languageId)) return '--';
  if (/^(lisp|clojure|scheme)$/.test(languageId)) return ';;';
  if (/^(latex|tex|erlang|matlab)$/.test(languageId)) return '%';
  if (/^(vb|bat)$/.test(languageId)) return 'REM';
  return '//';
}

/** Other files as commented blocks ("// path: a.ts" then the code), for formats without a file separator. */
function filesAsComments(x: TemplateInput): Piece[] {
  const c = lineComment(x.languageId);
  return x.files.map((f) => text(`${c} Path: ${f.path}\n${f.text.endsWith('\n') ? f.text : f.text + '\n'}\n`));
}

/**
 * CodeGeeX4's language tag: the language's name with its initial capital (the guide's rule; its examples show
 * "Python"), spelled out where a VS Code language id is not the name; empty (which the guide allows) when unknown.
 */
function codegeexLanguage(languageId: string): string {
  const named: Record<string, string> = {
    cpp: 'C++', csharp: 'C#', 'objective-cpp': 'Objective-C++', shellscript: 'Shell', typescriptreact: 'TypeScript', javascriptreact: 'JavaScript',
    typescript: 'TypeScript', javascript: 'JavaScript', plaintext: '',
  };
  if (Object.hasOwn(named, languageId)) return named[languageId];
  return /^[a-z][a-z0-9+#-]*$/.test(languageId) ? languageId[0].toUpperCase() + languageId.slice(1) : '';
}

/** <prefix>(files as comments)P<suffix>S<middle>M: PSM for families without a file separator (DeepSeek-Coder, StarCoder 1). */
const psmWithFilesInPrefix: Layout = (x) => [role('prefix'), ...filesAsComments(x), text(x.prefix), role('suffix'), text(x.suffix), role('middle'), text(x.middle)];

/** StarCoder2's file separator, which StarCoder 1 (FIM tokens spelled the same) does not have. */
export const STARCODER2_FILE_SEPARATOR: SpecialRef = { text: '<file_sep>' };

/** CodeGemma's end of a file; its FIM tokens are spelled as Qwen2.5-Coder's, this one is not (`<|file_sep|>` there). */
export const CODEGEMMA_FILE_SEPARATOR: SpecialRef = { text: '<|file_separator|>' };

const templates: Record<TemplateName, FimTemplate> = {
  // <|repo_name|>r\n<|file_sep|>a.ts\n...\n<|file_sep|>cur.ts\n<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M (M: the typed middle)
  'qwen2.5-coder': {
    name: 'qwen2.5-coder',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    typedMiddle: true,
    layout: (x) => {
      const out: Piece[] = [];
      if (x.files.length) {
        out.push(role('repo'), text(`${x.repo}\n`));
        for (const f of x.files) out.push(role('fileSep'), text(`${f.path}\n${f.text}\n`));
        out.push(role('fileSep'), text(`${x.path}\n`));
      }
      out.push(role('prefix'), text(x.prefix), role('suffix'), text(x.suffix), role('middle'), text(x.middle));
      return out;
    },
  },
  // <repo_name>r<file_sep>a.ts\n...<file_sep>cur.ts\n<fim_prefix>P<fim_suffix>S<fim_middle>M. The repository
  // tokens by their text: llama.cpp's list of FIM spellings (and so a GGUF's FIM ids) has neither.
  starcoder2: {
    name: 'starcoder2',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }, STARCODER2_FILE_SEPARATOR],
    order: 'psm',
    usesSuffix: true,
    typedMiddle: true,
    layout: (x) => {
      const out: Piece[] = [];
      if (x.files.length) {
        out.push(special('<repo_name>'), text(x.repo));
        for (const f of x.files) out.push({ special: STARCODER2_FILE_SEPARATOR }, text(`${f.path}\n${f.text}`));
        out.push({ special: STARCODER2_FILE_SEPARATOR }, text(`${x.path}\n`));
      }
      out.push(role('prefix'), text(x.prefix), role('suffix'), text(x.suffix), role('middle'), text(x.middle));
      return out;
    },
  },
  // StarCoder 1 (and StarCoderBase, SantaCoder's spelling): StarCoder2's FIM tokens without <file_sep>, its
  // training files were one per sequence; other files go in as comments at the top of the prefix.
  // <fim_prefix>(files as comments)P<fim_suffix>S<fim_middle>M
  starcoder: {
    name: 'starcoder',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    typedMiddle: true,
    layout: psmWithFilesInPrefix,
  },
  // (files as comments, each ended by <|file_separator|>)<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M.
  // Google documents the FIM tokens and that the file separator is for multi-file contexts, not a layout
  // for them; a file separator ends each file here, where a model that packs files would emit it (and
  // where we stop it).
  codegemma: {
    name: 'codegemma',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }, CODEGEMMA_FILE_SEPARATOR],
    order: 'psm',
    usesSuffix: true,
    typedMiddle: true,
    layout: (x) => [...filesAsComments(x).flatMap((f) => [f, { special: CODEGEMMA_FILE_SEPARATOR }]),
      role('prefix'), text(x.prefix), role('suffix'), text(x.suffix), role('middle'), text(x.middle)],
  },
  // <｜fim▁begin｜>(files as comments)P<｜fim▁hole｜>S<｜fim▁end｜>M
  'deepseek-coder': {
    name: 'deepseek-coder',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    typedMiddle: true,
    layout: psmWithFilesInPrefix,
  },
  // SPM by default (trained on both orders, per the Code Llama paper): ▁<PRE>▁<SUF>S ▁<MID>(files as comments)P,
  // the suffix_first format of its reference code; PSM: ▁<PRE> P ▁<SUF>S ▁<MID>. (SentencePiece: the space after
  // each special is the tokenizer's space prefix.)
  codellama: {
    name: 'codellama',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'spm',
    usesSuffix: true,
    typedMiddle: false,
    layout: (x) => [role('prefix'), role('suffix'), text(x.suffix), role('middle'), ...filesAsComments(x), text(x.prefix + x.middle)],
    otherOrders: {
      psm: (x) => [role('prefix'), ...filesAsComments(x), text(x.prefix + x.middle), role('suffix'), text(x.suffix), role('middle')],
    },
  },
  // [SUFFIX]S[PREFIX](files as comments)P   (suffix first: typing at the cursor only appends)
  codestral: {
    name: 'codestral',
    requires: [{ text: '[SUFFIX]' }, { text: '[PREFIX]' }],
    order: 'spm',
    usesSuffix: true,
    typedMiddle: false,
    layout: (x) => [special('[SUFFIX]'), text(x.suffix), special('[PREFIX]'), ...filesAsComments(x), text(x.prefix + x.middle)],
  },
  // <[fim-suffix]>S<[fim-prefix]>(files as comments)P<[fim-middle]>   (suffix first, as Seed-Coder is prompted
  // for FIM: typing at the cursor moves only the middle token at the end)
  'seed-coder': {
    name: 'seed-coder',
    requires: [{ text: '<[fim-suffix]>' }, { text: '<[fim-prefix]>' }, { text: '<[fim-middle]>' }],
    order: 'spm',
    usesSuffix: true,
    typedMiddle: false,
    layout: (x) => [special('<[fim-suffix]>'), text(x.suffix), special('<[fim-prefix]>'), ...filesAsComments(x), text(x.prefix + x.middle), special('<[fim-middle]>')],
  },
  // [gMASK]<sop><|user|>\n(###REFERENCE:\n###PATH:a.ts\n...)###PATH:cur.py\n###LANGUAGE:Python\n###MODE:BLOCK\n
  // <|code_suffix|>S<|code_prefix|>P<|code_middle|><|assistant|>\n: CodeGeeX4's infilling prompt as its guide
  // (guides/Infilling_guideline.md) gives it, suffix first; other files as its cross-file references. [gMASK]<sop>
  // is what GLM-4's tokenizer puts before every text it encodes (llama.cpp's GLM-4 chat template starts so too).
  codegeex4: {
    name: 'codegeex4',
    requires: [{ text: '<|user|>' }, { text: '<|assistant|>' }, { text: '<|code_suffix|>' }, { text: '<|code_prefix|>' }, { text: '<|code_middle|>' }],
    order: 'spm',
    usesSuffix: true,
    typedMiddle: false,
    layout: (x) => [
      special('[gMASK]'), special('<sop>'), special('<|user|>'),
      text(['\n', ...x.files.map((f) => `###REFERENCE:\n###PATH:${f.path}\n${f.text.endsWith('\n') ? f.text : f.text + '\n'}`),
        `###PATH:${x.path}\n###LANGUAGE:${codegeexLanguage(x.languageId)}\n###MODE:BLOCK\n`].join('')),
      special('<|code_suffix|>'), text(x.suffix), special('<|code_prefix|>'), text(x.prefix + x.middle), special('<|code_middle|>'), special('<|assistant|>'), text('\n'),
    ],
  },
  'prefix-only': {
    name: 'prefix-only',
    requires: [],
    order: 'prefix',
    usesSuffix: false,
    typedMiddle: false,
    layout: (x) => [...filesAsComments(x), text(x.prefix + x.middle)],
  },
};

export function getTemplate(name: TemplateName): FimTemplate {
  return templates[name];
}

export function isTemplateName(s: string): s is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(s);
}

/** The id of a special token, or undefined when the model has none. */
export function resolveSpecial(tok: Tokenizer, ref: SpecialRef): number | undefined {
  if ('role' in ref) return tok.fim?.[ref.role];
  const ids = tok.encode(ref.text, { parseSpecial: true });
  if (ids.length !== 1) return undefined;
  const t = tok.tokenType(ids[0]);
  return t === TokenType.Control || t === TokenType.UserDefined ? ids[0] : undefined;
}

export function supports(tok: Tokenizer, t: FimTemplate): boolean {
  return t.requires.every((r) => resolveSpecial(tok, r) !== undefined);
}

export interface TemplateChoice {
  template: FimTemplate;
  /** Why this one: shown in the logs and the statistics. */
  reason: string;
}

/**
 * `t` in the order asked for, when its family was trained on that order; otherwise `t` as it is, with the
 * reason (a format the model never saw would cost more than the prompt cache saves).
 */
export function withOrder(t: FimTemplate, order: FimOrder = 'auto'): { template: FimTemplate; note?: string } {
  if (order === 'auto' || order === t.order || t.order === 'prefix') return { template: t };
  const layout = t.otherOrders?.[order];
  if (!layout) return { template: t, note: `'${t.name}' was trained in ${t.order.toUpperCase()} order only; ${order.toUpperCase()} not used` };
  return { template: { ...t, order, layout, otherOrders: { [t.order]: t.layout } } };
}

/**
 * Chooses the template: a forced name when the model has its tokens, else from the text of the model's
 * FIM prefix token (each family spells it differently), else from the model name, else prefix-only.
 */
export function chooseTemplate(tok: Tokenizer, modelName: string, override = 'auto', order: FimOrder = 'auto'): TemplateChoice {
  const c = chooseFamily(tok, modelName, override);
  const o = withOrder(c.template, order);
  return { template: o.template, reason: o.note ? `${c.reason}; ${o.note}` : c.reason };
}

function chooseFamily(tok: Tokenizer, modelName: string, override: string): TemplateChoice {
  if (override !== 'auto') {
    if (!isTemplateName(override)) return { ...chooseFamily(tok, modelName, 'auto'), reason: `unknown template '${override}'; chose automatically` };
    const t = templates[override];
    if (supports(tok, t)) return { template: t, reason: 'set in the settings' };
    const auto = chooseFamily(tok, modelName, 'auto');
    return { template: auto.template, reason: `the model lacks the special tokens of '${override}'; ${auto.reason}` };
  }
  if (tok.fim) {
    const pre = tok.tokenText(tok.fim.prefix);
    if (pre === '<|code_prefix|>' && supports(tok, templates.codegeex4)) return { template: templates.codegeex4, reason: `FIM token '${pre}' with '<|user|>' and '<|assistant|>'` };
    if (pre === '<|fim_prefix|>' && resolveSpecial(tok, CODEGEMMA_FILE_SEPARATOR) !== undefined) return { template: templates.codegemma, reason: `FIM token '${pre}' with '<|file_separator|>'` };
    // StarCoder2's spelling, also StarCoder 1's (and Granite Code's), which have no <file_sep>.
    if (pre === '<fim_prefix>' && !supports(tok, templates.starcoder2)) return { template: templates.starcoder, reason: `FIM token '${pre}' without '<file_sep>'` };
    const byToken: [RegExp, TemplateName][] = [
      [/^<\|fim_prefix\|>$/, 'qwen2.5-coder'],
      [/^<fim_prefix>$/, 'starcoder2'],  // with '<file_sep>' (above)
      [/^<｜fim▁begin｜>$/, 'deepseek-coder'],
      [/^(▁)?<PRE>$/, 'codellama'],
      [/^<\[fim-prefix\]>$/, 'seed-coder'],
    ];
    for (const [re, name] of byToken) if (re.test(pre)) return { template: templates[name], reason: `FIM token '${pre}'` };
    // An unknown spelling with prefix/suffix/middle ids: PSM with those ids works for most families.
    return { template: templates['qwen2.5-coder'], reason: `FIM token '${pre}' (generic PSM layout)` };
  }
  if (supports(tok, templates.codestral)) return { template: templates.codestral, reason: "tokens '[SUFFIX]' and '[PREFIX]'" };
  // Seed-Coder's GGUFs do not name its FIM tokens (llama.cpp does not know their spelling either).
  if (supports(tok, templates['seed-coder'])) return { template: templates['seed-coder'], reason: "tokens '<[fim-suffix]>', '<[fim-prefix]>' and '<[fim-middle]>'" };
  return { template: templates['prefix-only'], reason: `no FIM tokens in '${modelName}'` };
}
