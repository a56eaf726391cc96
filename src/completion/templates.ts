// Fill-in-the-middle prompt formats, one per model family, and the choice among them from the GGUF's
// FIM tokens and name. A template lays out pieces (special tokens by role or text, and plain text); the
// prompt builder (prompt.ts) turns them into token ids. Layout rule: what changes least comes first, so
// consecutive requests share the longest token prefix in the KV cache.

import type { Tokenizer } from '../tokenizer';
import { TokenType } from '../tokenizer';
import type { ContextFile } from './types';

export const TEMPLATE_NAMES = ['qwen2.5-coder', 'deepseek-coder', 'starcoder2', 'codellama', 'codestral', 'prefix-only'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** A special token named by its FIM role (ids from the GGUF) or by its text in the vocabulary. */
export type SpecialRef = { role: 'prefix' | 'suffix' | 'middle' | 'repo' | 'fileSep' } | { text: string };
export type Piece = { special: SpecialRef } | { text: string };

export interface TemplateInput {
  prefix: string;
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
  layout(x: TemplateInput): Piece[];
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

const templates: Record<TemplateName, FimTemplate> = {
  // <|repo_name|>r\n<|file_sep|>a.ts\n...\n<|file_sep|>cur.ts\n<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>
  'qwen2.5-coder': {
    name: 'qwen2.5-coder',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    layout: (x) => {
      const out: Piece[] = [];
      if (x.files.length) {
        out.push(role('repo'), text(`${x.repo}\n`));
        for (const f of x.files) out.push(role('fileSep'), text(`${f.path}\n${f.text}\n`));
        out.push(role('fileSep'), text(`${x.path}\n`));
      }
      out.push(role('prefix'), text(x.prefix), role('suffix'), text(x.suffix), role('middle'));
      return out;
    },
  },
  // <repo_name>r<file_sep>a.ts\n...<file_sep>cur.ts\n<fim_prefix>P<fim_suffix>S<fim_middle>
  starcoder2: {
    name: 'starcoder2',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    layout: (x) => {
      const out: Piece[] = [];
      if (x.files.length) {
        out.push(role('repo'), text(x.repo));
        for (const f of x.files) out.push(role('fileSep'), text(`${f.path}\n${f.text}`));
        out.push(role('fileSep'), text(`${x.path}\n`));
      }
      out.push(role('prefix'), text(x.prefix), role('suffix'), text(x.suffix), role('middle'));
      return out;
    },
  },
  // <｜fim▁begin｜>(files as comments)P<｜fim▁hole｜>S<｜fim▁end｜>
  'deepseek-coder': {
    name: 'deepseek-coder',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    layout: (x) => [role('prefix'), ...filesAsComments(x), text(x.prefix), role('suffix'), text(x.suffix), role('middle')],
  },
  // ▁<PRE> P ▁<SUF>S ▁<MID>   (SentencePiece: the space after each special is the tokenizer's space prefix)
  codellama: {
    name: 'codellama',
    requires: [{ role: 'prefix' }, { role: 'suffix' }, { role: 'middle' }],
    order: 'psm',
    usesSuffix: true,
    layout: (x) => [role('prefix'), ...filesAsComments(x), text(x.prefix), role('suffix'), text(x.suffix), role('middle')],
  },
  // [SUFFIX]S[PREFIX](files as comments)P   (suffix first: typing at the cursor only appends)
  codestral: {
    name: 'codestral',
    requires: [{ text: '[SUFFIX]' }, { text: '[PREFIX]' }],
    order: 'spm',
    usesSuffix: true,
    layout: (x) => [special('[SUFFIX]'), text(x.suffix), special('[PREFIX]'), ...filesAsComments(x), text(x.prefix)],
  },
  'prefix-only': {
    name: 'prefix-only',
    requires: [],
    order: 'prefix',
    usesSuffix: false,
    layout: (x) => [...filesAsComments(x), text(x.prefix)],
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
 * Chooses the template: a forced name when the model has its tokens, else from the text of the model's
 * FIM prefix token (each family spells it differently), else from the model name, else prefix-only.
 */
export function chooseTemplate(tok: Tokenizer, modelName: string, override = 'auto'): TemplateChoice {
  if (override !== 'auto') {
    if (!isTemplateName(override)) return { ...chooseTemplate(tok, modelName), reason: `unknown template '${override}'; chose automatically` };
    const t = templates[override];
    if (supports(tok, t)) return { template: t, reason: 'set in the settings' };
    const auto = chooseTemplate(tok, modelName);
    return { template: auto.template, reason: `the model lacks the special tokens of '${override}'; ${auto.reason}` };
  }
  if (tok.fim) {
    const pre = tok.tokenText(tok.fim.prefix);
    const byToken: [RegExp, TemplateName][] = [
      [/^<\|fim_prefix\|>$/, 'qwen2.5-coder'],
      [/^<fim_prefix>$/, 'starcoder2'],
      [/^<｜fim▁begin｜>$/, 'deepseek-coder'],
      [/^(▁)?<PRE>$/, 'codellama'],
    ];
    for (const [re, name] of byToken) if (re.test(pre)) return { template: templates[name], reason: `FIM token '${pre}'` };
    // An unknown spelling with prefix/suffix/middle ids: PSM with those ids works for most families.
    return { template: templates['qwen2.5-coder'], reason: `FIM token '${pre}' (generic PSM layout)` };
  }
  if (supports(tok, templates.codestral)) return { template: templates.codestral, reason: "tokens '[SUFFIX]' and '[PREFIX]'" };
  return { template: templates['prefix-only'], reason: `no FIM tokens in '${modelName}'` };
}
