// FIM prompt building: the template each model family gets, the exact layout of each, budgets in tokens
// with stable window edges, and the real Qwen2.5 tokenizer putting its FIM ids where they belong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GgufValue } from '../../src/loaders/gguf/types';
import { createTokenizer } from '../../src/tokenizer';
import { hfTokenizerToGguf, qwen2TokenizerJsonPath } from '../../src/tools/hfTokenizerToGguf';
import { buildPrompt, type Prompt } from '../../src/completion/prompt';
import { chooseTemplate, getTemplate, withOrder, type FimOrder } from '../../src/completion/templates';
import { keptPrefixWindow, PrefixStarts, prefixWindow, PREFIX_WINDOW_GROWTH, suffixWindow, windowHead, type KeptStart } from '../../src/completion/window';
import type { CompletionRequest } from '../../src/completion/types';
import { anchorOf } from '../../src/completion/middle';
import { CODEGEEX_LIKE, CODEGEMMA_LIKE, CODELLAMA_LIKE, CODESTRAL_LIKE, DEEPSEEK_LIKE, SEEDCODER_LIKE, fakeTokenizer, PLAIN, QWEN_LIKE, STARCODER_LIKE, STARCODER1_LIKE, type FakeSpec } from './completionFakeTokenizer';

const req: CompletionRequest = { prefix: 'def add(a, b):\n    ', suffix: '\n\nprint(add(1, 2))\n', path: 'src/math.py', languageId: 'python' };
const big = { prefixTokens: 10_000, suffixTokens: 10_000, contextFileTokens: 10_000 };

function render(spec: FakeSpec, r: CompletionRequest = req, template = 'auto', order: FimOrder = 'auto', typedMiddle = true) {
  const tok = fakeTokenizer(spec);
  const choice = chooseTemplate(tok, 'some-model', template, order);
  const p = buildPrompt(tok, choice.template, r, big, 'repo', undefined, typedMiddle);
  return { name: choice.template.name, order: choice.template.order, reason: choice.reason, text: tok.decode(p.tokens), stop: [...p.stopIds].map((i) => tok.tokenText(i)).sort() };
}

test('each family gets its template from the spelling of its FIM tokens', () => {
  assert.equal(render(QWEN_LIKE).name, 'qwen2.5-coder');
  assert.equal(render(STARCODER_LIKE).name, 'starcoder2');
  // The same FIM spelling without <file_sep>: StarCoder 1 (and StarCoder2 forced onto its layout works too).
  assert.equal(render(STARCODER1_LIKE).name, 'starcoder');
  assert.equal(render(STARCODER1_LIKE, req, 'starcoder2').name, 'starcoder');
  assert.equal(render(STARCODER_LIKE, req, 'starcoder').name, 'starcoder');
  assert.equal(render(DEEPSEEK_LIKE).name, 'deepseek-coder');
  // Qwen's FIM spelling, told apart by CodeGemma's file separator (named by the GGUF or not).
  assert.equal(render(CODEGEMMA_LIKE).name, 'codegemma');
  assert.equal(render({ ...CODEGEMMA_LIKE, fim: { ...CODEGEMMA_LIKE.fim!, fileSep: undefined } }).name, 'codegemma');
  assert.equal(render(CODELLAMA_LIKE).name, 'codellama');
  assert.equal(render(CODESTRAL_LIKE).name, 'codestral');
  // Seed-Coder by its tokens' text, or by its prefix token where a GGUF names it.
  assert.equal(render(SEEDCODER_LIKE).name, 'seed-coder');
  assert.equal(render({ ...SEEDCODER_LIKE, fim: { prefix: '<[fim-prefix]>', suffix: '<[fim-suffix]>', middle: '<[fim-middle]>' } }).name, 'seed-coder');
  // CodeGeeX4 by its FIM prefix token with GLM-4's turns; without them, the generic PSM layout of those ids.
  assert.equal(render(CODEGEEX_LIKE).name, 'codegeex4');
  assert.equal(render({ ...CODEGEEX_LIKE, specials: CODEGEEX_LIKE.specials.filter((s) => s !== '<|assistant|>') }).name, 'qwen2.5-coder');
  assert.equal(render(PLAIN).name, 'prefix-only');
});

test('layouts: PSM for Qwen/StarCoder2/DeepSeek (the cursor line after the middle token), SPM for Code Llama and Codestral, BOS where the model wants it', () => {
  assert.equal(render(QWEN_LIKE).text, '<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>    ');
  assert.equal(render(STARCODER_LIKE).text, '<fim_prefix>def add(a, b):\n<fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>    ');
  assert.equal(render(STARCODER1_LIKE).text, '<fim_prefix>def add(a, b):\n<fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>    ');
  assert.equal(render(DEEPSEEK_LIKE).text, '<｜begin▁of▁sentence｜><｜fim▁begin｜>def add(a, b):\n<｜fim▁hole｜>\n\nprint(add(1, 2))\n<｜fim▁end｜>    ');
  assert.equal(render(CODEGEMMA_LIKE).text, '<bos><|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>    ');
  // tandem.fimTypedMiddle off: all of the prefix before the suffix.
  assert.equal(render(QWEN_LIKE, req, 'auto', 'auto', false).text, '<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>');
  // Code Llama's suffix-first format: <PRE><SUF>S<MID>P.
  assert.equal(render(CODELLAMA_LIKE).text, '<s>▁<PRE>▁<SUF>\n\nprint(add(1, 2))\n▁<MID>def add(a, b):\n    ');
  assert.equal(render(CODESTRAL_LIKE).text, '<s>[SUFFIX]\n\nprint(add(1, 2))\n[PREFIX]def add(a, b):\n    ');
  assert.equal(render(SEEDCODER_LIKE).text, '<[begin▁of▁sentence]><[fim-suffix]>\n\nprint(add(1, 2))\n<[fim-prefix]>def add(a, b):\n    <[fim-middle]>');
  assert.equal(render(PLAIN).text, '<s>def add(a, b):\n    ');
});

test('other files: Qwen and StarCoder2 in their repository format, the rest as comments, before the current file', () => {
  const r = { ...req, contextFiles: [{ path: 'src/util.py', text: 'X = 1\n' }] };
  assert.equal(render(QWEN_LIKE, r).text,
    '<|repo_name|>repo\n<|file_sep|>src/util.py\nX = 1\n\n<|file_sep|>src/math.py\n<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>    ');
  assert.equal(render(STARCODER_LIKE, r).text,
    '<repo_name>repo<file_sep>src/util.py\nX = 1\n<file_sep>src/math.py\n<fim_prefix>def add(a, b):\n<fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>    ');
  // StarCoder 1 has no file separator: the other files as comments inside the prefix, as DeepSeek's.
  assert.equal(render(STARCODER1_LIKE, r).text,
    '<fim_prefix># Path: src/util.py\nX = 1\n\ndef add(a, b):\n<fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>    ');
  assert.equal(render(DEEPSEEK_LIKE, r).text,
    '<｜begin▁of▁sentence｜><｜fim▁begin｜># Path: src/util.py\nX = 1\n\ndef add(a, b):\n<｜fim▁hole｜>\n\nprint(add(1, 2))\n<｜fim▁end｜>    ');
  assert.equal(render(CODEGEMMA_LIKE, r).text,
    '<bos># Path: src/util.py\nX = 1\n\n<|file_separator|><|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>    ');
  assert.equal(render(SEEDCODER_LIKE, r).text,
    '<[begin▁of▁sentence]><[fim-suffix]>\n\nprint(add(1, 2))\n<[fim-prefix]># Path: src/util.py\nX = 1\n\ndef add(a, b):\n    <[fim-middle]>');
  assert.equal(render(PLAIN, { ...r, languageId: 'typescript' }).text, '<s>// Path: src/util.py\nX = 1\n\ndef add(a, b):\n    ');
  // CodeGeeX4's infilling guide: other files as references, the path, the language by name, block mode,
  // then suffix first and the assistant's turn.
  assert.equal(render(CODEGEEX_LIKE, r).text,
    '[gMASK]<sop><|user|>\n###REFERENCE:\n###PATH:src/util.py\nX = 1\n###PATH:src/math.py\n###LANGUAGE:Python\n###MODE:BLOCK\n'
    + '<|code_suffix|>\n\nprint(add(1, 2))\n<|code_prefix|>def add(a, b):\n    <|code_middle|><|assistant|>\n');
  assert.equal(render(CODEGEEX_LIKE, { ...req, languageId: 'cpp' }).text,
    '[gMASK]<sop><|user|>\n###PATH:src/math.py\n###LANGUAGE:C++\n###MODE:BLOCK\n<|code_suffix|>\n\nprint(add(1, 2))\n<|code_prefix|>def add(a, b):\n    <|code_middle|><|assistant|>\n');
  assert.equal(render(CODEGEEX_LIKE).order, 'spm');
});

test('FIM order: Code Llama (trained on both) takes either; a family trained on one order keeps it, and says why', () => {
  const psm = render(CODELLAMA_LIKE, req, 'auto', 'psm');
  assert.equal(psm.order, 'psm');
  assert.equal(psm.text, '<s>▁<PRE>def add(a, b):\n    ▁<SUF>\n\nprint(add(1, 2))\n▁<MID>');
  assert.equal(render(CODELLAMA_LIKE, req, 'auto', 'spm').order, 'spm');
  assert.equal(render(CODELLAMA_LIKE).order, 'spm');
  // Other files stay in the prompt's stable part: before the prefix, after the suffix in SPM.
  const r = { ...req, contextFiles: [{ path: 'src/util.py', text: 'X = 1\n' }] };
  assert.equal(render(CODELLAMA_LIKE, r).text, '<s>▁<PRE>▁<SUF>\n\nprint(add(1, 2))\n▁<MID># Path: src/util.py\nX = 1\n\ndef add(a, b):\n    ');
  for (const spec of [QWEN_LIKE, STARCODER_LIKE, DEEPSEEK_LIKE, CODEGEMMA_LIKE]) {
    const spm = render(spec, req, 'auto', 'spm');
    assert.equal(spm.order, 'psm');
    assert.equal(spm.text, render(spec).text);
    assert.match(spm.reason, /trained in PSM order only; SPM not used/);
  }
  const codestral = render(CODESTRAL_LIKE, req, 'auto', 'psm');
  assert.equal(codestral.order, 'spm');
  assert.match(codestral.reason, /trained in SPM order only/);
  assert.equal(withOrder(getTemplate('prefix-only'), 'spm').template.order, 'prefix');
});

test('FIM order under typing: SPM and PSM with a typed middle only append to the prompt, PSM without one changes it after the cursor', () => {
  const common = (a: number[], b: number[]) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };
  const cases = [
    { spec: CODELLAMA_LIKE, order: 'spm', appends: true },
    { spec: CODELLAMA_LIKE, order: 'psm', appends: false }, // Code Llama's PSM takes no typed middle (SentencePiece would add a space to it)
    { spec: QWEN_LIKE, order: 'psm', appends: true },
    { spec: DEEPSEEK_LIKE, order: 'psm', appends: true },
  ] as const;
  for (const c of cases) {
    const tok = fakeTokenizer(c.spec);
    const t = chooseTemplate(tok, 'm', 'auto', c.order).template;
    const before = buildPrompt(tok, t, req, big).tokens;
    const after = buildPrompt(tok, t, { ...req, prefix: req.prefix + 'return a' }, big).tokens;
    const kept = common(before, after);
    // Appending: everything before the typed text is kept but the last token or two (the tokenizer may
    // merge them with what was typed); else the suffix and <MID> after the cursor are new.
    if (c.appends) assert.ok(kept >= before.length - 2, `${t.name} ${c.order} kept ${kept} of ${before.length}`);
    else assert.ok(before.length - kept >= tok.encode(req.suffix, { parseSpecial: false }).length, `${t.name} ${c.order} kept ${kept} of ${before.length}`);
  }
});

test('a forced template is used when the model has its tokens, otherwise the automatic choice with the reason', () => {
  assert.equal(render(QWEN_LIKE, req, 'prefix-only').name, 'prefix-only');
  const tok = fakeTokenizer(PLAIN);
  const c = chooseTemplate(tok, 'tiny', 'qwen2.5-coder');
  assert.equal(c.template.name, 'prefix-only');
  assert.match(c.reason, /lacks the special tokens of 'qwen2.5-coder'/);
  assert.match(chooseTemplate(tok, 'tiny', 'nonsense').reason, /unknown template/);
});

test('stop ids: end of text and every FIM special (a model that writes <|file_sep|> has left the hole)', () => {
  assert.deepEqual(render(QWEN_LIKE).stop, ['<|endoftext|>', '<|fim_middle|>', '<|fim_pad|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|file_sep|>', '<|repo_name|>'].sort());
  assert.deepEqual(render(CODESTRAL_LIKE).stop, ['</s>', '[MIDDLE]', '[PREFIX]', '[SUFFIX]'].sort());
  // CodeGemma's file separator, also where the GGUF does not name it as a FIM token.
  assert.deepEqual(render(SEEDCODER_LIKE).stop, ['<[end▁of▁sentence]>', '<[fim-middle]>', '<[fim-prefix]>', '<[fim-suffix]>'].sort());
  const codegemma = ['<end_of_turn>', '<eos>', '<|fim_middle|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|file_separator|>'].sort();
  assert.deepEqual(render(CODEGEMMA_LIKE).stop, codegemma);
  assert.deepEqual(render({ ...CODEGEMMA_LIKE, fim: { ...CODEGEMMA_LIKE.fim!, fileSep: undefined } }).stop, codegemma);
  // StarCoder2's repository tokens, which its GGUFs do not name as FIM tokens.
  assert.deepEqual(render(STARCODER_LIKE).stop, ['<|endoftext|>', '<fim_middle>', '<fim_pad>', '<fim_prefix>', '<fim_suffix>', '<file_sep>', '<repo_name>'].sort());
  assert.deepEqual(render(STARCODER1_LIKE).stop, ['<|endoftext|>', '<fim_middle>', '<fim_pad>', '<fim_prefix>', '<fim_suffix>', '<reponame>'].sort());
  // GLM-4's turns: CodeGeeX4 answers as the assistant; a new turn ends the answer.
  assert.deepEqual(render(CODEGEEX_LIKE).stop, ['<|assistant|>', '<|code_middle|>', '<|code_prefix|>', '<|code_suffix|>', '<|endoftext|>', '<|observation|>', '<|user|>'].sort());
});

test('user text is never parsed for specials', () => {
  const r = { ...req, prefix: 'x = "<|endoftext|><|fim_middle|>"\n' };
  const tok = fakeTokenizer(QWEN_LIKE);
  const p = buildPrompt(tok, getTemplate('qwen2.5-coder'), r, big);
  const specialCount = p.tokens.filter((i) => i < 1000).length;
  assert.equal(specialCount, 3);
});

const count = (t: string) => t.length; // one token per character, like the fake tokenizer

test('prefix window: within budget, whole lines, the cursor line always kept', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(2, '0')}\n`).join(''); // 8 chars a line
  const w = prefixWindow(lines + 'cur', 80, count, 0, 1);
  assert.ok(w.text.length <= 80);
  assert.ok(w.text.startsWith('line '), w.text);
  assert.ok(w.text.endsWith('line 99\ncur'));
  assert.equal(prefixWindow('x'.repeat(500), 50, count).text, 'x'.repeat(50));
});

test('prefix window: its start moves in steps of anchorLines as the user types, so the prompt keeps its token prefix', () => {
  let doc = Array.from({ length: 200 }, (_, i) => `l${i}\n`).join('');
  const starts = new Set<number>();
  for (let i = 0; i < 40; i++) {
    doc += `t${i}\n`;
    const w = prefixWindow(doc, 400, count, 0, 16);
    starts.add(w.startLine);
    assert.equal(w.startLine % 16, 0);
    assert.ok(w.text.length <= 400);
  }
  assert.ok(starts.size <= 3, `${starts.size} different window starts for 40 new lines`);
});

test('prefix window: a budget of fewer lines than anchorLines keeps at least half of them (a finer anchor), not the cursor line alone', () => {
  const doc = Array.from({ length: 191 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`).join('') + 'cur'; // 9 chars a line
  const w = prefixWindow(doc, 90, count, 0, 16); // 10 lines fit; rounding line 182 up to 192 would leave 'cur'
  assert.ok(w.text.split('\n').length >= 5, JSON.stringify(w));
  assert.ok(w.text.length <= 90 && w.text.endsWith('line 190\ncur'));
  assert.equal(w.startLine % 8, 0, 'the finer anchor is still a power of two');
  // A budget of many lines keeps the 16-line anchor.
  assert.equal(prefixWindow(doc, 900, count, 0, 16).startLine % 16, 0);
});

/** A kept start at document line `line` of `doc` (lines of `lineChars` characters), as PrefixStarts remembers it. */
/** The kept start of a prompt's prefix window, as PrefixStarts remembers it. */
const keptOf = (p: Prompt): KeptStart => ({ line: p.prefixStartLine, head: windowHead(p.prefix) });
const startAt = (doc: string, line: number, lineChars: number): KeptStart => ({ line, head: windowHead(doc.slice(line * lineChars)) });

test('kept prefix window: the same start while the window fits maxTokens, none when it does not or the line is gone', () => {
  const doc = Array.from({ length: 50 }, (_, i) => `line ${String(i).padStart(2, '0')}\n`).join('') + 'cur'; // 8 chars a line
  const w = keptPrefixWindow(doc.slice(8 * 10), 400, count, 10, startAt(doc, 20, 8)); // the prefix starts at document line 10
  assert.deepEqual(w, { text: doc.slice(8 * 20), startLine: 20 });
  assert.equal(keptPrefixWindow(doc, 8 * 30 + 3 - 1, count, 0, startAt(doc, 20, 8)), undefined, 'one token over maxTokens');
  assert.equal(keptPrefixWindow(doc, 8 * 30 + 3, count, 0, startAt(doc, 20, 8))?.startLine, 20);
  assert.equal(keptPrefixWindow(doc.slice(8 * 10), 10_000, count, 10, startAt(doc, 5, 8)), undefined, 'the start line is above the text sent');
  assert.equal(keptPrefixWindow(doc, 10_000, count, 0, { line: 51, head: 'nowhere' }), undefined, 'the start line is past the cursor');
});

test('kept prefix window: found again by its text after lines are inserted or deleted above it, nearest the remembered line', () => {
  const lines = Array.from({ length: 50 }, (_, i) => `line ${String(i).padStart(2, '0')}\n`);
  const doc = lines.join('') + 'cur';
  const start = startAt(doc, 20, 8);
  const inserted = ['// a\n', '// b\n', '// c\n', ...lines].join('') + 'cur'; // three lines added at the top
  assert.deepEqual(keptPrefixWindow(inserted, 10_000, count, 0, start), { text: doc.slice(8 * 20), startLine: 23 });
  const deleted = lines.slice(2).join('') + 'cur'; // two lines removed at the top
  assert.deepEqual(keptPrefixWindow(deleted, 10_000, count, 0, start), { text: doc.slice(8 * 20), startLine: 18 });
  // A remembered line past the text (a long stretch deleted above): searched from the text's end.
  assert.equal(keptPrefixWindow(inserted, 10_000, count, 0, { ...start, line: 1_000_000 })?.startLine, 23);
  // The window's own first line edited: its text is gone, so it is not kept.
  const edited = [...lines.slice(0, 20), 'LINE 20\n', ...lines.slice(21)].join('') + 'cur';
  assert.equal(keptPrefixWindow(edited, 10_000, count, 0, start), undefined);
  // A head that recurs (every third line reads the same) resolves to the occurrence nearest the remembered line.
  const repeated = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? '}\n' : `x${i}\n`)).join('') + 'cur';
  const head = windowHead('}\n');
  assert.equal(keptPrefixWindow(repeated, 10_000, count, 0, { line: 31, head })?.startLine, 30);
  // A head is at most three lines: a window's start is recognised whatever follows it.
  assert.equal(windowHead('a\nb\nc\nd\n'), 'a\nb\nc\n');
  assert.equal(windowHead('ab'), 'ab');
});

test('PrefixStarts: the most recent start first; a window seen again at another line replaces its old entry', () => {
  const starts = new PrefixStarts();
  starts.remember('doc', 10, 'a\nb\nc\n');
  starts.remember('doc', 40, 'x\ny\n');
  starts.remember('doc', 11, 'a\nb\nc\nd\ne', 1); // the first window, one line down (a line added above it); its middle 'e'
  assert.deepEqual(starts.keepFor('doc', 100), {
    starts: [{ line: 11, head: 'a\nb\nc\n', middle: anchorOf('a\nb\nc\nd\ne', 1) }, { line: 40, head: 'x\ny\n', middle: anchorOf('x\ny\n', 0) }],
    maxTokens: 100 * PREFIX_WINDOW_GROWTH,
  });
  assert.equal(anchorOf('a\nb\nc\nd\ne', 1).chars, 8);
  assert.equal(starts.keepFor(undefined, 100), undefined);
});

/**
 * Types `lines` new lines of `lineChars` characters at the end of a document, a request after every
 * character, and counts the window tokens a cache that keeps the longest common prefix would prefill:
 * everything after the first changed character of the window (the whole window when its start moved).
 */
function prefillWhileTyping(windowOf: (doc: string) => { text: string; startLine: number }, lines: number, lineChars: number): { prefilled: number; typed: number; starts: number } {
  let doc = Array.from({ length: 300 }, (_, i) => `${'x'.repeat(lineChars - 5)}${String(i).padStart(3, '0')};\n`).join('');
  let prev: { text: string; startLine: number } | undefined;
  let prefilled = 0;
  let typed = 0;
  const starts = new Set<number>();
  for (let l = 0; l < lines; l++) {
    for (const ch of `${'y'.repeat(lineChars - 1)}\n`) {
      doc += ch;
      typed++;
      const w = windowOf(doc);
      starts.add(w.startLine);
      let same = 0;
      if (prev && prev.startLine === w.startLine) while (same < prev.text.length && prev.text[same] === w.text[same]) same++;
      prefilled += w.text.length - same;
      prev = w;
    }
  }
  return { prefilled, typed, starts: starts.size };
}

test('kept prefix window: typing re-prefills about one token per token typed with growth 2, where 16-line anchors re-prefilled the window every 16 lines', () => {
  const budget = 1000;
  const anchored = prefillWhileTyping((doc) => prefixWindow(doc, budget, count, 0, 16), 200, 10);
  let start: KeptStart | undefined;
  const kept = prefillWhileTyping((doc) => {
    const w = (start !== undefined ? keptPrefixWindow(doc, budget * PREFIX_WINDOW_GROWTH, count, 0, start) : undefined) ?? prefixWindow(doc, budget, count, 0, 16);
    start = { line: w.startLine, head: windowHead(w.text) };
    return w;
  }, 200, 10);
  // Beyond the typed characters themselves: a window of up to `budget` re-prefilled once per (growth - 1) x budget typed.
  const keptExtra = (kept.prefilled - kept.typed) / kept.typed;
  const anchoredExtra = (anchored.prefilled - anchored.typed) / anchored.typed;
  assert.ok(keptExtra <= 1 / (PREFIX_WINDOW_GROWTH - 1) + 0.05, `kept windows: ${keptExtra.toFixed(2)} extra tokens per typed token (${kept.starts} starts)`);
  assert.ok(anchoredExtra > 4 * keptExtra, `16-line anchors: ${anchoredExtra.toFixed(2)} extra per typed token, kept: ${keptExtra.toFixed(2)}`);
  assert.ok(kept.starts <= 3, `${kept.starts} window starts over 200 typed lines`);
});

test('buildPrompt keeps the previous window start while it fits keep.maxTokens, then starts over within the budget', () => {
  const tok = fakeTokenizer(QWEN_LIKE);
  const { template } = chooseTemplate(tok, 'some-model', 'auto');
  const budgets = { prefixTokens: 200, suffixTokens: 50, contextFileTokens: 0 };
  const countOf = (text: string) => tok.encode(text, { parseSpecial: false }).length;
  let prefix = Array.from({ length: 200 }, (_, i) => `let v${i} = ${i};\n`).join('');
  const first = buildPrompt(tok, template, { ...req, prefix, suffix: '' }, budgets);
  assert.ok(countOf(first.prefix) <= 200);
  let previous = first;
  let restarts = 0;
  let largest = 0;
  for (let i = 0; i < 60; i++) {
    prefix += `let w${i} = ${i};\n`;
    const p = buildPrompt(tok, template, { ...req, prefix, suffix: '' }, budgets, undefined, { starts: [keptOf(previous)], maxTokens: 400 });
    assert.ok(countOf(p.prefix) <= 400, `window of ${countOf(p.prefix)} tokens`);
    largest = Math.max(largest, countOf(p.prefix));
    if (p.prefixStartLine === previous.prefixStartLine) {
      // Kept: the new prompt's prefix window is the old one plus the typed line.
      assert.ok(p.prefix.startsWith(previous.prefix), `request ${i}: the kept window changed its start`);
    } else {
      restarts++;
      assert.ok(countOf(p.prefix) <= 200, 'a new window is within the budget');
    }
    previous = p;
  }
  // A new window starts within the budget (<= 200) and is kept up to 400: at most one restart per 200 typed tokens.
  const typedTokens = countOf(Array.from({ length: 60 }, (_, i) => `let w${i} = ${i};\n`).join(''));
  assert.ok(restarts >= 1 && restarts <= Math.ceil(typedTokens / 200), `${restarts} restarts for ${typedTokens} typed tokens`);
  assert.ok(largest > 300, `kept windows grew to ${largest} tokens at most`);
});

test('buildPrompt takes the first of the kept starts that still fits: back from a jump, the window from before it', () => {
  const tok = fakeTokenizer(QWEN_LIKE);
  const { template } = chooseTemplate(tok, 'some-model', 'auto');
  const budgets = { prefixTokens: 200, suffixTokens: 50, contextFileTokens: 0 };
  const doc = Array.from({ length: 400 }, (_, i) => `let v${i} = ${i};\n`);
  const at = (line: number) => ({ ...req, prefix: doc.slice(0, line).join(''), suffix: doc.slice(line).join('') });
  const here = buildPrompt(tok, template, at(300), budgets);
  const away = buildPrompt(tok, template, at(40), budgets, undefined, { starts: [keptOf(here)], maxTokens: 400 });
  assert.ok(away.prefixStartLine < 40, 'the window at line 40 starts above it');
  // Back at line 302: the away window's start is 260+ lines up (over maxTokens), the one from before fits.
  const back = buildPrompt(tok, template, at(302), budgets, undefined, { starts: [keptOf(away), keptOf(here)], maxTokens: 400 });
  assert.equal(back.prefixStartLine, here.prefixStartLine);
  assert.ok(back.prefix.startsWith(here.prefix));
  // Both fit: the most recent wins.
  const later = buildPrompt(tok, template, at(302), budgets, undefined, { starts: [{ line: here.prefixStartLine + 2, head: windowHead(doc.slice(here.prefixStartLine + 2).join('')) }], maxTokens: 400 });
  const both = buildPrompt(tok, template, at(302), budgets, undefined, { starts: [keptOf(later), keptOf(here)], maxTokens: 400 });
  assert.equal(both.prefixStartLine, here.prefixStartLine + 2);
  // A line typed near the top while away (the kept start's line number is now one off): back below, the
  // same window is found by its text, one line down, and the prompt's prefix is the same as before the jump.
  doc.splice(40, 0, '// TODO: check\n');
  const backAfterEdit = buildPrompt(tok, template, at(303), budgets, undefined, { starts: [keptOf(away), keptOf(here)], maxTokens: 400 });
  assert.equal(backAfterEdit.prefixStartLine, here.prefixStartLine + 1);
  assert.ok(backAfterEdit.prefix.startsWith(here.prefix));
});

test('suffix window: whole lines from the cursor, within budget', () => {
  assert.equal(suffixWindow(');\nfoo();\nbar();\n', 12, count), ');\nfoo();\n');
  assert.equal(suffixWindow('abcdefghij', 4, count), 'abcd');
  assert.equal(suffixWindow('abc', 0, count), '');
});

test('budgets bound the whole prompt', () => {
  const tok = fakeTokenizer(QWEN_LIKE);
  const longReq: CompletionRequest = { ...req, prefix: 'a = 1\n'.repeat(1000), suffix: 'b = 2\n'.repeat(1000), contextFiles: [{ path: 'u.py', text: 'c = 3\n'.repeat(1000) }] };
  const p = buildPrompt(tok, getTemplate('qwen2.5-coder'), longReq, { prefixTokens: 300, suffixTokens: 60, contextFileTokens: 120 });
  assert.ok(p.tokens.length <= 300 + 60 + 120 + 20, `${p.tokens.length}`);
});

test('Qwen2.5 tokenizer: FIM ids in PSM order, code between them, <|endoftext|> among the stop ids', () => {
  const meta = new Map<string, GgufValue>(hfTokenizerToGguf(qwen2TokenizerJsonPath()).map((e) => [e.key, e.value]));
  const tok = createTokenizer(meta);
  const choice = chooseTemplate(tok, 'Qwen2.5 Coder 1.5B');
  assert.equal(choice.template.name, 'qwen2.5-coder');
  const p = buildPrompt(tok, choice.template, req);
  const [PRE, MID, SUF] = [151659, 151660, 151661];
  assert.equal(p.tokens[0], PRE);
  const s = p.tokens.indexOf(SUF);
  const m = p.tokens.indexOf(MID);
  assert.ok(s > 0 && m > s);
  // The cursor's line goes after <|fim_middle|>.
  assert.equal(tok.decode(p.tokens.slice(1, s)), 'def add(a, b):\n');
  assert.equal(tok.decode(p.tokens.slice(s + 1, m)), req.suffix);
  assert.equal(tok.decode(p.tokens.slice(m + 1)), '    ');
  assert.equal(p.middle, '    ');
  assert.equal(p.prefix, req.prefix);
  assert.ok(p.stopIds.has(151643));
});
